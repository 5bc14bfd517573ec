"""wire.py — the smallest clients of the four servers' own protocols, in the standard library.

The write → subscriber latency benchmark (openloop.py, subscriber.py) drives ctgd and its peers
with the same Python code, so that the client side costs the same everywhere: one TCP
connection per client on loopback, each protocol spoken directly, no driver library.

  * ctgd: HTTP/1.1 for writes (POST /v1/conventions); its nanomsg PUB socket for events, read
    as the SP protocol over TCP (an 8-byte header each way, then 64-bit big-endian length +
    message; a SUB socket filters on its own side, so nothing is sent to subscribe).
  * Redis: RESP (EVALSHA of the SET + PUBLISH script; SUBSCRIBE).
  * PostgreSQL: protocol 3.0, trust authentication; writes through one prepared statement
    (Parse once, then Bind/Execute/Sync per write, as pgbench -M prepared does); LISTEN, whose
    NotificationResponse messages come on the same connection.
  * Tarantool: iproto (MessagePack): CALL of a stored function; the subscription is a CALL that
    never returns and sends every document with box.session.push (IPROTO_CHUNK messages).

Writers are asyncio classes with open() and write(key, doc); subscriptions are generators of
(receive time, payload), the time being CLOCK_MONOTONIC in ns (time.monotonic_ns) taken when
recv() returned the bytes that completed the message.
"""
import asyncio
import socket
import struct
import time

# --------------------------------------------------------------------------------------------
# MessagePack: the subset iproto needs
# --------------------------------------------------------------------------------------------


def mp_pack(v):
    if v is None:
        return b"\xc0"
    if v is True or v is False:
        return b"\xc3" if v else b"\xc2"
    if isinstance(v, int):
        if 0 <= v < 128:
            return bytes([v])
        if 0 <= v < 2**32:
            return b"\xce" + struct.pack(">I", v)
        if 0 <= v < 2**64:
            return b"\xcf" + struct.pack(">Q", v)
        return b"\xd3" + struct.pack(">q", v)
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, (bytes, bytearray)):  # written as str: Tarantool gives Lua a string
        n = len(v)
        if n < 32:
            return bytes([0xA0 | n]) + v
        if n < 256:
            return b"\xd9" + bytes([n]) + v
        if n < 65536:
            return b"\xda" + struct.pack(">H", n) + v
        return b"\xdb" + struct.pack(">I", n) + v
    if isinstance(v, (list, tuple)):
        n = len(v)
        head = bytes([0x90 | n]) if n < 16 else b"\xdd" + struct.pack(">I", n)
        return head + b"".join(mp_pack(x) for x in v)
    if isinstance(v, dict):
        n = len(v)
        head = bytes([0x80 | n]) if n < 16 else b"\xdf" + struct.pack(">I", n)
        return head + b"".join(mp_pack(k) + mp_pack(x) for k, x in v.items())
    raise TypeError("cannot pack %r" % type(v))


class Incomplete(Exception):
    pass


