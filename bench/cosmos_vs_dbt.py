"""The dbt work inside Airflow against a bare `dbt build` of the same models, in one run (issue 14).

    make run                                   # once: a populated warehouse (own ports in .env)
    .venv/bin/python bench/cosmos_vs_dbt.py    # --rounds N (default 1), --no-write, --make-run

On the warehouse of this checkout's `.env` (the embedded server is started if it is not running), each
round runs, one after the other on the same data:

1. **bare**: `dbt build` of the whole project with the vars the DAG gives it (the as-of date the gate
   computes, `shumei.build.as_of_date`), the project's profile and threads;
2. **airflow**: `airflow dags test build_and_publish` for the same day, as `make run` runs it, with the
   DAG param `rebuild` (the same inputs as the last complete run would skip the build). The dbt
   task group's wall time is read from Airflow's metadata database: first start to last end of the
   task instances `dbt.*` of that DAG run. Its end-to-end time and the other tasks are reported too.

`--make-run` also times a whole second `make run` with nothing new (`shumei run` for the same end
date: simulators, the three ingest DAGs, build_and_publish, summary) and where its time goes.
A row per round is appended to bench/results.md (date, machine, commit, execution mode).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
from daily_increment import RESULTS, _commit, _machine, airflow_db_url

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DAG_ID = "build_and_publish"


def execution_mode() -> str:
    """What the DAG file's DbtTaskGroup configures (AIRFLOW__CORE__DAGS_FOLDER may point to another
    version of it, e.g. to measure the one of an older commit) (ExecutionMode, TestBehavior), as written there."""
    dags = Path(os.environ.get("AIRFLOW__CORE__DAGS_FOLDER", REPO / "dags"))
    text = (dags / f"{DAG_ID}.py").read_text(encoding="utf-8")
    call = text[text.index("DbtTaskGroup(\n"):]
    return ", ".join(re.findall(r"(?:ExecutionMode|TestBehavior)\.[A-Z_]+", call)[:2])


def load_env() -> dict[str, str]:
    from shumei.local import envfile

    os.chdir(REPO)
    if not envfile.ENV_PATH.exists():
        raise SystemExit("no .env: run `make run` first (a populated warehouse is needed)")
    envfile.load_env()
    subprocess.run([sys.executable, "-m", "shumei", "warehouse"], check=True, stdout=subprocess.DEVNULL)
    return dict(os.environ)


def the_day() -> date:
    """The day build_and_publish builds: the last day every source has loaded (the gate's as-of date)."""
    from shumei.build import as_of_date

    with psycopg.connect(os.environ["SHUMEI_WAREHOUSE_URL"]) as conn:
        day = as_of_date(conn)
    if day is None:
        raise SystemExit("the warehouse has no loaded batches: run `make run` first")
    return day


def bare_dbt_build(day: date, work: Path) -> float:
    """`dbt build` of the whole project. Its artifacts go to a target folder of its own: dbt rewrites
    target/manifest.json, which every parse of the DAG file reads (a DAG parsed meanwhile would fail)."""
    project = REPO / "dbt_project"
    # dbt's partial-parse state along, as Cosmos copies it for its build
    (work / "target").mkdir()
    if (project / "target" / "partial_parse.msgpack").exists():
        shutil.copy2(project / "target" / "partial_parse.msgpack", work / "target")
    args = [str(BIN / "dbt"), "build", "--quiet", "--project-dir", str(project), "--profiles-dir", str(project),
            "--target-path", str(work / "target"), "--vars", json.dumps({"shumei_as_of_date": day.isoformat()})]
    started = time.monotonic()
    subprocess.run(args, check=True, cwd=project)
    return time.monotonic() - started


def airflow_dags_test(day: date, logdir: Path) -> tuple[float, str]:
    """`airflow dags test` of the daily run that builds `day` (as shumei.local.runner.dags_test does)."""
    logical = f"{day + timedelta(days=1):%Y-%m-%d}T02:00:00+08:00"
    log = logdir / f"{DAG_ID}-{time.strftime('%Y%m%dT%H%M%S')}.log"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as fh:
        # `rebuild`: the same inputs as the last complete run would skip the build (anything_new)
        code = subprocess.run([str(BIN / "airflow"), "dags", "test", DAG_ID, logical, "-c", '{"rebuild": true}'], stdout=fh,
                              stderr=subprocess.STDOUT, env=env, check=False).returncode
    seconds = time.monotonic() - started
    log.chmod(0o600)
    if code != 0:
        raise SystemExit(f"airflow dags test failed (exit {code}); log: {log}")
    return seconds, logical


def task_times(logical: str) -> dict:
    """Wall time of the dbt task group and of the other tasks, from the metadata DB (newest run of the day)."""
    with psycopg.connect(airflow_db_url(os.environ)) as conn:
        run_id, state = conn.execute("""select run_id, state from dag_run where dag_id = %s
                                        and logical_date = %s::timestamptz order by id desc limit 1""",
                                     (DAG_ID, logical)).fetchone()
        rows = conn.execute("""select task_id, state, start_date, end_date, try_number from task_instance
                               where dag_id = %s and run_id = %s""", (DAG_ID, run_id)).fetchall()
    if state != "success":
        raise SystemExit(f"DAG run {run_id} ended {state}")
    dbt = [r for r in rows if r[0].startswith("dbt.") and r[2] is not None]
    others = {r[0]: (r[3] - r[2]).total_seconds() for r in rows if not r[0].startswith("dbt.") and r[2]}
    return {"dbt_seconds": (max(r[3] for r in dbt) - min(r[2] for r in dbt)).total_seconds(),
            "dbt_tasks": len(dbt), "other_tasks": others}


def second_make_run(day: date, logdir: Path) -> tuple[float, list[tuple[str, float]]]:
    """`shumei run` for the same end date (nothing new): end-to-end seconds and its steps."""
    end = day  # the sources' last day; make run's default end date is yesterday
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "shumei", "run", "--end-date", end.isoformat()],
                         capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    log = logdir / f"make-run-{time.strftime('%Y%m%dT%H%M%S')}.log"
    log.write_text(out.stdout + out.stderr, encoding="utf-8")
    log.chmod(0o600)
    if out.returncode != 0:
        raise SystemExit(f"shumei run failed; log: {log}")
    steps, title = [], None
    for line in out.stdout.splitlines():
        if line.startswith("==> "):
            title = line[4:].split(":")[0]
        elif (m := re.match(r"\s+done in ([\d.]+) s", line)) and title:
            steps.append((title, float(m.group(1))))
    return seconds, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--no-write", action="store_true", help="do not append to bench/results.md")
    parser.add_argument("--make-run", action="store_true", help="also time a second `make run` (nothing new)")
    args = parser.parse_args()

    load_env()
    from shumei.failures import private_dir

    logdir = private_dir(Path(os.environ["SHUMEI_LOCAL_DIR"]) / "logs" / "bench")
    day = the_day()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    mode, where, head = execution_mode(), _machine(), _commit()
    if Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).resolve() != (REPO / "dags").resolve():
        head += f", DAG file from {os.environ['AIRFLOW__CORE__DAGS_FOLDER']}"
    print(f"as-of {day}; {mode}; {where}; commit {head}", flush=True)
    rows = []
    for n in range(1, args.rounds + 1):
        load = [os.getloadavg()[0]]
        with tempfile.TemporaryDirectory(prefix="shumei-bench-dbt-") as work:
            bare = bare_dbt_build(day, Path(work))
        load.append(os.getloadavg()[0])
        print(f"round {n}: bare dbt build {bare:.1f} s", flush=True)
        total, logical = airflow_dags_test(day, logdir)
        load.append(os.getloadavg()[0])
        times = task_times(logical)
        ratio = times["dbt_seconds"] / bare
        others = ", ".join(f"{k} {v:.1f}" for k, v in sorted(times["other_tasks"].items()))
        print(f"round {n}: dbt task group {times['dbt_seconds']:.1f} s ({times['dbt_tasks']} task instances), "
              f"{ratio:.2f}x bare; dags test {total:.1f} s; {others}", flush=True)
        rows.append(f"| {stamp} | {where} | {head} | {mode} | {bare:.1f} | {times['dbt_seconds']:.1f} | "
                    f"{ratio:.2f}× | {times['dbt_tasks']} | {total:.1f} | {others} | "
                    + " / ".join(f"{x:.1f}" for x in load) + " |")
    make_run = None
    if args.make_run:
        seconds, steps = second_make_run(day, logdir)
        make_run = f"| {stamp} | {where} | {head} | {mode} | {seconds:.1f} | " \
                   + "; ".join(f"{t} {s:.1f}" for t, s in steps) + " |"
        print(f"second make run (nothing new): {seconds:.1f} s: {steps}", flush=True)
    if args.no_write:
        return
    with RESULTS.open("a", encoding="utf-8") as fh:
        fh.write(f"\n## Cosmos vs bare dbt build (bench/cosmos_vs_dbt.py), {stamp}, as-of {day}\n\n"
                 "| date | machine | commit | Cosmos configuration | bare `dbt build` s | dbt task group s "
                 "| ratio | dbt task instances | `dags test` s | other tasks s | load average (1 min): start / after bare / end |\n"
                 "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n" + "\n".join(rows) + "\n")
        if make_run:
            fh.write("\nsecond `make run`, nothing new:\n\n| date | machine | commit | Cosmos configuration "
                     "| end to end s | steps s |\n| --- | --- | --- | --- | --- | --- |\n" + make_run + "\n")
    print(f"appended to {RESULTS}")


if __name__ == "__main__":
    main()
