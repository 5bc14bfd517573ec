#!/usr/bin/env python3
"""
test_api.py — the convention API of ctgd on an open server (no tokens): health, metrics,
create, get, put, patch, action patch, delete, history, routing, restart persistence.

    python3 tests/integration/test_api.py --ctgd build/ctgd [unittest options]

The contract is SPEC §2-§3 and docs/api.md (authoritative where more precise).
"""

import copy
import datetime
import email.utils
import http.client
import json
import os
import re
import sys
import socket
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ctgd_harness import (ID_RE, CtgdTestCase, Server, client_view, conv_path, convention,  # noqa: E402
                          main, media_type, metric_sum, minimal_convention, new_id, qs, together)

MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


def if_match(rev):
    return {"If-Match": '"%d"' % rev}


def parse_time(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


class HealthMetricsTests(CtgdTestCase):

    def test_health_answers_status_version_seq_generation(self):
        r = self.request("GET", "/v1/health")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(media_type(r.headers), "application/json")
        body = r.body
        self.assertEqual(body["status"], "ok")
        self.assertIsInstance(body["version"], str)
        self.assertTrue(body["version"])
        for key in ("last_seq", "plugin_generation", "conventions"):
            self.assertIsInstance(body[key], int, key)
            self.assertNotIsInstance(body[key], bool, key)
            self.assertGreaterEqual(body[key], 0, key)
        self.assertIsInstance(body["uptime_s"], (int, float))

    def test_last_seq_grows_by_one_per_write(self):
        seq = self.last_seq()
        conv_id = new_id("seq")
        self.create(convention(id=conv_id))
        self.assertEqual(self.last_seq(), seq + 1)
        self.get_doc(conv_id)
        self.assertEqual(self.last_seq(), seq + 1, "a read changed last_seq")
        r = self.request("PUT", conv_path(conv_id), convention(id=conv_id, title="Deuxième"),
                         headers=if_match(1))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.last_seq(), seq + 2)
        r = self.request("PATCH", conv_path(conv_id), {"status": "monitoring"},
                         headers=dict(if_match(2), **MERGE_PATCH))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.last_seq(), seq + 3)
        r = self.request("PATCH", conv_path(conv_id, "actions", "act-1"), {"progress": 50},
                         headers=if_match(3))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.last_seq(), seq + 4)
        r = self.request("DELETE", conv_path(conv_id), headers=if_match(4))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.last_seq(), seq + 5)

    def test_health_counts_conventions(self):
        before = self.health()["conventions"]
        conv_id = new_id("count")
        self.create(minimal_convention(id=conv_id))
        self.assertEqual(self.health()["conventions"], before + 1)
        r = self.request("DELETE", conv_path(conv_id), headers=if_match(1))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.health()["conventions"], before)

    def metrics(self):
        r = self.request("GET", "/v1/metrics")
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(r.headers.get("content-type", "").startswith("text/plain"), r.headers)
        self.assertIsInstance(r.body, bytes)
        return r.body.decode("utf-8")

    def test_metrics_is_prometheus_text(self):
        self.create(minimal_convention(id=new_id("metrics")))
        text = self.metrics()
        for name in ("ctgd_http_requests_total", "ctgd_writes_total"):
            self.assertIn(name, text)
        self.assertIn("# TYPE ctgd_http_requests_total counter", text)
        self.assertGreater(metric_sum(text, "ctgd_http_requests_total"), 0)

    def test_metrics_request_counts_increase(self):
        before = self.metrics()
        for _ in range(3):
            self.health()
        self.assertError(self.request("GET", "/v1/no-such-route"), 404, "not_found")
        after = self.metrics()
        self.assertGreaterEqual(metric_sum(after, "ctgd_http_requests_total"),
                                metric_sum(before, "ctgd_http_requests_total") + 4)
        self.assertGreaterEqual(metric_sum(after, "ctgd_http_requests_total", method="GET",
                                           code="200"),
                                metric_sum(before, "ctgd_http_requests_total", method="GET",
                                           code="200") + 3)
        self.assertGreaterEqual(metric_sum(after, "ctgd_http_requests_total", code="404"),
                                metric_sum(before, "ctgd_http_requests_total", code="404") + 1)

    def test_metrics_write_count_increases(self):
        self.create(minimal_convention(id=new_id("w")))
        before = metric_sum(self.metrics(), "ctgd_writes_total")
        self.create(minimal_convention(id=new_id("w")))
        self.assertEqual(metric_sum(self.metrics(), "ctgd_writes_total"), before + 1)


