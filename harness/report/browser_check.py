#!/usr/bin/env python3
"""browser_check.py: open a report's index.html in headless Chromium the way a reader would, and
check it (python3 stdlib only; talks the DevTools protocol over a minimal WebSocket client).

usage: browser_check.py INDEX.html --rows N [--shots DIR] [--chromium PATH]

Checks: the page loads from the file system with no console errors, no uncaught exceptions
and no failed requests; every <img> loaded (complete, non-zero natural size); the conformance
matrix (table#matrix) has exactly N test rows; nothing fetched from the network. Keeps a
screenshot at 1280 px (DIR/report-1280.png) and at phone width (DIR/report-390.png), the page
down to the matrix's end (report-*-matrix.png), the deviation table and the sections of
several machines (report-<width>-<id>.png), and checks
that at phone width the page does not scroll sideways (wide tables scroll in their own box).
Exit 0 all good, 1 a check failed (one line per problem), 2 bad usage / no Chromium, 77 skip.
"""
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request


class WS:
    """Just enough of RFC 6455 for the DevTools protocol: text frames, client masking."""

    def __init__(self, url):
        assert url.startswith("ws://")
        hostport, path = url[5:].split("/", 1)
        host, port = hostport.split(":")
        self.s = socket.create_connection((host, int(port)), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall((f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        resp = b""
        while b"\r\n\r\n" not in resp:
            chunk = self.s.recv(4096)
            if not chunk:
                raise OSError("websocket handshake: connection closed")
            resp += chunk
        if b" 101 " not in resp.split(b"\r\n", 1)[0]:
            raise OSError("websocket handshake refused: " + resp.split(b"\r\n", 1)[0].decode())
        self.buf = resp.split(b"\r\n\r\n", 1)[1]

    def send(self, text):
        data = text.encode()
        n = len(data)
        head = bytes([0x81])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
        else:
            head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
        mask = os.urandom(4)
        self.s.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(1 << 16)
            if not chunk:
                raise OSError("websocket closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        msg = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = int.from_bytes(self._read(2), "big")
            elif n == 127:
                n = int.from_bytes(self._read(8), "big")
            payload = self._read(n)
            op = b0 & 0x0F
            if op == 8:
                raise OSError("websocket closed by the browser")
            if op in (0, 1, 2):
                msg += payload
                if b0 & 0x80:
                    return msg.decode()


class CDP:
    def __init__(self, ws):
        self.ws, self.next_id, self.events = ws, 0, []

    def call(self, method, **params):
        self.next_id += 1
        my = self.next_id
        self.ws.s.settimeout(60)
        self.ws.send(json.dumps({"id": my, "method": method, "params": params}))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == my:
                if "error" in m:
                    raise OSError(f"{method}: {m['error']}")
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def wait_event(self, name, timeout):
        end = time.time() + timeout
        while time.time() < end:
            for e in self.events:
                if e["method"] == name:
                    return e
            self.ws.s.settimeout(max(0.1, end - time.time()))
            try:
                m = json.loads(self.ws.recv())
            except socket.timeout:
                break
            if "method" in m:
                self.events.append(m)
        return None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main(argv):
    args = {"--rows": None, "--shots": None, "--chromium": None}
    pos = []
    i = 0
    while i < len(argv):
        if argv[i] in args and i + 1 < len(argv):
            args[argv[i]] = argv[i + 1]
            i += 2
        elif argv[i].startswith("-"):
            print(f"browser_check: unknown option {argv[i]}", file=sys.stderr)
            return 2
        else:
            pos.append(argv[i])
            i += 1
    if len(pos) != 1 or args["--rows"] is None:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    page = os.path.abspath(pos[0])
    rows = int(args["--rows"])
    chromium = args["--chromium"] or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("browser_check: no chromium on PATH (scripts/install-deps.sh installs it); skipped")
        return 77
    profile = tempfile.mkdtemp(prefix="lcreport-chromium-")
    port = free_port()
    proc = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-extensions", f"--user-data-dir={profile}",
         "--remote-debugging-address=127.0.0.1", f"--remote-debugging-port={port}",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    problems = []
    try:
        targets = None
        for _ in range(200):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as r:
                    targets = [t for t in json.load(r) if t.get("type") == "page"]
                if targets:
                    break
            except OSError:
                pass
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        if not targets:
            print("browser_check: chromium did not start its DevTools endpoint", file=sys.stderr)
            return 2
        cdp = CDP(WS(targets[0]["webSocketDebuggerUrl"]))
        for domain in ("Page", "Runtime", "Log", "Network"):
            cdp.call(f"{domain}.enable")
        shots = {}
        for width, height in ((1280, 900), (390, 844)):
            cdp.events = []
            cdp.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                     deviceScaleFactor=1, mobile=width < 700)
            cdp.call("Page.navigate", url="file://" + page)
            if not cdp.wait_event("Page.loadEventFired", 30):
                problems.append(f"{width}px: the page did not finish loading in 30 s")
                continue
            time.sleep(0.3)
            cdp.wait_event("__drain__", 0.2)
            for e in cdp.events:
                m, p = e["method"], e.get("params", {})
                if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                    problems.append(f"{width}px: console error: "
                                    + " ".join(str(a.get("value", a.get("description", "")))
                                               for a in p.get("args", [])))
                elif m == "Runtime.exceptionThrown":
                    problems.append(f"{width}px: uncaught exception: "
                                    + p.get("exceptionDetails", {}).get("text", "?"))
                elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                    problems.append(f"{width}px: browser log error: {p['entry'].get('text')} "
                                    f"{p['entry'].get('url', '')}")
                elif m == "Network.loadingFailed":
                    problems.append(f"{width}px: a request failed: {p.get('errorText')}")
                elif m == "Network.requestWillBeSent":
                    url = p.get("request", {}).get("url", "")
                    if not url.startswith(("file://", "data:", "about:")):
                        problems.append(f"{width}px: the page fetched {url} (must be static)")
            res = cdp.call("Runtime.evaluate", returnByValue=True, expression="""(() => {
                const imgs = [...document.images];
                const m = document.querySelector('table#matrix');
                return {images: imgs.length,
                        broken: imgs.filter(i => !i.complete || i.naturalWidth === 0)
                                    .map(i => i.getAttribute('src')),
                        rows: m ? m.querySelectorAll('tbody tr.test').length : -1,
                        scripts: document.scripts.length,
                        sideways: document.documentElement.scrollWidth > window.innerWidth + 1,
                        title: document.title};
            })()""")["result"]["value"]
            if res["broken"]:
                problems.append(f"{width}px: images did not load: {', '.join(res['broken'])}")
            if res["rows"] != rows:
                problems.append(f"{width}px: the matrix has {res['rows']} test rows, want {rows}")
            if res["scripts"]:
                problems.append(f"{width}px: the page has {res['scripts']} scripts (want none)")
            if res["sideways"]:
                problems.append(f"{width}px: the page scrolls sideways (something is too wide)")
            shot = cdp.call("Page.captureScreenshot", format="png")["data"]
            shots[width] = base64.b64decode(shot)
            # and the whole page down to the end of the matrix, for a reader's look
            box = cdp.call("Runtime.evaluate", returnByValue=True, expression=
                           "(() => { const r = document.querySelector('table#matrix')"
                           ".getBoundingClientRect(); return r.bottom + window.scrollY; })()")
            h = min(int(box["result"].get("value") or 2000) + 20, 6000)
            full = cdp.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                            clip={"x": 0, "y": 0, "width": width, "height": h, "scale": 1})
            shots[f"{width}-matrix"] = base64.b64decode(full["data"])
            # the deviation table and the several-machines sections, each on its own shot
            for sec in ("deviations", "bench-machines", "sweep-machines", "http-machines"):
                box = cdp.call("Runtime.evaluate", returnByValue=True, expression=
                               f"(() => {{ const e = document.getElementById('{sec}');"
                               " if (!e) return null; const r = e.getBoundingClientRect();"
                               " return [r.top + window.scrollY, r.height]; })()")
                v = box["result"].get("value")
                if v:
                    shot = cdp.call("Page.captureScreenshot", format="png",
                                    captureBeyondViewport=True,
                                    clip={"x": 0, "y": max(0, int(v[0]) - 10), "width": width,
                                          "height": min(int(v[1]) + 20, 5000), "scale": 1})
                    shots[f"{width}-{sec}"] = base64.b64decode(shot["data"])
            print(f"browser_check: {width}px: {res['images']} images loaded, "
                  f"{res['rows']} matrix rows, title '{res['title']}'")
        if args["--shots"]:
            os.makedirs(args["--shots"], exist_ok=True)
            for w, data in shots.items():
                with open(os.path.join(args["--shots"], f"report-{w}.png"), "wb") as f:
                    f.write(data)
        try:
            cdp.call("Browser.close")
        except OSError:
            pass
    finally:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)
    for p in problems:
        print(f"browser_check: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
