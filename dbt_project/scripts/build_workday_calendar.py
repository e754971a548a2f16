"""Build (or check) seeds/ref_workday_calendar.csv from the `chinese-calendar` package.

Working days in China follow the State Council's holiday notice of each year, including make-up
working days on weekends (调休). The package encodes those notices; this script never uses
weekday arithmetic for a year the package knows. For years it does not know yet (it raises
NotImplementedError), the row falls back to the weekday rule (Mon-Fri work, Sat-Sun rest) and is
flagged is_estimated=true; rerun the script after upgrading chinese-calendar once the notice for
that year is published, and the estimated rows become exact.

    python dbt_project/scripts/build_workday_calendar.py           # write the CSV
    python dbt_project/scripts/build_workday_calendar.py --check   # exit 1 if the CSV differs

The CSV also carries `workday_seq`, the running count of working days since the first date of the
calendar (inclusive), so that the dbt macros compute working days between two dates as a difference
of two lookups instead of counting rows for every work order.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import sys
from pathlib import Path

import chinese_calendar

FIRST_DATE = dt.date(2021, 1, 1)
LAST_DATE = dt.date(2027, 12, 31)
CSV_PATH = Path(__file__).resolve().parents[1] / "seeds" / "ref_workday_calendar.csv"

HOLIDAY_NAMES_ZH = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}

COLUMNS = [
    "calendar_date",
    "iso_weekday",
    "is_weekend",
    "is_workday",
    "is_holiday",
    "holiday_name_en",
    "holiday_name_zh",
    "is_makeup_workday",
    "is_estimated",
    "workday_seq",
    "calendar_source",
]


def _bool(value: bool) -> str:
    return "true" if value else "false"


def package_version() -> str:
    try:
        from importlib.metadata import version

        return version("chinesecalendar")
    except Exception:  # noqa: BLE001 - the version is informative only
        return getattr(chinese_calendar, "__version__", "unknown")


def day_row(day: dt.date, source: str) -> dict[str, str]:
    """One calendar row. Holiday names are those of the statutory holiday period the day belongs
    to; for a make-up working day, the holiday whose bridge it pays for."""
    is_weekend = day.isoweekday() >= 6
    try:
        is_workday = chinese_calendar.is_workday(day)
        _, holiday_name = chinese_calendar.get_holiday_detail(day)
        estimated = False
    except NotImplementedError:
        # The package has no notice for this year yet: weekday rule, flagged as an estimate.
        is_workday = not is_weekend
        holiday_name = None
        estimated = True
    is_holiday = (not is_workday) and holiday_name is not None
    is_makeup = is_workday and is_weekend
    return {
        "calendar_date": day.isoformat(),
        "iso_weekday": str(day.isoweekday()),
        "is_weekend": _bool(is_weekend),
        "is_workday": _bool(is_workday),
        "is_holiday": _bool(is_holiday),
        "holiday_name_en": holiday_name or "",
        "holiday_name_zh": HOLIDAY_NAMES_ZH.get(holiday_name, holiday_name or "") if holiday_name else "",
        "is_makeup_workday": _bool(is_makeup),
        "is_estimated": _bool(estimated),
        "workday_seq": "",
        "calendar_source": "weekday_rule_estimate" if estimated else source,
    }


def build_rows(first: dt.date = FIRST_DATE, last: dt.date = LAST_DATE) -> list[dict[str, str]]:
    source = f"chinese-calendar {package_version()}"
    rows = []
    seq = 0
    day = first
    while day <= last:
        row = day_row(day, source)
        if row["is_workday"] == "true":
            seq += 1
        row["workday_seq"] = str(seq)
        rows.append(row)
        day += dt.timedelta(days=1)
    return rows


def render(rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="compare the CSV with the package, write nothing"
    )
    parser.add_argument("--path", type=Path, default=CSV_PATH)
    args = parser.parse_args(argv)

    expected = render(build_rows())
    if args.check:
        actual = args.path.read_text(encoding="utf-8") if args.path.exists() else ""
        if actual == expected:
            print(f"{args.path}: up to date")
            return 0
        exp_lines, act_lines = expected.splitlines(), actual.splitlines()
        diffs = [(i, e, a) for i, (e, a) in enumerate(zip(exp_lines, act_lines, strict=False)) if e != a]
        print(
            f"{args.path}: differs from chinese-calendar ({len(diffs)} changed lines, "
            f"{len(exp_lines)} expected vs {len(act_lines)} present)",
            file=sys.stderr,
        )
        for i, e, a in diffs[:10]:
            print(f"  line {i + 1}:\n    expected {e}\n    present  {a}", file=sys.stderr)
        print("  rerun without --check to regenerate", file=sys.stderr)
        return 1
    args.path.write_text(expected, encoding="utf-8")
    print(f"wrote {args.path} ({expected.count(chr(10)) - 1} days)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