class CreateTests(CtgdTestCase):

    def test_create_answers_the_stored_document(self):
        conv_id = new_id("create")
        doc = convention(id=conv_id)
        r = self.request("POST", "/v1/conventions", doc)
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(r.headers.get("location"), "/v1/conventions/" + conv_id)
        self.assertETag(r, 1)
        body = r.body
        self.assertEqual(body["rev"], 1)
        self.assertTimestamp(body["created_at"])
        self.assertTimestamp(body["updated_at"])
        self.assertEqual(body["created_by"], "anonymous")
        self.assertEqual(body.get("updated_by", "anonymous"), "anonymous")
        self.assertEqual(client_view(body), doc, "the stored document differs from the one sent")
        self.assertEqual(self.get_doc(conv_id), body)

    def test_create_generates_an_id_when_absent(self):
        ids = set()
        for _ in range(2):
            r = self.request("POST", "/v1/conventions", convention())
            self.assertEqual(r.status, 201, r.body)
            conv_id = r.body["id"]
            self.assertRegex(conv_id, ID_RE)
            self.assertRegex(conv_id, r"^29-[0-9a-f]{12}$")
            self.assertEqual(r.headers.get("location"), "/v1/conventions/" + conv_id)
            self.assertEqual(self.get_doc(conv_id)["title"], convention()["title"])
            ids.add(conv_id)
        self.assertEqual(len(ids), 2, "two creations got the same id")

    def test_create_ignores_server_set_fields(self):
        conv_id = new_id("forged")
        doc = convention(id=conv_id, rev=42, created_by="mallory", updated_by="mallory",
                         created_at="1999-01-01T00:00:00Z", updated_at="1999-01-01T00:00:00Z")
        r = self.request("POST", "/v1/conventions", doc)
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(r.body["rev"], 1)
        self.assertETag(r, 1)
        self.assertEqual(r.body["created_by"], "anonymous")
        self.assertNotEqual(r.body.get("updated_by"), "mallory")
        self.assertFalse(r.body["created_at"].startswith("1999"), r.body["created_at"])
        self.assertFalse(r.body["updated_at"].startswith("1999"), r.body["updated_at"])
        self.assertEqual(self.get_doc(conv_id)["rev"], 1)

    def test_create_of_a_taken_id_is_409(self):
        conv_id = new_id("taken")
        self.create(convention(id=conv_id))
        with self.assertNoWrite(conv_id):
            r = self.request("POST", "/v1/conventions", convention(id=conv_id, title="Autre"))
            self.assertError(r, 409, "id_taken")

    def test_unknown_top_level_key_is_422(self):
        conv_id = new_id("typo")
        with self.assertNoWrite(conv_id):
            r = self.request("POST", "/v1/conventions", convention(id=conv_id, typo="oups"))
            self.assertDetailPaths(r, "/typo")

    def test_invalid_fields_are_422_with_their_path(self):
        bad_progress = convention()["actions"]
        bad_progress[0]["progress"] = 101
        cases = [
            ("department 20", {"department": "20"}, ["/department"]),
            ("department 96", {"department": "96"}, ["/department"]),
            ("not a leap year", {"signed_on": "2023-02-29"}, ["/signed_on"]),
            ("month 13", {"period": {"start": "2020-13-01", "end": "2023-12-31"}},
             ["/period/start"]),
            ("end before start", {"period": {"start": "2023-12-31", "end": "2020-01-01"}},
             None),
            ("progress 101", {"actions": bad_progress}, ["/actions/0/progress"]),
            ("status", {"status": "signed"}, ["/status"]),
            ("no title", {"title": None}, ["/title"]),
            ("empty title", {"title": ""}, ["/title"]),
            ("title too long", {"title": "x" * 301}, ["/title"]),
            ("territory kind", {"territory": {"name": "Quimper", "kind": "ville"}},
             ["/territory/kind"]),
            ("bad id", {"id": "Pays_Bigouden"}, ["/id"]),
        ]
        for label, overrides, paths in cases:
            with self.subTest(label):
                conv_id = overrides.get("id") if "id" in overrides else new_id("bad")
                doc = convention(**dict({"id": conv_id}, **overrides))
                ids = [conv_id] if conv_id and ID_RE.match(conv_id) else []
                with self.assertNoWrite(*ids):
                    r = self.request("POST", "/v1/conventions", doc)
                    if paths is None:      # end before start: the period or its end is named
                        got = self.assertDetailPaths(r)
                        self.assertTrue({"/period", "/period/end"} & set(got), got)
                    else:
                        self.assertDetailPaths(r, *paths)

    def test_every_problem_is_reported(self):
        actions = convention()["actions"]
        actions[2]["progress"] = -1
        conv_id = new_id("many")
        with self.assertNoWrite(conv_id):
            r = self.request("POST", "/v1/conventions",
                             convention(id=conv_id, department="20", typo=1, actions=actions))
            self.assertDetailPaths(r, "/department", "/typo", "/actions/2/progress")

    def test_leap_day_is_a_date(self):
        doc = convention(id=new_id("leap"), signed_on="2024-02-29",
                         period={"start": "2024-02-29", "end": "2028-02-28"})
        self.create(doc)

    def test_malformed_json_is_400(self):
        conv_id = new_id("malformed")
        good = convention(id=conv_id)
        text = json_text(good)
        dup_title = text.replace('"title": ', '"title": "Doublon", "title": ', 1)
        dup_nested = text.replace('"start": "2020-01-01"',
                                  '"start": "2020-01-01", "start": "2021-01-01"', 1)
        bad_utf8 = text.encode().replace(b"Bigouden", b"Bigouden \xff\xfe", 1)
        overlong = text.encode().replace(b"Bigouden", b"Bigouden \xc0\xaf", 1)
        cases = [
            ("truncated", b'{"title": '),
            ("garbage", b"not json at all"),
            ("trailing garbage", text.encode() + b" }"),
            ("empty body", b""),
            ("duplicate keys", b'{"a":1,"a":2}'),
            ("duplicate title", dup_title.encode()),
            ("duplicate nested key", dup_nested.encode()),
            ("invalid UTF-8", bad_utf8),
            ("overlong UTF-8", overlong),
            ("array", ("[" + text + "]").encode()),
            ("string", b'"convention"'),
            ("null", b"null"),
        ]
        for label, raw in cases:
            with self.subTest(label):
                with self.assertNoWrite(conv_id):
                    r = self.request("POST", "/v1/conventions", raw=raw)
                    self.assertError(r, 400, "malformed_json")
                    self.assertNotIn("line -1", r.body["error"]["message"])

    def test_wrong_content_type_is_415(self):
        conv_id = new_id("ctype")
        raw = json_text(convention(id=conv_id)).encode()
        for label, ctype in (("text/plain", "text/plain"), ("none", None),
                             ("form", "application/x-www-form-urlencoded"),
                             ("merge patch on POST", "application/merge-patch+json")):
            with self.subTest(label):
                with self.assertNoWrite(conv_id):
                    r = self.request("POST", "/v1/conventions", raw=raw,
                                     headers={"Content-Type": ctype})
                    self.assertError(r, 415, "unsupported_media_type")

    def test_json_with_charset_is_accepted(self):
        conv_id = new_id("charset")
        r = self.request("POST", "/v1/conventions", raw=json_text(convention(id=conv_id)).encode(),
                         headers={"Content-Type": "application/json; charset=utf-8"})
        self.assertEqual(r.status, 201, r.body)

    def test_body_over_the_limit_is_413(self):
        conv_id = new_id("big")
        doc = convention(id=conv_id, extra={"pad": "x" * (3 * 1024 * 1024 // 2)})
        with self.assertNoWrite(conv_id):
            r = self.request("POST", "/v1/conventions", doc)
            self.assertError(r, 413, "body_too_large")
        # the server is still serving
        self.health()

    def test_body_limit_is_exact(self):
        limit = 1048576

        def sized(conv_id, size):
            doc = convention(id=conv_id, extra={"pad": ""})
            base = len(json_text(doc).encode())
            doc["extra"]["pad"] = "x" * (size - base)
            raw = json_text(doc).encode()
            self.assertEqual(len(raw), size)
            return raw

        over = new_id("over")
        with self.assertNoWrite(over):
            r = self.request("POST", "/v1/conventions", raw=sized(over, limit + 1))
            self.assertError(r, 413, "body_too_large")
        at = new_id("atlimit")
        r = self.request("POST", "/v1/conventions", raw=sized(at, limit))
        self.assertNotEqual(r.status, 413, "a body of exactly limits.body_max bytes was refused")
        self.assertIn(r.status, (201, 422), r.body)

    def test_chunked_bodies(self):
        conv_id = new_id("chunked")
        r = self.request("POST", "/v1/conventions", convention(id=conv_id), chunked=True)
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(self.get_doc(conv_id)["title"], convention()["title"])
        big = new_id("bigchunked")
        with self.assertNoWrite(big):
            doc = convention(id=big, extra={"pad": "x" * (3 * 1024 * 1024 // 2)})
            r = self.request("POST", "/v1/conventions", doc, chunked=True)
            self.assertError(r, 413, "body_too_large")
        self.health()

    def test_title_length_counts_characters(self):
        ok = new_id("chars")
        created = self.create(convention(id=ok, title="é" * 300))
        self.assertEqual(created["title"], "é" * 300)
        bad = new_id("chars")
        with self.assertNoWrite(bad):
            r = self.request("POST", "/v1/conventions", convention(id=bad, title="é" * 301))
            self.assertDetailPaths(r, "/title")

    def test_id_bounds(self):
        for conv_id in ("abc", "9" + "a" * 63, "29-" + "0" * 12):
            with self.subTest(conv_id):
                self.assertEqual(self.create(convention(id=conv_id))["id"], conv_id)
        for conv_id in ("ab", "a" * 65, "a" * 1000, "-abc", "abc_d", "Abc", "abc.d", "ab c"):
            with self.subTest(conv_id):
                r = self.request("POST", "/v1/conventions", convention(id=conv_id))
                self.assertDetailPaths(r, "/id")

    def test_absurd_json_is_refused_and_the_server_lives(self):
        conv_id = new_id("absurd")
        text = json_text(convention(id=conv_id))
        deep_extra = {}
        node = deep_extra
        for _ in range(40):
            node["n"] = {}
            node = node["n"]
        cases = [
            ("nesting 100000 deep", b"[" * 100000 + b"]" * 100000, (400,)),
            ("nesting in extra", json_text(convention(id=conv_id, extra=deep_extra)).encode(),
             (400, 422)),
            ("number overflow", text.replace('"progress": 40', '"progress": 1e999').encode(),
             (400, 422)),
            ("lone surrogate", text.replace("Bigouden", "Bigouden \\ud800", 1).encode(),
             (400, 422)),
        ]
        for label, raw, statuses in cases:
            with self.subTest(label):
                with self.assertNoWrite(conv_id):
                    r = self.request("POST", "/v1/conventions", raw=raw)
                    self.assertIn(r.status, statuses, r.body)
        # U+0000 is a valid JSON escape: refused, or kept exactly (never truncated)
        nul = new_id("nul")
        r = self.request("POST", "/v1/conventions",
                         raw=json_text(convention(id=nul, title="avant\u0000après")).encode())
        self.assertIn(r.status, (201, 400, 422), r.body)
        if r.status == 201:
            self.assertEqual(self.get_doc(nul)["title"], "avant\u0000après")
        self.health()


def json_text(doc):
    return json.dumps(doc, ensure_ascii=False)


class GetTests(CtgdTestCase):

    def test_get_answers_the_doc_with_its_etag(self):
        conv_id = new_id("get")
        created = self.create(convention(id=conv_id))
        r = self.request("GET", conv_path(conv_id))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(media_type(r.headers), "application/json")
        self.assertETag(r, 1)
        self.assertEqual(r.body, created)

    def test_if_none_match(self):
        conv_id = new_id("inm")
        self.create(convention(id=conv_id))
        r = self.request("GET", conv_path(conv_id), headers={"If-None-Match": '"1"'})
        self.assertEqual(r.status, 304)
        self.assertEqual(r.body, b"")
        r = self.request("GET", conv_path(conv_id), headers={"If-None-Match": "*"})
        self.assertEqual(r.status, 304)
        self.assertEqual(r.body, b"")
        r = self.request("GET", conv_path(conv_id), headers={"If-None-Match": '"2"'})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["rev"], 1)
        r = self.request("PATCH", conv_path(conv_id), {"title": "Nouveau titre"},
                         headers=dict(if_match(1), **MERGE_PATCH))
        self.assertEqual(r.status, 200, r.body)
        r = self.request("GET", conv_path(conv_id), headers={"If-None-Match": '"1"'})
        self.assertEqual(r.status, 200, r.body)
        self.assertETag(r, 2)
        self.assertEqual(r.body["title"], "Nouveau titre")

    def test_answers_carry_the_date_of_now(self):
        days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                  "Dec"]
        conv_id = new_id("date")
        self.create(convention(id=conv_id))
        for path, status in ((conv_path(conv_id), 200), (conv_path(new_id("absent")), 404)):
            with self.subTest(path):
                before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
                r = self.request("GET", path)
                after = datetime.datetime.now(datetime.timezone.utc)
                self.assertEqual(r.status, status)
                # RFC 9110 IMF-fixdate: English names, whatever the locale
                m = re.fullmatch(r"(\w{3}), (\d\d) (\w{3}) (\d{4}) (\d\d):(\d\d):(\d\d) GMT",
                                 r.headers["date"])
                self.assertIsNotNone(m, r.headers["date"])
                date = datetime.datetime(int(m[4]), months.index(m[3]) + 1, int(m[2]), int(m[5]),
                                         int(m[6]), int(m[7]), tzinfo=datetime.timezone.utc)
                self.assertEqual(m[1], days[date.weekday()])
                self.assertTrue(before <= date <= after, (before, r.headers["date"], after))

    def test_date_is_not_before_the_request_at_a_new_second(self):
        """Just after a second begins, the kernel's tick clock (time()) can still show the
        second before: the Date of an answer must not."""
        conv_id = new_id("tick")
        self.create(convention(id=conv_id))
        late = []
        for _ in range(5):  # the tick clock's lag showed in all twenty tries of an earlier build
            while time.time() % 1 > 0.0005:  # wait for a second to begin
                pass
            before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
            r = self.request("GET", conv_path(conv_id))
            date = email.utils.parsedate_to_datetime(r.headers["date"])
            if date < before:
                late.append((before.isoformat(), r.headers["date"]))
        self.assertEqual(late, [])

    def test_head_has_the_length_of_get_and_no_body(self):
        conv_id = new_id("head")
        self.create(convention(id=conv_id))
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=10)
        conn.request("GET", conv_path(conv_id))
        body = conn.getresponse().read()
        conn.close()
        sock = socket.create_connection((self.server.host, self.server.port), timeout=10)
        self.addCleanup(sock.close)
        # HEAD, then GET on the same connection: the second answer must start where the first
        # ends
        sock.sendall(("HEAD %s HTTP/1.1\r\nHost: ctgd\r\n\r\n"
                      "GET /v1/health HTTP/1.1\r\nHost: ctgd\r\n\r\n" % conv_path(conv_id))
                     .encode())
        received = b""
        deadline = time.monotonic() + 10
        while received.count(b"HTTP/1.1 ") < 2 or not received.endswith(b"\n"):
            self.assertLess(time.monotonic(), deadline, received)
            chunk = sock.recv(65536)
            self.assertTrue(chunk, received)
            received += chunk
        head, rest = received.split(b"\r\n\r\n", 1)
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
        self.assertIn(b"\r\nContent-Length: %d" % len(body), head)
        self.assertTrue(rest.startswith(b"HTTP/1.1 200"), rest[:200])

    def test_unknown_id_is_404(self):
        self.assertError(self.request("GET", conv_path(new_id("absent"))), 404, "not_found")

    def test_invalid_id_in_path_is_400(self):
        for bad in ("A_B", "ab", "-abc", "a" * 65, "a" * 1000, "caf%2029"):
            with self.subTest(bad):
                self.assertError(self.request("GET", "/v1/conventions/" + bad), 400,
                                 "bad_parameter")


class PutTests(CtgdTestCase):

    def setUp(self):
        self.conv_id = new_id("put")
        self.created = self.create(convention(id=self.conv_id))

    def put(self, doc, headers=None, conv_id=None):
        return self.request("PUT", conv_path(conv_id or self.conv_id), doc, headers=headers)

    def update_to_rev2(self):
        r = self.put(convention(id=self.conv_id, status="monitoring"), headers=if_match(1))
        self.assertEqual(r.status, 200, r.body)

    def test_put_without_rev_is_428(self):
        with self.assertNoWrite(self.conv_id):
            r = self.put(convention(id=self.conv_id, title="Sans rev"))
            self.assertError(r, 428, "precondition_required")

    def test_put_with_current_if_match(self):
        doc = convention(id=self.conv_id, title="CTG du Pays Bigouden Sud 2020-2024",
                         status="monitoring")
        r = self.put(doc, headers=if_match(1))
        self.assertEqual(r.status, 200, r.body)
        body = r.body
        self.assertEqual(body["rev"], 2)
        if "etag" in r.headers:
            self.assertETag(r, 2)
        self.assertEqual(client_view(body), doc)
        self.assertEqual(body["created_at"], self.created["created_at"])
        self.assertEqual(body["created_by"], self.created["created_by"])
        self.assertTimestamp(body["updated_at"])
        self.assertGreaterEqual(parse_time(body["updated_at"]), parse_time(body["created_at"]))
        self.assertEqual(body["updated_by"], "anonymous")
        self.assertEqual(self.get_doc(self.conv_id), body)

    def test_put_with_stale_if_match_is_412(self):
        self.update_to_rev2()
        with self.assertNoWrite(self.conv_id):
            r = self.put(convention(id=self.conv_id, title="Périmé"), headers=if_match(1))
            err = self.assertError(r, 412, "precondition_failed")
            self.assertEqual(err.get("current_rev"), 2, r.body)

    def test_put_with_stale_body_rev_is_409(self):
        self.update_to_rev2()
        with self.assertNoWrite(self.conv_id):
            r = self.put(convention(id=self.conv_id, title="Périmé", rev=1))
            err = self.assertError(r, 409, "rev_conflict")
            self.assertEqual(err.get("current_rev"), 2, r.body)

    def test_put_with_current_body_rev(self):
        r = self.put(convention(id=self.conv_id, title="Avec rev", rev=1))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["rev"], 2)
        self.assertEqual(r.body["title"], "Avec rev")

    def test_if_match_star_does_not_override_a_stale_body_rev(self):
        doc = self.create(convention(id=new_id("star")))
        path = conv_path(doc["id"])
        self.assertEqual(self.request("PATCH", path, {"title": "Deux", "rev": 1},
                                      headers={"If-Match": '"1"'}).status, 200)
        r = self.request("PATCH", path, {"title": "Périmé", "rev": 1}, headers={"If-Match": "*"})
        self.assertError(r, 409, "rev_conflict")
        self.assertEqual(self.get_doc(doc["id"])["title"], "Deux")
        r = self.request("PATCH", path, {"title": "Trois"}, headers={"If-Match": "*"})
        self.assertEqual(r.status, 200, r.body)

    def test_delete_with_body_and_query_revs_that_differ_is_400(self):
        doc = self.create(convention(id=new_id("revs")))
        r = self.request("DELETE", conv_path(doc["id"]) + "?rev=2", {"rev": 1})
        self.assertError(r, 400, "bad_parameter")
        self.assertEqual(self.get_doc(doc["id"])["rev"], 1)

    def test_routes_without_parameters_refuse_them(self):
        for path in ("/v1/health?x=1", "/v1/metrics?x=1", "/v1/openapi.yaml?x=1"):
            with self.subTest(path):
                self.assertError(self.request("GET", path), 400, "bad_parameter")

    def test_weak_if_match_never_matches(self):
        doc = self.create(convention(id=new_id("weak")))
        r = self.request("PATCH", conv_path(doc["id"]), {"title": "x"},
                         headers={"If-Match": 'W/"1"'})
        self.assertError(r, 412, "precondition_failed")

    def test_query_parameters_are_refused_where_none_is_expected(self):
        doc = self.create(convention(id=new_id("query")))
        path = conv_path(doc["id"])
        cases = [
            ("GET", path + "?bogus=1", None),
            ("GET", conv_path(doc["id"], "history") + "?x=1", None),
            ("PATCH", path + "?rev=1", {"title": "x"}),
            ("PUT", path + "?rev=1", convention(id=doc["id"])),
        ]
        for method, url, body in cases:
            with self.subTest(method + " " + url):
                self.assertError(self.request(method, url, body), 400, "bad_parameter")
        self.assertEqual(self.get_doc(doc["id"])["rev"], 1)

    def test_put_back_what_get_answered(self):
        doc = self.get_doc(self.conv_id)
        doc["title"] = "Relu puis renvoyé tel quel"
        r = self.put(doc)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["rev"], 2)
        self.assertEqual(r.body["title"], doc["title"])
        self.assertEqual(r.body["created_at"], self.created["created_at"])

    def test_if_match_and_body_rev_that_differ_are_400(self):
        self.update_to_rev2()
        with self.assertNoWrite(self.conv_id):
            r = self.put(convention(id=self.conv_id, rev=1), headers=if_match(2))
            self.assertError(r, 400)

    def test_put_replaces_the_whole_document(self):
        doc = convention(id=self.conv_id, territory=None, governance=None, extra=None)
        r = self.put(doc, headers=if_match(1))
        self.assertEqual(r.status, 200, r.body)
        for key in ("territory", "governance", "extra"):
            self.assertNotIn(key, r.body)
            self.assertNotIn(key, self.get_doc(self.conv_id))

    def test_put_of_an_absent_id_without_rev_creates(self):
        conv_id = new_id("putnew")
        seq = self.last_seq()
        doc = convention(id=conv_id, department="49", title="CTG de Saumur Val de Loire")
        r = self.put(doc, conv_id=conv_id)
        self.assertEqual(r.status, 201, r.body)
        self.assertETag(r, 1)
        if "location" in r.headers:
            self.assertEqual(r.headers["location"], "/v1/conventions/" + conv_id)
        self.assertEqual(r.body["rev"], 1)
        self.assertEqual(r.body["created_by"], "anonymous")
        self.assertEqual(client_view(r.body), doc)
        self.assertEqual(self.last_seq(), seq + 1)
        self.assertEqual(self.get_doc(conv_id), r.body)

    def test_put_of_an_absent_id_without_id_in_body_creates_under_the_path_id(self):
        conv_id = new_id("putnoid")
        r = self.put(convention(), conv_id=conv_id)
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(r.body["id"], conv_id)

    def test_put_of_an_absent_id_with_rev_is_404(self):
        conv_id = new_id("putgone")
        with self.assertNoWrite(conv_id):
            r = self.put(convention(id=conv_id), conv_id=conv_id, headers=if_match(1))
            self.assertError(r, 404, "not_found")

    def test_body_id_other_than_path_id_is_400(self):
        other = new_id("other")
        with self.assertNoWrite(self.conv_id, other):
            r = self.put(convention(id=other), headers=if_match(1))
            self.assertError(r, 400)

    def test_invalid_put_is_422_and_changes_nothing(self):
        with self.assertNoWrite(self.conv_id):
            r = self.put(convention(id=self.conv_id, department="2C"), headers=if_match(1))
            self.assertDetailPaths(r, "/department")

    def test_put_with_bad_path_id_is_400(self):
        r = self.request("PUT", "/v1/conventions/A_B", convention())
        self.assertError(r, 400, "bad_parameter")


class PatchTests(CtgdTestCase):

    def setUp(self):
        self.conv_id = new_id("patch")
        self.created = self.create(convention(id=self.conv_id))

    def patch(self, patch, rev=None, content_type="application/merge-patch+json", conv_id=None):
        headers = {"Content-Type": content_type}
        if rev is not None:
            headers.update(if_match(rev))
        return self.request("PATCH", conv_path(conv_id or self.conv_id), patch, headers=headers)

    def assertOnlyChanged(self, before, after, changes):
        """`after` is `before` with the top-level keys of `changes` replaced (None: removed)."""
        want = client_view(before)
        for key, value in changes.items():
            if value is None:
                want.pop(key, None)
            else:
                want[key] = value
        self.assertEqual(client_view(after), want)

    def test_patch_changes_the_title(self):
        r = self.patch({"title": "CTG Pays Bigouden Sud — avenant 1"}, rev=1)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["rev"], 2)
        self.assertOnlyChanged(self.created, r.body,
                               {"title": "CTG Pays Bigouden Sud — avenant 1"})
        self.assertEqual(r.body["created_at"], self.created["created_at"])
        self.assertEqual(r.body["updated_by"], "anonymous")
        self.assertEqual(self.get_doc(self.conv_id), r.body)

    def test_patch_accepts_application_json(self):
        r = self.patch({"status": "monitoring", "rev": 1}, content_type="application/json")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["rev"], 2)
        self.assertEqual(r.body["status"], "monitoring")

    def test_null_removes_a_key(self):
        r = self.patch({"territory": None, "signed_on": None}, rev=1)
        self.assertEqual(r.status, 200, r.body)
        self.assertNotIn("territory", r.body)
        self.assertNotIn("signed_on", r.body)
        self.assertOnlyChanged(self.created, r.body, {"territory": None, "signed_on": None})
        self.assertNotIn("territory", self.get_doc(self.conv_id))

    def test_nested_objects_are_merged(self):
        r = self.patch({"period": {"end": "2024-12-31"},
                        "diagnostic": {"figures": {"population": 38100, "children_0_3": None}},
                        "territory": {"siren": "200067965"}}, rev=1)
        self.assertEqual(r.status, 200, r.body)
        old = self.created
        self.assertEqual(r.body["period"], {"start": "2020-01-01", "end": "2024-12-31"})
        self.assertEqual(r.body["diagnostic"], {"year": 2019, "figures": {"population": 38100}})
        territory = dict(old["territory"], siren="200067965")
        self.assertEqual(r.body["territory"], territory)
        self.assertOnlyChanged(old, r.body, {"period": r.body["period"],
                                             "diagnostic": r.body["diagnostic"],
                                             "territory": territory})

    def test_arrays_are_replaced(self):
        funding = [{"year": 2021, "amount": 80000, "source": "caf", "label": "Prestation de "
                    "service jeunes"}]
        r = self.patch({"funding": funding}, rev=1)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["funding"], funding)

    def test_patch_without_rev_is_428(self):
        with self.assertNoWrite(self.conv_id):
            self.assertError(self.patch({"title": "Sans rev"}), 428, "precondition_required")

    def test_patch_with_stale_if_match_is_412(self):
        self.assertEqual(self.patch({"status": "monitoring"}, rev=1).status, 200)
        with self.assertNoWrite(self.conv_id):
            err = self.assertError(self.patch({"title": "Périmé"}, rev=1), 412,
                                   "precondition_failed")
            self.assertEqual(err.get("current_rev"), 2)

    def test_patch_with_stale_body_rev_is_409(self):
        self.assertEqual(self.patch({"status": "monitoring"}, rev=1).status, 200)
        with self.assertNoWrite(self.conv_id):
            err = self.assertError(self.patch({"title": "Périmé", "rev": 1}), 409,
                                   "rev_conflict")
            self.assertEqual(err.get("current_rev"), 2)

    def test_patch_making_the_doc_invalid_is_422(self):
        with self.assertNoWrite(self.conv_id):
            r = self.patch({"status": "bogus", "period": {"end": "2019-01-01"}}, rev=1)
            got = self.assertDetailPaths(r, "/status")
            self.assertTrue({"/period", "/period/end"} & set(got), got)
        with self.assertNoWrite(self.conv_id):
            self.assertDetailPaths(self.patch({"title": None}, rev=1), "/title")
        with self.assertNoWrite(self.conv_id):
            self.assertDetailPaths(self.patch({"typo": True}, rev=1), "/typo")

    def test_patching_the_id_is_400(self):
        other = new_id("moved")
        with self.assertNoWrite(self.conv_id, other):
            self.assertError(self.patch({"id": other}, rev=1), 400)

    def test_patch_of_an_unknown_id_is_404(self):
        conv_id = new_id("nopatch")
        with self.assertNoWrite(conv_id):
            self.assertError(self.patch({"title": "x"}, rev=1, conv_id=conv_id), 404,
                             "not_found")

    def test_patch_content_type_and_syntax(self):
        with self.assertNoWrite(self.conv_id):
            self.assertError(self.patch({"title": "x"}, rev=1, content_type="text/plain"), 415,
                             "unsupported_media_type")
            r = self.request("PATCH", conv_path(self.conv_id), raw=b'{"title": "x", "title": "y"}',
                             headers=dict(if_match(1), **MERGE_PATCH))
            self.assertError(r, 400, "malformed_json")
            r = self.request("PATCH", conv_path(self.conv_id), raw=b'["title"]',
                             headers=dict(if_match(1), **MERGE_PATCH))
            self.assertError(r, 400, "malformed_json")


