"""A real browser runs the built-in echo page: headless Chromium opens http://.../?selftest (and
https:// over --tls-listen), the page echoes a text message with non-ASCII characters and a
binary one, and writes PASS or FAIL into #selftest, which this test reads over the DevTools
protocol (a debugging port on 127.0.0.1 only). Skipped, saying why, when chromium is absent."""

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.request

from wsharness import ServerTestCase, bound
from test_tls import shared_pki, tls_args

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

try:
    import websockets  # Debian's python3-websockets: the DevTools protocol speaks WebSocket
except ImportError:  # pragma: no cover
    websockets = None


class Browser:
    """One headless Chromium with a DevTools port on 127.0.0.1, killed by stop()."""

    def __init__(self, url):
        self.profile = tempfile.mkdtemp(prefix="wsring-chromium-")
        args = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-extensions", "--disable-background-networking", "--ignore-certificate-errors",
                "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
                "--user-data-dir=" + self.profile, url]
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)

    def devtools_port(self, timeout):
        path = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError("chromium exited with status %s" % self.process.returncode)
            try:
                with open(path) as f:
                    first = f.readline().strip()
                if first:
                    return int(first)
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        raise AssertionError("chromium wrote no DevToolsActivePort in %.0f s" % timeout)

    def page_socket(self, port, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=5) as r:
                pages = [t for t in json.load(r) if t.get("type") == "page"]
            if pages:
                return pages[0]["webSocketDebuggerUrl"]
            time.sleep(0.1)
        raise AssertionError("chromium shows no page")

    def read_selftest(self, timeout):
        """The text of #selftest once it is no longer RUNNING (or what it is at the deadline)."""
        port = self.devtools_port(timeout)
        url = self.page_socket(port, timeout)

        async def poll():
            async with websockets.connect(url, max_size=None) as ws:
                deadline = time.monotonic() + timeout
                text, number = None, 0
                while time.monotonic() < deadline:
                    number += 1
                    expression = "(document.getElementById('selftest') || {}).textContent || ''"
                    await ws.send(json.dumps({"id": number, "method": "Runtime.evaluate",
                                              "params": {"expression": expression, "returnByValue": True}}))
                    while True:
                        reply = json.loads(await asyncio.wait_for(ws.recv(), timeout))
                        if reply.get("id") == number:
                            break
                    text = reply.get("result", {}).get("result", {}).get("value")
                    if text and text != "RUNNING":
                        return text
                    await asyncio.sleep(0.1)
                return text

        return asyncio.run(poll())

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)


@unittest.skipIf(CHROMIUM is None, "chromium is not installed (make test installs the chromium package)")
@unittest.skipIf(websockets is None, "python3-websockets is not installed")
class BrowserSelfTest(ServerTestCase):
    shared_server = False

    def run_page(self, url):
        browser = Browser(url)
        self.addCleanup(browser.stop)
        return browser.read_selftest(bound(30))

    def test_page_echoes_text_and_binary(self):
        server = self.start_server()
        verdict = self.run_page("http://%s/?selftest" % server.host_header())
        self.assertTrue(verdict and verdict.startswith("PASS"), "page says %r\n%s" % (verdict, server.log_tail()))
        self.assertIn("ws://", verdict)

    def test_page_echoes_over_tls(self):
        pki = shared_pki()
        server = self.start_server(*tls_args(pki))
        verdict = self.run_page("https://%s/?selftest" % server.tls_host_header())
        self.assertTrue(verdict and verdict.startswith("PASS"), "page says %r\n%s" % (verdict, server.log_tail()))
        self.assertIn("wss://", verdict)


if __name__ == "__main__":
    unittest.main()
