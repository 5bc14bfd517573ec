#!/usr/bin/env python3
"""
test_ctgctl.py — ctgctl, the operator's command line (docs/ctgctl.md), end to end: every
command run as a subprocess against a real ctgd, its stdout, stderr and exit code checked
(0 ok, 1 refused by the server, 2 usage, 3 unreachable), and what it did checked over HTTP.

    CTGCTL_BIN=build/ctgctl python3 tests/integration/test_ctgctl.py --ctgd build/ctgd

ctgctl defaults to the build folder of the ctgd binary. The 10 000-line import prints its
duration on stderr.
"""

import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ctgd_harness import (SANITIZER_MARKS, CtgdTestCase, client_view,  # noqa: E402
                          conv_path, convention, ctgctl_binary, free_port, main,
                          minimal_convention, new_id, repo_root, standard_tokens)

FIXTURES = os.path.join(repo_root(), "conf", "demo")
GENERATOR = os.path.join(repo_root(), "scripts", "benchlib", "gen_conventions.py")
RUN_TIMEOUT = 120


class Run:
    """What one ctgctl run gave: exit code, stdout, stderr (text)."""

    def __init__(self, argv, rc, out, err):
        self.argv, self.rc, self.out, self.err = argv, rc, out, err

    def __repr__(self):
        return ("ctgctl %s -> exit %d\n--- stdout ---\n%s\n--- stderr ---\n%s"
                % (" ".join(self.argv), self.rc, self.out[-3000:], self.err[-3000:]))

    def json_lines(self):
        return [json.loads(line) for line in self.out.splitlines()]


class CtgctlCase(CtgdTestCase):
    """Runs ctgctl against the class's server."""

    def ctl(self, *args, token=None, url=None, stdin=None, env=None, stderr=None):
        environ = {k: v for k, v in os.environ.items() if not k.startswith("CTG_")}
        environ["CTG_URL"] = url or self.server.url
        if token:
            environ["CTG_TOKEN"] = token
        environ.update(env or {})
        argv = [ctgctl_binary()] + [str(a) for a in args]
        proc = subprocess.run(argv, input=stdin.encode() if isinstance(stdin, str) else stdin,
                              stdout=subprocess.PIPE,
                              stderr=stderr if stderr is not None else subprocess.PIPE,
                              env=environ, timeout=RUN_TIMEOUT)
        run = Run([str(a) for a in args], proc.returncode, proc.stdout.decode("utf-8"),
                  proc.stderr.decode("utf-8") if proc.stderr is not None else "")
        for mark in SANITIZER_MARKS:
            self.assertNotIn(mark, run.err, run)
        return run

    def assertExit(self, run, code):
        self.assertEqual(run.rc, code, run)
        return run

    def ok(self, *args, **kw):
        return self.assertExit(self.ctl(*args, **kw), 0)

    def assertUsage(self, run, command=None):
        """Exit 2 with the usage on stderr, nothing on stdout."""
        self.assertExit(run, 2)
        self.assertIn("usage: ctgctl" + (" " + command if command else ""), run.err, run)
        self.assertEqual(run.out, "", run)

    def tmpfile(self, name, content=None):
        folder = tempfile.mkdtemp(prefix="ctgctl-test-")
        self.addCleanup(shutil.rmtree, folder, ignore_errors=True)
        path = os.path.join(folder, name)
        if content is not None:
            with open(path, "wb" if isinstance(content, bytes) else "w") as f:
                f.write(content)
        return path

    def table(self, run):
        """A table printed by ctgctl: header names and rows split on runs of 2+ spaces."""
        lines = run.out.splitlines()
        self.assertTrue(lines, run)
        split = lambda line: re.split(r"\s{2,}", line.strip())  # noqa: E731
        return split(lines[0]), [split(line) for line in lines[1:]]


# --------------------------------------------------------------------------------------------
# An open ctgd (no tokens)
# --------------------------------------------------------------------------------------------

