#!/usr/bin/env python3
"""
test_access.py — who may do what, route by route (SPEC §3 "Auth", docs/api.md
"Authentication"), and what a token's secret may never become.

    python3 tests/integration/test_access.py --ctgd build/ctgd [unittest options]

Proven here:
  * every route that `ctgd --routes` lists is classified in `AccessMatrixTests.route_cases`: a
    route added to ctgd without its rights written down here fails the suite;
  * the role × department matrix: for each route and variant (list with and without
    department=, PUT replace and create, a move 29 → 49, ...), each caller (admin "*", editor
    29, reader 29, editor 49+15, an unknown token, no token) and each department (29, 49), the
    exact status: 401, 403, or the route's success; open routes answer without a token;
  * a refused write changes nothing (documents, revs, last_seq of the change log); a refused
    reload keeps the plugin generation; what a token is shown (lists, changes, events) is of its
    departments only;
  * rights come before validation: a write into a department the token may not write in is a
    403 whatever the body (neither the model's nor that department's plugins' rules are told);
  * a bulk request of an editor of 29 with a line of 29 and a line of 49 writes the first only;
  * a token is compared whole: one character changed or missing is an unknown token (401); the
    scheme's case and the whitespace around the header value (not part of it in HTTP) do not
    matter (docs/api.md "Authentication");
  * no secret (nor 8 consecutive characters of it) reaches ctgd's output at log level debug, the
    metrics, an answer's headers or body, whatever the request and its outcome.

Elsewhere: the configuration's refusals of tokens and of a non-loopback listen without tokens in
test_config.py (and tests/unit/test_config.c); the other scope rules (history per department,
deleted ids, actors) in test_auth.py. How the comparison is kept constant-time: core/auth.c.
"""

import base64
import contextlib
import json
import os
import secrets
import sys
from collections import namedtuple
from types import SimpleNamespace

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ctgd_harness import (CtgdTestCase, Server, conv_path, convention, ctgd_routes,  # noqa: E402
                          if_match, main, media_type, new_id, qs, standard_tokens)

DEPARTMENTS = ("29", "49")
NDJSON = {"Content-Type": "application/x-ndjson"}


def ndjson(*docs):
    """A JSON-lines body of `docs`."""
    return "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs).encode("utf-8")


# A caller: its label, the configured token it is (None: no token or an unknown one) and the
# secret it sends (None: no Authorization header).
Caller = namedtuple("Caller", "name who secret")

# One way of calling a route:
#   rule(who, department)   whether a known token gets `success` (else 403); OPEN: anyone does;
#   send(ctx, secret)       the request, on what prepare(department) set up (a string: the path
#                           of a GET, formatted with ctx);
#   changes(who, department)  whether the request may change something (None: a read); when it
#                           may not, guard(ctx) proves it did not (default: assertNoWrite);
#   check(response, who, ctx) looks at a successful answer.
Case = namedtuple("Case", "label rule send success departments prepare changes guard check",
                  defaults=(200, DEPARTMENTS, None, None, None, None))


def other(department):
    return "49" if department == "29" else "29"


# -- the rules of docs/api.md "Authentication" ------------------------------------------------

def may_read(who, department):
    return who.departments == "*" or department in who.departments


def may_write(who, department):
    return who.role in ("editor", "admin") and may_read(who, department)


def may_move(who, department):
    return may_write(who, department) and may_write(who, other(department))


def is_writer(who, department):
    return who.role in ("editor", "admin")


def is_admin(who, department):
    return who.role == "admin"


def any_token(who, department):
    return True


OPEN = None


def expected_status(c, who, department):
    if c.rule is OPEN:
        return c.success
    if who is None:
        return 401
    return c.success if c.rule(who, department) else 403


def visible(who, departments):
    """Of `departments`, those `who` may read."""
    return {d for d in departments if may_read(who, d)}


def case_context(department, ids=(), **more):
    """What a case set up: its department, the ids a refused request must leave as they are."""
    return SimpleNamespace(department=department, ids=ids, **more)


