"""The Superset dashboard of the programme: build its import bundle and import it into a Superset.

The dashboard's source is the YAML under `bi/superset/dashboard/`, in Superset's export layout
(metadata.yaml, databases/, datasets/, charts/, dashboards/). Three things are not committed and are
filled in by `build_bundle`:

- the database's `sqlalchemy_uri`: the BI role's URL (SHUMEI_BI_URL) with the password masked; the
  password travels only in the import request (or is typed into Superset's import dialog);
- each dataset's columns, read from the reader's own catalog of the view, with the column comments
  of the published schema as descriptions (one source for what a column means);
- each chart's `query_context` (what Superset's chart-data API runs), derived from its `params`
  the way Superset's frontend derives it for the two chart families used (raw table, time series).

    python -m shumei.bi.superset build --out dashboard.zip
    SUPERSET_PASSWORD=... python -m shumei.bi.superset import --superset-url http://127.0.0.1:8088 --username admin

Runs in the project's virtualenv (httpx, psycopg, pyyaml); Superset itself runs in its own
(`make superset-venv`), since its pins conflict with Airflow's.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import yaml

from shumei.settings import REPO_ROOT

DASHBOARD_DIR = REPO_ROOT / "bi" / "superset" / "dashboard"
BUNDLE_ROOT = "shumei_dashboard"
MASK = "XXXXXXXXXX"  # Superset's own placeholder of a masked password
DATABASE_FILE = "databases/shumei_published.yaml"
SCHEMA = "published"
READER_ROLE = "shumei_reader"  # the Superset role of county analysts, named like the PostgreSQL group

_LEADING_CJK = re.compile(r"^[\u4e00-\u9fff]+")


def load_source(directory: Path = DASHBOARD_DIR) -> dict[str, dict[str, Any]]:
    """The committed YAML files, by path relative to the dashboard directory."""
    files = sorted(p for p in directory.rglob("*.yaml"))
    if not files:
        raise FileNotFoundError(f"no dashboard YAML under {directory}")
    return {p.relative_to(directory).as_posix(): yaml.safe_load(p.read_text(encoding="utf-8")) for p in files}


def masked_url(url: str) -> tuple[str, str]:
    """(URL with the password replaced by Superset's mask, the password)."""
    parts = urlsplit(url)
    if parts.password is None:
        raise ValueError("the BI URL has no password; use the shumei_bi role's URL (SHUMEI_BI_URL)")
    netloc = f"{parts.username}:{MASK}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), parts.password


def reader_columns(bi_url: str, tables: Iterable[tuple[str, str]]) -> dict[tuple[str, str], list[dict]]:
    """Columns of each (schema, table) as the reader sees them, in Superset's dataset-column shape."""
    out: dict[tuple[str, str], list[dict]] = {}
    with psycopg.connect(bi_url) as conn:
        for schema, table in tables:
            rows = conn.execute("""
                select c.column_name, upper(c.data_type),
                       col_description(format('%%I.%%I', c.table_schema, c.table_name)::regclass, c.ordinal_position)
                from information_schema.columns c
                where c.table_schema = %s and c.table_name = %s order by c.ordinal_position""",
                                (schema, table)).fetchall()
            if not rows:
                raise LookupError(f"{schema}.{table} is not visible to the BI role: is a release published?")
            out[(schema, table)] = [_column(name, sql_type, comment) for name, sql_type, comment in rows]
    return out


def _column(name: str, sql_type: str, comment: str | None) -> dict[str, Any]:
    cjk = _LEADING_CJK.match(comment or "")
    return {
        "column_name": name,
        # the Chinese term of the comment beside the column name, e.g. "目标期限 deadline"
        "verbose_name": f"{cjk.group(0)} {name}" if cjk else None,
        "is_dttm": sql_type in ("DATE", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP WITHOUT TIME ZONE"),
        "is_active": True,
        "type": sql_type,
        "groupby": True,
        "filterable": True,
        "expression": None,
        "description": comment,
        "python_date_format": None,
        "extra": {},
    }


def _filters(params: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for f in params.get("adhoc_filters", []):
        if f.get("expressionType") != "SIMPLE" or f.get("clause") != "WHERE":
            raise ValueError(f"only simple WHERE filters are supported in the bundle: {f}")
        out.append({"col": f["subject"], "op": f["operator"], "val": f["comparator"]})
    return out


def query_context(params: dict[str, Any], dataset_uuid: str) -> dict[str, Any]:
    """The chart-data request of a chart, as Superset's frontend builds it from the chart's params."""
    query: dict[str, Any] = {
        "filters": _filters(params), "extras": {"having": "", "where": ""}, "applied_time_extras": {},
        "row_limit": params.get("row_limit", 10000), "series_limit": 0, "order_desc": True,
        "annotation_layers": [], "url_params": {}, "custom_params": {}, "custom_form_data": {},
        "time_offsets": [], "post_processing": [],
    }
    viz = params["viz_type"]
    if viz == "table" and params.get("query_mode") == "raw":
        query["columns"] = list(params["all_columns"])
        query["orderby"] = [json.loads(o) for o in params.get("order_by_cols", [])]
    elif viz.startswith("echarts_timeseries"):
        grain, x_axis, groupby = params["time_grain_sqla"], params["x_axis"], list(params.get("groupby", []))
        metrics = list(params["metrics"])
        query["extras"]["time_grain_sqla"] = grain
        query["columns"] = [{"timeGrain": grain, "columnType": "BASE_AXIS", "sqlExpression": x_axis,
                             "label": x_axis, "expressionType": "SQL"}, *groupby]
        query["series_columns"] = groupby
        query["metrics"] = metrics
        query["orderby"] = [[metrics[0], False]]
        query["post_processing"] = [
            {"operation": "pivot", "options": {"index": [x_axis], "columns": groupby,
                                               "aggregates": {m: {"operator": "mean"} for m in metrics},
                                               "drop_missing_columns": False}},
            {"operation": "flatten"},
        ]
    else:
        raise ValueError(f"chart type {viz} is not supported by the bundle builder")
    return {"datasource": {"type": "table", "uuid": dataset_uuid}, "force": False, "queries": [query],
            "form_data": params, "result_format": "json", "result_type": "full"}


def build_bundle(bi_url: str, directory: Path = DASHBOARD_DIR) -> bytes:
    """The import ZIP of the dashboard, for the BI role's URL (password masked inside)."""
    files = load_source(directory)
    uri, _ = masked_url(bi_url)
    files[DATABASE_FILE]["sqlalchemy_uri"] = uri
    datasets = {k: v for k, v in files.items() if k.startswith("datasets/")}
    columns = reader_columns(bi_url, [(d["schema"], d["table_name"]) for d in datasets.values()])
    for dataset in datasets.values():
        dataset["columns"] = columns[(dataset["schema"], dataset["table_name"])]
    for name, chart in files.items():
        if name.startswith("charts/"):
            chart["query_context"] = json.dumps(query_context(chart["params"], chart["dataset_uuid"]),
                                                ensure_ascii=False)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, content in files.items():
            bundle.writestr(f"{BUNDLE_ROOT}/{name}", yaml.safe_dump(content, allow_unicode=True, sort_keys=False))
    return buffer.getvalue()


class SupersetClient:
    """The few Superset REST calls the import and its test need (JWT login plus CSRF token)."""

    def __init__(self, base_url: str, username: str, password: str, timeout: float = 120):
        self.http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)
        response = self.http.post("/api/v1/security/login", json={
            "username": username, "password": password, "provider": "db", "refresh": False})
        _raise_for(response, "login")
        self.http.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        response = self.http.get("/api/v1/security/csrf_token/")
        _raise_for(response, "csrf token")
        self.http.headers["X-CSRFToken"] = response.json()["result"]
        self.http.headers["Referer"] = self.http.base_url.join("/").__str__()

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.http.get(path, params={"q": _rison(params)} if params else None)
        _raise_for(response, f"GET {path}")
        return response.json()

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(path, json=body)
        _raise_for(response, f"POST {path}")
        return response.json()

    def pages(self, path: str) -> list[dict[str, Any]]:
        """Every row of a Superset list endpoint."""
        rows: list[dict[str, Any]] = []
        while True:
            body = self.get(path, page=len(rows) // 100, page_size=100)
            rows.extend(body["result"])
            if not body["result"] or len(rows) >= body.get("count", len(rows)):
                return rows

    def import_dashboard(self, bundle: bytes, db_password: str, overwrite: bool = True) -> None:
        response = self.http.post("/api/v1/dashboard/import/", files={
            "formData": ("shumei_dashboard.zip", bundle, "application/zip")}, data={
            "overwrite": "true" if overwrite else "false",
            "passwords": json.dumps({DATABASE_FILE: db_password})})
        _raise_for(response, "dashboard import")


def ensure_reader_role(client: SupersetClient) -> int:
    """The Superset role READER_ROLE: access to schema `published` of the imported database, nothing else.

    Give county analysts Gamma (dashboards and charts, no dataset creation) plus this role (plus
    sql_lab for SQL Lab): their schema list of the database shows `published` only. Returns its id.
    """
    database = _database_name(load_source())
    schema_perm = re.compile(rf"^\[{re.escape(database)}\](\.\[[^\]]*\])?\.\[{SCHEMA}\]$")
    wanted = [p["id"] for p in client.pages("/api/v1/security/permissions-resources/")
              if p["permission"]["name"] == "schema_access" and schema_perm.match(p["view_menu"]["name"])]
    if not wanted:
        raise LookupError(f"Superset has no schema_access permission on {database}.{SCHEMA}: import the dashboard first")
    roles = {r["name"]: r["id"] for r in client.pages("/api/v1/security/roles/")}
    role_id = roles.get(READER_ROLE) or client.post("/api/v1/security/roles/", {"name": READER_ROLE})["id"]
    client.post(f"/api/v1/security/roles/{role_id}/permissions", {"permission_view_menu_ids": wanted})
    return role_id


def _database_name(files: dict[str, dict[str, Any]]) -> str:
    return files[DATABASE_FILE]["database_name"]


def _rison(params: dict[str, Any]) -> str:
    """Superset list endpoints take their query as rison; only flat ints and strings are needed here."""
    items = []
    for key, value in params.items():
        items.append(f"{key}:{value}" if isinstance(value, int) else f"{key}:'{value}'")
    return "(" + ",".join(items) + ")"


def _raise_for(response: httpx.Response, what: str) -> None:
    if response.status_code >= 400:
        raise RuntimeError(f"Superset {what} failed: HTTP {response.status_code}: {response.text[:2000]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shumei.bi.superset", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="write the import ZIP (upload it in Superset: Dashboards → Import)")
    build.add_argument("--out", type=Path, required=True)
    load = sub.add_parser("import", help="build the ZIP and import it through Superset's REST API")
    load.add_argument("--superset-url", required=True)
    load.add_argument("--username", default="admin")
    args = parser.parse_args(argv)
    bi_url = os.environ.get("SHUMEI_BI_URL")
    if not bi_url:
        parser.error("set SHUMEI_BI_URL to the BI role's URL (see .env or the compose .env)")
    bundle = build_bundle(bi_url)
    if args.command == "build":
        args.out.write_bytes(bundle)
        print(f"wrote {args.out}: in Superset, Dashboards → Import, and give the shumei_bi password")
        return 0
    password = os.environ.get("SUPERSET_PASSWORD")
    if not password:
        parser.error("set SUPERSET_PASSWORD to the Superset user's password")
    client = SupersetClient(args.superset_url, args.username, password)
    try:
        client.import_dashboard(bundle, masked_url(bi_url)[1])
        ensure_reader_role(client)
    finally:
        client.close()
    print("imported the dashboard 舒美红色小区 指标看板 (slug shumei-indicators) and the role "
          f"{READER_ROLE}: give analysts the roles Gamma and {READER_ROLE} (and sql_lab for SQL Lab)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