class CommandTests(CtgctlCase):

    # -- usage, help, exit codes ---------------------------------------------------------

    def test_help_lists_every_command_and_each_command_has_help(self):
        commands = ["get", "list", "put", "patch", "delete", "history", "import", "export",
                    "changes", "watch", "reload", "health"]
        run = self.ok("--help")
        for command in commands:
            self.assertRegex(run.out, r"\n  %s\s" % command)
        self.assertIn("0 ok, 1 refused by the server", run.out)
        for command in commands:
            run = self.ok(command, "--help")
            self.assertTrue(run.out.startswith("usage: ctgctl " + command), run)
            self.assertEqual(run.err, "")

    def test_usage_errors_exit_2(self):
        self.assertUsage(self.ctl())
        self.assertUsage(self.ctl("frobnicate"))
        self.assertIn("unknown command 'frobnicate'", self.ctl("frobnicate").err)
        self.assertUsage(self.ctl("--nope", "health"))
        self.assertUsage(self.ctl("get"), "get")
        self.assertUsage(self.ctl("get", "a-1", "b-2"), "get")
        self.assertUsage(self.ctl("list", "--bogus"), "list")
        self.assertIn("unknown option '--bogus'", self.ctl("list", "--bogus").err)
        self.assertUsage(self.ctl("list", "--limit"), "list")
        self.assertUsage(self.ctl("list", "--limit", "0"), "list")
        self.assertUsage(self.ctl("list", "--limit", "1001"), "list")
        self.assertUsage(self.ctl("patch", "x-1"), "patch")
        self.assertUsage(self.ctl("patch", "x-1", "--rev", "abc", "{}"), "patch")
        self.assertUsage(self.ctl("delete", "x-1", "--rev", "0"), "delete")
        self.assertUsage(self.ctl("export"), "export")
        self.assertUsage(self.ctl("export", "--report", "conventions.csv"), "export")
        self.assertUsage(self.ctl("export", "--department", "29", "extra"), "export")
        self.assertUsage(self.ctl("changes", "--limit", "x"), "changes")
        self.assertUsage(self.ctl("import"), "import")
        self.assertUsage(self.ctl("health", "now"), "health")
        # Input that is not usable is not the server's refusal either: exit 2.
        run = self.assertExit(self.ctl("patch", "x-1", "{not json"), 2)
        self.assertIn("not JSON", run.err)
        run = self.assertExit(self.ctl("put", self.tmpfile("no-such.json")), 2)
        run = self.assertExit(self.ctl("import", self.tmpfile("no-such.jsonl")), 2)
        self.assertIn("cannot read", run.err)

    def test_an_unreachable_server_exits_3(self):
        url = "http://127.0.0.1:%d" % free_port()
        for args in (["get", "x-1"], ["list"], ["health"], ["reload"], ["delete", "x-1"],
                     ["import", FIXTURES], ["export", "--department", "29"]):
            run = self.assertExit(self.ctl(*args, url=url), 3)
            self.assertIn("cannot reach", run.err, run)
            self.assertEqual(run.out, "", run)

    # -- health, get -------------------------------------------------------------------------

    def test_health(self):
        run = self.ok("health")
        self.assertRegex(run.out, r"^ok: ctgd \S+, \d+ conventions, last seq \d+")
        health = self.ok("health", "--json").json_lines()
        self.assertEqual(len(health), 1)
        self.assertEqual(health[0]["status"], "ok")
        self.assertEqual(self.ok("--json", "health").json_lines()[0]["status"], "ok")

    def test_get_prints_the_document(self):
        doc = self.create(convention(id=new_id("get")))
        run = self.ok("get", doc["id"])
        self.assertGreater(len(run.out.splitlines()), 10, "not indented for a person")
        self.assertEqual(json.loads(run.out), doc)
        run = self.ok("get", doc["id"], "--json")
        self.assertEqual(len(run.out.splitlines()), 1)
        self.assertEqual(json.loads(run.out), doc)
        self.assertEqual(self.ok("--json", "get", doc["id"]).json_lines(), [doc])

    def test_get_of_an_unknown_id_exits_1_with_the_servers_message(self):
        missing = new_id("missing")
        message = self.request("GET", conv_path(missing)).body["error"]["message"]
        run = self.assertExit(self.ctl("get", missing), 1)
        self.assertIn("404", run.err)
        self.assertIn("not_found", run.err)
        self.assertIn(message, run.err)
        self.assertEqual(run.out, "")
        run = self.assertExit(self.ctl("get", "Not An Id/../x"), 1)  # escaped, refused by ctgd
        self.assertIn("400", run.err)

    # -- list --------------------------------------------------------------------------------

    def make_listed(self, marker, departments):
        """Conventions whose title carries `marker`, one per department given; their ids."""
        ids = []
        for department in departments:
            doc = minimal_convention(department=department, id=new_id(marker),
                                     title="Convention %s %s" % (marker, department))
            ids.append(self.create(doc)["id"])
        return sorted(ids)

    def test_list_table_json_and_filters(self):
        ids = self.make_listed("listfilt", ["29", "49", "49"])
        run = self.ok("list", "--q", "listfilt")
        header, rows = self.table(run)
        self.assertEqual(header, ["ID", "DEPT", "STATUS", "TITLE", "UPDATED_AT"])
        self.assertEqual([r[0] for r in rows], ids)
        for row in rows:
            self.assertEqual(row[2], "preparation")
            self.assertIn("listfilt", row[3])
            self.assertRegex(row[4], r"^\d{4}-\d\d-\d\dT")
        items = self.ok("list", "--q", "listfilt", "--json").json_lines()
        self.assertEqual([i["id"] for i in items], ids)
        self.assertEqual(set(items[0]), {"id", "department", "title", "status", "period", "rev",
                                         "updated_at"})
        forty_nine = self.ok("list", "--q", "listfilt", "--department", "49", "--json")
        self.assertEqual([i["department"] for i in forty_nine.json_lines()], ["49", "49"])
        self.assertEqual(self.ok("list", "--q", "LISTFILT", "--status", "closed",
                                 "--json").out, "")
        self.ok("patch", ids[0], '{"champs": ["logement"]}')
        by_champ = self.ok("list", "--q", "listfilt", "--champ", "logement", "--json")
        self.assertEqual([i["id"] for i in by_champ.json_lines()], [ids[0]])
        run = self.assertExit(self.ctl("list", "--department", "99"), 1)
        self.assertIn("bad_parameter", run.err)

    def test_list_all_follows_the_cursors(self):
        ids = self.make_listed("listall", ["29", "30", "49", "88", "15"])
        first = self.ok("list", "--q", "listall", "--limit", "2", "--json").json_lines()
        self.assertEqual([i["id"] for i in first], ids[:2])
        every = self.ok("list", "--q", "listall", "--limit", "2", "--all", "--json")
        self.assertEqual([i["id"] for i in every.json_lines()], ids)
        header, rows = self.table(self.ok("list", "--q", "listall", "--limit", "2", "--all"))
        self.assertEqual([r[0] for r in rows], ids)

    # -- put, patch, delete, history ---------------------------------------------------------

    def test_put_round_trip_and_the_rev_rule(self):
        doc = self.create(convention(id=new_id("put")))
        path = self.tmpfile("conv.json", self.ok("get", doc["id"]).out)
        with open(path) as f:
            edited = json.load(f)
        edited["title"] = "Titre corrigé à la main"
        with open(path, "w") as f:
            json.dump(edited, f, ensure_ascii=False, indent=2)
        run = self.ok("put", path)
        self.assertEqual(run.out, "%s replaced: rev 2\n" % doc["id"])
        stored = self.get_doc(doc["id"])
        self.assertEqual((stored["rev"], stored["title"]), (2, "Titre corrigé à la main"))
        # The file still says rev 1: sending it again would undo a change made since.
        with self.assertNoWrite(doc["id"]):
            run = self.assertExit(self.ctl("put", path), 1)
        self.assertIn("409 rev_conflict", run.err)
        self.assertIn("not the current rev 2", run.err)
        self.assertEqual(run.out, "")
        # From stdin, --json: the stored document.
        fresh = convention(id=new_id("put"))
        run = self.ok("put", "-", "--json", stdin=json.dumps(fresh))
        self.assertEqual(client_view(json.loads(run.out)), fresh)
        self.assertEqual(self.get_doc(fresh["id"])["rev"], 1)
        run = self.assertExit(self.ctl("put", "-", stdin=json.dumps(minimal_convention())), 2)
        self.assertIn("has no id", run.err)

    def test_patch_with_and_without_rev(self):
        doc = self.create(convention(id=new_id("patch")))
        run = self.ok("patch", doc["id"], '{"status": "monitoring"}')
        self.assertEqual(run.out, "%s patched: rev 2\n" % doc["id"])
        self.assertEqual(self.get_doc(doc["id"])["status"], "monitoring")
        with self.assertNoWrite(doc["id"]):
            run = self.assertExit(self.ctl("patch", doc["id"], "--rev", "1",
                                           '{"status": "closed"}'), 1)
        self.assertIn("412 precondition_failed", run.err)
        run = self.ok("patch", "--rev", "2", doc["id"], '{"extra": null}', "--json")
        patched = json.loads(run.out)
        self.assertEqual(patched["rev"], 3)
        self.assertNotIn("extra", patched)
        patch_file = self.tmpfile("patch.json", '{"title": "Depuis un fichier"}')
        self.ok("patch", doc["id"], "@" + patch_file)
        self.assertEqual(self.get_doc(doc["id"])["title"], "Depuis un fichier")
        self.ok("patch", doc["id"], "@-", stdin='{"title": "Depuis stdin"}')
        self.assertEqual(self.get_doc(doc["id"])["title"], "Depuis stdin")
        with self.assertNoWrite(doc["id"]):
            run = self.assertExit(self.ctl("patch", doc["id"], '{"status": "signed"}'), 1)
        self.assertIn("422 validation_failed", run.err)
        self.assertIn("/status", run.err)
        run = self.assertExit(self.ctl("patch", new_id("nobody"), "{}"), 1)
        self.assertIn("404", run.err)

    def test_delete_and_history(self):
        doc = self.create(convention(id=new_id("del")))
        self.ok("patch", doc["id"], '{"status": "monitoring"}')
        with self.assertNoWrite(doc["id"]):
            run = self.assertExit(self.ctl("delete", doc["id"], "--rev", "1"), 1)
        self.assertIn("412", run.err)
        run = self.ok("delete", doc["id"])
        self.assertEqual(run.out, "%s deleted: rev 3\n" % doc["id"])
        self.assertEqual(self.request("GET", conv_path(doc["id"])).status, 404)
        self.assertExit(self.ctl("delete", doc["id"]), 1)
        header, rows = self.table(self.ok("history", doc["id"]))
        self.assertEqual(header, ["REV", "AT", "ACTOR", "TYPE", "DEPARTMENT"])
        self.assertEqual([(r[0], r[2], r[3], r[4]) for r in rows],
                         [("1", "anonymous", "created", "29"), ("2", "anonymous", "updated", "29"),
                          ("3", "anonymous", "deleted", "29")])
        entries = self.ok("history", doc["id"], "--json").json_lines()
        self.assertEqual(entries, self.request("GET", conv_path(doc["id"], "history")).body["history"])
        other = self.create(convention(id=new_id("del")))
        run = self.ok("delete", other["id"], "--rev", "1", "--json")
        self.assertEqual(json.loads(run.out), {"id": other["id"], "rev": 2, "deleted": True})
        self.assertIn("404", self.assertExit(self.ctl("history", new_id("never")), 1).err)

    # -- changes ------------------------------------------------------------------------------

    def test_changes_one_json_event_per_line(self):
        seq = self.last_seq()
        a = self.create(convention(id=new_id("chg")))
        b = self.create(convention(id=new_id("chg"), department="49"))
        events = self.ok("changes", "--since", seq).json_lines()
        self.assertEqual([(e["seq"], e["id"]) for e in events], [(seq + 1, a["id"]), (seq + 2, b["id"])])
        self.assertEqual(events[0]["doc"], a)
        only49 = self.ok("changes", "--since", seq, "--department", "49").json_lines()
        self.assertEqual([e["id"] for e in only49], [b["id"]])
        self.assertEqual(len(self.ok("changes", "--since", seq, "--limit", "1").json_lines()), 1)

    # -- import ------------------------------------------------------------------------------

    def test_import_the_demo_folder(self):
        run = self.ok("import", FIXTURES)
        self.assertEqual(run.err, "", "quiet when stderr is not a terminal")
        self.assertRegex(run.out, r"^5 created, 0 updated, 0 refused in \d+\.\d s\n$")
        for name in sorted(os.listdir(FIXTURES)):
            with open(os.path.join(FIXTURES, name)) as f:
                doc = json.load(f)
            self.assertEqual(client_view(self.get_doc(doc["id"])), client_view(doc), name)
        # Again: every id exists and the files carry no rev, so the rev rule refuses each.
        run = self.assertExit(self.ctl("import", FIXTURES, "--json"), 1)
        summary = json.loads(run.out)
        self.assertEqual((summary["created"], summary["updated"], summary["refused"]), (0, 0, 5))
        for name in sorted(os.listdir(FIXTURES)):
            self.assertIn("%s/%s" % (FIXTURES, name), run.err)
        self.assertEqual(run.err.count("428 precondition_required"), 5, run)
        # One .json file alone.
        run = self.ok("import", self.tmpfile("one.json", json.dumps(convention(id=new_id("one")))))
        self.assertTrue(run.out.startswith("1 created"), run)

    def test_import_reports_each_refused_line(self):
        good = [convention(id=new_id("imp")) for _ in range(3)]
        existing = self.create(convention(id=new_id("imp")))
        lines = [
            json.dumps(good[0]),                                           # 1
            json.dumps(convention(id=new_id("imp"), status="signed")),     # 2: 422
            "",                                                            # 3: blank
            '{"id": "broken",',                                            # 4: 400
            json.dumps(good[1]),                                           # 5
            json.dumps(dict(convention(id=existing["id"], title="Mise à jour"), rev=1)),  # 6
            json.dumps(convention(id=new_id("imp"), champs=["inconnu"])),  # 7: 422
            "   ",                                                         # 8: blank
            json.dumps(good[2]),                                           # 9
        ]
        path = self.tmpfile("mixed.jsonl", "\n".join(lines) + "\n")
        run = self.assertExit(self.ctl("import", path), 1)
        self.assertEqual(run.out.split(" in ")[0], "3 created, 1 updated, 3 refused")
        refusals = [line for line in run.err.splitlines() if line.startswith("ctgctl: ")]
        self.assertEqual(len(refusals), 3, run)
        self.assertIn("%s:2 " % path, refusals[0])
        self.assertIn("422 validation_failed", refusals[0])
        self.assertIn("%s:4: refused 400 malformed_json" % path, refusals[1])
        self.assertIn("%s:7 " % path, refusals[2])
        self.assertIn("/champs/0", run.err)
        for doc in good:
            self.assertEqual(self.get_doc(doc["id"])["rev"], 1)
        self.assertEqual(self.get_doc(existing["id"])["title"], "Mise à jour")
        # JSON lines from stdin.
        doc = convention(id=new_id("imp"))
        run = self.ok("import", "-", "--json", stdin=json.dumps(doc) + "\n")
        self.assertEqual(json.loads(run.out)["created"], 1)

    # -- export ------------------------------------------------------------------------------

    def test_export_a_department_as_json_lines(self):
        ids = sorted(self.create(minimal_convention(department="2B", id=new_id("exp")))["id"]
                     for _ in range(4))
        self.ok("patch", ids[1], '{"title": "Modifiée"}')
        run = self.ok("export", "--department", "2B")
        docs = run.json_lines()
        self.assertEqual([d["id"] for d in docs], ids)
        self.assertEqual(docs, [self.get_doc(i) for i in ids])
        self.assertEqual(docs[1]["rev"], 2)
        output = self.tmpfile("2B.jsonl")
        run = self.ok("export", "--department", "2B", "--output", output)
        self.assertEqual(run.out, "")
        with open(output) as f:
            self.assertEqual([json.loads(line) for line in f], docs)
        self.assertEqual(self.ok("export", "--department", "2A").out, "")
        run = self.assertExit(self.ctl("export", "--department", "XX", "--output", output), 1)
        self.assertIn("bad_parameter", run.err)
        with open(output) as f:
            self.assertEqual(len(f.readlines()), 4, "a failed export left the file alone")

    def test_export_by_key_and_report_are_the_bytes_of_the_http_answer(self):
        doc = self.create(convention(id=new_id("key")))
        for key in ("synthese", "actions.csv", "rapport"):
            want = self.request("GET", conv_path(doc["id"], "exports", key))
            self.assertEqual(want.status, 200)
            output = self.tmpfile(key)
            run = self.ok("export", doc["id"], key, "--output", output)
            self.assertEqual(run.out, "")
            with open(output, "rb") as f:
                self.assertEqual(f.read(), want.body, key)
            self.assertFalse(os.path.exists(output + ".part"))
        want = self.request("GET", "/v1/departments/29/reports/conventions.csv")
        output = self.tmpfile("conventions.csv")
        self.ok("export", "--department", "29", "--report", "conventions.csv", "--output", output)
        with open(output, "rb") as f:
            self.assertEqual(f.read(), want.body)
        to_stdout = subprocess.run([ctgctl_binary(), "--url", self.server.url, "export",
                                    doc["id"], "synthese"], stdout=subprocess.PIPE, check=True)
        self.assertEqual(to_stdout.stdout,
                         self.request("GET", conv_path(doc["id"], "exports", "synthese")).body)
        run = self.assertExit(self.ctl("export", doc["id"], "nope", "--output", output), 1)
        self.assertIn("404", run.err)
        with open(output, "rb") as f:
            self.assertEqual(f.read(), want.body, "a refused export left the file alone")
        header, rows = self.table(self.ok("export", doc["id"]))
        self.assertEqual(header[:3], ["KEY", "LABEL", "CONTENT_TYPE"])
        self.assertIn("synthese", [r[0] for r in rows])
        keys = [e["key"] for e in self.ok("export", doc["id"], "--json").json_lines()]
        self.assertIn("actions.csv", keys)