class AccessMatrixTests(CtgdTestCase):
    server_kwargs = {"tokens": lambda: list(standard_tokens().values())}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fixtures = {}     # department -> id of a convention no case writes
        cls.fixture_seq = {}  # department -> the seq of its creation
        for department in DEPARTMENTS:
            conv_id = new_id("fx" + department)
            r = cls.server.request("POST", "/v1/conventions",
                                   convention(id=conv_id, department=department),
                                   token=cls.server.admin_token)
            assert r.status == 201, r
            cls.fixtures[department] = conv_id
            cls.fixture_seq[department] = cls.server.request("GET", "/v1/health").body["last_seq"]

    def callers(self):
        named = [Caller(t.name, t, t.secret) for t in self.server.tokens]
        return named + [Caller("unknown", None, "ctgtest-unknown-" + secrets.token_hex(16)),
                        Caller("none", None, None)]

    # -- requests ---------------------------------------------------------------------------

    def fixture(self, department):
        return case_context(department, id=self.fixtures[department])

    def fresh(self, department):
        """A new convention of `department` at rev 1, written by the admin."""
        conv_id = new_id("m" + department)
        self.create(convention(id=conv_id, department=department))
        return case_context(department, ids=(conv_id,), id=conv_id)

    def unused(self, department):
        conv_id = new_id("n" + department)
        return case_context(department, ids=(conv_id,), id=conv_id)

    def with_generation(self, department):
        return case_context(department, generation=self.health()["plugin_generation"])

    @contextlib.contextmanager
    def assertGenerationKept(self, ctx):
        yield
        self.assertEqual(self.health()["plugin_generation"], ctx.generation,
                         "a refused reload changed the plugins")

    # -- the table --------------------------------------------------------------------------

    def route_cases(self):
        """Every route of ctgd, "METHOD /pattern", with the cases that call it."""
        server_wide = (None,)   # not about a department: one request per caller
        return {
            "GET /v1/health": [Case("health", OPEN, "/v1/health", departments=server_wide,
                                    check=self.check_health)],
            "GET /v1/metrics": [Case("metrics", any_token, "/v1/metrics", departments=server_wide,
                                     check=self.check_metrics)],
            "GET /v1/openapi.yaml": [Case("openapi", OPEN, "/v1/openapi.yaml",
                                          departments=server_wide, check=self.check_openapi)],
            "GET /": [Case("dashboard", OPEN, "/", departments=server_wide,
                           check=self.check_html)],
            "GET /ui/{file}": [Case("dashboard file", OPEN, "/ui/app.js", departments=server_wide,
                                    check=self.check_script)],
            "GET /v1/conventions": [
                Case("list", any_token, "/v1/conventions?limit=1000", departments=server_wide,
                     check=self.check_list),
                Case("list ?department=", may_read,
                     "/v1/conventions?department={department}&limit=1000", check=self.check_list),
            ],
            "POST /v1/conventions": [Case(
                "create", may_write,
                lambda c, s: self.request("POST", "/v1/conventions",
                                          convention(id=c.id, department=c.department), token=s),
                success=201, prepare=self.unused, changes=may_write, check=self.check_written)],
            "POST /v1/conventions/_bulk": [Case(
                "bulk", is_writer,
                lambda c, s: self.request("POST", "/v1/conventions/_bulk", headers=NDJSON,
                                          raw=ndjson(convention(id=c.id,
                                                                department=c.department)),
                                          token=s),
                prepare=self.unused, changes=may_write, check=self.check_bulk_line)],
            "GET /v1/conventions/{id}": [
                Case("get", may_read, "/v1/conventions/{id}", prepare=self.fixture,
                     check=self.check_fixture),
                Case("get If-None-Match", may_read,
                     lambda c, s: self.request("GET", conv_path(c.id), token=s,
                                               headers={"If-None-Match": '"1"'}),
                     success=304, prepare=self.fixture),
            ],
            "PUT /v1/conventions/{id}": [
                Case("put replace", may_write,
                     lambda c, s: self.request("PUT", conv_path(c.id),
                                               convention(id=c.id, department=c.department,
                                                          title="Remplacée"),
                                               headers=if_match(1), token=s),
                     prepare=self.fresh, changes=may_write, check=self.check_written),
                Case("put create", may_write,
                     lambda c, s: self.request("PUT", conv_path(c.id),
                                               convention(id=c.id, department=c.department),
                                               token=s),
                     success=201, prepare=self.unused, changes=may_write,
                     check=self.check_written),
            ],
            "PATCH /v1/conventions/{id}": [
                Case("patch", may_write,
                     lambda c, s: self.request("PATCH", conv_path(c.id), {"title": "Modifiée"},
                                               headers=if_match(1), token=s),
                     prepare=self.fresh, changes=may_write, check=self.check_written),
                Case("move to the other department", may_move,
                     lambda c, s: self.request("PATCH", conv_path(c.id),
                                               {"department": other(c.department)},
                                               headers=if_match(1), token=s),
                     prepare=self.fresh, changes=may_move, check=self.check_moved),
            ],
            "PATCH /v1/conventions/{id}/actions/{action_id}": [Case(
                "action patch", may_write,
                lambda c, s: self.request("PATCH", conv_path(c.id, "actions", "act-1"),
                                          {"progress": 90}, headers=if_match(1), token=s),
                prepare=self.fresh, changes=may_write, check=self.check_written)],
            "DELETE /v1/conventions/{id}": [Case(
                "delete", may_write,
                lambda c, s: self.request("DELETE", conv_path(c.id), headers=if_match(1), token=s),
                prepare=self.fresh, changes=may_write, check=self.check_deleted)],
            "GET /v1/conventions/{id}/history": [Case(
                "history", may_read, "/v1/conventions/{id}/history", prepare=self.fixture,
                check=self.check_history)],
            "GET /v1/conventions/{id}/revisions/{rev}": [Case(
                "revision", may_read, "/v1/conventions/{id}/revisions/1", prepare=self.fixture,
                check=self.check_fixture)],
            "GET /v1/conventions/{id}/indicators": [Case(
                "indicators", may_read, "/v1/conventions/{id}/indicators", prepare=self.fixture,
                check=self.check_indicators)],
            "GET /v1/conventions/{id}/exports": [Case(
                "exports", may_read, "/v1/conventions/{id}/exports", prepare=self.fixture,
                check=self.check_exports)],
            "GET /v1/conventions/{id}/exports/{key}": [Case(
                "export", may_read, "/v1/conventions/{id}/exports/synthese", prepare=self.fixture,
                check=self.check_markdown)],
            "GET /v1/changes": [
                Case("changes", any_token, "/v1/changes?limit=1000", departments=server_wide,
                     check=self.check_changes),
                Case("changes ?department=", may_read,
                     "/v1/changes?department={department}&limit=1000", check=self.check_changes),
            ],
            "GET /v1/events": [
                Case("events", any_token,
                     lambda c, s: self.server.sse_first_event("/v1/events?since=0", s),
                     departments=server_wide, check=self.check_first_event),
                Case("events ?department=", may_read,
                     lambda c, s: self.server.sse_first_event(
                         "/v1/events?since=0&department=" + c.department, s),
                     check=self.check_first_event),
            ],
            "GET /v1/plugins": [Case("plugins", any_token, "/v1/plugins", departments=server_wide,
                                     check=self.check_plugins)],
            "POST /v1/plugins/reload": [Case(
                "reload", is_admin,
                lambda c, s: self.request("POST", "/v1/plugins/reload", token=s),
                departments=server_wide, prepare=self.with_generation, changes=is_admin,
                guard=self.assertGenerationKept, check=self.check_reloaded)],
            "GET /v1/departments": [Case(
                "departments", any_token, "/v1/departments", departments=server_wide,
                check=self.check_departments)],
            # The plugins' description of a department (champs, indicators...) holds no data.
            "GET /v1/departments/{code}": [Case(
                "department", any_token, "/v1/departments/{department}",
                check=self.check_department)],
            "GET /v1/departments/{code}/reports/{key}": [Case(
                "report", may_read, "/v1/departments/{department}/reports/tableau-de-bord",
                check=self.check_html)],
        }

    # -- the matrix -------------------------------------------------------------------------

    def test_every_route_is_classified(self):
        routes, classified = set(ctgd_routes()), set(self.route_cases())
        self.assertEqual(routes - classified, set(),
                         "routes of ctgd whose rights this test does not know: add them to "
                         "route_cases() with the rule docs/api.md gives them")
        self.assertEqual(classified - routes, set(), "route_cases() names routes ctgd lacks")

    def test_role_by_department_matrix(self):
        cases = self.route_cases()
        checked = 0
        for route in ctgd_routes():
            for c in cases.get(route, ()):
                for caller in self.callers():
                    for department in c.departments:
                        with self.subTest(route=route, case=c.label, token=caller.name,
                                          department=department):
                            self.run_case(c, caller, department)
                        checked += 1
        self.assertGreaterEqual(checked, 300)

    def send(self, c, ctx, secret):
        """A case's request: `c.send` is a function, or the path of a GET (formatted with ctx)."""
        if isinstance(c.send, str):
            return self.request("GET", c.send.format(**vars(ctx)), token=secret)
        return c.send(ctx, secret)

    def refusal_guard(self, c, caller, department, ctx):
        """What proves that a change refused to `caller` changed nothing (reads: nothing)."""
        if c.changes is None or (caller.who and c.changes(caller.who, department)):
            return contextlib.nullcontext()
        return c.guard(ctx) if c.guard else self.assertNoWrite(*ctx.ids)

    def run_case(self, c, caller, department):
        ctx = c.prepare(department) if c.prepare else case_context(department)
        want = expected_status(c, caller.who, department)
        with self.refusal_guard(c, caller, department, ctx):
            r = self.send(c, ctx, caller.secret)
            self.assertEqual(r.status, want, "%s as %s: want %d, got %d %r"
                             % (c.label, caller.name, want, r.status, r.body))
            if want == 401:
                self.assertError(r, 401, "unauthorized")
                self.assertTrue(r.headers.get("www-authenticate", "").startswith("Bearer"))
            elif want == 403:
                self.assertError(r, 403, "forbidden")
                self.assertNotIn("current_rev", r.body["error"])
            elif c.check:
                c.check(r, caller.who, ctx)

    # -- what a successful answer holds -----------------------------------------------------

    def check_health(self, r, who, ctx):
        self.assertEqual(r.body["status"], "ok")

    def check_metrics(self, r, who, ctx):
        self.assertIn(b"ctgd_http_requests_total", r.body)

    def check_openapi(self, r, who, ctx):
        self.assertRegex(r.body, rb"(?m)^openapi: 3\.")

    def check_html(self, r, who, ctx):
        self.assertEqual(media_type(r.headers), "text/html", r.headers)

    def check_script(self, r, who, ctx):
        self.assertIn("javascript", media_type(r.headers), r.headers)

    def check_markdown(self, r, who, ctx):
        self.assertEqual(media_type(r.headers), "text/markdown", r.headers)

    def check_list(self, r, who, ctx):
        items = {item["id"]: item["department"] for item in r.body["items"]}
        self.assertIsNone(r.body["next"])
        scope = {ctx.department} if ctx.department else visible(who, DEPARTMENTS)
        for department, conv_id in self.fixtures.items():
            self.assertEqual(conv_id in items, department in scope, (department, scope))
        seen = set(items.values())
        self.assertLessEqual(seen, {ctx.department} if ctx.department
                             else visible(who, seen), "a list shows another department")

    def check_fixture(self, r, who, ctx):
        self.assertEqual((r.body["id"], r.body["department"], r.body["rev"]),
                         (ctx.id, ctx.department, 1))

    def check_history(self, r, who, ctx):
        self.assertEqual([(h["rev"], h["department"]) for h in r.body["history"]],
                         [(1, ctx.department)])

    def check_indicators(self, r, who, ctx):
        self.assertEqual(r.body["id"], ctx.id)
        self.assertTrue(r.body["indicators"])

    def check_exports(self, r, who, ctx):
        self.assertIn("synthese", [e["key"] for e in r.body["exports"]])

    def check_written(self, r, who, ctx):
        self.assertEqual((r.body["id"], r.body["department"], r.body["updated_by"]),
                         (ctx.id, ctx.department, who.name))

    def check_moved(self, r, who, ctx):
        self.assertEqual((r.body["id"], r.body["department"], r.body["rev"]),
                         (ctx.id, other(ctx.department), 2))

    def check_deleted(self, r, who, ctx):
        self.assertEqual(r.body, {"id": ctx.id, "rev": 2, "deleted": True})
        self.assertError(self.request("GET", conv_path(ctx.id), token=self.server.admin_token),
                         404)

    def check_bulk_line(self, r, who, ctx):
        [line] = r.body["results"]
        stored = self.request("GET", conv_path(ctx.id), token=self.server.admin_token)
        if may_write(who, ctx.department):
            self.assertEqual((line["status"], line["result"], line["id"]), (201, "created", ctx.id))
            self.assertEqual(stored.status, 200)
        else:
            self.assertEqual((line["status"], line["result"], line["error"]["code"]),
                             (403, "refused", "forbidden"))
            self.assertEqual(stored.status, 404)

    def check_changes(self, r, who, ctx):
        seen = {change["department"] for change in r.body["changes"]}
        if ctx.department:
            self.assertEqual(seen, {ctx.department})
        else:
            self.assertLessEqual(seen, visible(who, seen), "a change of another department")
            self.assertLessEqual(visible(who, DEPARTMENTS), seen)

    def check_first_event(self, r, who, ctx):
        self.assertEqual(media_type(r.headers), "text/event-stream", r.headers)
        scope = {ctx.department} if ctx.department else visible(who, DEPARTMENTS)
        first = min(self.fixture_seq[d] for d in scope)
        self.assertEqual((r.body["id"], r.body["data"]["seq"]), (first, first))
        self.assertIn(r.body["data"]["department"], scope)

    def check_plugins(self, r, who, ctx):
        self.assertTrue(r.body["plugins"])

    def check_reloaded(self, r, who, ctx):
        self.assertEqual(r.body["generation"], ctx.generation + 1)

    def check_departments(self, r, who, ctx):
        self.assertLessEqual(set(DEPARTMENTS), {d["code"] for d in r.body["departments"]})

    def check_department(self, r, who, ctx):
        self.assertEqual(r.body["code"], ctx.department)

    # -- rights before anything else --------------------------------------------------------

    def test_a_write_into_a_foreign_department_is_403_whatever_the_body(self):
        """Neither the model's nor department 49's rules are told to an editor of 29."""
        ed29 = self.server.token("ed29")
        own = self.fresh("29").id
        for label, fields in (("invalid for the model", {"status": "nowhere"}),
                              ("refused by a plugin of 49",   # 49 signs for 4 years exactly
                               {"period": {"start": "2020-01-01", "end": "2021-06-30"}})):
            new = new_id("w49")
            doc = convention(id=new, department="49", **fields)
            attempts = (("POST", "/v1/conventions", doc, None), ("PUT", conv_path(new), doc, None),
                        ("PATCH", conv_path(own), dict(fields, department="49"), if_match(1)))
            for method, path, body, headers in attempts:
                with self.subTest(label, method=method), self.assertNoWrite(own, new):
                    r = self.request(method, path, body, headers=headers, token=ed29)
                    self.assertError(r, 403, "forbidden")
                    self.assertNotIn("details", r.body["error"])

    # -- bulk with lines of two departments -------------------------------------------------

    def test_bulk_of_an_editor_of_29_writes_only_its_line_of_29(self):
        id29, id49 = new_id("bk29"), new_id("bk49")
        since = self.last_seq()
        r = self.request("POST", "/v1/conventions/_bulk", headers=NDJSON,
                         raw=ndjson(convention(id=id29, department="29"),
                                    convention(id=id49, department="49")),
                         token=self.server.token("ed29"))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual([(x["line"], x["status"], x["result"], x["id"])
                          for x in r.body["results"]],
                         [(1, 201, "created", id29), (2, 403, "refused", id49)])
        self.assertEqual(r.body["results"][1]["error"]["code"], "forbidden")
        admin = self.server.admin_token
        self.assertError(self.request("GET", conv_path(id49), token=admin), 404)
        self.assertError(self.request("GET", conv_path(id49, "history"), token=admin), 404)
        self.assertEqual([(c["id"], c["department"]) for c in self.change_log(since)],
                         [(id29, "29")])


