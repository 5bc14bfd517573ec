#!/usr/bin/env python3
"""
test_web.py — how ctgd serves the web dashboard (GET / and /ui/{file}, docs/api.md "Dashboard"):

  * every file of web/ is served, byte for byte, with its media type, an ETag (304 on
    If-None-Match), Cache-Control: no-cache, nosniff and a Content-Security-Policy;
  * no token is needed for them, even when the API needs one;
  * unknown names, paths outside web/ and deeper paths are JSON 404s;
  * the page's module graph is complete: every file that index.html or a script names exists;
  * what plugins render (exports, reports) is sent with a sandboxing policy.

    python3 tests/integration/test_web.py --ctgd build/ctgd
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ctgd_harness import (CtgdTestCase, convention, main, media_type,  # noqa: E402
                          repo_root, standard_tokens)

WEB = os.path.join(repo_root(), "web")
MEDIA_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css",
               ".svg": "image/svg+xml"}


def web_files():
    return sorted(f for f in os.listdir(WEB) if os.path.isfile(os.path.join(WEB, f)))


def read_web(name):
    with open(os.path.join(WEB, name), "rb") as f:
        return f.read()


def header(response, name):
    return {k.lower(): v for k, v in response.headers.items()}.get(name.lower())


class DashboardFilesTests(CtgdTestCase):
    """A ctgd with tokens: the dashboard's files answer without one."""

    server_kwargs = {"tokens": lambda: list(standard_tokens().values())}

    def assert_served(self, path, name):
        r = self.request("GET", path)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body, read_web(name), "%s is not web/%s: rebuild ctgd" % (path, name))
        self.assertEqual(media_type(r.headers), MEDIA_TYPES[os.path.splitext(name)[1]])
        self.assertEqual(header(r, "Cache-Control"), "no-cache")
        self.assertEqual(header(r, "X-Content-Type-Options"), "nosniff")
        policy = header(r, "Content-Security-Policy")
        self.assertIn("default-src 'self'", policy)
        self.assertIn("script-src 'self';", policy)
        self.assertIn("frame-ancestors 'none'", policy)
        return r

    def test_root_is_the_page(self):
        r = self.assert_served("/", "index.html")
        self.assertIn(b'<html lang="fr">', r.body)
        self.assert_served("/?utm_source=mail", "index.html")
        self.assertEqual(self.request("GET", "/v1/conventions").status, 401)

    def test_every_file_of_web_is_served(self):
        names = web_files()
        self.assertIn("app.js", names)
        for name in names:
            with self.subTest(file=name):
                self.assert_served("/ui/" + name, name)

    def test_etag_revalidation(self):
        r = self.request("GET", "/ui/app.js")
        etag = header(r, "ETag")
        self.assertRegex(etag, r'^"[0-9a-f]{16}"$')
        again = self.request("GET", "/ui/app.js", headers={"If-None-Match": etag})
        self.assertEqual((again.status, again.body), (304, b""))
        for listed in ("W/" + etag, '"0000000000000000", ' + etag, "*"):
            r = self.request("GET", "/ui/app.js", headers={"If-None-Match": listed})
            self.assertEqual(r.status, 304, listed)
        other = self.request("GET", "/ui/style.css", headers={"If-None-Match": etag})
        self.assertEqual(other.status, 200)
        self.assertNotEqual(header(other, "ETag"), etag)
        head = self.request("HEAD", "/")
        self.assertEqual((head.status, head.body), (200, b""))

    def test_unknown_and_outside_paths_are_json_404s(self):
        for path in ("/ui/nope.js", "/ui/..%2FCMakeLists.txt", "/ui/%2e%2e", "/ui/", "/ui",
                     "/ui/app.js/x", "/ui/app.js/", "/ui//app.js", "//", "/%2F", "/index.html",
                     "/ui/app.js%00"):
            with self.subTest(path=path):
                r = self.request("GET", path)
                self.assertIn(r.status, (400, 404), r.body)
                self.assertEqual(media_type(r.headers), "application/json")
        r = self.request("POST", "/", body={})
        self.assertEqual(r.status, 405, r.body)

    def test_every_file_the_page_names_exists(self):
        """index.html's /ui/ links and every script's imports name files of web/."""
        names = set(web_files())
        named = set(re.findall(r'/ui/([\w.-]+)', read_web("index.html").decode()))
        for script in (n for n in names if n.endswith(".js")):
            named |= set(re.findall(r"from '\./([\w.-]+)'", read_web(script).decode()))
        self.assertTrue({"app.js", "style.css"} <= named)
        self.assertEqual(named - names, set())
        # and no file of web/ is left unused
        self.assertEqual(names - named - {"index.html"}, set())


class RenderedContentTests(CtgdTestCase):
    """Exports and reports are sent with a policy that keeps scripts out."""

    def test_exports_and_reports_are_sandboxed(self):
        doc = self.create(convention("29"))
        for path in ("/v1/conventions/%s/exports/rapport" % doc["id"],
                     "/v1/departments/29/reports/tableau-de-bord"):
            with self.subTest(path=path):
                r = self.request("GET", path)
                self.assertEqual(r.status, 200, r.body)
                policy = header(r, "Content-Security-Policy")
                self.assertIn("default-src 'none'", policy)
                self.assertIn("sandbox", policy)
                self.assertEqual(header(r, "X-Content-Type-Options"), "nosniff")


if __name__ == "__main__":
    main()
