"""Airflow DAG `build_and_publish`: gate the new source batches, build the warehouse with dbt (one
task per model through astronomer-cosmos, tests after each model), audit the candidate indicator
tables with Great Expectations, and publish a release (write-audit-publish).

Triggered when all three ingest DAGs have updated their raw Assets. Logic: include/shumei/build.py.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior, TestIndirectSelection
from shumei.dag_support import (
    DBT_STATEMENT_TIMEOUT,
    DEFAULT_ARGS,
    PUBLISHED_ASSET,
    RAW_ASSETS,
    notify_failure,
    refusals_fail_at_once,
)
from shumei.dbt_support import dbt_manifest_path, dbt_project_dir, failed_tests_fail_at_once

DOC = """
### Build and publish (数据仓库构建与发布)

1. **gate_sources**: Great Expectations (over SQL) checks the batch rules of every source batch not
   validated yet: volume against the trailing days, reject share, snapshot drop, reference coverage,
   freshness against the other feeds and the day the run expects data for (its data interval, or the
   day its triggering ingest runs loaded; a warning and an alert, never a block). Rows were checked at
   the door. A blocking failure stops the run here.
   **anything_new**: when the last complete run had the same inputs (the loaded batches by content, the
   as-of date, the code: `audit.build_inputs`), every later task is skipped: nothing new to build.
   Trigger with the param `rebuild` true (`airflow dags test build_and_publish <date> -c '{"rebuild": true}'`)
   to build, audit and report all the same (after a change outside the digest, or to time the build).
2. **dbt**: seeds (reference tables), staging views, registry history (SCD2), marts
   (`fct_work_order`, `fct_enterprise_credit`, ...) and the candidate `published_candidate.indicator_values`;
   each model is one task that builds it and then runs its tests (Cosmos `TestBehavior.BUILD`:
   `dbt build` per node, half the tasks of a separate test task per model).
3. **audit**: the GX checkpoint on the candidate (completeness of the grid, no unflagged jump against the
   last release, withdrawn values). Results in `audit.*` and Data Docs.
4. **publish**: one transaction applies the candidate to `published` as a new release and updates the
   `published_indicators` Asset. A run with nothing changed cuts no release and says so.
5. **report**: the statistics office's files of the release (Excel workbook in statistical-report
   layout, release notes, bulletin), read through the read-only role, written under
   `$SHUMEI_REPORTS_DIR/release-<N>/` with their checksums recorded in `published.release_log`; then
   the run's inputs are recorded in `audit.build_inputs`.

A failure anywhere leaves the last publication exactly as it was and calls the failure callback.
A refusal (gate, audit or publication) fails its task at once, without retries: it is a decision
about the data, not a glitch. So does a dbt task whose only failures are tests that found rows; a
model that errored, or a test that could not run, is retried once. Any other error (a lost connection) is retried.
Docs: docs/publication.md, docs/warehouse.md.
"""


@dag(
    dag_id="build_and_publish",
    schedule=[RAW_ASSETS["hotline"], RAW_ASSETS["registry"], RAW_ASSETS["credit"]],
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params={"rebuild": Param(False, type="boolean",
                             description="build, audit and report even if nothing is new (anything_new)")},
    on_failure_callback=notify_failure,
    tags=["shumei", "warehouse", "publish"],
    doc_md=DOC,
)
def build_and_publish():
    @task
    def gate_sources(run_id=None, data_interval_end=None, triggering_asset_events=None) -> dict:
        from shumei.build import expected_day, gate_new_batches

        with refusals_fail_at_once():
            report = gate_new_batches(run_id, expected_day(data_interval_end, triggering_asset_events))
        return {"as_of_date": report.as_of_date.isoformat(), "checked": report.summaries,
                "expected_day": report.expected_day and report.expected_day.isoformat(),
                "inputs_digest": report.inputs_digest}

    @task.short_circuit
    def anything_new(gate_result: dict, params=None) -> bool:
        from shumei.build import last_build_with

        return bool((params or {}).get("rebuild")) or last_build_with(gate_result["inputs_digest"]) is None

    dbt = DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(dbt_project_path=dbt_project_dir(), manifest_path=dbt_manifest_path()),
        profile_config=ProfileConfig(profile_name="shumei", target_name="dev",
                                     profiles_yml_filepath=dbt_project_dir() / "profiles.yml"),
        # a test on several models (towns add up, baseline reproduced) runs as its own task after all
        # of them; `dbt build` of one model then only runs the tests of that model alone
        execution_config=ExecutionConfig(execution_mode=ExecutionMode.LOCAL,
                                         invocation_mode=InvocationMode.DBT_RUNNER,
                                         test_indirect_selection=TestIndirectSelection.CAUTIOUS),
        render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST, test_behavior=TestBehavior.BUILD,
                                   should_detach_multiple_parents_tests=True),
        # the data's as-of date (the last day every source has loaded) makes the build reproducible.
        # Per task, dbt writes no JSON artifacts (manifest.json, run_results.json: about 1 s of each
        # task's 2-3 s, read by nothing here; the verdicts come from dbtRunner's result) and Cosmos
        # emits no per-model Assets (their URIs name the warehouse's host and port; the Asset that
        # matters is the one `publish` emits): bench/results.md, "Cosmos vs bare dbt build"
        operator_args={"vars": {"shumei_as_of_date": "{{ ti.xcom_pull(task_ids='gate_sources')['as_of_date'] }}",
                                "shumei_statement_timeout": DBT_STATEMENT_TIMEOUT},
                       "install_deps": False, "emit_datasets": False, "dbt_cmd_global_flags": ["--no-write-json"]},
        default_args={**DEFAULT_ARGS, "retries": 1},
    )
    failed_tests_fail_at_once(dbt)

    @task
    def audit(run_id=None) -> dict:
        from shumei.build import audit_candidate

        with refusals_fail_at_once():
            return audit_candidate(run_id)

    @task(outlets=[PUBLISHED_ASSET])
    def publish(audit_result: dict, gate_result: dict, run_id=None) -> dict:
        from datetime import date

        from shumei.build import publish_release

        with refusals_fail_at_once():
            return publish_release(audit_result, date.fromisoformat(gate_result["as_of_date"]), run_id)

    @task
    def report(published: dict, gate_result: dict, run_id=None) -> str:
        from datetime import date

        from shumei.build import record_build_inputs, report_release

        with refusals_fail_at_once():
            message = report_release(published)
        record_build_inputs(run_id, gate_result["inputs_digest"], date.fromisoformat(gate_result["as_of_date"]),
                            published.get("release_id"))
        return message

    gate = gate_sources()
    checked = audit()
    gate >> anything_new(gate) >> dbt >> checked
    report(publish(checked, gate), gate)


build_and_publish()
