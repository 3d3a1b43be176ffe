#!/usr/bin/env python3
"""Turns the RESULT lines of bench/run into bench/RESULTS.md.

usage: summarize.py RAW META OUT   (OUT "-" prints to stdout)

Every figure is the median of the repetitions with (min-max). Whatever
follows the NOTES_MARKER line in an existing OUT is kept (the profile and
hand-written analysis live there).
"""

import statistics
import sys

NOTES_MARKER = "<!-- notes: everything below this line is kept by bench/run -->"

TARGETS = ["sockjs-node", "qtws", "sockjsproxy", "sockjsproxy-baseline"]
TARGET_NAMES = {"sockjs-node": "sockjs-node 0.3.24", "qtws": "plain Qt ws", "sockjsproxy": "SockJSProxy",
                "sockjsproxy+monitor": "SockJSProxy + monitor", "sockjsproxy-cluster": "SockJSProxy, 3 nodes",
                "sockjsproxy-cluster-spread": "SockJSProxy, 3 nodes on both cores",
                "sockjsproxy-baseline": "SockJSProxy, baseline build"}


# Targets are ratios to the reference servers of the same run, so that
# they hold on any machine: SockJSProxy's median divided by sockjs-node's
# (and by plain Qt's where given). ">=": higher is better (throughput);
# "<=": lower is better (memory, time). A goal of None: ratio shown, no target.
# metric, scenario id, field, scale, unit, digits, direction, goal vs sockjs-node, goal vs plain Qt, why
GOALS = [
    ("memory per idle ws session", "idle-ws-5000", "bytes_per_session", 1 / 1024, "KiB", 1, "<=", 0.99, 1.0,
     "no heavier than a bare QWebSocket, lighter than sockjs-node"),
    ("ws ping-pong 32 B, 1 session", "ws-pingpong-32-1", "msgs_per_cpu_s", 1, "msgs/CPU-s", 0, ">=", 0.8, None,
     "low concurrency, with the ZeroMQ hop"),
    ("xhr-polling ping-pong 32 B, 1 session", "xhr-polling-pingpong-1", "msgs_per_cpu_s", 1, "msgs/CPU-s", 0, ">=",
     1.0, None, "low concurrency over HTTP"),
    ("latency p50 at 1,000 msg/s", "latency-1000", "p50_us", 1e-3, "ms", 3, "<=", 1.5, None,
     "with the ZeroMQ hop"),
    ("ws echo 32 B, 1,000 sessions", "ws-echo-32-1000", "msgs_per_cpu_s", 1, "msgs/CPU-s", 0, ">=", 1.25, None,
     "many sessions"),
    ("ws echo 32 B, 100 sessions", "ws-echo-32-100", "msgs_per_cpu_s", 1, "msgs/CPU-s", 0, ">=", 1.32, None,
     "keep the lead"),
    ("ws echo 4 KiB, 100 sessions", "ws-echo-4k-100", "msgs_per_cpu_s", 1, "msgs/CPU-s", 0, ">=", 1.64, None,
     "keep the lead"),
    ("ws echo 4 KiB, 1,000 sessions", "ws-echo-4k-1000", "msgs_per_cpu_s", 1, "msgs/CPU-s", 0, ">=", 1.7, None,
     "keep the lead"),
    ("new ws sessions", "connect-ws", "sessions_per_cpu_s", 1, "sessions/CPU-s", 0, ">=", 5.2, None,
     "keep the lead"),
    ("xhr-streaming echo, 100 sessions", "xhr-streaming-echo-100", "msgs_per_cpu_s", 1, "msgs/CPU-s", 0, ">=", 1.53,
     None, "keep the lead"),
    ("xhr-polling echo, 100 sessions", "xhr-polling-echo-100", "msgs_per_cpu_s", 1, "msgs/CPU-s", 0, ">=", 1.33,
     None, "keep the lead"),
    ("memory per idle xhr-streaming session", "idle-xhr-streaming-5000", "bytes_per_session", 1 / 1024, "KiB", 1,
     "<=", 0.44, None, "keep the lead"),
    ("fan-out to 5,000 sessions", "fanout-5000", "fanout_ms", 1, "ms", 1, "<=", 1.0, None, "at least even"),
]

