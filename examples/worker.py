#!/usr/bin/env python3
"""An algoqueue worker process: JSON lines on stdin and stdout.

algoqueue writes one request per line, {"id": 7, "input": <JSON>} (with "key" and "headers" when the message
has a key or headers passed on), and reads one answer per line,
{"id": 7, "result": <JSON>} or {"id": 7, "error": "message"}, in any order. This worker handles several
requests at once on a thread pool, as a model server would.

The "model" here counts words and characters of the input's "text". For trying out failure handling, an input
may also hold "sleep" (seconds to take) and "fail" (true: answer with an error). Run it by hand:

    echo '{"id": 1, "input": {"text": "hello world"}}' | python3 examples/worker.py
"""
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

write_lock = threading.Lock()


def answer(message):
    line = json.dumps(message, separators=(",", ":"))
    with write_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def predict(data):
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        raise ValueError('input must be an object with a "text" string')
    slept = None
    if data.get("sleep"):
        began = time.time()
        time.sleep(float(data["sleep"]))
        slept = [began, time.time()]  # when this request slept: requests held at once overlap
    if data.get("fail"):
        raise RuntimeError("failing on purpose")
    text = data["text"]
    result = {"words": len(text.split()), "chars": len(text), "pid": os.getpid()}
    if slept:
        result["slept"] = slept
    return result


def handle(request):
    try:
        result = predict(request.get("input"))
        # The message key and the headers algoqueue was told to pass on (pipeline.pass_headers), when there are any.
        for field in ("key", "headers"):
            if field in request:
                result[field] = request[field]
        answer({"id": request["id"], "result": result})
    except Exception as error:  # every failure is an answer, never a crash
        answer({"id": request["id"], "error": str(error)})


def main():
    print(f"worker {os.getpid()} ready", file=sys.stderr, flush=True)
    with ThreadPoolExecutor(max_workers=8) as pool:
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            try:
                request = json.loads(line)
            except ValueError:
                print(f"not a JSON request: {line[:80]}", file=sys.stderr, flush=True)
                continue
            pool.submit(handle, request)


if __name__ == "__main__":
    main()
