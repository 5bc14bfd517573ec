#!/usr/bin/env python3
"""
test_list.py — GET /v1/conventions: filters, summaries, paging, bad parameters.

    python3 tests/integration/test_list.py --ctgd build/ctgd [unittest options]

One server holds exactly the 25 conventions made in setUpClass; the tests only read.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ctgd_harness import CtgdTestCase, main, minimal_convention, qs  # noqa: E402

DEPARTMENTS = ["29", "49", "15"]
STATUSES = ["preparation", "diagnostic", "action_plan", "monitoring", "evaluation", "closed"]
CHAMPS = [[], ["jeunesse"], ["logement"], ["jeunesse", "logement"]]
SUMMARY_KEYS = {"id", "department", "title", "status", "territory", "period", "rev",
                "updated_at"}


def list_doc(i):
    """The i-th convention of the listing fixture."""
    department = DEPARTMENTS[i % 3]
    if i % 5 == 0:
        title = "CTG du pays BIGOUDEN, tranche %d" % i
    elif i % 5 == 1:
        title = "Convention du Pays Bigouden n°%d" % i
    else:
        title = "Convention territoriale globale de la commune %d" % i
    territory = {"name": "Glazik Communauté" if i == 6 else "Territoire %d" % i,
                 "kind": "epci" if i % 2 else "commune"}
    doc = minimal_convention(id="l%s-%03d" % (department, i), department=department,
                             title=title, status=STATUSES[i % 6], champs=CHAMPS[i % 4])
    if i % 4 != 3:      # a few without a territory
        doc["territory"] = territory
    return doc


class ListTests(CtgdTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.docs = {}
        for i in range(25):
            doc = list_doc(i)
            r = cls.server.request("POST", "/v1/conventions", doc)
            if r.status != 201:
                raise AssertionError("fixture %s refused: %d %r" % (doc["id"], r.status, r.body))
            cls.docs[doc["id"]] = r.body

    def list(self, **params):
        r = self.request("GET", "/v1/conventions" + qs(**params))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(set(r.body), {"items", "next"}, r.body)
        return r.body

    def ids(self, **params):
        """All ids of one page (asserting it is the only page)."""
        body = self.list(**params)
        self.assertIsNone(body["next"], params)
        return [item["id"] for item in body["items"]]

    def expect(self, pred):
        return sorted(i for i, d in self.docs.items() if pred(d))

    def walk(self, limit, **params):
        """Every page of a listing; returns the ids in the order received."""
        seen, pages, cursor = [], 0, None
        while True:
            body = self.list(limit=limit, cursor=cursor, **params)
            pages += 1
            self.assertLessEqual(len(body["items"]), limit)
            seen.extend(item["id"] for item in body["items"])
            cursor = body["next"]
            if cursor is None:
                return seen, pages, body
            self.assertIsInstance(cursor, str)
            self.assertTrue(cursor)
            self.assertLess(pages, 100, "paging does not end")

    def test_all_items_in_id_order(self):
        self.assertEqual(self.ids(), sorted(self.docs))

    def test_items_are_summaries(self):
        for item in self.list()["items"]:
            doc = self.docs[item["id"]]
            with self.subTest(item["id"]):
                self.assertLessEqual({"id", "department", "title", "status", "rev", "period",
                                      "updated_at"}, set(item))
                self.assertLessEqual(set(item), SUMMARY_KEYS, "a summary carries more")
                self.assertEqual(item["department"], doc["department"])
                self.assertEqual(item["title"], doc["title"])
                self.assertEqual(item["status"], doc["status"])
                self.assertEqual(item["rev"], 1)
                self.assertEqual(item["period"], doc["period"])
                self.assertEqual(item["updated_at"], doc["updated_at"])
                if "territory" in doc:
                    self.assertEqual(item["territory"], doc["territory"]["name"])
                else:
                    self.assertNotIn("territory", item)

    def test_filter_by_department(self):
        for dep in DEPARTMENTS:
            with self.subTest(dep):
                want = self.expect(lambda d: d["department"] == dep)
                self.assertEqual(self.ids(department=dep), want)
        self.assertEqual(self.ids(department="2A"), [])

    def test_filter_by_status(self):
        for status in STATUSES:
            with self.subTest(status):
                self.assertEqual(self.ids(status=status),
                                 self.expect(lambda d: d["status"] == status))

    def test_filter_by_champ(self):
        for champ in ("jeunesse", "logement"):
            with self.subTest(champ):
                self.assertEqual(self.ids(champ=champ),
                                 self.expect(lambda d: champ in d.get("champs", [])))

    def test_q_is_a_case_insensitive_substring(self):
        want = self.expect(lambda d: "bigouden" in d["title"].lower())
        self.assertEqual(len(want), 10)
        for q in ("bigouden", "BIGOUDEN", "bIgOuDeN", "pays bigouden"):
            with self.subTest(q):
                expected = self.expect(lambda d: q.lower() in d["title"].lower())
                self.assertEqual(self.ids(q=q), expected)
        self.assertEqual(self.ids(q="tranche 1"), self.expect(
            lambda d: "tranche 1" in d["title"]))
        self.assertEqual(self.ids(q="introuvable"), [])

    def test_q_matches_the_territory_name_and_the_id(self):
        self.assertEqual(self.ids(q="glazik"), ["l29-006"])
        self.assertEqual(self.ids(q="L49-004"), ["l49-004"])

    def test_filters_combine(self):
        cases = [
            ({"department": "29", "champ": "logement"},
             lambda d: d["department"] == "29" and "logement" in d.get("champs", [])),
            ({"department": "49", "status": "diagnostic"},
             lambda d: d["department"] == "49" and d["status"] == "diagnostic"),
            ({"department": "15", "q": "bigouden", "champ": "jeunesse"},
             lambda d: d["department"] == "15" and "bigouden" in d["title"].lower()
             and "jeunesse" in d.get("champs", [])),
            ({"status": "action_plan", "champ": "jeunesse"},
             lambda d: d["status"] == "action_plan" and "jeunesse" in d.get("champs", [])),
            ({"department": "29", "status": "closed", "q": "nothing-like-this"},
             lambda d: False),
        ]
        for params, pred in cases:
            with self.subTest(**params):
                self.assertEqual(self.ids(**params), self.expect(pred))
        self.assertTrue(any(self.expect(pred) for _, pred in cases[:4]),
                        "the fixture makes every combination empty")

    def test_paging_walks_every_item_once(self):
        seen, pages, last = self.walk(7)
        self.assertEqual(seen, sorted(self.docs))
        self.assertEqual(pages, 4)
        self.assertEqual(len(last["items"]), 4)
        self.assertIsNone(last["next"])

    def test_paging_with_a_filter(self):
        want = self.expect(lambda d: d["department"] == "29")
        seen, pages, _ = self.walk(2, department="29")
        self.assertEqual(seen, want)
        self.assertGreaterEqual(pages, (len(want) + 1) // 2)

    def test_paging_one_by_one(self):
        seen, _, _ = self.walk(1, q="bigouden")
        self.assertEqual(seen, self.expect(lambda d: "bigouden" in d["title"].lower()))

    def test_limit_bounds(self):
        body = self.list(limit=1000)
        self.assertEqual(len(body["items"]), 25)
        self.assertIsNone(body["next"])
        body = self.list(limit=1)
        self.assertEqual(len(body["items"]), 1)
        self.assertIsNotNone(body["next"])

    def test_bad_parameters_are_400(self):
        cases = [
            ("limit=0", {"limit": "0"}),
            ("limit=1001", {"limit": "1001"}),
            ("limit=x", {"limit": "x"}),
            ("limit=-1", {"limit": "-1"}),
            ("limit empty", {"limit": ""}),
            ("unknown parameter", {"foo": "1"}),
            ("department=20", {"department": "20"}),
            ("department=100", {"department": "100"}),
            ("department empty", {"department": ""}),
            ("status=bogus", {"status": "bogus"}),
        ]
        for label, params in cases:
            with self.subTest(label):
                r = self.request("GET", "/v1/conventions" + qs(**params))
                self.assertError(r, 400, "bad_parameter")
        with self.subTest("limit given twice"):
            r = self.request("GET", "/v1/conventions?limit=2&limit=3")
            self.assertError(r, 400, "bad_parameter")
            self.assertIn("twice", r.body["error"]["message"])


if __name__ == "__main__":
    main()
