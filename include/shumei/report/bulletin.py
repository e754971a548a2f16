"""The bulletin of a release (工作简报): HTML and PDF in Chinese, with charts.

`render_bulletin(release_id, reader_url, out_dir)` reads one release from the published interface
alone, through a reader role (`published.indicator_values_in_release(N)` joined to the catalogue and
the area names), and writes

- `bulletin-N.html`: one self-contained file: charts as inline SVG (text as paths), the page font a
  base64 subset of Noto Sans CJK SC (PyPI `noto-cjk[sans]`); it loads nothing from anywhere;
- `bulletin-N.pdf`: that page printed by headless Chromium (A4, fonts embedded); the PDF's creation
  and modification dates are set to the release's publication time and its structure ids numbered
  canonically (`canonical_pdf`), so the same release gives the same bytes;
- `charts/<name>.svg`: each chart also as a file.

Sections: progress of each target against its deadline, complaints by month, rankings of towns and
communities on the 三率 (响应率, 解决率, 满意率: the Beijing 接诉即办 practice) for the latest month,
credit grades, early warnings by rule, and what changed since the previous release.
"""

from __future__ import annotations

import csv
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from psycopg.rows import dict_row

from shumei.publish.ddl import SMALL_COUNT_SQL
from shumei.publish.summary import HEADLINE
from shumei.report import charts
from shumei.report.data import connect as reader_connect
from shumei.report.notes import CAUSES, release_changes
from shumei.settings import REPO_ROOT

log = logging.getLogger(__name__)
SHANGHAI = ZoneInfo("Asia/Shanghai")
COUNTY = "341523000000"
TITLE = "舒城县“舒美红色小区”建设工作简报"
TEMPLATES = Path(__file__).parent / "templates"
RATES = ("TS_XY", "TS_JJ", "TS_MY")  # the 三率 of 接诉即办
COMPLAINT_RATES = (*RATES, "TS_AS")
CREDIT_SHARES = ("XY_AUP", "XY_C")
TREND_MONTHS = 24
TABLE_MONTHS = 12
UNIT_LABEL = {"percent": "%", "count": "件", "working_days": "工作日", "hours": "小时", "score": "分"}
TARGET_KIND_ZH = {"firm": "硬性", "aspirational": "力争", "basically_met": "基本达标",
                  "standing_norm": "常态要求", "milestone": "节点", "baseline": "基数"}
CHANGE_KIND_ZH = {"new": "新增", "revised": "修订", "updated": "初步数更新或转正", "withdrawn": "撤回"}
PERIOD_RANK = {"year": 0, "quarter": 1, "month": 2}  # at a deadline, the longest period counts (as v_indicator_targets)

VALUES_SQL = f"""
select v.indicator_code, c.name_zh, c.decimals, v.area_code, a.area_name_zh, v.area_level,
       v.period_type, v.period_start, v.period_end, v.breakdown_type, v.breakdown_code,
       v.numerator, v.denominator, v.value, v.unit, v.target, v.deadline, v.target_met, v.status,
       {SMALL_COUNT_SQL.format(row="v")} as is_small_count
from published.indicator_values_in_release(%(release_id)s) v
left join published.indicator_catalog c on c.indicator_code = v.indicator_code
left join published.dim_area a on a.area_code = v.area_code
where v.breakdown_type = 'total' or v.indicator_code = 'YJ_SL'
   or (v.indicator_code, v.area_code, v.breakdown_type, v.breakdown_code) in (
       select t.indicator_code, t.area_code, t.breakdown_type, t.breakdown_code from published.indicator_targets t)
"""

@dataclass(frozen=True)
class ReleaseChange:
    """A line of "what changed since the previous release": how many values of an indicator are of one kind."""

    indicator_code: str
    kind: str  # new / revised / updated / withdrawn
    values: int
    note: str | None = None


