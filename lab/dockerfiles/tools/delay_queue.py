"""outage-lab's delay queue: holds each packet an NFQUEUE rule hands it for a set delay (with jitter), then lets it
go, in the order the packets came. The `latency` fault family runs it in the target's network namespace, behind an
iptables rule `-j NFQUEUE --queue-num N --queue-bypass`.

Written by hand because nothing packaged does it on this kernel: it has no `tc netem`, Debian packages no Python
binding of libnetfilter_queue, and PyPI's (netfilterqueue) would be compiled at every image build. This is ctypes
over Debian's libnetfilter-queue1: bind the queue, read each packet's id (its metadata only, never its bytes),
give the verdict NF_ACCEPT when its time has come.

Packets leave in order: a packet's release is never before the one ahead of it, as on one link, so with jitter
the delays of packets closer together than the jitter are pulled up to their predecessor's. The kernel queue is
65,536 packets long; should it or the netlink socket overflow, the kernel drops packets, and says so in
/proc/net/netfilter/nfnetlink_queue, which the family's verify reports.

    delay_queue.py QUEUE DELAY_MS JITTER_MS uniform|normal STATS_FILE

Prints "ready" once bound. Every second it writes STATS_FILE (one line: packets seen, held now, most held, verdicts
late by more than 1 ms). On SIGTERM or SIGINT it lets every held packet go at once, unbinds and exits 0.
"""

from __future__ import annotations

import collections
import ctypes
import ctypes.util
import os
import random
import select
import signal
import socket
import sys
import time

NF_ACCEPT = 1
NFQNL_COPY_META = 1
QUEUE_MAXLEN = 65536
RECEIVE_BUFFER = 8 * 1024 * 1024
CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)


class PacketHeader(ctypes.BigEndianStructure):
    _pack_ = 1
    _fields_ = [("packet_id", ctypes.c_uint32), ("hw_protocol", ctypes.c_uint16), ("hook", ctypes.c_uint8)]


def library() -> ctypes.CDLL:
    lib = ctypes.CDLL(ctypes.util.find_library("netfilter_queue") or "libnetfilter_queue.so.1", use_errno=True)
    voidp, u16, u32 = ctypes.c_void_p, ctypes.c_uint16, ctypes.c_uint32
    for name, argtypes, restype in (
        ("nfq_open", [], voidp), ("nfq_close", [voidp], ctypes.c_int),
        ("nfq_create_queue", [voidp, u16, CALLBACK, voidp], voidp), ("nfq_destroy_queue", [voidp], ctypes.c_int),
        ("nfq_set_mode", [voidp, ctypes.c_uint8, u32], ctypes.c_int),
        ("nfq_set_queue_maxlen", [voidp, u32], ctypes.c_int), ("nfq_fd", [voidp], ctypes.c_int),
        ("nfq_handle_packet", [voidp, ctypes.c_char_p, ctypes.c_int], ctypes.c_int),
        ("nfq_get_msg_packet_hdr", [voidp], ctypes.POINTER(PacketHeader)),
        ("nfq_set_verdict", [voidp, u32, u32, u32, voidp], ctypes.c_int),
    ):
        function = getattr(lib, name)
        function.argtypes, function.restype = argtypes, restype
    return lib


