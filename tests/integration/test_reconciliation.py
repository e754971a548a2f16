"""Source-to-publication reconciliation: the published numerators, denominators and values of the first
release equal counts computed straight from the simulator's output (source_counts.py, which shares
nothing with the pipeline), for the county and every town either side has, at the month ends
2022-12-31, 2023-01-31, 2023-02-28 (stocks) and over the months 2022-12, 2023-01, 2023-02 (flows).

The sources are exactly those release 1 was built from (conftest.py's `first_release`, as of LAST =
2023-03-12): the registry snapshot delivered for each month-end day, the credit files of the days
FIRST .. LAST and the hotline events recorded (updated_at, Asia/Shanghai) on FIRST .. LAST. The later
spoiled day 2023-03-13 of test_pipeline.py is never read. Published values are read as the statistics
office reads them (its reader role) from `published.v_indicator_latest`, plain figures only
(breakdown_type 'total').

Every mismatch is reported at once (indicator, area, period, ours vs published).
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal

import psycopg
import pytest
from pipeline_run import COUNTY, FIRST, LAST
from source_counts import Count, Key, month_start, source_observations

pytestmark = pytest.mark.integration

STOCKS = ("WY_FG", "YWH_FG", "DZB_ZJ", "QYDZZ_ZJ", "XY_C")
FLOWS = ("TS_SL", "TS_AS", "TS_MY")
COUNTS = ("TS_SL",)  # count indicators: value = numerator, no denominator
MONTH_ENDS = (date(2022, 12, 31), date(2023, 1, 31), date(2023, 2, 28))
MONTHS = tuple(month_start(d) for d in MONTH_ENDS)

Published = tuple[Decimal | None, Decimal | None, Decimal | None]  # numerator, denominator, value


def published_values(url: str, indicators: tuple[str, ...], period_starts: tuple[date, ...]) -> dict[Key, Published]:
    """The latest published plain figures (breakdown 'total') of the county and the towns, by month."""
    with psycopg.connect(url) as conn:
        rows = conn.execute("""
            select indicator_code, area_code, period_start, period_end, numerator, denominator, value
            from published.v_indicator_latest
            where breakdown_type = 'total'
              and period_type = 'month'
              and area_level in ('county', 'town')
              and indicator_code = any(%s)
              and period_start = any(%s)""", (list(indicators), list(period_starts))).fetchall()
    out = {}
    for indicator, area, start, end, numerator, denominator, value in rows:
        key = (indicator, area, start, end)
        assert key not in out, f"published twice: {key}"
        out[key] = (numerator, denominator, value)
    return out


@pytest.fixture(scope="module")
def ours(drops) -> dict[Key, Count]:
    return source_observations(drops, FIRST, LAST, MONTH_ENDS, MONTHS)


@pytest.fixture(scope="module")
def theirs(first_release, test_env) -> dict[Key, Published]:
    return published_values(test_env["SHUMEI_STATS_URL"], STOCKS + FLOWS, MONTHS)


def _label(key: Key) -> str:
    indicator, area, start, end = key
    period = end.isoformat() if indicator in STOCKS else f"{start:%Y-%m}"
    return f"{indicator} {area} {period}"


def _show(numerator, denominator, value) -> str:
    return f"{numerator} (value {value})" if denominator is None else f"{numerator}/{denominator} = {value}"


def test_source_computation_is_not_trivial(ours):
    """Every indicator has a county observation for every period, over a population that is not empty."""
    for indicator in STOCKS + FLOWS:
        for start, end in zip(MONTHS, MONTH_ENDS, strict=True):
            count = ours.get((indicator, COUNTY, start, end))
            assert count is not None, f"no source count for {indicator} {start:%Y-%m}"
            size = count.numerator if indicator in COUNTS else count.denominator
            assert size > 0, f"{indicator} {start:%Y-%m}: nothing to count in the sources"
    towns = {area for _, area, _, _ in ours if area != COUNTY}
    assert len(towns) >= 2 and all(len(t) == 12 and t.endswith("000") for t in towns), towns


def test_published_figures_equal_source_counts(ours, theirs):
    mismatches = []
    for key in sorted(set(ours) | set(theirs)):
        indicator = key[0]
        mine = ours.get(key, Count(0, None if indicator in COUNTS else 0))
        expected = (mine.numerator, mine.denominator, mine.value)
        published = theirs.get(key)
        if published is None:
            mismatches.append((key, f"ours {_show(*expected)}, not published"))
        elif published != expected:
            only_value = published[:2] == expected[:2]
            mismatches.append((key, f"ours {_show(*expected)}, published {_show(*published)}"
                                    + (" (value only)" if only_value else "")))
    per_indicator = Counter(key[0] for key, _ in mismatches)
    assert not mismatches, (
        f"{len(mismatches)} of {len(set(ours) | set(theirs))} published figures differ from the sources "
        f"(per indicator: {dict(sorted(per_indicator.items()))}):\n"
        + "\n".join(f"  {_label(key)}: {text}" for key, text in mismatches))


def test_baseline_property_coverage(ours, theirs):
    key = ("WY_FG", COUNTY, date(2022, 12, 1), date(2022, 12, 31))
    assert (ours[key].numerator, ours[key].denominator, ours[key].value) == (131, 140, Decimal("93.6"))
    assert theirs.get(key) == (131, 140, Decimal("93.6")), theirs.get(key)
