"""A refusal is a decision, not a glitch: a blocked source batch (gate), a blocked candidate (audit) and
a refused publication fail their task at once (AirflowFailException: no retry), with the refusal's
message; any other error (a lost connection) stays as it is, so the task retries."""

from __future__ import annotations

from datetime import date
from unittest import mock

import psycopg
import pytest
import shumei.build
from airflow.sdk.exceptions import AirflowFailException
from shumei.build import GateBlocked
from shumei.publish import PublicationRefused
from shumei.settings import REPO_ROOT

GATE_RESULT = {"as_of_date": "2024-03-01", "checked": []}
FAILED_AUDIT = {"target": "candidate", "passed": False, "summary": {}, "candidate_checksum": None}


@pytest.fixture(scope="module")
def dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags" / "build_and_publish.py"))
    assert bag.import_errors == {}
    return bag.dags["build_and_publish"]


def _run(dag, task_id: str):
    """The task's own code, called as the task runner calls it."""
    fn = dag.get_task(task_id).python_callable
    if task_id == "publish":
        return fn(FAILED_AUDIT, GATE_RESULT, run_id="r1")
    return fn(run_id="r1")


BLOCKED = ("source batches blocked by the quality gate:\nhotline_events batch 7:\nBLOCKED: hotline_events "
           "batch 7, suite s, 30 expectations, 1 blocking failed, 0 warnings (run x)\n"
           "  BLOCKING volume (expect_table_row_count_to_be_between): observed 3")


def test_gate_refusal_fails_at_once_with_its_message(dag, monkeypatch):
    def blocked(run_id, expected=None):
        raise GateBlocked(BLOCKED)

    monkeypatch.setattr(shumei.build, "gate_new_batches", blocked)
    with pytest.raises(AirflowFailException) as caught:
        _run(dag, "gate_sources")
    assert BLOCKED in str(caught.value)
    assert isinstance(caught.value.__cause__, GateBlocked)


def test_audit_refusal_fails_at_once_with_its_message(dag, monkeypatch):
    message = "candidate indicator tables blocked; the last publication is unchanged:\nBLOCKED: candidate"

    def blocked(run_id):
        raise GateBlocked(message)

    monkeypatch.setattr(shumei.build, "audit_candidate", blocked)
    with pytest.raises(AirflowFailException, match="the last publication is unchanged") as caught:
        _run(dag, "audit")
    assert message in str(caught.value)


def test_publication_refused_fails_at_once_with_its_message(dag, monkeypatch):
    # the real publish_release and publish(): an audit that did not pass is refused before the
    # connection is used (a stand-in connection, so no database is needed)
    monkeypatch.setattr(shumei.build.psycopg, "connect", mock.MagicMock())
    with pytest.raises(AirflowFailException, match="the audit did not pass") as caught:
        _run(dag, "publish")
    assert isinstance(caught.value.__cause__, PublicationRefused)
    assert str(caught.value.__cause__) in str(caught.value)


@pytest.mark.parametrize(("task_id", "function"), [("gate_sources", "gate_new_batches"),
                                                    ("audit", "audit_candidate"),
                                                    ("publish", "publish_release")])
def test_transient_errors_are_left_to_retry(dag, monkeypatch, task_id, function):
    def down(*args, **kwargs):
        raise psycopg.OperationalError("connection to server at 127.0.0.1 port 5432 failed: Connection refused")

    monkeypatch.setattr(shumei.build, function, down)
    with pytest.raises(psycopg.OperationalError, match="Connection refused") as caught:
        _run(dag, task_id)
    assert not isinstance(caught.value, AirflowFailException)
    assert dag.get_task(task_id).retries >= 1


def test_gate_still_passes_its_report_on(dag, monkeypatch):
    monkeypatch.setattr(shumei.build, "gate_new_batches",
                        lambda run_id, expected: shumei.build.GateReport(["ok"], date(2024, 3, 1), "digest", expected))
    assert _run(dag, "gate_sources") == {"as_of_date": "2024-03-01", "checked": ["ok"], "expected_day": None,
                                            "inputs_digest": "digest"}
    # the day the run expects data for comes from its data interval (a `make run` for 2024-03-05)
    import pendulum

    fn = dag.get_task("gate_sources").python_callable
    assert fn(run_id="r1", data_interval_end=pendulum.datetime(2024, 3, 6, 2, tz="Asia/Shanghai"))["expected_day"] \
        == "2024-03-05"


