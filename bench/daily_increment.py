"""Benchmark: the daily increment against history length (issue 14).

    .venv/bin/python bench/daily_increment.py --work DIR --day D [--history-days N]  # an install in DIR
    .venv/bin/python bench/daily_increment.py --env-file .env --day D  # the install of `make run`

With the history D-N .. D-1 (default: from HISTORY_START 2022-01-01) in the warehouse, this times two daily runs of the main job's own
path (`shumei.local.runner.run_pipeline`, the steps of `make run`: sources, the three ingest DAGs,
`build_and_publish` through `airflow dags test`):
1. increment: the run for day D (the simulators generate D, the ingest DAGs load it, the build);
2. nothing new: the same run again.
With --work, the first call prepares the history (a first run up to D-1, timed and recorded as
"first run (the history)", not as an increment) in DIR and keeps it; --scale city|province makes DIR an
install of that scale (`make run SCALE=...`'s simulated worlds); the bench refuses a day that is already loaded (pick a later --day or a new DIR).
The shortest history the build publishes is 2022-12-01 .. 2023-03-12 (the build's baseline test needs
the 2022-12-31 ledger, the audit's completeness check a YJ_SL value, whose rules are in force from
2023-03-06; a month 2022-12-01 .. 2022-12-31 is refused by the audit): --work /tmp/bench-short
--day 2023-03-13 --history-days 102. The whole simulated history
(HISTORY_START 2022-01-01 .. yesterday): `make run END_DATE=<the day before yesterday>`, then
--env-file .env --day <yesterday>.

Prints the phases of each run and the longest tasks of `build_and_publish` (from Airflow's metadata
database), and appends a row per run to bench/results.md (date, commit, machine, load average, the
peak PSS of every process on the machine, sampled every 5 s: run it with no other job for a clean figure).
With --work the warehouse and the hotline simulator are stopped at the end; DIR stays.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results.md"
HEADER = """
## Daily increment against history length (bench/daily_increment.py)

One daily run of the main job (`shumei.local.runner.run_pipeline`: sources, the three ingest DAGs,
`build_and_publish` through `airflow dags test`) for a day after the history, then the same run with
nothing new. Load average: 1 minute, at the start and the end of the run (2 cores, shared); from
2026-12-04 also the peak PSS of every process on the machine (sampled every 5 s during the run).

| date | commit | machine | history | run | total s | sources s | ingest s | build_and_publish s | longest tasks (s) | load avg |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
"""


def _env(args: argparse.Namespace) -> tuple[dict[str, str], bool]:
    """The settings of the install (written once into DIR/env for --work), and whether the bench owns it."""
    from shumei.local.embedded import free_port
    from shumei.local.envfile import AIRFLOW_SETTINGS, build_env, ensure_env, read_env

    if args.env_file:  # (upgraded as `make run` upgrades it)
        return ensure_env(Path(args.env_file))[0], False
    work = Path(args.work).resolve()
    path = work / "env"
    if not path.exists():
        work.mkdir(parents=True, exist_ok=True)
        env = build_env(work, wh_port=free_port(), hotline_port=free_port(), airflow_port=free_port())
        if args.scale != "county":
            env["SHUMEI_SCALE"] = args.scale
        path.write_text("".join(f"{key}={value}\n" for key, value in env.items()), encoding="utf-8")
        path.chmod(0o600)
    env = read_env(path)
    if env.get("SHUMEI_SCALE", "county") != args.scale:
        raise SystemExit(f"{path} holds {env.get('SHUMEI_SCALE', 'county')}-scale data, not {args.scale}: "
                         "one scale a DIR")
    return {**AIRFLOW_SETTINGS, **env}, True


def _loaded_through(env: dict[str, str]) -> date | None:
    """The last day every feed has loaded (None before the first load)."""
    import psycopg

    with psycopg.connect(env["SHUMEI_WAREHOUSE_URL"]) as conn:
        exists = conn.execute("select to_regclass('raw.batch_log') is not null").fetchone()[0]
        if not exists:
            return None
        return conn.execute("""select min(last_day) from (
                                 select feed, max(interval_start) as last_day from raw.batch_log
                                 where status = 'loaded' group by feed) as feeds""").fetchone()[0]


def airflow_db_url(env: dict[str, str]) -> str:
    """Airflow's metadata database as a libpq URL (its setting names the SQLAlchemy driver)."""
    return env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("postgresql+psycopg://", "postgresql://", 1)


def _longest_tasks(env: dict[str, str], started: datetime, top: int = 5) -> list[tuple[str, float]]:
    """The longest tasks of the build_and_publish run that started after `started`."""
    import psycopg

    with psycopg.connect(airflow_db_url(env)) as conn:
        rows = conn.execute("""select task_id, extract(epoch from end_date - start_date)::float
                               from task_instance
                               where dag_id = 'build_and_publish' and start_date >= %s and state = 'success'
                               order by end_date - start_date desc limit %s""", (started, top)).fetchall()
    return [(task.removeprefix("dbt."), seconds) for task, seconds in rows]