def changes_since_previous(conn: psycopg.Connection, release_id: int) -> list[ReleaseChange]:
    """What changed since the previous release, per indicator and kind, from the release notes' comparison
    (report/notes.py, the one comparison of two releases); revisions carry their causes as the note.
    `conn`: a reader connection of `shumei.report.data.connect` (rows as dicts)."""
    changes = release_changes(conn, release_id)
    lines: list[ReleaseChange] = []
    if changes.previous is None:  # the first release: nothing to compare with (the page says so)
        return lines
    new: Counter = Counter()
    for p in changes.new_periods:
        new[p.indicator_code] += p.values
    revised: dict[str, Counter] = defaultdict(Counter)
    for r in changes.revisions:
        revised[r.indicator_code][r.cause] += 1
    withdrawn = Counter(w.indicator_code for w in changes.withdrawn)
    for code in sorted(new.keys() | revised.keys() | withdrawn.keys() | changes.updates_by_indicator.keys()):
        if new[code]:
            lines.append(ReleaseChange(code, "new", new[code]))
        if revised.get(code):
            note = "、".join(f"{CAUSES[c][0]} {n}" for c, n in sorted(revised[code].items()))
            lines.append(ReleaseChange(code, "revised", sum(revised[code].values()), f"修订原因：{note}"))
        if changes.updates_by_indicator[code]:
            lines.append(ReleaseChange(code, "updated", changes.updates_by_indicator[code]))
        if withdrawn[code]:
            lines.append(ReleaseChange(code, "withdrawn", withdrawn[code]))
    return lines


def fmt(value, decimals: int | None) -> str:
    """A published number as printed: rounded half-up (四舍五入) at the catalogue's decimals."""
    if value is None:
        return "–"
    places = Decimal(1).scaleb(-(decimals or 0))
    number = Decimal(str(value)).quantize(places, rounding=ROUND_HALF_UP)
    return f"{number:,.{decimals or 0}f}"


def warning_rule_names() -> dict[str, str]:
    """Chinese names of the early-warning rules, from their reference table (the names are not published yet)."""
    path = REPO_ROOT / "dbt_project" / "seeds" / "ref_early_warning_rules.csv"
    with path.open(encoding="utf-8") as handle:
        return {row["rule_code"]: row["rule_name_zh"] for row in csv.DictReader(handle)}


@dataclass
class Value:
    row: dict

    def __getattr__(self, name):
        return self.row[name]

    @property
    def text(self) -> str:
        return fmt(self.row["value"], self.row["decimals"])

    @property
    def marks(self) -> list[str]:
        marks = []
        if self.row["status"] == "provisional":
            marks.append("初")
        elif self.row["status"] == "revised":
            marks.append("修")
        if self.row["is_small_count"]:
            marks.append("小")
        return marks


class ReleaseData:
    """The values of one release, indexed for the sections."""

    def __init__(self, rows: Sequence[dict]):
        self.index: dict[tuple, Value] = {}
        self.names: dict[str, str] = {}
        self.decimals: dict[str, int] = {}
        self.area_names: dict[str, str] = {}
        for row in rows:
            key = (row["indicator_code"], row["area_code"], row["period_type"], row["period_start"],
                   row["breakdown_type"], row["breakdown_code"])
            self.index[key] = Value(row)
            self.names[row["indicator_code"]] = row["name_zh"] or row["indicator_code"]
            self.decimals[row["indicator_code"]] = row["decimals"] or 0
            self.area_names[row["area_code"]] = row["area_name_zh"] or row["area_code"]

    def get(self, code, area=COUNTY, period_start=None, period_type="month", bt="total", bc="_T") -> Value | None:
        return self.index.get((code, area, period_type, period_start, bt, bc))

    def months(self, code, area=COUNTY, bt="total", bc="_T") -> list[date]:
        return sorted(k[3] for k in self.index
                      if k[0] == code and k[1] == area and k[2] == "month" and k[4] == bt and k[5] == bc)

    def select(self, **where) -> list[Value]:
        return [v for v in self.index.values() if all(v.row[k] == w for k, w in where.items())]


def _release(conn: psycopg.Connection, release_id: int) -> dict:
    row = conn.execute(
        """select release_id, as_of_date, published_at, status,
                  (select max(p.release_id) from published.release_log p
                   where p.release_id < r.release_id and p.status = 'published') as previous_release_id
           from published.release_log r where release_id = %s""", (release_id,)).fetchone()
    if row is None:
        raise ValueError(f"release {release_id} does not exist (发布版本不存在): see published.release_log")
    return dict(zip(("release_id", "as_of_date", "published_at", "status", "previous_release_id"), row, strict=True))


