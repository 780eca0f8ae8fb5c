#!/usr/bin/env python3
"""Reference for algoqueue-bench: a tuned Python consumer doing algoqueue's job for one algorithm.

confluent-kafka with batched consume, aiohttp at a fixed concurrency, one executemany and one SQLite commit
per poll batch (WAL, synchronous=NORMAL), offsets committed after the rows are durable. Needs
`pip install confluent-kafka aiohttp`. Prints `seconds=<first message consumed to last row written> rows=<n>`,
the same span algoqueue's summary reports.
"""
import argparse
import asyncio
import sqlite3
import time

import aiohttp
from confluent_kafka import Consumer, TopicPartition

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
  topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL, item INTEGER NOT NULL DEFAULT 0,
  algorithm TEXT NOT NULL, status TEXT NOT NULL, input TEXT, output TEXT, error TEXT, attempts INTEGER NOT NULL,
  duration_ms REAL, created_at TEXT NOT NULL,
  PRIMARY KEY (topic, partition, offset, item, algorithm))
"""


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--brokers", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--messages", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    first = None

    db = sqlite3.connect(args.database)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(SCHEMA)
    db.commit()
    consumer = Consumer({
        "bootstrap.servers": args.brokers, "group.id": args.group, "auto.offset.reset": "earliest",
        "enable.auto.commit": False, "enable.partition.eof": False,
    })
    consumer.subscribe([args.topic])
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    semaphore = asyncio.Semaphore(args.concurrency)
    done = 0
    async with aiohttp.ClientSession(connector=connector) as session:

        async def call(message):
            async with semaphore:
                t0 = time.monotonic()
                try:
                    async with session.post(args.url, data=message.value(),
                                            headers={"Content-Type": "application/json"}) as response:
                        body = await response.text()
                        status, output, error = ("ok", body, None) if response.status < 300 else (
                            "error", None, f"HTTP {response.status}")
                except Exception as exc:  # the row says what happened
                    status, output, error = "error", None, str(exc)
                return (message.topic(), message.partition(), message.offset(), 0, "reference", status,
                        message.value().decode(), output, error, 1, (time.monotonic() - t0) * 1000,
                        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))

        loop = asyncio.get_running_loop()
        while done < args.messages:
            messages = await loop.run_in_executor(None, consumer.consume, 1000, 0.1)
            messages = [m for m in messages if m.error() is None]
            if not messages:
                continue
            first = first or time.monotonic()
            rows = await asyncio.gather(*(call(m) for m in messages))
            db.executemany("INSERT OR REPLACE INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
            db.commit()
            positions = {}
            for m in messages:
                key = (m.topic(), m.partition())
                positions[key] = max(positions.get(key, -1), m.offset() + 1)
            consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in positions.items()], asynchronous=True)
            done += len(messages)
    seconds = time.monotonic() - first
    consumer.close()
    db.close()
    print(f"seconds={seconds} rows={done}")


asyncio.run(main())
