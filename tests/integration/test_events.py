#!/usr/bin/env python3
"""
test_events.py — the change events of ctgd (SPEC §4) seen by every kind of client:

  * the nanomsg PUB socket, through tests/tools/ctg_sub (a raw SUB subscriber in C);
  * GET /v1/changes (paging, filters, last_seq, long-poll) and GET /v1/events (Server-Sent
    Events, resumed with ?since= or Last-Event-ID);
  * `ctgctl watch`, the reference subscriber that fills gaps from /v1/changes;
  * a restart of ctgd (seq continuity, subscribers reconnecting).

    CTGCTL_BIN=build/ctgctl CTG_SUB_BIN=build/tests/ctg_sub \\
        python3 tests/integration/test_events.py --ctgd build/ctgd [unittest options]

ctgctl and ctg_sub default to the build folder of the ctgd binary. Every ctgd publishes on an
ipc:// endpoint in its own temporary folder; the servers here beat every 0.5 s so that waiting
for a heartbeat (the sign that a subscription is live) stays short.
"""

import json
import os
import socket
import sys
import threading
import time
from collections import namedtuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ctgd_harness import (RFC3339_UTC, CtgdTestCase, Server, conv_path,  # noqa: E402
                          convention, if_match, main, minimal_convention, new_id, parse_metrics,
                          qs, standard_tokens)
from event_clients import HEARTBEAT_TOPIC, WAIT, Subscriber, Watch  # noqa: E402

HEARTBEAT = 0.5           # seconds, the events.heartbeat of the servers of this module
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
EVENT_KEYS = {"seq", "type", "id", "department", "rev", "at", "actor", "changed"}
SERVER_FIELDS = {"rev", "created_at", "updated_at", "created_by", "updated_by"}


# --------------------------------------------------------------------------------------------
# Server-Sent Events over a raw socket
# --------------------------------------------------------------------------------------------

class SSEStream:
    """
    GET path as an event stream on a raw socket: the status and headers, then every block
    ("id:", "event:", "data:" lines, comments, "retry:") with its arrival time, decoded from
    chunked transfer encoding by a thread.
    """

    Block = namedtuple("Block", "t fields comments")   # fields: {name: value}

    def __init__(self, testcase, server, path, headers=None, token=None):
        self.path = path
        self.status = None
        self.headers = {}
        self.blocks = []
        self.eof = False
        self.error = None
        self.cond = threading.Condition()
        self.sock = socket.create_connection((server.host, server.port), timeout=60)
        lines = ["GET %s HTTP/1.1" % path, "Host: %s:%d" % (server.host, server.port),
                 "Accept: text/event-stream"]
        if token:
            lines.append("Authorization: Bearer " + token)
        for name, value in (headers or {}).items():
            lines.append("%s: %s" % (name, value))
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buf = b""
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        testcase.addCleanup(self.close)

    # -- reading ----------------------------------------------------------------------------

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("latin-1")

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def _run(self):
        text = b""
        try:
            status_line = self._line()
            headers = {}
            while True:
                line = self._line()
                if not line:
                    break
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            with self.cond:
                self.status = int(status_line.split()[1])
                self.headers = headers
                self.cond.notify_all()
            chunked = "chunked" in headers.get("transfer-encoding", "").lower()
            while True:
                if chunked:
                    size = int(self._line().split(";")[0], 16)
                    if size == 0:
                        break
                    data = self._exact(size)
                    self._exact(2)
                else:
                    if not self.buf:
                        self._fill()
                    data, self.buf = self.buf, b""
                text += data
                while b"\n\n" in text:
                    block, text = text.split(b"\n\n", 1)
                    self._block(block.decode("utf-8"))
        except EOFError:
            pass
        except OSError as e:        # closed by close(), or a reset
            self.error = e
        finally:
            with self.cond:
                self.eof = True
                self.cond.notify_all()

    def _block(self, block):
        fields, comments = {}, []
        for line in block.split("\n"):
            if line.startswith(":"):
                comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            fields[name] = fields[name] + "\n" + value if name in fields else value
        with self.cond:
            self.blocks.append(self.Block(time.monotonic(), fields, comments))
            self.cond.notify_all()

    # -- what the tests look at -------------------------------------------------------------

    def events(self):
        """The event blocks: [(id, event, parsed data)]."""
        with self.cond:
            return [(int(b.fields["id"]), b.fields.get("event"), json.loads(b.fields["data"]))
                    for b in self.blocks if "data" in b.fields]

    def seqs(self):
        return [i for i, _, _ in self.events()]

    def keepalives(self):
        with self.cond:
            return [b.t for b in self.blocks if "keep-alive" in b.comments and not b.fields]

    def wait_until(self, predicate, timeout=WAIT, what="the expected events"):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("SSE %s: no %s within %.1f s; status %s, headers %r, "
                                         "blocks %r, eof %s"
                                         % (self.path, what, timeout, self.status, self.headers,
                                            self.blocks[-20:], self.eof))
                self.cond.wait(min(left, 0.1))

    def wait_headers(self, timeout=WAIT):
        self.wait_until(lambda s: s.status is not None or s.eof, timeout, "status line")
        return self.status

    def wait_seq(self, seq, timeout=WAIT):
        self.wait_until(lambda s: any(x >= seq for x in s.seqs()), timeout,
                        "event with id %d" % seq)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)


# --------------------------------------------------------------------------------------------
# The shared test case: writes that remember the event they must produce
# --------------------------------------------------------------------------------------------

