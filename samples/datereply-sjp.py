#!/usr/bin/python3
"""SockJSProxy sample backend: replies with the date, then closes the session.

Start the proxy with ``sockjsproxy --samples samples --verbose``, run this
script, then visit http://localhost:8080/samples/ and send a message: the
reply is the current date and time, followed by a ``disconnect`` that makes
the proxy close that client's session.

The proxy binds a PUSH socket (its "in", port 9241) and a PULL socket (its
"out", port 9242); a backend connects a PULL to the first and a PUSH to the
second. Every message has three frames: message_type, session_id, data.
"""

import argparse
import signal
import sys
import time

import zmq

KNOWN_TYPES = (b"connect", b"message", b"disconnect")


def parse_args():
    parser = argparse.ArgumentParser(
        description="Reply to every SockJSProxy message with the current date "
                    "and time, then disconnect the client.")
    parser.add_argument("--address", "-a", default="localhost",
                        help="host the proxy's 0MQ sockets listen on "
                             "(default: %(default)s)")
    parser.add_argument("--in-port", "-i", type=int, default=9241,
                        help="the proxy's PUSH port, where messages come from "
                             "(default: %(default)s)")
    parser.add_argument("--out-port", "-o", type=int, default=9242,
                        help="the proxy's PULL port, where replies go "
                             "(default: %(default)s)")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="print every event")
    return parser.parse_args()


def text(data):
    """Bytes from the wire, readable in a log line (control characters escaped)."""
    decoded = data.decode("utf-8", errors="backslashreplace")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in decoded)


def warn(message):
    print("datereply-sjp: warning: " + message, file=sys.stderr, flush=True)


def serve(pull, push, verbose):
    while True:
        frames = pull.recv_multipart()
        if len(frames) != 3:
            warn("ignoring a message with %d frames (expected 3)" % len(frames))
            continue
        message_type, session_id, data = frames
        if message_type not in KNOWN_TYPES:
            warn("ignoring unknown message type %r" % message_type)
            continue

        if verbose:
            line = "%s %s" % (text(message_type), text(session_id))
            if message_type == b"message":
                line += ": " + text(data)
            print(line, flush=True)
        if message_type != b"message":
            continue

        now = time.strftime("%Y-%m-%d %H:%M:%S")
        push.send_multipart([b"message", session_id, now.encode("utf-8")])
        # The data frame must be present even though the proxy ignores it.
        push.send_multipart([b"disconnect", session_id, b""])
        if verbose:
            print("replied %s to %s and disconnected it"
                  % (now, text(session_id)), flush=True)


def main():
    args = parse_args()
    context = zmq.Context()
    try:
        # Let a plain `kill` end the script as quietly as Ctrl-C does. Set
        # inside the try: a SIGTERM that comes before it ends the process at
        # once, one after it still destroys the context below (a live
        # context can keep the interpreter from exiting).
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        pull = context.socket(zmq.PULL)
        push = context.socket(zmq.PUSH)
        for sock in (pull, push):
            sock.setsockopt(zmq.LINGER, 0)
        in_endpoint = "tcp://%s:%d" % (args.address, args.in_port)
        out_endpoint = "tcp://%s:%d" % (args.address, args.out_port)
        pull.connect(in_endpoint)
        push.connect(out_endpoint)
        print("datereply-sjp: pulling from %s, pushing to %s (Ctrl-C to stop)"
              % (in_endpoint, out_endpoint), flush=True)
        serve(pull, push, args.verbose)
    except KeyboardInterrupt:
        print("datereply-sjp: stopped", flush=True)
    finally:
        context.destroy(linger=0)

if __name__ == "__main__":
    main()