def _targets(conn: psycopg.Connection, data: ReleaseData,
             as_of: date) -> tuple[list[dict], list[charts.TargetPanel]]:
    """Each area target with the release's figure at its deadline, and a chart panel per indicator.

    The targets and their thresholds in the unit of the value come from `v_indicator_targets`; the
    figure, and whether it met the target, from the release's own value at the deadline (the longest
    period ending on it); a target not due yet shows the latest figure.
    """
    targets = conn.execute(
        """select target_id, indicator_code, area_code, breakdown_type, breakdown_code, deadline, comparator,
                  target, unit, target_kind
           from published.v_indicator_targets
           where coalesce(measure_scope, 'area') = 'area'
           order by deadline nulls last, target_id""").fetchall()
    lines, panels = [], {}
    for target_id, code, area, bt, bc, deadline, comparator, target, unit, kind in targets:
        series_rows = data.select(indicator_code=code, area_code=area, breakdown_type=bt, breakdown_code=bc)
        due = deadline is not None and deadline <= as_of
        if due:
            rows = sorted((v for v in series_rows if v.period_end == deadline),
                          key=lambda v: PERIOD_RANK[v.period_type])
        else:  # a standing norm or a target not due yet: the latest month (or year of a yearly indicator)
            rows = sorted(series_rows, key=lambda v: (v.period_type != "month", -v.period_end.toordinal()))
        figure = rows[0] if rows else None
        met = figure.target_met if figure is not None and (due or deadline is None) else None
        name = data.names.get(code, code) + ("（智慧物业平台渠道）" if bc == "smart_platform" else "")
        decimals = data.decimals.get(code, 0)
        unit_label = UNIT_LABEL.get(unit, unit or "")
        area_name = data.area_names.get(area, area)
        lines.append({
            "target_id": target_id, "indicator": name, "area": area_name, "deadline": deadline,
            "kind": TARGET_KIND_ZH[kind], "comparator": comparator or "", "unit": unit_label,
            "target": fmt(target, decimals), "v": figure,
            "period": _period_label(figure.period_type, figure.period_start) if figure else "",
            "met": met, "due": due or deadline is None,
        })
        panel = panels.setdefault(code + bc, charts.TargetPanel(title=name, unit_label=unit_label, series={}))
        if area_name not in panel.series:
            frequency = "month" if data.months(code, area, bt, bc) else "year"
            series = sorted((v for v in series_rows if v.period_type == frequency), key=lambda v: v.period_end)
            panel.series[area_name] = [(v.period_end, float(v.value) if v.value is not None else None,
                                        v.status == "provisional") for v in series]
        if deadline is not None and target is not None:
            panel.targets.append((deadline, float(target), met, area_name))
    return lines, [p for p in panels.values() if any(p.series.values())]


def _period_label(period_type: str, start: date) -> str:
    if period_type == "month":
        return f"{start.year}年{start.month}月"
    if period_type == "quarter":
        return f"{start.year}年第{(start.month - 1) // 3 + 1}季度"
    return f"{start.year}年"


