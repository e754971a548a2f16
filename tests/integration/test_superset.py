"""The shipped Superset dashboard against the published release of the integration session.

Apache Superset 6.1 runs from its own virtualenv (`make superset-venv`, which `make test` calls), with
SQLite metadata, a generated SECRET_KEY and no example data. The dashboard is imported with the code a
county BI admin runs (shumei.bi.superset), on the BI role's URL; then every chart's query runs through
Superset's chart-data API, and the numbers of the time-series and target charts are compared with what
the reader role reads directly from `published`. The month and quarter grains are checked with the
warehouse server in UTC and in Asia/Shanghai (the compose warehouse's TZ). An analyst (Superset roles
Gamma + shumei_reader) sees only schema `published` and cannot create a dataset on an internal table.
Finally the dashboard is rendered in headless Chromium as that analyst.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, date, datetime
from decimal import Decimal

import psycopg
import pytest
import yaml
from shumei.bi import superset as bi
from superset_server import render_dashboard, session_cookie, start_superset

pytestmark = pytest.mark.integration

ANALYST = "county_analyst"
CHART_FILES = sorted((bi.DASHBOARD_DIR / "charts").glob("*.yaml"))
FREQUENCY_OF_TABLE = {"v_indicator_month": "month", "v_indicator_quarter": "quarter"}


@pytest.fixture(scope="module")
def superset(first_release, tmp_path_factory):
    home = tmp_path_factory.mktemp("superset")
    server = start_superset(home, home / "gunicorn.log")
    print("\nSuperset setup seconds:", {k: round(v, 1) for k, v in server.setup_seconds.items()})
    yield server
    server.process.terminate()
    server.process.wait(30)


@pytest.fixture(scope="module")
def imported(superset, test_env):
    """The dashboard imported as a BI admin does it, plus an analyst user with the reader role."""
    admin = bi.SupersetClient(superset.url, "admin", superset.admin_password)
    bi_url = test_env["SHUMEI_BI_URL"]
    admin.import_dashboard(bi.build_bundle(bi_url), bi.masked_url(bi_url)[1])
    reader_role = bi.ensure_reader_role(admin)
    roles = {r["name"]: r["id"] for r in admin.pages("/api/v1/security/roles/")}
    analyst_password = secrets.token_urlsafe(16)
    admin.post("/api/v1/security/users/", {
        "first_name": "County", "last_name": "Analyst", "username": ANALYST, "email": "analyst@example.invalid",
        "active": True, "roles": [roles["Gamma"], roles["sql_lab"], reader_role], "password": analyst_password})
    analyst = bi.SupersetClient(superset.url, ANALYST, analyst_password)
    yield {"admin": admin, "analyst": analyst, "analyst_password": analyst_password}
    admin.close()
    analyst.close()


def _charts(client) -> dict[str, dict]:
    return {c["slice_name"]: c for c in client.get("/api/v1/dashboard/shumei-indicators/charts")["result"]}


def _chart_data(client, chart_id: int) -> dict:
    """The chart's saved query through GET /api/v1/chart/{id}/data/ (what the dashboard runs), uncached."""
    response = client.http.get(f"/api/v1/chart/{chart_id}/data/", params={"force": "true"})
    assert response.status_code == 200, f"chart {chart_id}: HTTP {response.status_code} {response.text[:2000]}"
    (result,) = response.json()["result"]
    assert result.get("error") is None, f"chart {chart_id}: {result['error']}"
    return result


def _long_rows(client, chart_id: int) -> list[dict]:
    """The chart's saved query_context without its pivot, through POST /api/v1/chart/data: one row per
    (period, series) as Superset's SQL returns it."""
    context = json.loads(client.get(f"/api/v1/chart/{chart_id}")["result"]["query_context"])
    context["force"] = True
    for query in context["queries"]:
        query["post_processing"] = []
    (result,) = client.post("/api/v1/chart/data", context)["result"]
    assert result.get("error") is None, result["error"]
    return result["data"]


def _day(epoch_ms: float) -> date:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).date()


def _direct_series(bi_url: str, table: str, params: dict) -> dict[tuple, float]:
    """What the reader role reads directly: sum(value) by period_start and the chart's series columns,
    under the chart's filters."""
    groupby = list(params.get("groupby", []))
    where, args = [], []
    for f in params["adhoc_filters"]:
        if f["operator"] == "IN":
            where.append(f"{f['subject']} = any(%s)")
        else:
            assert f["operator"] == "==", f
            where.append(f"{f['subject']} = %s")
        args.append(f["comparator"])
    columns = ", ".join(["period_start", *groupby])
    with psycopg.connect(bi_url) as conn:
        rows = conn.execute(f"select {columns}, sum(value) from published.{table} where {' and '.join(where)} "
                            f"group by {columns}", args).fetchall()
    return {tuple(r[:-1]): float(r[-1]) for r in rows if r[-1] is not None}


def _check_time_series(client, bi_url: str, chart: dict, source: dict, dataset: dict) -> int:
    params = source["params"]
    rows = _long_rows(client, chart["id"])
    assert rows, f"{chart['slice_name']}: no rows"
    frequency = FREQUENCY_OF_TABLE[dataset["table_name"]]
    months = (1, 4, 7, 10) if frequency == "quarter" else tuple(range(1, 13))
    groupby = list(params.get("groupby", []))
    got = {}
    for row in rows:
        day = _day(row[params["x_axis"]])
        # the grain must put each point on the first day of its own period, in UTC as Superset reads it
        assert day.day == 1 and day.month in months, f"{chart['slice_name']}: point at {day} ({row})"
        if row[params["metrics"][0]] is not None:
            got[(day, *(row[c] for c in groupby))] = float(row[params["metrics"][0]])
    expected = _direct_series(bi_url, dataset["table_name"], params)
    assert got == expected, f"{chart['slice_name']}: Superset and the reader role differ"
    return len(rows)


