#!/usr/bin/env python3
"""
test_group_commit.py — writes that arrive together share one transaction and one sync
(core/write_queue.c), and nothing of what a single write promises changes:

  * sixteen clients writing at once: every write answered 2xx is stored at its rev, and the
    store committed fewer transactions (ctgd_store_commits_total) than it took writes;
  * the rev rule inside a batch: two writes naming the same rev, sent together, give one
    success and one 412, never two successes;
  * a refused write in a batch refuses only itself;
  * a connection whose write waits for its commit is read on (http_keep_reading): requests
    sent behind the write, more than the 64 KiB read ahead among them, and a request larger
    than it, are answered in order;
    a client that stops sending (half-close) or goes away while its write waits changes
    nothing of the write, and the one that stopped sending still gets its answer.

    python3 tests/integration/test_group_commit.py --ctgd build/ctgd
"""

import json
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ctgd_harness import (CtgdTestCase, conv_path, convention, main, metric_sum,  # noqa: E402
                          new_id, read_http_answer, together)

CLIENTS = 16
WRITES_EACH = 25


class GroupCommitTests(CtgdTestCase):

    def commits(self):
        return metric_sum(self.request("GET", "/v1/metrics").body.decode(),
                          "ctgd_store_commits_total")

    def test_concurrent_writes_share_syncs_and_all_are_stored(self):
        before = self.commits()

        def client():
            done = []
            for _ in range(WRITES_EACH):
                doc = convention("29", id=new_id("gc"))
                r = self.request("POST", "/v1/conventions", doc)
                self.assertEqual(r.status, 201, r.body)
                done.append((doc["id"], r.body["rev"], r.body["title"]))
            return done

        acknowledged = [w for part in together([client] * CLIENTS) for w in part]
        self.assertEqual(len(acknowledged), CLIENTS * WRITES_EACH)
        used = self.commits() - before
        self.assertGreater(used, 0, "ctgd_store_commits_total did not count the commits")
        self.assertLess(used, len(acknowledged), "no two writes shared a commit")
        for doc_id, rev, title in acknowledged:
            r = self.request("GET", conv_path(doc_id))
            self.assertEqual((r.status, r.body["rev"], r.body["title"]), (200, rev, title))
        self.assertStoreSound()
        print("\n%d writes in %d commits" % (len(acknowledged), used), file=sys.stderr)

    def test_the_rev_rule_holds_inside_a_batch(self):
        for _ in range(10):
            doc = self.create(convention("29", id=new_id("rev")))
            path = conv_path(doc["id"])

            def put(title):
                return lambda: self.request("PUT", path, dict(doc, title=title),
                                            headers={"If-Match": '"1"'}).status

            statuses = sorted(together([put("premier"), put("second")]))
            self.assertEqual(statuses, [200, 412])
            self.assertEqual(self.request("GET", path).body["rev"], 2)

    def test_a_refused_write_refuses_only_itself(self):
        good = [lambda: self.request("POST", "/v1/conventions", convention("29")).status
                for _ in range(6)]
        bad = [lambda: self.request("POST", "/v1/conventions",
                                    convention("29", status="unknown")).status
               for _ in range(6)]
        statuses = together(good + bad)
        self.assertEqual(statuses[:6], [201] * 6)
        self.assertEqual(statuses[6:], [422] * 6)


def raw_put(doc):
    """The bytes of a PUT of `doc` on a keep-alive connection."""
    body = json.dumps(doc).encode()
    return (b"PUT %s HTTP/1.1\r\nHost: ctgd\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % (conv_path(doc["id"]).encode(), len(body)) + body)


class WaitingConnectionTests(CtgdTestCase):

    def connect(self):
        sock = socket.create_connection((self.server.host, self.server.port), timeout=10)
        self.addCleanup(sock.close)
        return sock

    def answers(self, sock, n):
        """The (status, body) of the next `n` answers on `sock`."""
        got, rest = [], b""
        for _ in range(n):
            status, body, rest = read_http_answer(sock, rest)
            got.append((status, json.loads(body)))
        self.assertEqual(rest, b"")
        return got

    def test_requests_sent_behind_a_write_are_answered_in_order(self):
        first = convention(id=new_id("behind"))
        second = convention(id=new_id("behind"), title="Convention territoriale globale bis")
        sock = self.connect()
        sock.sendall(raw_put(first) + raw_put(second) +
                     b"GET %s HTTP/1.1\r\nHost: ctgd\r\n\r\n" % conv_path(first["id"]).encode())
        got = self.answers(sock, 3)
        self.assertEqual([status for status, _ in got], [201, 201, 200])
        self.assertEqual([body["id"] for _, body in got], [first["id"], second["id"], first["id"]])
        self.assertEqual(got[1][1]["title"], second["title"])

    def test_more_than_the_read_ahead_behind_a_write_is_answered(self):
        docs = [convention(id=new_id("ahead")) for _ in range(60)]
        data = b"".join(raw_put(doc) for doc in docs)
        self.assertGreater(len(data), 2 * 64 * 1024)
        sock = self.connect()
        sock.sendall(data)
        got = self.answers(sock, len(docs))
        self.assertEqual([(status, body["id"]) for status, body in got],
                         [(201, doc["id"]) for doc in docs])
        for doc in docs[::15]:
            self.assertEqual(self.request("GET", conv_path(doc["id"])).status, 200)

    def test_a_request_larger_than_the_read_ahead_behind_a_write_is_answered(self):
        # evhttp takes a body whole from the connection's buffer: the bound of the wait must be
        # gone once the answer is sent
        first = convention(id=new_id("large"))
        large = convention(id=new_id("large"), extra={"notes": "x" * (160 * 1024)})
        sock = self.connect()
        sock.sendall(raw_put(first) + raw_put(large))
        got = self.answers(sock, 2)
        self.assertEqual([(status, body["id"]) for status, body in got],
                         [(201, first["id"]), (201, large["id"])])
        self.assertEqual(len(got[1][1]["extra"]["notes"]), 160 * 1024)

    def test_a_client_that_stops_sending_still_gets_its_answer(self):
        doc = convention(id=new_id("half"))
        sock = self.connect()
        sock.sendall(raw_put(doc))
        sock.shutdown(socket.SHUT_WR)
        status, body, _ = read_http_answer(sock)
        self.assertEqual((status, json.loads(body)["id"]), (201, doc["id"]))
        self.assertEqual(sock.recv(1), b"", "ctgd closes the connection once it has answered")
        self.assertEqual(self.request("GET", conv_path(doc["id"])).body["rev"], 1)

    def test_a_client_gone_while_its_write_waits_changes_nothing_of_it(self):
        docs = [convention(id=new_id("gone")) for _ in range(12)]

        def vanish(doc):
            def run():
                sock = socket.create_connection((self.server.host, self.server.port),
                                                timeout=10)
                sock.sendall(raw_put(doc))
                # closed at once, with a reset: nobody reads the answer
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
            return run

        together([vanish(doc) for doc in docs])
        stored = 0
        for doc in docs:
            r = self.request("GET", conv_path(doc["id"]))
            self.assertIn(r.status, (200, 404))
            stored += r.status == 200
        # a request the server had not read when the reset came is lost with its connection;
        # one it read is written whole, rev 1, and the server goes on
        self.assertEqual(self.request("GET", "/v1/health").status, 200)
        self.assertStoreSound()
        print("\n%d of %d writes read before their clients went" % (stored, len(docs)),
              file=sys.stderr)


if __name__ == "__main__":
    main()