def _ranking(data: ReleaseData, month: date, level: str) -> tuple[list[dict], dict[str, list[charts.RankedBar]]]:
    """Areas of a level ranked on each of the 三率 (descending, ties share a rank; small counts not ranked)."""
    columns, bars = {}, {}
    for code in RATES:
        values = [v for v in data.select(indicator_code=code, area_level=level, period_type="month",
                                         period_start=month, breakdown_type="total")]
        ranked = sorted((v for v in values if v.value is not None and not v.is_small_count),
                        key=lambda v: (-Decimal(v.text.replace(",", "")), v.area_code))
        unranked = sorted((v for v in values if v.value is None or v.is_small_count), key=lambda v: v.area_code)
        entries, previous, rank = [], None, 0
        for position, v in enumerate(ranked, start=1):
            if v.text != previous:  # competition ranking on the printed value: 1, 2, 2, 4
                rank, previous = position, v.text
            entries.append({"rank": rank, "area": v.area_name_zh, "v": v,
                            "fraction": f"{fmt(v.numerator, 0)}/{fmt(v.denominator, 0)}"})
        for v in unranked:
            entries.append({"rank": None, "area": v.area_name_zh, "v": v,
                            "fraction": f"{fmt(v.numerator, 0)}/{fmt(v.denominator, 0)}"})
        columns[code] = entries
        bars[data.names.get(code, code)] = [
            charts.RankedBar(v.area_name_zh, float(v.value) if v.value is not None else None, v.text,
                             bool(v.is_small_count)) for v in ranked + unranked]
    depth = max(len(c) for c in columns.values())
    rows = [[columns[code][i] if i < len(columns[code]) else None for code in RATES] for i in range(depth)]
    return rows, bars


def _series(data: ReleaseData, code: str, months: Sequence[date], **key) -> list[float | None]:
    return [float(v.value) if (v := data.get(code, period_start=m, **key)) and v.value is not None else None
            for m in months]


def _provisional(data: ReleaseData, code: str, months: Sequence[date]) -> list[bool]:
    return [bool((v := data.get(code, period_start=m)) and v.status == "provisional") for m in months]


def _complaints(data: ReleaseData, svgs: dict[str, str]) -> dict:
    codes = ("TS_SL", *COMPLAINT_RATES)
    months = data.months("TS_SL")
    if not months:
        return {"complaint_codes": codes, "complaint_rows": []}
    trend = months[-TREND_MONTHS:]
    provisional = _provisional(data, "TS_SL", trend)
    svgs["complaints_received"] = charts.monthly_bars(
        trend, _series(data, "TS_SL", trend), provisional, label=lambda x: fmt(x, data.decimals["TS_SL"]),
        ylabel="件", name="complaints_received")
    svgs["complaint_rates"] = charts.monthly_lines(
        trend, {data.names.get(c, c): _series(data, c, trend) for c in COMPLAINT_RATES}, provisional,
        ylabel="%", name="complaint_rates")
    rows = [{"label": f"{m:%Y-%m}", "cells": [data.get(code, period_start=m) for code in codes]}
            for m in reversed(months[-TABLE_MONTHS:])]
    return {"complaint_codes": codes, "complaint_rows": rows}


def _rankings(data: ReleaseData, svgs: dict[str, str]) -> dict:
    months = data.months(RATES[0])
    if not months:
        return {"rank_month_label": "", "town_rows": [], "community_rows": []}
    month = months[-1]
    part = {"rank_month_label": _period_label("month", month)}
    for level, chart in (("town", "ranking_towns"), ("community", "ranking_communities")):
        rows, bars = _ranking(data, month, level)
        part[f"{level}_rows"] = rows
        if rows:
            svgs[chart] = charts.ranking_panels(bars, name=chart)
    return part


def _credit(data: ReleaseData, svgs: dict[str, str]) -> dict:
    months = data.months("XY_PJ")[-TREND_MONTHS:]
    if not months:
        return {"credit_month_label": "", "credit_county": []}
    latest = months[-1]
    svgs["credit_shares"] = charts.monthly_lines(
        months, {data.names.get(c, c): _series(data, c, months) for c in CREDIT_SHARES},
        _provisional(data, "XY_PJ", months), ylabel="%", name="credit_shares", height=1.9)
    towns = sorted((v for v in data.select(indicator_code="XY_PJ", area_level="town", period_type="month",
                                           period_start=latest, breakdown_type="total") if v.value is not None),
                   key=lambda v: (-float(v.value), v.area_code))
    if towns:
        svgs["credit_scores_towns"] = charts.horizontal_bars(
            [v.area_name_zh for v in towns], [float(v.value) for v in towns], [v.text for v in towns],
            xlabel="分", name="credit_scores_towns")
    return {"credit_month_label": _period_label("month", latest),
            "credit_county": [data.get(c, period_start=latest) for c in ("XY_PJ", "XY_AUP", "XY_C")]}


