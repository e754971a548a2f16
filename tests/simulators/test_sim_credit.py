"""Credit records graded under the warehouse's default scheme (DOMAIN §5, §8; dbt_project/seeds/ref_credit_*).

The scorer is `shumei_sim.calibration.credit_scores`, a small recomputation from the generated files
and the reference seeds that shares nothing with the dbt models.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from shumei_sim import calibration
from shumei_sim.generate import generate
from sim_setup import SEED

D = dt.date
U1, U2 = "91341523MA2TEST001", "91341523MA2TEST002"


@pytest.fixture(scope="module")
def scheme() -> dict:
    return calibration.credit_scheme()


@pytest.fixture(scope="module")
def credit_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("credit")
    generate(out, D(2025, 12, 31), D(2023, 1, 1), SEED, "county", {"credit"}, "xlsx", progress=lambda m: None)
    return out / "credit"


def _rec(uscc, kind, when, **kw) -> dict:
    base = {"enterprise_uscc": uscc, "event_type": kind, "event_date": when, "result": None, "score": None,
            "is_veto": False, "related_order_id": None, "description": ""}
    return {**base, **kw}


def test_scorer_caps_complaints_per_order_and_honours_veto(scheme):
    at = D(2024, 12, 31)
    cpl = [_rec(U1, "COMPLAINT_VERIFIED", f"2024-0{m}-10", related_order_id=f"RX2024010{m}00001", result="投诉查实")
           for m in range(1, 8)]
    cpl.append(dict(cpl[0]))  # the same work order twice counts once
    recs = [*cpl,
            _rec(U1, "PENALTY", "2024-03-01", result="罚款", description="未按规定公示收费项目"),  # -10
            _rec(U1, "RANDOM_INSPECTION", "2023-12-30", result="不合格", description=""),  # expired at the month end
            _rec(U1, "PARTY_ANNUAL_EVALUATION", "2024-12-20", result="好", description=""),  # +5
            _rec(U1, "AWARD", "2025-01-05", result="通报表扬", description=""),  # after the month end
            _rec(U2, "PENALTY", "2024-06-01", result="罚款并责令退还", description="挪用专项维修资金", is_veto=True),
            *[_rec(U2, "AWARD", f"2024-0{m}-01", result="通报表扬", description="") for m in range(1, 10)]]
    got = calibration.credit_scores(recs, [U1, U2, "91341523MA2TEST003"], at, scheme)
    assert got[U1] == (80 + 5 - 10 - 10, "B")  # 7 orders x 2 points capped at 10
    assert got[U2] == (80 + 27 - 40, "C")  # the veto item forces C whatever the score
    assert got["91341523MA2TEST003"] == (80, "AA")
    heavy = [_rec(U1, "PENALTY", f"2024-0{m}-01", result="罚款", description="") for m in range(1, 10)]
    assert calibration.credit_scores(heavy, [U1], at, scheme)[U1] == (0, "C")  # never below 0


def test_every_generated_record_is_classified(credit_dir, scheme):
    recs = calibration.credit_records(credit_dir)
    assert len(recs) > 500
    unmapped = [r for r in recs if calibration.classify(r, scheme) is None]
    assert unmapped == []
    kinds = {calibration.classify(r, scheme)["event_type"] for r in recs}
    assert {"penalty_warning", "penalty_fine", "complaint_substantiated", "party_eval_excellent"} <= kinds


@pytest.mark.slow
def test_grades_a_county_would_recognise(credit_dir):
    for row in calibration.credit_distribution(credit_dir, seed=SEED):
        where = row["date"]
        assert 25 <= row["enterprises"] <= 35, where
        assert 0.70 <= row["a_or_above"] <= 0.87, row
        assert 1 <= row["B"] <= 6, row
        assert 1 <= row["C"] <= 2, row
        assert row["AAA"] >= 2, row
        assert 72 <= row["mean"] <= 85, row