def test_nothing_new_skips_unless_a_rebuild_is_asked_for(dag, monkeypatch):
    """anything_new: the last complete run had these inputs -> skip (False); the DAG param `rebuild`
    (a data engineer's or the Cosmos benchmark's `-c '{"rebuild": true}'`) builds all the same."""
    seen = []
    monkeypatch.setattr(shumei.build, "last_build_with", lambda digest: seen.append(digest) or "release 3 stays")
    fn = dag.get_task("anything_new").python_callable
    assert fn({"inputs_digest": "d1"}, params={"rebuild": False}) is False
    assert fn({"inputs_digest": "d1"}, params={"rebuild": True}) is True
    assert seen == ["d1"]
    assert dag.params["rebuild"] is False
    monkeypatch.setattr(shumei.build, "last_build_with", lambda digest: None)
    assert fn({"inputs_digest": "d2"}, params={"rebuild": False}) is True


@pytest.fixture(scope="module")
def ingest_dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags" / "ingest_registry.py"))
    assert bag.import_errors == {}
    return bag.dags["ingest_registry"]


def _load(ingest_dag):
    import pendulum

    fn = ingest_dag.get_task("load").python_callable
    start = pendulum.datetime(2024, 3, 1, 2, tz="Asia/Shanghai")
    return fn(data_interval_start=start, data_interval_end=start.add(days=1), params={}, run_id="r1")


def test_a_batch_refused_at_the_door_fails_at_once(ingest_dag, monkeypatch):
    """issue 11 item 6: a BatchStructureError (wrong columns, encoding, manifest) is deterministic."""
    import shumei.ingest.jobs
    from shumei.ingest.loader import BatchStructureError

    message = "/drops/2024-03-01/舒城县物业管理台账_20240301.xlsx: sha256 ab does not match the manifest (cd)"

    def refused(*args, **kwargs):
        raise BatchStructureError(message)

    monkeypatch.setattr(shumei.ingest.jobs, "load_range", refused)
    with pytest.raises(AirflowFailException) as caught:
        _load(ingest_dag)
    assert message in str(caught.value) and isinstance(caught.value.__cause__, BatchStructureError)


def test_a_missing_drop_or_a_lost_connection_is_retried(ingest_dag, monkeypatch):
    import shumei.ingest.jobs
    from shumei.sources.files import DropMissing

    for error in (DropMissing("no drop for 2024-03-01"), psycopg.OperationalError("Connection refused")):
        def down(*args, error=error, **kwargs):
            raise error

        monkeypatch.setattr(shumei.ingest.jobs, "load_range", down)
        with pytest.raises(type(error)):
            _load(ingest_dag)
    assert ingest_dag.get_task("load").retries >= 1


def _dbt_result(*nodes: tuple[str, str, str]):
    """A stand-in for the dbtRunnerResult's runner returns it: (resource type, name, status) per node."""
    from types import SimpleNamespace as NS

    results = [NS(status=status, message="Got 3 results, configured to fail" if status == "fail" else "boom",
                  node=NS(resource_type=kind, name=name)) for kind, name, status in nodes]
    return NS(success=all(r.status in ("success", "pass", "warn", "skipped") for r in results),
              exception=None, result=NS(results=results))


@pytest.mark.parametrize("task_id", ["dbt.indicator_values_model_build",
                                     "dbt.assert_indicator_numerator_le_denominator_test"])
def test_failed_dbt_tests_fail_at_once_a_dbt_error_is_retried(dag, task_id):
    """issue 14: retries on models, none on tests. The dbt tasks of the DAG (a model built with its
    tests, the tests on several models) judge dbt's result as Cosmos hands it to them."""
    from cosmos.dbt.runner import CosmosDbtRunError

    task = dag.get_task(task_id)
    assert task.retries >= 1
    handle = task.handle_exception
    handle(_dbt_result(("model", "m", "success"), ("test", "t", "pass"), ("test", "w", "warn")))
    with pytest.raises(AirflowFailException, match=r"not_negative: Got 3 results, configured to fail"):
        handle(_dbt_result(("model", "m", "success"), ("test", "not_negative", "fail")))
    for wrong in [(("model", "m", "error"),),  # a model that errored (a lost connection, a lock timeout)
                  (("test", "t", "error"),),  # a test that could not run
                  (("model", "m", "error"), ("test", "t", "fail"))]:
        with pytest.raises(CosmosDbtRunError) as caught:
            handle(_dbt_result(*wrong))
        assert not isinstance(caught.value, AirflowFailException)
