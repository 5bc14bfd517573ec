#!/usr/bin/env python3
"""Open-loop durable writes at a fixed offered rate, the send time inside each document.

    openloop.py KIND HOST PORT --template DOC.json --rate R --seconds T --prefix P [--sha SHA]

KIND is ctgd, redis, postgres or tarantool (wire.py says how each write is made). Write i is
due at start + i/R whatever happened to the earlier ones (open loop): it goes out on an idle
connection of a pool (4 opened beforehand, up to 64, a new one opened only when every other is
waiting for an answer), so that a slow answer never delays the next write. Each document is
the template with id "<P>-<i>" and `"extra":{"sent_ns":<CLOCK_MONOTONIC ns>}` appended, the
time taken just before the bytes are handed to the socket; subscriber.py subtracts it from the
time the notification arrives. Prints one JSON line: {"sent", "ok", "failed", "late",
"max_lag_ms", "connections"} where late counts the writes that left more than 5 ms after they
were due and max_lag_ms is the worst (a loaded generator: the offered rate was not quite
steady; the latency itself is measured from the actual send).
"""
import argparse
import asyncio
import json
import re
import sys
import time

import wire

POOL_START, POOL_MAX = 4, 64


async def run(args):
    template = open(args.template, "rb").read().strip()
    if not template.endswith(b"}") or b'"extra"' in template:
        sys.exit("openloop: the template must be a JSON object without extra")
    cls = wire.WRITERS[args.kind]
    options = {"sha": args.sha} if args.sha else {}
    idle, opened = [], 0
    freed = asyncio.Event()

    async def new_conn():
        nonlocal opened
        opened += 1
        conn = cls(args.host, args.port, **options)
        await conn.open()
        return conn

    for _ in range(POOL_START):
        idle.append(await new_conn())

    total = int(args.rate * args.seconds)
    stats = {"sent": 0, "ok": 0, "failed": 0, "late": 0, "max_lag_ms": 0.0}
    errors = []

    async def one(conn, i):
        key = "%s-%d" % (args.prefix, i)
        body = re.sub(rb'"id":"[^"]*"', b'"id":"%s"' % key.encode(), template, count=1)
        doc = body[:-1] + b',"extra":{"sent_ns":%d}}' % time.monotonic_ns()
        try:
            await conn.write(key, doc)
            stats["ok"] += 1
        except Exception as e:  # counted and shown; the run goes on
            stats["failed"] += 1
            if len(errors) < 3:
                errors.append(str(e))
        idle.append(conn)
        freed.set()

    tasks = []
    start = time.monotonic_ns() + 50_000_000
    interval = 1e9 / args.rate
    for i in range(total):
        due = start + int(i * interval)
        delay = (due - time.monotonic_ns()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)
        while not idle:
            if opened < POOL_MAX:
                idle.append(await new_conn())
            else:
                freed.clear()
                await freed.wait()
        lag = time.monotonic_ns() - due
        stats["max_lag_ms"] = max(stats["max_lag_ms"], lag / 1e6)
        if lag > 5_000_000:
            stats["late"] += 1
        stats["sent"] += 1
        tasks.append(asyncio.ensure_future(one(idle.pop(), i)))
    await asyncio.gather(*tasks)
    for conn in idle:
        conn.close()
    stats["connections"] = opened
    if errors:
        stats["errors"] = errors
    print(json.dumps(stats), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=sorted(wire.WRITERS))
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--template", required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--sha")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
