#!/usr/bin/env python3
"""
test_crash.py — nothing acknowledged is lost when ctgd is killed (SIGKILL) at random moments.

Every round starts ctgd on the data folder the previous rounds left, runs concurrent writers
(creates, PUTs with If-Match, merge patches and action patches, deletions, re-creations, bulk
lines, and If-Match races on one shared convention) that record every acknowledged (2xx)
answer, and kills ctgd with SIGKILL after a random delay. Then:

  * `ctgd --verify` finds the store the crash left sound;
  * ctgd starts again, and every write ever acknowledged is there at its acknowledged rev:
    GET revisions/{rev} is the acknowledged document (a deletion: the history says `deleted`
    at that rev), and the change log has it. A write whose answer the kill cut off may have
    committed or not: so an id may be past its last acknowledged rev, never before it, and the
    revisions it had stay what they were ("a rev names one document");
  * the change log is contiguous from seq 1, and each entry of the round is either an
    acknowledged write or one of the requests in flight at the kill (at most one per writer;
    its lines for a bulk): a write refused with 412 (a lost If-Match race) left nothing;
  * the live document of each id is the document of its last change.

    CTG_CRASH_ROUNDS=8 CTG_CRASH_SEED=1 python3 tests/integration/test_crash.py --ctgd build/ctgd

CTG_CRASH_ROUNDS (default 8) sets the rounds; CTG_CRASH_SEED fixes the random choices (not
the threads' timing). The test prints the rounds survived and the acknowledged writes checked.
"""

import http.client
import json
import os
import random
import sys
import threading
import time
from collections import namedtuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ctgd_harness import (CtgdTestCase, Server, client_view, conv_path,  # noqa: E402
                          convention, if_match, main)

ROUNDS = int(os.environ.get("CTG_CRASH_ROUNDS", "8"))
WRITERS = 4
KILL_AFTER = (0.1, 1.0)   # seconds after the first acknowledged write of a round
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
NDJSON = {"Content-Type": "application/x-ndjson"}
DEPARTMENTS = ("29", "49", "15")
STATUSES = ("preparation", "diagnostic", "action_plan", "monitoring", "evaluation")
HOT_ID = "crash-hot"      # the convention every writer races on with If-Match

# One acknowledged write: the rev it made and the document it stored (None for a deletion).
# `client_only`: the answer did not carry the document (bulk), so only its client-set keys
# are known.
Ack = namedtuple("Ack", "id rev doc client_only")


def later_status(rng, status):
    """The same status or the next one: the national plugin lets a status advance by one step."""
    i = STATUSES.index(status)
    return STATUSES[min(i + rng.randrange(2), len(STATUSES) - 1)]


