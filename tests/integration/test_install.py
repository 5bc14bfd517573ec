#!/usr/bin/env python3
"""
test_install.py — `cmake --install` puts the binaries, the configuration, the plugins, the
demo data, the docs and the systemd unit where they belong, and the installed pieces fit
together: the installed ctgd accepts the installed configuration and loads the installed
plugins.

    CTG_BUILD_DIR=build CTG_INSTALL_PLUGIN_DIR=/usr/local/share/ctgd/plugins \
        python3 tests/integration/test_install.py --ctgd build/ctgd
"""

import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ctgd_harness import main, repo_root  # noqa: E402


class InstallTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.build = os.environ.get("CTG_BUILD_DIR")
        cls.plugin_dir = os.environ.get("CTG_INSTALL_PLUGIN_DIR")
        if not cls.build or not cls.plugin_dir:
            raise unittest.SkipTest("CTG_BUILD_DIR and CTG_INSTALL_PLUGIN_DIR come from ctest")
        cls.tmp = tempfile.TemporaryDirectory(prefix="ctgd-install-")
        cls.prefix = cls.tmp.name
        subprocess.run(["cmake", "--install", cls.build, "--prefix", cls.prefix], check=True,
                       stdout=subprocess.DEVNULL)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, *parts):
        return os.path.join(self.prefix, *parts)

    def test_every_piece_is_in_its_place(self):
        for piece in (("bin", "ctgd"), ("bin", "ctgctl"), ("etc", "ctgd", "ctgd.conf"),
                      ("lib", "systemd", "system", "ctgd.service"),
                      ("share", "ctgd", "plugins", "00-cnaf.lua"),
                      ("share", "ctgd", "plugins", "README.md"),
                      ("share", "doc", "ctgd", "README.md"), ("share", "doc", "ctgd", "api.md"),
                      ("share", "doc", "ctgd", "openapi.yaml")):
            with self.subTest("/".join(piece)):
                self.assertTrue(os.path.isfile(self.path(*piece)))
        self.assertTrue(os.access(self.path("bin", "ctgd"), os.X_OK))
        shipped = sorted(f for f in os.listdir(os.path.join(repo_root(), "plugins"))
                         if f.endswith(".lua"))
        self.assertEqual(sorted(os.listdir(self.path("share", "ctgd", "plugins"))),
                         sorted(shipped + ["README.md"]))
        demo = sorted(os.listdir(os.path.join(repo_root(), "conf", "demo")))
        self.assertEqual(sorted(os.listdir(self.path("share", "ctgd", "demo"))), demo)

    def test_the_installed_configuration_loads_the_installed_plugins(self):
        with open(self.path("etc", "ctgd", "ctgd.conf")) as f:
            conf = f.read()
        self.assertIn('"%s"' % self.plugin_dir, conf)
        self.assertIn('data_dir = "/var/lib/ctgd"', conf)
        local = conf.replace(self.plugin_dir, self.path("share", "ctgd", "plugins"))
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
            f.write(local)
        self.addCleanup(os.unlink, f.name)
        r = subprocess.run([self.path("bin", "ctgd"), "--check", "-c", f.name],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("6 plugins", r.stdout)

    def test_the_unit_runs_the_installed_binary_hardened(self):
        with open(self.path("lib", "systemd", "system", "ctgd.service")) as f:
            unit = f.read()
        self.assertRegex(unit, r"\nExecStart=/\S+/bin/ctgd -c /\S+/ctgd/ctgd\.conf\n")
        self.assertIn("ExecReload=/bin/kill -HUP $MAINPID", unit)
        for setting in ("DynamicUser=yes", "StateDirectory=ctgd", "ProtectSystem=strict",
                        "NoNewPrivileges=yes", "CapabilityBoundingSet=\n"):
            self.assertIn(setting, unit)


if __name__ == "__main__":
    main()