class EventsTestCase(CtgdTestCase):
    server_kwargs = {"events_heartbeat": HEARTBEAT}

    def token(self):
        return self.server.admin_token

    def expect_write(self, resp, status, type_, changed=None):
        """
        Checks an accepted write and returns the event it must have produced: type, id,
        department, rev, actor, the document as GET shows it now (None after a delete), and
        the changed keys when the test knows them.
        """
        self.assertEqual(resp.status, status, resp.body)
        conv_id, rev = resp.body["id"], resp.body["rev"]
        doc = None
        if type_ != "convention.deleted":
            doc = self.get_doc(conv_id, token=self.token())
            self.assertEqual(doc["rev"], rev)
        return {"type": type_, "id": conv_id, "rev": rev, "doc": doc, "changed": changed,
                "department": (doc or {}).get("department")}

    def w_create(self, doc):
        r = self.request("POST", "/v1/conventions", doc, token=self.token())
        exp = self.expect_write(r, 201, "convention.created")
        exp["changed"] = sorted(k for k in exp["doc"] if k not in SERVER_FIELDS)
        return exp

    def w_patch(self, conv_id, rev, patch, changed):
        r = self.request("PATCH", conv_path(conv_id), patch, token=self.token(),
                         headers=if_match(rev, **MERGE_PATCH))
        return self.expect_write(r, 200, "convention.updated", sorted(changed))

    def w_put(self, doc, rev, changed):
        r = self.request("PUT", conv_path(doc["id"]), doc, token=self.token(),
                         headers=if_match(rev))
        return self.expect_write(r, 200, "convention.updated", sorted(changed))

    def w_action(self, conv_id, rev, action_id, patch):
        r = self.request("PATCH", conv_path(conv_id, "actions", action_id), patch,
                         token=self.token(), headers=if_match(rev))
        return self.expect_write(r, 200, "convention.updated", ["actions"])

    def w_delete(self, conv_id, rev, department):
        r = self.request("DELETE", conv_path(conv_id), token=self.token(), headers=if_match(rev))
        # (`changed` of a deletion is checked by test_deletion_event_lists_no_changed_keys)
        exp = self.expect_write(r, 200, "convention.deleted")
        exp["department"] = department
        return exp

    def quick_writes(self, departments):
        """One creation per department given; returns their expected events."""
        return [self.w_create(minimal_convention(department=d, id=new_id("q" + d.lower())))
                for d in departments]

    def changes(self, token=None, **params):
        r = self.request("GET", "/v1/changes" + qs(**params), token=token or self.token())
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(set(r.body), {"changes", "last_seq"}, r.body)
        return r.body

    def log_entries(self, since, token=None):
        """Every change after `since` from /v1/changes, by seq."""
        out = {}
        while True:
            page = self.changes(token=token, since=since, limit=1000)
            for c in page["changes"]:
                out[c["seq"]] = c
            if not page["changes"]:
                return out
            since = page["last_seq"]

    def assertEvent(self, event, expected, seq, topic=None):
        """An event (from any channel) is the one `expected` (see expect_write) with this seq."""
        where = "event %r" % ({k: v for k, v in event.items() if k != "doc"},)
        self.assertTrue(EVENT_KEYS <= set(event), "%s lacks %s" % (where, EVENT_KEYS - set(event)))
        self.assertEqual(event["seq"], seq, where)
        for key in ("type", "id", "department", "rev"):
            self.assertEqual(event[key], expected[key], "%s: %s" % (where, key))
        self.assertRegex(event["at"], RFC3339_UTC)
        self.assertIsInstance(event["actor"], str)
        self.assertTrue(event["actor"], where)
        self.assertIsInstance(event["changed"], list, where)
        self.assertTrue(all(isinstance(k, str) for k in event["changed"]), where)
        if expected["changed"] is not None:
            self.assertEqual(sorted(event["changed"]), expected["changed"], where)
        if expected["doc"] is None:
            self.assertNotIn("doc", event, "%s: a deletion carries a doc" % where)
        else:
            self.assertEqual(event["doc"], expected["doc"],
                             "%s: doc differs from what GET answered after the write" % where)
            self.assertEqual(event["at"], expected["doc"]["updated_at"], where)
            self.assertEqual(event["actor"], expected["doc"]["updated_by"], where)
        if topic is not None:
            self.assertEqual(topic, "ctg.%s.%s" % (event["department"], event["type"]), where)


# --------------------------------------------------------------------------------------------
# The PUB socket
# --------------------------------------------------------------------------------------------

