#!/usr/bin/python3
"""Soak and chaos test for sockjsproxy-cli.

Starts the proxy with two SockJS services ("/" and "/two"), a Python echo
backend per service (this script, run with --backend), and then, for
--seconds, keeps --sessions client sessions busy: each slot opens a session
over one of the transports this script speaks itself with raw sockets
(WebSocket with its own RFC 6455 framing, xhr-polling, xhr-streaming,
eventsource, jsonp), exchanges numbered messages, closes it and starts the
next. Mixed in: clients that abort mid-request and mid-frame, slow readers
that stop reading a streaming response, oversized and malformed requests,
and two restarts of both backends (kill -9, start again).

At the end it checks that
  - the proxy still answers GET / with "Welcome to SockJS!\\n", has closed
    every session and exits 0 on SIGTERM (and a sanitizer build reported
    nothing);
  - its RSS after the run minus its RSS after the warm-up is below
    --max-growth-mb;
  - every message sent by a session that ended normally, and did not
    overlap a backend restart, reached a backend exactly once (the backends
    log what they receive) and came back to its client in order; and that no
    message ever reached a backend twice;
  - refused requests got the documented status;
and prints a summary. Exit status 1 on any violation, 2 on a setup error.

Short form (CTest's soak_short):  soak.py --cli PATH --seconds 50 --sessions 150
Long form:                        soak.py --cli PATH --seconds 900 --sessions 1000 --fd-phase 120
The low descriptor limit phase alone:  soak.py --cli PATH --fd-phase 60 --fd-phase-only
(--fd-phase: after the run, a second proxy under "prlimit --nofile=256:256"
meets bursts of connections beyond its limit; see FdPhase.)

Needs Python 3 with pyzmq (Debian: python3-zmq) and nothing else.
"""

import argparse
import base64
import ctypes
import hashlib
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

GREETING = b"Welcome to SockJS!\n"
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
PREFIXES = ("", "/two")  # services "/" and "/two"; "" keeps URLs free of "//"
# All clients are threads of this one Python process, all from 127.0.0.1
# (hence no per-address limits, neither of sessions nor of connections). With a thousand of them on a busy machine a
# polling client may not get the CPU for seconds between two requests; the
# default 5 s would then end its session as the protocol says it should.
DISCONNECT_DELAY_MS = 20000


def default_warmup(duration):
    """Seconds before the RSS baseline is taken.

    A closed session is kept for the disconnect delay, so the number of
    sessions the proxy holds (and its heap) only reaches its steady state
    once the first delay has passed: a baseline taken earlier counts that
    ramp as growth.
    """
    return max(DISCONNECT_DELAY_MS / 1000 + 5, min(60.0, duration * 0.1))


# --------------------------------------------------------------------------------------
# The backend (run as a separate process: python3 soak.py --backend ...)
# --------------------------------------------------------------------------------------