def _warnings(data: ReleaseData, svgs: dict[str, str]) -> dict:
    months = data.months("YJ_SL")[-TREND_MONTHS:]
    if not months:
        return {"warning_rows": [], "warning_month_label": "", "warning_window_label": ""}
    names = warning_rule_names()
    rules = sorted({v.breakdown_code for v in data.select(indicator_code="YJ_SL", breakdown_type="rule",
                                                          area_code=COUNTY)})
    stacks = {names.get(r, r): [x or 0.0 for x in _series(data, "YJ_SL", months, bt="rule", bc=r)] for r in rules}
    if stacks:
        svgs["warnings_by_rule"] = charts.stacked_monthly_bars(months, stacks, ylabel="次", name="warnings_by_rule")
    window = months[-TABLE_MONTHS:]
    rows = [{"code": r, "name": names.get(r, r), "latest": data.get("YJ_SL", period_start=months[-1], bt="rule", bc=r),
             "total": fmt(sum(x or 0 for x in _series(data, "YJ_SL", window, bt="rule", bc=r)),
                          data.decimals["YJ_SL"])} for r in rules]
    return {"warning_rows": rows, "warning_month_label": _period_label("month", months[-1]),
            "warning_window_label": f"{window[0]:%Y-%m} 至 {window[-1]:%Y-%m}"}


def _changes(data: ReleaseData, changes: Sequence[ReleaseChange], svgs: dict[str, str]) -> dict:
    by_indicator: dict[str, dict[str, int]] = defaultdict(dict)
    notes: dict[str, list[str]] = defaultdict(list)
    totals: dict[str, int] = dict.fromkeys(CHANGE_KIND_ZH, 0)
    for c in changes:
        by_indicator[c.indicator_code][c.kind] = by_indicator[c.indicator_code].get(c.kind, 0) + c.values
        totals[c.kind] = totals.get(c.kind, 0) + c.values
        if c.note:
            notes[c.indicator_code].append(c.note)
    kinds = [k for k, n in totals.items() if n]
    rows = [{"indicator": data.names.get(code, code), "code": code,
             "counts": [fmt(counts.get(k, 0), 0) for k in kinds], "note": "；".join(notes[code])}
            for code, counts in sorted(by_indicator.items())]
    if kinds:
        svgs["changes"] = charts.horizontal_bars(
            [CHANGE_KIND_ZH.get(k, k) for k in kinds], [totals[k] for k in kinds], [fmt(totals[k], 0) for k in kinds],
            xlabel="个数值", name="changes", colour=charts.COLOURS[0])
    return {"change_rows": rows, "change_kinds": [CHANGE_KIND_ZH.get(k, k) for k in kinds],
            "change_totals": {CHANGE_KIND_ZH.get(k, k): totals[k] for k in kinds}}


def _headline(data: ReleaseData) -> list[dict]:
    """The latest county figure of the programme's headline indicators, complaints and credit."""
    lines = []
    for code in (*HEADLINE, "TS_SL", *COMPLAINT_RATES, "TS_SC_MED", "XY_PJ", "XY_C", "YJ_SL"):
        frequency = "month" if data.months(code) else "year"
        periods = sorted(v.period_start for v in data.select(indicator_code=code, area_code=COUNTY,
                                                             period_type=frequency, breakdown_type="total"))
        if periods:
            v = data.get(code, period_start=periods[-1], period_type=frequency)
            lines.append({"name": data.names[code], "period": _period_label(frequency, periods[-1]), "value": v,
                          "unit": UNIT_LABEL.get(v.unit, v.unit),
                          "fraction": f"{fmt(v.numerator, 0)}/{fmt(v.denominator, 0)}" if v.unit == "percent" else ""})
    return lines


