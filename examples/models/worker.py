#!/usr/bin/env python3
"""The digits classifier as an algoqueue worker process (algorithm kind `process`): JSON lines on stdin and stdout.

Each request line is {"id": 7, "input": {"features": [64 numbers], ...}}; the answer line is
{"id": 7, "result": {"label": 3, "probabilities": [10 numbers]}} or {"id": 7, "error": "..."}. With
micro-batches (batch.max_items > 1) "input" is a list and the result a list of as many answers, a bad input's
entry being {"error": "..."}. Several requests are scored at once on a thread pool (--threads). The model is
trained once at start (about a second); "ready" goes to stderr, which algoqueue logs.

    echo '{"id": 1, "input": {"features": [0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0, 0, 3, 15, 2, 0, 11, 8, 0, 0, 4, 12, 0, 0, 8, 8, 0, 0, 5, 8, 0, 0, 9, 8, 0, 0, 4, 11, 0, 1, 12, 7, 0, 0, 2, 14, 5, 10, 12, 0, 0, 0, 0, 6, 13, 10, 0, 0, 0]}}' \
      | python3 examples/models/worker.py
"""
import argparse
import json
import signal
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from digits import predict_many, train

write_lock = threading.Lock()


def answer(message):
    line = json.dumps(message, separators=(",", ":"))
    with write_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def handle(model, request):
    try:
        data = request.get("input")
        if isinstance(data, list):  # a micro-batch: a list of answers in the same order
            answer({"id": request["id"], "result": predict_many(model, data)})
            return
        (single,) = predict_many(model, [data])
        if "error" in single:
            answer({"id": request["id"], "error": single["error"]})
        else:
            answer({"id": request["id"], "result": single})
    except Exception as error:  # every failure is an answer, never a crash
        answer({"id": request.get("id"), "error": f"{type(error).__name__}: {error}"})


def main():
    # Stop on SIGTERM even when started by a parent that ignores or blocks it (both survive exec).
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
    parser = argparse.ArgumentParser(description="The digits classifier as an algoqueue worker process.")
    parser.add_argument("--threads", type=int, default=4, help="requests scored at once (default 4)")
    arguments = parser.parse_args()
    model = train()
    print(f"digits worker {os.getpid()} ready", file=sys.stderr, flush=True)
    with ThreadPoolExecutor(max_workers=arguments.threads) as pool:
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            try:
                request = json.loads(line)
            except ValueError:
                print(f"not a JSON request: {line[:80]}", file=sys.stderr, flush=True)
                continue
            pool.submit(handle, model, request)


if __name__ == "__main__":
    main()