def _sources() -> tuple[dict[str, dict], dict[str, dict]]:
    files = bi.load_source()
    charts = {c["slice_name"]: c for name, c in files.items() if name.startswith("charts/")}
    datasets = {str(d["uuid"]): d for name, d in files.items() if name.startswith("datasets/")}
    return charts, datasets


def test_every_chart_runs_through_the_chart_data_api(imported):
    sources, _ = _sources()
    charts = _charts(imported["admin"])
    assert set(charts) == set(sources) and len(charts) == len(CHART_FILES)
    for title, chart in charts.items():
        result = _chart_data(imported["admin"], chart["id"])
        assert result["rowcount"] > 0 and result["data"], f"{title}: no rows"


@pytest.mark.parametrize("server_time_zone", ["UTC", "Asia/Shanghai"])
def test_time_series_equal_the_reader_and_fall_on_their_period(imported, test_env, pg_server, server_time_zone):
    """Under the compose warehouse's TZ (Asia/Shanghai) as under UTC, each month and quarter point is on
    its own period and carries the published value."""
    sources, datasets = _sources()
    with psycopg.connect(pg_server.superuser_dsn(test_env["SHUMEI_WH_DB"]), autocommit=True) as su:
        su.execute(f"alter system set timezone = '{server_time_zone}'")
        su.execute("select pg_reload_conf()")
        try:
            with psycopg.connect(test_env["SHUMEI_WAREHOUSE_URL"]) as owner:  # a new session sees the server's zone
                assert owner.execute("show timezone").fetchone()[0] == server_time_zone
            checked = 0
            for title, chart in _charts(imported["analyst"]).items():
                source = sources[title]
                if source["viz_type"].startswith("echarts_timeseries"):
                    checked += _check_time_series(imported["analyst"], test_env["SHUMEI_BI_URL"], chart, source,
                                                  datasets[str(source["dataset_uuid"])])
            assert checked > 0
        finally:
            su.execute("alter system reset timezone")
            su.execute("select pg_reload_conf()")


def test_targets_chart_equals_the_reader(imported, test_env):
    sources, _ = _sources()
    (title,) = [t for t, s in sources.items() if s["params"].get("query_mode") == "raw"]
    params = sources[title]["params"]
    chart = _charts(imported["analyst"])[title]
    rows = _chart_data(imported["analyst"], chart["id"])["data"]
    columns = params["all_columns"]
    with psycopg.connect(test_env["SHUMEI_BI_URL"]) as conn:
        direct = conn.execute(f"select {', '.join(columns)} from published.v_indicator_targets "
                              "where measure_scope = 'area' order by deadline, target_id").fetchall()
    assert direct, "no area targets published"

    def normal(value):
        if isinstance(value, Decimal):
            return float(value)
        return value

    got = [tuple(_day(r[c]) if c == "deadline" and r[c] is not None else r[c] for c in columns) for r in rows]
    assert got == [tuple(normal(v) for v in row) for row in direct]


def test_analyst_sees_only_published(imported, test_env):
    analyst = imported["analyst"]
    (database,) = analyst.get("/api/v1/database/")["result"]
    schemas = analyst.http.get(f"/api/v1/database/{database['id']}/schemas/", params={"q": "(force:!t)"})
    assert schemas.status_code == 200 and schemas.json()["result"] == ["published"], schemas.text[:1000]
    tables = analyst.http.get(f"/api/v1/database/{database['id']}/tables/",
                              params={"q": "(schema_name:published,force:!t)"}).json()["result"]
    with psycopg.connect(test_env["SHUMEI_BI_URL"]) as conn:
        readable = {r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'published'").fetchall()}
    assert {t["value"] for t in tables} == readable
    for schema in ("marts", "raw_restricted"):
        listed = analyst.http.get(f"/api/v1/database/{database['id']}/tables/",
                                  params={"q": f"(schema_name:{schema},force:!t)"})
        assert listed.status_code >= 400 or listed.json()["result"] == [], f"{schema}: {listed.text[:500]}"
    created = analyst.http.post("/api/v1/dataset/", json={"database": database["id"], "schema": "marts",
                                                          "table_name": "dim_area"})
    assert created.status_code in (401, 403), f"dataset on marts.dim_area: HTTP {created.status_code}"
    # a Superset admin too: the BI URL names the readers' database, which holds nothing but published
    schemas = imported["admin"].http.get(f"/api/v1/database/{database['id']}/schemas/", params={"q": "(force:!t)"})
    assert set(schemas.json()["result"]) - {"information_schema"} == {"published"}, schemas.text[:1000]


def test_dashboard_renders_in_chromium(superset, imported, tmp_path):
    """What the analyst sees: every chart drawn (an ECharts canvas or table rows), no error message."""
    cookie = session_cookie(superset.url, ANALYST, imported["analyst_password"])
    png = tmp_path / "shumei_dashboard.png"
    charts = render_dashboard(f"{superset.url}/superset/dashboard/shumei-indicators/", cookie, png,
                              expected_charts=len(CHART_FILES))
    print(f"\ndashboard screenshot: {png}")
    titles = {yaml.safe_load(p.read_text(encoding="utf-8"))["slice_name"] for p in CHART_FILES}
    assert {c["title"] for c in charts} == titles
    for chart in charts:
        assert chart["error"] is None and (chart["canvas"] > 0 or chart["table_rows"] > 0), chart
