"""Unit tests of the reconciliation's own computation (source_counts.py) on hand-made records, for the
branches the simulated window rarely or never reaches (vetoes, caps, score bands, reopened cycles).
No database, no pipeline."""

from __future__ import annotations

from datetime import date

import pytest
from source_counts import (
    Count,
    add_months,
    classify,
    credit_grades,
    credit_scheme,
    order_facts,
)

D = date(2023, 1, 31)


def _credit(n: int, event_type: str, event_date: str = "2023-01-10", **fields) -> dict:
    return {"credit_event_id": f"XY{n:08d}TST0001", "enterprise_uscc": fields.pop("uscc", "E1"),
            "event_type": event_type, "event_date": event_date, "result": None, "score": None,
            "is_veto": False, "related_order_id": None, "description": "", **fields}


@pytest.mark.parametrize(("record", "rule"), [
    (_credit(1, "RANDOM_INSPECTION", result="责令整改", description="消防通道"), "inspection_rectification"),
    (_credit(2, "PENALTY", result="罚款", description="挪用维修资金", is_veto=True), "maintenance_fund_misuse"),
    (_credit(3, "PENALTY", result="罚款", description="挪用维修资金"), "penalty_fine"),  # no veto flag
    (_credit(4, "AWARD", description="六安市示范企业"), "award_city"),
    (_credit(5, "AWARD", description="先进单位"), "award_county"),
    (_credit(6, "THIRD_PARTY_EVALUATION", score=90), "third_party_eval_excellent"),
    (_credit(7, "THIRD_PARTY_EVALUATION", score=89.5), "third_party_eval_pass"),
    (_credit(8, "THIRD_PARTY_EVALUATION", result="不合格", score=95), "third_party_eval_fail"),  # text beats score
    (_credit(9, "SATISFACTION_SURVEY", score=69.9), "owner_survey_low"),
])
def test_classify(record, rule):
    assert classify(record, credit_scheme(D))["event_type"] == rule


def test_add_months_clamps_like_an_interval():
    assert add_months(date(2022, 2, 28), 12) == date(2023, 2, 28)
    assert add_months(date(2022, 1, 31), 1) == date(2022, 2, 28)
    assert add_months(date(2023, 3, 31), 11) == date(2024, 2, 29)


def test_complaints_capped_and_counted_once_per_order():
    records = [_credit(n, "COMPLAINT_VERIFIED", related_order_id=f"O{n}") for n in range(8)]
    records.append(_credit(99, "COMPLAINT_VERIFIED", related_order_id="O0"))  # same order again
    records.append(_credit(100, "PENALTY", result="罚款", description="违规收费"))  # 10 points, not capped
    grades = credit_grades(records, D, ["E1", "E2"])
    # 80 - min(8 orders × 2, 10) - 10 = 60: B; an enterprise without records keeps the base 80: AA
    assert grades == {"E1": "B", "E2": "AA"}
    records.append(_credit(101, "PENALTY", result="警告", description="违规收费"))
    assert credit_grades(records, D, ["E1"]) == {"E1": "C"}  # 55


def test_validity_and_veto():
    fund = _credit(1, "PENALTY", result="罚款", description="挪用维修资金", is_veto=True, event_date="2022-01-31")
    assert credit_grades([fund], date(2023, 1, 30), ["E1"]) == {"E1": "C"}
    assert credit_grades([fund], D, ["E1"]) == {"E1": "AA"}  # valid until 2023-01-31 exclusive: base 80
    flagged = _credit(2, "PENALTY", result="警告", description="违规收费", is_veto=True)  # the record's own flag
    assert credit_grades([flagged], D, ["E1"]) == {"E1": "C"}
    later = _credit(3, "PENALTY", result="警告", description="违规收费", is_veto=True, event_date="2023-02-01")
    assert credit_grades([later], D, ["E1"]) == {"E1": "AA"}  # placed by its event date, after D


def test_value_rounds_half_up():
    assert str(Count(131, 140).value) == "93.6"
    assert str(Count(1, 16).value) == "6.3"  # 6.25: half up, not to even
    assert Count(0, 0).value is None and Count(7).value == 7


def _event(seq: int, kind: str, due: str | None = None, at: str = "2023-01-05T10:00:00+08:00", **fields) -> dict:
    return {"order_id": "O1", "event_seq": seq, "event_type": kind, "town_code": "341523100000",
            "received_at": "2023-01-03T09:00:00+08:00", "duplicate_of": None, "event_at": at,
            "due_at": due, "new_due_at": None, "satisfaction": None, **fields}


DUE1, DUE2 = "2023-01-16T17:30:00+08:00", "2023-02-01T17:30:00+08:00"


def test_due_of_the_final_cycle():
    events = [_event(1, "RECEIVED"), _event(2, "DISPATCHED", DUE1),
              _event(3, "EXTENDED", DUE1, new_due_at="2023-01-20T17:30:00+08:00"),
              _event(4, "CLOSED", DUE1, at="2023-01-19T10:00:00+08:00"),
              _event(5, "VISITED", DUE1, satisfaction="不满意", at="2023-01-21T10:00:00+08:00"),
              _event(6, "REOPENED", DUE2), _event(7, "DISPATCHED", DUE2),
              _event(8, "VISITED", DUE2, satisfaction="未评价", at="2023-02-03T10:00:00+08:00")]
    order = order_facts(events)
    # the extension of the first cycle no longer holds; its closure is not the final one
    assert order.due.isoformat() == DUE2 and order.closed is None
    assert order.visit == (date(2023, 1, 21), "不满意")  # the last valid answer, in the month of that visit
    extended = order_facts(events[:7] + [_event(8, "EXTENDED", DUE2, new_due_at="2023-02-08T17:30:00+08:00"),
                                         _event(9, "CLOSED", DUE2, at="2023-02-07T10:00:00+08:00")])
    assert extended.due.isoformat() == "2023-02-08T17:30:00+08:00" and extended.closed <= extended.due


def test_handling_after_the_closure_is_a_reopening_still_to_arrive():
    """TS_AS 口径: a dispatch (or another handling event) after the last closure means the order is being
    handled again, although its 重办 record, entered days late, has not arrived; a visit does not."""
    first_cycle = [_event(1, "RECEIVED"), _event(2, "DISPATCHED", DUE1),
                   _event(3, "CLOSED", DUE1, at="2023-01-10T10:00:00+08:00"),
                   _event(4, "VISITED", DUE1, satisfaction="不满意", at="2023-01-12T10:00:00+08:00")]
    assert order_facts(first_cycle).closed is not None  # the visit after the closure leaves it closed
    again = order_facts(first_cycle + [_event(6, "DISPATCHED", DUE2), _event(7, "ESCALATED", DUE2)])
    assert again.closed is None and again.due.isoformat() == DUE2


def test_dispatched_order_without_due_fails_clearly():
    with pytest.raises(AssertionError, match="SLA table"):
        order_facts([_event(1, "RECEIVED"), _event(2, "DISPATCHED")])
    assert order_facts([_event(1, "RECEIVED")]).due is None  # not dispatched yet: nothing due
