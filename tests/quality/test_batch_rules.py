"""The batch rules of the source batches (expectations/source_batch.yml) over a real raw layer: 40 days
of three feeds in raw.batch_log, one day spoiled the way an attack would spoil it. The spoiled day
is in the history (not the newest batch), and the whole history is validated in one gate run."""

from __future__ import annotations

import http.server
import json
import threading
from datetime import timedelta

import pytest
from shumei.ingest.contracts import get_contract
from shumei.quality import validate_batches

from .conftest import DAYS, FEEDS, FIRST, SPOILED, add_batch, spoil

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


def test_a_campaign_feed_has_no_volume_verdict(raw, warehouse_url):
    """Found at province scale: the credit records come in campaigns (third-party evaluations in
    November), and the first days of December, 14 records against a trailing median of 37, blocked the
    build with nothing missing. credit_events says `volume: campaigns` in its contract: no volume
    verdict; in the same run the same fall on a steady feed (hotline_events) still blocks."""
    assert get_contract("credit_events").volume == "campaigns" and get_contract("hotline_events").volume == "steady"
    for i in range(DAYS):
        day = FIRST + timedelta(days=i)
        add_batch(raw, "credit_events", day, 60 if day < SPOILED else 14)
    spoil(raw, "hotline_events", SPOILED, round(200 * 14 / 60))
    result = validate_batches(warehouse_url, build_docs=False)
    assert blocked(result) == {"volume_vs_trailing_days": [("hotline_events", SPOILED.isoformat())]}, result.summary()
    assert not [w for w in warned(result, "volume_vs_trailing_days") if w[0] == "credit_events"]
    verdicts = raw.execute("""select count(*), count(*) filter (where passed) from audit.batch_validations
                              where feed = 'credit_events'""").fetchone()
    assert verdicts == (DAYS, DAYS)


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


def warned(result, check: str = "freshness") -> list[tuple[str, str, float]]:
    """[(feed, day, observed)] of a check's warnings."""
    return sorted((r["feed"], r["day"], r["observed"]) for o in result.warnings if o.check == check
                  for r in o.details["rows"])


def test_a_stale_feed_is_warned_not_blocked(raw, warehouse_url):
    """The registry stopped delivering 5 days before the other feeds' last day: the release waits at
    the registry's last day (the as-of date), so no figure is wrong; the gate warns, it does not block."""
    raw.execute("delete from raw.batch_log where feed like 'registry%%' and interval_start > %s",
                (FIRST + timedelta(days=DAYS - 6),))
    result = validate_batches(warehouse_url, build_docs=False)
    stale = (FIRST + timedelta(days=DAYS - 6)).isoformat()
    assert result.passed and not result.failures, result.summary()
    assert warned(result) == [("registry_compounds", stale, 5), ("registry_enterprises", stale, 5)]


LAST = FIRST + timedelta(days=DAYS - 1)


def test_every_feed_stopping_at_once_is_stale_against_the_expected_day(raw, warehouse_url, tmp_path, monkeypatch):
    """The attack: every feed stops 4 days before the day the run expects data for. Against each other the
    feeds are all fresh (none lags the freshest); against the run's day each lags 4 days: a warning and
    an alert, no block (the release is as of the last complete day)."""
    from shumei.quality import send_rule_alerts
    from shumei.settings import get_settings

    stopped = LAST - timedelta(days=4)
    raw.execute("delete from raw.batch_log where interval_start > %s", (stopped,))
    assert validate_batches(warehouse_url, build_docs=False).success  # the rule as it was: nothing stale
    result = validate_batches(warehouse_url, build_docs=False, expected_day=LAST)
    assert result.passed, result.summary()
    assert warned(result) == [(feed, stopped.isoformat(), 4) for feed in sorted(FEEDS)]
    assert "freshness" in result.summary() and stopped.isoformat() in result.summary()

    posted: list[dict] = []

    class Webhook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (the stdlib's name)
            posted.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("SHUMEI_LOCAL_DIR", str(tmp_path / "local"))
    monkeypatch.setenv("SHUMEI_ALERT_WEBHOOK", f"http://127.0.0.1:{server.server_port}/alerts")
    get_settings.cache_clear()
    try:
        records = send_rule_alerts(result, expected_day=LAST)
    finally:
        get_settings.cache_clear()
        server.shutdown()
        server.server_close()
    alerts = [json.loads(line) for line in (tmp_path / "local" / "alerts" / "quality.jsonl").read_text().splitlines()]
    assert alerts == json.loads(json.dumps(records)) == posted and len(alerts) == 1
    assert alerts[0]["check"] == "freshness" and alerts[0]["expected_day"] == LAST.isoformat()
    assert sorted(b["feed"] for b in alerts[0]["batches"]) == sorted(FEEDS)


def test_a_backfill_is_not_stale(raw, warehouse_url):
    """A run for a day of the loaded history (a backfill of 2024, whatever the machine's date) expects
    that day: feeds loaded up to it, or beyond it, are fresh."""
    from shumei.quality import send_rule_alerts

    fresh = validate_batches(warehouse_url, build_docs=False, expected_day=LAST)
    assert fresh.success and send_rule_alerts(fresh, expected_day=LAST) == []  # nothing to tell
    assert validate_batches(warehouse_url, build_docs=False, expected_day=LAST - timedelta(days=10)).success
    # one day late is within freshness_warning_days (1)
    assert validate_batches(warehouse_url, build_docs=False, expected_day=LAST + timedelta(days=1)).success
    assert warned(validate_batches(warehouse_url, build_docs=False, expected_day=LAST + timedelta(days=2)))


def test_one_bad_day_in_a_history_of_clean_ones_is_found_on_the_first_run(raw, warehouse_url):
    """The history's first gate run validates every batch, not only each feed's newest."""
    spoil(raw, "registry_compounds", FIRST + timedelta(days=10), 98)
    result = validate_batches(warehouse_url, build_docs=False)
    assert result.batches == DAYS * len(FEEDS)
    assert blocked(result) == {"snapshot_drop_vs_previous_day": [
        ("registry_compounds", (FIRST + timedelta(days=10)).isoformat())]}
