"""The statistics office's Excel workbook of one release, in statistical-report layout (openpyxl).

Sheets: 目标进度 (each target at its deadline, county and towns), 投诉办理 (complaint handling by month
and town), 信用评级 (credit grades, and the public list where published), 指标口径 (the catalogue) and
发布说明 (the release notes). Every data sheet opens with the report-form header block (表号, 制定机关,
报告期, 计量单位, 填报单位, 发布日期), then the column headers, a row of field keys (栏目代码: which
published field each numeric column holds) and the rows. Numbers are stored as numbers with the
catalogue's decimals as their number format; a provisional value shows the mark P (初步数), a revised
one R (修订数), and each row says its status. Headers are frozen; pages are A4 landscape, one page wide,
with the headers repeated.

Produced again for the same release, the file is byte-identical: the document's created/modified
dates are the release's published_at and the zip entries carry that time (see `_deterministic_zip`).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from shumei.report import data
from shumei.report.notes import CAUSES, ReleaseChanges, headline_revisions, period_label

# Report-form metadata (表头): the layout of the office's forms, not data.
AUTHORITY = "舒城县统计局 Shucheng County Statistics Bureau"
REPORTING_UNIT = "舒城县城市管理行政执法局（舒美红色小区指标数据仓库） Shucheng County Urban Management Bureau (indicator warehouse)"
FORMS = {
    "目标进度": ("舒美统1表", "舒美红色小区工作目标进度表 Programme targets by deadline"),
    "投诉办理": ("舒美统2表", "物业投诉办理情况月报表 Complaint handling by month and town"),
    "信用评级": ("舒美统3表", "物业服务企业信用评级情况表 Property-service enterprise credit grades"),
    "指标口径": ("舒美统4表", "指标口径说明 Indicator catalogue (definitions)"),
    "发布说明": ("舒美统5表", "发布说明 Release notes"),
}
UNIT_ZH = {"percent": "%", "count": "件/个", "working_days": "工作日", "hours": "小时", "score": "分"}
STATUS_ZH = {"provisional": "初步数", "final": "最终数", "revised": "修订数", "break_in_series": "序列中断"}
STATUS_MARK = {"provisional": "P", "revised": "R", "break_in_series": "B"}
LEVEL_ZH = {"county": "县", "town": "乡镇"}
KIND_ZH = {"firm": "硬性", "aspirational": "力争", "basically_met": "基本达标", "standing_norm": "常态要求",
           "milestone": "节点"}
FONT = "宋体"

_thin = Side(style="thin", color="808080")
BORDER = Border(left=_thin, right=_thin, top=_thin, bottom=_thin)
HEAD_FILL = PatternFill("solid", fgColor="D9E1F2")
KEY_FILL = PatternFill("solid", fgColor="F2F2F2")
TITLE = Font(name=FONT, size=14, bold=True)
BOLD = Font(name=FONT, size=10, bold=True)
PLAIN = Font(name=FONT, size=10)
SMALL = Font(name=FONT, size=8, color="606060")
WRAP = Alignment(wrap_text=True, vertical="center")
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)

MONTH = 'yyyy"年"m"月"'
HEADER_ROWS = 5  # title, three header lines, a blank line; column headers follow


def number_format(decimals: int, status: str | None = None) -> str:
    base = "#,##0" if decimals <= 0 else "#,##0." + "0" * decimals
    mark = STATUS_MARK.get(status or "")
    return f'{base}" {mark}"' if mark else base


def _num(value: Any) -> float | int | None:
    if value is None:
        return None
    number = float(value)
    return int(number) if number.is_integer() else number


class Sheet:
    """One report-form sheet: header block, column headers, field keys, rows."""

    def __init__(self, wb: Workbook, name: str, release: data.Release, period: str, unit: str,
                 columns: list[tuple[str, str, int]], landscape: bool = True):
        self.ws: Worksheet = wb.create_sheet(name)
        self.columns = columns
        table_no, title = FORMS[name]
        ws, last = self.ws, get_column_letter(len(columns))
        ws.sheet_view.showGridLines = False
        ws["A1"] = title
        ws["A1"].font, ws["A1"].alignment = TITLE, Alignment(horizontal="center")
        ws.merge_cells(f"A1:{last}1")
        published = f"{release.published_local:%Y-%m-%d %H:%M}（北京时间）"
        lines = [f"表号 Form: {table_no}　　制定机关 Authority: {AUTHORITY}　　发布日期 Published: {published}",
                 f"报告期 Reporting period: {period}　　计量单位 Unit: {unit}　　填报单位 Reporting unit: {REPORTING_UNIT}",
                 f"发布版本 Release: 第 {release.release_id} 版（数据截至 as of {release.as_of_date}）　　"
                 f"标记 Marks: P = 初步数 provisional，R = 修订数 revised，B = 序列中断 break in series"]
        for i, text in enumerate(lines, start=2):
            ws.cell(row=i, column=1, value=text).font = PLAIN
            ws.merge_cells(f"A{i}:{last}{i}")
        head, keys = HEADER_ROWS + 1, HEADER_ROWS + 2
        for j, (label, key, width) in enumerate(columns, start=1):
            cell = ws.cell(row=head, column=j, value=label)
            cell.font, cell.fill, cell.alignment, cell.border = BOLD, HEAD_FILL, CENTER, BORDER
            kc = ws.cell(row=keys, column=j, value=key or None)
            kc.font, kc.fill, kc.alignment, kc.border = SMALL, KEY_FILL, CENTER, BORDER
            ws.column_dimensions[get_column_letter(j)].width = width
        ws.row_dimensions[head].height = 42
        self.next_row = keys + 1
        ws.freeze_panes = ws.cell(row=self.next_row, column=1)
        ws.print_title_rows = f"{head}:{keys}"
        setup = ws.page_setup
        setup.paperSize = ws.PAPERSIZE_A4
        setup.orientation = "landscape" if landscape else "portrait"
        setup.fitToWidth, setup.fitToHeight = 1, 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.print_options.horizontalCentered = True
        ws.page_margins.left = ws.page_margins.right = 0.4
        ws.oddFooter.center.text = "第 &P 页，共 &N 页"
        ws.oddFooter.right.text = f"第 {release.release_id} 版"

    def row(self, values: list[Any], formats: dict[int, str] | None = None) -> None:
        formats = formats or {}
        for j, value in enumerate(values, start=1):
            cell = self.ws.cell(row=self.next_row, column=j, value=value)
            cell.font, cell.border = PLAIN, BORDER
            if j in formats:
                cell.number_format = formats[j]
            elif isinstance(value, date):
                cell.number_format = "yyyy-mm-dd"
            if isinstance(value, str):
                cell.alignment = WRAP
        self.next_row += 1

    def note(self, text: str) -> None:
        self.next_row += 1
        cell = self.ws.cell(row=self.next_row, column=1, value=text)
        cell.font = SMALL
        self.ws.merge_cells(start_row=self.next_row, start_column=1, end_row=self.next_row,
                            end_column=len(self.columns))
        self.next_row += 1


def _month_label(start: date) -> str:
    return f"{start.year}年{start.month}月"


def _row_status(statuses: list[str]) -> str:
    """The row's status: 初步数 when a value is provisional, 含修订数 when one is revised (the cells
    carry the marks P and R)."""
    parts = (["初步数 P"] if "provisional" in statuses else []) + (
        ["含修订数 R"] if {"revised", "break_in_series"} & set(statuses) else [])
    return "，".join(parts) or "最终数"


def _targets_sheet(wb: Workbook, release: data.Release, rows: list[dict], norms: list[dict], cat: dict) -> None:
    columns = [("指标代码\nIndicator", "indicator_code", 10), ("指标名称\nName", "", 22), ("目标期限\nDeadline", "deadline", 11),
               ("目标性质\nKind", "", 9), ("地区代码\nArea code", "area_code", 14), ("地区\nArea", "", 16),
               ("层级\nLevel", "", 6), ("期间类型\nPeriod", "period_type", 8), ("期间起\nFrom", "period_start", 11),
               ("期间止\nTo", "period_end", 11), ("实际值\nActual", "value", 10), ("目标值\nTarget", "target", 10),
               ("单位\nUnit", "", 7), ("分子\nNumerator", "numerator", 10), ("分母\nDenominator", "denominator", 10),
               ("达标情况\nMet", "", 9), ("数据状态\nStatus", "", 9)]
    sheet = Sheet(wb, "目标进度", release, f"截至 {release.as_of_date}（各目标期限）", "见各行 per row", columns)
    for r in rows:
        decimals = (cat.get(r["indicator_code"]) or {}).get("decimals") or 0
        due = r["deadline"] is None or r["deadline"] <= release.as_of_date
        if r["period_type"] is None:
            verdict = "未到期" if not due else "无数值"
        elif r["target_kind"] == "baseline":
            verdict = "基数"
        elif r["target_met"] is None:
            verdict = "–"
        else:
            verdict = "达标" if r["target_met"] else "未达标"
        status = r["status"]
        sheet.row([r["indicator_code"], r["indicator_name_zh"], r["deadline"] or "常态 standing",
                   KIND_ZH.get(r["target_kind"], r["target_kind"]), r["area_code"], r["area_name_zh"],
                   LEVEL_ZH.get(r["area_level"], r["area_level"]), r["period_type"], r["period_start"],
                   r["period_end"], _num(r["value"]), _num(r["target_value"]), UNIT_ZH.get(r["target_unit"], r["target_unit"]),
                   _num(r["numerator"]), _num(r["denominator"]), verdict,
                   STATUS_ZH.get(status, status) if status else ""],
                  {11: number_format(decimals, status), 12: number_format(decimals), 14: "#,##0.##", 15: "#,##0.##"})
    sheet.note("目标按方案条款（published.indicator_targets）；实际值为目标期限日的数值（年、季、月中最长的期间），达标按精确比率判断。"
               "基数为方案基数（非目标）。Targets as published (town rows where the programme sets a target for "
               "every town); the actual is the figure at the deadline (the longest period ending on it); met (达标) is "
               "judged on the exact ratio; 基数 is the programme's baseline, not a target.")
    for n in norms:
        sheet.note(f"单位规范 norm per unit: {n['indicator_code']} {n['name_zh'] or ''} {n['comparator']} "
                   f"{_num(n['threshold'])} ({n['unit']}) — {n['clause_zh'] or ''}")


def _monthly_sheet(wb: Workbook, name: str, release: data.Release, rows: list[dict], areas: dict, cat: dict,
                   fields: list[tuple[str, str, str]], unit: str) -> Sheet:
    """A month × area sheet: `fields` are (indicator code, published field, header label)."""
    columns = [("月份\nMonth", "period_start", 11), ("地区代码\nArea code", "area_code", 14), ("地区\nArea", "", 16)]
    columns += [(label, f"{code}.{field}", 11) for code, field, label in fields] + [("数据状态\nStatus", "", 12)]
    # the months of this year and the last (本年及上年); the whole series is in published.v_indicator_month
    first = date(release.as_of_date.year - 1, 1, 1)
    rows = [r for r in rows if r["period_start"] >= first]
    months = sorted({r["period_start"] for r in rows})
    period = f"{_month_label(months[0])}—{_month_label(months[-1])}" if months else "无 none"
    sheet = Sheet(wb, name, release, period, unit, columns)
    cells: dict[tuple, dict[str, dict]] = defaultdict(dict)
    for r in rows:
        cells[(r["period_start"], r["area_level"] != "county", r["area_code"])][r["indicator_code"]] = r
    for (start, _town, area_code), by_code in sorted(cells.items()):
        values, formats, statuses = [start, area_code, (areas.get(area_code) or {}).get("area_name_zh", "")], {1: MONTH}, []
        for j, (code, field, _label) in enumerate(fields, start=4):
            r = by_code.get(code)
            decimals = (cat.get(code) or {}).get("decimals") or 0
            status = r["status"] if r else None
            values.append(_num(r[field]) if r else None)
            formats[j] = number_format(decimals if field == "value" else 0, status if field == "value" else None)
            if r and field == "value":
                statuses.append(status)
        values.append(_row_status(statuses))
        sheet.row(values, formats)
    return sheet


def _complaints_sheet(wb: Workbook, release: data.Release, rows: list[dict], areas: dict, cat: dict) -> None:
    fields = [(code, "value", f"{(cat.get(code) or {}).get('name_zh', code)}\n{code}（{UNIT_ZH.get((cat.get(code) or {}).get('unit'), '')}）")
              for code in data.COMPLAINT_CODES]
    sheet = _monthly_sheet(wb, "投诉办理", release, rows, areas, cat, fields, "件；%；工作日 (per column)")
    sheet.note("三率 = 响应率、解决率、满意率（TS_XY、TS_JJ、TS_MY）；办理时长按工作日计；口径见「指标口径」。"
               "The three rates are response, resolution and satisfaction; closure times in working days.")


def _credit_sheet(wb: Workbook, release: data.Release, rows: list[dict], areas: dict, cat: dict,
                  public_list: list[dict] | None) -> None:
    fields = [("XY_AUP", "denominator", "评级企业数\nenterprises rated"),
              ("XY_AUP", "numerator", "A级及以上企业数\ngraded A or above"),
              ("XY_AUP", "value", "A级及以上占比（%）\nshare A or above"),
              ("XY_C", "numerator", "C级企业数\ngraded C"),
              ("XY_C", "value", "C级占比（%）\nshare C"),
              ("XY_PJ", "value", "平均信用分\nmean score")]
    sheet = _monthly_sheet(wb, "信用评级", release, rows, areas, cat, fields, "家；%；分 (per column)")
    sheet.note("乡镇计其服务的企业（一家企业可计入多个乡镇），各乡镇不相加等于全县。An enterprise counts in every town it "
               "serves: towns do not add up to the county.")
    if public_list is None:
        sheet.note("企业信用公开名单：仓库尚未发布（published.enterprise_credit_list）。"
                   "The public enterprise credit list is not published by this warehouse yet.")
        return
    sheet.note("企业信用公开名单（依法公开信用信息） Public enterprise credit list")
    keys = list(public_list[0].keys()) if public_list else []
    for j, key in enumerate(keys, start=1):
        sheet.ws.cell(row=sheet.next_row, column=j, value=key).font = BOLD
    sheet.next_row += 1
    for r in public_list:
        sheet.row([_num(v) if isinstance(v, (int, float)) or type(v).__name__ == "Decimal" else v for v in r.values()])


def _catalog_sheet(wb: Workbook, release: data.Release, cat: dict) -> None:
    columns = [("指标代码\nCode", "indicator_code", 10), ("指标名称\nName", "", 20), ("英文名称\nName (en)", "", 20),
               ("定义\nDefinition", "", 50), ("分子\nNumerator", "", 28), ("分母\nDenominator", "", 28),
               ("单位\nUnit", "", 9), ("小数位\nDecimals", "decimals", 7), ("类型\nKind", "", 7),
               ("频率\nFrequencies", "", 12), ("地区层级\nLevels", "", 14), ("可加\nAdditive", "", 6),
               ("来源\nSource", "", 9), ("责任单位\nResponsible", "", 18), ("方案条款\nClause", "", 30)]
    sheet = Sheet(wb, "指标口径", release, "现行口径 definitions in force", "见各行 per row", columns)
    for code, c in cat.items():
        sheet.row([code, c["name_zh"], c["name_en"], c["definition_zh"], c["numerator_zh"], c["denominator_zh"],
                   UNIT_ZH.get(c["unit"], c["unit"]), c["decimals"], c["measure_kind"], c["frequencies"],
                   c["area_levels"], "是" if c["is_additive"] else "否", c["source"], c["responsible_units_zh"],
                   c["seed_clause"]], {8: "0"})


def _notes_sheet(wb: Workbook, release: data.Release, changes: ReleaseChanges, areas: dict, cat: dict) -> None:
    columns = [("类别\nSection", "", 22), ("指标代码\nIndicator", "indicator_code", 10), ("地区代码\nArea code", "area_code", 14),
               ("地区\nArea", "", 14), ("期间类型\nPeriod", "period_type", 8), ("期间起\nFrom", "period_start", 11),
               ("原值\nOld", "old_value", 11), ("新值\nNew", "new_value", 11), ("原因\nCause", "", 26), ("说明\nDetail", "", 50)]
    prev = changes.previous
    period = f"第 {prev.release_id} 版 → 第 {release.release_id} 版" if prev else f"第 {release.release_id} 版（首次发布）"
    sheet = Sheet(wb, "发布说明", release, period, "同各指标 as each indicator", columns)
    kind = {"scheduled": "按日历发布 scheduled", "unscheduled": "日历外发布 unscheduled"}.get(release.release_kind or "", "–")
    sheet.row(["发布类型 kind", None, None, None, None, None, None, None, kind, release.release_reason or ""])
    for line in changes.input_changes:
        sheet.row(["输入变化 inputs", None, None, None, None, None, None, None, None, line])
    for p in changes.new_periods:
        sheet.row(["新增期间 new period", p.indicator_code, None, None, p.period_type, p.period_start, None, None, None,
                   f"{period_label(p.period_type, p.period_start)}: {p.values} 个数值 values"])
    sheet.row(["修订 revisions", None, None, None, None, None, None, None, None,
               f"修订值 {len(changes.revisions)} 个；初步数转最终数 {changes.finalised} 个；初步数更新 {changes.provisional_updates} 个"])
    for cause, n in sorted(changes.cause_counts.items(), key=lambda kv: list(CAUSES).index(kv[0])):
        sheet.row(["修订原因 causes", None, None, None, None, None, None, None, f"{CAUSES[cause][0]} {CAUSES[cause][1]}",
                   f"{n} 个修订值 revised values"])
    for r in headline_revisions(changes):
        decimals = (cat.get(r.indicator_code) or {}).get("decimals") or 0
        sheet.row(["修订 revised", r.indicator_code, r.area_code, (areas.get(r.area_code) or {}).get("area_name_zh", ""),
                   r.period_type, r.period_start, _num(r.old_value), _num(r.new_value),
                   f"{CAUSES[r.cause][0]} {CAUSES[r.cause][1]}", r.cause_detail],
                  {7: number_format(decimals), 8: number_format(decimals, "revised")})
    withdrawn = [w for w in changes.withdrawn if w.breakdown_type == "total" and w.area_level in ("county", "town")]
    for w in withdrawn:
        decimals = (cat.get(w.indicator_code) or {}).get("decimals") or 0
        sheet.row(["撤回 withdrawn", w.indicator_code, w.area_code, (areas.get(w.area_code) or {}).get("area_name_zh", ""),
                   w.period_type, w.period_start, _num(w.old_value), None, None, ""], {7: number_format(decimals)})
    sheet.note(f"撤回值共 {len(changes.withdrawn)} 个（其中县、乡镇合计 {len(withdrawn)} 个）。分组与社区的修订见 "
               "published.v_indicator_history。Breakdowns and communities: see published.v_indicator_history.")


def build_workbook(conn, release_id: int, changes: ReleaseChanges) -> Workbook:
    """The workbook of release `release_id`, read through the reader connection `conn`."""
    release = changes.release
    cat = data.catalog(conn)
    areas = data.areas(conn, release.as_of_date)
    wb = Workbook()
    wb.remove(wb.active)
    _targets_sheet(wb, release, data.target_progress(conn, release_id), data.unit_norms(conn), cat)
    _complaints_sheet(wb, release, data.monthly_values(conn, release_id, data.COMPLAINT_CODES), areas, cat)
    _credit_sheet(wb, release, data.monthly_values(conn, release_id, data.CREDIT_CODES), areas, cat,
                  data.credit_public_list(conn, release_id))
    _catalog_sheet(wb, release, cat)
    _notes_sheet(wb, release, changes, areas, cat)
    stamp = _stamp(release)
    wb.properties.creator = "shumei warehouse"
    wb.properties.title = f"舒美红色小区统计报表 第{release_id}版 (release {release_id}, as of {release.as_of_date})"
    wb.properties.created = wb.properties.modified = stamp
    return wb


def _stamp(release: data.Release) -> datetime:
    """The file's time: the release's publication (UTC, whole seconds)."""
    return release.published_at.astimezone(UTC).replace(tzinfo=None, microsecond=0)


_CORE_DATE = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")


def _deterministic_zip(raw: bytes, stamp: datetime) -> bytes:
    """The same xlsx with every zip entry dated `stamp` (and fixed attributes), and the document's
    created/modified dates set to it: identical bytes for identical content."""
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for name in zin.namelist():
            content = zin.read(name)
            if name == "docProps/core.xml":
                content = _CORE_DATE.sub(lambda m: m.group(1) + iso + m.group(3), content)
            info = zipfile.ZipInfo(name, date_time=stamp.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 0
            zout.writestr(info, content, compresslevel=6)
    return out.getvalue()


def write_workbook(conn, release_id: int, changes: ReleaseChanges, path: Path) -> Path:
    wb = build_workbook(conn, release_id, changes)
    buffer = io.BytesIO()
    wb.save(buffer)
    path.write_bytes(_deterministic_zip(buffer.getvalue(), _stamp(changes.release)))
    return path