SCENARIO_TEXT = {
    "ws-echo-32-1": "ws echo 32 B, 1 session (128 in flight)",
    "ws-pingpong-32-1": "ws ping-pong 32 B, 1 session (1 in flight)",
    "xhr-polling-pingpong-1": "xhr-polling ping-pong 32 B, 1 session (1 in flight)",
    "ws-echo-32-100": "ws echo 32 B, 100 sessions",
    "ws-echo-32-1000": "ws echo 32 B, 1,000 sessions",
    "ws-echo-4k-1": "ws echo 4 KiB, 1 session (128 in flight)",
    "ws-echo-4k-100": "ws echo 4 KiB, 100 sessions",
    "ws-echo-4k-1000": "ws echo 4 KiB, 1,000 sessions",
    "latency-1000": "ws 32 B at 1,000 msg/s over 10 sessions",
    "xhr-streaming-echo-100": "xhr-streaming echo 32 B, 100 sessions",
    "xhr-polling-echo-100": "xhr-polling echo 32 B, 100 sessions",
    "connect-ws": "new ws sessions (16 opening at a time)",
    "idle-ws-5000": "5,000 idle ws sessions",
    "idle-xhr-streaming-5000": "5,000 idle xhr-streaming sessions",
    "fanout-5000": "fan-out to 5,000 ws sessions",
    "cluster-ws-echo-32-100": "ws echo 32 B, 100 sessions",
    "cluster-fanout-5000": "fan-out to 5,000 ws sessions (SockJSProxy: one broadcast)",
}

# The goal for the cluster: a broadcast reaches 5,000 sessions
# spread over the nodes in at most this share of sockjs-node's fan-out time.
CLUSTER_BROADCAST_GOAL = 0.5


def parse(path):
    runs = {}
    with open(path) as f:
        for line in f:
            if not line.startswith("RESULT"):
                continue
            fields = dict(tok.split("=", 1) for tok in line.split()[1:] if "=" in tok)
            runs.setdefault((fields.get("id"), fields.get("target")), []).append(fields)
    return runs


def values(runs, sid, target, field, scale=1.0):
    out = []
    for r in runs.get((sid, target), []):
        if r.get("ok") != "1" or field not in r:
            continue
        v = float(r[field])
        if v < 0:
            continue
        out.append(v * scale)
    return out


def fmt_num(v, digits):
    if digits == 0:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def cell(vals, digits):
    if not vals:
        return "—"
    med = statistics.median(vals)
    if len(vals) == 1:
        return fmt_num(med, digits)
    return f"{fmt_num(med, digits)} ({fmt_num(min(vals), digits)}–{fmt_num(max(vals), digits)})"


def median(vals):
    return statistics.median(vals) if vals else None


def throughput_row(runs, sid, target):
    """One row of a throughput table: rates, CPU shares, latency, errors."""
    errs = sum(int(float(r.get("errors", 0))) for r in runs[(sid, target)])
    fails = sum(1 for r in runs[(sid, target)] if r.get("ok") != "1")
    return (f"| {SCENARIO_TEXT.get(sid, sid)} | {TARGET_NAMES[target]} | "
            f"{cell(values(runs, sid, target, 'msgs_per_s'), 0)} | "
            f"{cell(values(runs, sid, target, 'msgs_per_cpu_s'), 0)} | "
            f"{cell(values(runs, sid, target, 'server_cpu_pct'), 0)} | "
            f"{cell(values(runs, sid, target, 'loadgen_cpu_pct'), 0)} | "
            f"{cell(values(runs, sid, target, 'backend_cpu_pct'), 0)} | "
            f"{cell(values(runs, sid, target, 'p50_us', 1e-3), 2)} | "
            f"{cell(values(runs, sid, target, 'p99_us', 1e-3), 2)} | "
            f"{errs}{f' ({fails} runs failed)' if fails else ''} |")


