"""Fixtures of the simulator tests: small generated datasets and real hotline servers (uvicorn)."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from shumei_sim.generate import generate

D = dt.date
SEED = 20230306
START, END = D(2022, 12, 24), D(2023, 1, 8)
TOKEN = "test-token"


@pytest.fixture(scope="session")
def sim_data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    generate(out, END, START, SEED, "county", None, "xlsx", progress=lambda m: None)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(db: Path, *extra: str):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "shumei_sim.cli", "serve-hotline", "--db", str(db), "--port", str(port),
                             "--token", TOKEN, *extra], env=dict(os.environ), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(url + "/health", timeout=0.5).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(proc.stderr.read().decode())


@pytest.fixture(scope="session")
def hotline_url(sim_data):
    proc, url = _serve(sim_data / "hotline" / "events.sqlite", "--rate-limit", "0")
    yield url
    proc.terminate()
    proc.wait(5)


@pytest.fixture(scope="session")
def limited_url(sim_data):
    proc, url = _serve(sim_data / "hotline" / "events.sqlite", "--rate-limit", "2", "--burst", "2")
    yield url
    proc.terminate()
    proc.wait(5)


@pytest.fixture()
def api(hotline_url):
    client = httpx.Client(base_url=hotline_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    client.post("/admin/faults", json={"reset": True}).raise_for_status()
    yield client
    client.post("/admin/faults", json={"reset": True})
    client.close()
