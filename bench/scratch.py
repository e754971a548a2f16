"""A throwaway warehouse for the benchmarks: an embedded PostgreSQL on a free port with the project's
roles (no Airflow database), in a temporary folder removed afterwards.

    from scratch import scratch_warehouse   # the benchmark scripts run from bench/
    with scratch_warehouse() as (server, env, work):
        ...  # env has the SHUMEI_* settings of that server; work is the temporary folder
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def scratch_warehouse() -> Iterator[tuple]:
    from shumei.local.bootstrap import bootstrap
    from shumei.local.embedded import EmbeddedServer, free_port
    from shumei.local.envfile import build_env

    work = Path(tempfile.mkdtemp(prefix="shumei-bench-"))
    env = build_env(work, wh_port=free_port(), hotline_port=free_port(), airflow_port=free_port())
    env["SHUMEI_PG_SUPERUSER_PASSWORD"] = secrets.token_hex(8)
    server = EmbeddedServer(work / "pg", int(env["SHUMEI_WH_PORT"]), env["SHUMEI_PG_SUPERUSER_PASSWORD"])
    try:
        server.start()
        server.wait_ready()
        bootstrap(server.superuser_dsn(), env, with_airflow=False)
        yield server, env, work
    finally:
        server.destroy()
        shutil.rmtree(work, ignore_errors=True)