class ActionPatchTests(CtgdTestCase):

    def setUp(self):
        self.conv_id = new_id("action")
        self.created = self.create(convention(id=self.conv_id))

    def patch_action(self, action_id, patch, rev=1, content_type="application/json"):
        headers = {"Content-Type": content_type}
        if rev is not None:
            headers.update(if_match(rev))
        return self.request("PATCH", conv_path(self.conv_id, "actions", action_id), patch,
                            headers=headers)

    def test_action_patch_answers_the_whole_convention(self):
        seq = self.last_seq()
        r = self.patch_action("act-2", {"progress": 80, "status": "in_progress"})
        self.assertEqual(r.status, 200, r.body)
        body = r.body
        self.assertEqual(body["rev"], 2)
        self.assertEqual(body["id"], self.conv_id)
        want = copy.deepcopy(client_view(self.created))
        want["actions"][1].update(progress=80, status="in_progress")
        self.assertEqual(client_view(body), want)
        self.assertEqual(self.get_doc(self.conv_id), body)
        self.assertEqual(self.last_seq(), seq + 1)

    def test_action_patch_takes_merge_patch_and_null(self):
        r = self.patch_action("act-1", {"lead": None, "figures": {"jeunes_accueillis": 150}},
                              content_type="application/merge-patch+json")
        self.assertEqual(r.status, 200, r.body)
        action = r.body["actions"][0]
        self.assertNotIn("lead", action)
        self.assertEqual(action["figures"], {"jeunes_accueillis": 150})
        self.assertEqual(action["progress"], 40)

    def test_unknown_action_is_404(self):
        with self.assertNoWrite(self.conv_id):
            self.assertError(self.patch_action("act-9", {"progress": 10}), 404, "not_found")

    def test_action_of_an_unknown_convention_is_404(self):
        r = self.request("PATCH", conv_path(new_id("noconv"), "actions", "act-1"),
                         {"progress": 10}, headers=if_match(1))
        self.assertError(r, 404, "not_found")

    def test_invalid_progress_is_422_with_the_action_path(self):
        with self.assertNoWrite(self.conv_id):
            r = self.patch_action("act-2", {"progress": 150})
            self.assertDetailPaths(r, "/actions/1/progress")
        with self.assertNoWrite(self.conv_id):
            r = self.patch_action("act-3", {"status": "finished"})
            self.assertDetailPaths(r, "/actions/2/status")

    def test_action_patch_follows_the_rev_rule(self):
        with self.assertNoWrite(self.conv_id):
            self.assertError(self.patch_action("act-1", {"progress": 60}, rev=None), 428,
                             "precondition_required")
        with self.assertNoWrite(self.conv_id):
            err = self.assertError(self.patch_action("act-1", {"progress": 60}, rev=7), 412,
                                   "precondition_failed")
            self.assertEqual(err.get("current_rev"), 1)


