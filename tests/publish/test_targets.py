"""Targets in the unit of the value, town targets and the baseline as rows, with the figure at the deadline:
"which targets were met" is one query."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest

from .conftest import COUNTY, TOWN1

pytestmark = pytest.mark.integration

TARGETS = f"""
insert into qa_ref.ref_indicator_targets values
 ('WY_FG-2024-05-31', 'WY_FG', '{COUNTY}', '2024-05-31', '>=', 0.9, 'ratio', 'firm', '二、', '九成', 'ninety', '2023-03-06', null,
  90.0, 'percent'),
 ('WY_FG-2024-06-30', 'WY_FG', '{COUNTY}', '2024-06-30', '>=', 0.96, 'ratio', 'firm', '二、', '九六', 'n', '2023-03-06', null,
  96.00, 'percent'),
 ('WY_FG-2024-05-31-{TOWN1}', 'WY_FG', '{TOWN1}', '2024-05-31', '>=', 0.95, 'ratio', 'firm', '二、', '城关', 'n', '2023-03-06',
  null, 95.00, 'percent'),
 ('WY_FG-2024-05-31-BASELINE', 'WY_FG', '{COUNTY}', '2024-05-31', null, 0.936, 'ratio', 'baseline', '二、', '基数', 'n',
  '2023-03-06', null, 93.600, 'percent'),
 ('TS_SL-STANDING', 'TS_SL', '{COUNTY}', null, '>', 40, 'count', 'standing_norm', '三、', '常态', 'n', '2023-03-06', null,
  40, 'count')
"""


def test_which_targets_were_met_is_one_query(wh, release, test_env):
    wh.execute(TARGETS)
    release()
    with psycopg.connect(test_env["SHUMEI_STATS_URL"]) as conn:
        rows = conn.execute("""
            select target_id, area_name_zh, target, unit, period_type, period_start::text, value, target_met
            from published.v_indicator_targets order by target_id""").fetchall()
    assert rows == [
        ("TS_SL-STANDING", "舒城县", Decimal(40), "count", "month", "2024-06-01", Decimal(45), True),
        ("WY_FG-2023-12-31", "舒城县", Decimal(100), "percent", None, None, None, None),  # no figure at the deadline
        ("WY_FG-2024-05-31", "舒城县", Decimal("90.0"), "percent", "month", "2024-05-01", Decimal("93.6"), True),
        ("WY_FG-2024-05-31-341523100000", "城关镇", Decimal("95.00"), "percent", "month", "2024-05-01", Decimal("95.2"), True),
        # the baseline is a row beside the targets, with the figure at its date and no target_met
        ("WY_FG-2024-05-31-BASELINE", "舒城县", Decimal("93.600"), "percent", "month", "2024-05-01", Decimal("93.6"), None),
        ("WY_FG-2024-06-30", "舒城县", Decimal("96.00"), "percent", "month", "2024-06-01", Decimal("95.7"), False),
    ]
