"""Fixtures of the publication tests: a small catalogue and candidate in a fresh warehouse state.

Each test starts from dropped `published`, `audit`, `published_candidate` and `qa_ref` schemas
(the server is shared by the whole session). The catalogue lives in `qa_ref` so the tests never
depend on, or disturb, the dbt seeds in `reference`.
"""

from __future__ import annotations

import psycopg
import pytest
from migrated import fresh_migrated
from shumei.publish.tables import DISCLOSURE_TABLES

CATALOG = "qa_ref.ref_indicator_catalog"
TARGETS = "qa_ref.ref_indicator_targets"  # the shape of the dbt model indicator_targets
AREAS = "qa_ref.dim_area"
# the member marts of the drill-through: absent unless a test creates them (tests/publish/test_members.py)
STOCK_MEMBERS = "qa_ref.fct_indicator_stock_members"
FLOW_MEMBERS = "qa_ref.fct_indicator_flow_members"
COUNTY, TOWN1, TOWN2 = "341523000000", "341523100000", "341523400000"

CANDIDATE_DDL = """
create schema if not exists published_candidate;
create table published_candidate.indicator_values (
    indicator_code text, area_code text, area_level text, period_type text, period_start date,
    period_end date, breakdown_type text, breakdown_code text, numerator numeric, denominator numeric,
    value numeric, unit text, target numeric, deadline date, target_met boolean, is_provisional boolean);
""" + "".join(f"create table {t.candidate} ({', '.join(f'{c} {typ}' for c, typ in t.columns)});\n"
              for t in DISCLOSURE_TABLES)

CATALOG_DDL = """
create schema qa_ref;
create table qa_ref.ref_indicator_catalog (
    indicator_code text, name_zh text, name_en text, definition_zh text, definition_en text,
    numerator_zh text, numerator_en text, denominator_zh text, denominator_en text, unit text,
    decimals integer, measure_kind text, frequencies text, area_levels text, breakdowns text,
    is_additive boolean, source text,
    responsible_units_zh text, seed_clause_section text, seed_clause text, valid_from date, valid_to date);
insert into qa_ref.ref_indicator_catalog values
 ('WY_FG', '物业服务覆盖率', 'Property-service coverage', '定义', 'definition', '分子', 'numerator', '分母',
  'denominator', 'percent', 1, 'stock', 'month', 'county|town', null, true, 'registry', '城关镇', '二、', '条款', '2021-01-01', null),
 ('TS_SL', '受理量', 'Work orders received', '定义', 'definition', '分子', 'numerator', null, null,
  'count', 0, 'flow', 'month', 'county|town', 'channel', true, 'hotline', '县城管局', '三、', '条款', '2021-01-01', null),
 ('TS_SC_MED', '办理时长中位数', 'Median closure time', '定义', 'definition', null, null, '分母', 'denominator',
  'working_days', 1, 'flow', 'month', 'county', 'channel', false, 'hotline', '县城管局', '三、', '条款', '2021-01-01', null);
create table qa_ref.ref_indicator_targets (
    target_id text, indicator_code text, area_code text, deadline_date date, comparator text,
    threshold numeric, unit text, target_kind text, clause_section text, clause_zh text, note_en text,
    valid_from date, valid_to date, target numeric, target_unit text);
insert into qa_ref.ref_indicator_targets values
 ('WY_FG-2023-12-31', 'WY_FG', '341523000000', '2023-12-31', '>=', 1, 'ratio', 'firm', '二、', '全覆盖',
  'full coverage', '2023-03-06', null, 100, 'percent');
create table qa_ref.dim_area (
    area_code text, area_name_zh text, area_name_en text, area_level text, area_type text,
    parent_area_code text, county_code text, valid_from date, valid_to date, is_current boolean);
insert into qa_ref.dim_area values
 ('341523000000', '舒城县', 'Shucheng County', 'county', 'county', '341500000000', '341523000000', '2018-01-01', null, true),
 ('341523100000', '城关镇', 'Chengguan Town', 'town', 'town', '341523000000', '341523000000', '2018-01-01', null, true),
 ('341523400000', '舒城县经济开发区', 'Shucheng County Economic Development Zone', 'town', 'development_zone',
  '341523000000', '341523000000', '2018-01-01', null, true),
 ('341523100001', '鼓楼社区', 'Gulou Community', 'community', 'community', '341523100000', '341523000000',
  '2018-01-01', null, true);
"""

