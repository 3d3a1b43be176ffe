#!/usr/bin/python3
"""SockJSProxy sample backend: sends every message back to its session.

With --close-on-connect it instead disconnects every session as soon as the
proxy reports its ``connect`` (the tests use it as a "/close" application).

The proxy binds a PUSH socket (its "in", port 9241) and a PULL socket (its
"out", port 9242); a backend connects a PULL to the first and a PUSH to the
second. Every message has three frames: message_type, session_id, data.

CURVE (a proxy with zmq.curve): give the proxy's public key with
--curve-server-key and this backend's key pair with --curve-key-file (a
certificate from `sockjsproxy-cli --curve-keygen` or pyzmq) or
--curve-secret-key. The proxy lets the backend in only if its public key is
allowed; otherwise ZeroMQ keeps retrying and nothing arrives:

    echo-sjp.py --curve-server-key 'rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7' \
                --curve-key-file backend.key_secret
"""

import argparse
import signal
import sys

import zmq
import zmq.auth

KNOWN_TYPES = (b"connect", b"message", b"disconnect")


def parse_args():
    parser = argparse.ArgumentParser(
        description="Echo every SockJSProxy message back to the session that "
                    "sent it.")
    parser.add_argument("--address", "-a", default="localhost",
                        help="host the proxy's 0MQ sockets listen on "
                             "(default: %(default)s)")
    parser.add_argument("--in-port", "-i", type=int, default=9241,
                        help="the proxy's PUSH port, where messages come from "
                             "(default: %(default)s)")
    parser.add_argument("--out-port", "-o", type=int, default=9242,
                        help="the proxy's PULL port, where replies go "
                             "(default: %(default)s)")
    parser.add_argument("--close-on-connect", action="store_true",
                        help="send 'disconnect' for every session right "
                             "after its 'connect'")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="print every event")
    curve = parser.add_argument_group(
        "CURVE", "encrypted, authenticated ZeroMQ (the proxy's zmq.curve)")
    curve.add_argument("--curve-server-key", metavar="KEY",
                       help="the proxy's public key (40 Z85 characters; "
                            "the proxy logs it at start)")
    curve.add_argument("--curve-key-file", metavar="FILE",
                       help="this backend's secret certificate "
                            "(sockjsproxy-cli --curve-keygen, pyzmq)")
    curve.add_argument("--curve-secret-key", metavar="KEY",
                       help="this backend's secret key (Z85), instead of "
                            "--curve-key-file")
    curve.add_argument("--curve-public-key", metavar="KEY",
                       help="this backend's public key (Z85); derived from "
                            "the secret key when left out")
    args = parser.parse_args()
    args.curve = curve_keys(parser, args)
    return args


def curve_keys(parser, args):
    """(server public, public, secret) as bytes, or None without CURVE."""
    own = args.curve_key_file or args.curve_secret_key
    if not args.curve_server_key and not own and not args.curve_public_key:
        return None
    if not args.curve_server_key or not own:
        parser.error("CURVE needs --curve-server-key and either "
                     "--curve-key-file or --curve-secret-key")
    if args.curve_key_file and args.curve_secret_key:
        parser.error("--curve-key-file and --curve-secret-key exclude "
                     "each other")
    if not zmq.has("curve"):
        parser.error("this libzmq has no CURVE support")
    try:
        if args.curve_key_file:
            public, secret = zmq.auth.load_certificate(args.curve_key_file)
            if secret is None:
                parser.error("%s: no secret-key in it (a public "
                             "certificate?)" % args.curve_key_file)
        else:
            secret = args.curve_secret_key.encode("ascii")
            public = zmq.curve_public(secret)
        if args.curve_public_key:
            public = args.curve_public_key.encode("ascii")
        server = args.curve_server_key.encode("ascii")
        for name, key in (("server key", server), ("public key", public),
                          ("secret key", secret)):
            if len(key) != 40:
                parser.error("CURVE %s: expected 40 Z85 characters" % name)
    except (OSError, ValueError, zmq.ZMQError) as error:
        parser.error("CURVE keys: %s" % error)
    return server, public, secret


def text(data):
    """Bytes from the wire, readable in a log line (control characters escaped)."""
    decoded = data.decode("utf-8", errors="backslashreplace")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in decoded)


def warn(message):
    print("echo-sjp: warning: " + message, file=sys.stderr, flush=True)


def serve(pull, push, close_on_connect, verbose, received):
    while True:
        frames = pull.recv_multipart()
        received[0] += 1
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

        if message_type == b"message":
            push.send_multipart([b"message", session_id, data])
        elif message_type == b"connect" and close_on_connect:
            # The data frame must be present even though the proxy ignores it.
            push.send_multipart([b"disconnect", session_id, b""])
            if verbose:
                print("sent disconnect %s" % text(session_id), flush=True)


def main():
    args = parse_args()
    received = [0]
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
            if args.curve:
                # The proxy is the CURVE server; this backend is a client.
                server, public, secret = args.curve
                sock.curve_serverkey = server
                sock.curve_publickey = public
                sock.curve_secretkey = secret
        in_endpoint = "tcp://%s:%d" % (args.address, args.in_port)
        out_endpoint = "tcp://%s:%d" % (args.address, args.out_port)
        pull.connect(in_endpoint)
        push.connect(out_endpoint)
        print("echo-sjp: pulling from %s, pushing to %s%s%s (Ctrl-C to stop)"
              % (in_endpoint, out_endpoint,
                 " (close-on-connect)" if args.close_on_connect else "",
                 " with CURVE, public key %s" % args.curve[1].decode("ascii")
                 if args.curve else ""),
              flush=True)
        serve(pull, push, args.close_on_connect, args.verbose, received)
    except KeyboardInterrupt:
        print("echo-sjp: stopped after %d messages received" % received[0],
              flush=True)
    finally:
        context.destroy(linger=0)

if __name__ == "__main__":
    main()
