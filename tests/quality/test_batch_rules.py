"""The batch rules of the source batches (expectations/source_batch.yml) over a real raw layer: 40 days
of three feeds in raw.batch_log, one day spoiled the way an attack would spoil it. The spoiled day
is in the history (not the newest batch), and the whole history is validated in one gate run."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from shumei.ingest.contracts import get_contract
from shumei.quality import validate_batches

from .conftest import DAYS, FEEDS, FIRST, SPOILED, spoil

pytestmark = pytest.mark.integration

def blocked(result) -> dict[str, list[tuple[str, str]]]:
    """{check: [(feed, day)]} of the blocking failures."""
    return {o.check: [(r["feed"], r["day"]) for r in o.details["rows"]] for o in result.failures}


def test_clean_history_passes_once_and_is_not_validated_again(raw, warehouse_url):
    first = validate_batches(warehouse_url, dag_run_id="first", build_docs=False)
    assert first.passed and not first.warnings, first.summary()
    assert first.batches == DAYS * len(FEEDS)
    assert {o.check for o in first.outcomes} == {"volume_vs_trailing_days", "reject_share",
                                                 "snapshot_drop_vs_previous_day", "reference_coverage", "freshness"}
    stored = raw.execute("select count(*), count(*) filter (where passed) from audit.batch_validations").fetchone()
    assert stored == (DAYS * len(FEEDS), DAYS * len(FEEDS))
    again = validate_batches(warehouse_url, dag_run_id="second", build_docs=False)
    assert again.passed and again.batches == len(FEEDS)  # only each feed's newest, for its freshness


@pytest.mark.parametrize("attack, expected", [
    # issue 11: a registry sheet with all 32 enterprises rejected passed with a warning
    ("all_enterprises_rejected", ("reject_share", "registry_enterprises")),
    ("snapshot_drops_30_percent", ("snapshot_drop_vs_previous_day", "registry_compounds")),
    ("half_the_hotline_volume", ("volume_vs_trailing_days", "hotline_events")),
])
def test_a_spoiled_day_in_the_history_is_blocked(raw, warehouse_url, attack, expected):
    if attack == "all_enterprises_rejected":
        spoil(raw, "registry_enterprises", SPOILED, 32, rejected=32)
    elif attack == "snapshot_drops_30_percent":
        spoil(raw, "registry_compounds", SPOILED, 98)
    else:
        spoil(raw, "hotline_events", SPOILED, 100)
    result = validate_batches(warehouse_url, dag_run_id=attack, build_docs=False)
    assert not result.passed
    check, feed = expected
    assert blocked(result) == {check: [(feed, SPOILED.isoformat())]}, result.summary()
    assert check in result.summary() and SPOILED.isoformat() in result.summary()
    assert raw.execute("select feed, interval_start, failed_blocking from audit.batch_validations"
                       " where not passed").fetchall() == [(feed, SPOILED, [check])]
    # validated once, but a blocked batch stays blocked on the next run ...
    assert not validate_batches(warehouse_url, build_docs=False).passed
    # ... until a rerun of its day supersedes it
    spoil(raw, feed, SPOILED, FEEDS[feed])
    assert validate_batches(warehouse_url, build_docs=False).passed


def test_reject_share_is_the_contracts(raw, warehouse_url):
    """max_reject_share 0.05 (the registry contracts): 1 of 32 rejected (3.1 %) passes, 2 (6.3 %) blocks."""
    assert get_contract("registry_enterprises").max_reject_share == 0.05
    spoil(raw, "registry_enterprises", SPOILED, 32, rejected=1)
    assert validate_batches(warehouse_url, build_docs=False).passed
    spoil(raw, "registry_enterprises", SPOILED + timedelta(days=1), 32, rejected=2)
    assert blocked(validate_batches(warehouse_url, build_docs=False)) == {
        "reject_share": [("registry_enterprises", (SPOILED + timedelta(days=1)).isoformat())]}


def test_unresolved_references_are_blocked(raw, warehouse_url):
    """A hotline day where 20 of 200 orders name a compound the registry does not know (the loader
    rejected them: unknown_reference): 90 % of its references resolve, under the 95 % floor."""
    batch = spoil(raw, "hotline_events", SPOILED, 200, rejected=20)
    raw.execute("insert into raw.hotline_events (_batch_id, _interval_start, _row_number, compound_id)"
                " select %s, %s, g, 'XQ0001' from generate_series(1, 180) g", (batch, SPOILED))
    raw.execute("insert into raw.rejects (batch_id, feed, row_number, reason_code, reason_field, record)"
                " select %s, 'hotline_events', 180 + g, 'unknown_reference', 'compound_id', %s::jsonb"
                " from generate_series(1, 20) g", (batch, json.dumps({"compound_id": "XQ9999"})))
    result = validate_batches(warehouse_url, build_docs=False)
    assert blocked(result) == {"reference_coverage": [("hotline_events", SPOILED.isoformat())]}, result.summary()
    coverage = next(o for o in result.failures if o.check == "reference_coverage")
    assert coverage.details["rows"][0]["observed"] == pytest.approx(0.9)


def test_a_stale_feed_is_blocked(raw, warehouse_url):
    """The registry stopped delivering 5 days before the other feeds' last day."""
    raw.execute("delete from raw.batch_log where feed like 'registry%%' and interval_start > %s",
                (FIRST + timedelta(days=DAYS - 6),))
    result = validate_batches(warehouse_url, build_docs=False)
    stale = (FIRST + timedelta(days=DAYS - 6)).isoformat()
    assert blocked(result) == {"freshness": [("registry_compounds", stale), ("registry_enterprises", stale)]}


def test_one_bad_day_in_a_history_of_clean_ones_is_found_on_the_first_run(raw, warehouse_url):
    """The history's first gate run validates every batch, not only each feed's newest."""
    spoil(raw, "registry_compounds", FIRST + timedelta(days=10), 98)
    result = validate_batches(warehouse_url, build_docs=False)
    assert result.batches == DAYS * len(FEEDS)
    assert blocked(result) == {"snapshot_drop_vs_previous_day": [
        ("registry_compounds", (FIRST + timedelta(days=10)).isoformat())]}
