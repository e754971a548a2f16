"""Headless Chromium with the network off, for the tests of pages a county office opens offline (the
bulletin, the Data Docs): every request goes to a local recording proxy that answers nothing."""

from __future__ import annotations

import socket
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlsplit

from shumei.report.bulletin import chromium, offline_flags


class RequestRecorder:
    """A local proxy that records every connection Chromium makes through it, and answers nothing."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    self.requests.append(conn.recv(4096).split(b"\r\n", 1)[0].decode("latin-1"))
                except OSError:
                    self.requests.append("<connection without request line>")

    def close(self):
        self.sock.close()


def open_page(page: Path, screenshot: Path, proxy: str = "127.0.0.1:9", env: dict | None = None,
          height: int = 1754) -> None:
    profile = screenshot.parent / f"profile-{screenshot.stem}"
    result = subprocess.run(
        [chromium(), *offline_flags(proxy), f"--user-data-dir={profile}", "--hide-scrollbars",
         f"--window-size=1240,{height}", "--virtual-time-budget=5000", f"--screenshot={screenshot}",
         page.resolve().as_uri()], capture_output=True, text=True, timeout=120, env=env, check=False)
    assert result.returncode == 0 and screenshot.exists(), result.stderr[-2000:]


def request_target(request_line: str) -> tuple[str, str]:
    """(method, host) of a request line through a proxy: `GET http://host/...` or `CONNECT host:443`."""
    method, _, rest = request_line.partition(" ")
    url = rest.split(" ", 1)[0]
    return method, (urlsplit(url).hostname if "://" in url else url.rsplit(":", 1)[0])