# --------------------------------------------------------------------------------------------
# Bulk: 10 000 lines, the progress bar
# --------------------------------------------------------------------------------------------

class ImportTests(CtgctlCase):

    def generate(self, count, prefix):
        path = self.tmpfile("%s.jsonl" % prefix)
        with open(path, "w") as f:
            subprocess.run([sys.executable, GENERATOR, str(count), "--prefix", prefix],
                           stdout=f, check=True)
        return path

    def test_import_10000_lines_then_export_a_department(self):
        path = self.generate(10000, "tenk")
        start = time.monotonic()
        run = self.ok("import", path, "--json")
        took = time.monotonic() - start
        sys.stderr.write("\n    ctgctl import of 10000 lines (%.1f MB): %.2f s, %.0f docs/s\n"
                         % (os.path.getsize(path) / 1e6, took, 10000 / took))
        self.assertEqual(run.err, "")
        summary = json.loads(run.out)
        self.assertEqual((summary["created"], summary["updated"], summary["refused"]),
                         (10000, 0, 0))
        self.assertLess(took, 60, "10 000 conventions should take seconds")
        self.assertEqual(self.health()["conventions"], 10000)
        self.assertEqual(self.get_doc("tenk-9999")["rev"], 1)
        # gen_conventions.py puts one in five in department 29: 2000, more than a page of 1000.
        output = self.tmpfile("29.jsonl")
        start = time.monotonic()
        self.ok("export", "--department", "29", "--output", output)
        took = time.monotonic() - start
        with open(output) as f:
            ids = [json.loads(line)["id"] for line in f]
        sys.stderr.write("    ctgctl export of department 29 (2000 conventions): %.2f s\n" % took)
        self.assertEqual(len(ids), 2000)
        self.assertEqual(ids, sorted(ids))
        self.assertEqual(len(set(ids)), 2000)
        listed = self.ok("list", "--department", "29", "--all", "--json").json_lines()
        self.assertEqual([i["id"] for i in listed], ids)

    def test_progress_bar_on_a_terminal_only(self):
        path = self.generate(2500, "pty")
        master, slave = pty.openpty()
        try:
            proc = subprocess.Popen([ctgctl_binary(), "--url", self.server.url, "import", path],
                                    stdout=subprocess.PIPE, stderr=slave)
            os.close(slave)
            shown = b""
            while True:
                ready, _, _ = select.select([master], [], [], RUN_TIMEOUT)
                if not ready:
                    break
                try:
                    chunk = os.read(master, 4096)
                except OSError:   # EIO: the terminal's other side is closed
                    break
                if not chunk:
                    break
                shown += chunk
            out, _ = proc.communicate(timeout=RUN_TIMEOUT)
        finally:
            os.close(master)
        self.assertEqual(proc.returncode, 0, shown)
        self.assertTrue(out.decode().startswith("2500 created"), out)
        text = shown.decode("utf-8", errors="replace")
        self.assertIn("100%", text)
        self.assertIn("2500 docs", text)
        self.assertRegex(text, r"\d+ docs/s")
        self.assertRegex(text, r"ETA \d+s|done")
        self.assertIn("[", text)


