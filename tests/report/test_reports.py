"""The statistics office's files of a release, read back: every number of the workbook equals the
published value (through the reader role), LibreOffice opens and converts it, producing it again
gives identical bytes, and the release notes attribute each revision to its cause."""

from __future__ import annotations

import subprocess
from datetime import UTC
from decimal import ROUND_HALF_UP, Decimal

import openpyxl
import psycopg
import pytest
from publish.conftest import BASE_ROWS, COUNTY, TARGETS, TOWN1, TOWN2, insert_candidate
from shumei.report import data as report_data
from shumei.report import produce_reports, release_changes
from shumei.report.workbook import HEADER_ROWS

pytestmark = pytest.mark.integration

DATA_SHEETS = ("目标进度", "投诉办理", "信用评级")


def _revise(rows, code, area, month, num, den, value):
    return [(c, a, lv, m, num, den, value, u) if (c, a, m) == (code, area, month) else (c, a, lv, m, n, d, v, u)
            for c, a, lv, m, n, d, v, u in rows]


@pytest.fixture
def two_releases(wh, cut, feeds):
    """Release 1 from the base candidate (with a target due 2024-06-30); release 2: a TS_SC_MED value
    revised after new hotline batches, the WY_FG May figures revised after a registry correction, a
    new month of TS_SL, and a withdrawn TS_SC_MED June value."""
    # a county target and, as the dbt model writes it for a clause about every town, one row per town
    for target_id, area in (("WY_FG-2024-06-30", COUNTY), (f"WY_FG-2024-06-30-{TOWN1}", TOWN1),
                            (f"WY_FG-2024-06-30-{TOWN2}", TOWN2)):
        wh.execute(f"""insert into {TARGETS} values (%s, 'WY_FG', %s, '2024-06-30', '>=', 0.95, 'ratio', 'firm',
                       '二、', '覆盖率达95%%', 'coverage 95 %%', '2023-03-06', null, 95, 'percent')""", (target_id, area))
    first = cut()
    wh.execute("update published.release_log set published_at = published_at - interval '1 day'")
    rows = _revise(BASE_ROWS, "TS_SC_MED", COUNTY, 5, None, 50, 3.5)
    rows = _revise(rows, "WY_FG", TOWN1, 5, 101, 105, 96.2)
    rows = _revise(rows, "WY_FG", COUNTY, 5, 132, 140, 94.3)
    rows = [r for r in rows if not (r[0] == "TS_SC_MED" and r[3] == 6)]
    insert_candidate(wh, rows)
    feeds("hotline_events")
    feeds("registry_compounds")
    second = cut(as_of="2024-06-20")
    assert second.released and second.changed == 3 and second.withdrawn == 1, second
    return first, second


def _published(stats_url, release_id):
    with psycopg.connect(stats_url) as conn:
        rows = conn.execute("""select indicator_code, area_code, period_type, period_start, numerator, denominator,
                                      value from published.indicator_values_in_release(%s)
                               where breakdown_type = 'total'""", (release_id,)).fetchall()
        decimals = dict(conn.execute("select indicator_code, decimals from published.indicator_catalog").fetchall())
        targets = {(c, d, a): t for c, d, a, t in conn.execute(
            "select indicator_code, deadline, area_code, target from published.v_indicator_targets").fetchall()}
    values = {(c, a, p, s): {"numerator": n, "denominator": d, "value": v} for c, a, p, s, n, d, v in rows}
    return values, decimals, targets