class Writer(threading.Thread):
    """
    One client writing as fast as ctgd answers, on ids of its own (so that it knows their rev)
    and on HOT_ID. Every 2xx answer is an Ack; the request that got no answer (the kill) is
    `in_flight`: the ids it touched and how many writes it held.
    """

    def __init__(self, server, number, round_number, state, rng, stop):
        super().__init__(daemon=True, name="writer-%d" % number)
        self.server = server
        self.number = number
        self.round_number = round_number
        self.state = state            # id -> (rev, doc or None when deleted); its own ids
        self.rng = rng
        self.stop = stop
        self.acks = []
        self.conflicts = 0            # 412 on HOT_ID: another writer got there first
        self.in_flight = None         # (ids, number of writes) of the unanswered request
        self.error = None
        self.made = 0

    # -- requests -----------------------------------------------------------------------------

    def send(self, ids, writes, expect, method, path, body=None, headers=None, raw=None):
        """
        One request that must answer a status of `expect`; None when it got no answer (ctgd
        was killed), which ends the writer.
        """
        self.in_flight = (set(ids), writes)
        try:
            r = self.server.request(method, path, body, headers=headers, raw=raw, timeout=20)
        except (OSError, http.client.HTTPException):
            return None
        self.in_flight = None
        if r.status not in expect:
            raise AssertionError("%s %s -> %d, want one of %r: %r"
                                 % (method, path, r.status, expect, r.body))
        return r

    def ack(self, conv_id, rev, doc, client_only=False):
        self.acks.append(Ack(conv_id, rev, doc, client_only))
        self.state[conv_id] = (rev, doc)

    # -- the writes ---------------------------------------------------------------------------

    def new_doc(self, conv_id):
        return convention(id=conv_id, department=self.rng.choice(DEPARTMENTS),
                          status=self.rng.choice(STATUSES),
                          title="CTG %s, écrite par %s" % (conv_id, self.name))

    def new_id(self):
        self.made += 1
        return "crash-w%d-r%d-%04d" % (self.number, self.round_number, self.made)

    def live_ids(self):
        return [i for i, (_, doc) in self.state.items() if doc is not None]

    def create(self):
        conv_id = self.new_id()
        r = self.send([conv_id], 1, (201,), "POST", "/v1/conventions", self.new_doc(conv_id))
        if r is not None:
            self.ack(conv_id, r.body["rev"], r.body)
        return r

    def recreate(self, conv_id):
        """PUT without a rev on a deleted id: created again, its rev going on."""
        r = self.send([conv_id], 1, (201,), "PUT", conv_path(conv_id), self.new_doc(conv_id))
        if r is not None:
            self.ack(conv_id, r.body["rev"], r.body)
        return r

    def replace(self, conv_id):
        rev, doc = self.state[conv_id]
        body = dict(client_view(doc), title="%s (v%d)" % (doc["title"].split(" (v")[0], rev + 1),
                    status=later_status(self.rng, doc["status"]))
        r = self.send([conv_id], 1, (200,), "PUT", conv_path(conv_id), body,
                      headers=if_match(rev))
        if r is not None:
            self.ack(conv_id, r.body["rev"], r.body)
        return r

    def patch_action(self, conv_id):
        rev, _ = self.state[conv_id]
        patch = {"progress": self.rng.randrange(101), "status": "in_progress"}
        r = self.send([conv_id], 1, (200,), "PATCH", conv_path(conv_id, "actions", "act-1"),
                      patch, headers=if_match(rev, **MERGE_PATCH))
        if r is not None:
            self.ack(conv_id, r.body["rev"], r.body)
        return r

    def delete(self, conv_id):
        rev, _ = self.state[conv_id]
        r = self.send([conv_id], 1, (200,), "DELETE", conv_path(conv_id), headers=if_match(rev))
        if r is not None:
            self.ack(conv_id, r.body["rev"], None)
        return r

    def bulk(self):
        """A few new ids and a replacement of one of ours, in one request."""
        docs = [self.new_doc(self.new_id()) for _ in range(self.rng.randrange(1, 4))]
        want = [201] * len(docs)
        live = self.live_ids()
        if live:
            conv_id = self.rng.choice(live)
            rev, doc = self.state[conv_id]
            docs.append(dict(client_view(doc), rev=rev,
                             status=later_status(self.rng, doc["status"])))
            want.append(200)
        raw = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs).encode()
        r = self.send([d["id"] for d in docs], len(docs), (200,), "POST",
                      "/v1/conventions/_bulk", raw=raw, headers=NDJSON)
        if r is not None:
            results = r.body["results"]
            if [x["status"] for x in results] != want:
                raise AssertionError("bulk lines refused: %r" % results)
            for doc, result in zip(docs, results):
                stored = dict(client_view(doc), rev=result["rev"])
                self.ack(result["id"], result["rev"], stored, client_only=True)
        return r

    def race_hot(self):
        """Reads HOT_ID and patches it with If-Match: the other writers race for the same rev."""
        try:
            current = self.server.request("GET", conv_path(HOT_ID), timeout=20)
        except (OSError, http.client.HTTPException):
            return None
        rev = current.body["rev"]
        r = self.send([HOT_ID], 1, (200, 412), "PATCH", conv_path(HOT_ID),
                      {"title": "Convention disputée, par %s à la rev %d" % (self.name, rev + 1)},
                      headers=if_match(rev, **MERGE_PATCH))
        if r is not None and r.status == 200:
            self.acks.append(Ack(HOT_ID, r.body["rev"], r.body, False))
        elif r is not None:
            self.conflicts += 1
        return r

    def one_write(self):
        live = self.live_ids()
        deleted = [i for i, (_, doc) in self.state.items() if doc is None]
        roll = self.rng.random()
        if not live or roll < 0.25:
            return self.create()
        if roll < 0.45:
            return self.replace(self.rng.choice(live))
        if roll < 0.65:
            return self.patch_action(self.rng.choice(live))
        if roll < 0.75:
            return self.delete(self.rng.choice(live))
        if roll < 0.80 and deleted:
            return self.recreate(self.rng.choice(deleted))
        if roll < 0.90:
            return self.bulk()
        return self.race_hot()

    def run(self):
        try:
            while not self.stop.is_set():
                if self.one_write() is None:
                    return
        except Exception as e:      # reported by the test, which joins every writer
            self.error = e