def cluster_section(L, runs, meta):
    """Three nodes with one backend connected to all: what the forwarding hop
    costs per CPU-second against one node, and the broadcast against
    sockjs-node's fan-out loop."""
    echo, fan = "cluster-ws-echo-32-100", "cluster-fanout-5000"
    if not any(sid in (echo, fan) for sid, _ in runs):
        return
    L.append("## Several nodes (cluster)")
    L.append("")
    L.append("Three `sockjsproxy-cli` nodes with a `cluster` config (README \"Several proxies\", default timing), "
             "all three pinned where a single server runs, and one backend (the fan-out driver, which echoes) "
             "connected to every node's in and out with ZMQ_IMMEDIATE, as the README advises; the load generator "
             "deals the sessions round-robin over the three HTTP ports. ZeroMQ deals the backend's replies "
             "round-robin too, so about two in three reach a node that does not hold the session and are "
             "forwarded. CPU is the sum of the three nodes' utime+stime. The one-node rows run the same backend "
             f"in the same run. Run: {meta.get('date')}, {meta.get('mode')} mode ({meta.get('reps')} repetitions), "
             f"machine load average {meta.get('loadavg')}.")
    L.append("")
    L.append("| scenario | server | msgs/s | msgs/CPU-s | server CPU % | load generator CPU % | backend CPU % | "
             "p50 ms | p99 ms | errors |")
    L.append("|---|---|---|---|---|---|---|---|---|---|")
    for target in ("sockjsproxy", "sockjsproxy-cluster"):
        if (echo, target) in runs:
            L.append(throughput_row(runs, echo, target))
    one = median(values(runs, echo, "sockjsproxy", "msgs_per_cpu_s"))
    three = median(values(runs, echo, "sockjsproxy-cluster", "msgs_per_cpu_s"))
    if one and three:
        L.append("")
        L.append(f"The forwarding hop: three nodes deliver {three / one * 100:.0f}% of one node's messages per "
                 f"CPU-second ({(one / three - 1) * 100:.0f}% more CPU per message).")
    L.append("")
    L.append("| scenario | server | result | server CPU per round | errors |")
    L.append("|---|---|---|---|---|")
    for target in ("sockjs-node", "sockjsproxy", "sockjsproxy-cluster", "sockjsproxy-cluster-spread"):
        if (fan, target) not in runs:
            continue
        errs = sum(int(float(r.get("errors", 0))) for r in runs[(fan, target)])
        fails = sum(1 for r in runs[(fan, target)] if r.get("ok") != "1")
        L.append(f"| {SCENARIO_TEXT[fan]} | {TARGET_NAMES[target]} | "
                 f"{cell(values(runs, fan, target, 'fanout_ms'), 1)} ms until all received | "
                 f"{cell(values(runs, fan, target, 'fanout_cpu_ms'), 0)} ms | "
                 f"{errs}{f' ({fails} runs failed)' if fails else ''} |")
    node = median(values(runs, fan, "sockjs-node", "fanout_ms"))
    # The target is about nodes that run side by side: the spread row. The
    # pinned row (the three on one core) compares CPU with one server.
    for target, how in (("sockjsproxy-cluster-spread", "on both cores"), ("sockjsproxy-cluster", "on one core")):
        cluster = median(values(runs, fan, target, "fanout_ms"))
        if not node or not cluster:
            continue
        ratio = cluster / node
        ok = ratio <= CLUSTER_BROADCAST_GOAL
        L.append("")
        L.append(f"Target: the broadcast reaches all 5,000 sessions over three nodes ({how}) in at most "
                 f"{CLUSTER_BROADCAST_GOAL:g} × sockjs-node's fan-out time: {cluster:.1f} ms against {node:.1f} ms, "
                 f"{ratio:.2f} × — " + ("met." if ok else
                                        f"missed ({cluster / (node * CLUSTER_BROADCAST_GOAL):.2f}× the target, "
                                        f"{node * CLUSTER_BROADCAST_GOAL:.1f} ms)."))
    L.append("")


def baseline_section(L, runs, meta):
    """The A/B of two builds in one run (bench/run --baseline): this build's
    median against the baseline build's, scenario by scenario."""
    sids = [sid for sid, target in runs if target == "sockjsproxy-baseline"]
    if not sids:
        return
    L.append("## This build against a baseline build (A/B in one run)")
    L.append("")
    L.append(f"Baseline: {meta.get('baseline')}, run in alternation with this build ({meta.get('sockjsproxy')}) "
             "under the same configuration, backend and load.")
    L.append("")
    L.append("| scenario | figure | baseline build | this build | this ÷ baseline |")
    L.append("|---|---|---|---|---|")
    for sid in SCENARIO_TEXT:
        if sid not in sids:
            continue
        # The figure a target judges the scenario by; throughput otherwise.
        goal = next((g for g in GOALS if g[1] == sid), (None, sid, "msgs_per_cpu_s", 1, "msgs/CPU-s", 0))
        field, scale, unit, digits = goal[2:6]
        old = values(runs, sid, "sockjsproxy-baseline", field, scale)
        new = values(runs, sid, "sockjsproxy", field, scale)
        ratio = f"{median(new) / median(old):.2f}" if old and new and median(old) else "—"
        L.append(f"| {SCENARIO_TEXT[sid]} | {unit} | {cell(old, digits)} | {cell(new, digits)} | {ratio} |")
    L.append("")