def _at(number, decimals):
    return Decimal(str(number)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def test_every_number_of_the_workbook_is_the_published_value(two_releases, tmp_path, test_env, warehouse_url):
    _, second = two_releases
    stats = test_env["SHUMEI_STATS_URL"]
    artifacts = produce_reports(second.release_id, reader_url=stats, owner_url=warehouse_url, out_dir=tmp_path)
    values, decimals, targets = _published(stats, second.release_id)
    wb = openpyxl.load_workbook(artifacts.workbook)
    assert wb.sheetnames == ["目标进度", "投诉办理", "信用评级", "指标口径", "发布说明"]
    with psycopg.connect(stats) as conn:
        names = dict(conn.execute("select area_code, area_name_zh from published.dim_area").fetchall())
    checked = 0
    for name in DATA_SHEETS:
        ws = wb[name]
        assert ws.freeze_panes == f"A{HEADER_ROWS + 3}"
        assert int(ws.page_setup.paperSize) == 9 and ws.page_setup.fitToWidth == 1  # A4, one page wide
        header = [c.value for c in ws[HEADER_ROWS + 1]]
        keys = [c.value for c in ws[HEADER_ROWS + 2]]
        assert "表号" in ws["A2"].value and "制定机关" in ws["A2"].value and "发布日期" in ws["A2"].value
        assert "报告期" in ws["A3"].value and "计量单位" in ws["A3"].value and "填报单位" in ws["A3"].value
        for row in ws.iter_rows(min_row=HEADER_ROWS + 3):
            cells = {keys[i]: c for i, c in enumerate(row) if i < len(keys) and keys[i]}
            if "area_code" not in cells or cells["area_code"].value is None:
                continue
            area = cells["area_code"].value
            assert row[header.index("地区\nArea")].value == names[area]  # names from dim_area
            for key, cell in cells.items():
                if not isinstance(cell.value, (int, float)) or isinstance(cell.value, bool):
                    continue
                code, field = (cells["indicator_code"].value, key) if name == "目标进度" else key.split(".")
                if field == "target":
                    target = targets[(code, cells["deadline"].value.date(), area)]
                    assert _at(cell.value, decimals[code]) == _at(target, decimals[code])
                else:
                    period = ((cells["period_type"].value, cells["period_start"].value.date()) if name == "目标进度"
                              else ("month", cells["period_start"].value.date()))
                    published = values[(code, area, *period)][field]
                    places = decimals[code] if field == "value" else 0
                    assert _at(cell.value, places) == _at(published, places), (name, cell.coordinate)
                    if field == "value":
                        assert cell.number_format.startswith("#,##0" + ("." + "0" * places if places else ""))
                checked += 1
    # 投诉办理: TS_SL May and June x 3 areas + TS_SC_MED May (June withdrawn) = 7; 目标进度: the 2023 target
    # (no figure at its deadline) 1 + the June target x 3 areas x (actual, target, numerator, denominator) = 13
    assert checked == 20, checked
    # the marks: the revised county value carries R, the provisional June values P
    ws = wb["投诉办理"]
    formats = {c.number_format for row in ws.iter_rows(min_row=HEADER_ROWS + 3) for c in row}
    assert '#,##0.0" R"' in formats and '#,##0" P"' in formats
    # the catalogue's decimals
    catalog = wb["指标口径"]
    rows = {r[0].value: r[7].value for r in catalog.iter_rows(min_row=HEADER_ROWS + 3) if r[0].value}
    assert rows == decimals
    # target progress: the county and the two towns, each against its own row (95 %)
    progress = wb["目标进度"]
    verdicts = {(r[4].value, r[2].value.date() if hasattr(r[2].value, "date") else r[2].value): r[15].value
                for r in progress.iter_rows(min_row=HEADER_ROWS + 3) if r[4].value}
    june = {area: v for (area, deadline), v in verdicts.items() if str(deadline) == "2024-06-30"}
    assert june == {COUNTY: "达标", TOWN1: "达标", TOWN2: "未达标"}


def test_libreoffice_opens_and_converts_the_workbook(two_releases, tmp_path, test_env):
    _, second = two_releases
    artifacts = produce_reports(second.release_id, reader_url=test_env["SHUMEI_STATS_URL"], out_dir=tmp_path)
    profile = tmp_path / "lo-profile"
    result = subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless",
                             "--convert-to", "pdf", "--outdir", str(tmp_path / "pdf"), str(artifacts.workbook)],
                            capture_output=True, text=True, timeout=300, check=False)
    pdf = tmp_path / "pdf" / (artifacts.workbook.stem + ".pdf")
    assert result.returncode == 0 and pdf.is_file(), result.stdout + result.stderr
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    assert pages >= 5  # one sheet at least one page each
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "CJK" in fonts or "Noto" in fonts, fonts  # Chinese text set in a CJK font, not boxes


def test_producing_a_release_again_gives_identical_bytes(two_releases, tmp_path, test_env, warehouse_url):
    first, second = two_releases
    stats = test_env["SHUMEI_STATS_URL"]
    once = produce_reports(first.release_id, reader_url=stats, owner_url=warehouse_url, out_dir=tmp_path / "a")
    again = produce_reports(first.release_id, reader_url=stats, owner_url=warehouse_url, out_dir=tmp_path / "b")
    for path in (once.workbook, once.notes, *once.bulletin):
        name = path.relative_to(tmp_path / "a")
        assert path.read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert again.same_as_recorded is True
    with psycopg.connect(warehouse_url) as conn:
        recorded = conn.execute("select artifacts from published.release_log where release_id = %s",
                                (first.release_id,)).fetchone()[0]
    # the workbook, the notes and the bulletin (HTML, PDF and every chart file)
    assert recorded == once.checksums
    assert set(recorded) == {once.workbook.name, once.notes.name,
                             *(p.relative_to(tmp_path / "a").as_posix() for p in once.bulletin)}
    assert {f"bulletin-{first.release_id}.html", f"bulletin-{first.release_id}.pdf"} <= set(recorded)
    sums = (tmp_path / "a" / "SHA256SUMS").read_text(encoding="utf-8")
    assert recorded[once.workbook.name]["sha256"] in sums
    # the workbook's dates are the release's publication time
    props = openpyxl.load_workbook(once.workbook).properties
    with psycopg.connect(stats) as conn:
        published_at = conn.execute("select published_at from published.release_log where release_id = %s",
                                    (first.release_id,)).fetchone()[0]
    assert props.created == published_at.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    # the second release's workbook differs (other values)
    other = produce_reports(second.release_id, reader_url=stats, out_dir=tmp_path / "c")
    assert other.workbook.read_bytes() != once.workbook.read_bytes()