class DeleteTests(CtgdTestCase):

    def setUp(self):
        self.conv_id = new_id("del")
        self.create(convention(id=self.conv_id))

    def test_delete_without_rev_is_428(self):
        with self.assertNoWrite(self.conv_id):
            self.assertError(self.request("DELETE", conv_path(self.conv_id)), 428,
                             "precondition_required")

    def test_delete_with_if_match(self):
        seq = self.last_seq()
        r = self.request("DELETE", conv_path(self.conv_id), headers=if_match(1))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body, {"id": self.conv_id, "rev": 2, "deleted": True})
        self.assertEqual(self.last_seq(), seq + 1)
        self.assertError(self.request("GET", conv_path(self.conv_id)), 404, "not_found")
        r = self.request("GET", conv_path(self.conv_id, "history"))
        self.assertEqual(r.status, 200, r.body)
        last = r.body["history"][-1]
        self.assertEqual((last["rev"], last["type"]), (2, "deleted"))
        self.assertEqual([h["type"] for h in r.body["history"]], ["created", "deleted"])
        self.assertError(self.request("GET", conv_path(self.conv_id, "revisions", 2)), 404,
                         "not_found")
        r = self.request("GET", conv_path(self.conv_id, "revisions", 1))
        self.assertEqual(r.status, 200, r.body)
        r = self.request("GET", "/v1/conventions" + qs(q=self.conv_id))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["items"], [])

    def test_delete_with_rev_parameter(self):
        r = self.request("DELETE", conv_path(self.conv_id) + "?rev=1")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body, {"id": self.conv_id, "rev": 2, "deleted": True})
        self.assertError(self.request("GET", conv_path(self.conv_id)), 404, "not_found")

    def test_delete_with_a_stale_rev(self):
        with self.assertNoWrite(self.conv_id):
            err = self.assertError(self.request("DELETE", conv_path(self.conv_id),
                                                headers=if_match(5)), 412, "precondition_failed")
            self.assertEqual(err.get("current_rev"), 1)
        with self.assertNoWrite(self.conv_id):
            r = self.request("DELETE", conv_path(self.conv_id) + "?rev=5")
            self.assertIn(r.status, (409, 412), r.body)
            self.assertEqual(r.body["error"].get("current_rev"), 1)
        with self.assertNoWrite(self.conv_id):
            self.assertError(self.request("DELETE", conv_path(self.conv_id) + "?rev=abc"), 400,
                             "bad_parameter")

    def test_delete_of_an_unknown_id_is_404(self):
        conv_id = new_id("nodel")
        self.assertError(self.request("DELETE", conv_path(conv_id), headers=if_match(1)), 404,
                         "not_found")
        r = self.request("DELETE", conv_path(self.conv_id), headers=if_match(1))
        self.assertEqual(r.status, 200, r.body)
        with self.assertNoWrite(self.conv_id):
            self.assertError(self.request("DELETE", conv_path(self.conv_id), headers=if_match(2)),
                             404, "not_found")

    def test_recreate_after_delete_goes_on_from_the_deletion_rev(self):
        r = self.request("PATCH", conv_path(self.conv_id), {"status": "monitoring"},
                         headers=if_match(1))
        self.assertEqual(r.status, 200, r.body)
        r = self.request("DELETE", conv_path(self.conv_id), headers=if_match(2))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["rev"], 3)
        r = self.request("POST", "/v1/conventions", convention(id=self.conv_id, title="Renouvelée"))
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(r.body["rev"], 4)
        self.assertETag(r, 4)
        r = self.request("GET", conv_path(self.conv_id, "history"))
        self.assertEqual([(h["rev"], h["type"]) for h in r.body["history"]],
                         [(1, "created"), (2, "updated"), (3, "deleted"), (4, "created")])
        self.assertEqual(self.request("GET", conv_path(self.conv_id, "revisions", 1)).body["title"],
                         convention()["title"])
        self.assertEqual(self.request("GET", conv_path(self.conv_id, "revisions", 4)).body["title"],
                         "Renouvelée")

    def test_put_recreate_after_delete_goes_on_from_the_deletion_rev(self):
        r = self.request("DELETE", conv_path(self.conv_id), headers=if_match(1))
        self.assertEqual(r.status, 200, r.body)
        r = self.request("PUT", conv_path(self.conv_id), convention(id=self.conv_id))
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(r.body["rev"], 3)