# (indicator, area, level, month, numerator, denominator, value, unit, target, deadline, met)
BASE_ROWS = [
    ("WY_FG", TOWN1, "town", 5, 100, 105, 95.2, "percent"),
    ("WY_FG", TOWN2, "town", 5, 31, 35, 88.6, "percent"),
    ("WY_FG", COUNTY, "county", 5, 131, 140, 93.6, "percent"),
    ("WY_FG", TOWN1, "town", 6, 102, 105, 97.1, "percent"),
    ("WY_FG", TOWN2, "town", 6, 32, 35, 91.4, "percent"),
    ("WY_FG", COUNTY, "county", 6, 134, 140, 95.7, "percent"),
    ("TS_SL", TOWN1, "town", 5, 40, None, 40, "count"),
    ("TS_SL", TOWN2, "town", 5, 12, None, 12, "count"),
    ("TS_SL", COUNTY, "county", 5, 52, None, 52, "count"),
    ("TS_SL", TOWN1, "town", 6, 35, None, 35, "count"),
    ("TS_SL", TOWN2, "town", 6, 10, None, 10, "count"),
    ("TS_SL", COUNTY, "county", 6, 45, None, 45, "count"),
    ("TS_SC_MED", COUNTY, "county", 5, None, 50, 3.0, "working_days"),
    ("TS_SC_MED", COUNTY, "county", 6, None, 40, 2.5, "working_days"),
]


def insert_candidate(conn: psycopg.Connection, rows=BASE_ROWS) -> None:
    conn.execute("delete from published_candidate.indicator_values")
    for code, area, level, month, num, den, value, unit in rows:
        target = 100 if code == "WY_FG" and level == "county" else None
        conn.execute(
            """insert into published_candidate.indicator_values values
               (%s, %s, %s, 'month', make_date(2024, %s, 1), (make_date(2024, %s, 1) + interval '1 month - 1 day')::date,
                'total', '_T', %s, %s, %s, %s, %s, %s, %s, %s)""",
            (code, area, level, month, month, num, den, value, unit, target,
             "2023-12-31" if target else None, (value >= target) if target else None, month == 6))


@pytest.fixture(scope="session", autouse=True)
def dbt_manifest():
    """The dbt manifest of this tree: the published comments and the data dictionary are read from it."""
    from shumei.dbt_support import dbt_manifest_path, dbt_parse

    dbt_parse()
    return dbt_manifest_path()


@pytest.fixture(scope="session")
def gx_home(tmp_path_factory):
    return tmp_path_factory.mktemp("gx")


@pytest.fixture
def wh(warehouse_url, gx_home, monkeypatch):
    """An autocommit owner connection on a fresh publication state, with the base candidate."""
    monkeypatch.setenv("SHUMEI_GX_DIR", str(gx_home))
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        for schema in ("published_candidate", "qa_ref"):
            conn.execute(f"drop schema if exists {schema} cascade")
        fresh_migrated(conn, published=True)
        conn.execute(CANDIDATE_DDL)
        conn.execute(CATALOG_DDL)
        insert_candidate(conn)
        yield conn


@pytest.fixture
def audit(warehouse_url):
    from shumei.quality import run_checkpoint

    def run(**kwargs):
        kwargs.setdefault("build_docs", False)
        return run_checkpoint(warehouse_url, catalog=CATALOG, **kwargs)
    return run


@pytest.fixture(scope="session")
def _audits() -> dict:
    return {}


@pytest.fixture
def release(wh, audit, _audits):
    """Audit and publish the current candidate; returns the PublishResult.

    The audit of the first release (empty `published`, base candidate) is the same in every test:
    its result is reused when the candidate checksum matches, which keeps the suite fast.
    """
    from shumei.publish import publish
    from shumei.publish.release import candidate_checksum

    def run(as_of="2024-06-15", dag_run_id="test", **kwargs):
        first = (wh.execute("select to_regclass('published.release_log') is null").fetchone()[0]
                 or not wh.execute("select exists (select from published.release_log)").fetchone()[0])
        key = (first, candidate_checksum(wh)["md5"])
        result = _audits.get(key) if first else None
        if result is None:
            result = audit(dag_run_id=dag_run_id)
            if first:
                _audits[key] = result
        assert result.passed, result.summary()
        return publish(wh, as_of, dag_run_id, result, catalog=CATALOG, targets=TARGETS, areas=AREAS,
                       stock_members=STOCK_MEMBERS, flow_members=FLOW_MEMBERS, **kwargs)
    return run


def assert_inlined(wh: psycopg.Connection, reader_url: str, select: str, filters: dict[str, str], index: str) -> None:
    """`select ... where <filters>` over a reader function (`published.<name>_in_release(…)`, `_as_of(…)`):
    through the readers' database the function is inlined and every filter column reaches the warehouse
    in the foreign scan's Remote SQL; in the warehouse the same definition reads the index `index`."""
    query = f"explain verbose {select} where " + " and ".join(f"{c} = {v}" for c, v in filters.items())
    with psycopg.connect(reader_url, autocommit=True) as conn:
        plan = "\n".join(r[0] for r in conn.execute(query))
    assert "Function Scan" not in plan, plan
    remote = [line.split(" WHERE ", 1)[1] for line in plan.splitlines() if "Remote SQL" in line and " WHERE " in line]
    assert remote and all(any(f"{c} = " in where for where in remote) for c in filters), plan
    wh.execute("set enable_seqscan = off")  # tables this small would be scanned whole
    try:
        plan = "\n".join(r[0] for r in wh.execute(query))
    finally:
        wh.execute("reset enable_seqscan")
    assert "Function Scan" not in plan, plan
    assert f"Index Scan using {index}" in plan or f"Bitmap Index Scan on {index}" in plan, plan
