#!/usr/bin/env python3
"""One subscriber of a server's change notifications, for scripts/bench.

    subscriber.py KIND HOST PORT [--expect N] [--idle SECONDS] [--raw FILE]

KIND is ctgd (its nanomsg PUB socket), redis (SUBSCRIBE ctg), postgres (LISTEN ctg) or
tarantool (CALL subscribe, which box.session.push-es every committed document). It prints
"ready" once its subscription is live, then receives until it has N timed notifications
(--expect), nothing came for --idle seconds after the first one, or SIGTERM/SIGINT; then it
prints one JSON line:

    {"count": notifications, "timed": those carrying "sent_ns", "p50_us", "p99_us", "p999_us",
     "max_us"}

A notification is timed when its payload holds `"sent_ns":<CLOCK_MONOTONIC ns>` (openloop.py
puts the send time there, in the document's `extra`): its latency is the time recv() returned
it minus that. Percentiles are nearest-rank.
"""
import argparse
import json
import math
import re
import signal
import sys
import time

import wire

SENT_NS = re.compile(rb'"sent_ns":(\d+)')


def percentile(ordered, p):
    if not ordered:
        return None
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["ctgd", "redis", "postgres", "tarantool"])
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--expect", type=int, default=0)
    parser.add_argument("--idle", type=float, default=0)
    parser.add_argument("--raw", help="also write each timed notification: sent_ns latency_us")
    args = parser.parse_args()

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    last = [None]

    def stop():
        if stopping:
            return True
        return bool(args.idle and last[0] and time.monotonic() - last[0] > args.idle)

    def ready():
        print("ready", flush=True)

    host, port = args.host, args.port
    if args.kind == "ctgd":
        source = wire.ctgd_events(host, port, ready, stop)
    elif args.kind == "redis":
        source = wire.redis_messages(host, port, "ctg", ready, stop)
    elif args.kind == "postgres":
        source = wire.pg_notifications(host, port, "bench", "postgres", "ctg", ready, stop)
    else:
        source = wire.tarantool_pushes(host, port, "subscribe", ready, stop)

    count, latencies, raw = 0, [], []
    for now, payload in source:
        count += 1
        last[0] = time.monotonic()
        m = SENT_NS.search(payload)
        if m:
            latencies.append((now - int(m.group(1))) / 1000)
            raw.append((int(m.group(1)), latencies[-1]))
            if args.expect and len(latencies) >= args.expect:
                break
    if args.raw:
        with open(args.raw, "w") as f:
            f.writelines("%d %.1f\n" % r for r in raw)
    latencies.sort()
    out = {"count": count, "timed": len(latencies)}
    for name, p in (("p50_us", 50), ("p99_us", 99), ("p999_us", 99.9), ("max_us", 100)):
        v = percentile(latencies, p)
        out[name] = None if v is None else round(v, 1)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    sys.exit(main())
