#!/usr/bin/env python3
"""
test_plugins.py — the Lua plugins of a real ctgd (SPEC §5, plugins/README.md):

  * GET /v1/plugins and the departments the shipped plugins declare;
  * each shipped department plugin on its demo convention (conf/demo/<dept>-<name>.json):
    indicators, exports, reports, unknown champs, the department's rule;
  * POST /v1/plugins/reload and SIGHUP: admin only, atomic (a broken file changes nothing),
    a new generation with the new code;
  * plugins that spend their budgets or fail (tests/plugins/runaway, tests/plugins/errors):
    500 plugin_failed naming the plugin and file, quickly, and the server lives on;
  * ctg.publish from on_change on the PUB socket (tests/tools/ctg_sub);
  * ctgd --check on broken plugin folders; work that the budgets do not count
    (tests/plugins/gc-finalizer, pattern-bomb-at-load, runaway department 03).

    CTG_SUB_BIN=build/tests/ctg_sub python3 tests/integration/test_plugins.py --ctgd build/ctgd
"""

import copy
import csv
import hashlib
import io
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

from ctgd_harness import (CtgdTestCase, Server, config_text, conv_path, convention,  # noqa: E402
                          ctgd_binary, free_port, lua_string, main,
                          media_type, metric_sum, minimal_convention, new_id, repo_root,
                          standard_tokens)
from event_clients import Subscriber  # noqa: E402

MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
SHIPPED = {   # file -> (name, department, label)
    "00-cnaf.lua": ("cnaf", None, "Socle national de la Cnaf"),
    "15-cantal.lua": ("cantal", "15", "Caf du Cantal"),
    "29-finistere.lua": ("finistere", "29", "Caf du Finistère"),
    "30-gard.lua": ("gard", "30", "Caf du Gard"),
    "49-maine-et-loire.lua": ("maine-et-loire", "49", "Caf de Maine-et-Loire"),
    "88-vosges.lua": ("vosges", "88", "Caf des Vosges"),
}
BASE_INDICATORS = ["taux-realisation", "avancement-moyen", "taux-couverture-accueil-jeune-enfant",
                   "budget-engage", "atteinte-cibles"]
DEPARTMENT_INDICATORS = {"15": ["fiches-ccs-engagees"], "29": ["objectifs-partages-couverts"],
                         "30": [], "49": [], "88": ["ambitions-couvertes"]}
BASE_EXPORTS = ["actions.csv", "synthese", "rapport"]
DEPARTMENT_EXPORTS = {"15": ["contrat-cohesion-sociale"], "29": ["objectifs-partages"],
                      "30": ["demarche"], "49": [], "88": ["ambitions"]}
BASE_REPORTS = ["conventions.csv", "indicateurs.csv", "tableau-de-bord"]
# a champ of another department, unknown to this one
FOREIGN_CHAMP = {"15": "sante", "29": "seniors", "30": "sante", "49": "education", "88": "msap"}
# the fixture's value of each department indicator (the base ones are all null: the fixtures
# carry no action status, progress, budget, diagnostic figure nor target)
FIXTURE_VALUES = {"15": {"fiches-ccs-engagees": 10},       # the ten fiches, none abandoned
                  "29": {"objectifs-partages-couverts": 0},  # the six objectives, no action
                  "30": {}, "49": {},
                  "88": {"ambitions-couvertes": 0}}          # actions without objective
CSV_HEADER = ["id", "numero", "titre", "objectif", "champ", "statut", "avancement", "pilote",
              "budget", "debut", "fin"]

FAST_LIMITS = "limits = { body_max = 1048576, lua_instructions = 1000000, lua_seconds = 1, " \
              "lua_memory = 33554432 }"


def plugins_line(*folders):
    return "plugins = { %s }" % ", ".join(lua_string(f) for f in folders)


def test_plugins_dir(name):
    return os.path.join(repo_root(), "tests", "plugins", name)


def fixture(department):
    """The demo convention of `department` (conf/demo/<department>-<name>.json)."""
    demo = os.path.join(repo_root(), "conf", "demo")
    (name,) = [n for n in os.listdir(demo) if n.startswith(department + "-")]
    with open(os.path.join(demo, name), encoding="utf-8") as f:
        return json.load(f)


def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def copy_shipped_plugins(testcase):
    """A temporary copy of plugins/ (removed at cleanup); returns its path."""
    folder = tempfile.mkdtemp(prefix="ctgd-plugins-")
    testcase.addCleanup(shutil.rmtree, folder, True)
    for name in os.listdir(os.path.join(repo_root(), "plugins")):
        if name.endswith(".lua"):
            shutil.copy(os.path.join(repo_root(), "plugins", name), folder)
    return folder


def start_server(testcase, **kwargs):
    """A ctgd of the test's own, stopped (checked) at the end of the test."""
    server = Server(label="ctgd for %s" % testcase.id().split(".")[-1], **kwargs)
    testcase.addCleanup(server.cleanup)
    server.start()
    testcase.addCleanup(server.stop)
    return server


