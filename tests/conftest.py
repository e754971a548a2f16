"""Shared fixtures. Integration tests get a real PostgreSQL: a throwaway embedded server started once
per test session on a free port, with the same roles as a local installation, and an Airflow home
whose metadata database lives in that server.

The environment is set in pytest_configure, before anything imports Airflow or reads settings, so the
code under test reads its configuration exactly as in production (environment variables).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from shumei.local.embedded import EmbeddedServer, free_port
from shumei.local.envfile import build_env
from shumei.settings import REPO_ROOT

_STATE: dict = {}


def pytest_configure(config):
    tmp = Path(tempfile.mkdtemp(prefix="shumei-test-"))
    env = build_env(tmp, wh_port=free_port(), hotline_port=free_port(), airflow_port=free_port())
    env["SHUMEI_PG_SUPERUSER_PASSWORD"] = secrets.token_hex(16)
    env["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
    env["AIRFLOW__LOGGING__BASE_LOG_FOLDER"] = str(tmp / "airflow" / "logs")
    os.environ.update(env)
    from shumei.settings import get_settings

    get_settings.cache_clear()
    _STATE.update(tmp=tmp, env=env)


def pytest_unconfigure(config):
    server = _STATE.get("server")
    if server is not None:
        server.stop()
    tmp = _STATE.get("tmp")
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def test_env() -> dict[str, str]:
    """The settings of the test installation (same keys as a local `.env`)."""
    return dict(_STATE["env"])


@pytest.fixture(scope="session")
def pg_server(test_env) -> EmbeddedServer:
    """A real, running PostgreSQL with the project's roles and databases."""
    from shumei.local.bootstrap import bootstrap

    server = EmbeddedServer(root=_STATE["tmp"] / "warehouse", port=int(test_env["SHUMEI_WH_PORT"]),
                            superuser_password=test_env["SHUMEI_PG_SUPERUSER_PASSWORD"])
    server.start()
    _STATE["server"] = server
    server.wait_ready()
    bootstrap(server.superuser_dsn(), test_env)
    return server


@pytest.fixture(scope="session")
def warehouse_url(pg_server, test_env) -> str:
    """The owner role's URL of the test warehouse."""
    return test_env["SHUMEI_WAREHOUSE_URL"]


@pytest.fixture(scope="session")
def airflow_db(pg_server) -> None:
    """Airflow's metadata database, migrated (needed by dag.test())."""
    Path(os.environ["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    airflow = str(Path(sys.executable).parent / "airflow")
    subprocess.run([airflow, "db", "migrate"], check=True, capture_output=True, env=dict(os.environ))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT
