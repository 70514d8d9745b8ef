"""A stand-in S3 endpoint for tests/test_explain.py: every request gets S3's 403 AccessDenied with
the enriched message in $DENIED_MESSAGE (the XML shape of S3's error responses). Prints its port."""

import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

MESSAGE = os.environ["DENIED_MESSAGE"]


class Handler(BaseHTTPRequestHandler):
    def _deny(self) -> None:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>'
            + escape(MESSAGE)
            + "</Message><RequestId>4442587FB7D0A2F9</RequestId><HostId>"
            "7vLxRaqqGvl2Y1hXmEvZKZbm3zE0MQyYfBn5Pb8s1vPCoM0s4MzP4yXiLnYb3Dq1jbmWLNaQtYw=</HostId></Error>"
        ).encode()
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(403)
        self.send_header("Content-Type", "application/xml")
        self.send_header("x-amz-request-id", "4442587FB7D0A2F9")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _deny

    def log_message(self, *args: object) -> None:
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    pass
sys.exit(0)
