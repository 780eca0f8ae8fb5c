#!/usr/bin/env python3
"""Prints the digits data set as JSON lines, one input per row: {"id": 0, "features": [64 numbers], "label": 0}.

"label" is the true digit: the model ignores it, and it stays in the stored input, so sqlite3 can measure
accuracy afterwards. --bad N appends N inputs the model must refuse (for seeing error rows). --rows prints each
input as its 64 numbers alone (a tensor row, for model servers: examples/model-servers).

    python3 examples/models/dataset.py > digits.jsonl
"""
import argparse
import json
import sys

from digits import data_set


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bad", type=int, default=0, help="inputs with a wrong feature count to append")
    parser.add_argument("--rows", action="store_true", help="print each input as its 64 numbers alone")
    arguments = parser.parse_args()
    features, labels = data_set()
    for row, (vector, label) in enumerate(zip(features, labels)):
        value = vector if arguments.rows else {"id": row, "features": vector, "label": label}
        print(json.dumps(value, separators=(",", ":")))
    for extra in range(arguments.bad):
        print(json.dumps({"id": len(labels) + extra, "features": [0] * 3, "label": None}, separators=(",", ":")))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
