#!/usr/bin/env python3
"""
test_event_faults.py — change events when subscribers misbehave (SPEC §4: "a slow or dead
subscriber never blocks the server"; "a subscriber that sees a gap fills it from /v1/changes"):

  * a raw nanomsg subscriber that connects and never reads (tests/tools/ctg_sub --stall) while
    writers send megabytes of events: the writes go as fast as without it, all of them commit,
    and the stalled subscriber, once it reads, finds a gap (ctgd dropped for it, it did not wait);
  * `ctgctl watch --state FILE` killed in the middle of a stream of writes (SIGKILL, then
    SIGTERM) and started again each time: every event is printed, in seq order; twice only in
    the window that the state file documents (printed, not yet recorded, then killed), never
    after a clean stop; and stopped while blocked on a reader that lags, it loses no line.

    CTGCTL_BIN=build/ctgctl CTG_SUB_BIN=build/tests/ctg_sub \\
        python3 tests/integration/test_event_faults.py --ctgd build/ctgd
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ctgd_harness import (CtgdTestCase, ctgctl_binary, main, metric_sum,  # noqa: E402
                          minimal_convention, new_id)
from event_clients import WAIT, Subscriber, Watch  # noqa: E402

HEARTBEAT = 0.5
BLOB = "x" * 100_000      # ~100 kB per event: a phase of writes is megabytes of events
WRITERS = 4
WRITES_PER_PHASE = 96     # ~10 MB of events, far beyond what the buffers on the way hold
SLOWDOWN_FACTOR = 3.0     # generous: a subscriber that blocked ctgd would stop it outright
SLOWDOWN_SLACK = 0.5      # seconds, for the noise of a busy machine


def read_state(path):
    with open(path) as f:
        return int(f.read().strip())


class EventFaultTests(CtgdTestCase):
    server_kwargs = {"events_heartbeat": HEARTBEAT}

    def metric(self, name):
        return metric_sum(self.request("GET", "/v1/metrics").body.decode(), name)

    def timed_writes(self, n):
        """n creates by WRITERS concurrent clients; all must be 201. Returns the seconds taken."""
        statuses, lock = [], threading.Lock()

        def write(count):
            for _ in range(count):
                doc = minimal_convention(id=new_id("fault"), extra={"blob": BLOB})
                status = self.request("POST", "/v1/conventions", doc).status
                with lock:
                    statuses.append(status)

        threads = [threading.Thread(target=write, args=(n // WRITERS,)) for _ in range(WRITERS)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        took = time.monotonic() - started
        self.assertEqual(statuses, [201] * (n // WRITERS * WRITERS))
        return took

    def wait_subscribers(self, want):
        deadline = time.monotonic() + WAIT
        while self.metric("ctgd_events_subscribers") != want and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.metric("ctgd_events_subscribers"), want)

    def test_a_subscriber_that_never_reads_does_not_slow_writes(self):
        n = WRITES_PER_PHASE
        alone = self.timed_writes(n)
        stalled = Subscriber(self, self.server.events_endpoint, extra=["--stall"])
        self.wait_subscribers(1)
        first = self.last_seq() + 1
        published = self.metric("ctgd_events_published_total")
        beside_it = self.timed_writes(n)
        self.assertEqual(self.last_seq(), first + n - 1, "not every write committed")
        deadline = time.monotonic() + WAIT
        while (self.metric("ctgd_events_published_total") < published + n
               and time.monotonic() < deadline):
            time.sleep(0.05)
        self.assertEqual(self.metric("ctgd_events_published_total"), published + n,
                         "ctgd did not hand every event to nanomsg: it waited for the subscriber")
        self.assertEqual(stalled.terminate(), 0, stalled.report())
        self.wait_subscribers(0)
        alone_again = self.timed_writes(n)
        baseline = max(alone, alone_again)
        print("\ntest_event_faults: %d writes of 100 kB events by %d clients: %.0f writes/s alone, "
              "%.0f beside a subscriber that never reads, %.0f alone again"
              % (n, WRITERS, n / alone, n / beside_it, n / alone_again), flush=True)
        self.assertLess(beside_it, SLOWDOWN_FACTOR * baseline + SLOWDOWN_SLACK,
                        "a subscriber that never reads slowed the writes down")
        # What the stalled subscriber holds: in order, once each, and far from all of it.
        got = [s for s in stalled.change_seqs() if s >= first]
        self.assertEqual(got, sorted(set(got)), "out of order or repeated")
        self.assertLess(len(got), n // 2, "the subscriber that never read got %d of %d events: "
                        "nothing was dropped, so this test proved nothing" % (len(got), n))

    def test_a_watch_killed_mid_stream_resumes_without_loss(self):
        state = os.path.join(self.server.workdir, "watch-%s.state" % new_id())
        base = self.last_seq()
        stop = threading.Event()

        def write_on():
            while not stop.is_set():
                self.create(minimal_convention(id=new_id("stream")))

        writer = threading.Thread(target=write_on, daemon=True)
        writer.start()
        self.addCleanup(writer.join, WAIT)
        self.addCleanup(stop.set)

        first = Watch(self, self.server, "--since", str(base), "--state", state)
        first.wait_seq(base + 30)
        self.assertNotEqual(first.kill(), 0)
        killed_at, printed_first = read_state(state), first.seqs()[-1]
        time.sleep(0.3)                       # events it misses while down
        second = Watch(self, self.server, "--state", state)
        second.wait_seq(printed_first + 30)
        self.assertEqual(second.terminate(), 0, second.report())
        stopped_at, printed_second = read_state(state), second.seqs()[-1]
        time.sleep(0.3)
        third = Watch(self, self.server, "--state", state)
        third.wait_seq(printed_second + 30)
        stop.set()
        writer.join(WAIT)
        last = self.last_seq()
        third.wait_seq(last)
        time.sleep(2 * HEARTBEAT)             # a repeat would come with a heartbeat's check

        # Each watch printed a contiguous run from where its predecessor's state said.
        self.assertEqual(first.seqs(), list(range(base + 1, printed_first + 1)), first.report())
        self.assertTrue(base <= killed_at <= printed_first, (base, killed_at, printed_first))
        self.assertEqual(second.seqs(), list(range(killed_at + 1, printed_second + 1)),
                         second.report())
        self.assertEqual(stopped_at, printed_second, "a clean stop did not record the last seq")
        self.assertEqual(third.seqs(), list(range(printed_second + 1, last + 1)), third.report())
        # As the log has them.
        log = {c["seq"]: c for c in self.change_log(base)}
        for watch in (first, second, third):
            for event in watch.events():
                self.assertEqual(event, log[event["seq"]])
        repeated = printed_first - killed_at
        print("\ntest_event_faults: %d events through a watch killed (SIGKILL), then stopped "
              "(SIGTERM), then started again: none lost, %d printed twice (printed, not yet "
              "recorded in the state file at the kill)" % (last - base, repeated), flush=True)

    def test_a_watch_stopped_while_its_reader_lags_loses_no_line(self):
        """
        SIGTERM while the watch is blocked writing to a full pipe: the line it was writing
        must still come out, since the state file will count it as printed.
        """
        base = self.last_seq()
        for _ in range(300):              # ~200 kB of event lines: more than a pipe holds
            self.create(minimal_convention(id=new_id("lag")))
        state = os.path.join(self.server.workdir, "watch-%s.state" % new_id())
        proc = subprocess.Popen([ctgctl_binary(), "--url", self.server.url, "--events",
                                 self.server.events_endpoint, "watch", "--since", str(base),
                                 "--state", state],
                                stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.addCleanup(proc.wait)
        self.addCleanup(proc.kill)
        time.sleep(1.0)                   # it fills the pipe, then waits in write(2)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        out, _ = proc.communicate(timeout=WAIT)
        self.assertEqual(proc.returncode, 0)
        seqs = [json.loads(line)["seq"] for line in out.decode().splitlines()]
        self.assertEqual(seqs, list(range(base + 1, read_state(state) + 1)),
                         "a line was lost, or the state file is not the last line printed")
        self.assertEqual(seqs[-1], base + 300)


if __name__ == "__main__":
    main()
