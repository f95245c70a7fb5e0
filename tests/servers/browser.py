"""A headless Chromium driven through chromedriver's W3C WebDriver protocol (stdlib HTTP only).

Debian's ``chromium`` and ``chromium-driver``; chromedriver listens on a loopback port, Chromium
starts with every background-networking feature off (this machine has no network). ``Browser``
raises ``BrowserUnavailable`` with the reason when neither can start, so tests can skip saying why.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

CHROME_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1400,1000",
]


class BrowserUnavailable(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    def __init__(self, profile_root: Path | None = None) -> None:
        chrome = shutil.which("chromium") or shutil.which("chromium-browser")
        driver = shutil.which("chromedriver")
        if not chrome or not driver:
            raise BrowserUnavailable("no chromium/chromedriver (apt-get install chromium chromium-driver)")
        self.port = _free_port()
        # under the test's own folder when given: what Chromium writes late stays out of /tmp
        self.profile = tempfile.mkdtemp(prefix="rltask-chrome-", dir=profile_root)
        # Chromium keeps sockets under TMPDIR: a long one (a pytester test's) makes it exit at start
        env = {k: v for k, v in os.environ.items() if k != "TMPDIR"}
        self.proc = subprocess.Popen([driver, f"--port={self.port}", "--allowed-ips=127.0.0.1"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                self._call("GET", "/status")
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.close()
                    raise BrowserUnavailable("chromedriver did not start")
                time.sleep(0.1)
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chrome, "args": CHROME_ARGS + [f"--user-data-dir={self.profile}"]},
            "goog:loggingPrefs": {"browser": "ALL"},
        }}}
        try:
            self.session = self._call("POST", "/session", caps)["sessionId"]
        except Exception as e:  # noqa: BLE001 - any failure to start is "no browser here"
            self.close()
            raise BrowserUnavailable(f"chromium would not start a session: {e}") from e

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return json.loads(resp.read() or b"{}").get("value")
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"webdriver {method} {path}: {e.code} {e.read()[:500]!r}") from e

    def cmd(self, method: str, path: str, body: Any = None) -> Any:
        return self._call(method, f"/session/{self.session}{path}", body)

    def get(self, url: str) -> None:
        self.cmd("POST", "/url", {"url": url})

    def js(self, script: str, *args: Any) -> Any:
        return self.cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def console(self) -> list[dict[str, Any]]:
        return self.cmd("POST", "/se/log", {"type": "browser"}) or []

    def screenshot(self, path: Path) -> Path:
        Path(path).write_bytes(base64.b64decode(self.cmd("GET", "/screenshot")))
        return Path(path)

    def close(self) -> None:
        if getattr(self, "session", None):
            try:
                self.cmd("DELETE", "")
            except Exception:  # noqa: BLE001
                pass
            self.session = None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        # Chromium's helpers may still be writing the profile for a moment after the session ends
        for _ in range(50):
            shutil.rmtree(self.profile, ignore_errors=True)
            if not os.path.exists(self.profile):
                break
            time.sleep(0.1)
