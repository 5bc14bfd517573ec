#!/usr/bin/env python3
"""
test_sockets.py — what ctgd's TCP connections are set to, read from ctgd's own descriptors
(pidfd_getfd, Linux 5.6 and later; the test is skipped where the kernel refuses it):

  * an accepted HTTP connection has TCP_NODELAY, so that the last segment of a long answer does
    not wait for the client's delayed acknowledgement (up to 40 ms);
  * so does an accepted connection of a subscriber on a tcp:// events endpoint, so that an
    event published while the previous one is not yet acknowledged leaves at once.

    python3 tests/integration/test_sockets.py --ctgd build/ctgd
"""

import ctypes
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ctgd_harness import CtgdTestCase, Server, free_port, main  # noqa: E402

SYS_PIDFD_GETFD = 438  # x86_64 and aarch64 alike


class TcpEventsServer(Server):
    """A ctgd publishing its events on a loopback TCP port instead of an ipc:// path."""

    def __init__(self, **kwargs):
        self.events_port = free_port()
        super().__init__(**kwargs)

    @property
    def events_endpoint(self):
        return "tcp://127.0.0.1:%d" % self.events_port


def copy_descriptor(pid, fd):
    """A descriptor of process `pid`, copied into this one; None when the kernel refuses."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        copied = libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
        return copied if copied >= 0 else None
    finally:
        os.close(pidfd)


def peer_socket_of(pid, local_port):
    """ctgd's TCP socket whose peer is our 127.0.0.1:local_port, as a socket object; or None."""
    for name in os.listdir("/proc/%d/fd" % pid):
        try:
            if not os.readlink("/proc/%d/fd/%s" % (pid, name)).startswith("socket:"):
                continue
        except OSError:
            continue
        copied = copy_descriptor(pid, int(name))
        if copied is None:
            continue
        sock = socket.socket(fileno=copied)
        try:
            if sock.family == socket.AF_INET and sock.getpeername()[1] == local_port:
                return sock
        except OSError:
            pass
        sock.close()
    return None


class SocketOptionTests(CtgdTestCase):
    start_class_server = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not hasattr(os, "pidfd_open"):
            raise cls.skipTest(cls, "no os.pidfd_open in this Python")
        cls.server = TcpEventsServer(label="ctgd with tcp events")
        cls.addClassCleanup(cls.server.cleanup)
        cls.server.start()
        cls.addClassCleanup(cls.server.stop)

    def accepted_socket(self, port):
        """ctgd's end of a connection we open to `port`, found once ctgd has accepted it."""
        client = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.addCleanup(client.close)
        local_port = client.getsockname()[1]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            sock = peer_socket_of(self.server.proc.pid, local_port)
            if sock is not None:
                self.addCleanup(sock.close)
                return sock
            probe = copy_descriptor(self.server.proc.pid, 0)
            if probe is None:
                self.skipTest("the kernel does not let this test read ctgd's descriptors")
            os.close(probe)
            time.sleep(0.05)
        self.fail("ctgd never accepted the connection from port %d" % local_port)

    def test_http_connections_have_no_delay(self):
        sock = self.accepted_socket(self.server.port)
        self.assertEqual(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY), 1)

    def test_event_subscribers_have_no_delay(self):
        sock = self.accepted_socket(self.server.events_port)
        self.assertEqual(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY), 1)


if __name__ == "__main__":
    main()
