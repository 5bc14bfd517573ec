"""
ctgd_harness.py — drive a real ctgd on a loopback port, for the integration tests.

What it owns:
  * finding the binary (`--ctgd PATH` on the command line, or the CTGD_BIN environment variable);
  * `Server`: a ctgd process in its own temporary directory, with a generated Lua configuration,
    a free loopback port, its stdout/stderr captured to files, started until `GET /v1/health`
    answers 200 and stopped with SIGTERM, checking a clean exit (code 0, no sanitizer report),
    or killed with SIGKILL (`crash()`); `verify()` runs `ctgd --verify` on its store;
  * `Server.request()`: a tiny HTTP client (one http.client connection per request) that checks
    the shape of every error answer (SPEC §3, docs/api.md "Errors");
  * `sse_first_event()`: the status and the first event of a /v1/events stream;
  * `ctgd_routes()`: the routes of the binary under test (`ctgd --routes`);
  * `CtgdTestCase`: a TestCase with a server per class and the assertions the suites share;
  * builders for realistic convention documents;
  * `main()`: the command line of every test module.

Python 3 standard library only.
"""

import contextlib
import hashlib
import http.client
import itertools
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
from collections import namedtuple

# CTGD_WRAPPER: a command that runs ctgd (e.g. "valgrind --error-exitcode=97"), which then
# gets more time to start (tests/CMakeLists.txt runs some suites so).
WRAPPER = shlex.split(os.environ.get("CTGD_WRAPPER", ""))
START_TIMEOUT = 60.0 if WRAPPER else 10.0   # seconds for ctgd to answer its health check
STOP_TIMEOUT = 60.0 if WRAPPER else 10.0    # seconds for ctgd to exit after SIGTERM
# The last one is ctgd's own: a JSON value left in an arena at exit (core/json_arena.c).
SANITIZER_MARKS = ("AddressSanitizer", "runtime error", "LeakSanitizer",
                   "a JSON value was never freed")

RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{2,63}$")

_ctgd_bin = None


def ctgd_binary():
    """The ctgd executable under test (set by main(), else CTGD_BIN)."""
    path = _ctgd_bin or os.environ.get("CTGD_BIN")
    if not path:
        raise unittest.SkipTest("no ctgd binary: pass --ctgd PATH or set CTGD_BIN")
    return path


def ctgd_routes():
    """Every route of the ctgd under test, as "METHOD /pattern" lines (`ctgd --routes`)."""
    out = subprocess.run([ctgd_binary(), "--routes"], stdin=subprocess.DEVNULL,
                         capture_output=True, timeout=10, check=True)
    return [line for line in out.stdout.decode("utf-8").splitlines() if line.strip()]


def tool_binary(env_name, *build_relative):
    """
    A companion program of the build (ctgctl, ctg_sub): $env_name, else build_relative from the
    folder of the ctgd binary (build/ctgctl, build/tests/ctg_sub). Skips the test when absent.
    """
    path = os.environ.get(env_name)
    if not path:
        try:
            path = os.path.join(os.path.dirname(os.path.abspath(ctgd_binary())), *build_relative)
        except unittest.SkipTest:
            path = None
    if not path or not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise unittest.SkipTest("no %s binary (set %s)" % (build_relative[-1], env_name))
    return os.path.abspath(path)


def ctgctl_binary():
    """ctgctl: CTGCTL_BIN, else next to the ctgd binary."""
    return tool_binary("CTGCTL_BIN", "ctgctl")


def ctg_sub_binary():
    """The raw subscriber tests/tools/ctg_sub: CTG_SUB_BIN, else tests/ctg_sub of the build."""
    return tool_binary("CTG_SUB_BIN", "tests", "ctg_sub")


def repo_root():
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# --------------------------------------------------------------------------------------------
# Tokens and configuration
# --------------------------------------------------------------------------------------------