def build_context(conn: psycopg.Connection, release_id: int,
                  changes: Sequence[ReleaseChange] | None = None) -> tuple[dict, dict[str, str]]:
    """The template context and the charts (name -> inline SVG) of a release."""
    release = _release(conn, release_id)
    with conn.cursor(row_factory=dict_row) as cur:
        data = ReleaseData(cur.execute(VALUES_SQL, {"release_id": release_id}).fetchall())
    if not data.index:
        raise ValueError(f"release {release_id} has no values")
    min_denominator = conn.execute(
        "select min_denominator from published.disclosure_rules where rule_code = 'small_count'").fetchone()[0]
    svgs: dict[str, str] = {}
    target_lines, panels = _targets(conn, data, release["as_of_date"])
    if panels:
        svgs["targets"] = charts.target_progress(panels)
    published_at = release["published_at"].astimezone(SHANGHAI)
    context = {
        "title": TITLE, "release": release, "published_date": f"{published_at:%Y年%-m月%-d日}",
        "published_time": f"{published_at:%Y-%m-%d %H:%M}",
        "as_of_label": f"{release['as_of_date']:%Y年%-m月%-d日}", "min_denominator": min_denominator,
        "names": data.names, "rate_codes": RATES, "headline": _headline(data),
        "target_lines": target_lines, "targets_met": sum(1 for t in target_lines if t["due"] and t["met"]),
        "targets_due": sum(1 for t in target_lines if t["due"] and t["met"] is not None),
        **_complaints(data, svgs), **_rankings(data, svgs), **_credit(data, svgs), **_warnings(data, svgs),
        **_changes(data, changes or [], svgs),
        "charts": svgs,
    }
    return context, svgs


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    return env


def render_html(context: dict) -> str:
    """The page, with the subset of the font its own text needs embedded."""
    template = _environment().get_template("bulletin.html.j2")
    draft = template.render(**context, font_css="")
    return template.render(**context, font_css=charts.font_face_css(re.sub(r"<svg.*?</svg>", "", draft, flags=re.S)))


