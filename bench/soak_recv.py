#!/usr/bin/env python3
"""bench/soak.sh's helpers on loopback, standard library only.

    soak_recv.py sink  --port P --log FILE [--fail-flag FILE]
    soak_recv.py proxy --port P --log FILE --upstream-file FILE

Both print `listening on http://127.0.0.1:PORT` once bound (--port 0 picks a free port;
a restarted sink is given the port it had, so that mistgate's URLs stay right).

sink: a delivery receiver. Every POST is appended to FILE as one JSON line
`{"t": unix_us, "path", "id", "s": status, "body"}` (`id` is X-Mistgate-Delivery-Id or,
for Standard Webhooks targets, webhook-id), written with one write(2) on an O_APPEND
descriptor before the answer goes out: what the sink acknowledged survives a SIGKILL of
the sink (the page cache keeps it), so its counts survive its restarts. While the file
--fail-flag exists, POSTs are answered 503 (logged with `"s": 503`), as a receiver that
is up but failing.

proxy: sits between the simulators and mistgate, so that what mistgate acknowledged is
known independently of mistgate's own records. Each POST is forwarded to the address in
--upstream-file (read per request: mistgate listens on a new port after each restart);
a 2xx answer is appended to FILE as `{"t", "path", "s", "resp", "body"}` before it is
passed back, so every event a simulator saw acknowledged is in FILE. No answer from
mistgate (killed, restarting) is a 502 to the simulator, which retries like Mist.
"""

import argparse
import http.client
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "host",
    "content-length",
}


class Log:
    """Appends whole lines with one write(2) each (O_APPEND), under a lock."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.lock = threading.Lock()

    def append(self, record):
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        with self.lock:
            view = memoryview(line)
            while view:
                n = os.write(self.fd, view)
                view = view[n:]


def now_us():
    return time.time_ns() // 1000


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "soak-recv"

    def log_message(self, *args):  # quiet: the logs are the files
        pass

    def read_body(self):
        length = self.headers.get("Content-Length")
        if length is None:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                return b"".join(chunks)
            return b""
        return self.rfile.read(int(length))

    def answer(self, status, body, content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.answer(200, b'{"ok":true}')


class SinkHandler(Handler):
    def do_POST(self):
        body = self.read_body()
        cfg = self.server.cfg
        failing = cfg.fail_flag is not None and os.path.exists(cfg.fail_flag)
        status = 503 if failing else 200
        delivery = self.headers.get("X-Mistgate-Delivery-Id") or self.headers.get("webhook-id")
        self.server.log.append(
            {
                "t": now_us(),
                "path": self.path,
                "id": delivery,
                "s": status,
                "body": body.decode("utf-8", "replace") if status == 200 else "",
            }
        )
        self.answer(status, b'{"ok":true}' if status == 200 else b'{"error":"failing on purpose"}')


local = threading.local()


class ProxyHandler(Handler):
    def upstream(self):
        with open(self.server.cfg.upstream_file, encoding="utf-8") as f:
            addr = f.read().strip()
        host, _, port = addr.rpartition(":")
        conn = getattr(local, "conn", None)
        if conn is None or getattr(local, "addr", None) != addr:
            if conn is not None:
                conn.close()
            conn = http.client.HTTPConnection(host, int(port), timeout=30)
            local.conn, local.addr = conn, addr
        return conn

    def do_POST(self):
        body = self.read_body()
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        try:
            conn = self.upstream()
            conn.request("POST", self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            status = resp.status
            ctype = resp.getheader("Content-Type", "application/json")
            if resp.will_close:
                conn.close()
                local.conn = None
        except (OSError, http.client.HTTPException) as e:
            conn = getattr(local, "conn", None)
            if conn is not None:
                conn.close()
            local.conn = None
            self.server.failures += 1
            msg = json.dumps({"error": "upstream", "detail": str(e)}).encode()
            self.answer(502, msg)
            return
        if 200 <= status < 300:
            self.server.log.append(
                {
                    "t": now_us(),
                    "path": self.path,
                    "s": status,
                    "resp": data.decode("utf-8", "replace"),
                    "body": body.decode("utf-8", "replace"),
                }
            )
        self.answer(status, data, ctype)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["sink", "proxy"])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--log", required=True)
    p.add_argument("--fail-flag")
    p.add_argument("--upstream-file")
    cfg = p.parse_args()
    if cfg.mode == "proxy" and not cfg.upstream_file:
        p.error("proxy needs --upstream-file")
    handler = SinkHandler if cfg.mode == "sink" else ProxyHandler
    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 256
    server = ThreadingHTTPServer(("127.0.0.1", cfg.port), handler)
    server.cfg = cfg
    server.log = Log(cfg.log)
    server.failures = 0
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
