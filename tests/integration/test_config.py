#!/usr/bin/env python3
"""
test_config.py — `ctgd --check -c FILE` and the listen policy (SPEC §3 "Auth", §6): a token is
configured by its SHA-256 only, under one name, with a known role and "*" or a list of department
codes, and a refusal never repeats a secret; without tokens, only a loopback address is listened
on. (What the tokens then allow: test_access.py and test_auth.py.)

    python3 tests/integration/test_config.py --ctgd build/ctgd [unittest options]
"""

import os
import re
import secrets
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ctgd_harness import (SANITIZER_MARKS, CtgdTestCase, Server, config_text,  # noqa: E402
                          ctgd_binary, free_port, lua_string, main, standard_tokens)

CHECK_TIMEOUT = 10


class ConfigCheckTests(CtgdTestCase):
    start_class_server = False

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="ctgd-it-check-")
        self.addCleanup(self.dir.cleanup)
        self.data_dir = os.path.join(self.dir.name, "data")
        os.makedirs(self.data_dir)
        self.tokens = list(standard_tokens().values())

    def good_config(self, tokens=None, open_api=False, host="127.0.0.1"):
        return config_text("%s:%d" % (host, free_port()), self.data_dir,
                           None if open_api else (tokens or self.tokens),
                           events_bind="ipc://" + os.path.join(self.dir.name, "events.ipc"))

    def check(self, text, name="ctgd.conf"):
        """Runs `ctgd --check -c FILE`; returns (exit code, stdout + stderr)."""
        path = os.path.join(self.dir.name, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return self.check_path(path)

    def check_path(self, path):
        try:
            p = subprocess.run([ctgd_binary(), "--check", "-c", path], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=CHECK_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail("ctgd --check -c %s did not exit within %d s" % (path, CHECK_TIMEOUT))
        out = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
        for mark in SANITIZER_MARKS:
            self.assertNotIn(mark, out)
        return p.returncode, out

    def assertRefused(self, text, *patterns, name="ctgd.conf"):
        """The config is refused: exit code > 0 (not a crash) and the output matches patterns."""
        rc, out = self.check(text, name=name)
        self.assertGreater(rc, 0, "ctgd --check accepted (or crashed on) a bad config: rc %d, "
                                  "output %r\n--- config ---\n%s" % (rc, out, text))
        self.assertTrue(out.strip(), "ctgd --check refused a config without saying why")
        for pattern in patterns:
            self.assertRegex(out, re.compile(pattern, re.I))
        return out

    def test_good_config_passes(self):
        rc, out = self.check(self.good_config())
        self.assertEqual(rc, 0, out)

    def test_good_open_config_passes(self):
        rc, out = self.check(self.good_config(open_api=True))
        self.assertEqual(rc, 0, out)

    def test_lua_syntax_error(self):
        lines = self.good_config().splitlines()
        self.assertTrue(lines[3].startswith("map_size"))
        lines[3] = "map_size = 64 * * 1024"          # line 4 of the file
        out = self.assertRefused("\n".join(lines) + "\n", name="syntax.conf")
        self.assertRegex(out, r"(:4:|line 4\b)", "the message does not say which line")

    def test_unknown_key(self):
        text = self.good_config() + 'lisen = "127.0.0.1:8080"\n'
        self.assertRefused(text, r"\blisen\b")

    def test_unknown_role(self):
        self.tokens[1].role = "superuser"
        text = self.good_config()
        self.assertIn("superuser", text)
        self.assertRefused(text, r"superuser|\brole\b")

    def test_sha256_not_64_hex_digits(self):
        for label, bad in (("63 digits", "a" * 63), ("65 digits", "a" * 65),
                           ("not hex", "g" * 64), ("the token itself", "my-secret-token")):
            with self.subTest(label):
                text = self.good_config().replace(self.tokens[2].sha256, bad)
                self.assertIn(bad, text)
                self.assertRefused(text, r"sha256")

    def with_token_entry(self, token, entry):
        """The good configuration where the entry of `token` is `{ entry }` (Lua fields)."""
        text = self.good_config()
        [line] = [l for l in text.splitlines() if "name = %s," % lua_string(token.name) in l]
        return text.replace(line, "  { %s }," % entry)

    def test_a_plaintext_token_is_refused_and_not_repeated(self):
        t = self.tokens[1]
        t.secret = secrets.token_urlsafe(24)
        for label, field in (("token = the token", "token"), ("secret = the token", "secret"),
                             ("sha256 = the token", "sha256")):
            with self.subTest(label):
                entry = 'name = "ed29", %s = %s, role = "editor", departments = { "29" }' % (
                    field, lua_string(t.secret))
                out = self.assertRefused(self.with_token_entry(t, entry),
                                         r"tokens\[2\]\.(%s: unknown key|sha256: .*64 hex)" % field)
                self.assertNoPieceOf(t.secret, out)

    def test_a_token_name_or_hash_given_twice(self):
        self.tokens[2].name = self.tokens[1].name
        self.assertRefused(self.good_config(), r'tokens\[3\]\.name: "ed29" is used twice')
        self.tokens[2] = standard_tokens()["rd29"]
        self.tokens[2].secret = self.tokens[1].secret
        self.assertRefused(self.good_config(), r"tokens\[3\]\.sha256: .*tokens\[2\]")

    def test_departments_are_star_or_a_list_of_codes(self):
        t = self.tokens[2]
        for departments, pattern in (('"29"', r'departments: required, "\*" or a list'),
                                     ('"all"', r'departments: required, "\*" or a list'),
                                     ("42", r'departments: required, "\*" or a list'),
                                     ('{ "*" }', r'departments\[1\]: "\*" is not a department'),
                                     ('{ "29", "20" }', r'departments\[2\]: "20" is not a'),
                                     ("{ 29 }", r"departments\[1\]: must be a string"),
                                     ('{ "29", x = "49" }', r"departments: must be a list")):
            with self.subTest(departments):
                entry = 'name = "rd29", sha256 = "%s", role = "reader", departments = %s' % (
                    t.sha256, departments)
                self.assertRefused(self.with_token_entry(t, entry), r"tokens\[3\]\." + pattern)

    def test_without_tokens_only_a_loopback_listen_passes(self):
        for host in ("0.0.0.0", "192.168.1.10", "[::]", "ctgd.example.org"):
            with self.subTest(host):
                self.assertRefused(self.good_config(open_api=True, host=host),
                                   r": listen: no token is configured, so only a loopback")
        for host in ("127.0.0.1", "127.0.0.2", "[::1]", "localhost"):
            with self.subTest(host):
                rc, out = self.check(self.good_config(open_api=True, host=host))
                self.assertEqual(rc, 0, out)

    def test_missing_config_file(self):
        path = os.path.join(self.dir.name, "absent.conf")
        rc, out = self.check_path(path)
        self.assertGreater(rc, 0, out)
        self.assertIn("absent.conf", out)


class ListenPolicyTests(CtgdTestCase):
    start_class_server = False

    def test_open_api_refuses_a_non_loopback_listen(self):
        for host in ("0.0.0.0", "192.168.1.10", "[::]"):
            with self.subTest(host):
                server = Server(listen_host=host, label="open ctgd on " + host)
                self.addCleanup(server.cleanup)
                rc, out = server.run_until_exit()
                self.assertGreater(rc, 0, "ctgd without tokens started on %s (rc %s)\n%s"
                                   % (host, rc, out))
                self.assertIn("loopback", out.lower())
                for mark in SANITIZER_MARKS:
                    self.assertNotIn(mark, out)

    def test_with_tokens_a_non_loopback_listen_is_allowed(self):
        server = Server(listen_host="0.0.0.0", tokens=list(standard_tokens().values()),
                        label="ctgd with tokens on 0.0.0.0")
        self.addCleanup(server.cleanup)
        server.start()                 # polls 127.0.0.1:<port>/v1/health
        self.addCleanup(server.stop)
        r = server.request("GET", "/v1/health")
        self.assertEqual(r.status, 200, r.body)


if __name__ == "__main__":
    main()
