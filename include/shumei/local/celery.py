"""The Celery executor on this machine: a Redis broker, Airflow's scheduler, DAG processor and API
server, and two Celery workers, each its own process (`make celery`; tests/integration/test_celery.py).

It is the compose stack's configuration (docker-compose.yml) without Docker:

| compose service          | here                                                                  |
| ------------------------ | --------------------------------------------------------------------- |
| redis                    | `redis-server` (Debian package, requirements/debian.txt), 127.0.0.1, a free port, a password |
| airflow-metadb           | database `airflow` of the embedded PostgreSQL (`.env`)                  |
| airflow-apiserver        | `airflow api-server` on 127.0.0.1:$AIRFLOW__API__PORT                   |
| airflow-scheduler        | `airflow scheduler` (CeleryExecutor: sends each task to the broker)     |
| airflow-dag-processor    | `airflow dag-processor`                                                 |
| airflow-worker (×2)      | `airflow celery worker`, Celery nodes `worker1@host` and `worker2@host` |

The Celery settings come from docker/airflow-celery.env, the file the compose stack reads too; the
result backend is the metadata database (`db+` and Airflow's own SQLAlchemy URL). The workers run the
tasks through the API server's Task Execution API, with JWTs signed by one secret that every process
of the stack gets. Task logs are written to one folder that the API server reads (the compose stack's
`airflow-logs` volume), so the workers serve none.

The broker keeps nothing on disk: the stack starts and stops as a whole, and the scheduler requeues a
task whose message was lost. Every process gets its own process group and log file (0600) under the
stack's run folder, and `stop()` ends each of them, also when a start fails halfway.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from shumei.failures import private_dir
from shumei.local.embedded import free_port
from shumei.local.envfile import read_env
from shumei.settings import REPO_ROOT, bin_path

CELERY_SETTINGS_FILE = REPO_ROOT / "docker" / "airflow-celery.env"
WORKERS = ("worker1", "worker2")
# the worker's name in its environment, for worker_hostname()
WORKER_NAME_VAR = "SHUMEI_CELERY_WORKER"
INGEST_DAGS = ("ingest_registry", "ingest_credit", "ingest_hotline")
PUBLISH_DAG = "build_and_publish"
FINISHED = {"success", "failed"}
# the Airflow commands of the stack's processes, as the compose services run them
AIRFLOW_COMMANDS = {"api-server": ("api-server",), "scheduler": ("scheduler",), "dag-processor": ("dag-processor",)}
WORKER_COMMAND = ("celery", "worker")


def celery_settings() -> dict[str, str]:
    """The Airflow settings shared with the compose stack (docker/airflow-celery.env)."""
    return read_env(CELERY_SETTINGS_FILE)


def result_backend(sql_alchemy_conn: str) -> str:
    """Celery's result backend: Airflow's metadata database, through the same SQLAlchemy URL and
    driver as Airflow itself (the compose stack follows the same rule)."""
    return f"db+{sql_alchemy_conn}"


def worker_hostname() -> str:
    """`[core] hostname_callable` of the local workers: their Celery node name (`worker1@host`).
    Two workers on one machine have the same host name; with this, task_instance.hostname says which of
    them ran a task. (Compose containers have hostnames of their own and keep Airflow's default.)"""
    return f"{os.environ[WORKER_NAME_VAR]}@{socket.gethostname()}"  # Celery's %h


def redis_server() -> str:
    path = shutil.which("redis-server")
    if path is None:
        raise SystemExit("redis-server is not installed (the Celery broker): run `make sysdeps` "
                         "(requirements/debian.txt), or as root: apt-get install -y redis-server")
    return path


class StackError(RuntimeError):
    """A process of the stack did not start or stopped; the message names its log file."""


@dataclass
class CeleryStack:
    """The processes of the stack for one installation: `env` holds its settings (a local `.env`,
    or a test's build_env()); `run_dir` the logs, the broker's configuration and the task logs."""

    env: dict[str, str]
    run_dir: Path
    workers: tuple[str, ...] = WORKERS
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.run_dir = private_dir(self.run_dir)
        self.logs = private_dir(self.run_dir / "logs")
        self.broker_port = free_port()
        # secrets of one start of the stack, given to its processes in their environment only
        self._broker_password = secrets.token_hex(16)
        self._jwt_secret = self.env.get("AIRFLOW__API_AUTH__JWT_SECRET") or secrets.token_hex(32)
        self._api_secret = self.env.get("AIRFLOW__API__SECRET_KEY") or secrets.token_hex(32)
        self._token: str | None = None

    # ---- configuration ---------------------------------------------------------------------------

    @property
    def api_port(self) -> int:
        return int(self.env["AIRFLOW__API__PORT"])

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def broker_url(self) -> str:
        return f"redis://:{self._broker_password}@127.0.0.1:{self.broker_port}/0"

    def settings(self) -> dict[str, str]:
        """The environment of every Airflow process of the stack: the installation's settings, the
        shared Celery settings, and what belongs to this machine (broker, API server, secrets)."""
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SHUMEI_"))}
        return {
            **inherited,
            **self.env,
            **celery_settings(),
            "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": result_backend(self.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__BASE_URL": self.api_url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": self._jwt_secret,
            "AIRFLOW__API__SECRET_KEY": self._api_secret,
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(private_dir(self.run_dir / "task-logs")),
            # `airflow` starts helpers by name: this virtualenv's first
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }

    def _broker_conf(self) -> Path:
        conf = self.run_dir / "redis.conf"
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            # the password in a private file, not on the command line that every user can read
            fh.write(f"bind 127.0.0.1\nport {self.broker_port}\nprotected-mode yes\n"
                     f"requirepass {self._broker_password}\ndaemonize no\n"
                     f'save ""\nappendonly no\ndir {self.run_dir}\nloglevel notice\n')
        return conf

    # ---- processes -------------------------------------------------------------------------------

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> None:
        log = self.logs / f"{name}.log"
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "ab") as fh:
            self.procs[name] = subprocess.Popen(args, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                                cwd=REPO_ROOT, start_new_session=True)

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise StackError(f"{name} stopped (exit {proc.returncode}); see {self.logs / (name + '.log')}:\n"
                                 + self.tail(name))

    def tail(self, name: str, chars: int = 3000) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(encoding="utf-8", errors="replace")[-chars:] if path.exists() else ""

    def _wait(self, what: str, ready, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            self.check_alive()
            if time.monotonic() > deadline:
                raise StackError(f"{what} not ready after {timeout:.0f} s; logs in {self.logs}")
            time.sleep(1)

    def start(self, timeout: float = 300) -> None:
        """Starts broker, API server, scheduler, DAG processor and the workers, and waits until the
        API server reports scheduler and DAG processor healthy and every worker answers a ping."""
        try:
            self._spawn("broker", [redis_server(), str(self._broker_conf())], dict(os.environ))
            self._wait("the broker", self._broker_ready, 30)
            env, airflow = self.settings(), bin_path("airflow")
            for name, command in AIRFLOW_COMMANDS.items():
                self._spawn(name, [airflow, *command], env)
            for name in self.workers:
                worker_env = {**env, WORKER_NAME_VAR: name,
                              "AIRFLOW__CORE__HOSTNAME_CALLABLE": "shumei.local.celery.worker_hostname"}
                self._spawn(name, [airflow, *WORKER_COMMAND, "--celery-hostname", f"{name}@%h", "--skip-serve-logs"],
                            worker_env)
            self._wait("the API server, scheduler and DAG processor", self._airflow_healthy, timeout)
            self._wait("the Celery workers", self._workers_ready, timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 30) -> None:
        """Ends every process of the stack (workers first, broker last): SIGTERM to its process
        group, SIGKILL after `timeout` seconds."""
        for name in reversed(list(self.procs)):
            proc = self.procs.pop(name)
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    _signal_group(proc, signal.SIGKILL)
                    proc.wait()
            _signal_group(proc, signal.SIGKILL)  # what the process left behind in its group

    def __enter__(self) -> CeleryStack:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- readiness -------------------------------------------------------------------------------

    def _broker_ready(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(host="127.0.0.1", port=self.broker_port, password=self._broker_password,
                                    socket_timeout=2).ping())
        except redis.RedisError:
            return False

    def health(self) -> dict[str, Any] | None:
        try:
            response = httpx.get(f"{self.api_url}/api/v2/monitor/health", timeout=5)
        except httpx.HTTPError:
            return None
        return response.json() if response.status_code == 200 else None

    def _airflow_healthy(self) -> bool:
        health = self.health() or {}
        return all((health.get(part) or {}).get("status") == "healthy"
                   for part in ("metadatabase", "scheduler", "dag_processor"))

    def worker_nodes(self) -> set[str]:
        """The Celery nodes that answer a ping on the broker (`worker1@host`, ...)."""
        from celery import Celery

        app = Celery(broker=self.broker_url)
        try:
            return {name for reply in app.control.ping(timeout=2) for name in reply}
        finally:
            app.close()

    def _workers_ready(self) -> bool:
        nodes = self.worker_nodes()
        return all(any(node.startswith(f"{name}@") for node in nodes) for name in self.workers)

    # ---- the public REST API of the API server -----------------------------------------------------

    def api(self, method: str, path: str, **kwargs) -> Any:
        if self._token is None:
            # Simple auth manager (Airflow's default): the admin password it generated at start
            passwords = Path(self.env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
            password = json.loads(passwords.read_text(encoding="utf-8"))["admin"]
            response = httpx.post(f"{self.api_url}/auth/token", json={"username": "admin", "password": password},
                                  timeout=30)
            response.raise_for_status()
            self._token = response.json()["access_token"]
        for attempt in range(3):
            response = httpx.request(method, f"{self.api_url}/api/v2{path}", timeout=60,
                                     headers={"Authorization": f"Bearer {self._token}"}, **kwargs)
            if response.status_code < 500:
                break
            time.sleep(2 ** attempt)  # the server's own trouble (a lost database connection): again
        if response.status_code >= 400:
            raise StackError(f"{method} {path}: HTTP {response.status_code} {response.text[:500]}; "
                             f"see {self.logs / 'api-server.log'}")
        return response.json()

    def wait_for_dags(self, dag_ids, timeout: float = 300) -> dict[str, dict]:
        """The DAGs as the API server has them, once the DAG processor has registered all of them."""
        found: dict[str, dict] = {}

        def registered() -> bool:
            for dag_id in dag_ids:
                try:
                    found[dag_id] = self.api("GET", f"/dags/{dag_id}")
                except StackError:
                    return False
            return True

        self._wait(f"the DAGs {', '.join(dag_ids)}", registered, timeout)
        return found

    def trigger_next_interval(self, dag: dict, conf: dict) -> str:
        """Triggers the run the scheduler would create next (the DAG's next logical date and data
        interval) now, with `conf`: the scheduler then finds that run in place and creates no
        second one when the DAG is unpaused. Returns the run id."""
        body = {"logical_date": dag["next_dagrun_logical_date"],
                "data_interval_start": dag["next_dagrun_data_interval_start"],
                "data_interval_end": dag["next_dagrun_data_interval_end"], "conf": conf}
        return self.api("POST", f"/dags/{dag['dag_id']}/dagRuns", json=body)["dag_run_id"]

    def unpause(self, dag_id: str) -> None:
        self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> dict:
        """The DAG run once it has finished (success or failed)."""
        run: dict = {}

        def finished() -> bool:
            run.update(self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}"))
            return run["state"] in FINISHED

        self._wait(f"DAG run {dag_id} {run_id}", finished, timeout)
        return run

    def wait_for_asset_run(self, dag_id: str, after: datetime, timeout: float) -> dict:
        """The first asset-triggered run of `dag_id` queued after `after`, once it has finished."""
        run: dict = {}

        def finished() -> bool:
            runs = [r for r in self.api("GET", f"/dags/{dag_id}/dagRuns",
                                        params={"run_type": "asset_triggered"})["dag_runs"]
                    if _instant(r["queued_at"]) > after]
            if not runs:
                return False
            run.update(min(runs, key=lambda r: _instant(r["queued_at"])))
            return run["state"] in FINISHED

        self._wait(f"an asset-triggered run of {dag_id}", finished, timeout)
        return run


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def daily_run(stack: CeleryStack, load_from: str, *, timeout: float) -> dict[str, dict]:
    """The daily run on the Celery stack: each ingest DAG's next scheduled interval, with the
    ranged load from `load_from` (as `make run` loads its history), then the build_and_publish run
    that their Assets trigger. Returns the finished DAG runs by DAG id; raises if one failed."""
    dags = stack.wait_for_dags((*INGEST_DAGS, PUBLISH_DAG))
    run_ids = {dag_id: stack.trigger_next_interval(dags[dag_id], {"load_from": load_from}) for dag_id in INGEST_DAGS}
    for dag_id in (*INGEST_DAGS, PUBLISH_DAG):
        stack.unpause(dag_id)
    runs = {dag_id: stack.wait_for_run(dag_id, run_id, timeout) for dag_id, run_id in run_ids.items()}
    failed = [dag_id for dag_id, run in runs.items() if run["state"] != "success"]
    if failed:
        raise StackError(f"ingest DAG runs failed: {', '.join(failed)}; task logs in {stack.run_dir / 'task-logs'}")
    triggered = min(_instant(run["queued_at"]) for run in runs.values())
    runs[PUBLISH_DAG] = stack.wait_for_asset_run(PUBLISH_DAG, triggered, timeout)
    if runs[PUBLISH_DAG]["state"] != "success":
        raise StackError(f"{PUBLISH_DAG} failed ({runs[PUBLISH_DAG]['dag_run_id']}); "
                         f"task logs in {stack.run_dir / 'task-logs'}")
    return runs


def next_interval_day(dag: dict, tz: str = "Asia/Shanghai") -> str:
    """The calendar day (Asia/Shanghai) that the DAG's next scheduled run loads."""
    from zoneinfo import ZoneInfo

    return _instant(dag["next_dagrun_data_interval_start"]).astimezone(ZoneInfo(tz)).date().isoformat()
