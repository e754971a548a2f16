"""Reference seeds: consistent with their documentation, the programme text and the calendar package.

These tests read files only; the dbt tests (`dbt test --select resource_type:seed`) check the
loaded tables in PostgreSQL.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DBT = REPO / "dbt_project"
SEEDS = DBT / "seeds"
# the seeds of each scale (seed-paths: seeds and scales/<SHUMEI_SCALE>)
SCALE_SEEDS = sorted((DBT / "scales").glob("*/*.csv"))
PROGRAMME = REPO / "docs" / "sources" / "shumei_programme_2023-03-06.txt"

INDICATOR_CODES = {
    "WY_FG",
    "YWH_FG",
    "DZB_ZJ",
    "QYDZZ_ZJ",
    "LM_FG",
    "YWH_DY",
    "QY_LJ",
    "QY_XM",
    "SFD_XQ",
    "SFD_QY",
    "YJ_SL",
    "TS_SL",
    "TS_XY",
    "TS_JJ",
    "TS_MY",
    "TS_AS",
    "TS_SC_MED",
    "TS_SC_P90",
    "TS_CF",
    "TS_SJ2",
    "TS_SJ3",
    "XY_PJ",
    "XY_AUP",
    "XY_C",
    # DOMAIN §4 indicators added 2026-12-01 (issue 10): 退单率, 延期率, 重办率, 督办率, overdue orders,
    # closure time in hours
    "TS_TD",
    "TS_YQ",
    "TS_CB",
    "TS_DB",
    "TS_CQ",
    "TS_SCH_MED",
    "TS_SCH_P90",
}

# the enterprise indicators, percentiles and early warnings do not add up across towns (DOMAIN §8)
NON_ADDITIVE = {"QYDZZ_ZJ", "QY_LJ", "QY_XM", "SFD_QY", "XY_PJ", "XY_AUP", "XY_C", "YJ_SL",
                "TS_SC_MED", "TS_SC_P90", "TS_SCH_MED", "TS_SCH_P90"}


def read_seed(name: str) -> list[dict[str, str]]:
    county = DBT / "scales" / "county" / f"{name}.csv"
    path = county if county.exists() else SEEDS / f"{name}.csv"
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def seed_properties() -> dict[str, dict]:
    doc = yaml.safe_load((SEEDS / "_seeds.yml").read_text(encoding="utf-8"))
    return {seed["name"]: seed for seed in doc["seeds"]}


def load_calendar_script():
    path = DBT / "scripts" / "build_workday_calendar.py"
    spec = importlib.util.spec_from_file_location("build_workday_calendar", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def normalised(text: str) -> str:
    return re.sub(r"\s+|\*\*", "", text)


@pytest.mark.parametrize("csv_path", sorted(SEEDS.glob("*.csv")) + SCALE_SEEDS, ids=lambda p: p.parent.name + "/" + p.stem)
def test_every_seed_column_is_typed_and_documented(csv_path: Path) -> None:
    properties = seed_properties()
    assert csv_path.stem in properties, f"{csv_path.stem} missing from _seeds.yml"
    seed = properties[csv_path.stem]
    header = next(csv.reader(csv_path.open(encoding="utf-8")))
    assert list(seed["config"]["column_types"]) == header
    documented = [column["name"] for column in seed["columns"]]
    assert documented == header
    assert all(column.get("description") for column in seed["columns"])


def test_divisions_cover_the_county_towns_and_communities() -> None:
    rows = read_seed("ref_divisions")
    by_level: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        assert re.fullmatch(r"341523\d{6}", row["area_code"])
        by_level.setdefault(row["area_level"], []).append(row)
    assert [r["area_code"] for r in by_level["county"]] == ["341523000000"]
    towns = {r["area_code"][6:9] for r in by_level["town"]}
    assert towns == {f"{n}" for n in range(100, 115)} | {f"{n}" for n in range(200, 206)} | {"400"}
    communities = by_level["community"]
    assert {r["parent_code"] for r in communities} == {"341523100000", "341523400000", "341523106000"}
    assert all(r["is_invented"] == "true" for r in communities)
    assert all(r["area_code"][:9] == r["parent_code"][:9] for r in communities)


def test_catalogue_has_every_default_indicator_code() -> None:
    rows = read_seed("ref_indicator_catalog")
    assert {r["indicator_code"] for r in rows} == INDICATOR_CODES
    assert len(rows) == len(INDICATOR_CODES)


def test_catalogue_says_which_indicators_do_not_add_up() -> None:
    rows = read_seed("ref_indicator_catalog")
    assert {r["indicator_code"] for r in rows if r["is_additive"] == "false"} == NON_ADDITIVE
    assert {r["is_additive"] for r in rows} == {"true", "false"}
    # every catalogue text of an enterprise indicator says so
    for r in rows:
        if r["indicator_code"] in NON_ADDITIVE - {"TS_SC_MED", "TS_SC_P90", "TS_SCH_MED", "TS_SCH_P90", "SFD_QY"}:
            assert "不等于全县" in r["definition_zh"] and "do not add up" in r["definition_en"], r["indicator_code"]


@pytest.mark.parametrize(
    ("seed", "column"),
    [
        ("ref_indicator_targets", "clause_zh"),
        ("ref_indicator_baselines", "clause_zh"),
        ("ref_indicator_catalog", "seed_clause"),
    ],
)
def test_cited_clauses_are_verbatim_from_the_programme(seed: str, column: str) -> None:
    programme = normalised(PROGRAMME.read_text(encoding="utf-8"))
    rows = read_seed(seed)
    assert rows, f"{seed} has no rows"
    for row in rows:
        clause = normalised(row[column])
        assert clause, f"{seed}.{column} is empty: {row}"
        assert clause in programme, row[column]


def test_responsible_units_are_quoted_from_the_programme() -> None:
    programme = normalised(PROGRAMME.read_text(encoding="utf-8"))
    for row in read_seed("ref_indicator_catalog"):
        assert f"（责任单位：{row['responsible_units_zh']}）" in programme, row["indicator_code"]


def test_baseline_reproduces_the_programme_figure() -> None:
    (row,) = read_seed("ref_indicator_baselines")
    assert (row["numerator"], row["denominator"]) == ("131", "140")
    assert round(131 / 140, 3) == 0.936 == float(row["published_value"])


def test_targets_reference_catalogued_indicators_and_known_areas() -> None:
    codes = {r["indicator_code"] for r in read_seed("ref_indicator_catalog")}
    areas = {r["area_code"] for r in read_seed("ref_divisions")}
    for row in read_seed("ref_indicator_targets"):
        assert row["indicator_code"] in codes
        assert row["area_code"] in areas
        if row["deadline_date"]:
            deadline = dt.date.fromisoformat(row["deadline_date"])
            assert (deadline + dt.timedelta(days=1)).day == 1, "the seed's deadlines are month ends"


def test_sla_policy_covers_every_request_type_and_urgency() -> None:
    types = {r["request_type_code"] for r in read_seed("ref_request_types")}
    pairs = {(r["request_type_code"], r["urgency_code"]) for r in read_seed("ref_sla_policy")}
    assert pairs == {(t, u) for t in types for u in ("normal", "urgent", "very_urgent")}


def test_workday_calendar_csv_matches_the_package() -> None:
    script = load_calendar_script()
    assert script.main(["--check"]) == 0


def test_calendar_flags_years_the_package_does_not_know() -> None:
    script = load_calendar_script()
    rows = script.build_rows(dt.date(2026, 12, 31), dt.date(2027, 1, 4))
    assert [r["is_estimated"] for r in rows] == ["false", "true", "true", "true", "true"]
    # weekday rule beyond the package: Sat 2027-01-02 off, Mon 2027-01-04 worked
    assert rows[2]["is_workday"] == "false" and rows[4]["is_workday"] == "true"


def test_calendar_check_mode_detects_a_stale_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = load_calendar_script()
    stale = tmp_path / "ref_workday_calendar.csv"
    stale.write_text(
        (SEEDS / "ref_workday_calendar.csv")
        .read_text(encoding="utf-8")
        .replace("2024-10-01,2,false,false,true", "2024-10-01,2,false,true,false"),
        encoding="utf-8",
    )
    assert script.main(["--check", "--path", str(stale)]) == 1
    assert "2024-10-01" in capsys.readouterr().err
