#!/usr/bin/env python3
"""
test_hostile.py — hostile input gets nowhere (README "Guarantees"):

  * a corpus of malformed bodies (truncated and deeply nested JSON, duplicate keys, huge numbers,
    NaN, invalid UTF-8, NUL characters) and of documents with a wrong type in every field: each
    answered with a 4xx JSON error (the harness checks the SPEC §3 shape), nothing written;
  * hostile paths and queries: ids with /, .., %00, %2F, huge ids, bad percent-encoding,
    repeated or absurd parameters;
  * the HTTP layer, over raw sockets: unknown methods, huge headers, huge URLs, broken request
    lines, lying Content-Length, bad chunked encoding. Each gets a 4xx JSON error or a closed
    connection; only requests that evhttp (libevent 2.1) cannot parse at all may get its own
    4xx page (README "Known limits");
  * slow clients: an idle or dribbling connection is closed after limits.timeout; clients over
    limits.connections are answered 503 in JSON instead of waiting, and the server answers again
    as soon as they leave.
After every case the server answers /v1/health and the change log has not moved.

    python3 tests/integration/test_hostile.py --ctgd build/ctgd
"""

import json
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ctgd_harness import WRAPPER, CtgdTestCase, convention, main, media_type  # noqa: E402

WRONG_VALUES = [None, 0, "x", [], {}, True, [None], {"": None}]


def truncations(text):
    """Prefixes of `text` cut at every structural point (a sample of them)."""
    cuts = sorted({i + 1 for i, c in enumerate(text) if c in '{[,:"'})
    return [text[:i] for i in cuts[::7]] + [text[:-1]]


def malformed_bodies():
    """(name, bytes): bodies that are not a JSON object a write could take."""
    doc = json.dumps(convention("29"))
    yield from (("truncated at %d" % len(t), t.encode()) for t in truncations(doc))
    yield "nested arrays 100000", b"[" * 100000 + b"]" * 100000
    yield "nested objects 50000", b'{"a":' * 50000 + b"1" + b"}" * 50000
    yield "unclosed nesting", b'{"extra":' + b"[" * 5000
    yield "duplicate keys", b'{"department":"29","department":"49","title":"t"}'
    yield "huge integer", doc.replace('"title"', '"extra":{"n":' + "9" * 5000 + '},"title"', 1).encode()
    yield "huge exponent", b'{"department":"29","title":"t","extra":{"n":1e999999}}'
    yield "NaN", b'{"department":"29","title":NaN}'
    yield "Infinity", b'{"department":"29","title":"t","extra":{"n":-Infinity}}'
    yield "invalid UTF-8", b'{"department":"29","title":"\xff\xfe"}'
    yield "overlong UTF-8", b'{"department":"29","title":"\xc0\xaf"}'
    yield "lone surrogate", b'{"department":"29","title":"\\ud800"}'
    yield "invalid UTF-8 key", b'{"\xe9":1}'
    yield "NUL in a string", b'{"department":"29","title":"a\\u0000b"}'
    yield "raw NUL", b'{"department":"29",\x00"title":"t"}'
    yield "not an object", b'[1,2,3]'
    yield "a string", b'"convention"'
    yield "empty", b""
    yield "whitespace", b"   \n\t "
    yield "trailing garbage", doc.encode() + b"}"
    yield "two documents", doc.encode() + doc.encode()
    yield "BOM", b"\xef\xbb\xbf" + doc.encode()
    yield "comment", b'{/* c */"department":"29"}'
    yield "single quotes", b"{'department':'29'}"


