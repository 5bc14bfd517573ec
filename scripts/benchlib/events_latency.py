#!/usr/bin/env python3
"""Latency from "write acknowledged" to "event received by a subscriber", over N writes.

    events_latency.py URL ENDPOINT CTG_SUB N

Starts the C subscriber CTG_SUB (tests/tools/ctg_sub.c) on ENDPOINT, makes N durable creates one
after the other on one keep-alive connection, and matches each acknowledgement with the event of
the same id. Both sides read CLOCK_MONOTONIC. ctgd publishes at commit, before it answers, so an
event often arrives before its acknowledgement: the figure is then negative. Also printed: the
time from sending the write to receiving its event (the whole path, sync included).
"""
import http.client
import json
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main():
    url, endpoint, ctg_sub, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    sub = subprocess.Popen([ctg_sub, endpoint, "--topic", "ctg.", "--count", str(count + 1000),
                            "--timeout", "5"], stdout=subprocess.PIPE, text=True)
    assert sub.stdout.readline().strip() == "ready"
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port)
    for _ in range(100):  # until the subscription is live: a heartbeat or an event comes
        line = sub.stdout.readline()
        if "ctg._heartbeat" in line:
            break
    sent, acked, received = {}, {}, {}

    def read_events():
        # Read as the events come: a full pipe would block the subscriber and delay its clock.
        for line in sub.stdout:
            ns, topic, payload = line.rstrip("\n").split(" ", 2)
            if not topic.startswith("ctg._"):
                received[json.loads(payload)["id"]] = int(ns)
            if len(received) == count:
                return

    reader = threading.Thread(target=read_events, daemon=True)
    reader.start()
    for n in range(count):
        conv_id = "lat-%d-%d" % (time.time_ns() % 10**9, n)
        body = json.dumps({"id": conv_id, "department": "29", "title": "Latence %d" % n,
                           "status": "preparation",
                           "period": {"start": "2024-01-01", "end": "2027-12-31"}})
        sent[conv_id] = time.monotonic_ns()
        conn.request("POST", "/v1/conventions", body=body,
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        acked[conv_id] = time.monotonic_ns()
        if response.status != 201:
            sys.exit("write %d: %d" % (n, response.status))
    reader.join(timeout=30)
    sub.terminate()
    missing = count - len(received)
    ack_to_event = [(received[i] - acked[i]) / 1000 for i in received if i in acked]
    send_to_event = [(received[i] - sent[i]) / 1000 for i in received if i in sent]
    for name, values in (("ack -> event", ack_to_event), ("send -> event", send_to_event)):
        print("%-14s p50 %8.1f us   p99 %8.1f us   max %8.1f us" % (
            name, statistics.median(values), percentile(values, 99), max(values)))
    print("events received: %d of %d%s" % (len(received), count,
                                            "" if not missing else " (%d MISSING)" % missing))


if __name__ == "__main__":
    main()