def test_release_notes_attribute_each_revision_to_its_cause(two_releases, wh, cut, feeds, test_env, tmp_path):
    _, second = two_releases
    stats = test_env["SHUMEI_STATS_URL"]
    with report_data.connect(stats) as conn:
        changes = release_changes(conn, second.release_id)
    causes = {(r.indicator_code, r.area_code): r.cause for r in changes.revisions}
    assert causes == {("TS_SC_MED", COUNTY): "late_hotline", ("WY_FG", COUNTY): "registry_correction",
                      ("WY_FG", TOWN1): "registry_correction"}
    assert [(w.indicator_code, w.period_start.month) for w in changes.withdrawn] == [("TS_SC_MED", 6)]
    assert changes.new_periods == [] and changes.previous.release_id == second.release_id - 1
    assert any("hotline" in line and "registry" in line for line in changes.input_changes)

    # release 3: the working-day calendar is regenerated (TS_SC_MED moves, no new data), a change of
    # method moves WY_FG (its reason reaches the value), a new month of TS_SL is published
    wh.execute("update qa_ref.ref_workday_calendar set is_workday = false")
    wh.execute("alter table published_candidate.indicator_values add column revision_reason text")
    wh.execute("update published_candidate.indicator_values set value = 4.0"
               " where indicator_code = 'TS_SC_MED' and period_start = '2024-05-01'")
    wh.execute("""update published_candidate.indicator_values set numerator = 133, value = 95.0,
                  revision_reason = '口径变更 rule v2: compounds under construction excluded'
                  where indicator_code = 'WY_FG' and area_code = %s and period_start = '2024-05-01'""", (COUNTY,))
    wh.execute("""update published_candidate.indicator_values set numerator = 102, value = 97.1,
                  revision_reason = '口径变更 rule v2: compounds under construction excluded'
                  where indicator_code = 'WY_FG' and area_code = %s and period_start = '2024-05-01'""", (TOWN1,))
    for area, level, n in ((TOWN1, "town", 30), ("341523400000", "town", 8), (COUNTY, "county", 38)):
        wh.execute("""insert into published_candidate.indicator_values values ('TS_SL', %s, %s, 'month', '2024-07-01',
                      '2024-07-31', 'total', '_T', %s, null, %s, 'count', null, null, null, true, null)""",
                   (area, level, n, n))
    wh.execute("update published_candidate.indicator_values set is_provisional = false"
               " where indicator_code = 'TS_SL' and period_start = '2024-06-01'")
    third = cut(as_of="2024-07-02")
    assert third.released
    with report_data.connect(stats) as conn:
        changes = release_changes(conn, third.release_id)
    causes = {(r.indicator_code, r.area_code): (r.cause, r.cause_detail) for r in changes.revisions}
    assert causes[("TS_SC_MED", COUNTY)] == ("calendar", "ref_workday_calendar")
    assert causes[("WY_FG", COUNTY)][0] == "method" and "rule v2" in causes[("WY_FG", COUNTY)][1]
    assert [(p.indicator_code, p.period_start.month, p.values) for p in changes.new_periods] == [("TS_SL", 7, 3)]
    assert changes.finalised == 3  # TS_SL June closed: provisional → final is no revision
    artifacts = produce_reports(third.release_id, reader_url=stats, out_dir=tmp_path)
    text = artifacts.notes.read_text(encoding="utf-8")
    assert "工作日历更新 working-day calendar update" in text and "口径变更 change of rule or method" in text
    assert "| TS_SL 受理量 | 月 month | 2024-07 | 1 | 3 |" in text
    notes_sheet = openpyxl.load_workbook(artifacts.workbook)["发布说明"]
    causes_in_sheet = {r[8].value for r in notes_sheet.iter_rows(min_row=HEADER_ROWS + 3) if r[0].value == "修订 revised"}
    assert causes_in_sheet == {"工作日历更新 working-day calendar update", "口径变更 change of rule or method"}


def test_unknown_release_is_a_report_error(wh, release, test_env, tmp_path):
    from shumei.report import ReportError

    release()
    with pytest.raises(ReportError, match="release 99 does not exist"):
        produce_reports(99, reader_url=test_env["SHUMEI_STATS_URL"], out_dir=tmp_path)

