"""Fixtures of the report tests: small releases built with the publication fixtures
(tests/publish/conftest.py), with a feed log and reference tables of their own in `qa_ref`, so the
release notes can be tested on a constructed second and third release."""

from __future__ import annotations

import pytest
from publish.conftest import _audits, audit, gx_home, release, wh  # noqa: F401  (fixtures)

REFERENCES = "qa_ref"
BATCH_LOG = "qa_feed.batch_log"  # apart from qa_ref: every table there counts as a reference table


@pytest.fixture
def feeds(wh):  # noqa: F811
    """A feed log like raw.batch_log: `load(feed)` records a newer batch of that feed."""
    wh.execute("drop schema if exists qa_feed cascade")
    wh.execute("create schema qa_feed")
    wh.execute(f"create table {BATCH_LOG} (feed text, batch_id bigint generated always as identity)")
    wh.execute("create table qa_ref.ref_workday_calendar (calendar_date date, is_workday boolean)")
    wh.execute("insert into qa_ref.ref_workday_calendar values ('2024-06-03', true)")
    for feed in ("hotline_events", "registry_compounds", "credit_events"):
        wh.execute(f"insert into {BATCH_LOG} (feed) values (%s)", (feed,))

    def load(feed: str) -> None:
        wh.execute(f"insert into {BATCH_LOG} (feed) values (%s)", (feed,))
    return load


@pytest.fixture
def cut(release, feeds):  # noqa: F811
    """Publish the candidate as a release whose inputs are the qa_ref feed log and reference tables."""
    def run(**kwargs):
        return release(references=REFERENCES, batch_log=BATCH_LOG, **kwargs)
    return run