class DelayQueue:
    def __init__(self, queue: int, delay_s: float, jitter_s: float, distribution: str) -> None:
        self.delay_s, self.jitter_s, self.distribution = delay_s, jitter_s, distribution
        self.held: collections.deque[tuple[float, int]] = collections.deque()
        self.last_release = 0.0
        self.seen = self.most_held = self.late = 0
        self.lib = library()
        self.handle = self.lib.nfq_open()
        if not self.handle:
            raise OSError(ctypes.get_errno(), "nfq_open failed (is NET_ADMIN granted?)")
        self._callback = CALLBACK(self._on_packet)  # kept: the library calls it for as long as the queue lives
        self.queue = self.lib.nfq_create_queue(self.handle, queue, self._callback, None)
        if not self.queue:
            raise OSError(ctypes.get_errno(), f"cannot bind queue {queue} (another process holds it?)")
        self.lib.nfq_set_mode(self.queue, NFQNL_COPY_META, 0)
        self.lib.nfq_set_queue_maxlen(self.queue, QUEUE_MAXLEN)
        self.fd = self.lib.nfq_fd(self.handle)
        self.socket = socket.socket(fileno=os.dup(self.fd))
        try:  # past the system's rmem_max: NET_ADMIN allows it
            self.socket.setsockopt(socket.SOL_SOCKET, 33, RECEIVE_BUFFER)  # SO_RCVBUFFORCE
        except OSError:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        self.buffer = ctypes.create_string_buffer(65536)

    def _delay(self) -> float:
        if self.jitter_s == 0:
            return self.delay_s
        if self.distribution == "normal":
            return max(0.0, random.gauss(self.delay_s, self.jitter_s))
        return random.uniform(self.delay_s - self.jitter_s, self.delay_s + self.jitter_s)

    def _on_packet(self, queue: int, message: int, data: int, _: int) -> int:
        header = self.lib.nfq_get_msg_packet_hdr(data)
        if header:
            release = max(self.last_release, time.monotonic() + self._delay())
            self.last_release = release
            self.held.append((release, header.contents.packet_id))
            self.seen += 1
            self.most_held = max(self.most_held, len(self.held))
        return 0

    def receive(self) -> None:
        """Every message waiting on the socket (each one packet's metadata), without blocking."""
        while select.select([self.fd], [], [], 0)[0]:
            try:
                size = self.socket.recv_into(self.buffer, len(self.buffer))
            except BlockingIOError:
                return
            except OSError as exc:  # ENOBUFS: the kernel dropped messages; /proc says how many packets
                print(f"receive: {exc}", file=sys.stderr, flush=True)
                return
            self.lib.nfq_handle_packet(self.handle, self.buffer, size)

    def release_due(self, everything: bool = False) -> None:
        now = time.monotonic()
        while self.held and (everything or self.held[0][0] <= now):
            release, packet_id = self.held.popleft()
            if now - release > 0.001 and not everything:
                self.late += 1
            self.lib.nfq_set_verdict(self.queue, packet_id, NF_ACCEPT, 0, None)

    def wait_s(self) -> float:
        return max(0.0, self.held[0][0] - time.monotonic()) if self.held else 0.5

    def close(self) -> None:
        self.release_due(everything=True)
        self.lib.nfq_destroy_queue(self.queue)
        self.lib.nfq_close(self.handle)


def main() -> int:
    queue, delay_ms, jitter_ms, distribution, stats_file = sys.argv[1:6]
    stopping = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.append(True))
    # A signal also writes to this pipe, which the wait below watches: a revert is not kept waiting for the next
    # packet's time (select is resumed after a handler, not ended).
    woken, wake = os.pipe()
    os.set_blocking(wake, False)
    signal.set_wakeup_fd(wake)
    delays = DelayQueue(int(queue), float(delay_ms) / 1000, float(jitter_ms) / 1000, distribution)
    print("ready", flush=True)
    next_stats = 0.0
    try:
        while not stopping:
            readable = select.select([delays.fd, woken], [], [], delays.wait_s())[0]
            if woken in readable:
                os.read(woken, 512)
            if delays.fd in readable:
                delays.receive()
            delays.release_due()
            if time.monotonic() >= next_stats:
                with open(f"{stats_file}.new", "w") as out:
                    out.write(f"packets {delays.seen} held {len(delays.held)} most-held {delays.most_held} "
                              f"late-over-1ms {delays.late}\n")
                os.replace(f"{stats_file}.new", stats_file)
                next_stats = time.monotonic() + 1.0
    finally:
        delays.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
