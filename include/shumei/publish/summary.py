"""A short text summary of the latest release, printed at the end of `make run`."""

from __future__ import annotations

import psycopg

COUNTY = "341523000000"
# the programme's headline indicators first (DOMAIN §2), then everything else in code order
HEADLINE = ("WY_FG", "YWH_FG", "DZB_ZJ", "QYDZZ_ZJ", "LM_FG", "YWH_DY", "QY_LJ", "QY_XM", "SFD_XQ", "SFD_QY")
UNIT_LABEL = {"percent": "%", "count": "", "working_days": " 工作日 working days", "hours": " 小时 hours",
              "score": " 分 points"}

QUERY = """
with latest_period as (
    -- per indicator, the most recent period of the finest frequency published for the county
    select distinct on (v.indicator_code) v.*
    from published.v_indicator_latest v
    where v.area_code = %(county)s and v.breakdown_type = 'total'
    order by v.indicator_code, v.period_start desc,
             array_position(array['month', 'quarter', 'year'], v.period_type)
)
select l.indicator_code, coalesce(c.name_zh, ''), coalesce(c.name_en, ''), l.period_type,
       l.period_start, l.period_end, l.value, l.numerator, l.denominator, l.unit, l.target,
       l.deadline, l.target_met, l.status, coalesce(c.decimals, 1)
from latest_period l
left join published.indicator_catalog c using (indicator_code)
"""


def _fmt(number, decimals: int) -> str:
    if number is None:
        return "–"
    return f"{float(number):.{max(decimals, 0)}f}"


def latest_summary(conn: psycopg.Connection) -> str:
    """Latest published county values with target and met / not met, one line per indicator."""
    release = conn.execute(
        """select release_id, as_of_date, published_at from published.release_log
           where status = 'published' order by release_id desc limit 1""").fetchone()
    if release is None:
        return "尚无正式发布 No release published yet."
    rows = conn.execute(QUERY, {"county": COUNTY}).fetchall()
    order = {code: i for i, code in enumerate(HEADLINE)}
    rows.sort(key=lambda r: (order.get(r[0], len(order)), r[0]))
    lines = [f"正式发布 Release {release[0]} — 数据截至 as of {release[1]}, "
             f"发布于 published {release[2]:%Y-%m-%d %H:%M %Z} — 舒城县 county {COUNTY}"]
    for (code, name_zh, name_en, period_type, start, end, value, num, den, unit, target, deadline,
         met, status, decimals) in rows:
        period = f"{start:%Y-%m}" if period_type == "month" else f"{start}..{end}"
        text = f"  {code:<10} {name_zh} ({name_en}) {period}: {_fmt(value, decimals)}{UNIT_LABEL.get(unit, ' ' + unit)}"
        if num is not None and den is not None:
            text += f" [{_fmt(num, 0)}/{_fmt(den, 0)}]"
        if target is not None:
            verdict = "达标 met" if met else ("未达标 not met" if met is not None else "–")
            text += f"; 目标 target {_fmt(target, decimals)}"
            text += f" by {deadline}" if deadline else ""
            text += f": {verdict}"
        if status != "final":
            text += f" ({status})"
        lines.append(text)
    return "\n".join(lines)