class HistoryTests(CtgdTestCase):

    def test_history_and_revisions(self):
        conv_id = new_id("hist")
        titles = ["CTG Pays Bigouden Sud", "CTG Pays Bigouden Sud (révisée)",
                  "CTG Pays Bigouden Sud (avenant)"]
        self.create(convention(id=conv_id, title=titles[0]))
        r = self.request("PUT", conv_path(conv_id), convention(id=conv_id, title=titles[1]),
                         headers=if_match(1))
        self.assertEqual(r.status, 200, r.body)
        r = self.request("PATCH", conv_path(conv_id), {"title": titles[2]},
                         headers=dict(if_match(2), **MERGE_PATCH))
        self.assertEqual(r.status, 200, r.body)
        current = r.body

        r = self.request("GET", conv_path(conv_id, "history"))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["id"], conv_id)
        history = r.body["history"]
        self.assertEqual([(h["rev"], h["type"], h["actor"]) for h in history],
                         [(1, "created", "anonymous"), (2, "updated", "anonymous"),
                          (3, "updated", "anonymous")])
        for h in history:
            self.assertTimestamp(h["at"])
        times = [parse_time(h["at"]) for h in history]
        self.assertEqual(times, sorted(times), "history is not oldest first")

        for rev, title in enumerate(titles, start=1):
            r = self.request("GET", conv_path(conv_id, "revisions", rev))
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.body["title"], title)
            self.assertEqual(r.body["rev"], rev)
            self.assertEqual(r.body["id"], conv_id)
        self.assertEqual(self.request("GET", conv_path(conv_id, "revisions", 3)).body, current)

    def test_unknown_revision_is_404(self):
        conv_id = new_id("histrev")
        self.create(minimal_convention(id=conv_id))
        for rev in (2, 99):
            with self.subTest(rev=rev):
                self.assertError(self.request("GET", conv_path(conv_id, "revisions", rev)), 404,
                                 "not_found")
        for rev in ("0", "x", "-1"):    # not a rev at all: a bad path parameter, or no such rev
            with self.subTest(rev=rev):
                r = self.request("GET", conv_path(conv_id, "revisions", rev))
                self.assertIn((r.status, r.body["error"]["code"]),
                              [(400, "bad_parameter"), (404, "not_found")], r.body)

    def test_history_of_an_unknown_id_is_404(self):
        conv_id = new_id("nohist")
        self.assertError(self.request("GET", conv_path(conv_id, "history")), 404, "not_found")
        self.assertError(self.request("GET", conv_path(conv_id, "revisions", 1)), 404, "not_found")


