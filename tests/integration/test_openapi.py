#!/usr/bin/env python3
"""
test_openapi.py — docs/openapi.yaml, the OpenAPI 3 description of the HTTP API, against ctgd
itself, so that the description cannot drift from the code:

  * its (method, path) pairs are those that `ctgd --routes` prints (HEAD is implied by GET);
  * GET /v1/openapi.yaml serves the same bytes, as application/yaml, without a token;
  * every {parameter} of a route pattern is declared as a path parameter of that path;
  * the write routes list every status docs/api.md says they answer, and the error codes are
    those of docs/api.md's error table;
  * only GET /v1/health and GET /v1/openapi.yaml are described as open, as ctgd answers;
  * the media types and the shapes ctgd answers fit the description.

    python3 tests/integration/test_openapi.py --ctgd build/ctgd [unittest options]

Rebuild first (`cmake --build build`): the served YAML is the one compiled into ctgd.
No YAML library is needed: read_yaml_subset() reads the subset docs/openapi.yaml is written
in (its header says which). Where PyYAML, openapi-spec-validator or openapi-schema-validator
are installed, a few more checks run with them; they are skipped elsewhere.
"""

import json
import os
import re
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ctgd_harness import (CtgdTestCase, conv_path, convention, ctgd_binary, main,  # noqa: E402
                          media_type, minimal_convention, new_id, repo_root, standard_tokens)

OPENAPI_PATH = os.path.join(repo_root(), "docs", "openapi.yaml")
API_MD_PATH = os.path.join(repo_root(), "docs", "api.md")

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# The routes that answer without a token (http_route.open in the code).
OPEN_ROUTES = {("GET", "/v1/health"), ("GET", "/v1/openapi.yaml"), ("GET", "/"),
               ("GET", "/ui/{file}")}

# What docs/api.md says each write route can answer (success and errors).
WRITE_ROUTE_STATUSES = {
    ("POST", "/v1/conventions"): {201, 400, 401, 403, 409, 413, 415, 422, 500, 507},
    ("PUT", "/v1/conventions/{id}"):
        {200, 201, 400, 401, 403, 404, 409, 412, 413, 415, 422, 428, 500, 507},
    ("PATCH", "/v1/conventions/{id}"):
        {200, 400, 401, 403, 404, 409, 412, 413, 415, 422, 428, 500, 507},
    ("PATCH", "/v1/conventions/{id}/actions/{action_id}"):
        {200, 400, 401, 403, 404, 409, 412, 413, 415, 422, 428, 500, 507},
    ("DELETE", "/v1/conventions/{id}"):
        {200, 400, 401, 403, 404, 409, 412, 413, 415, 428, 500, 507},
    ("POST", "/v1/conventions/_bulk"): {200, 400, 401, 403, 413, 415, 500},
    ("POST", "/v1/plugins/reload"): {200, 401, 403, 422, 500},
}

# Values for the {parameters} of a route pattern when a test calls every route.
SAMPLE_PARAMS = {"id": "abc-000", "action_id": "act-1", "rev": "1", "code": "29",
                 "key": "synthese", "file": "app.js"}


