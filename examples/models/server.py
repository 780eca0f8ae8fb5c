#!/usr/bin/env python3
"""The digits classifier as an HTTP JSON endpoint (algorithm kind `http`), batch-capable.

POST /predict with one input {"features": [64 numbers], ...} answers {"label": 3, "probabilities": [...]}
(HTTP 200), or HTTP 400 {"error": "..."} for a bad input. POST a JSON list of inputs (algoqueue's
micro-batches, --batch-max-items N) and the answer is a list of as many answers in the same order, a bad
input's entry being {"error": "..."}: the list is scored as one matrix. GET /health answers 200 once the
model is trained. The first line on stdout is the endpoint's URL (with --port 0 the system picks the port):

    python3 examples/models/server.py --port 8090
    # http://127.0.0.1:8090/predict
"""
import argparse
import json
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from digits import predict_many, train

MODEL = None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: algoqueue reuses connections

    def send_json(self, status, value):
        body = json.dumps(value, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/health":
            self.send_json(200, {"status": "ok"})
        else:
            self.send_json(404, {"error": f"no such path: {self.path} (POST /predict)"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path != "/predict":
            self.send_json(404, {"error": f"no such path: {self.path} (POST /predict)"})
            return
        try:
            data = json.loads(body)
        except ValueError:
            self.send_json(400, {"error": "the body is not JSON"})
            return
        if isinstance(data, list):
            self.send_json(200, predict_many(MODEL, data))
            return
        (single,) = predict_many(MODEL, [data])
        self.send_json(400 if "error" in single else 200, single)

    def log_message(self, format, *args):  # quiet: one line per call would drown the output
        pass


def main():
    # Stop on SIGTERM even when started by a parent that ignores or blocks it (both survive exec).
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
    global MODEL
    parser = argparse.ArgumentParser(description="The digits classifier as a batch-capable HTTP endpoint.")
    parser.add_argument("--port", type=int, default=8090, help="port on 127.0.0.1 (0: any free port)")
    arguments = parser.parse_args()
    MODEL = train()
    server = ThreadingHTTPServer(("127.0.0.1", arguments.port), Handler)
    server.daemon_threads = True
    print(f"http://127.0.0.1:{server.server_address[1]}/predict", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
