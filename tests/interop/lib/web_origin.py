#!/usr/bin/env python3
"""A web server for the hcbridge -H interop test (Python's http.server, as Debian ships it). Prints "port N" once it
listens on 127.0.0.1 (an ephemeral port). Routes:
  /bytes?n=N     N bytes of the test pattern, Content-Length
  /sha (POST)    {"length":n,"sha256":hex} of the body (Content-Length or chunked)
  /echo (POST)   the body back
  /headers       the request line and headers it got, as JSON
  /nocontent     204
  /redirect      302 to /elsewhere (a proxy must pass it on, not follow it)
  /sse           3 server-sent events, 400 ms apart, no Content-Length (ends at close)
Anything else: 404."""
import hashlib
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def pattern(n):
    return bytes(((i * 31 + (i >> 8)) & 0xFF) for i in range(n))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("web_origin: " + (fmt % args) + "\n")

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def send(self, status, data=b"", ctype="application/octet-stream", extra=()):
        self.send_response(status)
        for k, v in extra:
            self.send_header(k, v)
        if status not in (204, 304):
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path.endswith("/bytes"):
            return self.send(200, pattern(int(parse_qs(url.query)["n"][0])))
        if url.path.endswith("/headers"):
            got = {"target": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}}
            return self.send(200, json.dumps(got).encode(), "application/json")
        if url.path.endswith("/nocontent"):
            return self.send(204)
        if url.path.endswith("/redirect"):
            return self.send(302, b"", extra=[("Location", "/elsewhere")])
        if url.path.endswith("/sse"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            for i in range(3):
                self.wfile.write(f"data: event {i}\n\n".encode())
                self.wfile.flush()
                time.sleep(0.4)
            self.close_connection = True
            return
        self.send(404, b"not here", "text/plain")

    def do_POST(self):
        data = self.body()
        if self.path.endswith("/sha"):
            got = {"length": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            return self.send(200, json.dumps(got).encode(), "application/json")
        if self.path.endswith("/echo"):
            return self.send(200, data)
        self.send(404, b"not here", "text/plain")


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"port {server.server_address[1]}", flush=True)
    server.serve_forever()