class TokenMatchingTests(CtgdTestCase):
    """A token is the whole string after "Bearer ": nothing near it is accepted."""

    server_kwargs = {"tokens": lambda: list(standard_tokens().values())}

    def status_with(self, authorization):
        return self.request("GET", "/v1/conventions",
                            headers={"Authorization": authorization}).status

    def test_a_token_close_to_a_valid_one_is_unknown(self):
        secret = self.server.token("ed29")
        flip = {"0": "1"}.get(secret[-1], "0")
        near = [
            ("last character changed", secret[:-1] + flip),
            ("first character changed", ("D" if secret[0] != "D" else "E") + secret[1:]),
            ("first 8 characters", secret[:8]),
            ("a character left out in the middle", secret[:12] + secret[13:]),
            ("two tokens", secret + " " + self.server.token("admin")),
        ]
        for label, token in near:
            with self.subTest(label):
                self.assertEqual(self.status_with("Bearer " + token), 401)

    def test_scheme_case_and_surrounding_whitespace_do_not_matter(self):
        secret = self.server.token("rd29")
        for label, header in (("exact", "Bearer " + secret), ("lower case", "bearer " + secret),
                              ("spaces after the scheme", "Bearer   " + secret),
                              ("trailing spaces", "Bearer " + secret + "   "),
                              ("trailing tab", "Bearer " + secret + "\t")):
            with self.subTest(label):
                self.assertEqual(self.status_with(header), 200)
        for label, header in (("no scheme", secret), ("tab after the scheme", "Bearer\t" + secret),
                              ("basic", "Basic " + secret)):
            with self.subTest(label):
                self.assertEqual(self.status_with(header), 401)


