#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A recording HTTP backend for the push tests (stdlib only).

Every request is recorded in DIR as NNNN-<ns>.json (method, path, query,
headers, the status answered) and NNNN-<ns>.body. What it answers is read
from DIR/mode before each request (or --mode):
  200 | 400 | 503          that status
  429 [SECONDS]            429 with Retry-After (default 1)
  hang                     read the request, never answer (until the client
                           goes away)
  exit                     go away at the next request, before recording or
                           answering it (the client sees the connection close)
The port is written to --port-file; --port reuses one (come back on the
same port after the test killed the server: "go away and come back").

  fakebackend.py --dir D --port-file F [--port P] [--mode 200]
  fakebackend.py decode BODY      # a gzip'ed pprof as protoc's text
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LOCK = threading.Lock()
COUNT = [0]


def decode(path):
    raw = open(path, "rb").read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return subprocess.run(
        ["protoc", "--decode=perftools.profiles.Profile", "-I", os.path.join(ROOT, "docs"),
         os.path.join(ROOT, "docs", "profile.proto")],
        input=raw, capture_output=True, check=True).stdout.decode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def mode(self):
        try:
            with open(os.path.join(self.server.dir, "mode")) as f:
                m = f.read().split()
                if m:
                    return m
        except OSError:
            pass
        return self.server.mode.split()

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n) if n else b""
        m = self.mode()
        if m[0] == "exit":
            os._exit(0)
        status = 0 if m[0] == "hang" else int(m[0])
        u = urllib.parse.urlsplit(self.path)
        with LOCK:
            COUNT[0] += 1
            base = os.path.join(self.server.dir, "%06d-%d" % (COUNT[0], time.time_ns()))
        rec = {"method": self.command, "path": u.path,
               "query": dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True)),
               "raw_query": u.query, "headers": {k.lower(): v for k, v in self.headers.items()},
               "status": status, "len": len(body), "time_ns": time.time_ns()}
        with open(base + ".body", "wb") as f:
            f.write(body)
        with open(base + ".json.tmp", "w") as f:
            json.dump(rec, f)
        os.rename(base + ".json.tmp", base + ".json")
        if m[0] == "hang":
            # the client times out and closes; then this thread ends
            self.connection.settimeout(600)
            try:
                while self.connection.recv(4096):
                    pass
            except OSError:
                pass
            self.close_connection = True
            return
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", m[1] if len(m) > 1 else "1")
        msg = b"ok" if status < 300 else b"refused by fakebackend"
        self.send_header("Content-Length", str(len(msg)))
        self.end_headers()
        self.wfile.write(msg)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "decode":
        sys.stdout.write(decode(sys.argv[2]))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--mode", default="200")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.dir = a.dir
    srv.mode = a.mode
    # the count goes on after a restart: names stay in arrival order
    COUNT[0] = len([f for f in os.listdir(a.dir) if f.endswith(".json")])
    with open(a.port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
