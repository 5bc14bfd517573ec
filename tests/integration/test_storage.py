#!/usr/bin/env python3
"""
test_storage.py — a store that cannot grow: writes get 507 with the JSON error of SPEC §3,
nothing of a refused write is stored (not the document, its revision, its index entries nor a
change-log entry: `ctgd --verify` finds the store sound), an update or a bulk batch that does
not fit is refused whole, reads go on, and everything acknowledged survives a restart. Also: a
map allowed to grow takes the same writes.

    python3 tests/integration/test_storage.py --ctgd build/ctgd
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ctgd_harness import (CtgdTestCase, client_view, conv_path, convention,  # noqa: E402
                          main)

MiB = 1024 * 1024
FILLER = "x" * 200_000   # a big `extra` value: a few writes fill a 1 MiB map
NDJSON = {"Content-Type": "application/x-ndjson"}


def big_convention(n):
    return convention(id="full-%03d" % n, extra={"notes": FILLER})


class FullStoreTestCase(CtgdTestCase):
    """A server whose map is 1 MiB and may not grow."""
    server_kwargs = {"extra_lines": ("map_size = 1 * 1024 * 1024", "map_size_max = 1 * 1024 * 1024")}

    def fill_until_full(self):
        """Writes big documents until one is refused; returns (acknowledged docs, refusal)."""
        acknowledged = []
        for n in range(100):
            r = self.request("POST", "/v1/conventions", big_convention(n))
            if r.status != 201:
                return acknowledged, (n, r)
            acknowledged.append(r.body)
        self.fail("100 writes of 200 kB fit in a 1 MiB map that may not grow")

    def assertAcknowledgedSurviveRestart(self, acknowledged, last_seq):
        """Stopped and started again: the same seq, every acknowledged doc as it was, sound."""
        self.server.stop()
        self.assertStoreSound()
        self.server.start()
        self.assertEqual(self.last_seq(), last_seq)
        for doc in acknowledged:
            self.assertEqual(self.get_doc(doc["id"]), doc)
        self.assertStoreSound()


class FullStoreTests(FullStoreTestCase):

    def test_full_map_is_507_and_nothing_half_written(self):
        acknowledged, (n, refusal) = self.fill_until_full()
        self.assertGreater(len(acknowledged), 0)
        self.assertError(refusal, 507, "storage_full")
        seq_after_refusal = self.last_seq()
        self.assertEqual(seq_after_refusal, len(acknowledged))
        self.assertEqual(self.request("GET", conv_path("full-%03d" % n)).status, 404)
        self.assertEqual(self.request("GET", conv_path("full-%03d" % n, "history")).status, 404)
        self.assertNotIn("full-%03d" % n, [c["id"] for c in self.change_log()])
        self.assertStoreSound()

        # Small writes may still fit, reads go on, and the server stays healthy.
        for doc in acknowledged:
            self.assertEqual(self.get_doc(doc["id"])["rev"], 1)
        metrics = self.request("GET", "/v1/metrics").body.decode()
        self.assertIn('ctgd_write_errors_total{reason="storage_full"}', metrics)

        # Everything acknowledged is there after a restart, at its rev, with the same seq.
        self.assertAcknowledgedSurviveRestart(acknowledged, seq_after_refusal)


class FullStoreRefusalTests(FullStoreTestCase):

    def test_an_update_and_a_bulk_batch_that_do_not_fit_are_refused_whole(self):
        acknowledged, _ = self.fill_until_full()
        target = acknowledged[0]
        seq = self.last_seq()
        # An update that needs more room: the document, its history and its indexes stay.
        bigger = dict(client_view(target), status="monitoring", extra={"notes": FILLER * 2})
        r = self.request("PUT", conv_path(target["id"]), bigger, headers={"If-Match": '"1"'})
        self.assertError(r, 507, "storage_full")
        self.assertEqual(self.get_doc(target["id"]), target)
        self.assertEqual(len(self.request("GET", conv_path(target["id"], "history"))
                             .body["history"]), 1)
        self.assertEqual(self.request("GET", "/v1/conventions?status=monitoring").body["items"], [])
        # A batch of a small line (it would fit alone) and a big one: one transaction, refused.
        small, big = convention(id="bulk-small"), big_convention(900)
        body = "".join(json.dumps(d) + "\n" for d in (small, big)).encode()
        r = self.request("POST", "/v1/conventions/_bulk", raw=body, headers=NDJSON)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual([x["status"] for x in r.body["results"]], [507, 507], r.body)
        self.assertEqual([x["error"]["code"] for x in r.body["results"]], ["storage_full"] * 2)
        for conv_id in (small["id"], big["id"]):
            self.assertEqual(self.request("GET", conv_path(conv_id)).status, 404)
        self.assertEqual(self.last_seq(), seq)
        self.assertStoreSound()
        self.assertAcknowledgedSurviveRestart(acknowledged, seq)


class GrowingStoreTests(CtgdTestCase):
    server_kwargs = {"extra_lines": ("map_size = 1 * 1024 * 1024", "map_size_max = 64 * 1024 * 1024")}

    def test_the_map_grows_to_take_the_writes(self):
        for n in range(20):   # about 4 MB in a map that starts at 1 MiB
            r = self.request("POST", "/v1/conventions", big_convention(n))
            self.assertEqual(r.status, 201, r.body)
        metrics = self.request("GET", "/v1/metrics").body.decode()
        map_size = [line for line in metrics.splitlines()
                    if line.startswith("ctgd_store_map_size_bytes ")]
        self.assertEqual(len(map_size), 1)
        self.assertGreater(int(map_size[0].split()[1]), 1 * MiB)
        self.assertEqual(self.last_seq(), 20)
        self.assertStoreSound()


if __name__ == "__main__":
    main()
