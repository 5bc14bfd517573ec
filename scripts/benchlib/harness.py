#!/usr/bin/env python3
"""harness.py — what scripts/bench runs once the packages are there and ctgd is built.

    harness.py --work DIR --profile quick|full --out FILE.md [--run-as USER:GROUP] [--command TEXT]

It measures ctgd and its peers (Redis, PostgreSQL, Tarantool, nginx, plain lua5.4) on the same
generated documents, every figure three times, and writes one Markdown report (the machine, one
table of medians and ratios against the targets of issue 8, then every run) to FILE.md; the
table is printed at the end too. docs/benchmarks.md says what each figure is and why it is fair.
The figures compared across systems are measured in three rounds of one run of each system,
whose order turns each round, so that a change in the host's load weighs on all of them alike.

Every server is a child process started here on a free 127.0.0.1 port with its data in DIR,
pinned to CPU 0; this process, the load generators and the subscribers run on CPU 1. Servers
are stopped when the harness ends, however it ends (their pids are also written to DIR/pids,
which scripts/bench's trap reads). A phase that fails is written down in the report and the
others go on.
"""
import argparse
import datetime
import http.client
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

LIB = Path(__file__).resolve().parent
REPO = LIB.parent.parent
SERVER_CPU, LOAD_CPU = 0, 1
PG_BIN = Path("/usr/lib/postgresql/15/bin")

PROFILES = {
    # sizes: stores measured; seconds: one throughput run; lat_*: the open-loop latency runs;
    # per_doc: documents of the one-request-per-document run; report_docs: the report's store.
    "quick": dict(sizes=[1000, 10000], seconds=3, warmup=1, lat_rate=200, lat_seconds=5,
                  per_doc=1000, report_docs=10000, reloads=5),
    # smoke: checks the harness end to end in a minute or two; its figures mean nothing.
    "smoke": dict(sizes=[200, 1000], seconds=1, warmup=1, lat_rate=100, lat_seconds=2,
                  per_doc=200, report_docs=1000, reloads=2),
    "full": dict(sizes=[1000, 10000, 100000], seconds=8, warmup=2, lat_rate=200, lat_seconds=10,
                 per_doc=2000, report_docs=10000, reloads=10),
}
RUNS = 3
READ_ID = "bench-42"
REPORT_DEPARTMENT, REPORT_KEY = "29", "indicateurs.csv"