def run_check(testcase, extra_lines, timeout):
    """`ctgd --check -c CONF` on a generated configuration: (exit code or None if it still
    ran after `timeout` s and was killed, stdout + stderr, seconds taken)."""
    folder = tempfile.mkdtemp(prefix="ctgd-check-")
    testcase.addCleanup(shutil.rmtree, folder, True)
    conf = os.path.join(folder, "ctgd.conf")
    with open(conf, "w", encoding="utf-8") as f:
        f.write(config_text("127.0.0.1:%d" % free_port(), os.path.join(folder, "data"),
                            extra_lines=extra_lines))
    t0 = time.monotonic()
    proc = subprocess.Popen([ctgd_binary(), "--check", "-c", conf], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        out, err = proc.communicate(timeout=timeout)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        rc = None
    return rc, (out + err).decode("utf-8", "replace"), time.monotonic() - t0


class PluginsTestCase(CtgdTestCase):

    def plugins(self, server=None, token=None):
        server = server or self.server
        r = server.request("GET", "/v1/plugins", token=token or server.admin_token)
        self.assertEqual(r.status, 200, r.body)
        return r.body

    def plugin(self, name, server=None):
        for p in self.plugins(server)["plugins"]:
            if p["name"] == name:
                return p
        self.fail("no plugin %r in GET /v1/plugins" % name)

    def indicators(self, conv_id, server=None):
        server = server or self.server
        r = server.request("GET", conv_path(conv_id, "indicators"), token=server.admin_token)
        self.assertEqual(r.status, 200, r.body)
        return {i["key"]: i for i in r.body["indicators"]}, r.body

    def wait_until(self, predicate, timeout=10.0, what="the condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        self.fail("%s not reached within %.0f s" % (what, timeout))


# --------------------------------------------------------------------------------------------
# The shipped plugins
# --------------------------------------------------------------------------------------------

class ShippedPluginsTests(PluginsTestCase):

    def test_plugins_are_listed_with_file_hash_generation_and_errors(self):
        body = self.plugins()
        self.assertEqual(set(body), {"generation", "plugins"})
        self.assertEqual(body["generation"], 1)
        folder = os.path.join(repo_root(), "plugins")
        self.assertEqual([p["name"] for p in body["plugins"]],
                         [SHIPPED[f][0] for f in sorted(SHIPPED)], "file-name order")
        for p in body["plugins"]:
            fname = [f for f in SHIPPED if SHIPPED[f][0] == p["name"]][0]
            name, department, label = SHIPPED[fname]
            with self.subTest(plugin=name):
                self.assertEqual(p["file"], os.path.join(folder, fname))
                self.assertEqual(p["department"], department)
                self.assertEqual(p["label"], label)
                self.assertRegex(p["sha256"], r"^[0-9a-f]{64}$")
                self.assertEqual(p["sha256"], sha256_of(p["file"]))
                self.assertEqual(p["generation"], 1)
                self.assertIsInstance(p["errors"], int)
                self.assertEqual(p["errors"], 0)
                self.assertIn("last_error", p)
                self.assertIsNone(p["last_error"])
        self.assertEqual(self.health()["plugin_generation"], 1)

    def test_departments_are_those_with_a_plugin(self):
        r = self.request("GET", "/v1/departments")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual([d["code"] for d in r.body["departments"]], ["15", "29", "30", "49", "88"])
        by_code = {d["code"]: d for d in r.body["departments"]}
        self.assertEqual(by_code["29"]["label"], "Caf du Finistère")
        self.assertEqual(by_code["29"]["plugins"], ["cnaf", "finistere"])
        self.assertEqual(by_code["49"]["plugins"], ["cnaf", "maine-et-loire"])

    def test_department_29_merges_base_and_department(self):
        r = self.request("GET", "/v1/departments/29")
        self.assertEqual(r.status, 200, r.body)
        d = r.body
        self.assertEqual(d["code"], "29")
        self.assertEqual(d["label"], "Caf du Finistère")
        self.assertEqual(d["plugins"], ["cnaf", "finistere"])
        champs = {c["key"]: c for c in d["champs"]}
        self.assertEqual(len(d["champs"]), len(champs), "a champ listed twice")
        # 16 champs of the Finistère (7 of them relabel a base champ) + 3 base champs
        self.assertEqual(len(champs), 19, sorted(champs))
        self.assertEqual(champs["mobilite"]["label"], "Mobilités")
        self.assertEqual(champs["mobilite"]["plugin"], "finistere")
        self.assertEqual(champs["mobilite"]["group"], "Champs d'intervention du Pays Bigouden Sud")
        self.assertEqual(champs["acces-aux-droits"]["label"],
                         "Accès aux droits et accessibilité aux services")
        self.assertEqual(champs["petite-enfance"], {"key": "petite-enfance",
                                                    "label": "Petite enfance",
                                                    "group": "Familles", "plugin": "cnaf"})
        self.assertIn("sante", champs)
        self.assertNotIn("seniors", champs)
        self.assertEqual([i["key"] for i in d["indicators"]],
                         BASE_INDICATORS + DEPARTMENT_INDICATORS["29"])
        for i in d["indicators"]:
            self.assertIsInstance(i["label"], str)
            self.assertIsInstance(i.get("description"), str, i)
        self.assertEqual(d["indicators"][-1]["plugin"], "finistere")
        self.assertEqual([e["key"] for e in d["exports"]], BASE_EXPORTS + DEPARTMENT_EXPORTS["29"])
        self.assertEqual({e["key"]: e["content_type"] for e in d["exports"]},
                         {"actions.csv": "text/csv; charset=utf-8",
                          "synthese": "text/markdown; charset=utf-8",
                          "rapport": "text/html; charset=utf-8",
                          "objectifs-partages": "text/markdown; charset=utf-8"})
        self.assertEqual([e["key"] for e in d["reports"]], BASE_REPORTS)

    def test_department_without_plugin_sees_the_base_only(self):
        r = self.request("GET", "/v1/departments/2A")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["plugins"], ["cnaf"])
        self.assertIsNone(r.body["label"])
        self.assertEqual(len(r.body["champs"]), 10)
        self.assertEqual([i["key"] for i in r.body["indicators"]], BASE_INDICATORS)

    def test_department_that_is_no_insee_code_is_400(self):
        for code in ("20", "00", "2C", "999", "x"):
            with self.subTest(code=code):
                self.assertError(self.request("GET", "/v1/departments/%s" % code), 400)
        self.assertError(self.request("GET", "/v1/departments/20/reports/conventions.csv"), 400)

    # -- each department on its fixture -----------------------------------------------------

    def check_fixture(self, department):
        doc = fixture(department)
        r = self.request("POST", "/v1/conventions", doc)
        self.assertEqual(r.status, 201, r.body)
        conv_id = doc["id"]

        # indicators: the base ones, then the department's, with the values of the fixture
        values, body = self.indicators(conv_id)
        self.assertEqual(body["id"], conv_id)
        self.assertEqual(body["rev"], 1)
        self.assertEqual([i["key"] for i in body["indicators"]],
                         BASE_INDICATORS + DEPARTMENT_INDICATORS[department])
        for key in BASE_INDICATORS:
            self.assertIsNone(values[key]["value"], key)
            self.assertEqual(values[key]["plugin"], "cnaf")
        for key, value in FIXTURE_VALUES[department].items():
            self.assertEqual(values[key]["value"], value, key)
            self.assertIsInstance(values[key]["value"], int, key)
            self.assertEqual(values[key]["plugin"], SHIPPED[[f for f in SHIPPED
                                                            if SHIPPED[f][1] == department][0]][0])

        # every export renders with its content type
        r = self.request("GET", conv_path(conv_id, "exports"))
        self.assertEqual(r.status, 200, r.body)
        exports = r.body["exports"]
        self.assertEqual([e["key"] for e in exports], BASE_EXPORTS + DEPARTMENT_EXPORTS[department])
        rendered = {}
        for e in exports:
            with self.subTest(department=department, export=e["key"]):
                self.assertEqual(e["href"], conv_path(conv_id, "exports", e["key"]))
                r = self.request("GET", e["href"])
                self.assertEqual(r.status, 200, r.body)
                self.assertEqual(r.headers.get("content-type"), e["content_type"])
                self.assertIsInstance(r.body, bytes)
                rendered[e["key"]] = r.body.decode("utf-8")
        rows = list(csv.reader(io.StringIO(rendered["actions.csv"], newline="")))
        self.assertEqual(rows[0], CSV_HEADER)
        self.assertEqual(len(rows) - 1, len(doc.get("actions", [])))
        for row, action in zip(rows[1:], doc.get("actions", [])):
            self.assertEqual(row[0], action["id"])
            self.assertEqual(row[2], action.get("title", ""))
            self.assertEqual(len(row), len(CSV_HEADER))
        self.assertTrue(rendered["actions.csv"].endswith("\r\n"))
        self.assertIn("# " + doc["title"], rendered["synthese"])
        self.assertTrue(rendered["rapport"].startswith("<!DOCTYPE html>"))
        self.assertIn("<h1>%s</h1>" % doc["title"], rendered["rapport"])
        self.assertNotIn("<script", rendered["rapport"].lower())
        self.assertEqual(self.request("GET", conv_path(conv_id, "exports", "no-such")).status, 404)

        # every report of the department renders over its conventions
        r = self.request("GET", "/v1/departments/%s" % department)
        reports = r.body["reports"]
        self.assertEqual([e["key"] for e in reports], BASE_REPORTS)
        for rep in reports:
            with self.subTest(department=department, report=rep["key"]):
                r = self.request("GET", "/v1/departments/%s/reports/%s" % (department, rep["key"]))
                self.assertEqual(r.status, 200, r.body)
                self.assertEqual(r.headers.get("content-type"), rep["content_type"])
                text = r.body.decode("utf-8")
                if rep["key"] == "conventions.csv":
                    rows = list(csv.reader(io.StringIO(text, newline="")))
                    self.assertIn(conv_id, [row[0] for row in rows[1:]])
                if rep["key"] == "tableau-de-bord":
                    self.assertIn("<svg", text)
        self.assertEqual(self.request("GET", "/v1/departments/%s/reports/no-such"
                                      % department).status, 404)

        # a champ of another department is refused with its path and the known ones
        bad = copy.deepcopy(doc)
        bad["id"] = new_id("champ%s" % department)
        bad["champs"] = doc["champs"] + [FOREIGN_CHAMP[department]]
        r = self.request("POST", "/v1/conventions", bad)
        self.assertDetailPaths(r, "/champs/%d" % len(doc["champs"]))
        detail = [d for d in r.body["error"]["details"]
                  if d["path"] == "/champs/%d" % len(doc["champs"])][0]
        self.assertTrue(detail["message"].startswith(
            "unknown champ '%s' for department %s; known: " % (FOREIGN_CHAMP[department],
                                                              department)), detail)
        for key in doc["champs"]:
            self.assertIn(key, detail["message"])
        self.assertEqual(self.request("GET", conv_path(bad["id"])).status, 404)
        return doc, rendered

    def test_fixture_15_cantal(self):
        doc, rendered = self.check_fixture("15")
        self.assertIn("Fiche action 2 : « Aider à la mobilité »",
                      rendered["contrat-cohesion-sociale"])

    def test_fixture_29_finistere(self):
        doc, rendered = self.check_fixture("29")
        self.assertTrue(rendered["objectifs-partages"].startswith("# Objectifs communs et partagés"))
        self.assertIn("Mobilités", rendered["synthese"])   # the department's label of a base champ

    def test_fixture_30_gard(self):
        doc, rendered = self.check_fixture("30")
        self.assertIn("** ← étape en cours", rendered["demarche"])   # status diagnostic
        self.assertIn("Étape en cours : 2 sur 5.", rendered["demarche"])

    def test_fixture_49_maine_et_loire(self):
        self.check_fixture("49")

    def test_fixture_88_vosges(self):
        doc, rendered = self.check_fixture("88")
        self.assertTrue(rendered["ambitions"].startswith("# Quatre grandes ambitions"))

    def test_base_indicators_computed_by_hand(self):
        doc = fixture("29")
        doc["id"] = new_id("calc29")
        doc["actions"] = [
            {"id": "a1", "title": "Accès", "objective": "services-publics-accessibles",
             "champ": "sante", "status": "done", "progress": 100, "budget": 1000},
            {"id": "a2", "title": "Mobilité", "objective": "mobilites-pour-tous",
             "champ": "mobilite", "status": "in_progress", "progress": 50, "budget": 2500.5},
            {"id": "a3", "title": "Abandonnée", "objective": "autonomie-insertion",
             "status": "abandoned", "budget": 500},
            {"id": "a4", "title": "Prévue", "status": "planned"},
        ]
        doc["diagnostic"] = {"year": 2019, "figures": {"places_accueil_jeune_enfant": 30,
                                                       "children_0_3": 120, "population": 175}}
        doc["targets"] = {"budget-engage": {"baseline": 0, "target": 8001, "year": 2023},
                          "population": {"baseline": 100, "target": 200, "year": 2023}}
        self.create(doc)
        values, _ = self.indicators(doc["id"])
        v = {k: i["value"] for k, i in values.items()}
        # done / (planned + in_progress + done): the abandoned fiche is left out
        self.assertAlmostEqual(v["taux-realisation"], 100 / 3)
        # (100 + 50 + 0 for the planned fiche without progress) / 3
        self.assertAlmostEqual(v["avancement-moyen"], 50)
        self.assertAlmostEqual(v["taux-couverture-accueil-jeune-enfant"], 25)   # 30 × 100 / 120
        self.assertEqual(v["budget-engage"], 4000.5)                             # abandoned too
        # mean of (4000.5 − 0) / 8001 = 50 % and (175 − 100) / (200 − 100) = 75 %
        self.assertAlmostEqual(v["atteinte-cibles"], 62.5)
        self.assertEqual(v["objectifs-partages-couverts"], 2)   # a3 is abandoned
        r = self.request("GET", conv_path(doc["id"], "exports", "actions.csv"))
        rows = list(csv.reader(io.StringIO(r.body.decode("utf-8"), newline="")))
        self.assertEqual(rows[1], ["a1", "", "Accès", "services-publics-accessibles", "sante",
                                   "done", "100", "", "1000", "", ""])
        self.assertEqual(rows[2][8], "2500.5")
        # with progress and targets, the rapport draws its two charts
        r = self.request("GET", conv_path(doc["id"], "exports", "rapport"))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body.decode().count("<svg"), 2)

    def test_indicators_without_figures_are_null(self):
        doc = minimal_convention(department="30", id=new_id("null30"))
        self.create(doc)
        values, _ = self.indicators(doc["id"])
        self.assertEqual(sorted(values), sorted(BASE_INDICATORS))
        for key in BASE_INDICATORS:
            self.assertIn("value", values[key])
            self.assertIsNone(values[key]["value"])

    # -- the department rules ---------------------------------------------------------------

    def assertPluginRefusal(self, resp, path, plugin, *fragments):
        self.assertDetailPaths(resp, path)
        details = [d for d in resp.body["error"]["details"] if d["path"] == path]
        self.assertEqual(len(details), 1, details)
        self.assertEqual(details[0].get("plugin"), plugin, details)
        for fragment in fragments:
            self.assertIn(fragment, details[0]["message"])
        if len(resp.body["error"]["details"]) == 1:   # the message shows the first problem
            self.assertIn(details[0]["message"], resp.body["error"]["message"])

    def test_rule_15_fiche_numbers(self):
        doc = fixture("15")
        doc["id"] = new_id("rule15")
        doc["actions"].append({"id": "fiche-99", "number": 99, "title": "Une fiche inventée",
                               "objective": "axe-1"})
        r = self.request("POST", "/v1/conventions", doc)
        self.assertPluginRefusal(r, "/actions/10/number", "cantal",
                                 "la CTG englobe les fiches actions 2, 7, 9, 10, 15, 19, 20, 21, "
                                 "22 et 23 du Contrat de cohésion sociale : pas de fiche action 99")
        doc["actions"][-1] = {"id": "fiche-2b", "number": 2, "title": "Autre chose",
                              "objective": "axe-2"}
        r = self.request("POST", "/v1/conventions", doc)
        self.assertPluginRefusal(r, "/actions/10/title", "cantal", "« Aider à la mobilité »")
        self.assertPluginRefusal(r, "/actions/10/objective", "cantal", "axe-1")
        self.assertEqual(self.request("GET", conv_path(doc["id"])).status, 404)

    def test_rule_30_four_years_at_most(self):
        doc = fixture("30")
        doc["id"] = new_id("rule30")
        doc["period"] = {"start": "2020-01-01", "end": "2024-01-02"}
        r = self.request("POST", "/v1/conventions", doc)
        self.assertPluginRefusal(r, "/period/end", "gard", "au plus tard le 2024-01-01",
                                 "fin donnée : 2024-01-02")
        doc["period"]["end"] = "2024-01-01"
        self.create(doc)

    def test_rule_49_four_years_exactly(self):
        doc = fixture("49")
        doc["id"] = new_id("rule49")
        doc["period"] = {"start": "2020-02-28", "end": "2024-03-01"}
        r = self.request("POST", "/v1/conventions", doc)
        self.assertPluginRefusal(r, "/period/end", "maine-et-loire",
                                 "doit finir le 2024-02-27 (ou le 2024-02-28), pas le 2024-03-01")
        doc["period"]["end"] = "2024-02-28"
        self.create(doc)
        # the day before the anniversary too, across a month's end and a 29 February
        for start, end in (("2020-02-28", "2024-02-27"), ("2019-03-01", "2023-02-28"),
                           ("2020-02-29", "2024-02-28"), ("2020-02-29", "2024-02-29")):
            with self.subTest(start=start, end=end):
                doc["id"] = new_id("rule49")
                doc["period"] = {"start": start, "end": end}
                self.create(doc)
        doc["id"] = new_id("rule49")
        doc["period"] = {"start": "2019-03-01", "end": "2023-03-02"}
        r = self.request("POST", "/v1/conventions", doc)
        self.assertPluginRefusal(r, "/period/end", "maine-et-loire",
                                 "doit finir le 2023-02-28 (ou le 2023-03-01), pas le 2023-03-02")

    def test_rule_lifecycle_of_the_base_in_29_and_88(self):
        # 29 and 88 have no rule of their own: the base plugin's lifecycle rule applies
        for department in ("29", "88"):
            with self.subTest(department=department):
                doc = fixture(department)
                doc["id"] = new_id("life%s" % department)
                self.create(doc)     # action_plan
                r = self.request("PATCH", conv_path(doc["id"]), {"status": "preparation"},
                                 headers=dict({"If-Match": '"1"'}, **MERGE_PATCH))
                self.assertPluginRefusal(r, "/status", "cnaf", "ne peut pas revenir en arrière")
                r = self.request("PATCH", conv_path(doc["id"]), {"status": "closed"},
                                 headers=dict({"If-Match": '"1"'}, **MERGE_PATCH))
                self.assertPluginRefusal(r, "/status", "cnaf", "sans passer par")
                r = self.request("PATCH", conv_path(doc["id"]), {"status": "monitoring"},
                                 headers=dict({"If-Match": '"1"'}, **MERGE_PATCH))
                self.assertEqual(r.status, 200, r.body)