class RouteTests(CtgdTestCase):

    def test_unknown_routes_are_404(self):
        for path in ("/v1/nope", "/nope", "/v2/conventions", "/v1/conventions/abc-1/nope",
                     "/v1/conventions/abc-1/actions/act-1/nope"):
            with self.subTest(path):
                self.assertError(self.request("GET", path), 404, "not_found")

    def allow(self, resp):
        return {m.strip().upper() for m in resp.headers.get("allow", "").split(",") if m.strip()}

    def test_wrong_method_is_405_with_allow(self):
        conv_id = new_id("route")
        self.create(minimal_convention(id=conv_id))
        cases = [
            ("DELETE", "/v1/health", {"GET"}),
            ("POST", "/v1/health", {"GET"}),
            ("PUT", "/v1/conventions", {"GET", "POST"}),
            ("DELETE", "/v1/conventions", {"GET", "POST"}),
            ("POST", conv_path(conv_id), {"GET", "PUT", "PATCH", "DELETE"}),
            ("DELETE", conv_path(conv_id, "history"), {"GET"}),
            ("GET", conv_path(conv_id, "actions", "act-1"), {"PATCH"}),
        ]
        for method, path, allowed in cases:
            with self.subTest(method=method, path=path):
                with self.assertNoWrite(conv_id):
                    r = self.request(method, path, headers={"Content-Type": "application/json"},
                                     raw=b"{}" if method in ("POST", "PUT") else None)
                    self.assertError(r, 405, "method_not_allowed")
                    self.assertIn("allow", r.headers)
                    self.assertTrue(allowed <= self.allow(r), "Allow %r lacks %r"
                                    % (r.headers.get("allow"), allowed))
                    self.assertNotIn(method, self.allow(r))


