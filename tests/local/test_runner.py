"""What `make run` starts: no secret on a command line, logs private (issue 11 item 7)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from shumei.local import runner
from shumei.local.embedded import free_port

pytestmark = pytest.mark.integration


def _cmdlines() -> list[str]:
    lines = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                lines.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
            except OSError:
                pass
    return lines


def test_hotline_simulator_gets_its_token_from_the_environment(tmp_path):
    db = tmp_path / "drops" / "hotline"
    db.mkdir(parents=True)
    subprocess.run([str(Path(sys.executable).parent / "shumei-sim"), "generate", "--out", str(tmp_path / "drops"),
                    "--start", "2023-01-01", "--end", "2023-01-02"], check=True, capture_output=True)
    port = free_port()
    token = "token-that-must-not-be-seen-" + os.urandom(4).hex()
    env = {"SHUMEI_LOCAL_DIR": str(tmp_path), "SHUMEI_HOTLINE_PORT": str(port),
           "SHUMEI_HOTLINE_URL": f"http://127.0.0.1:{port}", "SHUMEI_HOTLINE_TOKEN": token}
    runner.start_hotline(env)
    try:
        assert any("serve-hotline" in line and str(port) in line for line in _cmdlines())
        assert not any(token in line for line in _cmdlines())
        logs = tmp_path / "logs"
        assert logs.stat().st_mode & 0o777 == 0o700
        assert (logs / "hotline.log").stat().st_mode & 0o777 == 0o600
        import httpx

        answer = httpx.get(f"{env['SHUMEI_HOTLINE_URL']}/api/v1/work-order-events",
                           params={"updated_since": "2023-01-01T00:00:00+08:00",
                                   "updated_until": "2023-01-02T00:00:00+08:00"},
                           headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert answer.status_code == 200  # the simulator did get the token
    finally:
        runner.stop_services(env)
