#!/usr/bin/env python3
"""A short SockJS session against a running proxy and echo backend.

Used by packaging/test-packages to check an installed package. Python's
standard library only, so it runs on the host or in any root with python3.

  sockjs-smoke.py --port 8080 [--host 127.0.0.1] [--prefix /] [--samples samples]

Checks /info, the built-in sockjs-client, the sample page (with --samples),
one xhr-polling session (open, send, echo) and one raw WebSocket echo.
Exits 0 when every check passed, 1 otherwise.
"""

import argparse
import base64
import http.client
import json
import os
import random
import socket
import struct
import sys
import time


def fail(message):
    print("smoke: FAILED: " + message, file=sys.stderr, flush=True)
    sys.exit(1)


def ok(message):
    print("smoke: ok: " + message, flush=True)


def wait_for_port(host, port, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    fail("nothing listens on %s:%d after %ds" % (host, port, timeout))


def request(host, port, method, path, body=None, timeout=10):
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        headers = {"Content-Type": "text/plain"} if body is not None else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    except OSError as error:
        fail("%s %s: %s" % (method, path, error))
    finally:
        connection.close()


def join(prefix, path):
    return prefix.rstrip("/") + path


def check_static(args):
    status, body = request(args.host, args.port, "GET", join(args.prefix, "/info"))
    if status != 200:
        fail("GET /info: status %d" % status)
    info = json.loads(body)
    ok("/info %s" % json.dumps(info, sort_keys=True))

    status, body = request(args.host, args.port, "GET", "/sockjs-client/sockjs.min.js")
    if status != 200 or len(body) < 10000:
        fail("GET /sockjs-client/sockjs.min.js: status %d, %d bytes" % (status, len(body)))
    ok("built-in sockjs-client, %d bytes" % len(body))

    if args.samples:
        status, body = request(args.host, args.port, "GET", "/%s/" % args.samples)
        if status != 200 or b"SockJS" not in body:
            fail("GET /%s/: status %d" % (args.samples, status))
        ok("sample page /%s/ (%d bytes)" % (args.samples, len(body)))
    return info


def check_xhr_polling(args):
    session = "%s/%s" % (random.randint(100, 999), "pkg%08x" % random.getrandbits(32))
    base = join(args.prefix, "/" + session)
    status, body = request(args.host, args.port, "POST", base + "/xhr")
    if status != 200 or body != b"o\n":
        fail("xhr open: status %d, %r" % (status, body))
    message = "hello from the package test \u00e9"
    payload = json.dumps([message])
    status, body = request(args.host, args.port, "POST", base + "/xhr_send", body=payload.encode())
    if status != 204:
        fail("xhr_send: status %d, %r" % (status, body))
    status, body = request(args.host, args.port, "POST", base + "/xhr", timeout=15)
    if status != 200 or not body.startswith(b"a") or json.loads(body[1:]) != [message]:
        fail("xhr echo: status %d, %r (expected a%s)" % (status, body, json.dumps([message])))
    ok("xhr-polling session %s: open, send, echo" % session)


def ws_frame(text):
    data = text.encode()
    mask = os.urandom(4)
    header = bytes([0x81])
    if len(data) < 126:
        header += bytes([0x80 | len(data)])
    else:
        header += bytes([0x80 | 126]) + struct.pack("!H", len(data))
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    return header + mask + masked


def read_exact(sock, count):
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            fail("WebSocket closed early")
        data += chunk
    return data


def check_websocket(args):
    key = base64.b64encode(os.urandom(16)).decode()
    path = join(args.prefix, "/websocket")
    sock = socket.create_connection((args.host, args.port), timeout=10)
    try:
        sock.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n"
                      % (path, args.host, args.port, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(1)
            if not chunk:
                fail("WebSocket handshake: connection closed")
            head += chunk
        if not head.startswith(b"HTTP/1.1 101"):
            fail("WebSocket handshake: %r" % head.split(b"\r\n")[0])
        message = "raw websocket echo"
        sock.sendall(ws_frame(message))
        first, second = read_exact(sock, 2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", read_exact(sock, 2))[0]
        elif length == 127:
            length = struct.unpack("!Q", read_exact(sock, 8))[0]
        data = read_exact(sock, length)
        if first & 0x0F != 1 or data.decode() != message:
            fail("WebSocket echo: opcode %d, %r" % (first & 0x0F, data))
        sock.sendall(bytes([0x88, 0x80]) + os.urandom(4))
        ok("raw WebSocket %s: echo" % path)
    finally:
        sock.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--prefix", default="/")
    parser.add_argument("--samples", help="URL name the samples are served under")
    parser.add_argument("--wait", type=float, default=20, help="seconds to wait for the port")
    args = parser.parse_args()

    wait_for_port(args.host, args.port, args.wait)
    info = check_static(args)
    check_xhr_polling(args)
    if info.get("websocket"):
        check_websocket(args)
    print("smoke: all checks passed", flush=True)


if __name__ == "__main__":
    main()
