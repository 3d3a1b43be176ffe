#!/usr/bin/env node
// SockJSProxy sample backend in JavaScript (Node.js and the npm package
// zeromq): sends every message back to its session, like samples/echo-sjp.py.
// The protocol is the same in every language: the proxy binds a PUSH socket
// ("in", port 9241) and a PULL socket ("out", port 9242); a backend connects
// a PULL to the first and a PUSH to the second. Every message has three
// frames: message_type, session_id, data.
//
//   cd samples/node && npm ci && node echo-sjp.mjs [-a HOST] [-i 9241] [-o 9242] [-v]
//
// CURVE (a proxy with zmq.curve): --curve-server-key with the proxy's public
// key and --curve-key-file with this backend's secret certificate (from
// `sockjsproxy-cli --curve-keygen`, czmq or pyzmq).

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Pull, Push } from "zeromq";

const usage = `usage: echo-sjp.mjs [--address HOST] [--in-port PORT] [--out-port PORT] [--verbose]
                    [--curve-server-key KEY --curve-key-file FILE]`;

function fail(message) {
  console.error(`echo-sjp.mjs: ${message}\n${usage}`);
  process.exit(2);
}

function parseOptions() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        address: { type: "string", short: "a", default: "localhost" },
        "in-port": { type: "string", short: "i", default: "9241" },
        "out-port": { type: "string", short: "o", default: "9242" },
        verbose: { type: "boolean", short: "v", default: false },
        "curve-server-key": { type: "string" },
        "curve-key-file": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (error) {
    fail(error.message);
  }
  if (parsed.help) {
    console.log(usage);
    process.exit(0);
  }
  for (const name of ["in-port", "out-port"]) {
    const port = Number(parsed[name]);
    if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`--${name}: not a port: ${parsed[name]}`);
  }
  if (Boolean(parsed["curve-server-key"]) !== Boolean(parsed["curve-key-file"]))
    fail("CURVE needs both --curve-server-key and --curve-key-file");
  return parsed;
}

// The public-key and secret-key lines of a ZeroMQ certificate.
function readCertificate(path) {
  let text;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    fail(`${path}: ${error.message}`);
  }
  const keys = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const match = /^(public|secret)-key\s*=\s*["']?([^"']{40})["']?$/.exec(line);
    if (match) keys[match[1]] = match[2];
  }
  if (!keys.public || !keys.secret) fail(`${path}: not a secret certificate (public-key and secret-key lines)`);
  return keys;
}

// Bytes from the wire, readable in a log line (control characters escaped).
function text(bytes) {
  return JSON.stringify(bytes.toString("utf8")).slice(1, -1);
}

async function main() {
  const options = parseOptions();
  const pull = new Pull({ linger: 0 });
  const push = new Push({ linger: 0 });
  let curve = "";
  if (options["curve-server-key"]) {
    // The proxy is the CURVE server; this backend is a client.
    const keys = readCertificate(options["curve-key-file"]);
    for (const socket of [pull, push]) {
      socket.curveServerKey = options["curve-server-key"];
      socket.curvePublicKey = keys.public;
      socket.curveSecretKey = keys.secret;
    }
    curve = ` with CURVE, public key ${keys.public}`;
  }
  const inEndpoint = `tcp://${options.address}:${options["in-port"]}`;
  const outEndpoint = `tcp://${options.address}:${options["out-port"]}`;
  pull.connect(inEndpoint);
  push.connect(outEndpoint);
  console.log(`echo-sjp.mjs: pulling from ${inEndpoint}, pushing to ${outEndpoint}${curve} (Ctrl-C to stop)`);

  let received = 0;
  const stop = () => {
    console.log(`echo-sjp.mjs: stopped after ${received} messages received`);
    pull.close();
    push.close();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);

  for await (const frames of pull) {
    received += 1;
    if (frames.length !== 3) {
      console.error(`echo-sjp.mjs: warning: ignoring a message with ${frames.length} frames (expected 3)`);
      continue;
    }
    const [type, sessionId, data] = frames;
    const kind = type.toString("latin1");
    if (options.verbose)
      console.log(`${kind} ${text(sessionId)}` + (kind === "message" ? `: ${text(data)}` : ""));
    // Only messages come back; connect and disconnect need no answer.
    if (kind === "message") await push.send(["message", sessionId, data]);
  }
}

main().catch((error) => {
  console.error(`echo-sjp.mjs: ${error.stack || error}`);
  process.exit(1);
});