def chromium() -> str:
    """Debian's headless Chromium (requirements/debian.txt, installed by `make sysdeps`)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("chromium not found: run `make sysdeps` (Debian package chromium)")


def offline_flags(proxy: str = "127.0.0.1:9") -> list[str]:
    """Headless Chromium that cannot reach anything: every request (loopback included) goes to `proxy`,
    by default a closed local port; file:// needs no proxy. Background services are off as far as
    flags allow (Chromium 156 still tries its component updater and accounts.google.com on start:
    those go to the proxy too, and fail)."""
    return ["--headless", "--no-sandbox", "--disable-gpu", "--disable-extensions", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--no-default-browser-check", "--disable-breakpad",
            "--disable-domain-reliability", "--disable-client-side-phishing-detection",
            "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate",
            f"--proxy-server={proxy}", "--proxy-bypass-list=<-loopback>"]


def print_pdf(html: Path, pdf: Path, fixed_date: datetime, attempts: int = 4) -> int:
    """Print the page to an A4 PDF with headless Chromium, made reproducible by `canonical_pdf`; returns
    the number of prints.

    Blink does not always lay out the same page the same way: 2 of 28 prints of a county bulletin
    (under load) placed one glyph half a pixel off (seen in the rankings tables: one number of a cell with a mark snapped to a whole
    pixel), each time another. So the page is printed until two prints agree, at most `attempts`
    times; if none agree, the first is kept and a warning says its bytes may not be reproducible.
    """
    prints: list[bytes] = []
    while len(prints) < attempts:
        content = canonical_pdf(_print_once(html, pdf), fixed_date)
        if content in prints:
            pdf.write_bytes(content)
            return len(prints) + 1
        prints.append(content)
    log.warning("%d prints of %s all differ: its PDF may not be reproducible byte for byte", attempts, html.name)
    pdf.write_bytes(prints[0])
    return attempts


def _print_once(html: Path, pdf: Path) -> bytes:
    pdf.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="shumei-chromium-") as profile:
        result = subprocess.run(
            [chromium(), *offline_flags(), f"--user-data-dir={profile}", "--no-pdf-header-footer",
             f"--print-to-pdf={pdf}", html.resolve().as_uri()],
            capture_output=True, text=True, timeout=180, check=False)
        if result.returncode != 0 or not pdf.exists():
            raise RuntimeError(f"chromium could not print {html.name} (exit {result.returncode}): "
                               f"{result.stderr[-2000:]}")
    content = pdf.read_bytes()
    pdf.unlink()
    return content


_ID_ENTRY = rb"\(node(\d{8})\) (\d+) 0 R"


def canonical_pdf(content: bytes, fixed_date: datetime) -> bytes:
    """The same PDF, with what differs between two prints of the same page made a function of the page.

    - The time of printing (/CreationDate, /ModDate) becomes `fixed_date`.
    - The ids of the tagged PDF's structure elements (`(node00000026)`) are Blink's DOM node ids, which
      depend on what the renderer created before, in an order that can differ between prints (1 of
      28 prints of a county bulletin). They are renumbered 1, 2, ... in the order of the objects they
      name (the object numbers are the same in every print), and the /IDTree's one /Names array is
      rewritten in that order, so it stays sorted.

    Every change keeps the length of what it replaces, so the cross-reference offsets stay valid.
    """
    stamp = fixed_date.astimezone(UTC).strftime("D:%Y%m%d%H%M%S+00'00'").encode("ascii")
    fixed = re.sub(rb"D:\d{14}[+-]\d\d'\d\d'", stamp, content)
    names = rb"/Names \[(?:%s ?)+\]" % _ID_ENTRY
    trees = [m.group(0) for m in re.finditer(names, fixed)]
    if len(trees) > 1:
        raise RuntimeError(f"the PDF's structure ids are in {len(trees)} /Names arrays: one was expected")
    if trees:
        entries = sorted((int(obj), old) for old, obj in re.findall(_ID_ENTRY, trees[0]))
        new_ids = {old: b"%08d" % n for n, (_, old) in enumerate(entries, start=1)}
        if set(re.findall(rb"\(node(\d{8})\)", fixed)) - set(new_ids):
            raise RuntimeError("the PDF names a structure id its /IDTree does not hold")
        fixed = re.sub(rb"\(node(\d{8})\)", lambda m: b"(node%s)" % new_ids[m.group(1)], fixed)
        # the array, which now lists the new ids in the order of the old ones, in the order of the new
        array = b" ".join(b"(node%08d) %d 0 R" % (n, obj) for n, (obj, _) in enumerate(entries, start=1))
        fixed = re.sub(names, lambda _: b"/Names [%s]" % array, fixed)
        fixed = re.sub(rb"/Limits \[\(node\d{8}\) \(node\d{8}\)\]",
                       lambda _: b"/Limits [(node%08d) (node%08d)]" % (1, len(entries)), fixed)
    if len(fixed) != len(content):
        raise RuntimeError("making the PDF reproducible changed its length")
    return fixed


def render_bulletin(release_id: int, reader_url: str, out_dir: Path,
                    changes: Sequence[ReleaseChange] | None = None) -> dict[str, Path]:
    """Write the bulletin of release N (HTML, PDF, chart SVGs) into out_dir; returns the paths by name.

    `changes` is what changed since the previous release; by default `changes_since_previous`.
    """
    out_dir = Path(out_dir)
    if changes is None:
        with reader_connect(reader_url) as notes_conn:
            changes = changes_since_previous(notes_conn, release_id)
    (out_dir / "charts").mkdir(parents=True, exist_ok=True)
    with psycopg.connect(reader_url) as conn:
        context, svgs = build_context(conn, release_id, changes)
    paths: dict[str, Path] = {}
    for name, svg in svgs.items():
        path = out_dir / "charts" / f"{name}.svg"
        path.write_text('<?xml version="1.0" encoding="utf-8" standalone="no"?>\n' + svg, encoding="utf-8")
        paths[f"chart:{name}"] = path
    html = out_dir / f"bulletin-{release_id}.html"
    html.write_text(render_html(context), encoding="utf-8")
    pdf = out_dir / f"bulletin-{release_id}.pdf"
    print_pdf(html, pdf, context["release"]["published_at"])
    paths.update(html=html, pdf=pdf)
    return paths


if __name__ == "__main__":  # pragma: no cover - a manual preview: python -m shumei.report.bulletin N OUT
    import sys

    print(render_bulletin(int(sys.argv[1]), os.environ["SHUMEI_STATS_URL"], Path(sys.argv[2])))