class ConcurrencyTests(CtgdTestCase):
    """Writers racing each other: the rev rule and the seq hold."""

    def test_same_rev_only_one_writer_wins(self):
        conv_id = new_id("race")
        self.create(convention(id=conv_id))
        seq = self.last_seq()
        results = together([
            (lambda n=n: self.request("PATCH", conv_path(conv_id), {"title": "Écrivain %d" % n},
                                      headers=if_match(1)))
            for n in range(12)])
        statuses = sorted(r.status for r in results)
        self.assertEqual(statuses, [200] + [412] * 11, [r.body for r in results])
        for r in results:
            if r.status == 412:
                self.assertEqual(r.body["error"]["code"], "precondition_failed")
                self.assertEqual(r.body["error"].get("current_rev"), 2)
        winner = [r for r in results if r.status == 200][0]
        self.assertEqual(self.get_doc(conv_id), winner.body)
        self.assertEqual(self.last_seq(), seq + 1)

    def test_same_id_only_one_creator_wins(self):
        conv_id = new_id("racecreate")
        seq = self.last_seq()
        results = together([
            (lambda n=n: self.request("POST", "/v1/conventions",
                                      convention(id=conv_id, title="Créateur %d" % n)))
            for n in range(12)])
        statuses = sorted(r.status for r in results)
        self.assertEqual(statuses, [201] + [409] * 11, [r.body for r in results])
        self.assertEqual(self.get_doc(conv_id)["rev"], 1)
        self.assertEqual(self.last_seq(), seq + 1)

    def test_parallel_creations_each_take_one_seq(self):
        seq = self.last_seq()
        ids = [new_id("par") for _ in range(24)]
        results = together([
            (lambda i=i: self.request("POST", "/v1/conventions",
                                      convention(id=i, department=("29", "49", "15")[len(i) % 3])))
            for i in ids])
        self.assertEqual([r.status for r in results], [201] * len(ids),
                         [r.body for r in results if r.status != 201])
        self.assertEqual(self.last_seq(), seq + len(ids))
        for conv_id in ids:
            self.assertEqual(self.get_doc(conv_id)["rev"], 1)