def log(*parts):
    print("[bench %s]" % time.strftime("%H:%M:%S"), *parts, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_tcp(port, timeout=30.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("process exited (%d) before listening on %d"
                               % (proc.returncode, port))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.01)
    raise RuntimeError("nothing listens on port %d after %.0f s" % (port, timeout))


def cpu_ticks():
    """(steal, all) of the machine's CPU time so far, in ticks (/proc/stat): on a virtual
    machine, steal is the time the host ran something else while this one had work."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return (0, 0)
    return (fields[7] if len(fields) > 7 else 0, sum(fields[:8]))


def steal_share(before, after):
    """The share of the CPU time between two cpu_ticks() that the host stole, in %."""
    total = after[1] - before[1]
    return 100.0 * (after[0] - before[0]) / total if total > 0 else 0.0


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# --------------------------------------------------------------------------------------------
# Child processes
# --------------------------------------------------------------------------------------------


class Procs:
    """Every long-running child (servers, subscribers): started pinned, stopped at the end."""

    def __init__(self, work, pinning):
        self.work, self.pinning, self.live = work, pinning, []

    def pin(self, argv, cpu):
        return (["taskset", "-c", str(cpu)] + argv) if self.pinning else argv

    def start(self, name, argv, cpu=SERVER_CPU, stop_signal=signal.SIGTERM, **kw):
        log_file = open(self.work / ("%s.log" % name), "ab")
        kw.setdefault("stdout", log_file)
        kw.setdefault("stderr", log_file)
        proc = subprocess.Popen(self.pin(argv, cpu), **kw)
        proc.bench_name, proc.stop_signal = name, stop_signal
        self.live.append(proc)
        try:  # "pid start-time": scripts/bench's trap kills only a process that is still this one
            start_time = open("/proc/%d/stat" % proc.pid).read().rsplit(")", 1)[1].split()[19]
        except OSError:
            start_time = "?"
        with open(self.work / "pids", "a") as f:
            f.write("%d %s\n" % (proc.pid, start_time))
        return proc

    def stop(self, proc, timeout=20):
        if proc in self.live:
            self.live.remove(proc)
        if proc.poll() is None:
            proc.send_signal(proc.stop_signal)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_all(self):
        for proc in reversed(list(self.live)):
            self.stop(proc)


# --------------------------------------------------------------------------------------------
# Load generators (run by the harness on LOAD_CPU)
# --------------------------------------------------------------------------------------------


def run(argv, timeout=None, **kw):
    """Runs argv to its end; a failure says what the program wrote on its standard error."""
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=True,
                              **kw)
    except subprocess.CalledProcessError as e:
        said = (e.stderr or "").strip()[-600:] or "nothing on standard error"
        raise RuntimeError("%s exited with %d: %s" % (" ".join(map(str, argv)), e.returncode,
                                                      said)) from None


def wrk(url, conns, seconds, script=None, env=None):
    argv = ["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds, "--latency", url]
    if script:
        argv[1:1] = ["-s", str(script)]
    out = run(argv, env=dict(os.environ, **(env or {})), timeout=seconds + 60).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result = {"rate": float(m.group(1)), "requests": int(total.group(1)),
              "non2xx": int(bad.group(1)) if bad else 0,
              "errors": sum(int(x) for x in errs.groups()) if errs else 0}
    if result["non2xx"] or result["errors"]:
        raise RuntimeError("wrk %s: %d non-2xx answers, %d socket errors"
                           % (url, result["non2xx"], result["errors"]))
    return result


class Subscriber:
    """subscriber.py as a child on LOAD_CPU; result() stops it and returns its JSON line."""

    def __init__(self, procs, kind, port, expect=0, idle=0):
        argv = [sys.executable, str(LIB / "subscriber.py"), kind, "127.0.0.1", str(port)]
        if expect:
            argv += ["--expect", str(expect)]
        if idle:
            argv += ["--idle", str(idle)]
        self.procs = procs
        self.proc = procs.start("subscriber-%s" % kind, argv, cpu=LOAD_CPU, stdout=subprocess.PIPE,
                                text=True)
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError("the %s subscriber did not start (%r; see subscriber-%s.log)"
                               % (kind, line, kind))

    def result(self, wait=0.0):
        try:
            self.proc.wait(wait)
        except subprocess.TimeoutExpired:
            pass
        self.procs.stop(self.proc)
        out = self.proc.stdout.read().strip().splitlines()
        if not out:
            raise RuntimeError("the subscriber printed nothing")
        return json.loads(out[-1])


# --------------------------------------------------------------------------------------------
# The figures
# --------------------------------------------------------------------------------------------


class Figures:
    """Runs of every measure, by key: a list of values (one per run) and notes."""

    def __init__(self):
        self.values, self.notes, self.problems = {}, {}, []

    def add(self, key, value):
        self.values.setdefault(key, []).append(value)

    def note(self, key, text):
        self.notes.setdefault(key, []).append(text)

    def median(self, key):
        return median(self.values.get(key, []))


def fmt(value, unit):
    if value is None:
        return "—"
    if unit == "/s":
        return "{:,.0f}/s".format(value).replace(",", " ")
    if unit == "ms":
        return ("%.3f ms" if value < 1 else "%.2f ms" if value < 100 else "%.0f ms") % value
    if unit == "µs":
        return "%.0f µs" % value
    if unit == "MiB":
        return "%.1f MiB" % value
    return "%g %s" % (value, unit)


class Bench:
    def __init__(self, args):
        self.args = args
        self.p = PROFILES[args.profile]
        self.work = Path(args.work)
        self.pinning = (os.cpu_count() or 1) >= 2
        if self.pinning:
            os.sched_setaffinity(0, {LOAD_CPU})
        self.procs = Procs(self.work, self.pinning)
        self.f = Figures()
        self.data = self.work / "data"
        self.data.mkdir(exist_ok=True)
        self.largest = max(self.p["sizes"])
        self.build = REPO / "build"

    # ---------------------------------------------------------------------------------------
    # Data
    # ---------------------------------------------------------------------------------------

    def make_data(self):
        log("generating %d conventions (+ %d of department %s for the report)"
            % (self.largest, self.p["report_docs"], REPORT_DEPARTMENT))
        gen = [sys.executable, str(LIB / "gen_conventions.py")]
        largest = self.data / ("docs-%d.jsonl" % self.largest)
        with open(largest, "w") as out:
            subprocess.run(gen + [str(self.largest), "--compact"], stdout=out, check=True)
        lines = largest.read_bytes().splitlines(keepends=True)
        for size in self.p["sizes"]:
            (self.data / ("docs-%d.jsonl" % size)).write_bytes(b"".join(lines[:size]))
        with open(self.data / "report.jsonl", "w") as out:
            subprocess.run(gen + [str(self.p["report_docs"]), "--compact", "--department",
                                  REPORT_DEPARTMENT, "--prefix", "rep"], stdout=out, check=True)
        template = next(l for l in lines if json.loads(l)["id"] == READ_ID)
        (self.data / "template.json").write_bytes(template.strip())
        self.doc_bytes = len(template.strip())
        self.f.note("data", "%d documents of %.0f bytes on average (the write template %s: %d "
                    "bytes)" % (len(lines), sum(map(len, lines)) / len(lines) - 1, READ_ID,
                                self.doc_bytes))

    def docs(self, size):
        return self.data / ("docs-%d.jsonl" % size)

    # ---------------------------------------------------------------------------------------
    # The physical floor
    # ---------------------------------------------------------------------------------------

    def floor(self):
        exe = self.work / "floor"
        run(["cc", "-O2", "-o", str(exe), str(LIB / "floor.c")])
        for _ in range(RUNS):
            out = run([str(exe), "fsync", str(self.work), "1000"]).stdout
            out += run([str(exe), "rtt", "20000"]).stdout
            for line in out.splitlines():
                name, *fields = line.split()
                for field in fields:
                    stat, value = field.split("=")
                    self.f.add("floor.%s.%s" % (name, stat[:-3]), float(value) / 1000)

    # ---------------------------------------------------------------------------------------
    # ctgd
    # ---------------------------------------------------------------------------------------

    def ctgd_config(self, name):
        folder = self.work / ("ctgd-" + name)
        folder.mkdir(exist_ok=True)
        port, events = free_port(), free_port()
        conf = folder / "ctgd.conf"
        conf.write_text(f"""listen = "127.0.0.1:{port}"
data_dir = "{folder}/data"
map_size = 4 * 1024 * 1024 * 1024
events = {{ bind = "tcp://127.0.0.1:{events}", heartbeat = 1 }}
plugins = {{ "{REPO}/plugins" }}
log_level = "warn"
limits = {{ body_max = 1024 * 1024, bulk_max = 64 * 1024 * 1024, timeout = 120,
           connections = 1024, lua_instructions = 1e11, lua_seconds = 300,
           lua_memory = 2 * 1024 * 1024 * 1024 }}
""")
        return {"name": name, "conf": conf, "folder": folder, "port": port, "events": events,
                "url": "http://127.0.0.1:%d" % port}

    def ctgd_start(self, c, fresh=False):
        """Starts ctgd on c's configuration; returns the seconds until /v1/health answered."""
        if fresh:
            shutil.rmtree(c["folder"] / "data", ignore_errors=True)
        started = time.perf_counter()
        proc = self.procs.start("ctgd-" + c["name"],
                                [str(self.build / "ctgd"), "-c", str(c["conf"])])
        deadline = started + 120
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", c["port"], timeout=5)
                conn.request("GET", "/v1/health")
                if conn.getresponse().status == 200:
                    conn.close()
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.perf_counter() > deadline:
                raise RuntimeError("ctgd did not start (see ctgd-%s.log)" % c["name"])
            time.sleep(0.001)
        elapsed = time.perf_counter() - started
        c["proc"] = proc
        return elapsed

    def ctgd_stop(self, c):
        self.procs.stop(c.pop("proc"))

    def rss_anon_mib(self, pid):
        for line in open("/proc/%d/status" % pid):
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
        return None

    def bulk_import(self, url, path, chunk=5000):
        """POST _bulk in chunks of `chunk` lines, one after the other; returns documents/s."""
        lines = path.read_bytes().splitlines(keepends=True)
        chunks = [b"".join(lines[i:i + chunk]) for i in range(0, len(lines), chunk)]
        host, port = url.rsplit("/", 1)[1].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=600)
        answers = []
        started = time.perf_counter()
        for body in chunks:
            conn.request("POST", "/v1/conventions/_bulk", body=body,
                         headers={"Content-Type": "application/x-ndjson"})
            response = conn.getresponse()
            answers.append((response.status, response.read()))
        elapsed = time.perf_counter() - started
        conn.close()
        refused = 0
        for status, body in answers:
            if status != 200:
                raise RuntimeError("_bulk answered %d: %s" % (status, body[:300]))
            refused += sum(1 for r in json.loads(body)["results"] if r["status"] >= 300)
        if refused:
            raise RuntimeError("_bulk refused %d of %d lines" % (refused, len(lines)))
        return len(lines) / elapsed

    def http_get(self, url, path):
        host, port = url.rsplit("/", 1)[1].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=600)
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        conn.close()
        if response.status != 200:
            raise RuntimeError("GET %s: %d %s" % (path, response.status, body[:300]))
        return body

    def wrk_series(self, key, url, conns, script=None, env_of_run=None, runs=RUNS):
        """A warm-up, then `runs` wrk runs; adds the rate of each to `key`; returns the requests."""
        s = self.p["seconds"]
        total = 0
        stolen = []
        for i in range(runs + 1):
            env = env_of_run(i) if env_of_run else None
            before = cpu_ticks()
            r = wrk(url, conns, self.p["warmup"] if i == 0 else s, script, env)
            total += r["requests"]
            if i:
                self.f.add(key, r["rate"])
                stolen.append("%.1f%%" % steal_share(before, cpu_ticks()))
        self.f.note(key, "host steal %s" % " / ".join(stolen))
        return total

    def ctgd_sizes(self):
        for size in self.p["sizes"]:
            log("ctgd: %d conventions — bulk import x%d, GET by id, list" % (size, RUNS))
            c = self.ctgd_config("n%d" % size)
            for _ in range(RUNS):
                self.ctgd_start(c, fresh=True)
                self.f.add("ctgd.bulk.%d" % size, self.bulk_import(c["url"], self.docs(size)))
                if _ < RUNS - 1:
                    self.ctgd_stop(c)
            self.read_id_body = self.http_get(c["url"], "/v1/conventions/" + READ_ID)
            if size == self.largest:
                self.ctgd_largest(c)
            else:
                self.ctgd_reads(c, size)
                self.ctgd_stop(c)

    def ctgd_reads(self, c, size):
        url = c["url"]
        if size != self.largest:  # the largest store's are measured in the rounds, with nginx's
            self.wrk_series("ctgd.get16.%d" % size, url + "/v1/conventions/" + READ_ID, 16)
        self.wrk_series("ctgd.list16.%d" % size, url + "/v1/conventions?department=29", 16)

    def ctgd_largest(self, c):
        n = self.largest
        log("ctgd: %d conventions — start-up x%d, memory" % (n, RUNS))
        self.ctgd_stop(c)
        for _ in range(RUNS):
            self.f.add("ctgd.start", self.ctgd_start(c) * 1000)
            self.f.add("ctgd.rss.start", self.rss_anon_mib(c["proc"].pid))
            self.ctgd_stop(c)
        self.ctgd_start(c)
        log("ctgd: lists, indicators, reload")
        self.ctgd_reads(c, n)
        # the same convention's: kept for its revision after the first (limits.result_cache)
        self.wrk_series("ctgd.indicators16",
                        c["url"] + "/v1/conventions/%s/indicators" % READ_ID, 16)
        # a different convention's each request: computed by the plugins when the store holds
        # more conventions than the cache holds answers (100k against some 8 000)
        self.wrk_series("ctgd.indicators16.each", c["url"], 16,
                        script=LIB / "indicators_each.lua",
                        env_of_run=lambda i: {"BENCH_COUNT": str(n)})
        self.f.add("ctgd.rss.reads", self.rss_anon_mib(c["proc"].pid))
        for _ in range(RUNS):
            times = []
            for _ in range(self.p["reloads"]):
                host, port = "127.0.0.1", c["port"]
                conn = http.client.HTTPConnection(host, port, timeout=60)
                started = time.perf_counter()
                conn.request("POST", "/v1/plugins/reload")
                response = conn.getresponse()
                response.read()
                times.append((time.perf_counter() - started) * 1000)
                conn.close()
                if response.status != 200:
                    raise RuntimeError("reload answered %d" % response.status)
            self.f.add("ctgd.reload", statistics.median(times))
        self.ctgd_stop(c)
        self.ctgd_per_doc()

    def ctgd_round(self):
        """ctgd's run of this round of the figures compared with the peers: reads by id, durable
        writes at 1 and 16 clients, write → subscriber latency, on a fresh store of the largest
        size (as every peer's round starts from the same documents)."""
        c = self.ctgd_config(str(self.round))
        log("ctgd: import %d documents, GET by id at 16 and 1 clients" % self.largest)
        self.ctgd_start(c, fresh=True)
        self.bulk_import(c["url"], self.docs(self.largest))
        url = c["url"] + "/v1/conventions/" + READ_ID
        self.wrk_series("ctgd.get16.%d" % self.largest, url, 16, runs=1)
        self.wrk_series("ctgd.get1", url, 1, runs=1)
        log("ctgd: durable writes at 1 and 16 clients")
        template = self.data / "template.json"
        for conns in (1, 16):
            sub = Subscriber(self.procs, "ctgd", c["events"])
            written = self.wrk_series(
                "ctgd.write%d" % conns, c["url"] + "/v1/conventions", conns,
                script=LIB / "post.lua", runs=1,
                env_of_run=lambda i: {"BENCH_DOC": str(template),
                                      "BENCH_PREFIX": "w%d-%d-%d" % (conns, i, time.time_ns())})
            got = sub.result(wait=1.0)
            self.f.note("ctgd.write%d" % conns,
                        "subscriber received %d events; %d writes acknowledged"
                        % (got["count"], written))
        self.f.add("ctgd.rss.writes", self.rss_anon_mib(c["proc"].pid))
        log("ctgd: write -> subscriber latency")
        self.latency("ctgd", "ctgd", c["port"], c["events"])
        self.ctgd_stop(c)

    def ctgd_per_doc(self):
        log("ctgd: one request per document x%d" % RUNS)
        c = self.ctgd_config("per-doc")
        for _ in range(RUNS):
            self.ctgd_start(c, fresh=True)
            out = run([sys.executable, str(LIB / "load.py"), c["url"], str(self.docs(self.largest)),
                       "--limit", str(self.p["per_doc"])]).stdout
            m = re.search(r"loaded (\d+) documents in ([\d.]+) s", out)
            self.f.add("ctgd.per_doc", int(m.group(1)) / float(m.group(2)))
            self.ctgd_stop(c)

    def latency(self, system, kind, write_port, sub_port, sha=None):
        """One open-loop run of this round: p50, p99 and p99.9 of write → subscriber."""
        total = int(self.p["lat_rate"] * self.p["lat_seconds"])
        sub = Subscriber(self.procs, kind, sub_port, expect=total, idle=5)
        argv = [sys.executable, str(LIB / "openloop.py"), kind, "127.0.0.1", str(write_port),
                "--template", str(self.data / "template.json"),
                "--rate", str(self.p["lat_rate"]), "--seconds", str(self.p["lat_seconds"]),
                "--prefix", "lat-%d-%d" % (self.round, time.time_ns())]
        if sha:
            argv += ["--sha", sha]
        gen = json.loads(run(argv, timeout=self.p["lat_seconds"] + 120).stdout.strip())
        got = sub.result(wait=10)
        for p in ("p50", "p99", "p999"):
            v = got.get(p + "_us")
            self.f.add("%s.lat.%s" % (system, p), None if v is None else v / 1000)
        self.f.note("%s.lat" % system, "round %d: %d sent (%d over 5 ms late, at most %.1f ms; "
                    "%d failed; %d connections), %d received, max %.2f ms"
                    % (self.round, gen["sent"], gen["late"], gen["max_lag_ms"], gen["failed"],
                       gen["connections"], got["timed"], (got["max_us"] or 0) / 1000))
        if gen["failed"]:
            self.f.note("%s.lat" % system, "errors: %s" % gen.get("errors"))

    # ---------------------------------------------------------------------------------------
    # The department report: ctgd against plain lua5.4 + lua-cjson
    # ---------------------------------------------------------------------------------------

    def report(self):
        n = self.p["report_docs"]
        log("report %s over %d conventions of %s: ctgd and lua5.4 + lua-cjson"
            % (REPORT_KEY, n, REPORT_DEPARTMENT))
        c = self.ctgd_config("report")
        self.ctgd_start(c, fresh=True)
        self.bulk_import(c["url"], self.data / "report.jsonl")
        stored = self.data / "report-stored.jsonl"
        run([str(self.build / "ctgctl"), "--url", c["url"], "export", "--department",
             REPORT_DEPARTMENT, "--output", str(stored)], timeout=600)
        path = "/v1/departments/%s/reports/%s" % (REPORT_DEPARTMENT, REPORT_KEY)
        plugins = sorted(str(p) for p in (REPO / "plugins").glob("*.lua"))
        out = self.work / "report-plain.out"
        argv = self.procs.pin(["lua5.4", str(LIB / "report_plain.lua"), REPORT_DEPARTMENT,
                               REPORT_KEY, str(stored), str(out)] + plugins, SERVER_CPU)
        body = self.http_get(c["url"], path)  # warm-ups
        run(argv)
        # One of each in turn (ctgd stays up, idle, while lua5.4 runs on its CPU): a change in
        # the host's load during the phase then weighs on both, as the rounds do for the peers.
        for _ in range(RUNS):
            started = time.perf_counter()
            body = self.http_get(c["url"], path)
            self.f.add("ctgd.report", (time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            run(argv)
            self.f.add("plain.report", (time.perf_counter() - started) * 1000)
        self.ctgd_stop(c)
        plain = out.read_bytes()
        if plain == body:
            self.f.note("report", "the two outputs are identical (%d bytes)" % len(body))
        else:
            diff = sum(1 for a, b in zip(plain.splitlines(), body.splitlines()) if a != b)
            self.f.note("report", "OUTPUTS DIFFER: ctgd %d bytes, plain Lua %d bytes, %d lines "
                        "differ" % (len(body), len(plain), diff))

    # ---------------------------------------------------------------------------------------
    # Peers
    # ---------------------------------------------------------------------------------------

    def peer_docs(self):
        """The largest data set, with READ_ID as ctgd serves it (the same bytes to read)."""
        path = self.data / "peer-docs.jsonl"
        with open(self.docs(self.largest), "rb") as src, open(path, "wb") as dst:
            for line in src:
                if line.startswith(b'{"id":"%s"' % READ_ID.encode()):
                    line = self.read_id_body.strip() + b"\n"
                dst.write(line)
        (self.data / "read-doc.json").write_bytes(self.read_id_body)
        return path

    def redis(self):
        folder = self.round_folder("redis")
        port = free_port()
        (folder / "redis.conf").write_text(f"""bind 127.0.0.1
port {port}
dir {folder}
appendonly yes
appendfsync always
save ""
daemonize no
protected-mode no
logfile {folder}/redis.log
client-output-buffer-limit pubsub 0 0 0
""")
        log("Redis: start, load %d documents" % self.largest)
        proc = self.procs.start("redis", ["redis-server", str(folder / "redis.conf")])
        wait_tcp(port, proc=proc)
        sock = socket.create_connection(("127.0.0.1", port))
        stream = sock.makefile("rb")

        def command(*parts):
            parts = [p if isinstance(p, bytes) else str(p).encode() for p in parts]
            return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)

        batch = []
        with open(self.peer_docs_path, "rb") as f:
            for line in f:
                line = line.strip()
                key = b"doc:" + re.match(rb'\{"id":"([^"]+)"', line).group(1)
                batch.append(command("SET", key, line))
                if len(batch) == 1000:
                    sock.sendall(b"".join(batch))
                    for _ in batch:
                        stream.readline()
                    batch = []
        if batch:
            sock.sendall(b"".join(batch))
            for _ in batch:
                stream.readline()
        script = ("redis.call('SET', KEYS[1], ARGV[1]) "
                  "redis.call('PUBLISH', 'ctg', ARGV[1]) return 1")
        sock.sendall(command("SCRIPT", "LOAD", script))
        stream.readline()
        sha = stream.readline().strip().decode()
        sock.close()
        doc = (self.data / "template.json").read_text()

        def bench(conns, argv, key, warm):
            base = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(conns),
                    "--csv"]
            n = warm
            for i in range(2):  # a warm-up, then this round's run
                out = run(base + ["-n", str(n)] + argv, timeout=600).stdout
                rate = float(out.strip().splitlines()[-1].rsplit('","', 7)[1].strip('"'))
                if i == 0:  # the warm-up sizes the runs to last about `seconds`
                    n = max(warm, int(rate * self.p["seconds"]))
                else:
                    self.f.add(key, rate)
            return n + warm

        log("Redis: EVALSHA (SET + PUBLISH) at 1 and 16 clients, GET")
        for conns in (1, 16):
            sub = Subscriber(self.procs, "redis", port)
            written = bench(conns, ["-r", "100000000", "EVALSHA", sha, "1", "w:__rand_int__", doc],
                            "redis.write%d" % conns, 300 * conns)
            got = sub.result(wait=1.0)
            self.f.note("redis.write%d" % conns,
                        "subscriber received %d messages; %d writes acknowledged"
                        % (got["count"], written))
        bench(16, ["GET", "doc:" + READ_ID], "redis.get16", 20000)
        log("Redis: write -> subscriber latency")
        self.latency("redis", "redis", port, port, sha=sha)
        self.procs.stop(proc)

    def postgres(self):
        folder = self.round_folder("postgres")
        prefix = []
        if self.args.run_as:
            user, group = self.args.run_as.split(":")
            shutil.chown(folder, user, group)
            prefix = ["setpriv", "--reuid=" + user, "--regid=" + group, "--clear-groups"]
        data = folder / "data"
        log("PostgreSQL: initdb, start, load %d documents" % self.largest)
        run(prefix + [str(PG_BIN / "initdb"), "-D", str(data), "-U", "bench", "--auth=trust",
                      "-E", "UTF8", "--locale=C.UTF-8"], timeout=300, cwd=folder)
        port = free_port()
        proc = self.procs.start("postgres", prefix + [
            str(PG_BIN / "postgres"), "-D", str(data), "-c", "listen_addresses=127.0.0.1",
            "-c", "port=%d" % port, "-c", "unix_socket_directories=%s" % folder,
            "-c", "fsync=on", "-c", "synchronous_commit=on", "-c", "full_page_writes=on",
            "-c", "max_connections=100"], stop_signal=signal.SIGINT, cwd=folder)
        wait_tcp(port, proc=proc)
        psql = ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "bench", "-d", "postgres",
                "-v", "ON_ERROR_STOP=1", "-q"]
        for _ in range(100):
            if subprocess.run(psql + ["-c", "select 1"], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        sql = f"""
CREATE TABLE conventions (id text PRIMARY KEY, doc json NOT NULL);
CREATE TEMP TABLE staging (doc text);
\\copy staging FROM '{self.peer_docs_path}' WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')
INSERT INTO conventions SELECT doc::json->>'id', doc::json FROM staging;
CREATE FUNCTION ctg_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('ctg', NEW.doc::text); RETURN NULL; END $$;
CREATE TRIGGER ctg_notify AFTER INSERT OR UPDATE ON conventions
  FOR EACH ROW EXECUTE FUNCTION ctg_notify();
VACUUM ANALYZE conventions;
"""
        run(psql, input=sql, timeout=1200)
        count = run(psql + ["-tAc", "select count(*) from conventions"]).stdout.strip()
        self.f.note("postgres", "table conventions: %s rows" % count)
        write_sql = folder / "write.sql"
        write_sql.write_text("\\set n random(1, 2000000000)\n"
                             "INSERT INTO conventions (id, doc) VALUES ('w-' || :n, :doc) "
                             "ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc;\n")
        read_sql = folder / "read.sql"
        read_sql.write_text("SELECT doc FROM conventions WHERE id = '%s';\n" % READ_ID)
        doc = (self.data / "template.json").read_text()

        def bench(conns, script, key, extra=()):
            total = 0
            for i in range(2):  # a warm-up, then this round's run
                seconds = self.p["warmup"] if i == 0 else self.p["seconds"]
                out = run(["pgbench", "-h", "127.0.0.1", "-p", str(port), "-U", "bench", "-n",
                           "-M", "prepared", "-c", str(conns), "-j", "1", "-T", str(seconds),
                           "-f", str(script)] + list(extra) + ["postgres"],
                          timeout=seconds + 120).stdout
                rate = float(re.search(r"tps = ([\d.]+)", out).group(1))
                total += int(re.search(r"actually processed: (\d+)", out).group(1))
                if i:
                    self.f.add(key, rate)
            return total

        log("PostgreSQL: INSERT … ON CONFLICT + NOTIFY at 1 and 16 clients (pgbench), SELECT")
        for conns in (1, 16):
            sub = Subscriber(self.procs, "postgres", port)
            written = bench(conns, write_sql, "postgres.write%d" % conns, ["-D", "doc=" + doc])
            got = sub.result(wait=1.0)
            self.f.note("postgres.write%d" % conns, "listener received %d notifications; %d writes "
                        "acknowledged" % (got["count"], written))
        bench(16, read_sql, "postgres.get16")
        log("PostgreSQL: write -> subscriber latency")
        self.latency("postgres", "postgres", port, port)
        self.procs.stop(proc)

    def tarantool(self):
        folder = self.round_folder("tarantool")
        port = free_port()
        log("Tarantool: start, load %d documents" % self.largest)
        proc = self.procs.start("tarantool", ["tarantool", str(LIB / "tarantool_server.lua"),
                                              str(port), str(folder)])
        wait_tcp(port, proc=proc)
        client = ["tarantool", str(LIB / "tarantool_client.lua"), str(port)]
        out = run(client + ["load", str(self.peer_docs_path)], timeout=1200).stdout
        loaded = json.loads(out.strip().splitlines()[-1])["loaded"] if out.strip() else 0
        if loaded != self.largest:
            raise RuntimeError("Tarantool loaded %s of %d documents" % (loaded, self.largest))
        template = self.data / "template.json"

        def bench(conns, mode, key, extra):
            total = 0
            for i in range(2):  # a warm-up, then this round's run
                seconds = self.p["warmup"] if i == 0 else self.p["seconds"]
                r = json.loads(run(client + [mode, str(conns), str(seconds)] + extra,
                                   timeout=seconds + 120).stdout.strip().splitlines()[-1])
                if r["errors"]:
                    raise RuntimeError("Tarantool %s: %d errors (%s)" % (mode, r["errors"],
                                                                        r.get("last_error")))
                total += r["ops"]
                if i:
                    self.f.add(key, r["rate"])
            return total

        log("Tarantool: put (replace + on_commit push) at 1 and 16 clients, get")
        for conns in (1, 16):
            sub = Subscriber(self.procs, "tarantool", port)
            written = bench(conns, "write", "tarantool.write%d" % conns,
                            [str(template), "w%d-%d" % (conns, time.time_ns())])
            got = sub.result(wait=1.0)
            self.f.note("tarantool.write%d" % conns,
                        "subscriber received %d pushes; %d writes acknowledged"
                        % (got["count"], written))
        bench(16, "read", "tarantool.get16", [READ_ID])
        log("Tarantool: write -> subscriber latency")
        self.latency("tarantool", "tarantool", port, port)
        self.procs.stop(proc)

    def nginx(self):
        folder = self.round_folder("nginx")
        www = folder / "www" / "v1" / "conventions"
        www.mkdir(parents=True)
        (www / READ_ID).write_bytes(self.read_id_body)
        for d in [folder / "tmp"]:
            d.mkdir()
        port = free_port()
        user = ("user %s;\n" % self.args.run_as.replace(":", " ")) if self.args.run_as else ""
        (folder / "nginx.conf").write_text(f"""{user}worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  default_type application/json;
  keepalive_requests 1000000;
  keepalive_timeout 120;
  client_body_temp_path {folder}/tmp/body;
  proxy_temp_path {folder}/tmp/proxy;
  fastcgi_temp_path {folder}/tmp/fastcgi;
  uwsgi_temp_path {folder}/tmp/uwsgi;
  scgi_temp_path {folder}/tmp/scgi;
  server {{
    listen 127.0.0.1:{port};
    root {folder}/www;
  }}
}}
""")
        log("nginx: GET of the same bytes as a static file, 1 and 16 clients")
        proc = self.procs.start("nginx", ["nginx", "-e", str(folder / "error.log"), "-p",
                                          str(folder), "-c", str(folder / "nginx.conf")],
                                stop_signal=signal.SIGQUIT)
        wait_tcp(port, proc=proc)
        url = "http://127.0.0.1:%d/v1/conventions/%s" % (port, READ_ID)
        if self.http_get("http://127.0.0.1:%d" % port, "/v1/conventions/" + READ_ID) \
                != self.read_id_body:
            raise RuntimeError("nginx does not serve the same bytes")
        self.wrk_series("nginx.get16", url, 16, runs=1)
        self.wrk_series("nginx.get1", url, 1, runs=1)
        self.procs.stop(proc)

    # ---------------------------------------------------------------------------------------
    # The whole run and its report
    # ---------------------------------------------------------------------------------------

    def round_folder(self, name):
        """A new folder for a peer's data in this round (rounds() removes it afterwards)."""
        folder = self.work / ("%s-%d" % (name, self.round))
        folder.mkdir()
        return folder

    def phase(self, name, fn):
        started = time.monotonic()
        ticks = cpu_ticks()
        try:
            fn()
        except Exception as e:
            self.f.problems.append("%s: %s" % (name, e))
            log("FAILED: %s: %s" % (name, e))
            traceback.print_exc()
            self.procs.stop_all()
        self.stolen[name] = steal_share(ticks, cpu_ticks())
        log("%s: %.0f s (host steal %.1f%%)" % (name, time.monotonic() - started,
                                                self.stolen[name]))

    def rounds(self):
        """The figures compared across systems, in RUNS rounds of one run of each system, its
        server started afresh on the same documents; the order turns by one each round. Drift
        in the host's load then falls on every system alike, not on whichever phase it met."""
        systems = [("ctgd", self.ctgd_round), ("redis", self.redis),
                   ("postgres", self.postgres), ("tarantool", self.tarantool),
                   ("nginx", self.nginx)]
        for self.round in range(1, RUNS + 1):
            turn = self.round - 1
            for name, fn in systems[turn:] + systems[:turn]:
                self.phase("%s %d" % (name, self.round), fn)
                # ctgd's folder too (ctgd-<round>): each round starts from the same load
                shutil.rmtree(self.work / ("%s-%d" % (name, self.round)), ignore_errors=True)

    def run_all(self):
        started = time.monotonic()
        self.load_before = os.getloadavg()
        self.stolen = {}
        try:
            self.phase("data", self.make_data)
            self.phase("floor", self.floor)
            self.phase("ctgd", self.ctgd_sizes)
            self.phase("report", self.report)
            if hasattr(self, "read_id_body"):
                self.peer_docs_path = self.peer_docs()
                self.rounds()
        finally:
            self.procs.stop_all()
        self.elapsed = time.monotonic() - started
        self.load_after = os.getloadavg()
        text = self.markdown()
        Path(self.args.out).write_text(text)
        print(self.table())
        print("\nwritten to %s (%.0f s)" % (self.args.out, self.elapsed))
        return 1 if self.f.problems else 0

    def rows(self):
        """(figure, ctgd key, unit, peer label, peer key, target kind, target value)."""
        L, sizes = self.largest, self.p["sizes"]
        k = lambda n: "%dk" % (n // 1000) if n % 1000 == 0 else str(n)
        redis = "Redis 7, appendfsync always"
        pg = "PostgreSQL 15, synchronous_commit on"
        tt = "Tarantool 2.6, wal_mode fsync"
        rows = [
            ("durable writes/s, 16 clients (+ 1 subscriber)", "ctgd.write16", "/s",
             redis + ": EVALSHA SET + PUBLISH", "redis.write16", ">=", 1.0),
            ("durable writes/s, 16 clients", "ctgd.write16", "/s",
             tt + ": replace + on_commit push", "tarantool.write16", ">=", 1.0),
            ("durable writes/s, 16 clients", "ctgd.write16", "/s",
             pg + ": INSERT … ON CONFLICT + NOTIFY", "postgres.write16", ">=", 3.0),
            ("durable writes/s, 1 client", "ctgd.write1", "/s", redis, "redis.write1", None, None),
            ("durable writes/s, 1 client", "ctgd.write1", "/s", tt, "tarantool.write1", None, None),
            ("durable writes/s, 1 client", "ctgd.write1", "/s", pg, "postgres.write1", None, None),
        ]
        rate = "%d/s open loop" % self.p["lat_rate"]
        for p, label in (("p50", "p50"), ("p99", "p99"), ("p999", "p99.9")):
            for peer, name, target in (("redis", "Redis (SUBSCRIBE)", 1.5),
                                       ("postgres", "PostgreSQL (LISTEN)", 1.0),
                                       ("tarantool", "Tarantool (session push)", None)):
                rows.append(("write → subscriber %s, %s" % (label, rate), "ctgd.lat." + p, "ms",
                             name, "%s.lat.%s" % (peer, p), "<=" if target and p == "p99" else None,
                             target if p == "p99" else None))
        rows += [
            ("GET by id, 16 clients, %s stored" % k(L), "ctgd.get16.%d" % L, "/s",
             "nginx static file, same bytes", "nginx.get16", ">=", 0.8),
            ("GET by id, 1 client, %s stored" % k(L), "ctgd.get1", "/s",
             "nginx static file, same bytes", "nginx.get1", None, None),
            ("read by id, 16 clients", "ctgd.get16.%d" % L, "/s", "Redis GET", "redis.get16",
             None, None),
            ("read by id, 16 clients", "ctgd.get16.%d" % L, "/s", "PostgreSQL SELECT by key",
             "postgres.get16", None, None),
            ("read by id, 16 clients", "ctgd.get16.%d" % L, "/s", "Tarantool get by key",
             "tarantool.get16", None, None),
        ]
        for size in sizes:
            if size != L:
                rows.append(("GET by id, 16 clients, %s stored" % k(size), "ctgd.get16.%d" % size,
                             "/s", None, None, None, None))
        for size in sizes:
            rows.append(("list a department (50 summaries), 16 clients, %s stored" % k(size),
                         "ctgd.list16.%d" % size, "/s", None, None, None, None))
        rows += [
            ("indicators of one convention, 16 clients (kept for its revision)",
             "ctgd.indicators16", "/s", None, None, None, None),
            ("indicators of a different convention each request, 16 clients, %s stored"
             % k(L), "ctgd.indicators16.each", "/s", None, None, None, None),
            ("department report %s over %s conventions" % (REPORT_KEY, k(self.p["report_docs"])),
             "ctgd.report", "ms", "lua5.4 + lua-cjson, same plugin code, JSON lines",
             "plain.report", "<=", 1.0),
        ]
        for size in sizes:
            if size == L:
                rows.append(("bulk import of %s (documents/s)" % k(L), "ctgd.bulk.%d" % L, "/s",
                             "ctgd, one request per document", "ctgd.per_doc", ">=", 10.0))
            else:
                rows.append(("bulk import of %s (documents/s)" % k(size), "ctgd.bulk.%d" % size,
                             "/s", None, None, None, None))
        rows += [
            ("start-up with %s conventions" % k(L), "ctgd.start", "ms", None, None, "<abs", 1000),
            ("anonymous resident memory after start-up, %s" % k(L), "ctgd.rss.start", "MiB",
             None, None, "<abs", 100),
            ("anonymous resident memory after the reads, %s" % k(L), "ctgd.rss.reads", "MiB",
             None, None, "<abs", 100),
            ("anonymous resident memory after the writes", "ctgd.rss.writes", "MiB",
             None, None, None, None),
            ("plugin reload (6 files)", "ctgd.reload", "ms", None, None, None, None),
            ("floor: fdatasync after a 2 KB append, p50", "floor.fdatasync_append_2k.p50", "ms",
             None, None, None, None),
            ("floor: fdatasync after a 2 KB append, p99", "floor.fdatasync_append_2k.p99", "ms",
             None, None, None, None),
            ("floor: fdatasync after a 2 KB overwrite, p50", "floor.fdatasync_overwrite_2k.p50",
             "ms", None, None, None, None),
            ("floor: the same, one every 5 ms (as at 200/s), p50",
             "floor.fdatasync_overwrite_2k_every_5ms.p50", "ms", None, None, None, None),
            ("floor: the same, one every 5 ms (as at 200/s), p99",
             "floor.fdatasync_overwrite_2k_every_5ms.p99", "ms", None, None, None, None),
            ("floor: loopback TCP round trip (CPU 1 → 0), p50", "floor.loopback_rtt_64b.p50",
             "ms", None, None, None, None),
        ]
        return rows

    def table(self):
        out = ["| figure | ctgd | peer | peer value | ratio | target | met? |",
               "|---|---:|---|---:|---:|---|:-:|"]
        for figure, ck, unit, peer, pk, kind, target in self.rows():
            cv = self.f.median(ck)
            pv = self.f.median(pk) if pk else None
            ratio = cv / pv if cv is not None and pv else None
            met, tgt = "", ""
            if kind in (">=", "<="):
                tgt = "%s %g×" % ("≥" if kind == ">=" else "≤", target)
                if ratio is not None:
                    ok = ratio >= target if kind == ">=" else ratio <= target
                    met = "yes" if ok else "**no**"
            elif kind == "<abs":
                tgt = "< " + fmt(target, unit)
                if cv is not None:
                    met = "yes" if cv < target else "**no**"
            if (kind and (cv is None or (kind != "<abs" and pv is None))):
                met = "not measured"
            out.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                figure, fmt(cv, unit), peer or "", fmt(pv, unit) if pk else "",
                "%.2f×" % ratio if ratio is not None else "", tgt, met))
        return "\n".join(out)

    def machine(self):
        def sh(cmd):
            try:
                return subprocess.run(cmd, shell=True, capture_output=True,
                                      text=True).stdout.strip()
            except OSError:
                return "?"
        cpu = sh("lscpu | sed -n 's/^Model name: *//p'")
        mem = sh("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo")
        fs = sh("findmnt -n -T %s -o SOURCE,FSTYPE,OPTIONS" % self.work)
        pkgs = ["redis-server", "postgresql-15", "tarantool", "nginx-light", "lua5.4", "lua-cjson",
                "wrk", "libevent-2.1-7", "liblmdb0", "libnanomsg5", "libjansson4", "liblua5.4-0"]
        versions = ", ".join("%s %s" % (p, sh("dpkg-query -W -f='${Version}' %s 2>/dev/null" % p)
                                        or "?") for p in pkgs)
        git = sh("cd %s && git describe --always --dirty" % REPO)
        dirty = sh("cd %s && git status --porcelain -- core include CMakeLists.txt | wc -l" % REPO)
        return [
            ("CPU", "%s, %d cores (%s)" % (cpu, os.cpu_count(),
                                           "servers on CPU 0; load generators, subscribers and "
                                           "this harness on CPU 1" if self.pinning
                                           else "one core: nothing pinned")),
            ("memory", mem),
            ("load average (1, 5, 15 min)", "%.2f %.2f %.2f before, %.2f %.2f %.2f after: other "
             "work on the machine shows here" % (self.load_before + self.load_after)),
            ("CPU time stolen by the host (steal), by phase",
             ", ".join("%s %.1f%%" % kv for kv in self.stolen.items()) + ": another virtual "
             "machine's work; a figure measured while it was high is low for that reason (each "
             "wrk run's share is in its notes below)"),
            ("kernel", "%s %s" % (platform.system(), platform.release())),
            ("data of every server", "%s: %s" % (self.work, fs)),
            ("packages", versions),
            ("ctgd", "%s (%s uncommitted paths under core/, include/, CMakeLists.txt), "
             "RelWithDebInfo build" % (git, dirty)),
        ]

    def markdown(self):
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        lines = ["# ctgd against its peers — %s (%s)" % (now, self.args.profile), "",
                 "Command: `%s` (%.0f s). What each figure is: "
                 "[docs/benchmarks.md](../../docs/benchmarks.md)." % (self.args.command,
                                                                       self.elapsed), "",
                 "## Machine", "", "| | |", "|---|---|"]
        lines += ["| %s | %s |" % row for row in self.machine()]
        lines += ["", "## Results", "",
                  "Each figure is the median of %d runs; ratio = ctgd / peer. Those compared "
                  "across systems come from %d rounds of one run of each system, its server "
                  "started afresh on the same documents, in an order that turns each round. %s"
                  % (RUNS, RUNS, "; ".join(self.f.notes.get("data", []))), "", self.table(),
                  ""]
        if self.f.problems:
            lines += ["## Problems", ""] + ["- " + p for p in self.f.problems] + [""]
        lines += ["## Every run", "", "| measure | runs | notes |", "|---|---|---|"]
        keys = sorted(set(self.f.values) | set(self.f.notes) - {"data"})
        for key in keys:
            vals = ", ".join("—" if v is None else "%.4g" % v for v in self.f.values.get(key, []))
            notes = "; ".join(self.f.notes.get(key, []))
            lines.append("| %s | %s | %s |" % (key, vals, notes))
        return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", required=True)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full")
    parser.add_argument("--out", required=True)
    parser.add_argument("--run-as", default="", help="USER:GROUP for PostgreSQL and nginx workers")
    parser.add_argument("--command", default="scripts/bench")
    args = parser.parse_args()
    bench = Bench(args)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(bench.run_all())


if __name__ == "__main__":
    main()