class PublisherTests(EventsTestCase):

    def live_subscriber(self, topics=("ctg.",)):
        """A ctg_sub on the server whose subscription reached ctgd (a heartbeat came)."""
        sub = Subscriber(self, self.server.events_endpoint, topics)
        sub.wait_heartbeat(after=0)
        return sub

    def test_fifty_writes_arrive_in_seq_order_without_gap_with_full_content(self):
        sub = self.live_subscriber()
        base = self.last_seq()
        expected = []
        ids = []
        for i in range(10):
            dep = "29" if i % 2 == 0 else "49"
            doc = convention(id=new_id("pub"), department=dep) if dep == "29" else \
                minimal_convention(department=dep, id=new_id("pub"))
            expected.append(self.w_create(doc))
            ids.append((expected[-1]["id"], dep))
        revs = {conv_id: 1 for conv_id, _ in ids}
        status = {conv_id: self.get_doc(conv_id)["status"] for conv_id, _ in ids}
        # The base plugin's lifecycle rule: a status moves forward one step at a time.
        lifecycle = ["preparation", "diagnostic", "action_plan", "monitoring", "evaluation",
                     "closed"]
        for i in range(39):
            conv_id, dep = ids[i % 10]
            rev = revs[conv_id]
            kind = (i + i // 10) % 4
            if kind == 2 and dep == "49":
                kind = 3        # 49's conventions are minimal: no actions
            if kind == 0:
                new = lifecycle[lifecycle.index(status[conv_id]) + 1]
                status[conv_id] = new
                expected.append(self.w_patch(conv_id, rev, {"status": new}, ["status"]))
            elif kind == 1:
                doc = self.get_doc(conv_id)
                doc["title"] = "Convention territoriale globale, version %d" % i
                expected.append(self.w_put(doc, rev, ["title"]))
            elif kind == 2:
                expected.append(self.w_action(conv_id, rev, "act-1", {"progress": i}))
            else:
                patch, changed = {"extra": {"note": "n%d" % i}}, ["extra"]
                if "signed_on" in self.get_doc(conv_id):
                    patch["signed_on"] = None   # a removed key is a changed key too
                    changed.append("signed_on")
                expected.append(self.w_patch(conv_id, rev, patch, changed))
            revs[conv_id] = rev + 1
        kinds = [e["changed"] for e in expected[10:]]
        for changed in (["status"], ["title"], ["actions"], ["extra"], ["extra", "signed_on"]):
            self.assertIn(changed, kinds)   # every kind of update was made
        conv_id, dep = ids[3]
        expected.append(self.w_delete(conv_id, revs[conv_id], dep))
        self.assertEqual(len(expected), 50)
        self.assertEqual(self.last_seq(), base + 50)

        sub.wait_seq(base + 50)
        got = sub.changes()
        self.assertEqual([m.body["seq"] for m in got], list(range(base + 1, base + 51)),
                         "the subscriber did not get seq %d..%d once each, in order"
                         % (base + 1, base + 50))
        for i, (m, exp) in enumerate(zip(got, expected)):
            with self.subTest(write=i):
                self.assertEvent(m.body, exp, base + 1 + i, topic=m.topic)
                # "<topic> <json>": exactly one space between them.
                self.assertRegex(m.raw, r"^ctg\.[0-9AB]{2,3}\.convention\.[a-z]+ \{")
        self.assertEqual(got[-1].body["type"], "convention.deleted")
        self.assertNotIn("doc", got[-1].body)
        self.assertTrue(sub.running())

    def test_events_match_the_change_log(self):
        """What the socket sends for a seq is what GET /v1/changes holds for it."""
        sub = self.live_subscriber()
        base = self.last_seq()
        exp = self.quick_writes(["29", "49", "2A"])
        sub.wait_seq(base + 3)
        log = self.log_entries(base)
        self.assertEqual(sorted(log), [base + 1, base + 2, base + 3])
        for m, e in zip(sub.changes(), exp):
            self.assertEqual(m.body, log[m.body["seq"]])
            self.assertEqual(m.topic, "ctg.%s.convention.created" % e["department"])

    def test_topic_prefix_filters_by_department(self):
        all_sub = self.live_subscriber()
        sub29 = Subscriber(self, self.server.events_endpoint, ["ctg.29."])
        sub49 = Subscriber(self, self.server.events_endpoint, ["ctg.49."])
        # These two get no heartbeat: write until each got one event (their subscription is
        # then live), and judge only what comes after.
        deadline = time.monotonic() + WAIT
        while not (sub29.changes() and sub49.changes()):
            self.assertLess(time.monotonic(), deadline, "prefix subscribers never got an event\n"
                            + sub29.report() + sub49.report())
            self.quick_writes(["29", "49"])
            time.sleep(0.1)
        base = self.last_seq()
        all_sub.wait_seq(base)
        time.sleep(0.2)    # the last warm-up events reach the prefix subscribers too
        n29, n49 = len(sub29.changes()), len(sub49.changes())
        exp = self.quick_writes(["29", "49", "2A", "29", "971", "49", "19", "29"])
        all_sub.wait_seq(base + len(exp))
        want29 = [base + 1 + i for i, e in enumerate(exp) if e["department"] == "29"]
        want49 = [base + 1 + i for i, e in enumerate(exp) if e["department"] == "49"]
        sub29.wait_until(lambda s: len(s.changes()) >= n29 + len(want29), what="29's events")
        sub49.wait_until(lambda s: len(s.changes()) >= n49 + len(want49), what="49's events")
        self.assertEqual([m.body["seq"] for m in sub29.changes()[n29:]], want29)
        self.assertEqual([m.body["seq"] for m in sub49.changes()[n49:]], want49)
        # Nothing else ever reached them: no other department, no heartbeat.
        for sub, dep in ((sub29, "29"), (sub49, "49")):
            for m in sub.messages():
                self.assertTrue(m.topic.startswith("ctg.%s." % dep), m.raw[:200])
            for m in sub.changes():
                self.assertEqual(m.body["department"], dep)
        self.assertGreater(len(all_sub.heartbeats()), 0)

    def test_refused_writes_publish_nothing_and_log_nothing(self):
        sub = self.live_subscriber()
        conv_id = new_id("refused")
        self.w_create(convention(id=conv_id))
        before = self.last_seq()
        sub.wait_seq(before)
        n_changes = len(sub.changes())
        refused = [
            ("422 invalid status", "POST", "/v1/conventions",
             convention(id=new_id("bad"), status="signed"), {}, 422),
            ("422 patch", "PATCH", conv_path(conv_id), {"department": "20"},
             if_match(1, **MERGE_PATCH), 422),
            ("409 id taken", "POST", "/v1/conventions", convention(id=conv_id), {}, 409),
            ("409 body rev", "PATCH", conv_path(conv_id), {"rev": 7, "status": "closed"},
             MERGE_PATCH, 409),
            ("428 no rev", "PUT", conv_path(conv_id), convention(id=conv_id), {}, 428),
            ("412 stale If-Match", "DELETE", conv_path(conv_id), None, if_match(5), 412),
        ]
        for label, method, path, body, headers, status in refused:
            with self.subTest(label):
                r = self.request(method, path, body, headers=headers, token=self.token())
                self.assertEqual(r.status, status, r.body)
                self.assertEqual(self.last_seq(), before, "a refused write moved the seq")
                self.assertEqual(self.changes(since=before)["changes"], [])
        # A heartbeat sent after all of them still says `before`, and no event came.
        hb = sub.wait_heartbeat()
        self.assertEqual(hb.body, {"seq": before})
        self.assertEqual(len(sub.changes()), n_changes, [m.raw[:120] for m in sub.changes()])
        exp = self.w_patch(conv_id, 1, {"status": "monitoring"}, ["status"])
        sub.wait_seq(before + 1)
        self.assertEqual(sub.change_seqs()[n_changes:], [before + 1])
        self.assertEvent(sub.changes()[-1].body, exp, before + 1)
        page = self.changes(since=before)
        self.assertEqual([c["seq"] for c in page["changes"]], [before + 1])

    def test_heartbeat_carries_the_last_seq_periodically(self):
        sub = self.live_subscriber()
        seq = self.last_seq()
        start = time.monotonic()
        sub.wait_until(lambda s: len([m for m in s.heartbeats() if m.t > start]) >= 4,
                       timeout=4 * HEARTBEAT + WAIT, what="4 heartbeats")
        beats = [m for m in sub.heartbeats() if m.t > start]
        for m in beats:
            self.assertEqual(m.raw, '%s {"seq":%d}' % (HEARTBEAT_TOPIC, seq))
            self.assertEqual(m.body, {"seq": seq})
        gaps = [b.t - a.t for a, b in zip(beats, beats[1:])]
        for gap in gaps:
            self.assertGreater(gap, HEARTBEAT * 0.5, gaps)
            self.assertLess(gap, HEARTBEAT * 2.5, gaps)
        self.quick_writes(["29", "29"])
        after = time.monotonic()
        hb = sub.wait_heartbeat(after=after)
        self.assertEqual(hb.body, {"seq": seq + 2})
        # The heartbeat follows the events it vouches for.
        self.assertEqual(sub.change_seqs()[-2:], [seq + 1, seq + 2])
        self.assertLess(sub.changes()[-1].t, hb.t)

    def metrics(self):
        r = self.request("GET", "/v1/metrics")
        self.assertEqual(r.status, 200)
        return parse_metrics(r.body.decode("utf-8"))

    def metric(self, samples, name, **labels):
        found = [v for n, l, v in samples
                 if n == name and all(l.get(k) == x for k, x in labels.items())]
        self.assertEqual(len(found), 1, "metric %s%r: %r" % (name, labels, found))
        return found[0]

    def test_metrics_count_published_events(self):
        """SPEC §3: /v1/metrics tells the events published (names from docs/api.md)."""
        sub = self.live_subscriber()
        before = self.metrics()
        base = self.last_seq()
        self.quick_writes(["29", "49", "29"])
        sub.wait_seq(base + 3)
        sse = SSEStream(self, self.server, "/v1/events")
        sse.wait_until(lambda s: s.blocks, what="stream start")
        hb = sub.wait_heartbeat()
        self.assertEqual(hb.body, {"seq": base + 3})
        after = self.metrics()
        self.assertEqual(self.metric(after, "ctgd_events_published_total"),
                         self.metric(before, "ctgd_events_published_total") + 3)
        self.assertEqual(self.metric(after, "ctgd_events_failed_total"), 0)
        self.assertEqual(self.metric(after, "ctgd_events_published_seq"), base + 3)
        self.assertEqual(self.metric(after, "ctgd_last_seq"), base + 3)
        self.assertGreater(self.metric(after, "ctgd_events_heartbeats_total"),
                           self.metric(before, "ctgd_events_heartbeats_total"))
        self.assertGreaterEqual(self.metric(after, "ctgd_events_subscribers"), 1)
        self.assertGreaterEqual(self.metric(after, "ctgd_feed_clients", kind="stream"), 1)
        self.assertEqual(sub.terminate(), 0)
        deadline = time.monotonic() + WAIT
        while self.metric(self.metrics(), "ctgd_events_subscribers") >= \
                self.metric(after, "ctgd_events_subscribers"):
            self.assertLess(time.monotonic(), deadline, "a gone subscriber is still counted")
            time.sleep(0.1)


# --------------------------------------------------------------------------------------------
# GET /v1/changes
# --------------------------------------------------------------------------------------------

class ChangesTests(EventsTestCase):

    def long_poll(self, path, token=None):
        """Starts GET path in a thread; returns (thread, result dict with resp/error and t)."""
        result = {}

        def run():
            try:
                result["resp"] = self.server.request("GET", path, token=token, timeout=30)
            except Exception as e:      # reported by the test
                result["error"] = e
            result["t"] = time.monotonic()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.addCleanup(thread.join, 30)
        return thread, result

    def test_paging_walks_the_whole_log_in_order(self):
        self.quick_writes(["29", "49", "2B", "29", "976"] * 3)
        last = self.last_seq()
        full = self.changes(since=0, limit=1000)
        self.assertEqual([c["seq"] for c in full["changes"]], list(range(1, last + 1)))
        self.assertEqual(full["last_seq"], last)
        walked, since, pages = [], 0, 0
        while True:
            page = self.changes(since=since, limit=4)
            pages += 1
            self.assertLessEqual(len(page["changes"]), 4)
            if not page["changes"]:
                self.assertEqual(page["last_seq"], since)
                break
            self.assertEqual(page["last_seq"], page["changes"][-1]["seq"])
            walked += page["changes"]
            since = page["last_seq"]
            self.assertLess(pages, last + 2, "paging does not end")
        self.assertEqual(walked, full["changes"])
        # The default page is 100 entries.
        self.assertEqual(len(self.changes(since=0)["changes"]), min(last, 100))
        # since=N starts right after N.
        self.assertEqual([c["seq"] for c in self.changes(since=last - 3)["changes"]],
                         [last - 2, last - 1, last])
        self.assertEqual(self.changes(since=last), {"changes": [], "last_seq": last})

    def test_department_filter_and_last_seq_is_the_last_examined(self):
        base = self.last_seq()
        exp = self.quick_writes(["29", "49", "29", "29", "49", "29", "29"])
        seq49 = [base + 1 + i for i, e in enumerate(exp) if e["department"] == "49"]
        page = self.changes(since=base, department="49")
        self.assertEqual([c["seq"] for c in page["changes"]], seq49)
        self.assertTrue(all(c["department"] == "49" for c in page["changes"]))
        # The whole log was examined: continue after its end, not after the last 49 entry.
        self.assertEqual(page["last_seq"], base + len(exp))
        self.assertEqual(self.changes(since=page["last_seq"], department="49"),
                         {"changes": [], "last_seq": base + len(exp)})
        # With a limit, last_seq is the last entry returned: nothing is skipped by going on.
        page = self.changes(since=base, department="49", limit=1)
        self.assertEqual([c["seq"] for c in page["changes"]], seq49[:1])
        self.assertEqual(page["last_seq"], seq49[0])
        page = self.changes(since=page["last_seq"], department="49", limit=1)
        self.assertEqual([c["seq"] for c in page["changes"]], seq49[1:2])
        self.assertEqual(page["last_seq"], seq49[1])
        page = self.changes(since=page["last_seq"], department="49", limit=1)
        self.assertEqual(page, {"changes": [], "last_seq": base + len(exp)})
        # A filter that matches nothing still moves last_seq to the end.
        self.assertEqual(self.changes(since=base, department="974"),
                         {"changes": [], "last_seq": base + len(exp)})

    def test_entries_carry_the_event_fields(self):
        base = self.last_seq()
        conv_id = new_id("entry")
        exp = [self.w_create(convention(id=conv_id)),
               self.w_patch(conv_id, 1, {"status": "monitoring"}, ["status"]),
               self.w_action(conv_id, 2, "act-2", {"status": "in_progress", "progress": 10}),
               self.w_delete(conv_id, 3, "29")]
        page = self.changes(since=base)
        self.assertEqual(len(page["changes"]), 4)
        for i, (c, e) in enumerate(zip(page["changes"], exp)):
            self.assertEvent(c, e, base + 1 + i)
            self.assertEqual(c["actor"], "anonymous")

    def test_deletion_event_lists_no_changed_keys(self):
        """docs/api.md: `changed` is every key on create, the changed ones on update, none on
        delete."""
        base = self.last_seq()
        conv_id = new_id("del")
        self.w_create(minimal_convention(id=conv_id))
        self.w_delete(conv_id, 1, "29")
        page = self.changes(since=base)
        self.assertEqual([c["type"] for c in page["changes"]],
                         ["convention.created", "convention.deleted"])
        self.assertEqual(sorted(page["changes"][0]["changed"]),
                         ["department", "id", "period", "status", "title"])
        self.assertEqual(page["changes"][1]["changed"], [],
                         "a deletion's `changed` should be empty (docs/api.md)")

    def test_bad_parameters_are_400(self):
        for params in ("since=-1", "since=abc", "since=", "since=1.5", "limit=0", "limit=1001",
                       "limit=-3", "limit=x", "wait=61", "wait=-1", "wait=abc", "wait=",
                       "wait=nan", "department=20", "department=xx", "department=",
                       "foo=1", "since=1&since=2"):
            with self.subTest(params):
                r = self.request("GET", "/v1/changes?" + params)
                self.assertError(r, 400, "bad_parameter")
        for params in ("since=0", "limit=1", "limit=1000", "wait=0", "department=2A",
                       "department=971"):
            with self.subTest(params):
                self.assertEqual(self.request("GET", "/v1/changes?" + params).status, 200)
        for params in ("since=-1", "department=20", "foo=1", "since=x"):
            with self.subTest("events " + params):
                r = self.request("GET", "/v1/events?" + params)
                self.assertError(r, 400, "bad_parameter")

    def test_long_poll_is_woken_by_a_write(self):
        last = self.last_seq()
        t0 = time.monotonic()
        thread, result = self.long_poll("/v1/changes" + qs(since=last, wait=10))
        time.sleep(0.3)
        self.assertTrue(thread.is_alive(), "the long-poll answered before any write: %r"
                        % result)
        exp = self.quick_writes(["49"])[0]
        written = time.monotonic()
        thread.join(WAIT)
        self.assertFalse(thread.is_alive(), "the long-poll was not woken by the write")
        self.assertNotIn("error", result)
        self.assertLess(result["t"] - written, 1.0, "woken late")
        self.assertLess(result["t"] - t0, 5.0)
        r = result["resp"]
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual([c["seq"] for c in r.body["changes"]], [last + 1])
        self.assertEvent(r.body["changes"][0], exp, last + 1)
        self.assertEqual(r.body["last_seq"], last + 1)

    def test_long_poll_with_department_waits_for_its_department(self):
        last = self.last_seq()
        thread, result = self.long_poll("/v1/changes" + qs(since=last, department="49",
                                                           wait=10))
        time.sleep(0.3)
        self.quick_writes(["29"])
        thread.join(1.0)
        self.assertTrue(thread.is_alive(), "a write in 29 answered a long-poll on 49: %r"
                        % result)
        exp = self.quick_writes(["49"])[0]
        written = time.monotonic()
        thread.join(WAIT)
        self.assertFalse(thread.is_alive(), "a write in 49 did not wake the long-poll")
        self.assertLess(result["t"] - written, 1.0)
        r = result["resp"]
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual([c["seq"] for c in r.body["changes"]], [last + 2])
        self.assertEvent(r.body["changes"][0], exp, last + 2)
        self.assertEqual(r.body["last_seq"], last + 2)

    def test_long_poll_times_out_with_nothing(self):
        last = self.last_seq()
        t0 = time.monotonic()
        r = self.request("GET", "/v1/changes" + qs(since=last, wait=1))
        elapsed = time.monotonic() - t0
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body, {"changes": [], "last_seq": last})
        self.assertGreater(elapsed, 0.8)
        self.assertLess(elapsed, 3.0)
        # wait=0.5 is a number of seconds too; with something to answer there is no wait.
        t0 = time.monotonic()
        r = self.request("GET", "/v1/changes" + qs(since=last - 1, wait=10))
        self.assertLess(time.monotonic() - t0, 1.0)
        self.assertEqual([c["seq"] for c in r.body["changes"]], [last])

    def feed_clients(self, kind):
        r = self.request("GET", "/v1/metrics")
        found = [v for n, l, v in parse_metrics(r.body.decode())
                 if n == "ctgd_feed_clients" and l.get("kind") == kind]
        self.assertEqual(len(found), 1, found)
        return found[0]

    def wait_feed_clients(self, kind, want, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while self.feed_clients(kind) != want:
            self.assertLess(time.monotonic(), deadline, "ctgd_feed_clients{kind=%s} stays %s, "
                            "want %s" % (kind, self.feed_clients(kind), want))
            time.sleep(0.05)

    def test_clients_that_leave_early_are_forgotten(self):
        """
        Long-polls and streams whose client hangs up are released — a stream at once, a
        long-poll at the latest when its wait is over (libevent does not watch a connection
        whose request is still unanswered) — and the next write goes well.
        """
        base = self.last_seq()
        self.quick_writes(["29"] * 30)
        polls_before = self.feed_clients("long_poll")
        streams_before = self.feed_clients("stream")
        socks = []
        for _ in range(3):
            sock = socket.create_connection((self.server.host, self.server.port), timeout=10)
            sock.sendall(("GET /v1/changes?since=%d&wait=2 HTTP/1.1\r\nHost: x\r\n\r\n"
                          % (base + 30)).encode())
            socks.append(sock)
        self.wait_feed_clients("long_poll", polls_before + 3)
        streams = [SSEStream(self, self.server, "/v1/events" + qs(since=base)) for _ in range(3)]
        for sse in streams:
            sse.wait_headers()
        self.wait_feed_clients("stream", streams_before + 3)
        for sock in socks:
            sock.close()
        for sse in streams:
            sse.close()
        self.wait_feed_clients("stream", streams_before, timeout=2 * HEARTBEAT + 1)
        self.wait_feed_clients("long_poll", polls_before, timeout=4)
        exp = self.quick_writes(["29"])[0]
        page = self.changes(since=base + 30)
        self.assertEqual(len(page["changes"]), 1)
        self.assertEvent(page["changes"][0], exp, base + 31)

    def test_several_long_polls_are_all_woken(self):
        last = self.last_seq()
        polls = [self.long_poll("/v1/changes" + qs(since=last, wait=10)) for _ in range(3)]
        polls.append(self.long_poll("/v1/changes" + qs(since=last, wait=10, department="29")))
        time.sleep(0.3)
        self.quick_writes(["29"])
        for thread, result in polls:
            thread.join(WAIT)
            self.assertFalse(thread.is_alive())
            self.assertEqual([c["seq"] for c in result["resp"].body["changes"]], [last + 1])


class ChangesScopeTests(EventsTestCase):
    server_kwargs = {"events_heartbeat": HEARTBEAT,
                     "tokens": lambda: list(standard_tokens().values())}

    def test_reader_sees_only_its_departments(self):
        admin = self.server.admin_token
        rd29 = self.server.token("rd29")
        base = self.last_seq()
        exp = self.quick_writes(["29", "49", "15", "29", "49"])
        last = base + len(exp)
        page = self.changes(token=rd29, since=base)
        self.assertEqual([c["seq"] for c in page["changes"]], [base + 1, base + 4])
        self.assertEqual(page["last_seq"], last)
        self.assertEqual(self.changes(token=rd29, since=base, department="29")["changes"],
                         page["changes"])
        self.assertEqual(len(self.changes(token=admin, since=base)["changes"]), 5)
        ed49 = self.server.token("ed49")
        self.assertEqual([c["department"] for c in self.changes(token=ed49, since=base)
                          ["changes"]], ["49", "15", "49"])
        for path in ("/v1/changes?department=49", "/v1/events?department=49"):
            with self.subTest(path):
                self.assertError(self.request("GET", path, token=rd29), 403, "forbidden")
        for path in ("/v1/changes", "/v1/events"):
            with self.subTest(path):
                self.assertError(self.request("GET", path), 401, "unauthorized")
        # The event stream applies the same scope.
        sse = SSEStream(self, self.server, "/v1/events" + qs(since=base), token=rd29)
        self.assertEqual(sse.wait_headers(), 200)
        sse.wait_seq(base + 4)
        self.quick_writes(["49", "29"])
        sse.wait_seq(last + 2)
        self.assertEqual(sse.seqs(), [base + 1, base + 4, last + 2])

    def test_watch_with_a_scoped_token_prints_only_its_departments(self):
        """
        `ctgctl watch` without --department, with a reader of 29: it must print what
        /v1/changes shows that token — 29's changes — whether an event came live from the
        socket or was filled from the log.
        """
        rd29 = self.server.token("rd29")
        base = self.last_seq()
        watch = Watch(self, self.server, "--since", str(base), token=rd29)
        self.quick_writes(["29"])
        watch.wait_seq(base + 1)
        self.quick_writes(["49", "29", "15", "15", "29"])
        watch.wait_seq(base + 6)
        time.sleep(3 * HEARTBEAT)
        want = [c["seq"] for c in self.changes(token=rd29, since=base)["changes"]]
        self.assertEqual(want, [base + 1, base + 3, base + 6])
        self.assertEqual(watch.seqs(), want, "the watch printed changes its token may not "
                         "read\n" + watch.report())

    def test_long_poll_of_a_reader_ignores_other_departments(self):
        rd29 = self.server.token("rd29")
        last = self.last_seq()
        result = {}

        def run():
            result["resp"] = self.server.request("GET", "/v1/changes" + qs(since=last, wait=10),
                                                 token=rd29, timeout=30)
            result["t"] = time.monotonic()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.addCleanup(thread.join, 30)
        time.sleep(0.3)
        self.quick_writes(["49"])
        thread.join(1.0)
        self.assertTrue(thread.is_alive(), "a reader of 29 was woken by 49's change: %r"
                        % result)
        self.quick_writes(["29"])
        thread.join(WAIT)
        self.assertEqual([c["seq"] for c in result["resp"].body["changes"]], [last + 2])


# --------------------------------------------------------------------------------------------
# GET /v1/events (Server-Sent Events)
# --------------------------------------------------------------------------------------------

class EventStreamTests(EventsTestCase):

    def test_stream_sends_new_writes_as_events(self):
        base = self.last_seq()
        sse = SSEStream(self, self.server, "/v1/events")
        self.assertEqual(sse.wait_headers(), 200)
        self.assertTrue(sse.headers.get("content-type", "").startswith("text/event-stream"),
                        sse.headers)
        self.assertEqual(sse.headers.get("cache-control"), "no-cache")
        sse.wait_until(lambda s: s.blocks, what="first block")   # the stream is set up
        conv_id = new_id("sse")
        exp = [self.w_create(convention(id=conv_id)),
               self.w_patch(conv_id, 1, {"status": "monitoring"}, ["status"]),
               self.w_delete(conv_id, 2, "29")]
        sse.wait_seq(base + 3)
        events = sse.events()
        self.assertEqual([i for i, _, _ in events], [base + 1, base + 2, base + 3],
                         "a new stream starts after the last seq, then every write once")
        for (seq, name, data), e in zip(events, exp):
            self.assertEqual(name, e["type"])
            self.assertEqual(data["seq"], seq)
            self.assertEvent(data, e, seq)

    def test_since_replays_the_backlog_then_goes_live(self):
        base = self.last_seq()
        self.quick_writes(["29", "49", "29", "2A"])
        sse = SSEStream(self, self.server, "/v1/events" + qs(since=base + 1))
        sse.wait_seq(base + 4)
        self.quick_writes(["49"])
        sse.wait_seq(base + 5)
        self.assertEqual(sse.seqs(), [base + 2, base + 3, base + 4, base + 5])
        log = self.log_entries(base)
        for seq, name, data in sse.events():
            self.assertEqual(data, log[seq])
            self.assertEqual(name, log[seq]["type"])

    def test_last_event_id_resumes_after_it(self):
        base = self.last_seq()
        self.quick_writes(["29", "49", "29"])
        sse = SSEStream(self, self.server, "/v1/events",
                        headers={"Last-Event-ID": str(base + 1)})
        sse.wait_seq(base + 3)
        self.assertEqual(sse.seqs(), [base + 2, base + 3])
        # A reconnecting browser sends its first URL again, with the header: the header wins.
        sse2 = SSEStream(self, self.server, "/v1/events" + qs(since=base),
                         headers={"Last-Event-ID": str(base + 2)})
        sse2.wait_seq(base + 3)
        self.quick_writes(["29"])
        sse2.wait_seq(base + 4)
        self.assertEqual(sse2.seqs(), [base + 3, base + 4])

    def test_department_filter(self):
        base = self.last_seq()
        exp = self.quick_writes(["29", "49", "49", "29"])
        sse = SSEStream(self, self.server, "/v1/events" + qs(since=base, department="49"))
        sse.wait_seq(base + 3)
        exp += self.quick_writes(["29", "49", "971"])
        sse.wait_seq(base + 6)
        self.assertEqual(sse.seqs(), [base + 2, base + 3, base + 6])
        self.assertTrue(all(data["department"] == "49" for _, _, data in sse.events()))
        self.assertEqual(len(exp), 7)

    def test_keep_alive_comments_at_the_heartbeat_interval(self):
        sse = SSEStream(self, self.server, "/v1/events")
        self.assertEqual(sse.wait_headers(), 200)
        start = time.monotonic()
        sse.wait_until(lambda s: len([t for t in s.keepalives() if t > start]) >= 4,
                       timeout=4 * HEARTBEAT + WAIT, what="4 keep-alive comments")
        times = [t for t in sse.keepalives() if t > start]
        gaps = [b - a for a, b in zip(times, times[1:])]
        for gap in gaps:
            self.assertGreater(gap, HEARTBEAT * 0.5, gaps)
            self.assertLess(gap, HEARTBEAT * 2.5, gaps)
        self.assertEqual(sse.events(), [])

    def test_a_long_backlog_is_sent_whole(self):
        """More than one batch (500) of backlog, with a filter: nothing lost or repeated."""
        base = self.last_seq()
        deps = ["29", "49"] * 310
        self.quick_writes(deps)
        sse = SSEStream(self, self.server, "/v1/events" + qs(since=base, department="29"))
        want = [base + 1 + i for i, d in enumerate(deps) if d == "29"]
        sse.wait_seq(want[-1], timeout=30)
        self.assertEqual(sse.seqs(), want)
        sse_all = SSEStream(self, self.server, "/v1/events" + qs(since=base))
        sse_all.wait_seq(base + len(deps), timeout=30)
        self.assertEqual(sse_all.seqs(), list(range(base + 1, base + len(deps) + 1)))


# --------------------------------------------------------------------------------------------
# ctgctl watch
# --------------------------------------------------------------------------------------------

class WatchTests(EventsTestCase):

    def assertWatchPrinted(self, watch, first, last):
        seqs = watch.seqs()
        self.assertEqual(seqs, list(range(first, last + 1)),
                         "want every seq %d..%d once, in order\n%s" % (first, last,
                                                                      watch.report()))

    def test_watch_prints_each_event_once_and_resumes_from_its_state(self):
        state = os.path.join(self.server.workdir, "watch-%s.state" % new_id())
        base = self.last_seq()
        self.quick_writes(["29", "49"])
        watch = Watch(self, self.server, "--since", str(base), "--state", state)
        watch.wait_seq(base + 2)
        conv_id = new_id("watch")
        exp = [self.w_create(convention(id=conv_id)),
               self.w_patch(conv_id, 1, {"status": "monitoring"}, ["status"])]
        watch.wait_seq(base + 4)
        log = self.log_entries(base)
        self.assertEqual(watch.events(), [log[s] for s in range(base + 1, base + 5)])
        self.assertEvent(watch.events()[3], exp[1], base + 4)
        self.assertEqual(watch.terminate(), 0, watch.report())
        with open(state) as f:
            self.assertEqual(f.read().strip(), str(base + 4))
        # While it is down.
        self.quick_writes(["49", "29", "29"])
        self.w_delete(conv_id, 2, "29")
        watch2 = Watch(self, self.server, "--since", "0", "--state", state)
        watch2.wait_seq(base + 8)
        self.quick_writes(["29", "2B"])
        watch2.wait_seq(base + 10)
        time.sleep(2 * HEARTBEAT)     # a repeat would come with the next heartbeat's check
        self.assertWatchPrinted(watch2, base + 5, base + 10)
        log = self.log_entries(base)
        self.assertEqual(watch2.events(), [log[s] for s in range(base + 5, base + 11)])
        self.assertEqual(watch2.terminate(), 0, watch2.report())
        with open(state) as f:
            self.assertEqual(f.read().strip(), str(base + 10))

    def test_watch_from_now_by_default(self):
        self.quick_writes(["29"])
        last = self.last_seq()
        watch = Watch(self, self.server)
        time.sleep(3 * HEARTBEAT)   # running, subscribed, and printing nothing of the past
        self.assertEqual(watch.texts(), [], watch.report())
        self.quick_writes(["49", "29"])
        watch.wait_seq(last + 2)
        self.assertWatchPrinted(watch, last + 1, last + 2)

    def test_watch_department_prints_only_it(self):
        base = self.last_seq()
        deps = ["29", "49", "29", "2A", "49", "29"]
        self.quick_writes(deps[:3])
        watch = Watch(self, self.server, "--since", str(base), "--department", "29")
        watch.wait_seq(base + 3)
        self.quick_writes(deps[3:])
        watch.wait_seq(base + 6)
        self.quick_writes(["49", "49"])
        time.sleep(3 * HEARTBEAT)
        self.assertEqual(watch.seqs(), [base + 1 + i for i, d in enumerate(deps) if d == "29"])
        self.assertTrue(all(e["department"] == "29" for e in watch.events()))
        self.assertEqual(watch.terminate(), 0, watch.report())

    def test_watch_count_exits_after_n_events(self):
        base = self.last_seq()
        self.quick_writes(["29", "29"])
        watch = Watch(self, self.server, "--since", str(base), "--count", "3")
        time.sleep(0.3)
        self.assertTrue(watch.running(), watch.report())
        self.quick_writes(["29", "29"])
        self.assertEqual(watch.wait_exit(), 0, watch.report())
        self.assertWatchPrinted(watch, base + 1, base + 3)
        # From the backlog alone.
        watch = Watch(self, self.server, "--since", str(base), "--count", "2",
                      "--department", "29")
        self.assertEqual(watch.wait_exit(), 0, watch.report())
        self.assertWatchPrinted(watch, base + 1, base + 2)

    def test_watch_fills_events_missed_while_subscribing(self):
        """Writes racing the watch's start: whatever the socket missed comes from the log."""
        base = self.last_seq()
        watch = Watch(self, self.server, "--since", str(base))
        self.quick_writes(["29", "49"] * 10)
        written = time.monotonic()
        watch.wait_seq(base + 20)
        self.assertLess(time.monotonic() - written, 4 * HEARTBEAT + 2.0,
                        "the missing tail was filled late (not at the next heartbeat)")
        time.sleep(2 * HEARTBEAT)
        self.assertWatchPrinted(watch, base + 1, base + 20)

    def test_watch_fills_events_dropped_for_a_stalled_subscriber(self):
        """
        A stopped subscriber: ctgd's PUB drops what does not fit its buffers (the writes are not
        slowed), and the watch, once running again, fills the gap from /v1/changes.
        """
        sub = Subscriber(self, self.server.events_endpoint)
        sub.wait_heartbeat(after=0)
        base = self.last_seq()
        watch = Watch(self, self.server, "--since", str(base))
        self.quick_writes(["29"])
        watch.wait_seq(base + 1)
        sub.wait_seq(base + 1)
        watch.suspend()
        sub.suspend()
        # ~6 MB of events: far more than ctgd's 1 MiB send buffer and the socket's.
        blob = "x" * 200000
        slowest = 0.0
        for i in range(30):
            doc = minimal_convention(id=new_id("big"), extra={"blob": blob, "n": i})
            t0 = time.monotonic()
            self.w_create(doc)
            slowest = max(slowest, time.monotonic() - t0)
        self.assertLess(slowest, 5.0, "a stalled subscriber slowed the writes down")
        last = base + 31
        self.assertEqual(self.last_seq(), last)
        resumed = time.monotonic()
        watch.resume()
        sub.resume()
        watch.wait_seq(last, timeout=WAIT)
        self.quick_writes(["29"])            # and the live stream goes on
        watch.wait_seq(last + 1)
        time.sleep(2 * HEARTBEAT)
        self.assertWatchPrinted(watch, base + 1, last + 1)
        # The raw subscriber shows that the stall did cost events (else this test proves
        # nothing): what it got is in order, with a gap. (A raw SUB does not fill gaps.)
        sub.wait_heartbeat(after=resumed)
        seqs = sub.change_seqs()
        self.assertEqual(seqs, sorted(set(seqs)), "out of order or repeated")
        missing = sorted(set(range(base + 1, last + 1)) - set(seqs))
        self.assertTrue(missing, "the stalled raw subscriber lost nothing: no gap was made "
                        "(got %r)" % seqs)


class WatchGapTests(EventsTestCase):
    """
    ctgd's default heartbeat (5 s) here: a gap must be noticed from the next event's seq, not
    only from a heartbeat.
    """
    server_kwargs = {}

    def test_watch_fills_a_gap_seen_in_the_next_event(self):
        base = self.last_seq()
        watch = Watch(self, self.server, "--since", str(base))
        self.quick_writes(["29"])
        watch.wait_seq(base + 1)
        watch.suspend()
        blob = "z" * 200000
        for i in range(30):     # ~6 MB while stopped: ctgd's PUB drops most of it
            self.w_create(minimal_convention(id=new_id("gap"), extra={"blob": blob, "n": i}))
        last = base + 31
        watch.resume()
        # Let it take in what its socket had buffered, then one more event: its seq shows the
        # gap at once (the next heartbeat is seconds away).
        quiet_since, seen = time.monotonic(), len(watch.texts())
        deadline = time.monotonic() + WAIT
        while time.monotonic() - quiet_since < 0.3 and time.monotonic() < deadline:
            time.sleep(0.05)
            if len(watch.texts()) != seen:
                quiet_since, seen = time.monotonic(), len(watch.texts())
        self.quick_writes(["49"])
        watch.wait_seq(last + 1, timeout=3.0)
        time.sleep(0.5)
        self.assertEqual(watch.seqs(), list(range(base + 1, last + 2)), watch.report())


# --------------------------------------------------------------------------------------------
# Across a restart of ctgd
# --------------------------------------------------------------------------------------------

class ShutdownTests(EventsTestCase):
    start_class_server = False

    def test_stop_with_a_stream_that_does_not_read(self):
        """SIGTERM while an event stream has a large batch stuck in flight: a clean exit 0."""
        server = Server(events_heartbeat=HEARTBEAT, label="ctgd stopped with a stalled stream")
        self.addCleanup(server.cleanup)
        type(self).server = server
        self.addCleanup(setattr, type(self), "server", None)
        server.start()
        blob = "y" * 150000
        for i in range(40):
            self.w_create(minimal_convention(id=new_id("stall"), extra={"blob": blob}))
        # A client that asks for the whole backlog and never reads it.
        sock = socket.create_connection((server.host, server.port), timeout=10)
        self.addCleanup(sock.close)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /v1/events?since=0 HTTP/1.1\r\nHost: x\r\n\r\n")
        sub = Subscriber(self, server.events_endpoint)
        sub.wait_heartbeat(after=0)
        sub.suspend()
        self.quick_writes(["29", "49"])
        self.assertEqual(self.last_seq(), 42)
        server.stop()       # asserts exit code 0, in time, and no sanitizer report


    def test_stop_with_an_http_1_0_stream(self):
        """SIGTERM while an HTTP/1.0 client (no chunks: the end of the stream closes the
        connection) holds /v1/events: the stream ends once, the exit is clean."""
        server = Server(events_heartbeat=HEARTBEAT, label="ctgd stopped with an HTTP/1.0 stream")
        self.addCleanup(server.cleanup)
        type(self).server = server
        self.addCleanup(setattr, type(self), "server", None)
        server.start()
        sock = socket.create_connection((server.host, server.port), timeout=10)
        self.addCleanup(sock.close)
        sock.sendall(b"GET /v1/events HTTP/1.0\r\n\r\n")
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(4096)
            self.assertTrue(chunk, "the stream closed before its headers")
            received += chunk
        self.assertTrue(received.startswith(b"HTTP/1.0 200") or received.startswith(b"HTTP/1.1 200"),
                        received[:100])
        server.stop()       # asserts exit code 0, in time, and no sanitizer report
        sock.settimeout(WAIT)
        while sock.recv(4096):
            pass            # the stream ends: ctgd closed the connection


class RestartTests(EventsTestCase):
    start_class_server = False

    def test_seq_continues_and_subscribers_survive_a_restart(self):
        server = Server(events_heartbeat=HEARTBEAT, label="ctgd restarted")
        self.addCleanup(server.cleanup)
        type(self).server = server
        self.addCleanup(setattr, type(self), "server", None)
        server.start()
        self.addCleanup(server.stop)

        sub = Subscriber(self, server.events_endpoint)
        sub.wait_heartbeat(after=0)
        self.quick_writes(["29", "49", "29"])
        self.assertEqual(self.last_seq(), 3)
        watch = Watch(self, server, "--since", "0")
        watch.wait_seq(3)
        sub.wait_seq(3)
        # Clients waiting when ctgd stops: the stream ends, the long-poll is answered.
        sse = SSEStream(self, server, "/v1/events")
        sse.wait_until(lambda s: s.blocks, what="stream start")
        poll = {}

        def long_poll():
            poll["resp"] = server.request("GET", "/v1/changes?since=3&wait=30", timeout=40)
        thread = threading.Thread(target=long_poll, daemon=True)
        thread.start()
        self.addCleanup(thread.join, 40)
        time.sleep(0.3)

        server.stop()               # SIGTERM: must exit 0, clean
        thread.join(WAIT)
        self.assertFalse(thread.is_alive(), "a waiting long-poll kept ctgd from answering")
        self.assertEqual(poll["resp"].status, 200)
        self.assertEqual(poll["resp"].body, {"changes": [], "last_seq": 3})
        sse.wait_until(lambda s: s.eof, what="end of the stream at shutdown")
        self.assertTrue(watch.running(), "ctgctl watch died with ctgd\n" + watch.report())
        self.assertTrue(sub.running())

        restarted = time.monotonic()
        server.start_again()
        self.assertEqual(self.last_seq(), 3, "the seq did not survive the restart")
        # Written before the subscribers reconnected: the watch must fill them from the log.
        exp = self.quick_writes(["49", "29"])
        self.assertEqual(self.changes(since=3)["changes"][0]["seq"], 4)
        watch.wait_seq(5, timeout=WAIT + 5)
        hb = sub.wait_heartbeat(after=restarted, timeout=WAIT + 5)
        self.assertGreaterEqual(hb.body["seq"], 3)
        n = len(sub.changes())
        exp += self.quick_writes(["29", "2A"])
        sub.wait_seq(7)
        self.assertEqual(sub.change_seqs()[n:], [6, 7], "the reconnected subscriber missed "
                         "events published after its first new heartbeat")
        watch.wait_seq(7)
        time.sleep(2 * HEARTBEAT)
        self.assertEqual(watch.seqs(), list(range(1, 8)), watch.report())
        for e, x in zip(watch.events()[3:], exp):
            self.assertEqual((e["id"], e["type"], e["department"]),
                             (x["id"], x["type"], x["department"]))
        seqs = sub.change_seqs()
        self.assertEqual(seqs, sorted(set(seqs)), "duplicate or out-of-order events")
        self.assertEqual(watch.terminate(), 0, watch.report())
        self.assertEqual(sub.terminate(), 0, sub.report())


if __name__ == "__main__":
    main()
