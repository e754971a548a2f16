"""A throwaway Apache Superset for the dashboard test: its own virtualenv (`make superset-venv`), SQLite
metadata in a temporary home, a generated SECRET_KEY, no example data, gunicorn on a free port; and a
headless-Chromium rendering of a dashboard page (logged in with a session cookie, over the DevTools
protocol), so the test sees what a county analyst sees.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from shumei.local.embedded import free_port
from shumei.settings import REPO_ROOT
from websockets.sync.client import connect

SUPERSET_VENV = REPO_ROOT / ".venv-superset"
SUPERSET_CONFIG = REPO_ROOT / "bi" / "superset" / "superset_config.py"
CHROMIUM = "/usr/bin/chromium"


@dataclass
class Superset:
    url: str
    admin_password: str
    process: subprocess.Popen
    setup_seconds: dict[str, float]


def superset_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"SUPERSET_HOME": str(home), "SUPERSET_CONFIG_PATH": str(SUPERSET_CONFIG),
                "SUPERSET_SECRET_KEY": secrets.token_urlsafe(42), "FLASK_APP": "superset.app:create_app()",
                "PATH": f"{SUPERSET_VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"})
    return env


def start_superset(home: Path, log: Path) -> Superset:
    binary = SUPERSET_VENV / "bin" / "superset"
    if not binary.exists():
        raise RuntimeError(f"{binary} is missing: run `make superset-venv` (make test does)")
    home.mkdir(parents=True, exist_ok=True)
    env = superset_env(home)
    password = secrets.token_urlsafe(16)
    timings = {}
    for name, args in (("db upgrade", ["db", "upgrade"]),
                       ("create admin", ["fab", "create-admin", "--username", "admin", "--firstname", "Shumei",
                                         "--lastname", "Admin", "--email", "admin@example.invalid",
                                         "--password", password]),
                       ("init", ["init"])):
        started = time.monotonic()
        result = subprocess.run([str(binary), *args], env=env, capture_output=True, text=True, timeout=600)
        timings[name] = time.monotonic() - started
        if result.returncode != 0:
            raise RuntimeError(f"superset {name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    port = free_port()
    started = time.monotonic()
    with log.open("w") as out:
        process = subprocess.Popen([str(SUPERSET_VENV / "bin" / "gunicorn"), "--workers", "1", "--threads", "4",
                                    "--timeout", "120", "--bind", f"127.0.0.1:{port}", "superset.app:create_app()"],
                                   env=env, cwd=home, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"Superset did not start on {url}:\n{log.read_text()[-4000:]}")
        time.sleep(0.5)
    timings["gunicorn start"] = time.monotonic() - started
    return Superset(url=url, admin_password=password, process=process, setup_seconds=timings)


def session_cookie(url: str, username: str, password: str) -> str:
    """The `session` cookie of a form login, as a browser gets it."""
    with httpx.Client(base_url=url, timeout=60) as http:
        page = http.get("/login/")
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
        if token is None:
            raise RuntimeError(f"no csrf_token on Superset's login page (HTTP {page.status_code})")
        response = http.post("/login/", data={"username": username, "password": password,
                                              "csrf_token": token.group(1)})
        if response.status_code >= 400 or "session" not in http.cookies:
            raise RuntimeError(f"Superset form login failed: HTTP {response.status_code}")
        return http.cookies["session"]


# true once every chart holder of the dashboard has finished loading (no spinner left)
_READY = """(() => {
  const holders = document.querySelectorAll('[data-test="chart-grid-component"]');
  const loading = document.querySelectorAll('[data-test="loading-indicator"], .loading');
  return JSON.stringify({charts: holders.length, loading: loading.length});
})()"""
# what each chart holder shows: an ECharts canvas, a table, or an error message
_CHARTS = """(() => JSON.stringify([...document.querySelectorAll('[data-test="chart-grid-component"]')].map(h => ({
  title: (h.querySelector('[data-test="editable-title"], .header-title') || {}).textContent || '',
  canvas: h.querySelectorAll('canvas').length,
  table_rows: h.querySelectorAll('table tbody tr').length,
  error: (h.querySelector('[role="alert"], .ant-alert-error, [data-test="error-message"]') || {}).textContent || null,
}))))()"""


def render_dashboard(page_url: str, cookie: str, out_png: Path, expected_charts: int,
                     timeout: float = 120) -> list[dict]:
    """Open the dashboard in headless Chromium with the session cookie, wait until every chart has
    loaded, save a full-page PNG and return what each chart holder shows."""
    port = free_port()
    profile = out_png.parent / f"chromium-profile-{port}"
    browser = subprocess.Popen([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                f"--remote-debugging-port={port}", "--remote-debugging-address=127.0.0.1",
                                f"--user-data-dir={profile}", "--window-size=1600,1800", "--lang=zh-CN",
                                "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=2).json()
                socket_url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
                break
            except (httpx.HTTPError, StopIteration, json.JSONDecodeError):
                if time.monotonic() > deadline:
                    raise RuntimeError("headless Chromium did not open its DevTools port") from None
                time.sleep(0.3)
        with connect(socket_url, max_size=64 * 2**20, open_timeout=30) as ws:
            calls = iter(range(1, 10**6))

            def call(method: str, **params):
                call_id = next(calls)
                ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
                while True:
                    message = json.loads(ws.recv(timeout=60))
                    if message.get("id") == call_id:
                        if "error" in message:
                            raise RuntimeError(f"DevTools {method}: {message['error']}")
                        return message.get("result", {})

            host = httpx.URL(page_url).host
            call("Network.enable")
            call("Network.setCookie", name="session", value=cookie, domain=host, path="/", httpOnly=True)
            call("Page.enable")
            call("Page.navigate", url=page_url)
            deadline = time.monotonic() + timeout
            state = {}
            while time.monotonic() < deadline:
                state = json.loads(call("Runtime.evaluate", expression=_READY, returnByValue=True)["result"]["value"])
                if state["charts"] >= expected_charts and state["loading"] == 0:
                    break
                time.sleep(1)
            else:
                raise RuntimeError(f"the dashboard did not finish loading in {timeout:.0f} s: {state}")
            # grow the window to the whole page first (a capture beyond the viewport re-lays the page
            # out and catches the charts while they redraw), then wait for the charts again
            height = call("Runtime.evaluate", expression="document.documentElement.scrollHeight",
                          returnByValue=True)["result"]["value"]
            call("Emulation.setDeviceMetricsOverride", width=1600, height=int(height), deviceScaleFactor=1,
                 mobile=False)
            time.sleep(3)
            while time.monotonic() < deadline:
                state = json.loads(call("Runtime.evaluate", expression=_READY, returnByValue=True)["result"]["value"])
                if state["loading"] == 0:
                    break
                time.sleep(1)
            time.sleep(3)  # the ECharts entry animations
            charts = json.loads(call("Runtime.evaluate", expression=_CHARTS, returnByValue=True)["result"]["value"])
            shot = call("Page.captureScreenshot", format="png")
            out_png.write_bytes(base64.b64decode(shot["data"]))
            return charts
    finally:
        browser.terminate()
        browser.wait(10)
        shutil.rmtree(profile, ignore_errors=True)