def run_backend(args):
    """Echo backend that appends every event to a log file before answering.

    Each line is written with one os.write() on an O_APPEND descriptor, so a
    kill -9 loses no line that was written, and a message is logged before
    its echo leaves: an echo the client got implies a log line.
    """
    import zmq

    die_with_parent()

    context = zmq.Context()
    pull = context.socket(zmq.PULL)
    push = context.socket(zmq.PUSH)
    for sock in (pull, push):
        sock.setsockopt(zmq.LINGER, 0)
    pull.connect(args.backend_in)
    push.connect(args.backend_out)
    log = os.open(args.backend_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    print("ready", flush=True)
    while True:
        frames = pull.recv_multipart()
        if len(frames) != 3:
            continue
        kind, session, data = frames
        now = b"%.3f" % time.time()
        if kind == b"message":
            shown = data if re.fullmatch(rb"[!-~]*", data) else b"hex:" + data.hex().encode()
            os.write(log, b"M " + now + b" " + session + b" " + shown + b"\n")
            push.send_multipart([b"message", session, data])
        elif kind == b"connect":
            os.write(log, b"C " + now + b" " + session + b"\n")
        elif kind == b"disconnect":
            os.write(log, b"D " + now + b" " + session + b"\n")


# --------------------------------------------------------------------------------------
# Raw HTTP and WebSocket clients
# --------------------------------------------------------------------------------------

class ProtocolError(Exception):
    pass


class Conn:
    """One TCP connection speaking HTTP/1.1 by hand."""

    def __init__(self, port, timeout, rcvbuf=None):
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.buf = bytearray()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def abort(self):
        """Closes with a RST: what a crashing client or a dropped link looks like."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(262144)
        if not chunk:
            raise EOFError("connection closed by the proxy")
        self.buf += chunk

    def read_line(self, limit=1 << 20):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            if len(self.buf) > limit:
                raise ProtocolError("line too long")
            self._fill()

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def read_until_close(self):
        try:
            while True:
                self._fill()
        except (EOFError, ConnectionResetError):
            pass
        data = bytes(self.buf)
        self.buf.clear()
        return data

    def request_bytes(self, method, path, body=b"", headers=None):
        head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % (method, path, self.port)
        for name, value in (headers or {}).items():
            head += "%s: %s\r\n" % (name, value)
        if body or method == "POST":
            head += "Content-Length: %d\r\n" % len(body)
        return head.encode() + b"\r\n" + body

    def send_request(self, method, path, body=b"", headers=None):
        self.send(self.request_bytes(method, path, body, headers))

    def read_head(self):
        line = self.read_line()
        parts = line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise ProtocolError("bad status line %r" % line[:80])
        status = int(parts[1])
        headers = {}
        while True:
            line = self.read_line()
            if not line:
                break
            name, _, value = line.partition(b":")
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
        return status, headers

    def read_chunk(self):
        """The next chunk of a chunked body; b"" for the last one."""
        size = int(self.read_line().split(b";")[0], 16)
        data = self.read_exact(size)
        if self.read_exact(2) != b"\r\n":
            raise ProtocolError("bad chunk terminator")
        if size == 0:
            return b""
        return data

    def read_response(self, method="GET"):
        status, headers = self.read_head()
        if status in (204, 304) or status < 200 or method == "HEAD":
            return status, headers, b""
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                chunk = self.read_chunk()
                if not chunk:
                    return status, headers, body
                body += chunk
        if "content-length" in headers:
            return status, headers, self.read_exact(int(headers["content-length"]))
        return status, headers, self.read_until_close()

    def request(self, method, path, body=b"", headers=None):
        self.send_request(method, path, body, headers)
        return self.read_response(method)


def read_metrics(port, timeout):
    """The samples of the control endpoint's /metrics: {name{labels}: value}."""
    c = Conn(port, timeout)
    try:
        _, _, body = c.request("GET", "/metrics")
    finally:
        c.close()
    values = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values



def ws_frame(opcode, payload, fin=True, mask=True):
    """One RFC 6455 frame; clients mask."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    if n == 0:
        return head + key
    # XOR with the repeated key as one big integer: fast for any size.
    masked = int.from_bytes(payload, "big") ^ int.from_bytes((key * (n // 4 + 1))[:n], "big")
    return head + key + masked.to_bytes(n, "big")


class WebSocket:
    """A minimal RFC 6455 client over Conn."""

    def __init__(self, port, path, timeout, rcvbuf=None):
        self.conn = Conn(port, timeout, rcvbuf)
        key = base64.b64encode(os.urandom(16))
        self.conn.send(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % port
                       + b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key
                       + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
        status, headers = self.conn.read_head()
        if status != 101:
            raise ProtocolError("WebSocket handshake answered %d" % status)
        accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest()).decode()
        if headers.get("sec-websocket-accept") != accept:
            raise ProtocolError("bad Sec-WebSocket-Accept")

    def send_text(self, text):
        self.conn.send(ws_frame(0x1, text.encode()))

    def recv(self):
        """(opcode, payload) of the next complete message; answers pings."""
        message = b""
        while True:
            b0, b1 = self.conn.read_exact(2)
            opcode, n = b0 & 0x0f, b1 & 0x7f
            if b1 & 0x80:
                raise ProtocolError("the server masked a frame")
            if n == 126:
                n = struct.unpack("!H", self.conn.read_exact(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self.conn.read_exact(8))[0]
            payload = self.conn.read_exact(n)
            if opcode == 0x9:
                self.conn.send(ws_frame(0xA, payload))
                continue
            if opcode == 0xA:
                continue
            if opcode == 0x8:
                return opcode, payload
            message += payload
            if b0 & 0x80:
                return opcode if opcode else 0x1, message

    def close(self, code=1000):
        try:
            self.conn.send(ws_frame(0x8, struct.pack("!H", code)))
            deadline = time.time() + self.conn.sock.gettimeout()
            while time.time() < deadline:  # heartbeats may come first
                opcode, _ = self.recv()
                if opcode == 0x8:
                    break
        except (EOFError, OSError, ProtocolError):
            pass
        self.conn.close()


# --------------------------------------------------------------------------------------
# SockJS transports: open(), send(messages), recv() -> list of frames, close()
# --------------------------------------------------------------------------------------

def decode_frames(frames):
    """Messages of the a[...] frames; raises on a close frame."""
    messages = []
    for frame in frames:
        if frame.startswith("a"):
            messages.extend(json.loads(frame[1:]))
        elif frame.startswith("c"):
            raise ProtocolError("session closed by the proxy: " + frame)
    return messages


class Transport:
    name = "?"

    def __init__(self, port, prefix, session, timeout):
        self.port = port
        self.base = "%s/%03d/%s" % (prefix, random.randrange(1000), session)
        self.timeout = timeout
        self.conns = []
        self.opened = time.time()

    def conn(self, rcvbuf=None):
        c = Conn(self.port, self.timeout, rcvbuf)
        self.conns.append(c)
        return c

    def close(self):
        for c in self.conns:
            c.close()

    def abort(self):
        for c in self.conns:
            c.abort()

    def post_send(self, messages):
        if not hasattr(self, "sender"):
            self.sender = self.conn()
        status, _, body = self.sender.request("POST", self.base + "/xhr_send", json.dumps(messages).encode(),
                                              {"Content-Type": "text/plain"})
        if status != 204:
            gap = time.time() - getattr(self, "last_receive", self.opened)
            raise ProtocolError("xhr_send answered %d %r, %.1f s after the last receiving request ended" % (
                status, body[:80], gap))


class WebSocketTransport(Transport):
    name = "websocket"

    def open(self):
        self.ws = WebSocket(self.port, self.base + "/websocket", self.timeout, getattr(self, "rcvbuf", None))
        self.conns.append(self.ws.conn)
        opcode, payload = self.ws.recv()
        if payload != b"o":
            raise ProtocolError("expected the open frame, got %r" % payload[:80])

    def send(self, messages):
        self.ws.send_text(json.dumps(messages))

    def recv(self):
        opcode, payload = self.ws.recv()
        if opcode == 0x8:
            raise ProtocolError("WebSocket closed: %r" % payload[:80])
        return [payload.decode()]

    def close(self):
        if hasattr(self, "ws"):
            self.ws.close()
        Transport.close(self)


class XhrPollingTransport(Transport):
    name = "xhr"

    def open(self):
        self.poller = self.conn()
        status, _, body = self.poller.request("POST", self.base + "/xhr")
        if status != 200 or body != b"o\n":
            raise ProtocolError("xhr open answered %d %r" % (status, body[:80]))

    def send(self, messages):
        self.post_send(messages)

    def recv(self):
        status, _, body = self.poller.request("POST", self.base + "/xhr")
        self.last_receive = time.time()
        if status != 200:
            raise ProtocolError("xhr poll answered %d" % status)
        return [line for line in body.decode().split("\n") if line]


class StreamTransport(Transport):
    """xhr_streaming and eventsource: one long response, reopened when it ends."""

    def start_stream(self):
        self.stream = self.conn(getattr(self, "rcvbuf", None))
        if self.name == "xhr_streaming":
            self.stream.send_request("POST", self.base + "/xhr_streaming")
        else:
            self.stream.send_request("GET", self.base + "/eventsource")
        status, headers = self.stream.read_head()
        if status != 200:
            raise ProtocolError("%s answered %d" % (self.name, status))
        self.stream.read_chunk()  # the prelude

    def open(self):
        self.start_stream()
        frames = self.recv()
        if frames != ["o"]:
            raise ProtocolError("expected the open frame, got %r" % frames)

    def send(self, messages):
        self.post_send(messages)

    def recv(self):
        while True:
            chunk = self.stream.read_chunk()
            if chunk:
                break
            # response_limit reached: the stream ended; the session goes on.
            self.stream.close()
            self.start_stream()
        text = chunk.decode()
        if self.name == "xhr_streaming":
            return [line for line in text.split("\n") if line]
        frames = []
        for event in text.split("\r\n\r\n"):
            if event.startswith("data: "):
                frames.append(event[6:].replace("%25", "%"))
        return frames


class XhrStreamingTransport(StreamTransport):
    name = "xhr_streaming"


class EventSourceTransport(StreamTransport):
    name = "eventsource"


class JsonpTransport(Transport):
    name = "jsonp"
    CALL = re.compile(r'^/\*\*/cb\((".*")\);\r\n$', re.S)

    def poll(self):
        status, _, body = self.poller.request("GET", self.base + "/jsonp?c=cb")
        self.last_receive = time.time()
        match = self.CALL.match(body.decode())
        if status != 200 or not match:
            raise ProtocolError("jsonp answered %d %r" % (status, body[:80]))
        return json.loads(match.group(1))

    def open(self):
        self.poller = self.conn()
        frame = self.poll()
        if frame != "o":
            raise ProtocolError("expected the open frame, got %r" % frame)

    def send(self, messages):
        if not hasattr(self, "sender"):
            self.sender = self.conn()
        body = ("d=" + urllib.parse.quote(json.dumps(messages))).encode()
        status, _, answer = self.sender.request("POST", self.base + "/jsonp_send", body,
                                                {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 200 or answer != b"ok":
            gap = time.time() - getattr(self, "last_receive", self.opened)
            raise ProtocolError("jsonp_send answered %d %r, %.1f s after the last receiving request ended" % (
                status, answer[:80], gap))

    def recv(self):
        frame = self.poll()
        return [line for line in frame.split("\n") if line]


TRANSPORTS = {t.name: t for t in (WebSocketTransport, XhrPollingTransport, XhrStreamingTransport,
                                  EventSourceTransport, JsonpTransport)}


# --------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------

class Record:
    """One client session, as the client saw it."""
    __slots__ = ("key", "service", "kind", "transport", "start", "end", "sent", "echoed", "error", "normal")

    def __init__(self, key, service, kind, transport):
        self.key = key
        self.service = service
        self.kind = kind
        self.transport = transport
        self.start = time.time()
        self.end = None
        self.sent = []
        self.echoed = []
        self.error = None
        self.normal = False  # ended by the client's own close after all echoes


class Soak:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.records = []
        self.violations = []
        self.counts = {}
        self.restart_windows = {0: [], 1: []}  # service -> [(start, end)]
        self.restarts = 0
        self.stop_at = None
        self.workdir = tempfile.mkdtemp(prefix="sockjsproxy-soak-")
        self.proxy = None
        self.proxy_log = None
        self.backends = {}
        self.incarnations = {0: 0, 1: 0}
        self.rss_samples = []
        self.rss_warm = None

    # ---- bookkeeping

    def count(self, name, n=1):
        with self.lock:
            self.counts[name] = self.counts.get(name, 0) + n

    def violation(self, text):
        with self.lock:
            self.violations.append(text)
        print("VIOLATION: " + text, file=sys.stderr, flush=True)

    def add_record(self, record):
        with self.lock:
            self.records.append(record)

    # ---- processes

    @staticmethod
    def free_ports(n):
        socks = []
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        ports = [s.getsockname()[1] for s in socks]
        for s in socks:
            s.close()
        return ports

    def start_proxy(self):
        http, control, *zmq_ports = self.free_ports(6)
        self.http_port, self.control_port = http, control
        self.zmq = [("tcp://127.0.0.1:%d" % zmq_ports[0], "tcp://127.0.0.1:%d" % zmq_ports[1]),
                    ("tcp://127.0.0.1:%d" % zmq_ports[2], "tcp://127.0.0.1:%d" % zmq_ports[3])]
        config = {
            "http": {"address": "127.0.0.1", "port": http},
            "limits": {"max_connections_per_address": 0},
            "services": [
                {"prefix": "/", "zmq": {"in": self.zmq[0][0], "out": self.zmq[0][1]},
                 "max_sessions_per_address": 0, "disconnect_delay_ms": DISCONNECT_DELAY_MS},
                {"prefix": "/two", "zmq": {"in": self.zmq[1][0], "out": self.zmq[1][1]},
                 "max_sessions_per_address": 0, "disconnect_delay_ms": DISCONNECT_DELAY_MS},
            ],
        }
        path = os.path.join(self.workdir, "config.json")
        with open(path, "w") as f:
            json.dump(config, f)
        env = dict(os.environ)
        env.pop("QT_LOGGING_RULES", None)
        # A sanitizer build: report errors, and keep freed memory in a small
        # quarantine so that RSS measures the proxy, not ASan's 256 MiB cache.
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=16:detect_leaks=1"
        self.proxy_log = open(os.path.join(self.workdir, "proxy.log"), "wb")
        command = [self.args.cli, "--config", path, "--control", "127.0.0.1:%d" % control]
        setpriv = shutil.which("setpriv")
        if setpriv:  # the proxy dies with this script, however it ends (same pid: setpriv execs)
            command = [setpriv, "--pdeathsig", "KILL"] + command
        self.proxy = subprocess.Popen(command,
                                      stdout=self.proxy_log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proxy.poll() is not None:
                raise RuntimeError("the proxy exited at start-up:\n" + self.proxy_output())
            try:
                if self.greeting() == GREETING:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the proxy did not come up:\n" + self.proxy_output())

    def proxy_output(self):
        self.proxy_log.flush()
        with open(os.path.join(self.workdir, "proxy.log"), "rb") as f:
            return f.read().decode(errors="replace")

    def greeting(self, prefix=""):
        c = Conn(self.http_port, 30)
        try:
            status, _, body = c.request("GET", prefix + "/")
            return body if status == 200 else None
        finally:
            c.close()

    def start_backend(self, service):
        self.incarnations[service] += 1
        log = os.path.join(self.workdir, "backend-%d-%d.log" % (service, self.incarnations[service]))
        proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--backend",
                                 "--backend-in", self.zmq[service][0], "--backend-out", self.zmq[service][1],
                                 "--backend-log", log],
                                stdout=subprocess.PIPE)
        line = proc.stdout.readline()
        if line.strip() != b"ready":
            raise RuntimeError("backend %d did not start" % service)
        self.backends[service] = proc

    def restart_backends(self):
        for service in (0, 1):
            start = time.time()
            proc = self.backends[service]
            proc.kill()
            proc.wait()
            self.start_backend(service)
            with self.lock:
                # Messages on their way to the dead backend may be lost: a
                # second either side of the gap is excluded from the checks.
                self.restart_windows[service].append((start - 1.0, time.time() + 1.0))
        self.restarts += 1
        print("[%6.1fs] backends restarted (%d)" % (time.time() - self.t0, self.restarts), flush=True)

    def rss_kb(self):
        try:
            with open("/proc/%d/status" % self.proxy.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def metrics(self):
        return read_metrics(self.control_port, 30)

    def open_sessions(self):
        return sum(v for k, v in self.metrics().items() if k.startswith("sockjsproxy_sessions_open{"))

    # ---- clients

    def in_restart_window(self, record):
        for start, end in self.restart_windows[record.service]:
            if record.start <= end and (record.end or time.time()) >= start:
                return True
        return False

    def slot(self, index):
        n = 0
        rng = random.Random(self.args.seed * 100003 + index)
        scenarios = [
            (self.normal_session, 80),
            (self.broken_json_session, 3),
            (self.abort_websocket, 4),
            (self.abort_http, 5),
            (self.slow_reader, 1.5),
            (self.malformed_request, 6),
            (self.oversized_websocket_message, 0.5),
        ]
        total = sum(w for _, w in scenarios)
        while time.time() < self.stop_at:
            n += 1
            key = "s%dn%d" % (index, n)
            pick = rng.uniform(0, total)
            for scenario, weight in scenarios:
                pick -= weight
                if pick <= 0:
                    break
            try:
                scenario(key, rng)
            except Exception as e:  # a bug in this script must not pass silently
                self.violation("client %s crashed: %s\n%s" % (key, e, traceback.format_exc()))
            time.sleep(rng.uniform(0, 0.3))

    def exchange(self, record, transport, rng, count):
        """Sends numbered messages (one to three per send) and waits for each echo."""
        seq = len(record.sent)
        count += seq
        while seq < count:
            batch = ["%s.%d" % (record.key, seq + i) for i in range(min(count - seq, rng.choice((1, 1, 1, 2, 3))))]
            seq += len(batch)
            transport.send(batch)
            record.sent.extend(batch)
            self.count("messages sent", len(batch))
            pending = list(batch)
            # Heartbeats keep a lost echo's receiver alive: give up by the clock.
            deadline = time.time() + self.args.timeout
            while pending:
                if time.time() > deadline:
                    raise ProtocolError("no echo of %s within %.0f s" % (pending, self.args.timeout))
                for message in decode_frames(transport.recv()):
                    record.echoed.append(message)
                    if message in pending:
                        pending.remove(message)

    def normal_session(self, key, rng):
        name = rng.choice(("websocket", "websocket", "xhr", "xhr_streaming", "eventsource", "jsonp"))
        service = rng.randrange(2)
        record = Record(key, service, "normal", name)
        self.count("sessions " + name)
        transport = TRANSPORTS[name](self.http_port, PREFIXES[service], key, self.args.timeout)
        try:
            transport.open()
            self.exchange(record, transport, rng, rng.randint(1, 12))
            transport.close()
            record.normal = True
        except (OSError, EOFError, ProtocolError, ValueError) as e:
            record.error = "%s: %s" % (type(e).__name__, e)
            transport.abort()
        record.end = time.time()
        self.add_record(record)

    def broken_json_session(self, key, rng):
        """Broken JSON to xhr_send: 500, and the session carries on."""
        service = rng.randrange(2)
        record = Record(key, service, "normal", "xhr")
        self.count("broken JSON sends")
        transport = XhrPollingTransport(self.http_port, PREFIXES[service], key, self.args.timeout)
        try:
            transport.open()
            self.exchange(record, transport, rng, 2)
            c = transport.conn()
            status, _, body = c.request("POST", transport.base + "/xhr_send", rng.choice(
                (b'["unterminated', b"not json", b'{"an": "object"}', b'["ok", 1]')))
            if status != 500 or body != b"Broken JSON encoding.\n":
                self.violation("broken JSON answered %d %r" % (status, body[:80]))
            self.exchange(record, transport, rng, 2)
            transport.close()
            record.normal = True
        except (OSError, EOFError, ProtocolError, ValueError) as e:
            record.error = "%s: %s" % (type(e).__name__, e)
            transport.abort()
        record.end = time.time()
        self.add_record(record)

    def abort_websocket(self, key, rng):
        """A WebSocket client that dies halfway through the handshake or a frame."""
        service = rng.randrange(2)
        record = Record(key, service, "aborted", "websocket")
        self.count("aborts")
        transport = WebSocketTransport(self.http_port, PREFIXES[service], key, self.args.timeout)
        try:
            if rng.random() < 0.3:
                c = transport.conn()
                request = (b"GET " + transport.base.encode() + b"/websocket HTTP/1.1\r\nHost: x\r\n"
                           b"Upgrade: websocket\r\nConnection: Upgrade\r\n")
                c.send(request[:rng.randrange(5, len(request))])
            else:
                transport.open()
                self.exchange(record, transport, rng, rng.randint(0, 3))
                frame = ws_frame(0x1, json.dumps(["%s.x" % key] * rng.randint(1, 400)).encode())
                transport.ws.conn.send(frame[:rng.randrange(1, len(frame))])
        except (OSError, EOFError, ProtocolError, ValueError) as e:
            record.error = "%s: %s" % (type(e).__name__, e)
        # Gone mid-frame: no closing handshake, the socket just ends.
        if rng.random() < 0.5:
            transport.abort()
        else:
            Transport.close(transport)
        record.end = time.time()
        self.add_record(record)

    def abort_http(self, key, rng):
        """HTTP clients that die mid-request, and a poll given up mid-wait."""
        service = rng.randrange(2)
        prefix = PREFIXES[service]
        record = Record(key, service, "aborted", "xhr")
        self.count("aborts")
        transport = XhrPollingTransport(self.http_port, prefix, key, self.args.timeout)
        try:
            transport.open()
            self.exchange(record, transport, rng, rng.randint(0, 2))
            variant = rng.randrange(3)
            c = transport.conn()
            if variant == 0:
                # Half a request line, or a head without its end.
                request = c.request_bytes("POST", transport.base + "/xhr_send", b'["%s.half"]' % key.encode())
                c.send(request[:rng.randrange(1, request.index(b"\r\n\r\n"))])
                c.abort()
            elif variant == 1:
                # A body cut short.
                body = json.dumps(["%s.cut" % key] * 50).encode()
                request = c.request_bytes("POST", transport.base + "/xhr_send", body)
                c.send(request[:len(request) - rng.randrange(1, len(body))])
                c.abort()
            else:
                # A receiving request the client gives up on (its stream is
                # open: the prelude came): README says the session closes at
                # once with c[1002,"Connection interrupted"].
                c.send_request("POST", transport.base + "/xhr_streaming")
                status, _ = c.read_head()
                c.read_chunk()
                c.abort()
                deadline = time.time() + self.args.timeout
                while True:
                    status, _, body = transport.conn().request("POST", transport.base + "/xhr")
                    if body == b'c[1002,"Connection interrupted"]\n':
                        break
                    if body != b'c[2010,"Another connection still open"]\n' or time.time() > deadline:
                        self.violation("poll after an aborted poll answered %d %r" % (status, body[:80]))
                        break
                    time.sleep(0.05)
        except (OSError, EOFError, ProtocolError, ValueError) as e:
            record.error = "%s: %s" % (type(e).__name__, e)
        transport.abort()
        record.end = time.time()
        self.add_record(record)

    def slow_reader(self, key, rng):
        """Stops reading its stream while its messages come back, then drops it."""
        service = rng.randrange(2)
        name = rng.choice(("xhr_streaming", "websocket"))
        record = Record(key, service, "slow", name)
        self.count("slow readers")
        transport = TRANSPORTS[name](self.http_port, PREFIXES[service], key, self.args.timeout)
        transport.rcvbuf = 4096
        try:
            transport.open()
            payload = "x" * 4000
            for i in range(rng.randint(50, 250)):
                batch = ["%s.%d.%s" % (key, i, payload)]
                transport.send(batch)
                record.sent.extend(batch)
                self.count("messages sent")
            time.sleep(rng.uniform(1, 4))
        except (OSError, EOFError, ProtocolError, ValueError) as e:
            record.error = "%s: %s" % (type(e).__name__, e)
        transport.abort()
        record.end = time.time()
        self.add_record(record)

    def expect_refusal(self, what, request, statuses):
        c = Conn(self.http_port, self.args.timeout)
        try:
            c.send(request)
            status, _, _ = c.read_response()
            if status not in statuses:
                self.violation("%s answered %d (expected %s)" % (what, status, statuses))
            self.count("refused requests")
        except (ConnectionResetError, BrokenPipeError, EOFError):
            # The proxy may close before it has read all that was sent; the
            # client's kernel then drops the answer with the connection.
            self.count("refused requests (reset)")
        finally:
            c.close()

    def malformed_request(self, key, rng):
        host = b"Host: 127.0.0.1\r\n"
        prefix = PREFIXES[rng.randrange(2)].encode()
        variants = [
            ("garbage request line", b"GARBAGE\r\n\r\n", (400,)),
            ("binary junk", bytes(rng.randrange(0x80, 0x100) for _ in range(200)) + b"\r\n\r\n", (400,)),
            ("request line over 8 KiB", b"GET " + prefix + b"/" + b"a" * 9000 + b" HTTP/1.1\r\n" + host + b"\r\n",
             (414,)),
            ("header over 32 KiB", b"GET " + prefix + b"/ HTTP/1.1\r\n" + host + b"X-Big: " + b"b" * 40000
             + b"\r\n\r\n", (431,)),
            ("150 headers", b"GET " + prefix + b"/ HTTP/1.1\r\n" + host
             + b"".join(b"X-H%d: v\r\n" % i for i in range(150)) + b"\r\n", (431,)),
            ("body over 1 MiB announced", b"POST " + prefix + b"/000/" + key.encode() + b"/xhr_send HTTP/1.1\r\n"
             + host + b"Content-Length: 5000000\r\n\r\n", (413,)),
            ("HTTP/3.0", b"GET " + prefix + b"/ HTTP/3.0\r\n" + host + b"\r\n", (505,)),
            ("gzip coding", b"POST " + prefix + b"/000/" + key.encode() + b"/xhr_send HTTP/1.1\r\n" + host
             + b"Transfer-Encoding: gzip\r\n\r\n", (501,)),
            ("send to no session", b"POST " + prefix + b"/000/" + key.encode() + b"/xhr_send HTTP/1.1\r\n" + host
             + b"Content-Length: 5\r\n\r\n[\"a\"]", (404,)),
        ]
        what, request, statuses = rng.choice(variants)
        self.count("malformed: " + what)
        self.expect_refusal(what, request, statuses)

    def oversized_websocket_message(self, key, rng):
        """A WebSocket message over 1 MiB: closed with 1009, nothing delivered."""
        service = rng.randrange(2)
        record = Record(key, service, "aborted", "websocket")
        self.count("oversized WebSocket messages")
        transport = WebSocketTransport(self.http_port, PREFIXES[service], key, self.args.timeout)
        try:
            transport.open()
            transport.send(["%s.big.%s" % (key, "y" * (1024 * 1024 + 10))])
            while True:
                opcode, payload = transport.ws.recv()
                if opcode == 0x8:
                    code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                    if code != 1009:
                        self.violation("oversized WebSocket message closed with %r" % code)
                    break
        except (OSError, EOFError, ProtocolError, ValueError) as e:
            record.error = "%s: %s" % (type(e).__name__, e)
        transport.abort()
        record.end = time.time()
        self.add_record(record)

    # ---- the run

    def run(self):
        self.t0 = time.time()
        self.start_proxy()
        for service in (0, 1):
            self.start_backend(service)
        print("proxy pid %d on 127.0.0.1:%d (control %d), workdir %s" % (
            self.proxy.pid, self.http_port, self.control_port, self.workdir), flush=True)

        duration = self.args.seconds
        warmup = self.args.warmup if self.args.warmup is not None else default_warmup(duration)
        self.stop_at = time.time() + duration
        threading.stack_size(256 * 1024)
        threads = [threading.Thread(target=self.slot, args=(i,), daemon=True) for i in range(self.args.sessions)]
        for t in threads:
            t.start()

        start = time.time()
        restart_at = [start + duration * 0.35, start + duration * 0.7]
        warm_at = start + warmup
        next_report = start + 10
        while time.time() < self.stop_at:
            now = time.time()
            rss = self.rss_kb()
            if rss:
                self.rss_samples.append(rss)
            if self.rss_warm is None and now >= warm_at:
                self.rss_warm = rss
                print("[%6.1fs] RSS after warm-up: %.1f MiB" % (now - self.t0, rss / 1024), flush=True)
            if restart_at and now >= restart_at[0]:
                restart_at.pop(0)
                self.restart_backends()
            if now >= next_report:
                next_report += 30
                with self.lock:
                    done = len(self.records)
                print("[%6.1fs] %d sessions done, RSS %.1f MiB" % (now - self.t0, done, (rss or 0) / 1024),
                      flush=True)
            if self.proxy.poll() is not None:
                self.violation("the proxy exited during the run (status %s)" % self.proxy.returncode)
                break
            time.sleep(0.5)

        # Every client stops by itself: its next step begins after stop_at, and
        # every wait in a step is bounded by the socket timeout.
        deadline = time.time() + self.args.timeout * 3 + 60
        for t in threads:
            t.join(max(0.1, deadline - time.time()))
        stuck = [t for t in threads if t.is_alive()]
        if stuck:
            frames = sys._current_frames()
            self.violation("%d client threads did not finish; the first is at:\n%s" % (
                len(stuck), "".join(traceback.format_stack(frames[stuck[0].ident]))))
        print("[%6.1fs] clients done" % (time.time() - self.t0), flush=True)
        self.finish()

    def finish(self):
        if self.proxy.poll() is not None:
            self.violation("the proxy is gone (status %s)" % self.proxy.returncode)
            return
        for prefix in PREFIXES:
            if self.greeting(prefix) != GREETING:
                self.violation("GET %s/ no longer answers the greeting" % prefix)

        # Every session ends: WebSockets with their connections, HTTP
        # sessions after the disconnect delay.
        deadline = time.time() + DISCONNECT_DELAY_MS / 1000 + 120
        while self.open_sessions() > 0 and time.time() < deadline:
            time.sleep(1)
        left = self.open_sessions()
        if left:
            kinds = {}
            try:
                c = Conn(self.control_port, 30)
                _, _, body = c.request("GET", "/api/snapshot")
                c.close()
                for session in json.loads(body).get("sessions", []):
                    kind = "%s/%s" % (session.get("transport"), session.get("state"))
                    kinds[kind] = kinds.get(kind, 0) + 1
            except (OSError, EOFError, ProtocolError, ValueError) as e:
                kinds = {"snapshot failed": str(e)}
            self.violation("%d sessions still open long after every client left: %s" % (left, kinds))
        queued = sum(v for k, v in self.metrics().items() if k.startswith("sockjsproxy_backend_queue{"))
        if queued:
            self.violation("%d events still queued for backends" % queued)

        # The backends have logged every disconnect (they take a moment).
        deadline = time.time() + 30
        while time.time() < deadline:
            log = self.read_logs()
            if not self.unmatched_connects(log):
                break
            time.sleep(1)
        self.rss_final = self.rss_kb()
        self.check(self.read_logs())

        self.proxy.send_signal(signal.SIGTERM)
        try:
            status = self.proxy.wait(30)
            if status != 0:
                self.violation("the proxy exited %d on SIGTERM" % status)
        except subprocess.TimeoutExpired:
            self.violation("the proxy did not exit within 30 s of SIGTERM")
        output = self.proxy_output()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            if marker in output:
                start = output.index(marker)
                self.violation("sanitizer report from the proxy:\n" + output[start:start + 3000])

    def read_logs(self):
        log = {"M": [], "C": [], "D": []}
        for name in sorted(os.listdir(self.workdir)):
            if not name.startswith("backend-"):
                continue
            service = int(name.split("-")[1])
            with open(os.path.join(self.workdir, name), "rb") as f:
                for line in f.read().decode(errors="replace").splitlines():
                    parts = line.split(" ")
                    if len(parts) >= 3 and parts[0] in log:
                        log[parts[0]].append((service, float(parts[1]), parts[2], parts[3] if len(parts) > 3 else ""))
        return log

    def unmatched_connects(self, log):
        """Sessions that connected after the last restart and never disconnected."""
        last = max([end for windows in self.restart_windows.values() for _, end in windows] or [0])
        disconnected = {(service, sid) for service, _, sid, _ in log["D"]}
        return [(service, sid) for service, t, sid, _ in log["C"] if t > last and (service, sid) not in disconnected]

    def check(self, log):
        received = {}
        for service, _, sid, data in log["M"]:
            received.setdefault(data, []).append((service, sid))
        duplicates = [data for data, where in received.items() if len(where) > 1]
        for data in duplicates[:20]:
            self.violation("message %s reached a backend %d times" % (data, len(received[data])))
        if len(duplicates) > 20:
            self.violation("... and %d more duplicated messages" % (len(duplicates) - 20))

        for kind in ("C", "D"):
            seen = {}
            for service, _, sid, _ in log[kind]:
                seen[(service, sid)] = seen.get((service, sid), 0) + 1
            twice = [k for k, v in seen.items() if v > 1]
            if twice:
                self.violation("%d sessions got %s more than once, e.g. %s" % (
                    len(twice), "connect" if kind == "C" else "disconnect", twice[0]))
        unmatched = self.unmatched_connects(log)
        if unmatched:
            self.violation("%d sessions connected after the last restart never got disconnect, e.g. %s" % (
                len(unmatched), unmatched[0]))

        checked = 0
        excluded = 0
        failed = []
        for record in self.records:
            clean = record.kind in ("normal",) and record.normal and not self.in_restart_window(record)
            if record.kind == "normal" and not record.normal and not self.in_restart_window(record):
                failed.append(record)
            if not clean:
                excluded += 1
                continue
            checked += 1
            if record.echoed != record.sent:
                self.violation("session %s (%s): sent %d, got back %d%s" % (
                    record.key, record.transport, len(record.sent), len(record.echoed),
                    "" if len(record.echoed) == len(set(record.echoed)) else " with duplicates"))
            ids = set()
            for data in record.sent:
                where = received.get(data, [])
                if len(where) != 1:
                    self.violation("message %s of session %s (%s) reached a backend %d times" % (
                        data, record.key, record.transport, len(where)))
                ids.update(where)
            if len(ids) > 1:
                self.violation("messages of session %s arrived under %d session ids" % (record.key, len(ids)))
        for record in failed[:20]:
            self.violation("session %s (%s) failed outside any restart window: %s" % (
                record.key, record.transport, record.error))
        if len(failed) > 20:
            self.violation("... and %d more failed sessions" % (len(failed) - 20))
        self.checked_sessions = checked
        self.excluded_sessions = excluded
        self.backend_messages = len(log["M"])
        self.backend_connects = len(log["C"])
        self.backend_disconnects = len(log["D"])

    def summary(self):
        records = self.records
        normal = [r for r in records if r.kind == "normal"]
        growth = None
        if self.rss_warm and getattr(self, "rss_final", None):
            growth = (self.rss_final - self.rss_warm) / 1024
        lines = [
            "==== soak summary ====",
            "duration        %.0f s, %d concurrent session slots, seed %d" % (
                self.args.seconds, self.args.sessions, self.args.seed),
            "sessions        %d (%d normal: %s)" % (len(records), len(normal), ", ".join(
                "%s %d" % (name, self.counts.get("sessions " + name, 0)) for name in TRANSPORTS)),
            "checked         %d sessions exactly-once and in order; %d excluded (aborted, slow, or in a restart "
            "window)" % (getattr(self, "checked_sessions", 0), getattr(self, "excluded_sessions", 0)),
            "messages        %d sent by clients, %d echoed back, %d logged by backends" % (
                self.counts.get("messages sent", 0), sum(len(r.echoed) for r in records),
                getattr(self, "backend_messages", 0)),
            "backend events  %d connect, %d disconnect" % (
                getattr(self, "backend_connects", 0), getattr(self, "backend_disconnects", 0)),
            "aborts          %d (+ %d slow readers, %d oversized WebSocket messages, %d broken JSON sends)" % (
                self.counts.get("aborts", 0), self.counts.get("slow readers", 0),
                self.counts.get("oversized WebSocket messages", 0), self.counts.get("broken JSON sends", 0)),
            "refused         %d malformed/oversized requests answered as documented, %d reset before the answer" % (
                self.counts.get("refused requests", 0), self.counts.get("refused requests (reset)", 0)),
            "restarts        %d (both backends each time)" % self.restarts,
            "RSS             after warm-up %.1f MiB, peak %.1f MiB, after the run %.1f MiB, growth %s MiB "
            "(bound %d)" % ((self.rss_warm or 0) / 1024, max(self.rss_samples or [0]) / 1024,
                           (getattr(self, "rss_final", 0) or 0) / 1024,
                           "%.1f" % growth if growth is not None else "?", self.args.max_growth_mb),
            "violations      %d" % len(self.violations),
        ]
        print("\n".join(lines), flush=True)
        if growth is None:
            self.violations.append("RSS could not be measured")
        elif growth > self.args.max_growth_mb:
            self.violations.append("RSS grew by %.1f MiB (bound %d)" % (growth, self.args.max_growth_mb))
            print("VIOLATION: RSS grew by %.1f MiB (bound %d)" % (growth, self.args.max_growth_mb), flush=True)
        if self.violations:
            print("logs kept in " + self.workdir, flush=True)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def cleanup(self):
        for proc in list(self.backends.values()) + ([self.proxy] if self.proxy else []):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


try:
    _LIBC = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:
    _LIBC = None


class FdPhase:
    """The proxy at a low descriptor limit (--fd-phase SECONDS, --fd-limit N).

    A proxy of its own, started under "prlimit --nofile=N:N" with one echo
    service and request_timeout_ms 2000 (max_connections derived from the
    limit), and a backend of this script. Eight sessions (WebSocket and
    xhr-streaming, one each in turn) echo a numbered message every 0.2 s for
    the whole phase, while bursts come one after another: --fd-burst
    connections at once, half of them slowloris (a partial request line,
    never finished), half a whole "GET /echo". Each burst is held for 3 s.
    Checked, each a violation:
      - every whole request is answered (200, 503) or closed within 5 s;
      - the proxy's CPU time (utime + stime of /proc/PID/stat) over a burst
        is under a third of its wall time: no spinning while out of
        descriptors or connections;
      - every echo comes back, each within 5 s;
      - the proxy closes every slowloris (request_timeout_ms, or the 1 s
        grace of a refusal) within 10 s, and a new WebSocket session opens
        and echoes within 10 s of the burst's end;
      - /metrics counted refusals, and the proxy exits 0 on SIGTERM.
    """

    HOLD_SECONDS = 3.0

    def __init__(self, args):
        self.args = args
        self.workdir = tempfile.mkdtemp(prefix="soak-fd-")
        self.violations = []
        self.stop = threading.Event()
        self.echo_count = 0
        self.echo_max = 0.0
        self.echoed = set()  # echoers that have had an echo
        self.lock = threading.Lock()
        self.bursts = []  # per burst: dict of figures
        self.refused = {}  # per half: the refusals /metrics counted
        self.mode = "derived"
        self.proxy = None
        self.backend = None

    def violation(self, text):
        print("VIOLATION (fd phase): " + text, flush=True)
        self.violations.append(text)

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.proxy.pid) as f:
            fields = f.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def start(self, exhausted):
        http, control, zin, zout = Soak.free_ports(4)
        self.http_port, self.control_port = http, control
        limits = {"request_timeout_ms": 2000, "max_connections_per_address": 0}
        if exhausted:  # far above what the descriptors allow: accept() meets EMFILE
            limits["max_connections"] = 100000
        config = {
            "http": {"address": "127.0.0.1", "port": http},
            "limits": limits,
            "services": [{"prefix": "/echo", "zmq": {"in": "tcp://127.0.0.1:%d" % zin,
                                                     "out": "tcp://127.0.0.1:%d" % zout},
                          "max_sessions_per_address": 0}],
        }
        path = os.path.join(self.workdir, "config-%s.json" % self.mode)
        with open(path, "w") as f:
            json.dump(config, f)
        env = dict(os.environ)
        env.pop("QT_LOGGING_RULES", None)
        self.log = open(os.path.join(self.workdir, "proxy-%s.log" % self.mode), "wb")
        prlimit = shutil.which("prlimit")
        if not prlimit:
            raise RuntimeError("the descriptor phase needs prlimit (util-linux)")
        limit = self.args.fd_limit
        command = [prlimit, "--nofile=%d:%d" % (limit, limit), self.args.cli, "--config", path,
                   "--control", "127.0.0.1:%d" % control]
        setpriv = shutil.which("setpriv")
        if setpriv:
            command = [setpriv, "--pdeathsig", "KILL"] + command
        self.proxy = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 60
        while True:
            if self.proxy.poll() is not None or time.time() > deadline:
                raise RuntimeError("the fd-phase proxy did not come up:\n" + self.output())
            try:
                c = Conn(http, 5)
                _, _, body = c.request("GET", "/echo")
                c.close()
                if body == GREETING:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        self.backend = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--backend",
                                         "--backend-in", "tcp://127.0.0.1:%d" % zin,
                                         "--backend-out", "tcp://127.0.0.1:%d" % zout,
                                         "--backend-log", os.path.join(self.workdir, "backend-%s.log" % self.mode)],
                                        stdout=subprocess.PIPE)
        if self.backend.stdout.readline().strip() != b"ready":
            raise RuntimeError("the fd-phase backend did not start")

    def output(self):
        self.log.flush()
        with open(os.path.join(self.workdir, "proxy-%s.log" % self.mode), "rb") as f:
            return f.read().decode(errors="replace")

    def echo(self, transport, text):
        """Sends text and waits for its echo; the seconds it took."""
        sent = time.time()
        transport.send([text])
        while True:
            messages = decode_frames(transport.recv())
            if text in messages:
                return time.time() - sent
            if time.time() - sent > 5:
                raise ProtocolError("no echo of %r within 5 s" % text)

    def echoer(self, index):
        kind = WebSocketTransport if index % 2 == 0 else XhrStreamingTransport
        transport = kind(self.http_port, "/echo", "fd%d" % index, 10)
        n = 0
        try:
            transport.open()
            first = True
            while first or not self.stop.is_set():
                first = False
                n += 1
                took = self.echo(transport, "fd%d-%d" % (index, n))
                with self.lock:
                    self.echo_count += 1
                    self.echoed.add(index)
                    self.echo_max = max(self.echo_max, took)
                if took > 5:
                    self.violation("echoer %d (%s): echo %d took %.1f s" % (index, kind.name, n, took))
                self.stop.wait(0.2)
        except Exception as e:  # noqa: BLE001
            self.violation("echoer %d (%s) failed at echo %d: %r" % (index, kind.name, n, e))
        finally:
            transport.close()

    def burst(self):
        import select
        count = self.args.fd_burst
        socks = []
        for i in range(count):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", self.http_port))
            socks.append((s, i % 2 == 1))
        t0 = time.time()
        cpu0 = self.cpu_seconds()
        # Send once connected (the connect may wait in the listen backlog).
        pending = {s: whole for s, whole in socks}
        while pending and time.time() - t0 < 5:
            _, writable, _ = select.select([], list(pending), [], 0.5)
            for s in writable:
                whole = pending.pop(s)
                try:
                    s.send(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n" if whole else b"GET /echo HTTP/1.1\r\nHo")
                except OSError:
                    pass
        figures = {"mode": self.mode, "unconnected": len(pending), "ok": 0, "refused": 0, "closed": 0}
        # Every whole request answered or closed within 5 s.
        waiting = {s for s, whole in socks if whole and s not in pending}
        while waiting and time.time() - t0 < 5:
            readable, _, _ = select.select(list(waiting), [], [], 0.5)
            for s in readable:
                try:
                    head = s.recv(12)
                except OSError:
                    head = b""
                waiting.discard(s)
                if head.startswith(b"HTTP/1.1 200"):
                    figures["ok"] += 1
                elif head.startswith(b"HTTP/1.1 503"):
                    figures["refused"] += 1
                else:
                    figures["closed"] += 1
        figures["answered_s"] = time.time() - t0
        if waiting:
            self.violation("%d whole requests unanswered after 5 s" % len(waiting))
        # Held: the proxy must not spin meanwhile.
        while time.time() - t0 < self.HOLD_SECONDS:
            time.sleep(0.1)
        wall = time.time() - t0
        cpu = self.cpu_seconds() - cpu0
        figures["cpu_s"], figures["wall_s"] = cpu, wall
        if cpu > wall / 3:
            self.violation("proxy CPU %.2f s in %.2f s during a burst" % (cpu, wall))
        # Every slowloris closed by the proxy within 10 s.
        slow = {s for s, whole in socks if not whole and s not in pending}
        while slow and time.time() - t0 < 10:
            readable, _, _ = select.select(list(slow), [], [], 0.5)
            for s in readable:
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    slow.discard(s)
        if slow:
            self.violation("%d slowloris connections still open 10 s into a burst" % len(slow))
        figures["slow_closed_s"] = time.time() - t0
        for s, _ in socks:
            s.close()
        # Recovery: a new session opens and echoes.
        ended = time.time()
        while True:
            try:
                transport = WebSocketTransport(self.http_port, "/echo", "fdnew%d" % len(self.bursts), 10)
                transport.open()
                self.echo(transport, "recovered")
                transport.close()
                break
            except (OSError, EOFError, ProtocolError) as e:
                if time.time() - ended > 10:
                    self.violation("no new session 10 s after a burst: %r" % e)
                    break
                time.sleep(0.2)
        figures["recovery_s"] = time.time() - ended
        self.bursts.append(figures)
        print("[fd phase] burst %d: %s" % (len(self.bursts), ", ".join(
            "%s %s" % (k, ("%.2f" % v) if isinstance(v, float) else v) for k, v in figures.items())), flush=True)

    def metric(self, prefix):
        c = Conn(self.control_port, 10)
        try:
            _, _, body = c.request("GET", "/metrics")
        finally:
            c.close()
        return sum(float(line.rpartition(" ")[2]) for line in body.decode().splitlines()
                   if line.startswith(prefix))

    def run(self):
        # Two halves: limits.max_connections derived from the limit (the
        # proxy refuses before its descriptors run out), then far above it
        # (accept() meets EMFILE: the accept back-off).
        for mode in ("derived", "exhausted"):
            self.mode = mode
            self.stop.clear()
            self.echoed = set()
            self.run_half(mode == "exhausted", self.args.fd_phase / 2)
            for p in (self.proxy, self.backend):
                if p is not None and p.poll() is None:
                    p.kill()
                    p.wait()

    def run_half(self, exhausted, seconds):
        self.start(exhausted)
        print("[fd phase] %s: proxy pid %d under prlimit --nofile=%d:%d, workdir %s" % (
            self.mode, self.proxy.pid, self.args.fd_limit, self.args.fd_limit, self.workdir), flush=True)
        echoers = [threading.Thread(target=self.echoer, args=(i,), daemon=True) for i in range(8)]
        for t in echoers:
            t.start()
        # Each echoer's connections (an xhr-streaming one's sender too) are
        # open before the first burst: a connection opened during one may
        # rightly be refused.
        ready_by = time.time() + 30
        while len(self.echoed) < len(echoers) and time.time() < ready_by and not self.violations:
            time.sleep(0.05)
        end = time.time() + seconds
        while time.time() < end and self.proxy.poll() is None:
            self.burst()
        self.stop.set()
        for t in echoers:
            t.join(15)
        if self.proxy.poll() is not None:
            self.violation("the fd-phase proxy exited (status %s)" % self.proxy.returncode)
            return
        refused = {
            "connections_refused": self.metric("sockjsproxy_connections_refused_total"),
            "accept_refused": self.metric("sockjsproxy_accept_refused_total"),
            "accept_pauses": self.metric("sockjsproxy_accept_pauses_total"),
        }
        self.refused[self.mode] = refused
        counted = refused["accept_refused" if exhausted else "connections_refused"]
        if not counted:
            self.violation("%s: /metrics counted no refusal: %s" % (self.mode, refused))
        self.proxy.send_signal(signal.SIGTERM)
        try:
            status = self.proxy.wait(30)
        except subprocess.TimeoutExpired:
            status = None
        if status != 0:
            self.violation("the fd-phase proxy exited with %s on SIGTERM" % status)

    def summary(self):
        for mode in ("derived", "exhausted"):
            bursts = [b for b in self.bursts if b["mode"] == mode]
            if not bursts:
                continue
            cpu = max(b["cpu_s"] / b["wall_s"] for b in bursts)
            print("fd phase, %s: limit %d, %d bursts of %d connections; whole requests: %d served, %d refused "
                  "(503), %d closed, answered within %.2f s at most; proxy CPU at most %.0f%% of a burst's wall "
                  "time; slowloris closed within %.2f s; new session within %.2f s; /metrics: %s" % (
                      mode, self.args.fd_limit, len(bursts), self.args.fd_burst,
                      sum(b["ok"] for b in bursts), sum(b["refused"] for b in bursts),
                      sum(b["closed"] for b in bursts), max(b["answered_s"] for b in bursts),
                      cpu * 100, max(b["slow_closed_s"] for b in bursts),
                      max(b["recovery_s"] for b in bursts), self.refused.get(mode, {})), flush=True)
        print("fd phase: %d echoes by 8 sessions, slowest %.2f s" % (self.echo_count, self.echo_max), flush=True)

    def cleanup(self):
        for p in (self.proxy, self.backend):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        if self.violations:
            print("fd phase: kept %s" % self.workdir)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


def die_with_parent():
    """This process gets SIGKILL when its parent dies (Linux). Called by
    each child itself: no preexec_fn, which is unsafe in a threaded parent."""
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cli", help="path of sockjsproxy-cli")
    parser.add_argument("--seconds", type=float, default=60, help="how long clients run (default 60)")
    parser.add_argument("--sessions", type=int, default=200, help="concurrent session slots (default 200)")
    parser.add_argument("--max-growth-mb", type=int, default=30,
                        help="allowed RSS growth from after the warm-up to after the run (default 30)")
    parser.add_argument("--warmup", type=float, default=None,
                        help="seconds of load before the first RSS figure (default: 10%% of the run, at "
                             "most 60, and at least the disconnect delay + 5)")
    parser.add_argument("--timeout", type=float, default=30, help="socket timeout of clients (default 30)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: from the clock)")
    parser.add_argument("--fd-phase", type=float, default=0,
                        help="seconds of the low descriptor limit phase after the run (default 0: none; "
                             "the long form: 120)")
    parser.add_argument("--fd-phase-only", action="store_true",
                        help="run only the low descriptor limit phase")
    parser.add_argument("--fd-limit", type=int, default=256,
                        help="the phase's open files limit, soft and hard (default 256)")
    parser.add_argument("--fd-burst", type=int, default=400,
                        help="connections in each of the phase's bursts (default 400)")
    parser.add_argument("--backend", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--backend-in", help=argparse.SUPPRESS)
    parser.add_argument("--backend-out", help=argparse.SUPPRESS)
    parser.add_argument("--backend-log", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.backend:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            run_backend(args)
        except KeyboardInterrupt:
            pass
        return 0
    if not args.cli or not os.access(args.cli, os.X_OK):
        parser.error("--cli must name the sockjsproxy-cli executable")
    if args.fd_phase_only and args.fd_phase <= 0:
        parser.error("--fd-phase-only needs --fd-phase SECONDS")
    warmup = args.warmup if args.warmup is not None else default_warmup(args.seconds)
    if warmup >= args.seconds and not args.fd_phase_only:
        parser.error("the warm-up (%.0f s) must be shorter than the run (%.0f s): use more --seconds"
                     % (warmup, args.seconds))
    if args.seed is None:
        args.seed = int(time.time()) % 100000

    # Every slot holds up to three sockets, the proxy as many again.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = args.sessions * 8 + 1024
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(2))
    violations = 0
    if not args.fd_phase_only:
        soak = Soak(args)
        try:
            soak.run()
        except RuntimeError as e:
            print("soak: " + str(e), file=sys.stderr)
            soak.cleanup()
            return 2
        finally:
            soak.cleanup()
        soak.summary()
        violations += len(soak.violations)
    if args.fd_phase > 0:
        phase = FdPhase(args)
        try:
            phase.run()
        except RuntimeError as e:
            print("soak: " + str(e), file=sys.stderr)
            phase.cleanup()
            return 2
        finally:
            phase.cleanup()
        phase.summary()
        violations += len(phase.violations)
    if violations:
        print("FAILED: %d violation(s)" % violations, flush=True)
        return 1
    print("OK", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
