#!/usr/bin/env python3
"""
test_group_commit.py — writes that arrive together share one transaction and one sync
(core/write_queue.c), and nothing of what a single write promises changes:

  * sixteen clients writing at once: every write answered 2xx is stored at its rev, and the
    store committed fewer transactions (ctgd_store_commits_total) than it took writes;
  * the rev rule inside a batch: two writes naming the same rev, sent together, give one
    success and one 412, never two successes;
  * a refused write in a batch refuses only itself.

    python3 tests/integration/test_group_commit.py --ctgd build/ctgd
"""

import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ctgd_harness import (CtgdTestCase, conv_path, convention, main, metric_sum,  # noqa: E402
                          new_id)

CLIENTS = 16
WRITES_EACH = 25


def together(functions):
    """Runs the functions in threads released at the same moment; their results, in order."""
    barrier = threading.Barrier(len(functions))
    results = [None] * len(functions)

    def run(i, fn):
        barrier.wait()
        results[i] = fn()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(functions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


class GroupCommitTests(CtgdTestCase):

    def commits(self):
        return metric_sum(self.request("GET", "/v1/metrics").body.decode(),
                          "ctgd_store_commits_total")

    def test_concurrent_writes_share_syncs_and_all_are_stored(self):
        before = self.commits()

        def client():
            done = []
            for _ in range(WRITES_EACH):
                doc = convention("29", id=new_id("gc"))
                r = self.request("POST", "/v1/conventions", doc)
                self.assertEqual(r.status, 201, r.body)
                done.append((doc["id"], r.body["rev"], r.body["title"]))
            return done

        acknowledged = [w for part in together([client] * CLIENTS) for w in part]
        self.assertEqual(len(acknowledged), CLIENTS * WRITES_EACH)
        used = self.commits() - before
        self.assertGreater(used, 0, "ctgd_store_commits_total did not count the commits")
        self.assertLess(used, len(acknowledged), "no two writes shared a commit")
        for doc_id, rev, title in acknowledged:
            r = self.request("GET", conv_path(doc_id))
            self.assertEqual((r.status, r.body["rev"], r.body["title"]), (200, rev, title))
        self.assertStoreSound()
        print("\n%d writes in %d commits" % (len(acknowledged), used), file=sys.stderr)

    def test_the_rev_rule_holds_inside_a_batch(self):
        for _ in range(10):
            doc = self.create(convention("29", id=new_id("rev")))
            path = conv_path(doc["id"])

            def put(title):
                return lambda: self.request("PUT", path, dict(doc, title=title),
                                            headers={"If-Match": '"1"'}).status

            statuses = sorted(together([put("premier"), put("second")]))
            self.assertEqual(statuses, [200, 412])
            self.assertEqual(self.request("GET", path).body["rev"], 2)

    def test_a_refused_write_refuses_only_itself(self):
        good = [lambda: self.request("POST", "/v1/conventions", convention("29")).status
                for _ in range(6)]
        bad = [lambda: self.request("POST", "/v1/conventions",
                                    convention("29", status="unknown")).status
               for _ in range(6)]
        statuses = together(good + bad)
        self.assertEqual(statuses[:6], [201] * 6)
        self.assertEqual(statuses[6:], [422] * 6)


if __name__ == "__main__":
    main()
