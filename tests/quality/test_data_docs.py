"""The Data Docs open with the network off (a county intranet): no request leaves the machine, the
tables have rows, and each run's status is the gate's (audit.validation_runs)."""

from __future__ import annotations

import re
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from offline_browser import RequestRecorder, request_target
from shumei.quality import data_docs_dir, validate_batches
from shumei.report.bulletin import chromium, offline_flags

from .conftest import FIRST, SPOILED, spoil

pytestmark = pytest.mark.integration


def _dom(page: Path, proxy: str, screenshot: Path) -> str:
    """The page as Chromium rendered it (and a screenshot of it), every request through `proxy`."""
    args = [chromium(), *offline_flags(proxy), f"--user-data-dir={screenshot.parent / ('p-' + screenshot.stem)}",
            "--window-size=1400,900", "--virtual-time-budget=3000"]
    shot = subprocess.run([*args, f"--screenshot={screenshot}", page.resolve().as_uri()],
                          capture_output=True, text=True, timeout=120, check=False)
    assert shot.returncode == 0 and screenshot.exists(), shot.stderr[-2000:]
    dom = subprocess.run([*args, "--dump-dom", page.resolve().as_uri()], capture_output=True, text=True,
                         timeout=120, check=False)
    assert dom.returncode == 0, dom.stderr[-2000:]
    return dom.stdout


def _statuses(dom: str) -> dict[str, str]:
    """{run_id: status class} of the index's rows."""
    return dict(re.findall(r'href="runs/([^"]+)\.html".*?<td class="(failed|warning|passed)"', dom, re.S))


def test_data_docs_open_offline_and_say_what_the_gate_decided(raw, warehouse_url, tmp_path):
    passed = validate_batches(warehouse_url, dag_run_id="clean")
    spoil(raw, "hotline_events", SPOILED, 130)  # 65 % of the usual volume: a warning
    warned = validate_batches(warehouse_url, dag_run_id="warned")
    spoil(raw, "registry_enterprises", FIRST + timedelta(days=5), 32, rejected=32)
    blocked = validate_batches(warehouse_url, dag_run_id="blocked")
    assert (passed.status, warned.status, blocked.status) == ("passed", "warning", "failed"), blocked.summary()
    index = data_docs_dir() / "index.html"
    assert blocked.data_docs == str(index)
    # GX runs ephemeral: SHUMEI_GX_DIR holds the Data Docs only (no file context gx/ any more)
    assert [p.name for p in data_docs_dir().parent.iterdir()] == ["data_docs"]
    pages = [index, *sorted((data_docs_dir() / "runs").glob("*.html"))]
    for page in pages:  # nothing in a page points anywhere but to the site's own pages
        html = page.read_text(encoding="utf-8")
        links = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)""", html)
        assert all(not re.match(r"[a-z]+:|//", link) for link in links), page
        assert "url(" not in html and "<script" not in html and "@import" not in html

    recorder = RequestRecorder()
    try:
        proxy = f"127.0.0.1:{recorder.port}"
        blank = tmp_path / "blank.html"
        blank.write_text("<html><body></body></html>")
        _dom(blank, proxy, tmp_path / "blank.png")
        own = {request_target(r) for r in recorder.requests}  # what Chromium itself tries on start
        recorder.requests.clear()
        index_dom = _dom(index, proxy, tmp_path / "index.png")
        run_dom = _dom(data_docs_dir() / "runs" / f"{blocked.run_id}.html", proxy, tmp_path / "run.png")
        of_pages = [r for r in recorder.requests if request_target(r) not in own]
    finally:
        recorder.close()
    assert of_pages == []

    stored = dict(raw.execute("select run_id, case when not passed then 'failed' when failed_warning > 0"
                              " then 'warning' else 'passed' end from audit.validation_runs").fetchall())
    assert _statuses(index_dom) == stored
    assert stored[blocked.run_id] == "failed" and stored[warned.run_id] == "warning"
    # the run's page: its status, a row per expectation, the blocked batch named in its table
    assert "未通过 failed" in run_dom and run_dom.count("<tr>") > len(blocked.outcomes)
    reject = run_dom[run_dom.index("<td>reject_share</td>"):]
    reject = reject[:reject.index("</table>")]  # the blocking row and its table of batches
    assert 'class="failed"' in reject and "registry_enterprises" in reject
    assert (FIRST + timedelta(days=5)).isoformat() in reject
