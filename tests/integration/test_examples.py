#!/usr/bin/env python3
"""
test_examples.py — the subscriber example of scripts/examples/ does what its documentation
says: it prints every change once, in order, and resumes after its own restart without loss.

    python3 tests/integration/test_examples.py --ctgd build/ctgd
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ctgd_harness import CtgdTestCase, convention, main, new_id, repo_root  # noqa: E402

EXAMPLE = os.path.join(repo_root(), "scripts", "examples", "sse_subscriber.py")


class SseSubscriberExampleTests(CtgdTestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="ctgd-example-")
        self.addCleanup(self.dir.cleanup)
        self.state = os.path.join(self.dir.name, "seq")
        self.out = os.path.join(self.dir.name, "events.jsonl")

    def start_subscriber(self):
        out = open(self.out, "a")
        proc = subprocess.Popen([sys.executable, EXAMPLE, "--url",
                                 "http://127.0.0.1:%d" % self.server.port, "--state", self.state],
                                stdout=out, stderr=subprocess.DEVNULL)
        out.close()
        self.addCleanup(lambda: proc.poll() is not None or (proc.kill(), proc.wait()))
        return proc

    def printed(self):
        with open(self.out) as f:
            return [json.loads(line) for line in f if line.strip()]

    def wait_for(self, count, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.printed()) >= count:
                return self.printed()
            time.sleep(0.05)
        self.fail("the example printed %d events, not %d" % (len(self.printed()), count))

    def write(self, n):
        return [self.create(convention(id=new_id("ex")))["id"] for _ in range(n)]

    def test_resumes_after_its_restart_without_loss_or_repeat(self):
        first = self.write(3)              # before it ever ran: from seq 0 on
        proc = self.start_subscriber()
        self.wait_for(3)
        second = self.write(2)
        self.wait_for(5)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=5)
        third = self.write(4)              # while it is down
        self.start_subscriber()
        events = self.wait_for(9)
        time.sleep(0.3)                    # a repeat would show up now
        events = self.printed()
        self.assertEqual([e["id"] for e in events], first + second + third)
        self.assertEqual([e["seq"] for e in events], list(range(1, 10)))
        with open(self.state) as f:
            self.assertEqual(int(f.read()), 9)


if __name__ == "__main__":
    main()
