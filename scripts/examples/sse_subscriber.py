#!/usr/bin/env python3
"""A complete subscriber to ctgd's changes, in Python with the standard library only.

It follows GET /v1/events (Server-Sent Events) and prints one JSON event per line. The seq of
the last event it printed is kept in a state file; after any interruption — its own restart,
ctgd's restart, a network cut — it reconnects with Last-Event-ID and ctgd sends everything it
missed from the change log, so no change is lost or printed twice.

    scripts/examples/sse_subscriber.py --url http://127.0.0.1:8080 --state /tmp/ctg.seq \\
        [--department 29] [--token TOKEN]
"""
import argparse
import http.client
import json
import os
import sys
import time
import urllib.parse


def read_state(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except FileNotFoundError:
        return 0


def write_state(path, seq):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % seq)
    os.replace(tmp, path)  # atomic: a crash never leaves half a number


def stream(url, token, department, last_seq, on_event):
    """Reads one connection's events until it ends; returns the last seq seen."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=60)
    path = "/v1/events" + ("?department=" + department if department else "")
    headers = {"Accept": "text/event-stream", "Last-Event-ID": str(last_seq)}
    if token:
        headers["Authorization"] = "Bearer " + token
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError("ctgd answered %d: %s" % (response.status, response.read()[:300]))
    fields = {}
    for raw in response:                      # one line of the stream at a time
        line = raw.decode("utf-8").rstrip("\n")
        if line == "":                         # a blank line ends an event
            if "data" in fields:
                last_seq = int(fields["id"])
                on_event(last_seq, json.loads(fields["data"]))
            fields = {}
        elif not line.startswith(":"):         # ":" starts a keep-alive comment
            name, _, value = line.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value
    return last_seq


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("CTG_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--token", default=os.environ.get("CTG_TOKEN"))
    parser.add_argument("--department")
    parser.add_argument("--state", required=True, help="file keeping the last seq printed")
    args = parser.parse_args()

    def on_event(seq, event):
        print(json.dumps(event, ensure_ascii=False), flush=True)
        write_state(args.state, seq)

    last_seq = read_state(args.state)
    while True:
        try:
            last_seq = stream(args.url, args.token, args.department, last_seq, on_event)
        except KeyboardInterrupt:
            return 0
        except (OSError, http.client.HTTPException, RuntimeError) as e:
            print("subscriber: %s; reconnecting in 2 s" % e, file=sys.stderr)
            time.sleep(2)
        last_seq = read_state(args.state)


if __name__ == "__main__":
    sys.exit(main())
