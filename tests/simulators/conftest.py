"""Fixtures of the simulator tests: small generated datasets and real hotline servers (uvicorn)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from shumei.local.embedded import free_port
from shumei_sim.generate import generate
from sim_setup import END, SEED, START, TOKEN


@pytest.fixture(scope="session")
def sim_data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    generate(out, END, START, SEED, "county", None, "xlsx", progress=lambda m: None)
    return out


def _serve(db: Path, *extra: str):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "shumei_sim.cli", "serve-hotline", "--db", str(db), "--port", str(port),
                             "--token", TOKEN, *extra], env=dict(os.environ), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(url + "/health", timeout=0.5).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    exited = proc.poll()
    proc.kill()
    _, err = proc.communicate(timeout=5)
    state = f"exited with code {exited}" if exited is not None else "not healthy after 30 s"
    raise AssertionError(f"hotline server on {url} {state}:\n{err.decode(errors='replace')[-3000:]}")


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