class Token:
    """A configured token: its secret string and what the configuration says of it."""

    def __init__(self, name, role, departments):
        self.name = name
        self.role = role
        self.departments = departments          # "*" or a list of codes
        self.secret = "ctgtest-%s-%s" % (name, secrets.token_hex(16))

    @property
    def sha256(self):
        return hashlib.sha256(self.secret.encode()).hexdigest()


def standard_tokens():
    """The four tokens of the auth tests, by name: admin, ed29, rd29, ed49 (49 and 15)."""
    tokens = [
        Token("admin", "admin", "*"),
        Token("ed29", "editor", ["29"]),
        Token("rd29", "reader", ["29"]),
        Token("ed49", "editor", ["49", "15"]),
    ]
    return {t.name: t for t in tokens}


def lua_string(s):
    """A Lua string literal for s (the few escapes our values could need)."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def tokens_lua(tokens):
    lines = ["tokens = {"]
    for t in tokens:
        if t.departments == "*":
            deps = '"*"'
        else:
            deps = "{ " + ", ".join(lua_string(d) for d in t.departments) + " }"
        lines.append("  { name = %s, sha256 = %s, role = %s, departments = %s },"
                     % (lua_string(t.name), lua_string(t.sha256), lua_string(t.role), deps))
    lines.append("}")
    return "\n".join(lines)


def config_text(listen, data_dir, tokens=None, events_bind=None, extra_lines=(),
                events_heartbeat=None):
    """The Lua configuration (plain assignments, SPEC §6)."""
    lines = [
        "-- written by tests/integration/ctgd_harness.py",
        "listen = %s" % lua_string(listen),
        "data_dir = %s" % lua_string(data_dir),
        "map_size = 64 * 1024 * 1024",
        "plugins = { %s }" % lua_string(os.path.join(repo_root(), "plugins")),
    ]
    if events_bind and events_heartbeat is not None:
        lines.append("events = { bind = %s, heartbeat = %r }"
                     % (lua_string(events_bind), float(events_heartbeat)))
    elif events_bind:
        lines.append("events = { bind = %s }" % lua_string(events_bind))
    if tokens:
        lines.append(tokens_lua(tokens))
    lines.append("limits = { body_max = 1048576 }")
    lines.extend(extra_lines)
    return "\n".join(lines) + "\n"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------

Response = namedtuple("Response", "status headers body")


def _strict_object(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise AssertionError("ctgd answered JSON with duplicate keys: %r" % keys)
    return dict(pairs)


def media_type(headers):
    return headers.get("content-type", "").split(";")[0].strip().lower()


def check_error_shape(method, path, status, headers, body):
    """Every 4xx/5xx answer: application/json, {"error": {"status", "code", "message"}}."""
    where = "%s %s -> %d" % (method, path, status)
    if media_type(headers) != "application/json":
        raise AssertionError("%s: error answer has Content-Type %r, want application/json; body %r"
                             % (where, headers.get("content-type"), body))
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        raise AssertionError('%s: error body is not {"error": {...}}: %r' % (where, body))
    err = body["error"]
    if err.get("status") != status:
        raise AssertionError("%s: error.status is %r, not the HTTP status: %r"
                             % (where, err.get("status"), body))
    if not isinstance(err.get("code"), str) or not err["code"]:
        raise AssertionError("%s: error.code missing: %r" % (where, body))
    if not isinstance(err.get("message"), str) or not err["message"]:
        raise AssertionError("%s: error.message missing: %r" % (where, body))
    if "details" in err:
        details = err["details"]
        if not isinstance(details, list) or not all(
                isinstance(d, dict) and isinstance(d.get("path"), str)
                and isinstance(d.get("message"), str) for d in details):
            raise AssertionError("%s: error.details is not [{path, message}]: %r" % (where, body))


def http_request(host, port, method, path, body=None, headers=None, token=None, raw=None,
                 timeout=30.0, check_errors=True, chunked=False):
    """
    One request on a fresh connection. `body` is sent as JSON, `raw` (bytes) as it is; both get
    Content-Type application/json unless `headers` says otherwise (a header given as None is not
    sent at all). `chunked` sends the body with Transfer-Encoding: chunked. Returns Response(status, headers with lower-case names, parsed JSON when the
    answer is JSON, else the raw bytes).
    """
    hdrs = {}
    data = None
    if raw is not None:
        data = raw
        hdrs["Content-Type"] = "application/json"
    elif body is not None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        hdrs["Content-Type"] = "application/json"
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    for name, value in (headers or {}).items():
        for existing in [k for k in hdrs if k.lower() == name.lower()]:
            del hdrs[existing]
        if value is not None:
            hdrs[name] = value

    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        try:
            if chunked:
                step = 64 * 1024
                chunks = [data[i:i + step] for i in range(0, len(data or b""), step)]
                conn.request(method, path, body=iter(chunks), headers=hdrs, encode_chunked=True)
            else:
                conn.request(method, path, body=data, headers=hdrs)
        except (BrokenPipeError, ConnectionResetError):
            # The server may answer (413) before reading the whole body: read its answer,
            # unless the connection is gone (a server killed mid-request).
            if conn.sock is None:
                raise
        resp = conn.getresponse()
        payload = resp.read()
        rheaders = _response_headers(resp)
        status = resp.status
    finally:
        conn.close()
    return _answer(method, path, status, rheaders, payload, check_errors)


def _response_headers(resp):
    """The headers of an http.client response, names in lower case, repeated ones joined."""
    rheaders = {}
    for name, value in resp.getheaders():
        name = name.lower()
        rheaders[name] = rheaders[name] + ", " + value if name in rheaders else value
    return rheaders


def _answer(method, path, status, rheaders, payload, check_errors=True):
    """Response(status, headers, body): JSON parsed (strictly), error shapes checked."""
    parsed = payload
    if payload and media_type(rheaders) == "application/json":
        try:
            parsed = json.loads(payload.decode("utf-8"), object_pairs_hook=_strict_object)
        except (UnicodeDecodeError, ValueError) as e:
            raise AssertionError("%s %s -> %d: answer is not valid JSON (%s): %r"
                                 % (method, path, status, e, payload[:500]))
    if check_errors and status >= 400:
        check_error_shape(method, path, status, rheaders, parsed)
    return Response(status, rheaders, parsed)


def sse_first_event(host, port, path, token=None, timeout=10.0):
    """
    GET `path` as Server-Sent Events, reading the status, the headers and the first event only
    (the first block with a data: field; retry: and comments are skipped), then closing.
    Returns Response: on 200 the body is {"id": int, "event": str, "data": parsed JSON}; on an
    error the JSON error, checked like any other.
    """
    hdrs = {"Accept": "text/event-stream"}
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=hdrs)
        resp = conn.getresponse()
        rheaders = _response_headers(resp)
        if resp.status != 200:
            return _answer("GET", path, resp.status, rheaders, resp.read())
        fields = {}
        while True:
            raw = resp.readline()
            if not raw:
                raise AssertionError("GET %s: the stream ended before its first event" % path)
            line = raw.decode("utf-8").rstrip("\r\n")
            if line:
                if not line.startswith(":"):
                    name, _, value = line.partition(":")
                    fields[name] = value[1:] if value.startswith(" ") else value
            elif "data" in fields:
                break
            else:
                fields = {}       # the end of a block without data (retry:, a comment)
        event = {"id": int(fields["id"]), "event": fields.get("event"),
                 "data": json.loads(fields["data"])}
        return Response(200, rheaders, event)
    finally:
        conn.close()


def together(thunks, timeout=60):
    """Runs the functions in threads released at the same moment; their results, in order.
    An exception raised in one is raised here once all have ended."""
    results = [None] * len(thunks)
    barrier = threading.Barrier(len(thunks))

    def run(i):
        barrier.wait()
        try:
            results[i] = thunks[i]()
        except BaseException as e:      # reported below
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(thunks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    for res in results:
        if isinstance(res, BaseException):
            raise res
    return results


def read_http_answer(sock, buffered=b""):
    """(status, body, bytes read past the answer) of one HTTP/1.1 answer with Content-Length."""
    data = buffered
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the connection closed before the headers")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the connection closed inside a body")
        rest += chunk
    return int(lines[0].split()[1]), rest[:length], rest[length:]


def qs(**params):
    """A query string (with its '?') from keyword arguments; None values are left out."""
    items = [(k, v) for k, v in params.items() if v is not None]
    return "?" + urllib.parse.urlencode(items, quote_via=urllib.parse.quote) if items else ""


def conv_path(conv_id, *rest):
    return "/v1/conventions/" + "/".join([conv_id] + [str(r) for r in rest])


def if_match(rev, **more):
    """The headers of a write that names the rev it read (and any `more` headers)."""
    return dict({"If-Match": '"%d"' % rev}, **more)


# --------------------------------------------------------------------------------------------
# The ctgd process
# --------------------------------------------------------------------------------------------

_all_servers = []   # every Server started in this run, so failures can show their logs


class ServerError(AssertionError):
    pass


class Server:
    """
    One ctgd process. `tokens` is a list of Token (None: open API); `data_dir` defaults to a
    folder of the server's own temporary directory (pass one to share it across restarts).
    """

    def __init__(self, tokens=None, data_dir=None, listen_host="127.0.0.1", extra_lines=(),
                 label="ctgd", events_heartbeat=None):
        self.tokens = list(tokens or [])
        self.listen_host = listen_host
        self.extra_lines = list(extra_lines)
        self.label = label
        self.events_heartbeat = events_heartbeat   # seconds; None: ctgd's default (5 s)
        self.workdir = tempfile.mkdtemp(prefix="ctgd-it-")
        self.data_dir = data_dir or os.path.join(self.workdir, "data")
        os.makedirs(self.data_dir, exist_ok=True)
        self.config_path = os.path.join(self.workdir, "ctgd.conf")
        self.stdout_path = os.path.join(self.workdir, "ctgd.stdout.log")
        self.stderr_path = os.path.join(self.workdir, "ctgd.stderr.log")
        self.proc = None
        self.port = None
        self.host = "127.0.0.1"
        self.returncode = None
        self._final_output = None
        _all_servers.append(self)

    # -- configuration ----------------------------------------------------------------------

    def write_config(self, port):
        text = config_text("%s:%d" % (self.listen_host, port), self.data_dir, self.tokens,
                           events_bind=self.events_endpoint, extra_lines=self.extra_lines,
                           events_heartbeat=self.events_heartbeat)
        with open(self.config_path, "w", encoding="utf-8") as f:
            f.write(text)

    @property
    def events_endpoint(self):
        """The nanomsg endpoint ctgd publishes its change events on (an ipc:// in workdir)."""
        return "ipc://" + os.path.join(self.workdir, "events.ipc")

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    def token(self, name):
        for t in self.tokens:
            if t.name == name:
                return t.secret
        raise KeyError(name)

    @property
    def admin_token(self):
        """A token that may read everything (None when the API is open)."""
        for t in self.tokens:
            if t.role == "admin" and t.departments == "*":
                return t.secret
        return None

    # -- process ----------------------------------------------------------------------------

    def _spawn(self, port):
        self.port = port
        self.write_config(port)
        out = open(self.stdout_path, "ab")
        err = open(self.stderr_path, "ab")
        try:
            self.proc = subprocess.Popen(WRAPPER + [ctgd_binary(), "-c", self.config_path],
                                         stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         cwd=self.workdir)
        finally:
            out.close()
            err.close()

    def _wait_healthy(self, timeout):
        """True once GET /v1/health answers 200; False if ctgd exits or the time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                r = http_request(self.host, self.port, "GET", "/v1/health", timeout=2.0,
                                 check_errors=False)
                if r.status == 200:
                    return True
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.05)
        return False

    def start(self, attempts=3):
        """Starts ctgd on a free port and waits for its health check (retrying a new port)."""
        for attempt in range(attempts):
            self._spawn(free_port())
            if self._wait_healthy(START_TIMEOUT):
                return self
            if self.proc.poll() is None:
                self._kill()
                raise ServerError("ctgd did not answer GET /v1/health within %.0f s\n%s"
                                  % (START_TIMEOUT, self.output_report()))
            self.returncode = self.proc.returncode
            self.proc = None
            if attempt + 1 == attempts:
                raise ServerError("ctgd exited with code %s before answering its health check\n%s"
                                  % (self.returncode, self.output_report()))
        return self

    def start_again(self, timeout=START_TIMEOUT):
        """
        After stop(): starts ctgd again with the same configuration, data and port (so that
        clients holding the URL or the events endpoint reach the new process).
        """
        if self.proc is not None:
            raise ServerError("start_again() while ctgd runs")
        self._spawn(self.port)
        if self._wait_healthy(timeout):
            return self
        self._kill()
        self.proc = None
        raise ServerError("ctgd did not start again on port %s\n%s"
                          % (self.port, self.output_report()))

    def run_until_exit(self, timeout=START_TIMEOUT):
        """For a server expected to refuse to start: (exit code, stdout + stderr)."""
        self._spawn(free_port())
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            raise ServerError("ctgd was expected to exit but still runs after %.0f s\n%s"
                              % (timeout, self.output_report()))
        finally:
            self.proc = None
        return self.returncode, self.output()

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None:
            self.returncode = self.proc.returncode

    def crash(self):
        """SIGKILL, as a power cut would stop it: no shutdown, nothing checked; start() again."""
        if self.proc is None or self.proc.poll() is not None:
            raise ServerError("crash() of a ctgd that does not run\n%s" % self.output_report())
        self._kill()
        self.proc = None

    def verify(self, timeout=60.0):
        """
        `ctgd --verify` on this server's store (running or not): (exit code, output). Fails on a
        sanitizer report.
        """
        proc = subprocess.run([ctgd_binary(), "--verify", "-c", self.config_path],
                              cwd=self.workdir, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout)
        out = (proc.stdout + proc.stderr).decode("utf-8", errors="replace")
        for mark in SANITIZER_MARKS:
            if mark in out:
                raise ServerError("ctgd --verify reported %r:\n%s" % (mark, out[-4000:]))
        return proc.returncode, out

    def stop(self):
        """SIGTERM; asserts exit code 0 within STOP_TIMEOUT and no sanitizer report."""
        if self.proc is None:
            return
        proc = self.proc
        try:
            if proc.poll() is not None:
                raise ServerError("ctgd had already exited (code %s) before SIGTERM\n%s"
                                  % (proc.returncode, self.output_report()))
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise ServerError("ctgd did not exit within %.0f s of SIGTERM (killed with "
                                  "SIGKILL)\n%s" % (STOP_TIMEOUT, self.output_report()))
            self.returncode = proc.returncode
            if proc.returncode != 0:
                raise ServerError("ctgd exited with code %s after SIGTERM, want 0\n%s"
                                  % (proc.returncode, self.output_report()))
            self.check_no_sanitizer_report()
        finally:
            self.proc = None
            self._final_output = self.output()

    def check_no_sanitizer_report(self):
        out = self.output()
        for mark in SANITIZER_MARKS:
            if mark in out:
                raise ServerError("ctgd's output contains %r\n%s" % (mark, self.output_report()))

    def cleanup(self):
        """Stops (without checks) and removes the temporary directory."""
        if self.proc is not None:
            self._kill()
            self.proc = None
        self._final_output = self.output()
        if not os.environ.get("CTGD_KEEP_TMP"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- logs -------------------------------------------------------------------------------

    def stderr(self):
        return _read(self.stderr_path)

    def output(self):
        if not os.path.isdir(self.workdir) and self._final_output is not None:
            return self._final_output
        return _read(self.stdout_path) + _read(self.stderr_path)

    def output_report(self, tail_lines=80):
        lines = self.output().splitlines()
        shown = lines[-tail_lines:]
        return ("---- %s (port %s, %s) output, last %d of %d lines ----\n%s\n---- end ----"
                % (self.label, self.port, self.workdir, len(shown), len(lines), "\n".join(shown)))

    # -- HTTP -------------------------------------------------------------------------------

    def request(self, method, path, body=None, headers=None, token=None, raw=None, **kw):
        return http_request(self.host, self.port, method, path, body=body, headers=headers,
                            token=token, raw=raw, **kw)

    def sse_first_event(self, path, token=None, timeout=10.0):
        return sse_first_event(self.host, self.port, path, token=token, timeout=timeout)


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


# --------------------------------------------------------------------------------------------
# Documents
# --------------------------------------------------------------------------------------------

_ids = itertools.count(1)


def new_id(prefix="t"):
    """A fresh convention id, unique within this run."""
    return "%s-%04d-%s" % (prefix, next(_ids), secrets.token_hex(3))


def convention(department="29", id=None, **overrides):
    """
    A realistic, valid convention (Pays Bigouden Sud, Finistère). Keyword arguments replace
    top-level keys; a value of None removes the key.
    """
    doc = {
        "department": department,
        "title": "Convention territoriale globale du Pays Bigouden Sud",
        "territory": {
            "name": "Communauté de communes du Pays Bigouden Sud",
            "kind": "epci",
            "siren": "242900645",
            "communes": ["Pont-l'Abbé", "Le Guilvinec", "Loctudy", "Penmarc'h", "Combrit",
                         "Plobannalec-Lesconil", "Tréméoc", "Treffiagat"],
        },
        "signatories": [
            {"organisation": "Caf du Finistère", "role": "caf",
             "representatives": [{"name": "Anne Le Gall", "title": "Directrice"}]},
            {"organisation": "Conseil départemental du Finistère", "role": "departement",
             "representatives": [{"name": "Yann Kerbrat", "title": "Vice-président"}]},
            {"organisation": "Communauté de communes du Pays Bigouden Sud", "role": "epci",
             "representatives": [{"name": "Marie Cariou", "title": "Présidente"}]},
        ],
        "signed_on": "2020-02-11",
        "period": {"start": "2020-01-01", "end": "2023-12-31"},
        "status": "action_plan",
        "champs": ["jeunesse", "logement"],
        "objectives": [
            {"id": "obj-jeunesse", "title": "Accompagner les jeunes vers l'autonomie",
             "goals": ["Développer l'information jeunesse", "Soutenir les projets des 16-25 ans"]},
            {"id": "obj-logement", "title": "Faciliter l'accès au logement",
             "goals": ["Aider l'accès au premier logement"]},
        ],
        "actions": [
            {"id": "act-1", "number": 1, "title": "Point information jeunesse itinérant",
             "objective": "obj-jeunesse", "champ": "jeunesse", "status": "in_progress",
             "progress": 40, "lead": "Communauté de communes", "budget": 25000,
             "start": "2020-09-01", "end": "2022-06-30", "figures": {"jeunes_accueillis": 120}},
            {"id": "act-2", "number": 2, "title": "Aide à l'accès au premier logement",
             "objective": "obj-logement", "champ": "logement", "status": "planned",
             "progress": 0, "lead": "Caf du Finistère", "budget": 12000.5,
             "start": "2021-01-01", "end": "2023-12-31", "figures": {}},
            {"id": "act-3", "number": "3.1", "title": "Forum des métiers de l'animation",
             "objective": "obj-jeunesse", "champ": "jeunesse", "status": "done",
             "progress": 100, "lead": "Mission locale", "budget": 3000,
             "start": "2020-03-01", "end": "2020-11-30", "figures": {"participants": 85}},
        ],
        "governance": {
            "steering_committee": ["Caf du Finistère", "Conseil départemental",
                                   "Communauté de communes"],
            "thematic_committees": [{"name": "Commission jeunesse", "champs": ["jeunesse"],
                                     "members": ["Mission locale", "PIJ"]}],
        },
        "diagnostic": {"year": 2019, "figures": {"population": 37500, "children_0_3": 950}},
        "funding": [{"year": 2020, "amount": 150000, "source": "caf",
                     "label": "Bonus territoire CTG"}],
        "extra": {"referent_caf": "Service action sociale, Quimper"},
    }
    return with_overrides(doc, id, overrides)


def with_overrides(doc, id, overrides):
    """`doc` with `id` (when given) and `overrides` (a value of None removes the key)."""
    if id is not None:
        doc["id"] = id
    for key, value in overrides.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


def minimal_convention(department="29", id=None, title="Convention territoriale globale",
                       status="preparation", **overrides):
    """A valid convention with the required fields only (plus overrides)."""
    doc = {"department": department, "title": title, "status": status,
           "period": {"start": "2022-01-01", "end": "2025-12-31"}}
    return with_overrides(doc, id, overrides)


def client_view(doc):
    """The client-set keys of a stored doc (server-set fields removed)."""
    server_fields = {"rev", "created_at", "updated_at", "created_by", "updated_by"}
    return {k: v for k, v in doc.items() if k not in server_fields}


def parse_metrics(text):
    """Prometheus text -> list of (name, labels dict, value)."""
    samples = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)', line)
        if not m:
            continue
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        try:
            value = float(m.group(4))
        except ValueError:
            continue
        samples.append((m.group(1), labels, value))
    return samples


def metric_sum(text, name, **labels):
    return sum(v for n, l, v in parse_metrics(text)
               if n == name and all(l.get(k) == str(x) for k, x in labels.items()))


# --------------------------------------------------------------------------------------------
# TestCase
# --------------------------------------------------------------------------------------------

class CtgdTestCase(unittest.TestCase):
    """
    A TestCase with one ctgd per class (`server_kwargs` say how to configure it; set
    `start_class_server = False` for classes that start their own). A failing test's report
    ends with the output of the servers involved.
    """

    server_kwargs = {}
    start_class_server = True
    server = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not cls.start_class_server:
            return
        kwargs = dict(cls.server_kwargs)
        if callable(kwargs.get("tokens")):
            kwargs["tokens"] = kwargs["tokens"]()
        kwargs.setdefault("label", "ctgd for %s" % cls.__name__)
        cls.server = Server(**kwargs)
        cls.addClassCleanup(cls.server.cleanup)
        cls.server.start()
        cls.addClassCleanup(cls.server.stop)

    def tearDown(self):
        # A class server that died (a crash, a sanitizer abort) fails the test that killed it
        # and is started again on the same data, so that the following tests still say
        # something; its log keeps the report, and the class's final stop fails on it too.
        server = type(self).server
        if server is not None and server.proc is not None and server.proc.poll() is not None:
            rc = server.proc.returncode
            server.proc = None
            server.start()
            self.fail("ctgd died during this test (exit code %s); restarted for the next tests"
                      % rc)
        super().tearDown()

    def run(self, result=None):
        if result is None:
            return super().run(result)
        first_server = len(_all_servers)
        counts = (len(result.failures), len(result.errors))
        out = super().run(result)
        servers = ([type(self).server] if type(self).server else []) + _all_servers[first_server:]
        if servers:
            for lst, n in ((result.failures, counts[0]), (result.errors, counts[1])):
                for i in range(n, len(lst)):
                    test, tb = lst[i]
                    lst[i] = (test, tb + "\n" + "\n".join(s.output_report(40) for s in servers))
        return out

    # -- requests ---------------------------------------------------------------------------

    def request(self, method, path, body=None, headers=None, token=None, raw=None, **kw):
        return self.server.request(method, path, body=body, headers=headers, token=token,
                                   raw=raw, **kw)

    def health(self):
        r = self.request("GET", "/v1/health")
        self.assertEqual(r.status, 200, r.body)
        return r.body

    def last_seq(self):
        return self.health()["last_seq"]

    def create(self, doc, token=None):
        """POST a doc that must be accepted; returns the stored doc."""
        r = self.request("POST", "/v1/conventions", doc, token=token or self.server.admin_token)
        self.assertEqual(r.status, 201, r.body)
        return r.body

    def get_doc(self, conv_id, token=None):
        r = self.request("GET", conv_path(conv_id), token=token or self.server.admin_token)
        self.assertEqual(r.status, 200, r.body)
        return r.body

    def change_log(self, since=0):
        """Every change-log entry after `since`, in seq order, read page by page."""
        changes = []
        while True:
            r = self.request("GET", "/v1/changes" + qs(since=since, limit=1000),
                             token=self.server.admin_token)
            self.assertEqual(r.status, 200, r.body)
            changes += r.body["changes"]
            if r.body["last_seq"] == since:
                return changes
            since = r.body["last_seq"]

    def snapshot(self, ids):
        """What a refused write must not change: last_seq and the GET answer of each id."""
        token = self.server.admin_token
        state = {"last_seq": self.last_seq()}
        for conv_id in ids:
            r = self.request("GET", conv_path(conv_id), token=token)
            state[conv_id] = (r.status, r.body if r.status == 200 else None)
        return state

    @contextlib.contextmanager
    def assertNoWrite(self, *ids):
        """The block must change nothing: same last_seq, same docs (or still absent)."""
        before = self.snapshot(ids)
        yield
        after = self.snapshot(ids)
        self.assertEqual(after, before, "a refused request changed the store")

    # -- assertions -------------------------------------------------------------------------

    def assertError(self, resp, status, code=None):
        self.assertEqual(resp.status, status, "want %d %s, got %d: %r"
                         % (status, code or "", resp.status, resp.body))
        if code is not None:
            self.assertEqual(resp.body["error"]["code"], code, resp.body)
        return resp.body["error"]

    def assertDetailPaths(self, resp, *paths):
        """A 422 validation_failed whose details name every one of `paths`."""
        err = self.assertError(resp, 422, "validation_failed")
        got = [d["path"] for d in err.get("details", [])]
        for p in paths:
            self.assertIn(p, got, "details %r do not name %s" % (err.get("details"), p))
        return got

    def assertTimestamp(self, value):
        self.assertIsInstance(value, str)
        self.assertRegex(value, RFC3339_UTC)

    def assertStoreSound(self, server=None):
        """`ctgd --verify` finds every invariant of the store kept; returns its report."""
        return self.assertSoundReport(*(server or self.server).verify())

    def assertSoundReport(self, rc, out):
        """What Server.verify() returned says that the store is sound."""
        self.assertEqual(rc, 0, "ctgd --verify found the store unsound:\n%s" % out[-6000:])
        self.assertRegex(out, r": sound\n$")
        return out

    def assertETag(self, resp, rev):
        self.assertEqual(resp.headers.get("etag"), '"%d"' % rev, resp.headers)

    def assertNoPieceOf(self, secret, text, width=8):
        """No `width` consecutive characters of `secret` (a token) appear in `text`."""
        for i in range(len(secret) - width + 1):
            self.assertNotIn(secret[i:i + width], text, "%d characters of a token's secret (from "
                             "its character %d) appear" % (width, i))


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------

def main(module="__main__"):
    """`python3 test_x.py [--ctgd PATH] [unittest options]`; exit 0 only if all tests pass."""
    global _ctgd_bin
    argv = [sys.argv[0]]
    args = iter(sys.argv[1:])
    for arg in args:
        if arg == "--ctgd":
            _ctgd_bin = next(args, None)
        elif arg.startswith("--ctgd="):
            _ctgd_bin = arg.split("=", 1)[1]
        else:
            argv.append(arg)
    path = _ctgd_bin or os.environ.get("CTGD_BIN")
    if not path:
        sys.stderr.write("usage: %s --ctgd PATH/TO/ctgd [unittest options] "
                         "(or set CTGD_BIN)\n" % sys.argv[0])
        sys.exit(2)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        sys.stderr.write("%s: no executable ctgd at %s\n" % (sys.argv[0], path))
        sys.exit(2)
    _ctgd_bin = os.path.abspath(path)
    prog = unittest.main(module=module, argv=argv, exit=False)
    result = prog.result
    sys.exit(0 if result.wasSuccessful() and result.testsRun > 0 else 1)