def _total_pss() -> int:
    """The proportional set size of every process on the machine, in bytes (/proc/*/smaps_rollup)."""
    total = 0
    for rollup in Path("/proc").glob("[0-9]*/smaps_rollup"):
        try:
            for line in rollup.read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
                    break
        except OSError:  # the process ended, or is not ours to read
            continue
    return total


@contextmanager
def _peak_memory(every: float = 5.0):
    """Samples the machine's total PSS every `every` seconds while the block runs; yields a one-item list
    that holds the peak when the block ends."""
    peak = [_total_pss()]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(every):
            peak[0] = max(peak[0], _total_pss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        done.set()
        sampler.join()
        peak[0] = max(peak[0], _total_pss())


def _timed_run(env: dict[str, str], day: date, load_from: date) -> dict:
    from shumei.local import runner

    phases: dict[str, float] = {}

    @contextmanager
    def step(title: str):
        print(f"==> {title}", flush=True)
        begun = time.monotonic()
        yield
        key = title.split()[0].rstrip(",:")  # source, ingest_registry, build_and_publish
        phases[key] = time.monotonic() - begun
        print(f"    done in {phases[key]:.1f} s", flush=True)

    load_before = os.getloadavg()[0]
    started = datetime.now(UTC)
    begun = time.monotonic()
    with _peak_memory() as peak:
        runner.run_pipeline(env, day, step=step, load_from=load_from)
    total = time.monotonic() - begun
    return {"total": total, "sources": phases.get("source", 0.0), "ingest": phases.get("ingest_registry", 0.0),
            "build": phases.get("build_and_publish", 0.0), "tasks": _longest_tasks(env, started),
            "load": (load_before, os.getloadavg()[0]), "peak": peak[0]}


def _commit() -> str:
    sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                            ":(exclude)bench/results.md"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    return sha.strip() + ("+changes" if dirty else "")


def _machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GB, Python {platform.python_version()}"


def _append(history: str, name: str, result: dict) -> None:
    if not RESULTS.read_text(encoding="utf-8").count("bench/daily_increment.py)"):
        with RESULTS.open("a", encoding="utf-8") as out:
            out.write(HEADER)
    tasks = ", ".join(f"{task} {seconds:.0f}" for task, seconds in result["tasks"])
    row = (f"| {date.today()} | {_commit()} | {_machine()} | {history} | {name} | {result['total']:.0f} | "
           f"{result['sources']:.0f} | {result['ingest']:.0f} | {result['build']:.0f} | {tasks} | "
           f"{result['load'][0]:.1f} → {result['load'][1]:.1f}; peak PSS {result['peak'] / 2**30:.1f} GB |\n")
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write(row)
    print(row, end="")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--work", help="directory of a bench install (created and prepared on first use)")
    where.add_argument("--env-file", help="settings of an existing install, e.g. .env of `make run`")
    parser.add_argument("--day", required=True, type=date.fromisoformat, help="the day of the increment")
    parser.add_argument("--history-days", type=int, help="days of history before --day (default: from 2022-01-01)")
    parser.add_argument("--scale", choices=("county", "city", "province"), default="county",
                        help="with --work: the size of the simulated sources (recorded in DIR/env)")
    parser.add_argument("--prepare-only", action="store_true",
                        help="with --work: prepare the history and stop (time the increment in a later call, "
                             "e.g. beside another install's, so both see the same load)")
    args = parser.parse_args()

    from shumei.cli import migrate_airflow, migrate_warehouse, server_from_env, start_warehouse
    from shumei.local import runner
    from shumei.settings import get_settings

    env, owned = _env(args)
    os.environ.update(env)
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    get_settings.cache_clear()
    start_warehouse(env)
    try:
        migrate_warehouse(env)
        migrate_airflow()
        first = args.day - timedelta(days=args.history_days) if args.history_days else runner.HISTORY_START
        through = _loaded_through(env)
        if through is not None and through >= args.day:
            raise SystemExit(f"{args.day} is loaded already (history through {through}): pick a later --day")
        scale = get_settings().scale
        history = (f"{'' if scale == 'county' else scale + ' scale, '}{first} .. {args.day - timedelta(days=1)} "
                   f"({(args.day - first).days} days)")
        if through is None or through < args.day - timedelta(days=1):
            if not owned:
                raise SystemExit(f"the install is loaded through {through}: run `make run END_DATE="
                                 f"{args.day - timedelta(days=1)}` first")
            print(f"==> preparing the history {first} .. {args.day - timedelta(days=1)}"
                  f"{' (a first run: timed)' if through is None else ''}")
            if through is None:  # the first run of the install: sources, ingest and build of the whole history
                _append(history, "first run (the history)", _timed_run(env, args.day - timedelta(days=1), first))
            else:
                runner.run_pipeline(env, args.day - timedelta(days=1), step=_quiet_step, load_from=first)
        if args.prepare_only:
            print(f"==> history prepared through {args.day - timedelta(days=1)}; the increment is not timed")
            return
        _append(history, f"increment {args.day}", _timed_run(env, args.day, first))
        _append(history, "nothing new", _timed_run(env, args.day, first))
    finally:
        if owned:
            runner.stop_services(env)
            server_from_env(env).stop()


@contextmanager
def _quiet_step(title: str):
    print(f"    {title}", flush=True)
    yield


if __name__ == "__main__":
    main()
