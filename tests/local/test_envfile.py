"""The local `.env`: written once, and upgraded in place by a later version (passwords and ports kept)."""

from __future__ import annotations

import pytest
from shumei.local.envfile import build_env, ensure_env, read_env


def test_an_env_of_the_earlier_version_moves_the_readers_to_their_database(tmp_path):
    path = tmp_path / ".env"
    fresh = build_env(tmp_path, wh_port=55999, hotline_port=8799, airflow_port=8099)
    old = {k: v for k, v in fresh.items() if k not in ("SHUMEI_READER_DB", "SHUMEI_FDW_USER", "SHUMEI_FDW_PASSWORD")}
    old["SHUMEI_STATS_URL"] = fresh["SHUMEI_STATS_URL"].replace("/shumei_public", "/shumei")
    old["SHUMEI_BI_URL"] = fresh["SHUMEI_BI_URL"].replace("/shumei_public", "/shumei")
    path.write_text("# written by an earlier version\n" + "".join(f"{k}={v}\n" for k, v in old.items()))

    values, created = ensure_env(path)
    assert not created
    assert values["SHUMEI_READER_DB"] == "shumei_public" and len(values["SHUMEI_FDW_PASSWORD"]) == 32
    assert values["SHUMEI_STATS_URL"] == fresh["SHUMEI_STATS_URL"]  # same password and port
    assert values["SHUMEI_BI_URL"] == fresh["SHUMEI_BI_URL"]
    assert values["SHUMEI_WH_PASSWORD"] == old["SHUMEI_WH_PASSWORD"]
    assert path.read_text().startswith("# written by an earlier version\n")
    assert path.stat().st_mode & 0o777 == 0o600
    # a second call changes nothing
    before = path.read_text()
    assert ensure_env(path)[0] == read_env(path) and path.read_text() == before


def test_an_installation_keeps_the_scale_it_was_made_at(tmp_path):
    from shumei.local.envfile import record_scale

    path = tmp_path / ".env"
    path.write_text("".join(f"{k}={v}\n" for k, v in build_env(tmp_path / "local", 55999, 8799, 8099).items()))
    assert record_scale(None, path) == "county"  # nothing recorded, nothing asked: county, .env unchanged
    assert "SHUMEI_SCALE" not in read_env(path)
    assert record_scale("city", path) == "city"  # a fresh installation records the scale asked for
    assert read_env(path)["SHUMEI_SCALE"] == "city"
    assert record_scale(None, path) == record_scale("city", path) == "city"
    with pytest.raises(SystemExit, match="holds city-scale data"):
        record_scale("province", path)
    # an installation that already holds county data (made before scales were recorded) refuses too
    older = tmp_path / "older.env"
    older.write_text("".join(f"{k}={v}\n" for k, v in build_env(tmp_path / "old", 55999, 8799, 8099).items()))
    (tmp_path / "old" / "warehouse").mkdir(parents=True)
    with pytest.raises(SystemExit, match="holds county-scale data"):
        record_scale("city", older)
    assert record_scale("county", older) == "county" and "SHUMEI_SCALE" not in read_env(older)


def test_an_env_written_before_a_setting_existed_gets_it(tmp_path):
    """Private task logs and no Cosmos telemetry (envfile.AIRFLOW_SETTINGS) reach the Airflow processes of
    an installation whose `.env` predates them."""
    path = tmp_path / ".env"
    fresh = build_env(tmp_path, wh_port=55999, hotline_port=8799, airflow_port=8099)
    assert fresh["AIRFLOW__COSMOS__ENABLE_TELEMETRY"] == "False"
    path.write_text("".join(f"{k}={v}\n" for k, v in fresh.items() if not k.startswith(("AIRFLOW__COSMOS__",
                                                                                          "AIRFLOW__LOGGING__"))))
    values, _ = ensure_env(path)
    assert values["AIRFLOW__COSMOS__ENABLE_TELEMETRY"] == "False"
    assert values["AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FILE_PERMISSIONS"] == "0o600"
