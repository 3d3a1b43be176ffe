#!/usr/bin/python3
"""The backend of run.mjs's cluster phase: an echo backend that knows
nothing of the cluster, connected to every node the way the README's
"Several proxies" invites (its PULL to every node's "in", its PUSH, with
ZMQ_IMMEDIATE, to every node's "out"). ZeroMQ deals its replies round-robin
over the nodes; the nodes forward those for sessions they do not hold.

It speaks the ordinary protocol (three frames: type, session id, data) and
echoes every message, except two that the test sends as triggers:

    __whoami__       the reply is the session's id (its node is the prefix)
    __broadcast__ X  no reply: one "broadcast" with an empty target and the
                     data X, sent once, to every open session of /echo

It prints one line per event the test counts, flushed at once:
"connect ID", "disconnect ID", "broadcast X", and at start "pulling from".

usage: cluster-backend.py --node IN,OUT [--node IN,OUT ...]
"""

import argparse
import signal

import zmq


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node", action="append", required=True,
                        metavar="IN,OUT",
                        help="a node's in and out endpoints (tcp://...)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    context = zmq.Context()
    pull = context.socket(zmq.PULL)
    push = context.socket(zmq.PUSH)
    for sock in (pull, push):
        sock.setsockopt(zmq.LINGER, 0)
    # As the README advises: a node that is down takes no share of the
    # replies.
    push.setsockopt(zmq.IMMEDIATE, 1)
    ins = []
    for node in args.node:
        in_endpoint, out_endpoint = node.split(",")
        pull.connect(in_endpoint)
        push.connect(out_endpoint)
        ins.append(in_endpoint)
    print("cluster-backend: pulling from %s" % " ".join(ins), flush=True)

    try:
        while True:
            frames = pull.recv_multipart()
            if len(frames) != 3:
                print("ignored %d frames" % len(frames), flush=True)
                continue
            kind, session, data = frames
            if kind in (b"connect", b"disconnect"):
                print("%s %s" % (kind.decode(), session.decode()), flush=True)
            elif kind == b"message":
                if data == b"__whoami__":
                    push.send_multipart([b"message", session, session])
                elif data.startswith(b"__broadcast__ "):
                    tag = data[len(b"__broadcast__ "):]
                    push.send_multipart([b"broadcast", b"", tag])
                    print("broadcast %s" % tag.decode(), flush=True)
                else:
                    push.send_multipart([b"message", session, data])
    except KeyboardInterrupt:
        pass
    finally:
        context.destroy(linger=0)


if __name__ == "__main__":
    main()