def mp_unpack(buf, pos):
    """(value, next position); raises Incomplete when buf ends before the value does."""
    if pos >= len(buf):
        raise Incomplete
    b = buf[pos]
    pos += 1

    def take(n):
        if pos + n > len(buf):
            raise Incomplete
        return buf[pos:pos + n]

    def items(n, p):
        out = []
        for _ in range(n):
            x, p = mp_unpack(buf, p)
            out.append(x)
        return out, p

    if b < 0x80:
        return b, pos
    if b >= 0xE0:
        return b - 256, pos
    def length(widths, fixed_max=-1, mask=0):
        """(the length after byte b, next position): in b itself up to fixed_max, else in the
        next widths[b] bytes."""
        if b <= fixed_max:
            return b & mask, pos
        w = widths[b]
        return int.from_bytes(take(w), "big"), pos + w

    if 0x80 <= b <= 0x8F or b in (0xDE, 0xDF):
        n, pos = length({0xDE: 2, 0xDF: 4}, 0x8F, 0x0F)
        flat, pos = items(2 * n, pos)
        return dict(zip(flat[0::2], flat[1::2])), pos
    if 0x90 <= b <= 0x9F or b in (0xDC, 0xDD):
        n, pos = length({0xDC: 2, 0xDD: 4}, 0x9F, 0x0F)
        return items(n, pos)
    if 0xA0 <= b <= 0xBF or b in (0xD9, 0xDA, 0xDB, 0xC4, 0xC5, 0xC6):
        n, pos = length({0xD9: 1, 0xDA: 2, 0xDB: 4, 0xC4: 1, 0xC5: 2, 0xC6: 4}, 0xBF, 0x1F)
        data = bytes(take(n))
        return data, pos + n
    if b == 0xC0:
        return None, pos
    if b in (0xC2, 0xC3):
        return b == 0xC3, pos
    fixed = {0xCC: (1, ">B"), 0xCD: (2, ">H"), 0xCE: (4, ">I"), 0xCF: (8, ">Q"),
             0xD0: (1, ">b"), 0xD1: (2, ">h"), 0xD2: (4, ">i"), 0xD3: (8, ">q"),
             0xCA: (4, ">f"), 0xCB: (8, ">d")}
    if b in fixed:
        w, fmt = fixed[b]
        return struct.unpack(fmt, take(w))[0], pos + w
    if b in (0xD4, 0xD5, 0xD6, 0xD7, 0xD8):  # fixext: type byte + 1..16 bytes, skipped
        n = 1 + {0xD4: 1, 0xD5: 2, 0xD6: 4, 0xD7: 8, 0xD8: 16}[b]
        take(n)
        return None, pos + n
    if b in (0xC7, 0xC8, 0xC9):  # ext 8/16/32, skipped
        n, pos = length({0xC7: 1, 0xC8: 2, 0xC9: 4})
        take(n + 1)
        return None, pos + n + 1
    raise ValueError("msgpack byte 0x%02x" % b)


# --------------------------------------------------------------------------------------------
# Frames of each protocol: parse(buf, pos) -> (frame, next position) or None when incomplete
# --------------------------------------------------------------------------------------------


def sp_frame(buf, pos):
    if len(buf) - pos < 8:
        return None
    n = int.from_bytes(buf[pos:pos + 8], "big")
    if len(buf) - pos < 8 + n:
        return None
    return bytes(buf[pos + 8:pos + 8 + n]), pos + 8 + n


class RespError(Exception):
    pass


def resp_frame(buf, pos):
    if pos >= len(buf):
        return None
    end = buf.find(b"\r\n", pos)
    if end < 0:
        return None
    kind, line = buf[pos], bytes(buf[pos + 1:end])
    if kind == ord("+"):
        return line, end + 2
    if kind == ord("-"):
        return RespError(line.decode(errors="replace")), end + 2
    if kind == ord(":"):
        return int(line), end + 2
    if kind == ord("$"):
        n = int(line)
        if n < 0:
            return None, end + 2
        if len(buf) < end + 2 + n + 2:
            return None
        return bytes(buf[end + 2:end + 2 + n]), end + 4 + n
    if kind == ord("*"):
        out, p = [], end + 2
        for _ in range(int(line)):
            r = resp_frame(buf, p)
            if r is None:
                return None
            out.append(r[0])
            p = r[1]
        return out, p
    raise ValueError("RESP byte %r" % chr(kind))


def pg_frame(buf, pos):
    if len(buf) - pos < 5:
        return None
    n = int.from_bytes(buf[pos + 1:pos + 5], "big")
    if len(buf) - pos < 1 + n:
        return None
    return (chr(buf[pos]), bytes(buf[pos + 5:pos + 1 + n])), pos + 1 + n


def iproto_frame(buf, pos):
    try:
        size, p = mp_unpack(buf, pos)
        if len(buf) - p < size:
            return None
        header, q = mp_unpack(buf, p)
        body = mp_unpack(buf, q)[0] if q < p + size else {}
        return (header, body), p + size
    except Incomplete:
        return None


# --------------------------------------------------------------------------------------------
# Blocking subscriptions
# --------------------------------------------------------------------------------------------


class Stream:
    """A socket read as a sequence of frames, each with the time its last bytes arrived."""

    def __init__(self, sock, parse, stop=lambda: False):
        self.sock, self.parse, self.stop = sock, parse, stop
        self.buf, self.pos = bytearray(), 0
        sock.settimeout(0.2)

    def frames(self):
        while True:
            r = self.parse(self.buf, self.pos)
            if r is not None:
                self.pos = r[1]
                yield self.now, r[0]
                continue
            if self.pos:
                del self.buf[:self.pos]
                self.pos = 0
            while True:
                if self.stop():
                    return
                try:
                    data = self.sock.recv(1 << 20)
                except socket.timeout:
                    continue
                break
            self.now = time.monotonic_ns()
            if not data:
                return
            self.buf += data

    def next(self):
        for f in self.frames():
            return f[1]
        raise EOFError("connection closed")


