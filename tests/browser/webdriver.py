# SPDX-License-Identifier: MIT
"""A minimal WebDriver client for chromedriver (standard library only) and
a headless Chromium session with no network: the browser tests and the
report.html benchmark share it."""
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request


class Driver:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"
        self.sid = None

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.loads(r.read() or b"{}").get("value")
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"{method} {path}: {e.read().decode()[:300]}") from None

    def s(self, method, path, body=None):
        return self.call(method, f"/session/{self.sid}{path}", body)

    def js(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script, "args": list(args)})


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]



class Chromium:
    """headless Chromium under chromedriver; every request of the page would
    go to a dead proxy, so nothing leaves the machine"""

    def __init__(self, width=1400, height=1100):
        self.driver_bin, self.browser = shutil.which("chromedriver"), shutil.which("chromium")
        if not self.driver_bin or not self.browser:
            raise RuntimeError("chromium or chromedriver missing (Debian packages chromium, chromium-driver; "
                               "tools/install-deps.sh --test)")
        self.profile = tempfile.mkdtemp(prefix="ap-chromium-")
        port = free_port()
        self.proc = subprocess.Popen([self.driver_bin, f"--port={port}"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.d = Driver(port)
        for _ in range(100):
            try:
                if self.d.call("GET", "/status").get("ready"):
                    break
            except (OSError, RuntimeError):
                pass
            time.sleep(0.1)
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": self.browser,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", f"--window-size={width},{height}",
                     f"--user-data-dir={self.profile}", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--disable-default-apps",
                     "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]}}}}
        self.d.sid = self.d.call("POST", "/session", caps)["sessionId"]

    def open(self, path, timeout=60):
        """load file path and wait for window.AP.ready; the page's window.AP"""
        self.d.s("POST", "/url", {"url": "file://" + path})
        end = time.time() + timeout
        while time.time() < end:
            if self.d.js("return !!(window.AP && window.AP.ready)"):
                return self.d.js("return window.AP")
            time.sleep(0.05)
        return None

    def close(self):
        try:
            if self.d.sid:
                self.d.call("DELETE", f"/session/{self.d.sid}")
        except Exception:  # noqa: BLE001 - closing anyway
            pass
        self.proc.terminate()
        self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)