def read_file(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


# --------------------------------------------------------------------------------------------
# Reading the YAML
# --------------------------------------------------------------------------------------------

def routes_by_lines(text):
    """
    The (METHOD, path) pairs of the `paths:` section, read line by line: `paths:` at column 0,
    each path at 2 spaces, each method at 4 (the layout docs/openapi.yaml promises).
    """
    routes, in_paths, path = set(), False, None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            in_paths = line.rstrip() == "paths:"
            continue
        if not in_paths:
            continue
        m = re.match(r"^  (/\S*):\s*$", line)
        if m:
            path = m.group(1)
            continue
        m = re.match(r"^    ([a-z]+):\s*$", line)
        if m and path and m.group(1) in HTTP_METHODS:
            routes.add((m.group(1).upper(), path))
    return routes


class YamlSubsetError(ValueError):
    pass


_INT_RE = re.compile(r"^[-+]?[0-9]+$")
_FLOAT_RE = re.compile(r"^[-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$")


def _plain_scalar(text):
    if text in ("null", "Null", "NULL", "~", ""):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if _INT_RE.match(text):
        return int(text)
    if _FLOAT_RE.match(text):
        return float(text)
    return text


def _quoted(text, start):
    """The quoted scalar at text[start] and the index after it."""
    quote = text[start]
    i = start + 1
    if quote == "'":
        out = []
        while i < len(text):
            if text[i] == "'":
                if text[i + 1:i + 2] == "'":
                    out.append("'")
                    i += 2
                    continue
                return "".join(out), i + 1
            out.append(text[i])
            i += 1
    else:
        while i < len(text):
            if text[i] == "\\":
                i += 2
                continue
            if text[i] == '"':
                return json.loads(text[start:i + 1]), i + 1
            i += 1
    raise YamlSubsetError("unterminated quoted scalar: %s" % text)


def _flow(text, i):
    """A flow collection or scalar at text[i]: (value, next index)."""
    while text[i] == " ":
        i += 1
    if text[i] in "[{":
        closing = "]" if text[i] == "[" else "}"
        items, pairs = [], {}
        i += 1
        while True:
            while text[i] == " ":
                i += 1
            if text[i] == closing:
                return (items if closing == "]" else pairs), i + 1
            if closing == "]":
                value, i = _flow(text, i)
                items.append(value)
            else:
                key, i = _flow(text, i)
                while text[i] == " ":
                    i += 1
                if text[i] != ":":
                    raise YamlSubsetError("flow mapping without ':': %s" % text)
                value, i = _flow(text, i + 1)
                pairs[key] = value
            while text[i] == " ":
                i += 1
            if text[i] == ",":
                i += 1
            elif text[i] != closing:
                raise YamlSubsetError("bad flow collection: %s" % text)
    if text[i] in "'\"":
        return _quoted(text, i)
    m = re.match(r"[^,\]\}:]*", text[i:])
    return _plain_scalar(m.group(0).strip()), i + m.end()


def _scalar(text, lineno):
    if text.startswith(("[", "{")):
        value, end = _flow(text, 0)
    elif text.startswith(("'", '"')):
        value, end = _quoted(text, 0)
    else:
        if " #" in text or text.startswith(("&", "*", "!", "%", "@", "`")):
            raise YamlSubsetError("line %d: not in the subset: %r" % (lineno, text))
        return _plain_scalar(text.strip())
    if text[end:].strip():
        raise YamlSubsetError("line %d: text after a value: %r" % (lineno, text))
    return value


def _split_key(content):
    """(key, rest of the line) when `content` starts a mapping entry, else None."""
    if content.startswith(("'", '"')):
        key, end = _quoted(content, 0)
        if content[end:end + 1] == ":" and content[end + 1:end + 2] in ("", " "):
            return key, content[end + 1:].strip()
        return None
    m = re.match(r"^([^\s'\"\[\]{}#,][^#]*?):(\s|$)", content)
    if not m:
        return None
    return _plain_scalar(m.group(1)), content[m.end():].strip()


class _SubsetReader:
    def __init__(self, text):
        self.lines = text.split("\n")
        self.i = 0

    def peek(self):
        """(indent, content, line number) of the next significant line, or None."""
        while self.i < len(self.lines):
            raw = self.lines[self.i]
            content = raw.strip()
            if content and not content.startswith("#"):
                indent = len(raw) - len(raw.lstrip(" "))
                if raw[indent] == "\t":
                    raise YamlSubsetError("line %d: tab indentation" % (self.i + 1))
                return indent, content, self.i + 1
            self.i += 1
        return None

    def node(self, min_indent):
        nxt = self.peek()
        if nxt is None or nxt[0] < min_indent:
            return None
        if nxt[1] == "-" or nxt[1].startswith("- "):
            return self.sequence(nxt[0])
        return self.mapping(nxt[0])

    def mapping(self, indent):
        result = {}
        while True:
            nxt = self.peek()
            if nxt is None or nxt[0] < indent:
                return result
            ind, content, lineno = nxt
            if ind > indent:
                raise YamlSubsetError("line %d: unexpected indentation" % lineno)
            entry = _split_key(content)
            if entry is None:
                raise YamlSubsetError("line %d: not a mapping entry: %r" % (lineno, content))
            key, rest = entry
            if key in result:
                raise YamlSubsetError("line %d: duplicate key %r" % (lineno, key))
            self.i += 1
            result[key] = self.value(rest, indent, lineno)

    def sequence(self, indent):
        result = []
        while True:
            nxt = self.peek()
            if nxt is None or nxt[0] < indent:
                return result
            ind, content, lineno = nxt
            if ind > indent or not (content == "-" or content.startswith("- ")):
                if ind == indent:
                    return result
                raise YamlSubsetError("line %d: unexpected indentation" % lineno)
            rest = content[1:].strip()
            if not rest:
                self.i += 1
                result.append(self.node(indent + 1))
            elif _split_key(rest) is not None:
                # "- key: value" opens a mapping two columns in: read it as if on its own line.
                self.lines[self.i] = " " * (indent + 2) + rest
                result.append(self.mapping(indent + 2))
            else:
                self.i += 1
                result.append(_scalar(rest, lineno))

    def block_scalar(self, style, indent):
        lines = []
        while self.i < len(self.lines):
            raw = self.lines[self.i]
            if raw.strip() and len(raw) - len(raw.lstrip(" ")) <= indent:
                break
            lines.append(raw)
            self.i += 1
        while lines and not lines[-1].strip():
            lines.pop()
        body = [line for line in lines if line.strip()]
        cut = min(len(line) - len(line.lstrip(" ")) for line in body) if body else 0
        text = "\n".join(line[cut:] for line in lines)
        return text + "\n" if style == "|" and text else text

    def value(self, rest, indent, lineno):
        if rest == "":
            return self.node(indent + 1)
        if rest in ("|", "|-"):
            return self.block_scalar(rest, indent)
        if rest.startswith((">", "|")):
            raise YamlSubsetError("line %d: block scalar style %r not in the subset"
                                  % (lineno, rest))
        return _scalar(rest, lineno)


def read_yaml_subset(text):
    """
    Reads the YAML subset docs/openapi.yaml is written in: block mappings and sequences,
    plain and quoted scalars, one-line flow collections, `|` and `|-` block scalars, comments
    on their own lines. Raises YamlSubsetError on anything else.
    """
    reader = _SubsetReader(text)
    doc = reader.node(0)
    rest = reader.peek()
    if rest is not None:
        raise YamlSubsetError("line %d: unexpected content: %r" % (rest[2], rest[1]))
    return doc


def resolve(doc, ref):
    """The object a local $ref ('#/a/b') names."""
    if not ref.startswith("#/"):
        raise KeyError("not a local $ref: %s" % ref)
    node = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def deref(doc, node):
    while isinstance(node, dict) and "$ref" in node:
        node = resolve(doc, node["$ref"])
    return node


def operations(spec):
    """(METHOD, path, path item, operation) for every operation of the description."""
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield method.upper(), path, item, item[method]


def pattern_params(path):
    return re.findall(r"\{([^}]+)\}", path)


def sample_path(path):
    return re.sub(r"\{([^}]+)\}", lambda m: SAMPLE_PARAMS[m.group(1)], path)


def ctgd_routes():
    out = subprocess.run([ctgd_binary(), "--routes"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=30, check=True).stdout.decode()
    routes = set()
    for line in out.splitlines():
        if line.strip():
            method, pattern = line.split()
            routes.add((method, pattern))
    # HEAD is implied by GET in the description.
    return {r for r in routes if not (r[0] == "HEAD" and ("GET", r[1]) in routes)}


def api_md_error_table():
    """(status, code) of every row of docs/api.md's error table."""
    rows = re.findall(r"^\| (\d{3}) \| `([a-z_]+)` \|", read_file(API_MD_PATH), re.M)
    return {(int(status), code) for status, code in rows}


# --------------------------------------------------------------------------------------------
# The description on its own
# --------------------------------------------------------------------------------------------

class DescriptionTests(unittest.TestCase):
    """docs/openapi.yaml against `ctgd --routes` and docs/api.md; no server needed."""

    @classmethod
    def setUpClass(cls):
        cls.text = read_file(OPENAPI_PATH)
        cls.spec = read_yaml_subset(cls.text)

    def test_header(self):
        self.assertEqual(self.spec["openapi"], "3.0.3")
        self.assertTrue(self.spec["info"]["title"])
        self.assertTrue(self.spec["info"]["version"])

    def test_routes_match_ctgd(self):
        described = routes_by_lines(self.text)
        served = ctgd_routes()
        self.assertTrue(served, "ctgd --routes printed nothing")
        missing = sorted(served - described)
        extra = sorted(described - served)
        self.assertFalse(missing or extra,
                         "docs/openapi.yaml and `ctgd --routes` differ:\n"
                         "  served by ctgd, not described: %s\n"
                         "  described, not served by ctgd: %s"
                         % (", ".join("%s %s" % r for r in missing) or "none",
                            ", ".join("%s %s" % r for r in extra) or "none"))

    def test_line_reading_agrees_with_the_subset_reader(self):
        by_reader = {(m, p) for m, p, _, _ in operations(self.spec)}
        self.assertEqual(routes_by_lines(self.text), by_reader,
                         "the paths are not in the promised layout (2 spaces, methods at 4)")
        self.assertNotIn("HEAD", {m for m, _ in by_reader}, "HEAD is implied by GET")

    def test_path_parameters_are_declared(self):
        problems = []
        for path, item in self.spec["paths"].items():
            named = set(pattern_params(path))
            for method in [m for m in HTTP_METHODS if m in item] or [None]:
                params = list(item.get("parameters", []))
                if method:
                    params += item[method].get("parameters", [])
                declared = {}
                for p in params:
                    p = deref(self.spec, p)
                    if p.get("in") == "path":
                        declared[p["name"]] = p
                where = "%s %s" % (method.upper() if method else "(path)", path)
                for name in sorted(named - set(declared)):
                    problems.append("%s: {%s} is not declared as a path parameter" % (where, name))
                for name in sorted(set(declared) - named):
                    problems.append("%s: path parameter %s is not in the path" % (where, name))
                for name, p in declared.items():
                    if p.get("required") is not True or "schema" not in p:
                        problems.append("%s: path parameter %s needs required: true and a "
                                        "schema" % (where, name))
        self.assertFalse(problems, "\n".join(problems))
        for name in SAMPLE_PARAMS:
            self.assertTrue(any("{%s}" % name in path for path in self.spec["paths"]),
                            "no route has {%s}: SAMPLE_PARAMS is out of date" % name)

    def test_write_routes_list_their_statuses(self):
        problems = []
        for (method, path), statuses in sorted(WRITE_ROUTE_STATUSES.items()):
            op = self.spec["paths"].get(path, {}).get(method.lower())
            if op is None:
                problems.append("%s %s is not described" % (method, path))
                continue
            listed = {int(code) for code in op["responses"]}
            missing = statuses - listed
            if missing:
                problems.append("%s %s does not list %s" % (method, path, sorted(missing)))
        self.assertFalse(problems, "\n".join(problems))

    def test_read_routes_list_the_basic_statuses(self):
        """Every operation lists a 2xx; every one that needs a token lists 401."""
        for method, path, _, op in operations(self.spec):
            listed = {int(code) for code in op["responses"]}
            self.assertTrue(any(200 <= s < 300 for s in listed), "%s %s: no 2xx" % (method, path))
            if (method, path) not in OPEN_ROUTES:
                self.assertIn(401, listed, "%s %s needs a token but lists no 401" % (method, path))
        self.assertIn("304", self.spec["paths"]["/v1/conventions/{id}"]["get"]["responses"])

    def test_error_codes_are_those_of_api_md(self):
        table = api_md_error_table()
        self.assertGreaterEqual(len(table), 15, "docs/api.md's error table was not found")
        error_body = self.spec["components"]["schemas"]["ErrorBody"]
        self.assertEqual(set(error_body["properties"]["code"]["enum"]), {c for _, c in table},
                         "ErrorBody.code and docs/api.md's error table differ")
        for prop in ("status", "code", "message", "details", "current_rev"):
            self.assertIn(prop, error_body["properties"])
        self.assertEqual(self.spec["components"]["schemas"]["Error"]["required"], ["error"])
        # Every status of the table is answered somewhere: by an operation, or (405) by any
        # path for a method it does not have.
        listed = {int(code) for _, _, _, op in operations(self.spec) for code in op["responses"]}
        for status, code in sorted(table):
            if status == 405:
                response = self.spec["components"]["responses"]["MethodNotAllowed"]
                self.assertIn(code, response["description"])
                self.assertIn("Allow", response["headers"])
            else:
                self.assertIn(status, listed, "no operation lists %d (%s)" % (status, code))

    def test_error_responses_are_json_errors(self):
        error_ref = "#/components/schemas/Error"
        for method, path, _, op in operations(self.spec):
            for code, response in op["responses"].items():
                if int(code) < 400:
                    continue
                response = deref(self.spec, response)
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                self.assertEqual(schema, {"$ref": error_ref},
                                 "%s %s -> %s is not an application/json Error"
                                 % (method, path, code))

    def test_security(self):
        spec = self.spec
        scheme = spec["components"]["securitySchemes"]["bearerAuth"]
        self.assertEqual((scheme["type"], scheme["scheme"]), ("http", "bearer"))
        self.assertEqual(spec["security"], [{"bearerAuth": []}])
        open_ops = {(m, p) for m, p, _, op in operations(spec) if op.get("security") == []}
        self.assertEqual(open_ops, OPEN_ROUTES)
        for method, path, _, op in operations(spec):
            if (method, path) not in OPEN_ROUTES:
                self.assertNotIn("security", op, "%s %s overrides the security" % (method, path))

    def test_media_types(self):
        paths = self.spec["paths"]

        def content(path, method, code="200"):
            return set(deref(self.spec, paths[path][method]["responses"][code])
                       .get("content", {}))

        self.assertEqual(content("/v1/events", "get"), {"text/event-stream"})
        self.assertEqual(content("/v1/metrics", "get"), {"text/plain"})
        self.assertEqual(content("/v1/openapi.yaml", "get"), {"application/yaml"})
        self.assertEqual(set(paths["/v1/conventions/_bulk"]["post"]["requestBody"]["content"]),
                         {"application/x-ndjson", "application/jsonl", "application/json-lines",
                          "application/x-jsonlines"})
        for path in ("/v1/conventions/{id}", "/v1/conventions/{id}/actions/{action_id}"):
            self.assertEqual(set(paths[path]["patch"]["requestBody"]["content"]),
                             {"application/merge-patch+json", "application/json"})
        self.assertEqual(set(paths["/v1/conventions/{id}"]["put"]["requestBody"]["content"]),
                         {"application/json"})
        self.assertEqual(set(paths["/v1/conventions"]["post"]["requestBody"]["content"]),
                         {"application/json"})

    def test_headers(self):
        paths = self.spec["paths"]

        def header_names(path, method):
            return {deref(self.spec, p)["name"] for p in paths[path][method].get("parameters", [])
                    if deref(self.spec, p)["in"] == "header"}

        for method in ("put", "patch", "delete"):
            self.assertIn("If-Match", header_names("/v1/conventions/{id}", method))
        self.assertIn("If-Match", header_names("/v1/conventions/{id}/actions/{action_id}", "patch"))
        self.assertIn("If-None-Match", header_names("/v1/conventions/{id}", "get"))
        self.assertIn("Last-Event-ID", header_names("/v1/events", "get"))

    def test_convention_schema(self):
        schemas = self.spec["components"]["schemas"]
        conv = schemas["Convention"]
        self.assertIs(conv["additionalProperties"], False)
        self.assertEqual(set(conv["required"]), {"department", "title", "period", "status"})
        spec_keys = {"id", "department", "title", "territory", "signatories", "signed_on",
                     "period", "status", "champs", "objectives", "actions", "governance",
                     "diagnostic", "funding", "targets", "amendments", "extra", "rev",
                     "created_at", "updated_at", "created_by", "updated_by"}
        self.assertEqual(set(conv["properties"]), spec_keys)
        self.assertIs(conv["properties"]["extra"]["additionalProperties"], True)
        for name in ("ConventionSummary", "Error", "ChangeEvent", "History", "Indicator",
                     "ExportEntry", "ReportEntry", "Department", "Plugin", "BulkResult",
                     "Health"):
            self.assertIn(name, schemas)

    def test_refs_resolve(self):
        bad = []

        def walk(node, where):
            if isinstance(node, dict):
                ref = node.get("$ref")
                if ref is not None:
                    try:
                        resolve(self.spec, ref)
                    except (KeyError, TypeError):
                        bad.append("%s: %s" % (where, ref))
                for key, value in node.items():
                    walk(value, "%s/%s" % (where, key))
            elif isinstance(node, list):
                for i, value in enumerate(node):
                    walk(value, "%s/%d" % (where, i))

        walk(self.spec, "#")
        self.assertFalse(bad, "unresolved $ref:\n" + "\n".join(bad))

    def test_operation_ids_are_unique(self):
        ids = [op.get("operationId") for _, _, _, op in operations(self.spec)]
        self.assertNotIn(None, ids)
        self.assertEqual(len(ids), len(set(ids)))

    def test_subset_reader_agrees_with_pyyaml(self):
        try:
            import yaml
        except ImportError:
            raise unittest.SkipTest("PyYAML is not installed")
        self.assertEqual(self.spec, yaml.safe_load(self.text))

    def test_valid_openapi(self):
        try:
            from openapi_spec_validator import validate
        except ImportError:
            raise unittest.SkipTest("openapi-spec-validator is not installed")
        validate(self.spec)


# --------------------------------------------------------------------------------------------
# Against a running ctgd
# --------------------------------------------------------------------------------------------

class ServedTests(CtgdTestCase):
    """A ctgd with tokens: what it serves and answers, against the description."""

    server_kwargs = {"tokens": lambda: list(standard_tokens().values())}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.file_bytes = read_file(OPENAPI_PATH, "rb")
        cls.spec = read_yaml_subset(cls.file_bytes.decode("utf-8"))

    def test_served_without_token(self):
        r = self.request("GET", "/v1/openapi.yaml")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(media_type(r.headers), "application/yaml")
        self.assertEqual(r.body, self.file_bytes,
                         "GET /v1/openapi.yaml is not docs/openapi.yaml: rebuild ctgd")
        r = self.request("GET", "/v1/openapi.yaml", token=self.server.token("rd29"))
        self.assertEqual((r.status, r.body), (200, self.file_bytes))
        r = self.request("HEAD", "/v1/openapi.yaml")
        self.assertEqual((r.status, r.body), (200, b""))
        self.assertEqual(media_type(r.headers), "application/yaml")

    def test_only_open_routes_answer_without_token(self):
        """Every described operation but the open ones answers 401 without a token."""
        for method, path, _, _ in operations(self.spec):
            with self.subTest(route="%s %s" % (method, path)):
                if path == "/v1/events" and (method, path) not in OPEN_ROUTES:
                    # An answered stream would not end: ask and read the status line only.
                    self.assertEqual(self.head_only(path)[0], 401)
                    continue
                r = self.request(method, sample_path(path))
                if (method, path) in OPEN_ROUTES:
                    self.assertEqual(r.status, 200, r.body)
                else:
                    self.assertEqual(r.status, 401, r.body)

    def head_only(self, path, token=None):
        """(status, headers with lower-case names) of a GET whose answer may not end."""
        with socket.create_connection((self.server.host, self.server.port), timeout=10) as s:
            auth = "Authorization: Bearer %s\r\n" % token if token else ""
            s.sendall(("GET %s HTTP/1.1\r\nHost: ctgd\r\n%s\r\n" % (path, auth)).encode())
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        status = int(head[0].split()[1])
        fields = dict((k.strip().lower(), v.strip()) for k, v in
                      (line.split(":", 1) for line in head[1:] if ":" in line))
        return status, fields

    def described_media_types(self, method, path, status):
        response = deref(self.spec, self.spec["paths"][path][method.lower()]["responses"]
                         [str(status)])
        return set(response.get("content", {}))

    def assertDescribedAnswer(self, method, path, resp):
        """The answer's status is listed, and its media type is described (or */*)."""
        responses = self.spec["paths"][path][method.lower()]["responses"]
        self.assertIn(str(resp.status), responses,
                      "%s %s answered %d, not described" % (method, path, resp.status))
        types = self.described_media_types(method, path, resp.status)
        if types and "*/*" not in types:
            self.assertIn(media_type(resp.headers), types,
                          "%s %s -> %d: media type not described" % (method, path, resp.status))

    def test_answers_fit_the_description(self):
        admin = self.server.admin_token
        conv_id = new_id("oa")
        doc = convention(id=conv_id)
        calls = [
            ("GET", "/v1/health", "/v1/health", None, {}),
            ("GET", "/v1/metrics", "/v1/metrics", None, {}),
            ("POST", "/v1/conventions", "/v1/conventions", doc, {}),
            ("POST", "/v1/conventions", "/v1/conventions", doc, {}),
            ("GET", "/v1/conventions", "/v1/conventions?limit=1", None, {}),
            ("GET", "/v1/conventions", "/v1/conventions?limit=0", None, {}),
            ("GET", "/v1/conventions/{id}", conv_path(conv_id), None, {}),
            ("GET", "/v1/conventions/{id}", conv_path(conv_id), None, {"If-None-Match": '"1"'}),
            ("PUT", "/v1/conventions/{id}", conv_path(conv_id), doc, {}),
            ("PATCH", "/v1/conventions/{id}", conv_path(conv_id), {"status": "monitoring"},
             {"If-Match": '"1"', "Content-Type": "application/merge-patch+json"}),
            ("PATCH", "/v1/conventions/{id}", conv_path(conv_id), {"status": "closed"},
             {"If-Match": '"1"'}),
            ("PATCH", "/v1/conventions/{id}/actions/{action_id}",
             conv_path(conv_id, "actions", "act-1"), {"progress": 50}, {"If-Match": '"2"'}),
            ("PATCH", "/v1/conventions/{id}/actions/{action_id}",
             conv_path(conv_id, "actions", "nope"), {"progress": 50}, {"If-Match": '"3"'}),
            ("GET", "/v1/conventions/{id}/history", conv_path(conv_id, "history"), None, {}),
            ("GET", "/v1/conventions/{id}/revisions/{rev}", conv_path(conv_id, "revisions", 1),
             None, {}),
            ("GET", "/v1/conventions/{id}/indicators", conv_path(conv_id, "indicators"), None, {}),
            ("GET", "/v1/conventions/{id}/exports", conv_path(conv_id, "exports"), None, {}),
            ("GET", "/v1/conventions/{id}/exports/{key}", conv_path(conv_id, "exports", "synthese"),
             None, {}),
            ("GET", "/v1/departments", "/v1/departments", None, {}),
            ("GET", "/v1/departments/{code}", "/v1/departments/29", None, {}),
            ("GET", "/v1/departments/{code}/reports/{key}",
             "/v1/departments/29/reports/tableau-de-bord", None, {}),
            ("GET", "/v1/departments/{code}/reports/{key}", "/v1/departments/29/reports/nope",
             None, {}),
            ("GET", "/v1/plugins", "/v1/plugins", None, {}),
            ("POST", "/v1/plugins/reload", "/v1/plugins/reload", None, {}),
            ("GET", "/v1/changes", "/v1/changes?limit=5", None, {}),
            ("DELETE", "/v1/conventions/{id}", conv_path(conv_id), None, {"If-Match": '"3"'}),
            ("DELETE", "/v1/conventions/{id}", conv_path(conv_id) + "?rev=3", None, {}),
            ("GET", "/v1/openapi.yaml", "/v1/openapi.yaml", None, {}),
        ]
        answers = []
        for method, pattern, path, body, headers in calls:
            with self.subTest(call="%s %s" % (method, path)):
                r = self.request(method, path, body, headers=headers, token=admin)
                self.assertDescribedAnswer(method, pattern, r)
                answers.append((method, pattern, r))
        statuses = {(m, p, r.status) for m, p, r in answers}
        for expected in [("POST", "/v1/conventions", 201), ("POST", "/v1/conventions", 409),
                         ("GET", "/v1/conventions/{id}", 304), ("PUT", "/v1/conventions/{id}", 428),
                         ("PATCH", "/v1/conventions/{id}", 412),
                         ("DELETE", "/v1/conventions/{id}", 404)]:
            self.assertIn(expected, statuses, "the calls did not exercise %s %s -> %d" % expected)
        r = self.request("POST", "/v1/conventions/_bulk",
                         raw=(json.dumps(minimal_convention()) + "\nnot json\n").encode(),
                         headers={"Content-Type": "application/x-ndjson"}, token=admin)
        self.assertDescribedAnswer("POST", "/v1/conventions/_bulk", r)
        status, headers = self.head_only("/v1/events?since=0", admin)
        self.assertEqual(status, 200)
        self.assertIn(headers.get("content-type", "").split(";")[0],
                      self.described_media_types("GET", "/v1/events", 200))
        self.schema_check(answers + [("POST", "/v1/conventions/_bulk", r)])

    def schema_check(self, answers):
        """With openapi-schema-validator installed: every JSON answer fits its schema."""
        try:
            from openapi_schema_validator import OAS30ReadValidator
        except ImportError:
            return
        for method, pattern, r in answers:
            if not r.body or media_type(r.headers) != "application/json":
                continue
            response = deref(self.spec, self.spec["paths"][pattern][method.lower()]["responses"]
                             [str(r.status)])
            schema = dict(response["content"]["application/json"]["schema"])
            schema["components"] = self.spec["components"]
            errors = list(OAS30ReadValidator(schema).iter_errors(r.body))
            self.assertFalse(errors, "%s %s -> %d does not fit its schema: %s"
                             % (method, pattern, r.status,
                                "; ".join("%s: %s" % (list(e.path), e.message[:200])
                                          for e in errors[:5])))


if __name__ == "__main__":
    main()
