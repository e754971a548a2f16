"""The Data Docs site: static HTML pages of the gate runs, written from audit.* (no script, no style
sheet or font from elsewhere, so a county office opens them on an intranet with no internet).

    build_data_docs(engine, folder)    folder/index.html (the latest runs) and folder/runs/<run_id>.html

A run's status is `results.run_status` of what the gate stored: the page says what the gate decided.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from shumei.quality.results import run_status

RUNS_LISTED = 200
STATUS_ZH = {"failed": "未通过 failed", "warning": "警告 warning", "passed": "通过 passed"}
STYLE = """body{font-family:"Noto Sans CJK SC","Noto Sans",sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #bbb;padding:4px 8px;text-align:left;
vertical-align:top;font-size:14px}th{background:#eee}.failed{background:#f8d0d0}.warning{background:#fbecc0}
.passed{background:#d6f0d6}td.rows{font-size:12px}code{font-size:12px}"""


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style></head><body>\n<h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n")


def _cell(value: Any, cls: str = "") -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return f'<td class="{cls}">{html.escape(text)}</td>' if cls else f"<td>{html.escape(text)}</td>"


def _table(head: list[str], rows: list[str]) -> str:
    return ("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>\n"
            + "\n".join(rows) + "</table>")


def _rows_table(rows: list[dict], total: int) -> str:
    if not rows:
        return ""
    head = list(rows[0])
    body = ["<tr>" + "".join(_cell(r.get(k)) for k in head) + "</tr>" for r in rows]
    more = f"<br>… {total - len(rows)} more" if total > len(rows) else ""
    return _table(head, body) + more


def _run_page(run: dict, results: list[dict]) -> str:
    status = run_status(run["passed"], run["failed_warning"])
    rows = []
    for r in results:
        details = r["details"] or {}
        state = "passed" if r["success"] else "failed" if r["blocking"] else "warning"
        rows.append("<tr>" + "".join([
            _cell(str(r["seq"])), _cell(r["check_name"]), _cell(r["expectation"]),
            _cell("阻断 blocking" if r["blocking"] else "警告 warning"), _cell(STATUS_ZH[state], state),
            _cell(r["observed_value"]), _cell(details.get("description") or ""),
            f'<td class="rows">{_rows_table(details.get("rows") or [], details.get("rows_total") or 0)}</td>'])
            + "</tr>")
    body = (f'<p class="{status}"><b>状态 Status: {STATUS_ZH[status]}</b> · {html.escape(run["target"])} · '
            f'suite {html.escape(run["suite"])} · run {html.escape(run["run_id"])} · DAG run '
            f'{html.escape(str(run["dag_run_id"]))} · {run["checked_at"]:%Y-%m-%d %H:%M:%S %Z}</p>'
            f'<p>{run["expectations"]} expectations, {run["failed_blocking"]} blocking failed, '
            f'{run["failed_warning"]} warnings. <a href="../index.html">所有运行 All runs</a></p>\n'
            + _table(["#", "check", "expectation", "severity 级别", "status 状态", "observed 观测值",
                      "description 说明", "rows 不符合的行 (first 20)"], rows)
            + f'<h2>摘要 Summary</h2><pre>{html.escape(run["summary"] or "")}</pre>')
    return _page(f"质量校验 Quality gate: {run['target']} {run['run_id']}", body)


def build_data_docs(engine: sa.Engine, folder: Path) -> Path:
    """Write the index of the latest runs and the page of each listed run not written yet (the latest
    always). Returns the index."""
    (folder / "runs").mkdir(parents=True, exist_ok=True)
    with engine.connect() as conn:
        runs = [dict(r._mapping) for r in conn.execute(sa.text(
            "select * from audit.validation_runs order by checked_at desc, run_id desc limit :n"), {"n": RUNS_LISTED})]
        for i, run in enumerate(runs):
            page = folder / "runs" / f"{run['run_id']}.html"
            if i == 0 or not page.exists():
                results = [dict(r._mapping) for r in conn.execute(sa.text(
                    "select * from audit.validation_results where run_id = :r order by seq"), {"r": run["run_id"]})]
                page.write_text(_run_page(run, results), encoding="utf-8")
    rows = []
    for run in runs:
        status = run_status(run["passed"], run["failed_warning"])
        rows.append("<tr>" + "".join([
            f'<td><a href="runs/{html.escape(run["run_id"])}.html">{html.escape(run["run_id"])}</a></td>',
            _cell(run["target"]), _cell(run["suite"]), _cell(str(run["dag_run_id"])),
            _cell(f"{run['checked_at']:%Y-%m-%d %H:%M:%S %Z}"), _cell(STATUS_ZH[status], status),
            _cell(str(run["expectations"])), _cell(str(run["failed_blocking"])), _cell(str(run["failed_warning"]))])
            + "</tr>")
    index = folder / "index.html"
    index.write_text(_page("质量校验结果 Quality gate runs (Data Docs)", _table(
        ["run", "target 对象", "suite", "DAG run", "checked 校验时间", "status 状态", "expectations",
         "blocking failed 阻断", "warnings 警告"], rows)), encoding="utf-8")
    return index