class TokenSecrecyTests(CtgdTestCase):
    """Run requests of every kind with every token, at log level debug; then look for secrets."""

    start_class_server = False

    def setUp(self):
        self.tokens = list(standard_tokens().values())
        for t in self.tokens:
            t.secret = secrets.token_urlsafe(32)     # nothing in it a log could hold by chance
        self.unknown = secrets.token_urlsafe(32)
        self.server = Server(tokens=self.tokens, extra_lines=['log_level = "debug"'],
                             label="ctgd for token secrecy")
        self.addCleanup(self.server.cleanup)
        self.server.start()
        self.answers = []

    def send(self, method, path, secret, **kw):
        r = self.server.request(method, path, token=secret, **kw)
        self.answers.append(repr(r.headers) + repr(r.body))
        return r

    def requests_of_every_outcome(self, secret):
        """2xx, 304, 400, 401, 403, 404, 405, 409, 412, 415, 422, 428 with `secret`."""
        own = new_id("sec")
        doc = convention(id=own, department="49")
        self.send("GET", "/v1/conventions", secret)
        self.send("GET", "/v1/conventions" + qs(department="29"), secret)
        self.send("GET", "/v1/conventions" + qs(departement="29"), secret)
        self.send("POST", "/v1/conventions", secret, body=doc)
        self.send("POST", "/v1/conventions", secret, body=doc)
        self.send("GET", conv_path(own), secret, headers={"If-None-Match": '"1"'})
        self.send("PATCH", conv_path(own), secret, body={"title": "x"}, headers=if_match(9))
        self.send("PATCH", conv_path(own), secret, body={"title": "x"})
        self.send("PATCH", conv_path(own), secret, body={"status": "nowhere"},
                  headers=if_match(1))
        self.send("PUT", conv_path(own), secret, raw=b"{oops")
        self.send("PUT", conv_path(own), secret, raw=b"{}", headers={"Content-Type": "text/plain"})
        self.send("POST", "/v1/conventions/_bulk", secret, headers=NDJSON,
                  raw=ndjson(convention(department="29"), convention(department="15")))
        self.send("DELETE", "/v1/conventions", secret)
        self.send("GET", "/v1/nowhere", secret)
        self.send("GET", "/v1/changes" + qs(department="49"), secret)
        self.send("GET", "/v1/metrics", secret)
        self.send("POST", "/v1/plugins/reload", secret)

    def test_no_secret_reaches_the_log_the_metrics_or_an_answer(self):
        admin = self.server.admin_token
        for secret in [t.secret for t in self.tokens] + [self.unknown, None]:
            self.requests_of_every_outcome(secret)
        for t in self.tokens:
            for header in ("Bearer " + t.secret + "x", "Bearer " + t.secret[:-1], t.secret,
                           "Basic " + base64.b64encode(("%s:%s" % (t.name, t.secret)).encode())
                           .decode()):
                self.send("GET", "/v1/conventions", None, headers={"Authorization": header})
        metrics = self.send("GET", "/v1/metrics", admin).body.decode("utf-8")
        self.server.stop()
        places = {"ctgd's output": self.server.output(), "the metrics": metrics,
                  "the answers": "\n".join(self.answers)}
        for name, secret in [(t.name, t.secret) for t in self.tokens] + [("unknown", self.unknown)]:
            for where, text in places.items():
                with self.subTest(token=name, where=where):
                    self.assertNoPieceOf(secret, text)


if __name__ == "__main__":
    main()