# --------------------------------------------------------------------------------------------
# Reload and SIGHUP
# --------------------------------------------------------------------------------------------

BROKEN_FILE = ('local p = ctg.plugin{ name = "cassee", department = "29" }\n'
               '\n'
               'p:champ{ key = "x", label = "X" ]\n')


class ReloadTests(PluginsTestCase):
    start_class_server = False

    def setUp(self):
        super().setUp()
        self.folder = copy_shipped_plugins(self)
        self.server = start_server(self, tokens=list(standard_tokens().values()),
                                   extra_lines=[plugins_line(self.folder)])

    def reload(self, token_name="admin"):
        return self.server.request("POST", "/v1/plugins/reload",
                                   token=self.server.token(token_name) if token_name else None)

    def generation(self):
        return self.plugins()["generation"]

    def bad_30(self):
        """A convention of 30 whose period is over 4 years: refused by gard's rule."""
        doc = fixture("30")
        doc["id"] = new_id("long30")
        doc["period"] = {"start": "2020-01-01", "end": "2026-12-31"}
        return doc

    def post(self, doc):
        return self.server.request("POST", "/v1/conventions", doc, token=self.server.admin_token)

    def edit(self, fname, old, new):
        path = os.path.join(self.folder, fname)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        self.assertEqual(text.count(old), 1, "%r not once in %s" % (old, fname))
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace(old, new))
        return path

    def test_reload_needs_an_admin_token(self):
        self.assertError(self.reload(None), 401)
        self.assertError(self.reload("ed29"), 403, "forbidden")
        self.assertError(self.reload("rd29"), 403, "forbidden")
        self.assertEqual(self.generation(), 1, "a refused reload reloaded")
        r = self.reload("admin")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["generation"], 2)
        self.assertEqual([p["name"] for p in r.body["plugins"]],
                         [SHIPPED[f][0] for f in sorted(SHIPPED)])
        self.assertTrue(all(p["generation"] == 2 for p in r.body["plugins"]))
        self.assertEqual(self.server.request("GET", "/v1/health").body["plugin_generation"], 2)

    def test_a_broken_file_changes_nothing_then_the_fix_loads(self):
        before = self.plugins()
        self.assertEqual(self.post(self.bad_30()).status, 422)
        # the new set would drop gard's rule, and has a broken file: nothing of it may apply
        self.edit("30-gard.lua", "p:validate(function(conv)", "local _ = (function(conv)")
        broken = os.path.join(self.folder, "60-cassee.lua")
        with open(broken, "w", encoding="utf-8") as f:
            f.write(BROKEN_FILE)
        r = self.reload()
        err = self.assertError(r, 422, "plugin_load_failed")
        self.assertIn(broken + ":3:", err["message"])
        self.assertIn("the previous ones stay", err["message"])
        self.assertIn(broken + ":3:", err["details"][0]["message"])
        self.assertEqual(self.plugins(), before, "GET /v1/plugins changed after a failed reload")
        self.assertEqual(self.server.request("GET", "/v1/health").body["plugin_generation"], 1)
        r = self.post(self.bad_30())
        self.assertEqual(r.status, 422, "the old rule of gard must still apply: %r" % (r.body,))
        self.assertEqual(r.body["error"]["details"][0]["plugin"], "gard")
        # fixed: the whole new set applies at once
        with open(broken, "w", encoding="utf-8") as f:
            f.write(BROKEN_FILE.replace("]", "}"))
        r = self.reload()
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["generation"], 2)
        self.assertIn("cassee", [p["name"] for p in r.body["plugins"]])
        gard = [p for p in r.body["plugins"] if p["name"] == "gard"][0]
        self.assertEqual(gard["sha256"], sha256_of(os.path.join(self.folder, "30-gard.lua")))
        self.assertNotEqual(gard["sha256"],
                            [p for p in before["plugins"] if p["name"] == "gard"][0]["sha256"])
        doc = self.bad_30()
        r = self.post(doc)
        self.assertEqual(r.status, 201, "gard's rule was removed by the reload: %r" % (r.body,))
        champs = self.server.request("GET", "/v1/departments/29",
                                     token=self.server.admin_token).body["champs"]
        self.assertIn("x", [c["key"] for c in champs])

    def test_a_reload_changes_an_indicator(self):
        doc = fixture("29")
        self.assertEqual(self.post(doc).status, 201)
        values, _ = self.indicators(doc["id"])
        self.assertEqual(values["objectifs-partages-couverts"]["value"], 0)
        path = self.edit("29-finistere.lua", "  compute = function(conv)\n",
                         "  compute = function(conv) do return 12345 end\n")
        r = self.reload()
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.plugin("finistere")["sha256"], sha256_of(path))
        values, _ = self.indicators(doc["id"])
        self.assertEqual(values["objectifs-partages-couverts"]["value"], 12345)
        text = self.server.request("GET", "/v1/metrics", token=self.server.admin_token).body
        self.assertEqual(metric_sum(text.decode(), "ctgd_plugin_generation"), 2)

    def test_sighup_reloads_like_post(self):
        doc = fixture("29")
        self.assertEqual(self.post(doc).status, 201)
        self.edit("29-finistere.lua", "  compute = function(conv)\n",
                  "  compute = function(conv) do return 777 end\n")
        self.server.proc.send_signal(signal.SIGHUP)
        self.wait_until(lambda: self.generation() == 2, what="generation 2 after SIGHUP")
        values, _ = self.indicators(doc["id"])
        self.assertEqual(values["objectifs-partages-couverts"]["value"], 777)
        # a broken file: SIGHUP logs the error and keeps generation 2
        broken = os.path.join(self.folder, "60-cassee.lua")
        with open(broken, "w", encoding="utf-8") as f:
            f.write(BROKEN_FILE)
        self.server.proc.send_signal(signal.SIGHUP)
        self.wait_until(lambda: broken + ":3:" in self.server.output(), what="the load error logged")
        self.assertEqual(self.generation(), 2)
        values, _ = self.indicators(doc["id"])
        self.assertEqual(values["objectifs-partages-couverts"]["value"], 777)
        self.assertEqual(self.server.request("GET", "/v1/health").status, 200)


