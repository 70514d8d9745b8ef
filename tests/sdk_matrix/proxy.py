"""A tiny forward HTTP proxy for the sdk-matrix tests, run inside the test's network namespace.

    ip netns exec NS python3 tests/sdk_matrix/proxy.py [--listen 127.0.0.1:3128]

- Absolute-form requests (``GET http://host/path HTTP/1.1``, any method) are forwarded, except
  those to 169.254.0.0/16, which get 502: a real proxy outside the task cannot reach the task's
  link-local endpoints (agent, IMDS), so an SDK that sends its credentials request through a
  proxy fails there.
- CONNECT is refused (405): the tests speak plain HTTP.
- Every request is counted per host (``host:port``); ``GET /__stats`` (origin-form, straight to
  the proxy) answers the counts as JSON, ``GET /__reset`` zeroes them. One line per request goes
  to stdout too (``REQ METHOD host:port``). Prints ``READY`` once it listens. On stdin, a line
  ``stats`` is answered with ``STATS {json counts}`` on stdout, ``reset`` zeroes them first;
  closing stdin stops the proxy.

Standard library only; no third-party code runs in the namespace but the SDK under test.
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

LINK_LOCAL = ipaddress.ip_network("169.254.0.0/16")
HOP = {"connection", "proxy-connection", "keep-alive", "proxy-authorization", "te", "trailers", "transfer-encoding", "upgrade"}

COUNTS: dict[str, int] = {}
LOCK = threading.Lock()


def link_local(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")) in LINK_LOCAL
    except ValueError:
        return False


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sdk-matrix-proxy"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def _reply(self, status: int, body: bytes, ctype: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _count(self, key: str) -> None:
        with LOCK:
            COUNTS[key] = COUNTS.get(key, 0) + 1
        print(f"REQ {self.command} {key}", flush=True)

    def do_CONNECT(self) -> None:
        self._count(self.path)
        self.close_connection = True
        self._reply(405, b"CONNECT not supported by this test proxy\n")

    def _handle(self) -> None:
        if not self.path.startswith(("http://", "https://")):
            if self.path == "/__stats":
                with LOCK:
                    body = json.dumps(COUNTS).encode()
                return self._reply(200, body, "application/json")
            if self.path == "/__reset":
                with LOCK:
                    COUNTS.clear()
                return self._reply(200, b"{}", "application/json")
            return self._reply(400, b"not a proxy request\n")
        url = urlsplit(self.path)
        host = url.hostname or ""
        port = url.port or (443 if url.scheme == "https" else 80)
        self._count(f"{host}:{port}")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if link_local(host) or url.scheme != "http":
            return self._reply(502, b"Bad Gateway: the proxy cannot reach " + host.encode() + b"\n")
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        try:
            conn = http.client.HTTPConnection(host, port, timeout=10)
            conn.request(self.command, (url.path or "/") + (f"?{url.query}" if url.query else ""), body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError as exc:
            return self._reply(502, f"Bad Gateway: {exc}\n".encode())
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in HOP and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_PATCH = _handle


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", default="127.0.0.1:3128")
    args = ap.parse_args()
    host, port = args.listen.rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), Proxy)
    server.daemon_threads = True
    print("READY", flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for line in sys.stdin:  # until the test closes our stdin
        cmd = line.strip()
        with LOCK:
            if cmd == "reset":
                COUNTS.clear()
            if cmd in ("stats", "reset"):
                print("STATS " + json.dumps(COUNTS), flush=True)
    server.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
