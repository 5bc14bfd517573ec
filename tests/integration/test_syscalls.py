#!/usr/bin/env python3
"""
test_syscalls.py — what one answer costs ctgd in system calls, counted with strace attached to
the running server (skipped where strace is missing or may not attach):

  * an answer on a keep-alive connection is written at once, by one writev, and asks at most one
    change of the event loop's epoll set (evhttp's own re-arming of the read side), where
    waiting for the socket to report writable would take two more and one more epoll_wait;
  * so is the answer to a write after its group commit, with one change: evhttp stops reading
    the connection once the request is whole and reads it again after the answer, and ctgd
    reads it on in the same turn (http_keep_reading), so that the two collapse into one (the
    change list does not drop a stop and a start, it rewrites the entry); without it, two;
  * an answer that evhttp itself had to write before (a "100 Continue") changes nothing for the
    answers after it on the same connection;
  * the answers are whole and the connection stays usable: every request gets its answer.

    python3 tests/integration/test_syscalls.py --ctgd build/ctgd
"""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ctgd_harness import (WRAPPER, CtgdTestCase, convention, main,  # noqa: E402
                          read_http_answer)

REQUESTS = 200


class Strace:
    """strace following ctgd's main thread for epoll_ctl and writev, until stop()."""

    def __init__(self, pid):
        self.pid = pid
        self.folder = tempfile.mkdtemp(prefix="ctgd-strace-")
        self.path = os.path.join(self.folder, "trace")
        self.proc = subprocess.Popen(["strace", "-p", str(pid), "-e", "trace=epoll_ctl,writev",
                                      "-o", self.path], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def attached(self, timeout=5.0):
        """True once strace follows ctgd (it says so on stderr), False if it gave up."""
        line = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and b"attached" not in line:
            if self.proc.poll() is not None:
                return False
            line = self.proc.stderr.readline()
        return b"attached" in line

    def stop(self):
        """The system calls seen: epoll_ctl, and writev of an HTTP answer ("answer")."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=10)
        self.proc.stderr.close()
        counts = {}
        with open(self.path, encoding="utf-8", errors="replace") as f:
            for line in f:
                name = line.split("(", 1)[0].strip()
                if name == "writev" and 'iov_base="HTTP/1.1 ' in line:
                    name = "answer"
                counts[name] = counts.get(name, 0) + 1
        shutil.rmtree(self.folder, ignore_errors=True)
        return counts


class AnswerSyscallTests(CtgdTestCase):

    def setUp(self):
        super().setUp()
        if WRAPPER:
            self.skipTest("ctgd already runs under %s" % WRAPPER[0])
        if shutil.which("strace") is None:
            self.skipTest("strace is not installed (scripts/setup --test)")

    def traced(self, exchange):
        """The system calls of ctgd's main thread while `exchange()` runs."""
        trace = Strace(self.server.proc.pid)
        if not trace.attached():
            trace.stop()
            self.skipTest("strace may not attach to ctgd here")
        try:
            exchange()
        finally:
            counts = trace.stop()
        return counts

    def keep_alive(self):
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=10)
        self.addCleanup(conn.close)
        return conn

    def assert_cheap_answers(self, counts, n, epoll_changes_each):
        self.assertEqual(counts.get("answer", 0), n, counts)
        self.assertLessEqual(counts.get("epoll_ctl", 0), epoll_changes_each * n + 2, counts)

    def test_a_read_is_written_at_once(self):
        doc = convention(id="syscalls-read")
        self.assertEqual(self.request("PUT", "/v1/conventions/syscalls-read", body=doc).status,
                         201)
        conn = self.keep_alive()
        bodies = []

        def read_many():
            for _ in range(REQUESTS):
                conn.request("GET", "/v1/conventions/syscalls-read")
                response = conn.getresponse()
                bodies.append((response.status, json.loads(response.read())))

        counts = self.traced(read_many)
        self.assertEqual({status for status, _ in bodies}, {200})
        self.assertTrue(all(body["title"] == doc["title"] for _, body in bodies))
        self.assert_cheap_answers(counts, REQUESTS, 1)

    def test_answers_after_a_100_continue_are_written_at_once(self):
        sock = socket.create_connection((self.server.host, self.server.port), timeout=10)
        self.addCleanup(sock.close)
        body = json.dumps(convention(id="syscalls-continue")).encode()
        sock.sendall(b"PUT /v1/conventions/syscalls-continue HTTP/1.1\r\nHost: ctgd\r\n"
                     b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body))
        status, _, rest = read_http_answer(sock)
        self.assertEqual(status, 100)
        sock.sendall(body)
        status, _, rest = read_http_answer(sock, rest)
        self.assertEqual(status, 201)
        statuses = []

        def read_many():
            pending = rest
            for _ in range(REQUESTS):
                sock.sendall(b"GET /v1/conventions/syscalls-continue HTTP/1.1\r\nHost: ctgd\r\n\r\n")
                status, _, pending = read_http_answer(sock, pending)
                statuses.append(status)

        counts = self.traced(read_many)
        self.assertEqual(set(statuses), {200})
        self.assert_cheap_answers(counts, REQUESTS, 1)

    def test_a_write_is_answered_at_once_after_its_commit(self):
        conn = self.keep_alive()
        statuses = []

        def write_many():
            for i in range(REQUESTS // 4):
                body = json.dumps(convention(id="syscalls-write-%d" % i))
                conn.request("PUT", "/v1/conventions/syscalls-write-%d" % i, body=body,
                             headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                statuses.append(response.status)

        counts = self.traced(write_many)
        self.assertEqual(set(statuses), {201})
        self.assert_cheap_answers(counts, REQUESTS // 4, 1)


if __name__ == "__main__":
    main()
