#!/usr/bin/env python3
"""
test_auth.py — tokens, roles and department scopes (SPEC §3 "Auth", docs/api.md
"Authentication"): the rules case by case. The whole role × department matrix of every route,
and that token secrets never reach ctgd's logs, its metrics or an answer: test_access.py.

    python3 tests/integration/test_auth.py --ctgd build/ctgd [unittest options]

Tokens (ctgd_harness.standard_tokens): admin (admin, "*"), ed29 (editor, 29), rd29 (reader, 29),
ed49 (editor, 49 and 15).
"""

import base64
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ctgd_harness import (CtgdTestCase, conv_path, convention, main, new_id,  # noqa: E402
                          qs, standard_tokens)


def if_match(rev):
    return {"If-Match": '"%d"' % rev}


class AuthTests(CtgdTestCase):
    server_kwargs = {"tokens": lambda: list(standard_tokens().values())}

    def tok(self, name):
        return self.server.token(name)

    def make(self, department, as_="admin", **kw):
        """A new convention of `department`, created with token `as_`; returns its id."""
        conv_id = new_id("a" + department.lower())
        self.create(convention(id=conv_id, department=department, **kw), token=self.tok(as_))
        return conv_id

    def assertForbidden(self, resp):
        self.assertError(resp, 403, "forbidden")

    def write_attempts(self, conv_id, department, token):
        """Every kind of write on an existing convention at rev 1, as (label, request thunk)."""
        doc = convention(id=conv_id, department=department, title="Écrasée")
        path = conv_path(conv_id)
        return [
            ("put", lambda: self.request("PUT", path, doc, headers=if_match(1), token=token)),
            ("patch", lambda: self.request("PATCH", path, {"title": "Modifiée"},
                                           headers=if_match(1), token=token)),
            ("action patch", lambda: self.request("PATCH", conv_path(conv_id, "actions", "act-1"),
                                                  {"progress": 90}, headers=if_match(1),
                                                  token=token)),
            ("delete", lambda: self.request("DELETE", path, headers=if_match(1), token=token)),
        ]

    # -- 401 --------------------------------------------------------------------------------

    def test_health_needs_no_token(self):
        r = self.request("GET", "/v1/health")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["status"], "ok")

    def test_no_token_is_401_with_www_authenticate(self):
        conv_id = self.make("29")
        cases = [
            ("GET", "/v1/conventions", None),
            ("GET", conv_path(conv_id), None),
            ("GET", conv_path(conv_id, "history"), None),
            ("GET", "/v1/metrics", None),
            ("POST", "/v1/conventions", convention(id=new_id("anon"))),
            ("PATCH", conv_path(conv_id), {"title": "Anonyme"}),
            ("DELETE", conv_path(conv_id), None),
        ]
        for method, path, body in cases:
            with self.subTest(method=method, path=path):
                with self.assertNoWrite(conv_id):
                    headers = if_match(1) if method in ("PATCH", "DELETE") else None
                    r = self.request(method, path, body, headers=headers)
                    self.assertError(r, 401, "unauthorized")
                    self.assertIn("www-authenticate", r.headers)
                    self.assertTrue(r.headers["www-authenticate"].lower().startswith("bearer"),
                                    r.headers["www-authenticate"])

    def test_unknown_token_is_401(self):
        conv_id = self.make("29")
        admin = self.tok("admin")
        admin_sha = [t for t in self.server.tokens if t.name == "admin"][0].sha256
        basic = base64.b64encode(("admin:" + admin).encode()).decode()
        cases = [
            ("unknown", {"Authorization": "Bearer no-such-token"}),
            ("admin plus a letter", {"Authorization": "Bearer " + admin + "x"}),
            ("admin prefix", {"Authorization": "Bearer " + admin[:-1]}),
            ("admin upper case", {"Authorization": "Bearer " + admin.upper()}),
            ("the configured hash", {"Authorization": "Bearer " + admin_sha}),
            ("basic", {"Authorization": "Basic " + basic}),
            ("empty bearer", {"Authorization": "Bearer "}),
            ("token name", {"Authorization": "Bearer admin"}),
        ]
        for label, headers in cases:
            with self.subTest(label):
                r = self.request("GET", conv_path(conv_id), headers=headers)
                self.assertError(r, 401, "unauthorized")
                with self.assertNoWrite(conv_id):
                    r = self.request("PATCH", conv_path(conv_id), {"title": "x"},
                                     headers=dict(headers, **if_match(1)))
                    self.assertError(r, 401, "unauthorized")

    # -- readers ----------------------------------------------------------------------------

    def test_reader_reads_its_department_only(self):
        rd29 = self.tok("rd29")
        own, other = self.make("29"), self.make("49")
        r = self.request("GET", conv_path(own), token=rd29)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["id"], own)
        for sub in ("history", "revisions/1"):
            r = self.request("GET", conv_path(own) + "/" + sub, token=rd29)
            self.assertEqual(r.status, 200, r.body)
        for path in (conv_path(other), conv_path(other, "history"),
                     conv_path(other, "revisions", 1)):
            with self.subTest(path):
                self.assertForbidden(self.request("GET", path, token=rd29))

    def test_reader_cannot_write(self):
        rd29 = self.tok("rd29")
        conv_id = self.make("29")
        new = new_id("rd")
        with self.assertNoWrite(conv_id, new):
            self.assertForbidden(self.request("POST", "/v1/conventions",
                                              convention(id=new), token=rd29))
            self.assertForbidden(self.request("PUT", conv_path(new), convention(id=new),
                                              token=rd29))
        for label, attempt in self.write_attempts(conv_id, "29", rd29):
            with self.subTest(label):
                with self.assertNoWrite(conv_id):
                    self.assertForbidden(attempt())

    def test_reader_list_is_scoped(self):
        rd29 = self.tok("rd29")
        own, other = self.make("29"), self.make("49")
        r = self.request("GET", "/v1/conventions" + qs(limit=1000), token=rd29)
        self.assertEqual(r.status, 200, r.body)
        ids = [item["id"] for item in r.body["items"]]
        self.assertIn(own, ids)
        self.assertNotIn(other, ids)
        self.assertEqual({item["department"] for item in r.body["items"]}, {"29"})
        r = self.request("GET", "/v1/conventions" + qs(department="29", limit=1000), token=rd29)
        self.assertEqual(r.status, 200, r.body)
        self.assertIn(own, [item["id"] for item in r.body["items"]])
        for dep in ("49", "15"):
            with self.subTest(dep):
                self.assertForbidden(self.request("GET", "/v1/conventions" + qs(department=dep),
                                                  token=rd29))

    # -- editors ----------------------------------------------------------------------------

    def test_editor_writes_in_its_department(self):
        ed29 = self.tok("ed29")
        conv_id = self.make("29", as_="ed29")
        doc = self.get_doc(conv_id, token=ed29)
        self.assertEqual(doc["created_by"], "ed29")
        r = self.request("PATCH", conv_path(conv_id), {"status": "monitoring"},
                         headers=if_match(1), token=ed29)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["updated_by"], "ed29")
        r = self.request("PUT", conv_path(conv_id),
                         convention(id=conv_id, title="Réécrite", status="monitoring"),
                         headers=if_match(2), token=ed29)
        self.assertEqual(r.status, 200, r.body)
        r = self.request("PATCH", conv_path(conv_id, "actions", "act-2"), {"progress": 30},
                         headers=if_match(3), token=ed29)
        self.assertEqual(r.status, 200, r.body)
        new = new_id("ed29put")
        r = self.request("PUT", conv_path(new), convention(id=new), token=ed29)
        self.assertEqual(r.status, 201, r.body)
        r = self.request("DELETE", conv_path(conv_id), headers=if_match(4), token=ed29)
        self.assertEqual(r.status, 200, r.body)
        r = self.request("GET", conv_path(conv_id, "history"), token=ed29)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual([h["actor"] for h in r.body["history"]], ["ed29"] * 5)

    def test_editor_cannot_write_elsewhere(self):
        ed29 = self.tok("ed29")
        other = self.make("49")
        new = new_id("ed29x")
        with self.assertNoWrite(other, new):
            self.assertForbidden(self.request("POST", "/v1/conventions",
                                              convention(id=new, department="49"), token=ed29))
            self.assertForbidden(self.request("PUT", conv_path(new),
                                              convention(id=new, department="49"), token=ed29))
            self.assertForbidden(self.request("GET", conv_path(other), token=ed29))
        for label, attempt in self.write_attempts(other, "49", ed29):
            with self.subTest(label):
                with self.assertNoWrite(other):
                    self.assertForbidden(attempt())
        with self.assertNoWrite(other):   # pulling a 49 doc into 29 needs 49 as well
            self.assertForbidden(self.request("PATCH", conv_path(other), {"department": "29"},
                                              headers=if_match(1), token=ed29))

    def test_editor_cannot_move_a_doc_out_of_its_departments(self):
        ed29 = self.tok("ed29")
        conv_id = self.make("29")
        with self.assertNoWrite(conv_id):
            self.assertForbidden(self.request("PATCH", conv_path(conv_id), {"department": "49"},
                                              headers=if_match(1), token=ed29))
        with self.assertNoWrite(conv_id):
            self.assertForbidden(self.request("PUT", conv_path(conv_id),
                                              convention(id=conv_id, department="49"),
                                              headers=if_match(1), token=ed29))

    def test_editor_of_two_departments(self):
        ed49 = self.tok("ed49")
        a49 = self.make("49", as_="ed49")
        a15 = self.make("15", as_="ed49")
        r = self.request("PATCH", conv_path(a49), {"department": "15"}, headers=if_match(1),
                         token=ed49)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["department"], "15")
        r = self.request("DELETE", conv_path(a15), headers=if_match(1), token=ed49)
        self.assertEqual(r.status, 200, r.body)
        with self.assertNoWrite(a49):
            self.assertForbidden(self.request("PATCH", conv_path(a49), {"department": "29"},
                                              headers=if_match(2), token=ed49))
        own29 = self.make("29")
        self.assertForbidden(self.request("GET", conv_path(own29), token=ed49))
        r = self.request("GET", "/v1/conventions" + qs(limit=1000), token=ed49)
        self.assertEqual(r.status, 200, r.body)
        self.assertLessEqual({item["department"] for item in r.body["items"]}, {"49", "15"})
        self.assertIn(a49, [item["id"] for item in r.body["items"]])
        self.assertForbidden(self.request("GET", "/v1/conventions" + qs(department="29"),
                                          token=ed49))

    # -- admin ------------------------------------------------------------------------------

    def test_admin_does_everything(self):
        admin = self.tok("admin")
        ids = {dep: self.make(dep) for dep in ("29", "49", "15")}
        for conv_id in ids.values():
            self.assertEqual(self.get_doc(conv_id, token=admin)["created_by"], "admin")
        r = self.request("PATCH", conv_path(ids["29"]), {"department": "49"},
                         headers=if_match(1), token=admin)
        self.assertEqual(r.status, 200, r.body)
        r = self.request("DELETE", conv_path(ids["15"]), headers=if_match(1), token=admin)
        self.assertEqual(r.status, 200, r.body)
        r = self.request("GET", "/v1/conventions" + qs(limit=1000), token=admin)
        self.assertEqual(r.status, 200, r.body)
        listed = {item["id"]: item["department"] for item in r.body["items"]}
        self.assertEqual(listed.get(ids["29"]), "49")
        self.assertEqual(listed.get(ids["49"]), "49")
        self.assertNotIn(ids["15"], listed)
        for dep in ("29", "49", "15"):
            r = self.request("GET", "/v1/conventions" + qs(department=dep), token=admin)
            self.assertEqual(r.status, 200, r.body)
        r = self.request("GET", "/v1/metrics", token=admin)
        self.assertEqual(r.status, 200, r.body)

    def test_a_foreign_convention_tells_nothing_of_its_rev(self):
        conv_id = self.make("49")
        path = conv_path(conv_id)
        doc = convention(id=conv_id, department="29")
        attempts = [
            ("put without rev", self.request("PUT", path, doc, token=self.tok("ed29"))),
            ("delete without rev", self.request("DELETE", path, token=self.tok("ed29"))),
            ("stale If-Match", self.request("PATCH", path, {"title": "x"},
                                            headers=if_match(7), token=self.tok("ed29"))),
            ("create over it", self.request("POST", "/v1/conventions", doc,
                                            token=self.tok("ed29"))),
        ]
        for label, r in attempts:
            with self.subTest(label):
                self.assertForbidden(r)
                self.assertNotIn("current_rev", r.body["error"])

    def test_a_deleted_id_stays_its_department(self):
        conv_id = self.make("49", as_="ed49")
        r = self.request("DELETE", conv_path(conv_id), headers=if_match(1), token=self.tok("ed49"))
        self.assertEqual(r.status, 200, r.body)
        taken = self.request("PUT", conv_path(conv_id), convention(id=conv_id, department="29"),
                             token=self.tok("ed29"))
        self.assertForbidden(taken)
        again = self.request("POST", "/v1/conventions", convention(id=conv_id, department="49"),
                             token=self.tok("ed49"))
        self.assertEqual(again.status, 201, again.body)
        self.assertEqual(again.body["rev"], 3)

    def test_history_shows_each_revision_to_its_department(self):
        conv_id = self.make("49")
        moved = self.request("PATCH", conv_path(conv_id), {"department": "29"},
                             headers=if_match(1), token=self.tok("admin"))
        self.assertEqual(moved.status, 200, moved.body)
        full = self.request("GET", conv_path(conv_id, "history"), token=self.tok("admin"))
        self.assertEqual([(h["rev"], h["department"]) for h in full.body["history"]],
                         [(1, "49"), (2, "29")])
        seen_by_29 = self.request("GET", conv_path(conv_id, "history"), token=self.tok("rd29"))
        self.assertEqual([h["rev"] for h in seen_by_29.body["history"]], [2])
        other = self.make("49")
        self.assertForbidden(self.request("GET", conv_path(other, "history"),
                                          token=self.tok("rd29")))

    def test_actors_are_token_names(self):
        conv_id = self.make("29", as_="ed29")
        r = self.request("PATCH", conv_path(conv_id), {"status": "monitoring"},
                         headers=if_match(1), token=self.tok("admin"))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["created_by"], "ed29")
        self.assertEqual(r.body["updated_by"], "admin")
        r = self.request("GET", conv_path(conv_id, "history"), token=self.tok("rd29"))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual([h["actor"] for h in r.body["history"]], ["ed29", "admin"])


if __name__ == "__main__":
    main()
