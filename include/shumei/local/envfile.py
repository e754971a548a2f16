"""The git-ignored `.env` of a local installation: written once, read by every make target.

It holds the warehouse URLs of the pipeline's owner role and of the two reader roles, generated
passwords, ports, the Airflow home and metadata database, and the source endpoints. A user can
connect with any PostgreSQL client using these values.
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

from shumei.local.embedded import free_port
from shumei.settings import FDW_USER, READER_DATABASE, REPO_ROOT, pg_url

ENV_PATH = REPO_ROOT / ".env"


def read_env(path: Path = ENV_PATH) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def load_env(path: Path = ENV_PATH) -> dict[str, str]:
    """Put the `.env` values (with the Airflow settings it may predate) into os.environ (values already
    set in the environment win)."""
    values = {**AIRFLOW_SETTINGS, **read_env(path)}
    for key, value in values.items():
        os.environ.setdefault(key, value)
    from shumei.settings import get_settings

    get_settings.cache_clear()
    return values


def _token() -> str:
    # hex only: safe in URLs, shell and Makefiles without quoting
    return secrets.token_hex(16)


# Airflow's task logs quote what tasks print: only the pipeline's user may read them (issue 11 item 7;
# Airflow's defaults are 0o775 folders and 0o664 files)
PRIVATE_AIRFLOW_LOGS = {"AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FOLDER_PERMISSIONS": "0o700",
                        "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FILE_PERMISSIONS": "0o600"}
# Cosmos sends usage metrics to its vendor by default (an HTTP call per task and DAG-run event, each
# waiting up to 1 s where the network drops it): never from a county's machine (dbt's own is off in
# dbt_project.yml, send_anonymous_usage_stats)
NO_TELEMETRY = {"AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False"}
# Airflow settings every installation has (a `.env` written before one existed gets it when read)
AIRFLOW_SETTINGS = {**PRIVATE_AIRFLOW_LOGS, **NO_TELEMETRY}


def build_env(local_dir: Path, wh_port: int, hotline_port: int, airflow_port: int) -> dict[str, str]:
    pw = {name: _token() for name in ("superuser", "owner", "stats", "bi", "fdw", "airflow")}
    host, db, reader_db = "127.0.0.1", "shumei", READER_DATABASE
    env = {
        "SHUMEI_LOCAL_DIR": str(local_dir),
        "SHUMEI_PG_SUPERUSER_PASSWORD": pw["superuser"],
        "SHUMEI_WH_HOST": host,
        "SHUMEI_WH_PORT": str(wh_port),
        "SHUMEI_WH_DB": db,
        "SHUMEI_WH_USER": "shumei_owner",
        "SHUMEI_WH_PASSWORD": pw["owner"],
        "SHUMEI_READER_DB": reader_db,
        "SHUMEI_STATS_USER": "shumei_stats",
        "SHUMEI_STATS_PASSWORD": pw["stats"],
        "SHUMEI_BI_USER": "shumei_bi",
        "SHUMEI_BI_PASSWORD": pw["bi"],
        "SHUMEI_FDW_USER": FDW_USER,
        "SHUMEI_FDW_PASSWORD": pw["fdw"],
        "SHUMEI_WAREHOUSE_URL": pg_url("shumei_owner", pw["owner"], host, wh_port, db),
        # the readers' URLs name the reader database (only `published` in it), not the warehouse
        "SHUMEI_STATS_URL": pg_url("shumei_stats", pw["stats"], host, wh_port, reader_db),
        "SHUMEI_BI_URL": pg_url("shumei_bi", pw["bi"], host, wh_port, reader_db),
        "SHUMEI_AIRFLOW_DB_PASSWORD": pw["airflow"],
        "SHUMEI_HOTLINE_PORT": str(hotline_port),
        "SHUMEI_HOTLINE_URL": f"http://127.0.0.1:{hotline_port}",
        "SHUMEI_HOTLINE_TOKEN": _token(),
        "SHUMEI_REGISTRY_DIR": str(local_dir / "drops" / "registry"),
        "SHUMEI_CREDIT_DIR": str(local_dir / "drops" / "credit"),
        "SHUMEI_PII_HASH_KEY": secrets.token_hex(32),
        "AIRFLOW_HOME": str(local_dir / "airflow"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg_url("airflow", pw["airflow"], host, wh_port, "airflow",
                                                      driver="postgresql+psycopg"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__API__PORT": str(airflow_port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{airflow_port}/execution/",
        **AIRFLOW_SETTINGS,
        "AIRFLOW_CONN_SHUMEI_WAREHOUSE": pg_url("shumei_owner", pw["owner"], host, wh_port, db),
    }
    return env


def _upgrade_env(path: Path, values: dict[str, str]) -> dict[str, str]:
    """Bring a `.env` written by an earlier version up to date, keeping its passwords and ports:
    the reader database (2026-12-02) adds SHUMEI_READER_DB and the shumei_fdw role, and the readers'
    URLs move from the warehouse database to it."""
    added: dict[str, str] = {}
    if "SHUMEI_READER_DB" not in values:
        added = {"SHUMEI_READER_DB": READER_DATABASE, "SHUMEI_FDW_USER": FDW_USER,
                 "SHUMEI_FDW_PASSWORD": _token()}
    reader_db = values.get("SHUMEI_READER_DB", added.get("SHUMEI_READER_DB"))
    moved = {}
    for key, user_key, pw_key in (("SHUMEI_STATS_URL", "SHUMEI_STATS_USER", "SHUMEI_STATS_PASSWORD"),
                                  ("SHUMEI_BI_URL", "SHUMEI_BI_USER", "SHUMEI_BI_PASSWORD")):
        url = pg_url(values[user_key], values[pw_key], values["SHUMEI_WH_HOST"], values["SHUMEI_WH_PORT"],
                     reader_db)
        if key in values and values[key] != url:
            moved[key] = url
    if not added and not moved:
        return values
    lines = [line for line in path.read_text(encoding="utf-8").splitlines()
             if line.partition("=")[0].strip() not in moved]
    lines += [f"{key}={value}" for key, value in {**added, **moved}.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return read_env(path)


def record_scale(requested: str | None, path: Path = ENV_PATH) -> str:
    """The scale of this installation (SHUMEI_SCALE in `.env`, county when absent): recorded the first
    time one is asked for; an installation holds the data of one scale, so asking for another one
    afterwards is refused (its warehouse, drops and division list would disagree)."""
    values = read_env(path)
    recorded = values.get("SHUMEI_SCALE")
    if requested is None or requested == (recorded or "county"):
        return recorded or "county"
    local = Path(values.get("SHUMEI_LOCAL_DIR", REPO_ROOT / ".local"))
    if recorded or (local / "warehouse").exists() or (local / "drops").exists():
        raise SystemExit(f"this installation holds {recorded or 'county'}-scale data ({local}); a run at "
                         f"{requested} scale needs a clone of its own (or `make stop`, then delete {local} "
                         f"and {path})")
    with path.open("a", encoding="utf-8") as fh:
        fh.write(f"SHUMEI_SCALE={requested}\n")
    return requested


def ensure_env(path: Path = ENV_PATH) -> tuple[dict[str, str], bool]:
    """Write `.env` once; later calls return what is there, upgraded in place (_upgrade_env), with
    settings added since it was written, and the file made private again. Returns (values, created)."""
    if path.exists():
        path.chmod(0o600)
        return {**AIRFLOW_SETTINGS, **_upgrade_env(path, read_env(path))}, False
    local_dir = REPO_ROOT / ".local"
    env = build_env(local_dir, wh_port=free_port(55432), hotline_port=free_port(8765),
                    airflow_port=free_port(8080))
    lines = [f"# Local settings written by `make run` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
             "# Git-ignored. Delete it (after `make stop` and removing .local/) to start afresh.",
             "# SHUMEI_BI_URL / SHUMEI_STATS_URL are the read-only URLs for BI tools and the statistics office."]
    lines += [f"{key}={value}" for key, value in env.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return env, True