class ShutdownTests(CtgdTestCase):
    start_class_server = False

    def test_sigterm_with_open_connections(self):
        server = Server(label="ctgd with open connections")
        self.addCleanup(server.cleanup)
        server.start()
        idle = socket.create_connection((server.host, server.port))
        partial = socket.create_connection((server.host, server.port))
        self.addCleanup(idle.close)
        self.addCleanup(partial.close)
        partial.sendall(b"POST /v1/conventions HTTP/1.1\r\nHost: x\r\n"
                        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"id\"")
        r = server.request("GET", "/v1/health")
        self.assertEqual(r.status, 200, r.body)
        server.stop()       # exit 0 within the stop timeout, open connections or not


class PersistenceTests(CtgdTestCase):
    start_class_server = False

    def state(self, server, ids):
        out = {"last_seq": server.request("GET", "/v1/health").body["last_seq"],
               "conventions": server.request("GET", "/v1/health").body["conventions"]}
        for conv_id in ids:
            out[conv_id] = {
                "doc": server.request("GET", conv_path(conv_id))[::2],
                "history": server.request("GET", conv_path(conv_id, "history"))[::2],
                "rev1": server.request("GET", conv_path(conv_id, "revisions", 1))[::2],
            }
        out["list"] = server.request("GET", "/v1/conventions?limit=1000")[::2]
        return out

    def test_restart_keeps_docs_revs_history_and_seq(self):
        data = tempfile.mkdtemp(prefix="ctgd-it-data-")
        self.addCleanup(lambda: __import__("shutil").rmtree(data, ignore_errors=True))

        first = Server(data_dir=data, label="ctgd before restart")
        self.addCleanup(first.cleanup)
        first.start()
        ids = [new_id("persist") for _ in range(3)]
        for i, conv_id in enumerate(ids):
            dep = ("29", "49", "15")[i]
            r = first.request("POST", "/v1/conventions", convention(id=conv_id, department=dep))
            self.assertEqual(r.status, 201, r.body)
        r = first.request("PATCH", conv_path(ids[0]), {"title": "Modifiée avant l'arrêt"},
                          headers=if_match(1))
        self.assertEqual(r.status, 200, r.body)
        r = first.request("PATCH", conv_path(ids[0], "actions", "act-2"), {"progress": 55},
                          headers=if_match(2))
        self.assertEqual(r.status, 200, r.body)
        r = first.request("DELETE", conv_path(ids[2]), headers=if_match(1))
        self.assertEqual(r.status, 200, r.body)
        before = self.state(first, ids)
        self.assertEqual(before[ids[0]]["doc"][0], 200)
        self.assertEqual(before[ids[0]]["doc"][1]["rev"], 3)
        self.assertEqual(before[ids[2]]["doc"][0], 404)
        first.stop()

        second = Server(data_dir=data, label="ctgd after restart")
        self.addCleanup(second.cleanup)
        second.start()
        self.addCleanup(second.stop)
        after = self.state(second, ids)
        self.assertEqual(after, before)

        seq = after["last_seq"]
        r = second.request("POST", "/v1/conventions", convention(id=ids[2], title="Recréée"))
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(r.body["rev"], 3)
        r = second.request("PATCH", conv_path(ids[1]), {"status": "monitoring"},
                           headers=if_match(1))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["rev"], 2)
        self.assertEqual(second.request("GET", "/v1/health").body["last_seq"], seq + 2)


if __name__ == "__main__":
    main()
