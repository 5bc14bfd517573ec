"""
event_clients.py — the subscribers of ctgd's change events that the integration tests run as
child processes, their stdout read line by line by a thread:

  * `Subscriber`: tests/tools/ctg_sub, a raw nanomsg SUB socket (one line per message);
  * `Watch`: `ctgctl watch`, the reference subscriber that fills gaps from /v1/changes (one JSON
    event per line).

Python 3 standard library only.
"""

import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections import namedtuple

from ctgd_harness import SANITIZER_MARKS, ctg_sub_binary, ctgctl_binary

WAIT = 10.0               # default deadline of the waits (they end as soon as they can)
HEARTBEAT_TOPIC = "ctg._heartbeat"


class LineProcess:
    """
    A child process whose stdout lines are collected, with their arrival time, by a thread.
    Registered for cleanup on the test case (killed if still running).
    """

    def __init__(self, testcase, argv, label):
        self.label = label
        self.argv = argv
        self.lines = []                     # (time.monotonic(), text)
        self.eof = False
        self.cond = threading.Condition()
        fd, self.stderr_path = tempfile.mkstemp(prefix="ctg-%s-" % label, suffix=".stderr")
        with os.fdopen(fd, "wb") as err:
            self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err,
                                         stdin=subprocess.DEVNULL)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        testcase.addCleanup(self.close)

    def _read(self):
        for raw in self.proc.stdout:
            with self.cond:
                self.lines.append((time.monotonic(), raw.decode("utf-8", "replace").rstrip("\n")))
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def texts(self):
        with self.cond:
            return [text for _, text in self.lines]

    def wait_until(self, predicate, timeout=WAIT, what="the expected output"):
        """Waits until predicate(self) is true; fails with what was printed otherwise."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(min(left, 0.1))
            else:
                return
        raise AssertionError("%s: no %s within %.1f s\n%s" % (self.label, what, timeout,
                                                            self.report()))

    def report(self, tail=40):
        lines = self.texts()
        return ("---- %s: %s (exit %s), last %d of %d stdout lines ----\n%s\n"
                "---- stderr ----\n%s\n---- end ----"
                % (self.label, " ".join(self.argv), self.proc.poll(), min(tail, len(lines)),
                   len(lines), "\n".join(line[:300] for line in lines[-tail:]), self.stderr()))

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def running(self):
        return self.proc.poll() is None

    def wait_exit(self, timeout=WAIT):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("%s still runs after %.1f s\n%s" % (self.label, timeout,
                                                                   self.report()))
        self.thread.join(timeout)
        return rc

    def terminate(self, timeout=WAIT):
        """SIGTERM and the exit code (the process must end within timeout)."""
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def kill(self, timeout=WAIT):
        """SIGKILL, as a crash would stop it, and the exit code."""
        self.proc.kill()
        return self.wait_exit(timeout)

    def suspend(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def close(self):
        """Stops the process (SIGTERM, then SIGKILL) and fails on a sanitizer report."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.thread.join(5)
        self.proc.stdout.close()
        err = self.stderr()
        if not os.environ.get("CTGD_KEEP_TMP"):
            try:
                os.unlink(self.stderr_path)
            except OSError:
                pass
        for mark in SANITIZER_MARKS:
            if mark in err:
                raise AssertionError("%s reported %r:\n%s" % (self.label, mark, err[-4000:]))


Message = namedtuple("Message", "t topic body raw")   # t: CLOCK_MONOTONIC seconds


class Subscriber(LineProcess):
    """tests/tools/ctg_sub: a raw nanomsg SUB socket, one line per message."""

    def __init__(self, testcase, endpoint, topics=("ctg.",), extra=()):
        argv = [ctg_sub_binary(), endpoint]
        for topic in topics:
            argv += ["--topic", topic]
        super().__init__(testcase, argv + list(extra), "ctg_sub[%s]" % ",".join(topics))
        self.wait_until(lambda s: s.texts()[:1] == ["ready"], what="'ready' line")

    def messages(self):
        out = []
        for text in self.texts():
            if text == "ready":
                continue
            ns, _, message = text.partition(" ")
            topic, _, payload = message.partition(" ")
            out.append(Message(int(ns) / 1e9, topic, json.loads(payload), message))
        return out

    def changes(self):
        """Change events: neither heartbeats nor plugins' events (ctg.<d>.plugin.<name>)."""
        return [m for m in self.messages()
                if m.topic != HEARTBEAT_TOPIC and ".plugin." not in m.topic]

    def heartbeats(self):
        return [m for m in self.messages() if m.topic == HEARTBEAT_TOPIC]

    def change_seqs(self):
        return [m.body["seq"] for m in self.changes()]

    def wait_heartbeat(self, after=None, timeout=WAIT):
        """Waits for a heartbeat received after `after` (monotonic seconds; default: now)."""
        after = time.monotonic() if after is None else after
        self.wait_until(lambda s: any(m.t > after for m in s.heartbeats()), timeout,
                        "heartbeat")
        return [m for m in self.heartbeats() if m.t > after][0]

    def wait_seq(self, seq, timeout=WAIT):
        """Waits until a change event with this seq (or a later one) arrived."""
        self.wait_until(lambda s: any(x >= seq for x in s.change_seqs()), timeout,
                        "change event with seq %d" % seq)


class Watch(LineProcess):
    """`ctgctl --url U --events E watch ARGS`: one JSON event per line."""

    def __init__(self, testcase, server, *args, token=None):
        argv = [ctgctl_binary(), "--url", server.url, "--events", server.events_endpoint]
        if token:
            argv += ["--token", token]
        super().__init__(testcase, argv + ["watch"] + list(args), "ctgctl watch")

    def events(self):
        return [json.loads(text) for text in self.texts()]

    def seqs(self):
        return [e["seq"] for e in self.events()]

    def wait_seq(self, seq, timeout=WAIT):
        self.wait_until(lambda w: any(x >= seq for x in w.seqs()), timeout,
                        "event with seq %d" % seq)