def main():
    raw, meta_path, out_path = sys.argv[1:4]
    runs = parse(raw)
    meta = {}
    with open(meta_path) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                meta[k] = v
    if meta.get("baseline"):
        TARGET_NAMES["sockjsproxy-baseline"] = f"SockJSProxy, baseline {meta.get('baseline_label')}"

    L = []
    L.append("# SockJSProxy benchmark results")
    L.append("")
    L.append("Written by `bench/run`; method and how to read the tables in `bench/README.md`.")
    L.append("")
    L.append(f"- date: {meta.get('date')}; mode: {meta.get('mode')} ({meta.get('reps')} repetitions, "
             f"{meta.get('duration')} s measured after {meta.get('warmup')} s warm-up per throughput run)")
    L.append(f"- machine: {meta.get('nproc')} cores, {meta.get('cpu')}, Linux {meta.get('kernel')}; "
             f"load average {meta.get('loadavg')}")
    L.append(f"- pinning: {meta.get('pinning')}")
    L.append(f"- versions: {meta.get('sockjsproxy')}, Qt {meta.get('qt')}, libzmq {meta.get('libzmq')}, "
             f"Node.js {meta.get('node')} with sockjs {meta.get('sockjs_node')}, {meta.get('compiler')}")
    L.append(f"- failed runs: {meta.get('failed_runs')}")
    L.append("")
    L.append("Figures: median of the repetitions (min–max). CPU is the server process's own utime+stime "
             "from /proc (for SockJSProxy the proxy's, not the backend's). The issue's figures come from "
             "another machine: compare the ratios.")
    L.append("")

    # --- Targets ---
    L.append("## Targets")
    L.append("")
    L.append("Each target is a ratio to a reference server measured in this run: SockJSProxy's median "
             "divided by the reference's median.")
    L.append("")
    L.append("| metric | unit | sockjs-node | plain Qt ws | SockJSProxy | ÷ sockjs-node: wanted → measured | "
             "÷ plain Qt: wanted → measured | verdict | why |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for (name, sid, field, scale, unit, digits, direction, goal_node, goal_qt, why) in GOALS:
        node = values(runs, sid, "sockjs-node", field, scale)
        qt = values(runs, sid, "qtws", field, scale)
        proxy = values(runs, sid, "sockjsproxy", field, scale)
        pm = median(proxy)
        cells = []
        verdicts = []
        for goal, ref in ((goal_node, median(node)), (goal_qt, median(qt))):
            if pm is None or ref is None or ref == 0:
                cells.append("—")
                continue
            got = pm / ref
            if goal is None:
                cells.append(f"{got:.2f}")
                continue
            ok = got >= goal if direction == ">=" else got <= goal
            cells.append(f"{direction} {goal:.2f} → {got:.2f} {'✓' if ok else '✗'}")
            verdicts.append(ok)
        if not verdicts:
            result = "—"
        elif all(verdicts):
            result = "met"
        else:
            result = "missed"
        L.append(f"| {name} | {unit} | {cell(node, digits)} | {cell(qt, digits)} | {cell(proxy, digits)} | "
                 f"{cells[0]} | {cells[1]} | {result} | {why} |")
    L.append("")

    # --- Monitoring layer ---
    L.append("## Cost of the monitoring layer (ws echo 32 B, 100 sessions)")
    L.append("")
    L.append("| SockJSProxy | msgs/CPU-s | msgs/s | server CPU % | monitor stream bytes |")
    L.append("|---|---|---|---|---|")
    base = None
    for target in ("sockjsproxy", "sockjsproxy+monitor"):
        per_cpu = values(runs, "ws-echo-32-100", target, "msgs_per_cpu_s")
        label = "without --control" if target == "sockjsproxy" else \
            "with --control + a client on /api/stream"
        mb = values(runs, "ws-echo-32-100", target, "monitor_bytes")
        L.append(f"| {label} | {cell(per_cpu, 0)} | {cell(values(runs, 'ws-echo-32-100', target, 'msgs_per_s'), 0)} | "
                 f"{cell(values(runs, 'ws-echo-32-100', target, 'server_cpu_pct'), 0)} | {cell(mb, 0) if mb else '—'} |")
        if target == "sockjsproxy":
            base = median(per_cpu)
        elif base and per_cpu:
            L.append("")
            L.append(f"Monitoring costs {(1 - median(per_cpu) / base) * 100:.1f}% of the per-CPU-second throughput "
                     "(negative: within noise).")
    L.append("")

    # --- All scenarios ---
    L.append("## Every scenario")
    L.append("")
    L.append("Throughput runs: messages received by the clients per second of wall time and per second of "
             "server CPU; CPU shares are of one core during the measured interval (load generator and, for "
             "SockJSProxy, the echo backend share the second core). Latency is the round trip seen by the "
             "load generator (closed loop in the echo rows: it includes queueing).")
    L.append("")
    L.append("| scenario | server | msgs/s | msgs/CPU-s | server CPU % | load generator CPU % | backend CPU % | "
             "p50 ms | p99 ms | errors |")
    L.append("|---|---|---|---|---|---|---|---|---|---|")
    for sid in ("ws-echo-32-1", "ws-pingpong-32-1", "ws-echo-32-100", "ws-echo-32-1000", "ws-echo-4k-1",
                "ws-echo-4k-100", "ws-echo-4k-1000", "latency-1000", "xhr-streaming-echo-100", "xhr-polling-echo-100",
                "xhr-polling-pingpong-1"):
        for target in TARGETS + ["sockjsproxy+monitor"]:
            if (sid, target) in runs:
                L.append(throughput_row(runs, sid, target))
    L.append("")
    L.append("| scenario | server | result | server CPU % / CPU-s | load generator CPU % | errors |")
    L.append("|---|---|---|---|---|---|")
    for sid in ("connect-ws", "idle-ws-5000", "idle-xhr-streaming-5000", "fanout-5000"):
        for target in TARGETS:
            if (sid, target) not in runs:
                continue
            errs = sum(int(float(r.get("errors", 0))) for r in runs[(sid, target)])
            fails = sum(1 for r in runs[(sid, target)] if r.get("ok") != "1")
            if sid == "connect-ws":
                result = (f"{cell(values(runs, sid, target, 'sessions_per_s'), 0)} sessions/s, "
                          f"{cell(values(runs, sid, target, 'sessions_per_cpu_s'), 0)} per CPU-s")
                cpu = cell(values(runs, sid, target, "server_cpu_pct"), 0) + " %"
                lg = cell(values(runs, sid, target, "loadgen_cpu_pct"), 0)
            elif sid.startswith("idle"):
                result = (f"{cell(values(runs, sid, target, 'bytes_per_session', 1 / 1024), 1)} KiB per session "
                          f"(RSS {cell(values(runs, sid, target, 'rss_before_kib', 1 / 1024), 0)} → "
                          f"{cell(values(runs, sid, target, 'rss_after_kib', 1 / 1024), 0)} MiB, all open after "
                          f"{cell(values(runs, sid, target, 'open_s'), 2)} s)")
                cpu = cell(values(runs, sid, target, "server_cpu_s"), 2) + " CPU-s to open"
                lg = "—"
            else:
                result = (f"{cell(values(runs, sid, target, 'fanout_ms'), 1)} ms until all received "
                          f"(median of each run's rounds)")
                cpu = cell(values(runs, sid, target, "fanout_cpu_ms"), 0) + " ms CPU per round"
                lg = "—"
            L.append(f"| {SCENARIO_TEXT.get(sid, sid)} | {TARGET_NAMES[target]} | {result} | {cpu} | {lg} | "
                     f"{errs}{f' ({fails} runs failed)' if fails else ''} |")
    L.append("")

    cluster_section(L, runs, meta)
    baseline_section(L, runs, meta)

    notes = None
    if out_path != "-":
        try:
            with open(out_path) as f:
                old = f.read()
            if NOTES_MARKER in old:
                notes = old.split(NOTES_MARKER, 1)[1]
        except FileNotFoundError:
            pass
    L.append(NOTES_MARKER)
    text = "\n".join(L) + (notes if notes is not None else "\n")
    if out_path == "-":
        sys.stdout.write(text)
    else:
        with open(out_path, "w") as f:
            f.write(text)
        sys.stdout.write(text.split(NOTES_MARKER)[0])


if __name__ == "__main__":
    main()