class CrashTests(CtgdTestCase):
    start_class_server = False

    def setUp(self):
        seed = int(os.environ.get("CTG_CRASH_SEED", str(random.randrange(1 << 30))))
        print("\ntest_crash: seed %d (CTG_CRASH_SEED), %d rounds (CTG_CRASH_ROUNDS)"
              % (seed, ROUNDS), flush=True)
        self.rng = random.Random(seed)
        # A small first map, so that crashes also fall around the growing of the map.
        self.server = Server(label="ctgd killed with SIGKILL",
                             extra_lines=("map_size = 1 * 1024 * 1024",
                                          "map_size_max = 1024 * 1024 * 1024"))
        self.addCleanup(self.server.cleanup)
        self.states = [{} for _ in range(WRITERS)]   # each writer's ids, kept across rounds
        self.acks = []                               # every acknowledged write, every round

    # -- one round ----------------------------------------------------------------------------

    def run_writers_and_kill(self, round_number):
        """Writers until a SIGKILL at a random moment; returns them, ended."""
        stop = threading.Event()
        writers = [Writer(self.server, n, round_number, self.states[n],
                          random.Random(self.rng.random()), stop) for n in range(WRITERS)]
        for w in writers:
            w.start()
        deadline = time.monotonic() + 10
        while not any(w.acks for w in writers) and time.monotonic() < deadline:
            time.sleep(0.005)
        # In half the rounds the checker reads its snapshot while the writes go on, and while
        # the kill falls.
        checks = []
        checker = threading.Thread(target=lambda: checks.append(self.server.verify()),
                                   daemon=True)
        beside = self.rng.random() < 0.5
        if beside:
            checker.start()
        time.sleep(self.rng.uniform(*KILL_AFTER))
        self.server.crash()
        stop.set()
        for w in writers:
            w.join(30)
            self.assertFalse(w.is_alive(), "%s still runs after the kill" % w.name)
            if w.error:
                raise w.error
        if beside:
            checker.join(60)
            self.assertSoundReport(*checks[0])
        return writers

    def read_log(self):
        """The whole change log, asserting that its seqs are 1..last_seq."""
        changes = self.change_log()
        self.assertEqual([c["seq"] for c in changes], list(range(1, len(changes) + 1)),
                         "the change log is not contiguous from 1")
        self.assertEqual(len(changes), self.last_seq())
        return changes

    def check_acknowledged(self, log, last, round_acks):
        """Every acknowledged write is in the log at its rev, as acknowledged."""
        by_rev = {(c["id"], c["rev"]): c for c in log}
        for ack in self.acks:
            where = "acknowledged write %s rev %d" % (ack.id, ack.rev)
            entry = by_rev.get((ack.id, ack.rev))
            self.assertIsNotNone(entry, where + ": not in the change log")
            self.assertGreaterEqual(last[ack.id]["rev"], ack.rev, where)
            if ack.doc is None:
                self.assertEqual(entry["type"], "convention.deleted", where)
            elif ack.client_only:
                self.assertEqual(client_view(entry["doc"]), client_view(ack.doc), where)
            else:
                self.assertEqual(entry["doc"], ack.doc, where)
        # And through the revision routes, for this round's.
        for ack in round_acks:
            where = "acknowledged write %s rev %d" % (ack.id, ack.rev)
            r = self.request("GET", conv_path(ack.id, "revisions", ack.rev))
            if ack.doc is None:
                self.assertEqual(r.status, 404, where)
                history = self.request("GET", conv_path(ack.id, "history")).body["history"]
                self.assertIn({"rev": ack.rev, "type": "deleted"},
                              [{"rev": h["rev"], "type": h["type"]} for h in history], where)
            else:
                self.assertEqual(r.status, 200, where)
                got = client_view(r.body) if ack.client_only else r.body
                want = client_view(ack.doc) if ack.client_only else ack.doc
                self.assertEqual(got, want, where)
                self.assertEqual(r.body["rev"], ack.rev, where)

    def check_round_accounted(self, log, first_seq, writers):
        """The round's entries: its acknowledged writes, plus at most the requests in flight."""
        acked = {(a.id, a.rev) for w in writers for a in w.acks}
        extra = [c for c in log[first_seq - 1:] if (c["id"], c["rev"]) not in acked]
        in_flight = [w.in_flight for w in writers if w.in_flight]
        for ids, writes in in_flight:
            mine = [c for c in extra if c["id"] in ids]
            self.assertLessEqual(len(mine), writes, "more committed than was in flight: %r"
                                 % mine)
        allowed = set().union(*[ids for ids, _ in in_flight]) if in_flight else set()
        strays = [c for c in extra if c["id"] not in allowed]
        self.assertEqual(strays, [], "committed writes that no request in flight explains "
                         "(a refused write left something?)")
        self.assertEqual(len(acked), sum(len(w.acks) for w in writers), "a rev acknowledged twice")
        return len(extra)

    def check_live_documents(self, last, ids):
        """GET of each id answers the document of its last change (404 after a deletion)."""
        for conv_id in ids:
            r = self.request("GET", conv_path(conv_id))
            if last[conv_id]["type"] == "convention.deleted":
                self.assertEqual(r.status, 404, conv_id)
            else:
                self.assertEqual(r.status, 200, conv_id)
                self.assertEqual(r.body, last[conv_id]["doc"], conv_id)

    def resume_states(self, last):
        """
        After a crash, what each writer knows of its ids is what the store says (an unanswered
        write may have committed, a create among them).
        """
        for n, state in enumerate(self.states):
            for conv_id, c in last.items():
                if conv_id.startswith("crash-w%d-" % n):
                    state[conv_id] = (c["rev"], c.get("doc"))

    # -- the test -----------------------------------------------------------------------------

    def test_kill_9_loses_nothing_acknowledged(self):
        started = time.monotonic()
        self.server.start()
        hot = self.create(convention(id=HOT_ID, title="Convention disputée"))
        self.acks.append(Ack(HOT_ID, 1, hot, False))
        unacknowledged = 0
        for round_number in range(1, ROUNDS + 1):
            first_seq = self.last_seq() + 1
            writers = self.run_writers_and_kill(round_number)
            round_acks = [a for w in writers for a in w.acks]
            self.acks += round_acks
            self.assertGreater(len(round_acks), 0, "round %d acknowledged nothing" % round_number)
            self.assertStoreSound()                 # the store as the crash left it
            self.server.start()
            log = self.read_log()
            last = {c["id"]: c for c in log}       # the last change of each id
            self.check_acknowledged(log, last, round_acks)
            unanswered = self.check_round_accounted(log, first_seq, writers)
            unacknowledged += unanswered
            self.check_live_documents(last, {c["id"] for c in log[first_seq - 1:]})
            self.resume_states(last)
            print("test_crash: round %d: %d writes acknowledged, %d If-Match races lost (412), "
                  "%d committed without an answer; the log at seq %d"
                  % (round_number, len(round_acks), sum(w.conflicts for w in writers),
                     unanswered, len(log)), flush=True)
        self.assertStoreSound()
        self.server.stop()
        print("test_crash: %d rounds of kill -9 survived; %d acknowledged writes checked "
              "(%d more committed unanswered) in %.1f s"
              % (ROUNDS, len(self.acks), unacknowledged, time.monotonic() - started), flush=True)


if __name__ == "__main__":
    main()