def _connect(host, port):
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _recv_exact(sock, n, closed):
    """Exactly n bytes of sock; EOFError(closed) if it closes first."""
    got = b""
    while len(got) < n:
        chunk = sock.recv(n - len(got))
        if not chunk:
            raise EOFError(closed)
        got += chunk
    return got


def ctgd_events(host, port, ready, stop):
    """ctgd's PUB socket: yields the convention events (heartbeats and plugin events skipped);
    ready() once the first heartbeat shows that the subscription reached ctgd."""
    sock = _connect(host, port)
    sock.sendall(b"\x00SP\x00\x00\x21\x00\x00")  # SP header, protocol NN_SUB (0x21)
    got = _recv_exact(sock, 8, "ctgd closed the SP handshake")
    if got[:4] != b"\x00SP\x00" or got[4:6] != b"\x00\x20":
        raise ValueError("not a nanomsg PUB socket: %r" % got)
    live = False
    for now, msg in Stream(sock, sp_frame, stop).frames():
        if not live and msg.startswith(b"ctg._heartbeat"):
            live = True
            ready()
        if b".convention." in msg[:40]:
            yield now, msg


def redis_messages(host, port, channel, ready, stop):
    sock = _connect(host, port)
    sock.sendall(b"SUBSCRIBE %s\r\n" % channel.encode())
    stream = Stream(sock, resp_frame, stop)
    first = stream.next()
    if not (isinstance(first, list) and first[0] == b"subscribe"):
        raise ValueError("SUBSCRIBE answered %r" % (first,))
    ready()
    for now, frame in stream.frames():
        if isinstance(frame, list) and frame[0] == b"message":
            yield now, frame[2]


def _pg_startup(sock, user, database):
    params = b"user\0%s\0database\0%s\0\0" % (user.encode(), database.encode())
    sock.sendall(struct.pack(">ii", 8 + len(params), 196608) + params)


def _pg_check(kind, body):
    if kind == "E":
        fields = dict((f[:1], f[1:]) for f in body.split(b"\0") if f)
        raise RuntimeError("PostgreSQL: %s" % fields.get(b"M", body).decode(errors="replace"))
    if kind == "R" and struct.unpack(">i", body[:4])[0] != 0:
        raise RuntimeError("PostgreSQL asks for a password: the benchmark uses trust")


def pg_notifications(host, port, user, database, channel, ready, stop):
    sock = _connect(host, port)
    _pg_startup(sock, user, database)
    stream = Stream(sock, pg_frame, stop)
    frames = stream.frames()
    for _, (kind, body) in frames:
        _pg_check(kind, body)
        if kind == "Z":
            break
    sql = b"LISTEN %s\0" % channel.encode()
    sock.sendall(b"Q" + struct.pack(">i", 4 + len(sql)) + sql)
    for _, (kind, body) in frames:
        _pg_check(kind, body)
        if kind == "Z":
            break
    ready()
    for now, (kind, body) in frames:
        if kind == "A":  # NotificationResponse: pid, channel\0, payload\0
            _, payload = body[4:].split(b"\0", 1)
            yield now, payload[:-1] if payload.endswith(b"\0") else payload


IPROTO_CALL, IPROTO_CHUNK = 0x0A, 0x80
IPROTO_REQUEST_TYPE, IPROTO_SYNC = 0x00, 0x01
IPROTO_TUPLE, IPROTO_FUNCTION_NAME, IPROTO_DATA, IPROTO_ERROR_24 = 0x21, 0x22, 0x30, 0x31


def iproto_call(function, args, sync):
    head = mp_pack({IPROTO_REQUEST_TYPE: IPROTO_CALL, IPROTO_SYNC: sync})
    body = mp_pack({IPROTO_FUNCTION_NAME: function, IPROTO_TUPLE: list(args)})
    return b"\xce" + struct.pack(">I", len(head) + len(body)) + head + body


def _iproto_error(header, body):
    code = header.get(IPROTO_REQUEST_TYPE, 0)
    if code not in (0, IPROTO_CHUNK):
        msg = body.get(IPROTO_ERROR_24, b"?")
        raise RuntimeError("Tarantool error 0x%x: %s" % (code, msg.decode(errors="replace")))