class SmallBulkTests(CtgctlCase):
    """A ctgd whose limits.bulk_max is 64 KiB: ctgctl's requests of 1000 lines are too large."""

    server_kwargs = {"extra_lines": ["limits = { body_max = 1048576, bulk_max = 65536 }"]}

    def test_a_request_too_large_is_sent_again_in_halves(self):
        ids = [new_id("half") for _ in range(150)]   # about 2.6 KB each: 390 KB in all
        path = self.tmpfile("half.jsonl", "".join(json.dumps(convention(id=i)) + "\n"
                                                  for i in ids))
        run = self.ok("import", path, "--json")
        self.assertEqual(json.loads(run.out)["created"], 150)
        self.assertEqual(run.err, "")
        self.assertEqual(self.get_doc(ids[-1])["rev"], 1)

    def test_a_line_too_large_alone_is_refused_with_its_line(self):
        big = convention(id=new_id("big"), extra={"notes": "x" * 70000})
        small = convention(id=new_id("small"))
        path = self.tmpfile("big.jsonl", json.dumps(small) + "\n" + json.dumps(big) + "\n")
        run = self.assertExit(self.ctl("import", path), 1)
        self.assertIn("%s:2: refused 413 body_too_large" % path, run.err)
        self.assertTrue(run.out.startswith("1 created, 0 updated, 1 refused"), run)
        self.assertEqual(self.get_doc(small["id"])["rev"], 1)