def family(value):
    """The JSON type of a value: numbers are one family, whatever Python makes of them."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {type(None): "null", str: "string", list: "array", dict: "object"}[type(value)]


NULLABLE = {"/signed_on"}
NUMBER_OR_STRING = {"/actions/0/number"}  # "3.1" is a fiche's number too


def wrong_type_documents():
    """(pointer, value, doc): a valid document with one field, at any depth, of a wrong type."""
    base = convention("29")
    for pointer, parent, key in fields(base):
        for value in WRONG_VALUES:
            if (family(value) == family(parent[key]) or (value is None and pointer in NULLABLE)
                    or (pointer in NUMBER_OR_STRING and family(value) in ("number", "string"))):
                continue
            doc = json.loads(json.dumps(base))
            target = doc
            for part in pointer.strip("/").split("/")[:-1]:
                target = target[int(part)] if isinstance(target, list) else target[part]
            target[int(key) if isinstance(target, list) else key] = value
            yield pointer, value, doc


def fields(node, pointer=""):
    """(pointer, container, key) of every value below `node` (arrays: their first item)."""
    items = node.items() if isinstance(node, dict) else list(enumerate(node))[:1]
    for key, value in items:
        here = "%s/%s" % (pointer, key)
        yield here, node, key
        if isinstance(value, (dict, list)) and key != "extra":
            yield from fields(value, here)


class HostileInputTests(CtgdTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.existing = cls.server.request("POST", "/v1/conventions", convention("29")).body
        cls.tried = 0

    def setUp(self):
        self.seq_before = self.last_seq()

    def tearDown(self):
        self.assertEqual(self.last_seq(), self.seq_before, "a refused request wrote something")
        type(self).tried += 1

    def assert_refused(self, method, path, raw=None, body=None, headers=None, allowed=(400,)):
        r = self.request(method, path, raw=raw, body=body, headers=headers)
        self.assertIn(r.status, allowed, "%s %s: %r" % (method, path, r.body))
        return r

    def test_malformed_bodies(self):
        conv = "/v1/conventions/" + self.existing["id"]
        for name, raw in malformed_bodies():
            with self.subTest(body=name):
                self.assert_refused("POST", "/v1/conventions", raw=raw, allowed=(400, 422))
                self.assert_refused("PUT", conv, raw=raw, allowed=(400, 422, 428),
                                    headers={"If-Match": '"%d"' % self.existing["rev"]})
                self.assert_refused("PATCH", conv, raw=raw, allowed=(400, 422),
                                    headers={"If-Match": '"%d"' % self.existing["rev"]})
                type(self).tried += 3

    def test_bulk_of_malformed_lines_writes_nothing(self):
        lines = b"\n".join(raw.replace(b"\n", b" ") for _, raw in malformed_bodies() if raw.strip())
        r = self.request("POST", "/v1/conventions/_bulk", raw=lines,
                         headers={"Content-Type": "application/x-ndjson"})
        self.assertIn(r.status, (200, 400), r.body)
        if r.status == 200:
            self.assertTrue(all(x["status"] >= 400 for x in r.body["results"]), r.body)

    def test_wrong_type_in_every_field(self):
        count = 0
        for pointer, value, doc in wrong_type_documents():
            with self.subTest(field=pointer, value=value):
                r = self.assert_refused("POST", "/v1/conventions", body=doc, allowed=(400, 422))
                if r.status == 422:
                    paths = [d["path"] for d in r.body["error"].get("details", [])]
                    self.assertTrue(any(pointer.startswith(p) or p.startswith(pointer)
                                        for p in paths), (pointer, paths))
                count += 1
        self.assertGreater(count, 100)
        type(self).tried += count

    def test_hostile_ids_and_paths(self):
        for path in ("/v1/conventions/..", "/v1/conventions/%2e%2e", "/v1/conventions/a%2Fb",
                     "/v1/conventions/a%00b", "/v1/conventions/%00", "/v1/conventions/" + "a" * 5000,
                     "/v1/conventions/%ZZ", "/v1/conventions/%", "/v1/conventions/%C3%A9t%C3%A9",
                     "/v1/conventions/%FF", "/v1/conventions/%C3", "/v1/departments/%FF",
                     "/v1/departments/%FF/indicators", "/ui/%FF", "/ui/a%C0%AF",
                     "/v1/conventions/a/b/c/d/e/f/g/h/i/j", "/v1/../v1/health/x",
                     "/v1/conventions/" + self.existing["id"] + "/revisions/99999999999999999999",
                     "/v1/conventions/" + self.existing["id"] + "/revisions/-1"):
            with self.subTest(path=path):
                for method in ("GET", "DELETE"):
                    self.assert_refused(method, path, allowed=(400, 404, 405, 428))
        for doc_id in ("../etc", "a/b", "a\u0000b", "A-B", "-ab", "ab", "a" * 65, "caf\u00e9"):
            with self.subTest(id=doc_id):
                self.assert_refused("POST", "/v1/conventions", body=convention("29", id=doc_id),
                                    allowed=(400, 422))

    def test_hostile_queries(self):
        for query in ("limit=-1", "limit=0", "limit=1e99", "limit=99999999999999999999",
                      "limit=1&limit=2", "department=29%00", "department=2A%", "status=%ZZ",
                      "cursor=%FF%FE", "cursor=" + "z" * 10000, "q=" + "%25" * 3000, "x=1",
                      "department=", "&&&", "=1", "since=-5"):
            with self.subTest(query=query):
                self.assert_refused("GET", "/v1/conventions?" + query, allowed=(400,))
        for query in ("since=abc", "since=-1", "wait=1e9", "limit=1001", "since=1&since=2"):
            with self.subTest(query=query):
                self.assert_refused("GET", "/v1/changes?" + query, allowed=(400,))

    def test_wrong_content_types_and_sizes(self):
        self.assert_refused("POST", "/v1/conventions", raw=b"{}",
                            headers={"Content-Type": "text/plain"}, allowed=(415,))
        self.assert_refused("POST", "/v1/conventions", raw=b"{}",
                            headers={"Content-Type": None}, allowed=(415,))
        big = b'{"department":"29","title":"' + b"x" * (1024 * 1024 + 10) + b'"}'
        self.assert_refused("POST", "/v1/conventions", raw=big, allowed=(413,))


def exchange(server, data, timeout=5.0, pause=None):
    """Sends raw bytes (a list: parts sent `pause` seconds apart) and reads until close."""
    with socket.create_connection((server.host, server.port), timeout=timeout) as s:
        for part in data if isinstance(data, list) else [data]:
            try:
                s.sendall(part)
            except (BrokenPipeError, ConnectionResetError):
                break
            if pause:
                time.sleep(pause)
        received = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                received += chunk
        except ConnectionResetError:
            pass
    return received


def classify(received):
    """
    'closed', 'json' (a 4xx JSON error), 'page' (evhttp's own error page: a 4xx, or the 501 it
    gives to a method it does not know) or 'other'.
    """
    if not received:
        return "closed"
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines[0].startswith("HTTP/1.") else 0
    headers = {k.strip().lower(): v.strip() for k, v in
               (line.split(":", 1) for line in lines[1:] if ":" in line)}
    if media_type(headers) == "text/html" and (400 <= status < 500 or status == 501):
        return "page"
    if not 400 <= status < 500 or media_type(headers) != "application/json":
        return "other"
    error = json.loads(body.decode("utf-8"))["error"]
    return "json" if error["status"] == status else "other"


REQUEST = b"GET /v1/health HTTP/1.1\r\nHost: ctgd\r\n"

# (name, bytes, what may answer): "page" only where evhttp cannot parse the request at all.
PROTOCOL_CASES = [
    ("unknown method", b"FROB /v1/health HTTP/1.1\r\nHost: x\r\n\r\n", {"closed", "page"}),
    ("TRACE", b"TRACE /v1/health HTTP/1.1\r\nHost: x\r\n\r\n", {"json"}),
    ("CONNECT", b"CONNECT /v1/health HTTP/1.1\r\nHost: x\r\n\r\n", {"json"}),
    ("OPTIONS", b"OPTIONS /v1/conventions HTTP/1.1\r\nHost: x\r\n\r\n", {"json"}),
    ("no version", b"GET /v1/health\r\n\r\n", {"closed", "page"}),
    ("HTTP/9.9", b"GET /v1/health HTTP/9.9\r\nHost: x\r\n\r\n", {"closed", "page"}),
    ("garbage line", b"\x00\x01\x02\xff\r\n\r\n", {"closed", "page"}),
    ("absolute URI elsewhere", b"GET http://evil.example/v1/nope HTTP/1.1\r\nHost: x\r\n\r\n",
     {"json"}),
    ("huge URL", b"GET /v1/conventions?q=" + b"a" * 200000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
     {"closed", "page"}),
    ("huge header", REQUEST + b"X-Big: " + b"b" * 200000 + b"\r\n\r\n", {"closed", "page"}),
    ("many headers", REQUEST + b"".join(b"X-%d: v\r\n" % i for i in range(20000)) + b"\r\n",
     {"closed", "page"}),
    ("header without colon", REQUEST + b"NoColonHere\r\n\r\n", {"closed", "page"}),
    ("negative Content-Length",
     b"POST /v1/conventions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
     b"Content-Length: -5\r\n\r\n{}", {"closed", "page"}),
    ("Content-Length too big",
     b"POST /v1/conventions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
     b"Content-Length: 99999999999999999999\r\n\r\n{}", {"closed", "page", "json"}),
    ("body shorter than its length",
     b"POST /v1/conventions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
     b"Content-Length: 100\r\nConnection: close\r\n\r\n{}", {"closed"}),
    ("bad chunk size",
     b"POST /v1/conventions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
     b"Transfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n", {"closed", "page"}),
    ("huge chunk size",
     b"POST /v1/conventions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
     b"Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\n{}\r\n0\r\n\r\n",
     {"closed", "page", "json"}),
]


class ProtocolTests(CtgdTestCase):

    def test_malformed_requests(self):
        seq = self.last_seq()
        for name, data, allowed in PROTOCOL_CASES:
            with self.subTest(case=name):
                kind = classify(exchange(self.server, data))
                self.assertIn(kind, allowed)
                self.health()
        self.assertEqual(self.last_seq(), seq)

    def test_dribbling_and_idle_clients_are_closed(self):
        """limits.timeout (2 s here): a client that sends nothing, or stops, is let go."""
        started = time.monotonic()
        self.assertEqual(exchange(self.server, [b"GET /v1/hea"], timeout=10), b"")
        self.assertLess(time.monotonic() - started, 6)
        self.health()

    server_kwargs = {"extra_lines": ["limits = { body_max = 1048576, timeout = 2 }"]}


@unittest.skipIf(WRAPPER, "valgrind keeps descriptors of its own and emulates their limit")
class ConnectionLimitTests(CtgdTestCase):
    """limits.connections = 8: idle clients beyond the cap get 503 in JSON, at once."""

    server_kwargs = {"extra_lines": ["limits = { body_max = 1048576, timeout = 5, "
                                     "connections = 8 }"]}

    def test_clients_over_the_cap_get_503_then_service_resumes(self):
        holders = []
        try:
            for _ in range(200):
                holders.append(socket.create_connection((self.server.host, self.server.port)))
            time.sleep(0.3)
            answers = [peek(s) for s in holders]
            refused = [a for a in answers if a.startswith(b"HTTP/1.1 503")]
            self.assertTrue(refused, "no connection was refused")
            self.assertLess(len(holders) - len(refused), 100, "the cap let too many in")
            self.assertEqual(classify(refused[0]), "other")  # 503 is not a 4xx: check it here
            error = json.loads(refused[0].partition(b"\r\n\r\n")[2])["error"]
            self.assertEqual((error["status"], error["code"]), (503, "too_many_connections"))
            # while they hold on, a new client is told at once rather than left waiting
            started = time.monotonic()
            self.assertTrue(exchange(self.server, REQUEST + b"\r\n").startswith(b"HTTP/1.1 503"))
            self.assertLess(time.monotonic() - started, 2)
        finally:
            for s in holders:
                s.close()
        deadline = time.monotonic() + 5
        while self.request("GET", "/v1/health", check_errors=False).status != 200:
            self.assertLess(time.monotonic(), deadline, "service did not resume")
            time.sleep(0.1)
        metrics = self.request("GET", "/v1/metrics").body.decode()
        refused_total = [line for line in metrics.splitlines()
                         if line.startswith("ctgd_http_connections_refused_total ")]
        self.assertGreater(int(refused_total[0].split()[1]), 0)


def peek(sock):
    sock.setblocking(False)
    try:
        return sock.recv(4096)
    except BlockingIOError:
        return b""


def tearDownModule():
    print("\nhostile inputs tried: %d" % HostileInputTests.tried, file=sys.stderr)


if __name__ == "__main__":
    main()
