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
  * the answers are whole and the connection stays usable: every request gets its answer;
  * no answer to a write leaves before the log's record of it is synced: with strace following
    every thread, sixteen clients writing at once (batches of 8 writes or more, whose sync runs
    on the syncer thread while the loop puts their answers together), each answer's writev
    comes after an fdatasync of the log that ended after the pwrite of the record holding its
    id (a checkpoint's sync of the log counts: it syncs the whole file).

    python3 tests/integration/test_syscalls.py --ctgd build/ctgd
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ctgd_harness import (WRAPPER, CtgdTestCase, convention, main,  # noqa: E402
                          read_http_answer, together)

REQUESTS = 200


class Strace:
    """strace following ctgd's main thread (or all its threads) for `calls`, until stop()."""

    def __init__(self, pid, calls="epoll_ctl,writev", options=()):
        self.pid = pid
        self.folder = tempfile.mkdtemp(prefix="ctgd-strace-")
        self.path = os.path.join(self.folder, "trace")
        self.proc = subprocess.Popen(["strace", "-p", str(pid), "-e", "trace=" + calls,
                                      "-o", self.path] + list(options),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)

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
        """The lines of the trace, in the order strace saw the calls."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=10)
        self.proc.stderr.close()
        with open(self.path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
        shutil.rmtree(self.folder, ignore_errors=True)
        return lines


def call_counts(lines):
    """The system calls of a trace by name, writev of an HTTP answer counted as "answer"."""
    counts = {}
    for line in lines:
        name = line.split("(", 1)[0].strip()
        if name == "writev" and 'iov_base="HTTP/1.1 ' in line:
            name = "answer"
        counts[name] = counts.get(name, 0) + 1
    return counts


class StraceTestCase(CtgdTestCase):
    """Tests that watch ctgd's system calls: skipped where strace cannot follow it."""

    def setUp(self):
        super().setUp()
        if WRAPPER:
            self.skipTest("ctgd already runs under %s" % WRAPPER[0])
        if shutil.which("strace") is None:
            self.skipTest("strace is not installed (scripts/setup --test)")

    def traced_lines(self, exchange, calls="epoll_ctl,writev", options=()):
        """The trace of `calls` while `exchange()` runs, and what exchange() returned."""
        trace = Strace(self.server.proc.pid, calls, options)
        if not trace.attached():
            trace.stop()
            self.skipTest("strace may not attach to ctgd here")
        try:
            result = exchange()
        finally:
            lines = trace.stop()
        return lines, result


class AnswerSyscallTests(StraceTestCase):

    def traced(self, exchange):
        """The system calls of ctgd's main thread while `exchange()` runs."""
        return call_counts(self.traced_lines(exchange)[0])

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


SYNC_CLIENTS = 16
SYNC_WRITES_EACH = 10
SYNCED_ON_THE_SIDE = 8  # WHILE_SYNCING_MIN of core/write_queue.c
TRACED_BYTES = 1 << 20  # strace shows this much of each buffer: a whole record, a whole answer

CALL = re.compile(r"^(\d+) +(?:<\.\.\. )?(\w+)\(?(\d+)?")
ORDER_ID = re.compile(r"syncorder-\d+-\d+")
ANSWER_ID = re.compile(r'iov_base="HTTP/1\.1 (\d+) .*?Location: /v1/conventions/(syncorder-\d+-\d+)')


class SyncBeforeAnswerTests(StraceTestCase):

    def log_fd(self):
        folder = "/proc/%d/fd" % self.server.proc.pid
        for name in os.listdir(folder):
            if os.readlink(os.path.join(folder, name)).endswith("/ctgd.wal"):
                return name
        self.fail("ctgd has no ctgd.wal open")

    def write_together(self):
        """Sixteen clients creating at once; the ids answered 201."""
        def client(c):
            conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=30)
            created = []
            for k in range(SYNC_WRITES_EACH):
                doc_id = "syncorder-%d-%d" % (c, k)
                conn.request("POST", "/v1/conventions", body=json.dumps(convention(id=doc_id)),
                             headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                if response.status == 201:
                    created.append(doc_id)
            conn.close()
            return created

        results = together([lambda c=c: client(c) for c in range(SYNC_CLIENTS)])
        return [doc_id for part in results for doc_id in part]

    def test_no_write_is_answered_before_its_record_is_synced(self):
        log = self.log_fd()
        lines, created = self.traced_lines(self.write_together, "pwrite64,fdatasync,writev",
                                           ["-f", "-s", str(TRACED_BYTES)])
        self.assertEqual(len(created), SYNC_CLIENTS * SYNC_WRITES_EACH)

        records = 0              # records written to the log so far
        written_in = {}          # id -> the record (its number) that holds it
        sync_started = {}        # thread -> the records written when its fdatasync began
        synced = 0               # records certainly synced
        answered, batch, largest_batch = set(), 0, 0
        for line in lines:
            m = CALL.match(line)
            if not m:
                continue
            thread, call, fd = m.group(1), m.group(2), m.group(3)
            resumed = "<... " in line
            if call == "pwrite64" and fd == log and not resumed:
                ids = ORDER_ID.findall(line)  # none in a checkpoint's header
                if ids:
                    records += 1
                    written_in.update((doc_id, records) for doc_id in ids)
                    largest_batch, batch = max(largest_batch, batch), 0
            elif call == "fdatasync" and (resumed or fd == log):
                if not resumed:
                    sync_started[thread] = records
                if "<unfinished" not in line and thread in sync_started:
                    began = sync_started.pop(thread)
                    if line.rstrip().endswith("= 0"):
                        synced = max(synced, began)
            elif call == "writev" and not resumed:
                answer = ANSWER_ID.search(line)
                if answer:
                    doc_id = answer.group(2)
                    self.assertIn(doc_id, written_in, "answered with no record of it: " + doc_id)
                    self.assertGreaterEqual(
                        synced, written_in[doc_id],
                        "%s answered %s before its record (pwrite %d) was synced (last synced: "
                        "%d)" % (doc_id, answer.group(1), written_in[doc_id], synced))
                    answered.add(doc_id)
                    batch += 1
        largest_batch = max(largest_batch, batch)
        self.assertEqual(answered, set(created))
        self.assertGreaterEqual(largest_batch, SYNCED_ON_THE_SIDE,
                                "no batch was large enough to be synced on the syncer thread")


if __name__ == "__main__":
    main()