# --------------------------------------------------------------------------------------------
# Indicators and exports kept for a convention's revision (limits.result_cache)
# --------------------------------------------------------------------------------------------

class ResultCacheTests(PluginsTestCase):
    """tests/plugins/counting counts its calls for each convention: a kept answer shows the
    count of the call that computed it. (A reload computing again: ReloadTests.)"""

    server_kwargs = {"tokens": lambda: list(standard_tokens().values()),
                     "extra_lines": [plugins_line(test_plugins_dir("counting"))]}

    def make(self, reads=None, department="29"):
        doc = minimal_convention(department=department, id=new_id("rc"))
        if reads:
            doc["extra"] = {"reads": reads}
        self.create(doc)
        return doc["id"]

    def calls(self, conv_id, server=None, token=None):
        server = server or self.server
        r = server.request("GET", conv_path(conv_id, "indicators"),
                           token=token or server.admin_token)
        self.assertEqual(r.status, 200, r.body)
        (calls,) = [i["value"] for i in r.body["indicators"] if i["key"] == "calls"]
        return calls, r

    def export(self, conv_id):
        r = self.request("GET", conv_path(conv_id, "exports", "calls.txt"),
                         token=self.server.admin_token)
        self.assertEqual(r.status, 200, r.body)
        return r

    def cache_metrics(self, server=None):
        server = server or self.server
        text = server.request("GET", "/v1/metrics", token=server.admin_token).body.decode()
        return {name: metric_sum(text, "ctgd_result_cache_" + name)
                for name in ("hits_total", "misses_total", "evictions_total", "bytes")}

    def test_an_answer_is_kept_for_its_revision(self):
        conv_id = self.make()
        before = self.cache_metrics()
        first, r1 = self.calls(conv_id)
        self.assertEqual(first, 1)
        second, r2 = self.calls(conv_id)
        self.assertEqual(second, 1, "the indicators were computed again for the same revision")
        self.assertEqual(r2.body, r1.body)
        self.assertEqual(media_type(r2.headers), "application/json")
        after = self.cache_metrics()
        self.assertEqual(after["hits_total"] - before["hits_total"], 1)
        self.assertEqual(after["misses_total"] - before["misses_total"], 1)
        self.assertGreater(after["bytes"], before["bytes"])
        # a new revision: computed again, then kept in its turn
        r = self.request("PATCH", conv_path(conv_id), {"title": "Titre changé"},
                         headers=dict({"If-Match": '"1"'}, **MERGE_PATCH),
                         token=self.server.admin_token)
        self.assertEqual(r.status, 200, r.body)
        third, r3 = self.calls(conv_id)
        self.assertEqual((third, r3.body["rev"]), (2, 2))
        self.assertEqual(self.calls(conv_id)[0], 2)

    def test_an_export_is_kept_with_its_headers(self):
        conv_id = self.make()
        r1 = self.export(conv_id)
        r2 = self.export(conv_id)
        self.assertEqual(r1.body, "Convention territoriale globale : 1".encode())
        self.assertEqual(r2.body, r1.body, "the export was rendered again for the same revision")
        for header in ("Content-Type", "Content-Security-Policy", "X-Content-Type-Options"):
            self.assertEqual(r2.headers.get(header), r1.headers.get(header), header)
        self.assertEqual(media_type(r2.headers), "text/plain")
        r = self.request("PATCH", conv_path(conv_id), {"title": "Autre"},
                         headers=dict({"If-Match": '"1"'}, **MERGE_PATCH),
                         token=self.server.admin_token)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.export(conv_id).body, b"Autre : 2")

    def test_a_longer_key_is_not_cut_to_a_kept_ones(self):
        conv_id = self.make()
        key = "long-" + "x" * 59
        for _ in range(2):  # computed, then kept
            r = self.request("GET", conv_path(conv_id, "exports", key),
                             token=self.server.admin_token)
            self.assertEqual((r.status, r.body), (200, b"long"))
        r = self.request("GET", conv_path(conv_id, "exports", key + "x"),
                         token=self.server.admin_token)
        self.assertError(r, 404, "not_found")

    def test_what_is_not_declared_pure_is_computed_each_time(self):
        conv_id = self.make(department="30")  # the plugin "undeclared" is department 30's
        self.assertEqual([self.calls(conv_id)[0] for _ in range(3)], [1, 2, 3])
        r = [self.request("GET", conv_path(conv_id, "exports", "undeclared.txt"),
                          token=self.server.admin_token).body for _ in range(2)]
        self.assertEqual(r, [b"Convention territoriale globale : 1",
                             b"Convention territoriale globale : 2"])
        self.assertEqual([self.export(conv_id).body[-1:] for _ in range(2)], [b"1", b"1"])

    def test_what_reads_more_than_the_document_is_computed_each_time(self):
        for reads in ("time", "date", "clock", "random", "store", "publish"):
            with self.subTest(reads=reads):
                conv_id = self.make(reads)
                self.assertEqual([self.calls(conv_id)[0] for _ in range(3)], [1, 2, 3])
                self.assertEqual([self.export(conv_id).body[-1:] for _ in range(2)],
                                 [b"1", b"2"])

    def test_a_kept_answer_goes_only_to_readers_of_its_department(self):
        conv_id = self.make()
        self.assertEqual(self.calls(conv_id)[0], 1)
        r = self.request("GET", conv_path(conv_id, "indicators"), token=self.server.token("ed49"))
        self.assertError(r, 403)
        self.assertEqual(self.calls(conv_id, token=self.server.token("rd29"))[0], 1)
        r = self.request("DELETE", conv_path(conv_id), headers={"If-Match": '"1"'},
                         token=self.server.admin_token)
        self.assertIn(r.status, (200, 204), r.body)
        self.assertError(self.request("GET", conv_path(conv_id, "indicators"),
                                      token=self.server.admin_token), 404, "not_found")
        # created again: its rev goes on (a rev names one document), so nothing old is served
        self.create(minimal_convention(id=conv_id, title="Recréée"))
        calls, r = self.calls(conv_id)
        self.assertEqual((calls, r.body["rev"]), (2, 3))

    def test_a_size_of_0_keeps_nothing(self):
        server = start_server(self, extra_lines=[plugins_line(test_plugins_dir("counting")),
                                                 "limits = { result_cache = 0 }"])
        conv_id = new_id("rc0")
        r = server.request("POST", "/v1/conventions", minimal_convention(id=conv_id))
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual([self.calls(conv_id, server)[0] for _ in range(3)], [1, 2, 3])
        self.assertEqual(self.cache_metrics(server)["bytes"], 0)

    def test_the_least_recently_used_goes_first(self):
        probe = start_server(self, extra_lines=[plugins_line(test_plugins_dir("counting"))])
        ids = ["rc-lru-%s-%d" % (new_id("x")[-6:], i) for i in range(3)]  # ids of one length
        r = probe.request("POST", "/v1/conventions", minimal_convention(id=ids[0]))
        self.assertEqual(r.status, 201, r.body)
        self.calls(ids[0], probe)
        one = self.cache_metrics(probe)["bytes"]  # an entry's size; all three have it
        server = start_server(self, extra_lines=[
            plugins_line(test_plugins_dir("counting")),
            "limits = { result_cache = %d }" % (2 * one + one // 2)])
        for conv_id in ids:
            r = server.request("POST", "/v1/conventions", minimal_convention(id=conv_id))
            self.assertEqual(r.status, 201, r.body)
        a, b, c = ids
        self.assertEqual([self.calls(x, server)[0] for x in (a, b, a, c)], [1, 1, 1, 1])
        # c took the room of b, the least recently used; a stayed
        self.assertEqual(self.calls(a, server)[0], 1)
        self.assertEqual(self.calls(b, server)[0], 2)
        m = self.cache_metrics(server)
        self.assertEqual(m["evictions_total"], 2)  # b for c, then c (least recent) for b
        self.assertLessEqual(m["bytes"], 2 * one + one // 2)


# --------------------------------------------------------------------------------------------
# Plugins that spend their budgets or fail
# --------------------------------------------------------------------------------------------

class FailingPluginsTests(PluginsTestCase):
    server_kwargs = {"extra_lines": [plugins_line(test_plugins_dir("runaway"),
                                                  test_plugins_dir("errors")), FAST_LIMITS]}

    def make(self, department, title="Convention territoriale globale"):
        doc = minimal_convention(department=department, id=new_id("f" + department), title=title)
        self.create(doc)
        return doc["id"]

    def assertPluginFailed(self, resp, plugin, fname, *fragments):
        err = self.assertError(resp, 500, "plugin_failed")
        path = os.path.join(test_plugins_dir(fname.split("/")[0]), fname.split("/")[1])
        self.assertIn("plugin '%s' (%s)" % (plugin, path), err["message"])
        for fragment in fragments:
            self.assertIn(fragment, err["message"])
        return err

    def test_runaway_indicator_fails_fast_and_the_server_lives_on(self):
        for department, plugin, key in (("01", "runaway", "loop"),
                                        ("02", "runaway-pcall", "pcall-loop")):
            with self.subTest(plugin=plugin):
                conv_id = self.make(department)
                errors = self.plugin(plugin)["errors"]
                t0 = time.monotonic()
                r = self.request("GET", conv_path(conv_id, "indicators"))
                took = time.monotonic() - t0
                self.assertPluginFailed(r, plugin, "runaway/50-runaway.lua",
                                        "indicator '%s'" % key,
                                        "the instruction budget of this call is spent")
                self.assertLess(took, 5.0)
                self.assertEqual(self.request("GET", "/v1/health").status, 200)
                p = self.plugin(plugin)
                self.assertEqual(p["errors"], errors + 1)
                self.assertEqual(p["last_error"], r.body["error"]["message"])
        conv_id = self.make("01")
        r = self.request("GET", conv_path(conv_id, "exports", "ok"))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body, b"fine")

    def test_memory_bomb_fails_and_the_next_call_works(self):
        conv_id = self.make("04")
        for key in ("bomb-string", "bomb-table", "bomb-pcall"):
            with self.subTest(export=key):
                r = self.request("GET", conv_path(conv_id, "exports", key))
                self.assertPluginFailed(r, "memory", "runaway/50-runaway.lua",
                                        "export '%s'" % key, "the memory cap of 32 MiB is reached")
                r = self.request("GET", conv_path(conv_id, "exports", "ok"))
                self.assertEqual(r.status, 200, r.body)
                self.assertEqual(r.body, b"fine")
                values, _ = self.indicators(conv_id)
                self.assertEqual(values["ok"]["value"], 1)

    def test_failing_export_and_report(self):
        conv_id = self.make("05")
        r = self.request("GET", conv_path(conv_id, "exports", "boom"))
        self.assertPluginFailed(r, "faulty", "errors/50-errors.lua", "export 'boom'",
                                "export exploded")
        r = self.request("GET", conv_path(conv_id, "exports", "nil"))
        self.assertPluginFailed(r, "faulty", "errors/50-errors.lua", "returned nil, not a string")
        r = self.request("GET", conv_path(conv_id, "exports", "ok"))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(media_type(r.headers), "text/plain")
        r = self.request("GET", "/v1/departments/05/reports/boom")
        self.assertPluginFailed(r, "faulty", "errors/50-errors.lua", "report 'boom'",
                                "report exploded")
        r = self.request("GET", "/v1/departments/05/reports/ok")
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(r.body.startswith(b"report fine: "), r.body)
        conv_id = self.make("05", title="Convention boom-indicator")
        r = self.request("GET", conv_path(conv_id, "indicators"))
        self.assertPluginFailed(r, "faulty", "errors/50-errors.lua", "indicator 'touchy'",
                                "indicator exploded")

    def test_failing_validator_stores_nothing(self):
        doc = minimal_convention(department="05", id=new_id("val05"),
                                 title="Convention boom-validate")
        with self.assertNoWrite(doc["id"]):
            r = self.request("POST", "/v1/conventions", doc)
            self.assertPluginFailed(r, "faulty", "errors/50-errors.lua", "validate",
                                    "validator exploded")

    def test_store_in_a_validator_is_an_error(self):
        doc = minimal_convention(department="05", id=new_id("st05"),
                                 title="Convention store-validate")
        with self.assertNoWrite(doc["id"]):
            r = self.request("POST", "/v1/conventions", doc)
            self.assertPluginFailed(r, "faulty", "errors/50-errors.lua", "validate",
                                    "ctg.store.get")
        # the store is not left in a half-open read or write
        conv_id = self.make("05")
        self.get_doc(conv_id)

    def test_failing_on_change_keeps_the_write_and_counts(self):
        before = self.plugin("faulty")["errors"]
        metrics = self.request("GET", "/v1/metrics").body.decode()
        total = metric_sum(metrics, "ctgd_plugin_errors_total")
        conv_id = self.make("05", title="Convention boom-change")   # 201: the write stands
        self.get_doc(conv_id)
        p = self.wait_until(lambda: (lambda q: q if q["errors"] == before + 1 else None)(
            self.plugin("faulty")), what="faulty's error count + 1")
        self.assertIn("on_change", p["last_error"])
        self.assertIn("on_change exploded", p["last_error"])
        self.assertIn(os.path.join(test_plugins_dir("errors"), "50-errors.lua"), p["last_error"])
        self.assertEqual(self.plugin("witness")["errors"], 0)
        metrics = self.request("GET", "/v1/metrics").body.decode()
        self.assertEqual(metric_sum(metrics, "ctgd_plugin_errors_total"), total + 1)


# --------------------------------------------------------------------------------------------
# The sandbox through a real server (tests/plugins/hostile, hostile-backdoors, victim)
# --------------------------------------------------------------------------------------------

VICTIM_SEES = {"method_upper": "ABC", "string_upper": "ABC", "format": "7-x", "concat": "a+b",
               "tostring": "12", "csv": 'a,"b,c"\r\n', "escape": "&lt;&amp;&gt;",
               "encode": "[1,2]", "os_time": "integer", "leaked_global": "nil",
               "new_global": "nil", "missing_key": "nil", "conv_write": 5, "title": "Témoin",
               "actions_len": 3}
# a binary chunk header (the sandbox's load refuses it before reading further)
FAKE_BYTECODE = (b"\x1bLuaT\x00\x19\x93\r\n\x1a\n\x04\x08\x08" + b"\x00" * 16).hex()


class SandboxTests(PluginsTestCase):
    start_class_server = False
    maxDiff = None

    def victim_doc(self, server):
        doc = minimal_convention(department="29", id=new_id("victim"), title="Témoin",
                                 actions=[{"id": i, "title": "Fiche " + i} for i in "abc"],
                                 extra={"bytecode": FAKE_BYTECODE})
        r = server.request("POST", "/v1/conventions", doc)
        self.assertEqual(r.status, 201, r.body)
        return doc["id"]

    def export(self, server, conv_id, key):
        r = server.request("GET", conv_path(conv_id, "exports", key))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(media_type(r.headers), "application/json")
        return r.body   # parsed by the harness

    def test_escapes_are_refused(self):
        server = start_server(self, extra_lines=[plugins_line(test_plugins_dir("hostile"),
                                                              test_plugins_dir("victim"))])
        conv_id = self.victim_doc(server)
        self.assertEqual(self.export(server, conv_id, "observe"), VICTIM_SEES)
        attempts = self.export(server, conv_id, "attempts")
        escaped = {k: v for k, v in attempts.items()
                   if not (v == "nil" or v.startswith("refused: "))}
        self.assertEqual(escaped, {})
        self.assertIn("read-only", attempts["string.upper = f"])
        self.assertEqual(self.export(server, conv_id, "observe"), VICTIM_SEES)
        self.assertEqual(server.request("GET", "/v1/health").status, 200)
        self.assertEqual([p["errors"] for p in self.plugins(server)["plugins"]], [0, 0])

    def test_backdoors_do_not_reach_another_plugin(self):
        server = start_server(self, extra_lines=[
            plugins_line(test_plugins_dir("hostile-backdoors"), test_plugins_dir("victim"))])
        conv_id = self.victim_doc(server)
        self.assertEqual(self.export(server, conv_id, "observe"), VICTIM_SEES)
        tamper = self.export(server, conv_id, "tamper")
        seen = self.export(server, conv_id, "observe")
        self.assertEqual(seen, VICTIM_SEES, "plugin 'backdoor' changed what 'victim' sees: %s"
                         % json.dumps(tamper, ensure_ascii=False, indent=1))


# --------------------------------------------------------------------------------------------
# ctg.publish on the PUB socket
# --------------------------------------------------------------------------------------------

def wait_messages(sub, predicate):
    """The messages of `sub` that match, once there is one."""
    sub.wait_until(lambda s: any(predicate(m) for m in s.messages()), what="such message")
    return [m for m in sub.messages() if predicate(m)]


class PublishTests(PluginsTestCase):
    server_kwargs = {"events_heartbeat": 0.5}

    def test_on_change_publishes_on_the_pub_socket(self):
        sub = Subscriber(self, self.server.events_endpoint)
        sub.wait_heartbeat()   # the subscription is live
        doc = convention(department="29", id=new_id("pub29"))
        self.create(doc)
        r = self.request("PATCH", conv_path(doc["id"]), {"status": "monitoring"},
                         headers=dict({"If-Match": '"1"'}, **MERGE_PATCH))
        self.assertEqual(r.status, 200, r.body)
        found = wait_messages(sub, lambda m: m.topic == "ctg.29.plugin.statut"
                              and m.body.get("rev") == 2)
        self.assertEqual(found[0].body, {"id": doc["id"], "rev": 2, "status": "monitoring",
                                         "label": "Pilotage et suivi"})
        # no status change, no statut event: wait for the change event, then a heartbeat
        r = self.request("PATCH", conv_path(doc["id"]), {"title": "Nouveau titre"},
                         headers=dict({"If-Match": '"2"'}, **MERGE_PATCH))
        self.assertEqual(r.status, 200, r.body)
        wait_messages(sub, lambda m: m.topic == "ctg.29.convention.updated"
                      and m.body["rev"] == 3)
        sub.wait_heartbeat()
        # the creation (rev 1) sent its convention.created event and no statut
        created = [m for m in sub.messages() if m.topic == "ctg.29.convention.created"
                   and m.body["id"] == doc["id"]]
        self.assertEqual([m.body["doc"]["status"] for m in created], ["action_plan"])
        self.assertEqual([m.body["rev"] for m in sub.messages()
                          if m.topic == "ctg.29.plugin.statut" and m.body["id"] == doc["id"]],
                         [2])
        # another department's topic
        doc30 = minimal_convention(department="30", id=new_id("pub30"))
        self.create(doc30)
        r = self.request("PATCH", conv_path(doc30["id"]), {"status": "diagnostic"},
                         headers=dict({"If-Match": '"1"'}, **MERGE_PATCH))
        self.assertEqual(r.status, 200, r.body)
        (message,) = wait_messages(sub, lambda m: m.body.get("id") == doc30["id"]
                                   and ".plugin." in m.topic)
        self.assertEqual(message.topic, "ctg.30.plugin.statut")
        self.assertEqual(message.body, {"id": doc30["id"], "rev": 2, "status": "diagnostic",
                                        "label": "Diagnostic partagé"})


class HandlersSeeEveryChangeTests(PluginsTestCase):
    """The on_change handlers take the events the publisher just sent from memory (8 MiB of them
    at most, with no gap: core/server.c) and read the others from the log: either way each
    change once, in seq order."""
    server_kwargs = {"extra_lines": [plugins_line(test_plugins_dir("seen")), 'log_level = "info"',
                                     "limits = { body_max = 1048576, bulk_max = 32 * 1048576 }"]}

    def seen(self):
        return [(int(seq), conv_id) for seq, conv_id in
                re.findall(r"seen (\d+) (\S+)", self.server.output())]

    def test_each_change_once_in_seq_order(self):
        first = self.last_seq() + 1
        ids = []
        for _ in range(5):   # one by one: handed over
            ids.append(self.create(minimal_convention(id=new_id("seen")))["id"])
        # 10 MiB of events in one request, large and small in turn: the first 8 MiB handed over,
        # the rest read from the log (small ones that would still fit after a large one that
        # did not are not handed over: the hand-over has no gap)
        pad = {"pad": "x" * 100000}
        bulk = [minimal_convention(id=new_id("seenbulk"), **({"extra": pad} if i % 2 else {}))
                for i in range(200)]
        body = "".join(json.dumps(d) + "\n" for d in bulk).encode()
        r = self.request("POST", "/v1/conventions/_bulk", raw=body,
                         headers={"Content-Type": "application/x-ndjson"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual({x["status"] for x in r.body["results"]}, {201})
        ids += [d["id"] for d in bulk]
        for _ in range(5):   # handed over again, once the handlers caught up
            ids.append(self.create(minimal_convention(id=new_id("seen")))["id"])
        last = self.last_seq()
        self.assertEqual(last - first + 1, len(ids))
        self.wait_until(lambda: self.seen() and self.seen()[-1][0] == last, timeout=30,
                        what="the handlers at seq %d" % last)
        self.assertEqual(self.seen(), list(zip(range(first, last + 1), ids)))


# --------------------------------------------------------------------------------------------
# ctgd --check, and a start with broken plugins
# --------------------------------------------------------------------------------------------

class CheckTests(PluginsTestCase):
    start_class_server = False

    def test_check_names_the_broken_file_and_line(self):
        folder = test_plugins_dir(os.path.join("broken", "syntax"))
        rc, out, _ = run_check(self, [plugins_line(folder)], 30)
        self.assertEqual(rc, 1, out)
        self.assertIn(os.path.join(folder, "10-syntax.lua") + ":4:", out)

    def test_check_of_each_broken_folder_fails(self):
        cases = {"runtime": "10-runtime.lua:5:", "unknown-field": "unknown field 'labl'",
                 "no-plugin": "declares no plugin", "duplicate-name": "the name is taken",
                 "duplicate-key": "is declared by plugin 'one' too",
                 "bad-department": "not an INSEE department code",
                 "publish-at-load": "ctg.publish: only while handling"}
        for case, fragment in cases.items():
            with self.subTest(case=case):
                rc, out, _ = run_check(self, [plugins_line(
                    test_plugins_dir(os.path.join("broken", case)))], 30)
                self.assertEqual(rc, 1, out)
                self.assertIn(fragment, out)

    def test_check_of_the_shipped_plugins_passes(self):
        rc, out, _ = run_check(self, [], 30)
        self.assertEqual(rc, 0, out)
        self.assertIn("6 plugins", out)

    def test_start_with_a_broken_plugin_folder_stops(self):
        folder = test_plugins_dir(os.path.join("broken", "syntax"))
        server = Server(extra_lines=[plugins_line(folder)], label="ctgd with broken plugins")
        self.addCleanup(server.cleanup)
        rc, out = server.run_until_exit()
        self.assertNotEqual(rc, 0)
        self.assertIn(os.path.join(folder, "10-syntax.lua") + ":4:", out)


class UncountedWorkTests(PluginsTestCase):
    """
    Work the instruction count does not see. Each must end within the budgets: today each of
    these fails (the process is killed after the deadline of the test).
    """
    start_class_server = False

    def test_check_with_a_looping_finalizer_ends(self):
        # __gc metamethods run with hooks off: the collection after the load never ends
        rc, out, took = run_check(self, [plugins_line(test_plugins_dir("gc-finalizer")),
                                         FAST_LIMITS], 6)
        self.assertIsNotNone(rc, "ctgd --check still ran after 6 s (a __gc that loops; "
                                 "tests/plugins/gc-finalizer)")

    def test_check_with_a_backtracking_pattern_at_load_ends(self):
        # one string.find call would run for hours (no instruction is counted inside it): the
        # sandbox's pattern functions refuse it before it starts
        rc, out, took = run_check(self, [plugins_line(test_plugins_dir("pattern-bomb-at-load")),
                                         FAST_LIMITS], 6)
        self.assertIsNotNone(rc, "ctgd --check still ran after 6 s, with lua_seconds = 1 "
                                 "(tests/plugins/pattern-bomb-at-load)")
        self.assertEqual(rc, 1, out)
        self.assertIn("this pattern may backtrack too long", out)
        self.assertIn("pattern-at-load", out)

    def test_xpcall_handler_loop_does_not_hang_the_server(self):
        # the message handler runs inside the budget hook, where hooks are off
        server = Server(extra_lines=[plugins_line(test_plugins_dir("runaway")), FAST_LIMITS],
                        label="ctgd with runaway plugins")
        self.addCleanup(server.cleanup)
        server.start()
        doc = minimal_convention(department="03", id=new_id("xp"))
        r = server.request("POST", "/v1/conventions", doc)
        self.assertEqual(r.status, 201, r.body)
        try:
            r = server.request("GET", conv_path(doc["id"], "indicators"), timeout=6)
        except (socket.timeout, TimeoutError):
            r = None
        if r is None:
            self.fail("GET indicators of a convention of 03 did not answer within 6 s "
                      "(xpcall with a looping message handler, tests/plugins/runaway)")
        err = self.assertError(r, 500, "plugin_failed")
        self.assertIn("plugin 'runaway-xpcall'", err["message"])
        self.assertEqual(server.request("GET", "/v1/health", timeout=5).status, 200)
        server.stop()


if __name__ == "__main__":
    main()