# --------------------------------------------------------------------------------------------
# Tokens: CTG_TOKEN / --token, reload
# --------------------------------------------------------------------------------------------

class TokenTests(CtgctlCase):
    """A ctgd with tokens and a copy of the plugins (so that a test may break one)."""

    @classmethod
    def setUpClass(cls):
        cls.plugin_dir = tempfile.mkdtemp(prefix="ctgctl-plugins-")
        for name in os.listdir(os.path.join(repo_root(), "plugins")):
            if name.endswith(".lua"):
                shutil.copy(os.path.join(repo_root(), "plugins", name), cls.plugin_dir)
        cls.server_kwargs = {"tokens": lambda: list(standard_tokens().values()),
                             "extra_lines": ['plugins = { "%s" }' % cls.plugin_dir]}
        super().setUpClass()
        cls.addClassCleanup(shutil.rmtree, cls.plugin_dir, ignore_errors=True)

    def test_the_token_comes_from_ctg_token_or_the_option(self):
        doc = self.create(convention(id=new_id("tok")))
        run = self.assertExit(self.ctl("get", doc["id"]), 1)
        self.assertIn("401 unauthorized", run.err)
        self.assertEqual(json.loads(self.ok("get", doc["id"], token=self.server.token("rd29")).out),
                         doc)
        self.ok("--token", self.server.token("admin"), "get", doc["id"])
        run = self.assertExit(self.ctl("get", doc["id"], token=self.server.token("ed49")), 1)
        self.assertIn("403 forbidden", run.err)
        # The option wins over the environment.
        self.assertExit(self.ctl("--token", "wrong", "get", doc["id"],
                                 token=self.server.token("admin")), 1)

    def test_rights_apply_to_writes_and_imports(self):
        doc = self.create(convention(id=new_id("tok")))
        run = self.assertExit(self.ctl("delete", doc["id"], "--rev", "1",
                                       token=self.server.token("ed49")), 1)
        self.assertIn("403", run.err)
        path = self.tmpfile("r.jsonl", json.dumps(convention(id=new_id("tok"))) + "\n")
        # A reader may not write at all: the server refuses the whole request.
        run = self.assertExit(self.ctl("import", path, token=self.server.token("rd29")), 1)
        self.assertIn("import stopped: the server answered 403 forbidden", run.err)
        self.assertEqual(run.out, "")
        # An editor of other departments: refused line by line.
        run = self.assertExit(self.ctl("import", path, token=self.server.token("ed49")), 1)
        self.assertIn("%s:1 (" % path, run.err)
        self.assertIn("403 forbidden", run.err)
        self.assertTrue(run.out.startswith("0 created, 0 updated, 1 refused"), run)
        self.ok("import", path, token=self.server.token("ed29"))

    def test_reload_as_admin_gives_a_new_generation(self):
        before = self.health()["plugin_generation"]
        run = self.ok("reload", token=self.server.token("admin"))
        self.assertRegex(run.out, r"^plugins reloaded: generation %d, \d+ plugins\n$" % (before + 1))
        answer = self.ok("reload", "--json", token=self.server.token("admin")).json_lines()[0]
        self.assertEqual(answer["generation"], before + 2)
        self.assertEqual(self.health()["plugin_generation"], before + 2)

    def test_reload_is_refused_to_others(self):
        before = self.health()["plugin_generation"]
        for name in ("ed29", "rd29"):
            run = self.assertExit(self.ctl("reload", token=self.server.token(name)), 1)
            self.assertIn("403 forbidden", run.err)
            self.assertIn("admin", run.err)
        self.assertIn("401", self.assertExit(self.ctl("reload"), 1).err)
        self.assertEqual(self.health()["plugin_generation"], before)

    def test_reload_of_a_broken_plugin_names_the_file_and_line(self):
        path = os.path.join(self.plugin_dir, "88-vosges.lua")
        with open(path) as f:
            original = f.read()

        def restore():
            with open(path, "w") as f:
                f.write(original)
        self.addCleanup(restore)
        with open(path, "w") as f:
            f.write("local x = 1\nlocal y = = 2\n")
        before = self.health()["plugin_generation"]
        run = self.assertExit(self.ctl("reload", token=self.server.token("admin")), 1)
        self.assertIn("422 plugin_load_failed", run.err)
        self.assertIn("88-vosges.lua:2", run.err)
        self.assertEqual(self.health()["plugin_generation"], before)
        restore()
        self.ok("reload", token=self.server.token("admin"))


if __name__ == "__main__":
    main()
