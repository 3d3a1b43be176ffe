#!/usr/bin/python3
"""End to end: limits.max_queued_bytes_total against a flooding backend.

Runs the real sockjsproxy-cli with a total budget of --budget-mib (8) for
all outgoing queues, and a flooding backend (this script, run with
--flooder: pyzmq, a separate process) that pushes 16 KiB messages as fast
as the proxy takes them to 200 WebSocket sessions that never read (raw
sockets with a 4 KiB receive buffer, nothing read after the open frame):
20 "heavy" ones get 16 messages for every one the 180 "light" ones get.
Four more WebSocket sessions read: each is sent 300 numbered messages, one
every 20 ms whatever the flood does, and then "done".

First, with every session open and before the flood, the proxy's RSS
(VmRSS of /proc/PID/status) is taken: the overhead of the process and its
sessions (about 25 MiB; the README's limits section). Then the flood runs
until every reader has its "done" and the budget has closed every heavy
session (at most --flood-seconds), RSS sampled every 20 ms. It checks:
  - peak RSS <= budget + --overhead-mib (40: the measured 25 with margin)
    + --unsent-kib (1536) per session that does not read: the bytes a
    WebSocket may hold unsent, outside the queues (README, "unsent bytes
    on one streaming response or WebSocket": 1 MiB and a 64 KiB slice),
    and what the allocator keeps of the frames on their way there (about
    1.3 MiB per stalled session in all, measured unpaced)
    + --backlog-mib (16): what the backend sent and the proxy has not read
    yet, at most zmq.high_water_mark (1000) messages of 16 KiB;
  - sockjsproxy_queue_budget_closes_total in /metrics equals the number of
    sessions the backend got a `disconnect` for;
  - the largest queues are closed first: the first 20 closed are the 20
    heavy sessions;
  - the reading sessions are untouched: each got 0..299 in order and then
    "done", no close frame, and the backend got no `disconnect` for them;
  - sockjsproxy_queued_bytes is within the budget afterwards.
Exit status 1 on a violation, 2 on a setup error. --measure only prints
the figures (what the README's overhead comes from); --rate-mib paces the
flood (CTest's memory_budget does not: the backend is held to the proxy's
pace by zmq.high_water_mark, so what it sent and the proxy has not read
stays bounded; the bound below allows for it with --backlog-mib).

Needs Python 3 with pyzmq (Debian: python3-zmq), like the samples.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "soak"))
import soak  # noqa: E402  (its raw WebSocket client and HTTP connection)

SINKS = 200
HEAVY = 20
HEAVY_SHARE = 16  # messages a heavy session gets for each one a light session gets
READERS = 4
READER_MESSAGES = 300
FLOOD_BYTES = 16 * 1024


# --------------------------------------------------------------------------------------
# The flooding backend (python3 memory_budget.py --flooder IN OUT)
# --------------------------------------------------------------------------------------

def run_flooder(args):
    """Registers sessions by their first message ("heavy", "light", "reader");
    floods once it gets SIGUSR1; prints its log lines on stdout."""
    import zmq

    soak.die_with_parent()
    go = threading.Event()
    signal.signal(signal.SIGUSR1, lambda *_: go.set())
    context = zmq.Context()
    pull = context.socket(zmq.PULL)
    push = context.socket(zmq.PUSH)
    for s in (pull, push):
        s.setsockopt(zmq.LINGER, 0)
    pull.connect(args.endpoints[0])
    push.connect(args.endpoints[1])
    role = {}
    sent = {}
    closed = set()
    payload = b"x" * FLOOD_BYTES
    print("ready", flush=True)

    def events():
        while pull.poll(0):
            kind, session, data = pull.recv_multipart()
            if kind == b"message" and session not in role:
                role[session] = data.decode()
                sent[session] = 0
                print("role %s %s" % (session.decode(), role[session]), flush=True)
            elif kind == b"disconnect" and session not in closed:
                closed.add(session)
                print("disconnect %s %s" % (session.decode(), role.get(session, "?")), flush=True)

    totals = {"bytes": 0, "blocked": 0, "at": time.time()}
    started = [time.time()]

    def send(session, data):
        if time.time() - totals["at"] >= 1:
            totals["at"] = time.time()
            print("sent %d %d" % (totals["bytes"], totals["blocked"]), flush=True)
        while True:
            try:
                push.send_multipart([b"message", session, data], zmq.NOBLOCK)
                totals["bytes"] += len(data)
                return
            except zmq.Again:
                totals["blocked"] += 1
                push.poll(100, zmq.POLLOUT)
                events()

    while True:
        events()
        if not go.is_set():
            pull.poll(50)
            started[0] = time.time()
            continue
        # The readers: one message each every 20 ms, whatever the flood does.
        due = min(READER_MESSAGES, int((time.time() - started[0]) / 0.02) + 1)
        for session, kind in list(role.items()):
            if kind == "reader" and session not in closed:
                while sent[session] < due:
                    send(session, b"%d" % sent[session])
                    sent[session] += 1
                    if sent[session] == READER_MESSAGES:
                        send(session, b"done")
        for session, kind in list(role.items()):
            if session in closed or kind == "reader":
                continue
            for _ in range(HEAVY_SHARE if kind == "heavy" else 1):
                send(session, payload)
        if args.rate_mib:  # paced: at most rate_mib MiB/s
            ahead = totals["bytes"] / (args.rate_mib * 1048576.0) - (time.time() - started[0])
            if ahead > 0:
                time.sleep(ahead)


# --------------------------------------------------------------------------------------
# The test
# --------------------------------------------------------------------------------------

class Run:
    def __init__(self, args):
        self.args = args
        self.workdir = tempfile.mkdtemp(prefix="sockjsproxy-budget-")
        self.procs = []
        self.violations = []

    def violation(self, text):
        print("VIOLATION: " + text, flush=True)
        self.violations.append(text)

    def start(self):
        http, control, zin, zout = soak.Soak.free_ports(4)
        self.http, self.control = http, control
        endpoints = ("tcp://127.0.0.1:%d" % zin, "tcp://127.0.0.1:%d" % zout)
        config = {
            "http": {"address": "127.0.0.1", "port": http},
            "limits": {"max_connections_per_address": 0,
                       "max_queued_bytes_total": self.args.budget_mib * 1024 * 1024},
            "services": [{"prefix": "/flood", "zmq": {"in": endpoints[0], "out": endpoints[1]},
                          "max_sessions_per_address": 0}],
        }
        path = os.path.join(self.workdir, "config.json")
        with open(path, "w") as f:
            json.dump(config, f)
        env = dict(os.environ)
        env.pop("QT_LOGGING_RULES", None)
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=16"
        self.proxy_log = open(os.path.join(self.workdir, "proxy.log"), "wb")
        command = [self.args.cli, "--config", path, "--control", "127.0.0.1:%d" % control]
        setpriv = shutil.which("setpriv")
        if setpriv:
            command = [setpriv, "--pdeathsig", "KILL"] + command
        self.proxy = subprocess.Popen(command, stdout=self.proxy_log, stderr=subprocess.STDOUT, env=env)
        self.procs.append(self.proxy)
        deadline = time.time() + 30
        while True:
            if self.proxy.poll() is not None or time.time() > deadline:
                raise RuntimeError("the proxy did not come up:\n" + self.proxy_output())
            try:
                c = soak.Conn(http, 5)
                status, _, body = c.request("GET", "/flood")
                c.close()
                if body == soak.GREETING:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        self.flooder = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--flooder", *endpoints,
                                         "--rate-mib", str(self.args.rate_mib)],
                                        stdout=subprocess.PIPE, text=True)
        self.procs.append(self.flooder)
        if self.flooder.stdout.readline().strip() != "ready":
            raise RuntimeError("the flooder did not start")
        self.flooder_lines = []
        self.reader = threading.Thread(target=self.read_flooder, daemon=True)
        self.reader.start()

    def read_flooder(self):
        for line in self.flooder.stdout:
            self.flooder_lines.append(line.split())

    def proxy_output(self):
        self.proxy_log.flush()
        with open(os.path.join(self.workdir, "proxy.log"), "rb") as f:
            return f.read().decode(errors="replace")

    def rss_kib(self):
        with open("/proc/%d/status" % self.proxy.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def metrics(self):
        return soak.read_metrics(self.control, 10)

    def open_session(self, index, role, rcvbuf=None):
        ws = soak.WebSocket(self.http, "/flood/000/%s%d/websocket" % (role, index), 10, rcvbuf)
        opcode, payload = ws.recv()
        if payload != b"o":
            raise RuntimeError("expected the open frame, got %r" % payload[:80])
        ws.send_text(json.dumps([role]))
        return ws

    def wait_for(self, condition, seconds, what):
        deadline = time.time() + seconds
        while not condition():
            if time.time() > deadline:
                raise RuntimeError("timed out waiting for " + what)
            time.sleep(0.02)

    def read_reader(self, ws, got):
        """Frames of a reading session until "done" or a close frame."""
        try:
            while True:
                opcode, payload = ws.recv()
                frame = payload.decode()
                if opcode == 0x8 or frame.startswith("c"):
                    got.append("close " + frame)
                    return
                if frame.startswith("a"):
                    for message in json.loads(frame[1:]):
                        got.append(message)
                        if message == "done":
                            return
        except Exception as e:  # noqa: BLE001  (a reader that fails is a violation, reported below)
            got.append("error %r" % e)

    def run(self):
        self.start()
        sinks = []
        for i in range(SINKS):
            sinks.append(self.open_session(i, "heavy" if i < HEAVY else "light", rcvbuf=4096))
        readers = [self.open_session(i, "reader") for i in range(READERS)]
        roles = lambda: [l for l in self.flooder_lines if l[0] == "role"]  # noqa: E731
        self.wait_for(lambda: len(roles()) == SINKS + READERS, 20, "every session's role at the backend")
        reader_ids = {l[1] for l in roles() if l[2] == "reader"}
        heavy_ids = {l[1] for l in roles() if l[2] == "heavy"}

        # The overhead: the process and its sessions, before any flood.
        before = self.rss_kib()
        print("RSS with %d sessions open, before the flood: %.1f MiB" % (SINKS + READERS, before / 1024),
              flush=True)

        got = [[] for _ in readers]
        threads = [threading.Thread(target=self.read_reader, args=(ws, g), daemon=True)
                   for ws, g in zip(readers, got)]
        for t in threads:
            t.start()
        started = time.time()
        self.flooder.send_signal(signal.SIGUSR1)
        peak = before
        closes = lambda: [l for l in self.flooder_lines if l[0] == "disconnect"]  # noqa: E731
        # Until the readers are done and the budget has closed every heavy
        # session and some light ones (or the time is up).
        while time.time() - started < self.args.flood_seconds:
            peak = max(peak, self.rss_kib())
            if (not any(t.is_alive() for t in threads)
                    and len([l for l in closes() if l[2] == "heavy"]) >= HEAVY):
                break
            time.sleep(0.02)
        flood_seconds = time.time() - started
        for t in threads:
            t.join(10)
        # The backend's disconnects trail the closes a little.
        deadline = time.time() + 5
        while (time.time() < deadline
               and self.metrics().get("sockjsproxy_queue_budget_closes_total", -1) != len(closes())):
            time.sleep(0.05)
        metrics = self.metrics()
        self.flooder.kill()
        self.flooder.wait()
        self.reader.join(5)
        after = self.rss_kib()
        budget_closes = int(metrics.get("sockjsproxy_queue_budget_closes_total", -1))
        order = [l[2] for l in closes()]
        queued = int(metrics.get("sockjsproxy_queued_bytes", -1))

        print("flood: %.1f s; RSS peak %.1f MiB, after %.1f MiB (budget %d MiB, before the flood %.1f MiB)" % (
            flood_seconds, peak / 1024, after / 1024, self.args.budget_mib, before / 1024), flush=True)
        print("closed by the budget: %d (%d heavy, %d light); readers got %s messages" % (
            budget_closes, order.count("heavy"), order.count("light"), [len(g) for g in got]), flush=True)
        if self.args.measure:
            return

        bound = (self.args.budget_mib * 1024 + self.args.overhead_mib * 1024
                 + SINKS * self.args.unsent_kib + self.args.backlog_mib * 1024)
        if peak > bound:
            self.violation("RSS peak %d KiB over the bound %d KiB" % (peak, bound))
        if budget_closes <= 0:
            self.violation("no session closed by the budget")
        if budget_closes != len(order):
            self.violation("/metrics counts %d budget closes, the backend got %d disconnects" % (
                budget_closes, len(order)))
        if "reader" in order or reader_ids & {l[1] for l in closes()}:
            self.violation("a reading session was closed")
        if order[:HEAVY] != ["heavy"] * HEAVY:
            self.violation("not every heavy session closed before the first light one: %s" % order[:HEAVY + 5])
        if order.count("heavy") != HEAVY:
            self.violation("%d of the %d heavy sessions closed" % (order.count("heavy"), HEAVY))
        if not heavy_ids:
            self.violation("no heavy session registered")
        expected = [str(i) for i in range(READER_MESSAGES)] + ["done"]
        for i, g in enumerate(got):
            if g != expected:
                self.violation("reader %d got %d messages, first difference at %s" % (
                    i, len(g), next((k for k, (a, b) in enumerate(zip(g, expected)) if a != b), len(g))))
        if queued > self.args.budget_mib * 1024 * 1024:
            self.violation("sockjsproxy_queued_bytes %d over the budget after the flood" % queued)
        for ws in sinks + readers:
            ws.conn.abort()

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if self.violations:
            print("kept %s (proxy.log)" % self.workdir)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cli", help="path of sockjsproxy-cli")
    parser.add_argument("--budget-mib", type=int, default=8, help="limits.max_queued_bytes_total (8)")
    parser.add_argument("--overhead-mib", type=int, default=40,
                        help="RSS allowed beyond the budget and the unsent bytes (40)")
    parser.add_argument("--unsent-kib", type=int, default=1536,
                        help="RSS allowed per session that does not read (1536: 1 MiB + a 64 KiB slice "
                             "unsent, and the allocator's share)")
    parser.add_argument("--backlog-mib", type=int, default=16,
                        help="RSS allowed for what the backend sent ahead of the proxy (16: 1000 x 16 KiB)")
    parser.add_argument("--flood-seconds", type=float, default=15, help="longest flood (15)")
    parser.add_argument("--rate-mib", type=float, default=0,
                        help="the flood's pace in MiB/s (default 0: as fast as the proxy takes it)")
    parser.add_argument("--measure", action="store_true", help="print the figures, check nothing")
    parser.add_argument("--flooder", nargs=2, dest="endpoints", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.endpoints:
        run_flooder(args)
        return 0
    if not args.cli:
        parser.error("--cli is required")
    run = Run(args)
    try:
        run.run()
    except Exception as e:  # noqa: BLE001
        print("setup error: %s\n%s" % (e, run.proxy_output()[-3000:] if hasattr(run, "proxy_log") else ""))
        run.cleanup()
        return 2
    run.cleanup()
    return 1 if run.violations else 0


if __name__ == "__main__":
    sys.exit(main())
