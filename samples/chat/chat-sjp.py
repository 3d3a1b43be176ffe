#!/usr/bin/python3
"""SockJSProxy sample backend: a chat room.

It uses what a service offers beyond plain messages (see chat.json):

- connect_info: the proxy's ``connect`` carries a JSON object about the
  client; the backend takes the nickname from the ``chat_nick`` cookie that
  the page sets, and the client's address from ``remote_address``;
- require_accept: the client's session opens only when the backend answers
  ``accept``; a missing, malformed or taken nickname is refused instead with
  a ``disconnect`` whose data is a close code and reason, which the page's
  SockJS ``onclose`` shows (4001 "Bad nickname", 4002 "Nickname taken");
- every message goes to every member of the room, one ``message`` per session.

Run it with the proxy and the page:

    sockjsproxy-cli --config samples/chat/chat.json
    samples/chat/chat-sjp.py
    open http://localhost:8080/samples/chat/

The proxy binds a PUSH socket (its "in") and a PULL socket (its "out"); a
backend connects a PULL to the first and a PUSH to the second. Every message
has three frames: message_type, session_id, data.
"""

import argparse
import json
import re
import signal
import sys
import urllib.parse

import zmq

NICK_COOKIE = "chat_nick"
NICK_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
MAX_TEXT = 500  # characters of one chat message
BAD_NICKNAME = {"code": 4001, "reason": "Bad nickname"}
NICKNAME_TAKEN = {"code": 4002, "reason": "Nickname taken"}
NO_CONNECT_INFO = {"code": 4000, "reason": "connect_info is off"}


def parse_args():
    parser = argparse.ArgumentParser(
        description="A chat room behind SockJSProxy: nicknames from a "
                    "cookie (connect_info), bad ones refused (require_accept).")
    parser.add_argument("--address", "-a", default="localhost",
                        help="host the proxy's 0MQ sockets listen on "
                             "(default: %(default)s)")
    parser.add_argument("--in-port", "-i", type=int, default=9243,
                        help="the proxy's PUSH port, where messages come from "
                             "(default: %(default)s, as in chat.json)")
    parser.add_argument("--out-port", "-o", type=int, default=9244,
                        help="the proxy's PULL port, where replies go "
                             "(default: %(default)s, as in chat.json)")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="print every event")
    return parser.parse_args()


def text(data):
    """Bytes from the wire, readable in a log line (control characters escaped)."""
    decoded = data.decode("utf-8", errors="backslashreplace")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in decoded)


def log(message):
    print("chat-sjp: " + message, flush=True)


def warn(message):
    print("chat-sjp: warning: " + message, file=sys.stderr, flush=True)


class Room:
    def __init__(self, push, verbose):
        self.push = push
        self.verbose = verbose
        self.members = {}  # session id -> nickname, in the order they joined

    def send(self, session_id, event):
        self.push.send_multipart([b"message", session_id,
                                  json.dumps(event).encode("utf-8")])

    def send_to_all(self, event):
        # One message per session: the room is small, and the backend knows
        # every member anyway.
        for session_id in self.members:
            self.send(session_id, event)

    def refuse(self, session_id, close):
        self.push.send_multipart([b"disconnect", session_id,
                                  json.dumps(close).encode("utf-8")])
        log("refused %s: %d %s" % (text(session_id), close["code"],
                                   close["reason"]))

    def on_connect(self, session_id, data):
        if not data:
            # The service has no connect_info: there is no cookie to read.
            return self.refuse(session_id, NO_CONNECT_INFO)
        try:
            info = json.loads(data)
        except ValueError:
            warn("connect data is not JSON: %s" % text(data))
            return self.refuse(session_id, NO_CONNECT_INFO)
        cookies = info.get("cookies") or {}
        nick = urllib.parse.unquote(cookies.get(NICK_COOKIE, ""))
        if not NICK_PATTERN.match(nick):
            return self.refuse(session_id, BAD_NICKNAME)
        if nick in self.members.values():
            return self.refuse(session_id, NICKNAME_TAKEN)
        self.push.send_multipart([b"accept", session_id, b""])
        self.members[session_id] = nick
        address = info.get("remote_address", "?")
        log("%s joined as %s from %s over %s" % (
            text(session_id), nick, address, info.get("transport", "?")))
        self.send(session_id, {"type": "welcome", "nick": nick,
                               "address": address,
                               "members": list(self.members.values())})
        self.send_to_all({"type": "joined", "nick": nick})

    def on_message(self, session_id, data):
        nick = self.members.get(session_id)
        if nick is None:
            return  # not accepted: the proxy holds its messages anyway
        message = data.decode("utf-8", errors="replace")[:MAX_TEXT]
        self.send_to_all({"type": "message", "nick": nick, "text": message})

    def on_disconnect(self, session_id):
        nick = self.members.pop(session_id, None)
        if nick is not None:
            log("%s (%s) left" % (text(session_id), nick))
            self.send_to_all({"type": "left", "nick": nick})


def serve(pull, room, verbose):
    while True:
        frames = pull.recv_multipart()
        if len(frames) != 3:
            warn("ignoring a message with %d frames (expected 3)" % len(frames))
            continue
        message_type, session_id, data = frames
        if verbose:
            log("%s %s %s" % (text(message_type), text(session_id), text(data)))
        if message_type == b"connect":
            room.on_connect(session_id, data)
        elif message_type == b"message":
            room.on_message(session_id, data)
        elif message_type == b"disconnect":
            room.on_disconnect(session_id)
        else:
            warn("ignoring unknown message type %r" % message_type)


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
        log("pulling from %s, pushing to %s (Ctrl-C to stop)"
            % (in_endpoint, out_endpoint))
        serve(pull, Room(push, args.verbose), args.verbose)
    except KeyboardInterrupt:
        log("stopped")
    finally:
        context.destroy(linger=0)

if __name__ == "__main__":
    main()