def tarantool_pushes(host, port, function, ready, stop):
    sock = _connect(host, port)
    _recv_exact(sock, 128, "Tarantool closed before its greeting")
    sock.sendall(iproto_call(function, [], 1))
    stream = Stream(sock, iproto_frame, stop)
    for now, (header, body) in stream.frames():
        _iproto_error(header, body)
        if header.get(IPROTO_REQUEST_TYPE) != IPROTO_CHUNK:
            continue
        payload = body.get(IPROTO_DATA, [None])[0]
        if payload == b"ready":
            ready()
        elif payload is not None:
            yield now, payload


# --------------------------------------------------------------------------------------------
# asyncio writers: open(), then write(key, doc) -> None, raising on a refused write
# --------------------------------------------------------------------------------------------


class _AsyncConn:
    async def _open(self, host, port):
        self.reader, self.writer = await asyncio.open_connection(host, port)
        self.writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self):
        self.writer.close()


class CtgdWriter(_AsyncConn):
    """POST /v1/conventions: a durable create; ctgd answers 201 once committed and synced."""

    def __init__(self, host, port, **_):
        self.host, self.port = host, port

    async def open(self):
        await self._open(self.host, self.port)

    async def write(self, key, doc):
        self.writer.write(b"POST /v1/conventions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                          % len(doc) + doc)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        if status != 201:
            raise RuntimeError("ctgd answered %d" % status)


class RedisWriter(_AsyncConn):
    """EVALSHA of the script that SETs the document and PUBLISHes it, one atomic step."""

    def __init__(self, host, port, sha, **_):
        self.host, self.port, self.sha = host, port, sha.encode()

    async def open(self):
        await self._open(self.host, self.port)

    async def write(self, key, doc):
        parts = [b"EVALSHA", self.sha, b"1", key.encode(), doc]
        self.writer.write(b"*%d\r\n" % len(parts)
                          + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts))
        line = await self.reader.readline()
        if not line.startswith(b":"):
            raise RuntimeError("Redis answered %r" % line[:200])


class PostgresWriter(_AsyncConn):
    """INSERT … ON CONFLICT DO UPDATE, a prepared statement; the table's trigger NOTIFYs."""

    SQL = (b"INSERT INTO conventions (id, doc) VALUES ($1, $2::json) "
           b"ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc")

    def __init__(self, host, port, user="bench", database="postgres", **_):
        self.host, self.port, self.user, self.database = host, port, user, database

    async def _until_ready(self):
        while True:
            head = await self.reader.readexactly(5)
            body = await self.reader.readexactly(int.from_bytes(head[1:], "big") - 4)
            _pg_check(chr(head[0]), body)
            if head[:1] == b"Z":
                return

    async def open(self):
        await self._open(self.host, self.port)
        params = b"user\0%s\0database\0%s\0\0" % (self.user.encode(), self.database.encode())
        self.writer.write(struct.pack(">ii", 8 + len(params), 196608) + params)
        await self._until_ready()
        parse = b"w\0" + self.SQL + b"\0" + struct.pack(">h", 0)
        self.writer.write(b"P" + struct.pack(">i", 4 + len(parse)) + parse
                          + b"S\0\0\0\4")
        await self._until_ready()

    async def write(self, key, doc):
        key = key.encode()
        bind = (b"\0w\0" + struct.pack(">hh", 0, 2) + struct.pack(">i", len(key)) + key
                + struct.pack(">i", len(doc)) + doc + struct.pack(">h", 0))
        self.writer.write(b"B" + struct.pack(">i", 4 + len(bind)) + bind
                          + b"E\0\0\0\x09\0\0\0\0\0" + b"S\0\0\0\4")
        await self._until_ready()


class TarantoolWriter(_AsyncConn):
    """CALL put(id, doc): replace in a transaction whose on_commit trigger notifies."""

    def __init__(self, host, port, **_):
        self.host, self.port, self.sync = host, port, 0

    async def open(self):
        await self._open(self.host, self.port)
        await self.reader.readexactly(128)

    async def write(self, key, doc):
        self.sync += 1
        self.writer.write(iproto_call("put", [key, doc], self.sync))
        head = await self.reader.readexactly(5)
        rest = await self.reader.readexactly(struct.unpack(">I", head[1:])[0])
        header, p = mp_unpack(rest, 0)
        body = mp_unpack(rest, p)[0] if p < len(rest) else {}
        _iproto_error(header, body)


WRITERS = {"ctgd": CtgdWriter, "redis": RedisWriter, "postgres": PostgresWriter,
           "tarantool": TarantoolWriter}
