#!/usr/bin/env node
// Browser end-to-end tests for SockJSProxy: headless Chromium talks SockJS to a
// real sockjsproxy-cli with the sample Python backends behind it, directly and
// through HAProxy and nginx started from tests/e2e/balancers/*.in.
//
//   node run.mjs --cli BUILD/app/sockjsproxy-cli [--samples-dir SRC/samples]
//                [--python /usr/bin/python3] [--chromium /usr/bin/chromium]
//                [--only websocket,eventsource] [--origins same,cross] [--no-samples-flow]
//                [--no-chat-flow]
//                [--no-tls] [--balancers haproxy,nginx | --no-balancers]
//
// The same can come from the environment: SOCKJSPROXY_CLI, SOCKJSPROXY_SAMPLES_DIR,
// SOCKJSPROXY_PYTHON, CHROMIUM, HAPROXY, NGINX. Prints a transport x check table, then
// "N passed, M failed"; the exit status is non-zero if anything failed.

import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants as fsConstants, copyFileSync, createWriteStream, existsSync, mkdirSync, mkdtempSync,
         readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = path.dirname(fileURLToPath(import.meta.url));

const TRANSPORTS = ['websocket', 'xhr-streaming', 'xhr-polling', 'eventsource',
                    'iframe-eventsource', 'iframe-htmlfile', 'iframe-xhr-polling', 'jsonp-polling'];
const ORIGINS = ['same', 'cross'];
// Load balancers run from the templates docs/deploy.md shows (its
// deploy_docs test keeps the two the same).
const BALANCERS = ['haproxy', 'nginx'];
const BALANCER_TEMPLATES = { haproxy: 'haproxy.cfg.in', nginx: 'nginx.conf.in' };
const CHECKS = ['open', 'transport', 'order50', 'astral', 'u2028', 'nul', 'json-text', 'html-text',
                '64KiB', 'close3000'];

const TOTAL_BUDGET_MS = 330_000;   // the whole run, browser start to table
const ROW_BUDGET_MS = 14_000;      // one transport on one origin (or behind one balancer)
const CHECK_TIMEOUT_MS = 6_000;    // one check inside a row
const STARTUP_TIMEOUT_MS = 15_000; // proxy answering, backend connected, browser up

const startedAt = Date.now();
const deadline = startedAt + TOTAL_BUDGET_MS;

// ---------------------------------------------------------------- options

function options() {
    const { values } = parseArgs({
        options: {
            cli: { type: 'string' },
            'samples-dir': { type: 'string' },
            python: { type: 'string' },
            chromium: { type: 'string' },
            only: { type: 'string' },
            origins: { type: 'string' },
            'no-samples-flow': { type: 'boolean' },
            'no-chat-flow': { type: 'boolean' },
            'no-tls': { type: 'boolean' },
            balancers: { type: 'string' },
            'no-balancers': { type: 'boolean' },
            'keep-temp': { type: 'boolean' },
            help: { type: 'boolean', short: 'h' },
        },
    });
    if (values.help) {
        console.log('usage: node run.mjs --cli PATH/sockjsproxy-cli [--samples-dir DIR] [--python PY] ' +
                    '[--chromium PATH] [--only t1,t2] [--origins same,cross] [--no-samples-flow] ' +
                    '[--no-chat-flow] [--no-tls] [--balancers haproxy,nginx | --no-balancers] [--keep-temp]');
        process.exit(0);
    }
    const env = process.env;
    const cli = values.cli || env.SOCKJSPROXY_CLI ||
        (env.SOCKJSPROXY_BINARY_DIR && path.join(env.SOCKJSPROXY_BINARY_DIR, 'app', 'sockjsproxy-cli'));
    const o = {
        cli: cli && path.resolve(cli),
        samplesDir: path.resolve(values['samples-dir'] || env.SOCKJSPROXY_SAMPLES_DIR ||
                                 path.join(HERE, '..', '..', 'samples')),
        python: values.python || env.SOCKJSPROXY_PYTHON || '/usr/bin/python3',
        chromium: values.chromium || env.CHROMIUM || '/usr/bin/chromium',
        transports: values.only ? values.only.split(',').map((s) => s.trim()).filter(Boolean) : TRANSPORTS,
        origins: values.origins ? values.origins.split(',').map((s) => s.trim()).filter(Boolean) : ORIGINS,
        samplesFlow: !values['no-samples-flow'],
        chatFlow: !values['no-chat-flow'],
        tls: !values['no-tls'],
        balancers: values['no-balancers'] ? []
            : values.balancers ? values.balancers.split(',').map((s) => s.trim()).filter(Boolean) : BALANCERS,
        balancerPrograms: {},
        keepTemp: !!values['keep-temp'],
    };
    const problems = [];
    if (!o.cli || !existsSync(o.cli)) problems.push(`sockjsproxy-cli not found (${o.cli || 'give --cli'})`);
    for (const f of ['echo-sjp.py', 'datereply-sjp.py', 'index.html', 'chat/chat-sjp.py', 'chat/index.html'])
        if (!existsSync(path.join(o.samplesDir, f))) problems.push(`${f} not in --samples-dir ${o.samplesDir}`);
    if (!existsSync(o.chromium)) problems.push(`no Chromium at ${o.chromium}`);
    for (const t of o.transports) if (!TRANSPORTS.includes(t)) problems.push(`unknown transport ${t}`);
    for (const x of o.origins) if (!ORIGINS.includes(x)) problems.push(`unknown origin kind ${x}`);
    if (values['no-balancers'] && values.balancers) problems.push('--balancers and --no-balancers together');
    else if (values.balancers !== undefined && o.balancers.length === 0) problems.push('--balancers names none');
    // A balancer asked for (all of them by default) and not installed is a
    // failure, not a skip: CI installs both, and a skip would go unnoticed.
    for (const b of o.balancers) {
        if (!BALANCERS.includes(b)) { problems.push(`unknown balancer ${b}`); continue; }
        o.balancerPrograms[b] = findProgram(b, env[b.toUpperCase()]);
        if (!o.balancerPrograms[b]) {
            problems.push(`${b} not found (${env[b.toUpperCase()] || 'PATH, /usr/sbin'}): scripts/install-deps ` +
                          '--test installs it; --no-balancers leaves the rows through balancers out');
        }
    }
    if (problems.length) {
        for (const p of problems) console.error('run.mjs: ' + p);
        process.exit(2);
    }
    return o;
}

// An executable: the given path, else name on PATH or in the sbin
// directories (Debian puts haproxy and nginx in /usr/sbin, which a user's
// PATH may lack).
function findProgram(name, given) {
    const runnable = (f) => {
        try { accessSync(f, fsConstants.X_OK); return statSync(f).isFile(); } catch { return false; }
    };
    if (given) return runnable(given) ? path.resolve(given) : null;
    const dirs = (process.env.PATH || '').split(path.delimiter).filter(Boolean)
        .concat(['/usr/local/sbin', '/usr/sbin', '/sbin']);
    for (const dir of dirs) if (runnable(path.join(dir, name))) return path.join(dir, name);
    return null;
}

// ---------------------------------------------------------------- child processes

const children = new Set();
let browser = null;
let tempDir = null;
let keepTemp = false;

class Child {
    // group: the command starts processes of its own (nginx's worker), so
    // it gets a process group of its own, and a kill goes to the group.
    constructor(name, command, args, { env, logFile, timestamped = false, group = false } = {}) {
        this.name = name;
        this.timestamped = timestamped;
        this.group = group;
        this.lines = [];
        this.exited = null;
        this.log = logFile ? createWriteStream(logFile) : null;
        this.proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env },
                                           detached: group });
        children.add(this);
        const onData = (chunk) => {
            if (this.log) this.log.write(chunk);
            for (const line of chunk.toString('utf8').split('\n')) if (line) this.lines.push(line);
            if (this.lines.length > 2000) this.lines.splice(0, this.lines.length - 1000);
        };
        this.proc.stdout.on('data', onData);
        this.proc.stderr.on('data', onData);
        this.exitPromise = new Promise((resolve) => {
            this.proc.on('error', (e) => { this.exited = `spawn error: ${e.message}`; resolve(); });
            this.proc.on('exit', (code, signal) => {
                this.exited = signal ? `killed by ${signal}` : `exit code ${code}`;
                children.delete(this);
                resolve();
            });
        });
    }

    alive() { return this.exited === null; }

    kill(signal) {
        if (this.group && this.proc.pid) {
            try { process.kill(-this.proc.pid, signal); return; } catch { /* the group is gone */ }
        }
        this.proc.kill(signal);
    }

    // The last n lines; the proxy's -v log also holds multi-line message
    // bodies, so keep only its timestamped lines.
    tail(n = 25) {
        const lines = this.lines.filter((l) => !this.timestamped || /^\d{4}-\d\d-\d\d /.test(l));
        return lines.slice(-n).map((l) => `    ${this.name}| ${l.slice(0, 300)}`).join('\n');
    }

    async waitForLine(regex, ms) {
        const until = Date.now() + ms;
        while (Date.now() < until) {
            if (this.lines.some((l) => regex.test(l))) return;
            if (!this.alive()) throw new Error(`${this.name} ended (${this.exited}) before printing ${regex}\n${this.tail()}`);
            await sleep(50);
        }
        throw new Error(`${this.name} did not print ${regex} within ${ms} ms\n${this.tail()}`);
    }

    async stop() {
        if (!this.alive()) return;
        this.proc.kill('SIGTERM');
        const timer = setTimeout(() => this.kill('SIGKILL'), 3000);
        await this.exitPromise;
        clearTimeout(timer);
    }
}

function killEverythingNow() {
    for (const c of children) {
        try { c.kill('SIGKILL'); } catch { /* already gone */ }
    }
    // playwright kills the browsers it launched from its own exit handler too.
    if (tempDir && !keepTemp) {
        try { rmSync(tempDir, { recursive: true, force: true }); } catch { /* best effort */ }
    }
}

async function shutdown() {
    if (browser) {
        const b = browser;
        browser = null;
        await withTimeout(b.close(), 5000, 'browser.close').catch(() => {});
    }
    await Promise.all([...children].map((c) => c.stop()));
}

process.on('exit', killEverythingNow);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
        console.error(`run.mjs: ${sig}, stopping`);
        if (opts) printCounts(printReport(opts));
        killEverythingNow();
        process.exit(sig === 'SIGINT' ? 130 : 143);
    });
}

// ---------------------------------------------------------------- helpers

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

function withTimeout(promise, ms, what) {
    let timer;
    return Promise.race([
        promise,
        new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: timeout after ${ms} ms`)), ms); }),
    ]).finally(() => clearTimeout(timer));
}

async function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.unref();
        srv.on('error', reject);
        srv.listen(0, '127.0.0.1', () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

async function freePorts(n) {
    const ports = new Set();
    while (ports.size < n) ports.add(await freePort());
    return [...ports];
}

function httpGet(url, ms = 2000) {
    return new Promise((resolve, reject) => {
        const req = http.get(url, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (d) => { body += d; });
            res.on('end', () => resolve({ status: res.statusCode, body }));
        });
        req.setTimeout(ms, () => req.destroy(new Error('timeout')));
        req.on('error', reject);
    });
}

async function waitForHttp(url, child, ms) {
    const until = Date.now() + ms;
    let last = '';
    while (Date.now() < until) {
        if (!child.alive()) throw new Error(`${child.name} ended (${child.exited})\n${child.tail()}`);
        try {
            const r = await httpGet(url, 1000);
            if (r.status === 200) return r.body;
            last = `HTTP ${r.status}`;
        } catch (e) {
            last = e.message;
        }
        await sleep(100);
    }
    throw new Error(`${url} did not answer 200 within ${ms} ms (${last})\n${child.tail()}`);
}

// Printable form of a string for failure messages: non-ASCII as \uXXXX, cut short.
function show(s, max = 60) {
    if (typeof s !== 'string') return String(JSON.stringify(s));
    const cut = s.length > max ? s.slice(0, max) : s;
    const text = cut.replace(/[^\x20-\x7e]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
    return `"${text}"${s.length > max ? `...(${s.length} chars)` : ''}`;
}

function compareMessages(sent, got) {
    if (got.length !== sent.length) return `expected ${sent.length} messages, got ${got.length}`;
    for (let i = 0; i < sent.length; ++i) {
        if (got[i] !== sent[i]) {
            let at = 0;
            while (at < sent[i].length && sent[i][at] === got[i]?.[at]) ++at;
            return `message ${i}: sent ${show(sent[i])}, got ${show(got[i])} (first difference at ${at})`;
        }
    }
    return null;
}

// ---------------------------------------------------------------- payloads

function bigPayload() {
    // 65536 UTF-16 units, deterministic, with characters that need escaping in
    // JSON, HTML and URLs sprinkled in.
    const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:-_'.split('')
        .concat(['"', '\\', '/', '<', '>', '&', '%', '+', '=', '\n', '\t', '\u00e9', '\u20ac', '\u2028']);
    let x = 12345;
    let s = '';
    while (s.length < 65536) {
        x = (x * 1103515245 + 12345) % 2147483648;
        s += alphabet[x % alphabet.length];
    }
    return s;
}

const ECHO_CHECKS = {
    order50: Array.from({ length: 50 }, (_, i) => `message ${i + 1} of 50`),
    astral: ['\u{1F600}\u{1D11E}', 'a\u{1F600}b\u{1D11E}c', '\u{1F600}'.repeat(64), '\u{10FFFF}'],
    u2028: ['\u2028', '\u2029', 'line\u2028separator\u2029paragraph',
            '\u200c\u200d\u200e\u200f\u2060\ufeff\ufff0\ufffe\uffff'],
    nul: ['\u0000', 'a\u0000b', '\u0000\u0001\u0008\u000b\u001f\n\r\t\u007f\u0085\u0000'],
    'json-text': ['["a"]', '{"x":1}', '\\u0000', '"', '\\', '\\"', 'a["x"]', 'c[3000,"Go away!"]', 'o', 'h',
                  '[]', '', 'null', '\\ud83d\\ude00', 'd=%5B%22x%22%5D'],
    'html-text': ['</script>', '<!--', '-->', '</SCRIPT><!-- x -->', '<script>window.__sjptInjected = 1;</script>',
                  '</script><script>window.__sjptInjected = 2;</script>', '<![CDATA[', ']]>', '&lt;&amp;',
                  '\r\n\r\ndata: x\r\n\r\n'],
    '64KiB': [bigPayload()],
};

// ---------------------------------------------------------------- results

// A row of the table is a transport on one kind of page: 'same' or 'cross'
// (origin, straight to the proxy) or the name of a balancer.
const results = new Map();   // `${transport}|${kind}` -> Map(check -> {ok, detail})
const extraResults = [];     // [{name, ok, detail}] for the samples flow
const chatResults = [];      // [{name, ok, detail}] for the chat sample
const tlsResults = [];       // [{name, ok, detail}] for the HTTPS/WSS round
const balancerResults = [];  // [{name, ok, detail}] for what the balancer rounds check besides the rows

// "websocket (same)" in the table, "websocket (same-origin)" in progress
// lines; "websocket via haproxy" in both.
function rowLabel(transport, kind, long = false) {
    if (BALANCERS.includes(kind)) return `${transport} via ${kind}`;
    return long ? `${transport} (${kind}-origin)` : `${transport} (${kind})`;
}

function record(transport, kind, check, ok, detail = '') {
    const key = `${transport}|${kind}`;
    if (!results.has(key)) results.set(key, new Map());
    results.get(key).set(check, { ok, detail });
    if (!ok) console.log(`  FAIL ${rowLabel(transport, kind, true)} ${check}: ${detail}`);
}

function printReport(opts) {
    const rows = [];
    for (const t of opts.transports) for (const o of opts.origins) rows.push([t, o]);
    for (const b of opts.balancers) for (const t of opts.transports) rows.push([t, b]);
    const width = Math.max('transport'.length, ...rows.map(([t, k]) => rowLabel(t, k).length));
    const cols = CHECKS.map((c) => Math.max(c.length, 4));
    let passed = 0;
    let failed = 0;
    console.log('');
    console.log(['transport'.padEnd(width), ...CHECKS.map((c, i) => c.padEnd(cols[i]))].join('  '));
    console.log(['-'.repeat(width), ...cols.map((w) => '-'.repeat(w))].join('  '));
    for (const [t, k] of rows) {
        const row = results.get(`${t}|${k}`) || new Map();
        const cells = CHECKS.map((c, i) => {
            const r = row.get(c);
            if (r && r.ok) ++passed; else ++failed;
            return (r ? (r.ok ? 'PASS' : 'FAIL') : 'FAIL').padEnd(cols[i]);
        });
        console.log([rowLabel(t, k).padEnd(width), ...cells].join('  '));
    }
    if (opts.balancers.length) {
        console.log('');
        console.log(`behind ${opts.balancers.join(' and ')} (tests/e2e/balancers templates, two proxies trusting the ` +
                    'balancer)');
        for (const r of balancerResults) {
            if (r.ok) ++passed; else ++failed;
            console.log(`  ${r.ok ? 'PASS' : 'FAIL'}  ${r.name}${r.ok ? '' : `: ${r.detail}`}`);
        }
        if (balancerResults.length === 0) { ++failed; console.log('  FAIL  not run'); }
    }
    if (opts.samplesFlow) {
        console.log('');
        console.log('samples flow (--samples samples + datereply-sjp.py, samples/index.html)');
        for (const r of extraResults) {
            if (r.ok) ++passed; else ++failed;
            console.log(`  ${r.ok ? 'PASS' : 'FAIL'}  ${r.name}${r.ok ? '' : `: ${r.detail}`}`);
        }
        if (extraResults.length === 0) { ++failed; console.log('  FAIL  not run'); }
    }
    if (opts.chatFlow) {
        console.log('');
        console.log('chat sample (samples/chat: connect_info, require_accept, close codes; two pages)');
        for (const r of chatResults) {
            if (r.ok) ++passed; else ++failed;
            console.log(`  ${r.ok ? 'PASS' : 'FAIL'}  ${r.name}${r.ok ? '' : `: ${r.detail}`}`);
        }
        if (chatResults.length === 0) { ++failed; console.log('  FAIL  not run'); }
    }
    if (opts.tls) {
        console.log('');
        console.log('HTTPS and WSS (--tls-cert/--tls-key, a self-signed certificate)');
        for (const r of tlsResults) {
            if (r.ok) ++passed; else ++failed;
            console.log(`  ${r.ok ? 'PASS' : 'FAIL'}  ${r.name}${r.ok ? '' : `: ${r.detail}`}`);
        }
        if (tlsResults.length === 0) { ++failed; console.log('  FAIL  not run'); }
    }
    return { passed, failed };
}

// The closing line, last of all.
function printCounts({ passed, failed }) {
    console.log('');
    console.log(`${passed} passed, ${failed} failed`);
}

// ---------------------------------------------------------------- the matrix

// The html-text messages try to set window.__sjptInjected; htmlfile runs inside
// hidden iframes, so look in every frame.
async function injectedScriptRan(page) {
    for (const frame of page.frames()) {
        const v = await withTimeout(frame.evaluate(() => window.__sjptInjected), 1000, 'frame').catch(() => undefined);
        if (v) return true;
    }
    return false;
}

async function runRow(context, pageUrl, transport, kind) {
    const rowDeadline = Math.min(Date.now() + ROW_BUDGET_MS, deadline);
    const budget = () => Math.max(500, Math.min(CHECK_TIMEOUT_MS, rowDeadline - Date.now()));
    const consoleLines = [];
    const page = await context.newPage();
    page.on('console', (m) => consoleLines.push(`console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
    page.on('requestfailed', (r) => {
        const f = r.failure();
        if (f && !/ERR_ABORTED/.test(f.errorText)) consoleLines.push(`requestfailed: ${r.method()} ${r.url()} ${f.errorText}`);
    });
    const call = (fn, arg, ms, what) => withTimeout(page.evaluate(fn, arg), ms + 2000, what);
    let rowFailed = false;
    const fail = (check, detail) => { rowFailed = true; record(transport, kind, check, false, detail); };

    try {
        await page.goto(pageUrl, { timeout: budget() });
        const version = await call((ms) => window.SJPT.load(ms), budget(), budget(), 'load sockjs-client');
        if (!version) throw new Error('sockjs-client loaded but SockJS is undefined');

        let opened = null;
        try {
            const ms = budget();
            opened = await call(([t, m]) => window.SJPT.open('/echo', t, m), [transport, ms], ms, 'open');
            record(transport, kind, 'open', true);
            if (opened.transport === transport) record(transport, kind, 'transport', true);
            else fail('transport', `sock.transport is ${show(opened.transport)}`);
        } catch (e) {
            fail('open', e.message.split('\n')[0]);
            fail('transport', 'not open');
        }

        for (const [check, messages] of Object.entries(ECHO_CHECKS)) {
            if (!opened) { fail(check, 'not open'); continue; }
            if (Date.now() >= rowDeadline) { fail(check, 'row time budget used up'); continue; }
            try {
                const ms = budget();
                const got = await call(([m, t]) => window.SJPT.echo(m, t), [messages, ms], ms, check);
                const problem = compareMessages(messages, got);
                if (problem) fail(check, problem);
                else if (check === 'html-text' && await injectedScriptRan(page)) {
                    fail(check, 'a message was run as a script');
                } else record(transport, kind, check, true);
            } catch (e) {
                fail(check, e.message.split('\n')[0]);
            }
        }
        await call(() => window.SJPT.close(), 0, 1000, 'close').catch(() => {});

        try {
            const ms = Math.max(budget(), 3000);
            const o = await call(([t, m]) => window.SJPT.open('/close', t, m), [transport, ms], ms, 'open /close');
            if (o.transport !== transport) throw new Error(`/close opened with ${show(o.transport)}`);
            const ev = await call((m) => window.SJPT.closed(m), ms, ms, 'close event');
            if (ev.code === 3000 && ev.reason === 'Go away!') record(transport, kind, 'close3000', true);
            else fail('close3000', `close event ${ev.code} ${show(ev.reason)}`);
        } catch (e) {
            fail('close3000', e.message.split('\n')[0]);
        }
    } catch (e) {
        for (const c of CHECKS) {
            const row = results.get(`${transport}|${kind}`);
            if (!row || !row.has(c)) fail(c, e.message.split('\n')[0]);
        }
    } finally {
        if (rowFailed && consoleLines.length) {
            console.log(`  browser messages (${rowLabel(transport, kind, true)}):`);
            for (const l of consoleLines.slice(-15)) console.log(`    ${l.slice(0, 300)}`);
        }
        await withTimeout(page.close(), 3000, 'page.close').catch(() => {});
    }
    return !rowFailed;
}

function startPageServer(pagePath) {
    return new Promise((resolve, reject) => {
        const server = http.createServer((req, res) => {
            const url = new URL(req.url, 'http://x');
            if (req.method === 'GET' && url.pathname === '/page.html') {
                res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
                res.end(readFileSync(pagePath));
            } else {
                res.writeHead(404, { 'Content-Type': 'text/plain' });
                res.end('not found\n');
            }
        });
        server.on('error', reject);
        server.listen(0, '127.0.0.1', () => resolve(server));
    });
}

// ---------------------------------------------------------------- the samples flow

async function samplesFlow(opts) {
    const check = (name, ok, detail = '') => {
        extraResults.push({ name, ok, detail });
        if (!ok) console.log(`  FAIL samples flow ${name}: ${detail}`);
        return ok;
    };
    const [httpPort, inPort, outPort] = await freePorts(3);
    const proxy = new Child('samples-proxy', opts.cli,
        ['--samples', 'samples', '-p', String(httpPort), '--http-address', '127.0.0.1',
         '-a', '127.0.0.1', '-i', String(inPort), '-o', String(outPort), '-v'],
        { env: { SOCKJSPROXY_SAMPLES_DIR: opts.samplesDir }, logFile: path.join(tempDir, 'samples-proxy.log'),
          timestamped: true });
    const backend = new Child('datereply', opts.python,
        [path.join(opts.samplesDir, 'datereply-sjp.py'), '-a', '127.0.0.1', '-i', String(inPort), '-o', String(outPort), '-v'],
        { logFile: path.join(tempDir, 'datereply.log') });
    const screenshot = path.join(os.tmpdir(), 'sockjsproxy-samples-flow.png');
    let page = null;
    try {
        const origin = `http://127.0.0.1:${httpPort}`;
        await waitForHttp(`${origin}/info`, proxy, STARTUP_TIMEOUT_MS);
        await backend.waitForLine(/pulling from/, STARTUP_TIMEOUT_MS);
        const context = await browser.newContext();
        page = await context.newPage();
        const consoleLines = [];
        page.on('console', (m) => consoleLines.push(`console.${m.type()}: ${m.text()}`));
        page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
        try {
            const response = await page.goto(`${origin}/samples/`, { timeout: 10_000 });
            if (!check('GET /samples/ serves the demo page', response && response.status() === 200 &&
                       await page.locator('#send').count() === 1, `HTTP ${response && response.status()}`)) return;
            // No click: the README says "open the page, type a message".
            await page.waitForSelector('#status[data-state=open]', { timeout: 10_000 });
            check('the page connects on load', await page.locator('.entry[data-kind=open]').count() === 1 &&
                  await page.isDisabled('#connect'), 'no single open entry, or Connect still enabled');
            // One round: type, send, the time comes back, the backend closes the session.
            const round = async (n, text) => {
                await page.fill('#message', text, { timeout: 5000 });
                await page.press('#message', 'Enter', { timeout: 5000 });
                const sent = await page.locator('.entry[data-kind=sent]').nth(n).textContent({ timeout: 5000 });
                check(`${n ? 'again: ' : ''}Enter sends and logs the message`, sent === text, `sent entry ${show(sent)}`);
                const received = await page.locator('.entry[data-kind=received]').nth(n).textContent({ timeout: 10_000 });
                check(`${n ? 'again: ' : ''}a date/time comes back`,
                      /^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d$/.test(received), `received ${show(received)}`);
                await page.waitForSelector('#status[data-state=closed]', { timeout: 10_000 });
                const status = (await page.textContent('#status')).trim();
                check(`${n ? 'again: ' : ''}status shows the close "3000 Go away!"`, /\b3000 Go away!$/.test(status),
                      `status ${show(status)}`);
            };
            await round(0, 'What time is it?');
            // Connect stays for trying again.
            await page.click('#connect', { timeout: 5000 });
            await page.waitForSelector('#status[data-state=open]', { timeout: 10_000 });
            check('Connect opens a new session', await page.locator('.entry[data-kind=open]').count() === 2,
                  'not two open entries');
            await round(1, 'And now?');
            // ?autoconnect=0 waits for Connect: the page connects from its own
            // script, so the state is settled when the load event has fired.
            await page.goto(`${origin}/samples/?autoconnect=0`, { timeout: 10_000 });
            const idle = (await page.textContent('#status')).trim();
            check('?autoconnect=0 waits for Connect', idle === 'closed' && await page.isEnabled('#connect') &&
                  await page.locator('.entry').count() === 0, `status ${show(idle)}`);
        } catch (e) {
            check('samples flow', false, e.message.split('\n')[0]);
            for (const l of consoleLines.slice(-15)) console.log(`    ${l.slice(0, 300)}`);
        } finally {
            await withTimeout(page.screenshot({ path: screenshot, fullPage: true }), 5000, 'screenshot')
                .then(() => console.log(`samples flow screenshot: ${screenshot}`), () => {});
            await withTimeout(context.close(), 5000, 'context.close').catch(() => {});
        }
    } catch (e) {
        check('samples flow setup', false, e.message);
    } finally {
        if (extraResults.some((r) => !r.ok)) {
            console.log(proxy.tail(20));
            console.log(backend.tail(10));
        }
        await proxy.stop();
        await backend.stop();
    }
}

// ---------------------------------------------------------------- the chat sample

// samples/chat with its backend: two pages in two browser contexts (two
// cookie jars, so two nicknames). The first joins; the second is refused by
// the backend, before its session opens, with the backend's close code as
// sockjs-client's onclose reports it (the page shows it in #status); then it
// joins under another name, and a message reaches both.
async function chatFlow(opts) {
    const check = (name, ok, detail = '') => {
        chatResults.push({ name, ok, detail });
        if (!ok) console.log(`  FAIL chat ${name}: ${detail}`);
        return ok;
    };
    const [httpPort, inPort, outPort] = await freePorts(3);
    const origin = `http://127.0.0.1:${httpPort}`;
    // samples/chat/chat.json with this run's ports.
    const config = JSON.parse(readFileSync(path.join(opts.samplesDir, 'chat', 'chat.json'), 'utf8'));
    config.http = { address: '127.0.0.1', port: httpPort };
    config.static = [{ url: '/samples', path: opts.samplesDir }];
    config.services[0].zmq = { in: `tcp://127.0.0.1:${inPort}`, out: `tcp://127.0.0.1:${outPort}` };
    config.services[0].origins = [origin];
    const configPath = path.join(tempDir, 'chat.json');
    writeFileSync(configPath, JSON.stringify(config, null, 2));
    const proxy = new Child('chat-proxy', opts.cli, ['--config', configPath, '-v'],
        { logFile: path.join(tempDir, 'chat-proxy.log'), timestamped: true });
    const backend = new Child('chat', opts.python,
        [path.join(opts.samplesDir, 'chat', 'chat-sjp.py'), '-a', '127.0.0.1', '-i', String(inPort),
         '-o', String(outPort), '-v'],
        { logFile: path.join(tempDir, 'chat.log') });
    const contexts = [];
    const consoleLines = [];
    try {
        await waitForHttp(`${origin}/chat/info`, proxy, STARTUP_TIMEOUT_MS);
        await backend.waitForLine(/pulling from/, STARTUP_TIMEOUT_MS);
        const openPage = async (name) => {
            const context = await browser.newContext();
            contexts.push(context);
            const page = await context.newPage();
            page.on('console', (m) => consoleLines.push(`${name} console.${m.type()}: ${m.text()}`));
            page.on('pageerror', (e) => consoleLines.push(`${name} pageerror: ${e.message}`));
            const response = await page.goto(`${origin}/samples/chat/`, { timeout: 10_000 });
            if (!response || response.status() !== 200) throw new Error(`GET /samples/chat/: HTTP ${response && response.status()}`);
            return page;
        };
        const join = async (page, nick, state) => {
            await page.fill('#nick', nick, { timeout: 5000 });
            await page.click('#connect', { timeout: 5000 });
            await page.waitForSelector(`#status[data-state=${state}]`, { timeout: 10_000 });
            return (await page.textContent('#status')).trim();
        };
        const alice = await openPage('alice');
        const other = await openPage('other');
        let status = await join(alice, 'alice', 'open');
        check('the first page joins as alice', /^joined as alice \(/.test(status), `status ${show(status)}`);
        const welcome = await alice.locator('#log li[data-kind=event]').first().textContent({ timeout: 5000 });
        check('the backend read the client address from connect_info', /\(from 127\.0\.0\.1\)/.test(welcome),
              `welcome ${show(welcome)}`);

        status = await join(other, 'alice', 'refused');
        check('a taken nickname: onclose gets 4002 "Nickname taken"', status === 'closed 4002 Nickname taken',
              `status ${show(status)}`);
        status = await join(other, 'not valid!', 'refused');
        check('a bad nickname: onclose gets 4001 "Bad nickname"', status === 'closed 4001 Bad nickname',
              `status ${show(status)}`);
        check('a refused page never saw its session open',
              await other.locator('#log li[data-kind=event]').count() === 0 &&
              await other.locator('#log li[data-kind=error]').count() === 2, 'log entries of an open session');

        status = await join(other, 'bob', 'open');
        check('then it joins as bob', /^joined as bob \(/.test(status), `status ${show(status)}`);
        await alice.fill('#message', 'hello room', { timeout: 5000 });
        await alice.press('#message', 'Enter', { timeout: 5000 });
        for (const [name, page] of [['alice', alice], ['bob', other]]) {
            const line = page.locator('#log li[data-kind=message]').first();
            await line.waitFor({ timeout: 10_000 });
            const text = (await line.textContent()).trim();
            check(`${name} gets alice's message`, text === 'alicehello room', `message entry ${show(text)}`);
        }
        await other.click('#leave', { timeout: 5000 });
        await alice.locator('#log li[data-kind=event]', { hasText: 'bob left' }).waitFor({ timeout: 10_000 });
        check('bob leaves and alice hears of it', true);
    } catch (e) {
        check('chat sample', false, e.message.split('\n')[0]);
    } finally {
        for (const context of contexts) await withTimeout(context.close(), 5000, 'context.close').catch(() => {});
        if (chatResults.some((r) => !r.ok)) {
            for (const l of consoleLines.slice(-15)) console.log(`    ${l.slice(0, 300)}`);
            console.log(proxy.tail(20));
            console.log(backend.tail(20));
        }
        await proxy.stop();
        await backend.stop();
    }
}

// ---------------------------------------------------------------- HTTPS and WSS

// Every transport once, same origin, against a proxy started with
// --tls-cert/--tls-key and a certificate made here; the browser ignores
// certificate errors. Short: one open and one echo per transport.
async function tlsRound(opts) {
    const check = (name, ok, detail = '') => {
        tlsResults.push({ name, ok, detail });
        if (!ok) console.log(`  FAIL https ${name}: ${detail}`);
        return ok;
    };
    const cert = path.join(tempDir, 'tls.crt');
    const key = path.join(tempDir, 'tls.key');
    const made = spawnSync('openssl', ['req', '-x509', '-nodes', '-days', '2', '-subj', '/CN=localhost',
        '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-newkey', 'ec',
        '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-keyout', key, '-out', cert], { encoding: 'utf8' });
    if (!check('openssl makes a certificate', made.status === 0, `${made.error || ''}${made.stderr}`)) return;
    const [httpPort, inPort, outPort] = await freePorts(3);
    const proxy = new Child('tls-proxy', opts.cli,
        ['-p', String(httpPort), '--http-address', '127.0.0.1', '-a', '127.0.0.1', '-i', String(inPort),
         '-o', String(outPort), '--prefix', '/echo', '--static-path', path.join(tempDir, 'www'),
         '--static-url', '/browser-tests', '--tls-cert', cert, '--tls-key', key],
        { logFile: path.join(tempDir, 'tls-proxy.log'), timestamped: true });
    const echo = new Child('tls-echo', opts.python,
        [path.join(opts.samplesDir, 'echo-sjp.py'), '-a', '127.0.0.1', '-i', String(inPort), '-o', String(outPort)]);
    const origin = `https://127.0.0.1:${httpPort}`;
    let context = null;
    try {
        await proxy.waitForLine(/HTTPS on/, STARTUP_TIMEOUT_MS);
        await echo.waitForLine(/pulling from/, STARTUP_TIMEOUT_MS);
        context = await browser.newContext({ ignoreHTTPSErrors: true });
        for (const transport of opts.transports) {
            const page = await context.newPage();
            const call = (fn, arg, ms, what) => withTimeout(page.evaluate(fn, arg), ms + 2000, what);
            try {
                await page.goto(`${origin}/browser-tests/page.html`, { timeout: CHECK_TIMEOUT_MS });
                await call((ms) => window.SJPT.load(ms), CHECK_TIMEOUT_MS, CHECK_TIMEOUT_MS, 'load sockjs-client');
                const opened = await call(([t, m]) => window.SJPT.open('/echo', t, m), [transport, CHECK_TIMEOUT_MS],
                                          CHECK_TIMEOUT_MS, 'open');
                if (opened.transport !== transport) {
                    check(transport, false, `sock.transport is ${show(opened.transport)}`);
                    continue;
                }
                const sent = ['over TLS', '\u{1F600}', '</script>'];
                const got = await call(([m, t]) => window.SJPT.echo(m, t), [sent, CHECK_TIMEOUT_MS],
                                       CHECK_TIMEOUT_MS, 'echo');
                const problem = compareMessages(sent, got);
                check(transport, !problem, problem || '');
                await call(() => window.SJPT.close(), 0, 1000, 'close').catch(() => {});
            } catch (e) {
                check(transport, false, e.message.split('\n')[0]);
            } finally {
                await withTimeout(page.close(), 3000, 'page.close').catch(() => {});
            }
        }
    } catch (e) {
        check('setup', false, e.message);
    } finally {
        if (tlsResults.some((r) => !r.ok)) console.log(proxy.tail(20));
        if (context) await withTimeout(context.close(), 5000, 'context.close').catch(() => {});
        await proxy.stop();
        await echo.stop();
    }
}

// ---------------------------------------------------------------- the echo proxy

// A sockjsproxy-cli serving page.html (with sockjs-client) under
// /browser-tests, /echo in front of echo-sjp.py and /close in front of
// echo-sjp.py --close-on-connect, on ports [http, echo in, echo out, close
// in, close out]: what the rows run against. http: more of the config's
// "http" object; args: more command-line arguments. Every process started
// goes into started, for the caller to stop, also when this throws.
async function startEchoProxy(opts, name, ports, started, { http = {}, args = [] } = {}) {
    const [httpPort, echoIn, echoOut, closeIn, closeOut] = ports;
    const zmq = (p) => `tcp://127.0.0.1:${p}`;
    const service = (prefix, inPort, outPort) => ({
        prefix, zmq: { in: zmq(inPort), out: zmq(outPort) }, websocket: true, cookie_needed: false,
        heartbeat_delay_ms: 25000, disconnect_delay_ms: 5000, response_limit: 131072,
    });
    const config = {
        http: { address: '127.0.0.1', port: httpPort, ...http },
        static: [{ url: '/browser-tests', path: path.join(tempDir, 'www') }],
        services: [service('/echo', echoIn, echoOut), service('/close', closeIn, closeOut)],
    };
    const configPath = path.join(tempDir, `${name}.json`);
    writeFileSync(configPath, JSON.stringify(config, null, 2));
    const log = path.join(tempDir, `${name}.log`);
    const proxy = new Child(name, opts.cli, ['--config', configPath, '-v', ...args], { logFile: log, timestamped: true });
    const echo = new Child(`${name}-echo`, opts.python,
        [path.join(opts.samplesDir, 'echo-sjp.py'), '-a', '127.0.0.1', '-i', String(echoIn), '-o', String(echoOut)]);
    const closer = new Child(`${name}-close`, opts.python,
        [path.join(opts.samplesDir, 'echo-sjp.py'), '-a', '127.0.0.1', '-i', String(closeIn), '-o', String(closeOut),
         '--close-on-connect']);
    started.push(proxy, echo, closer);
    const origin = `http://127.0.0.1:${httpPort}`;
    await waitForHttp(`${origin}/echo/info`, proxy, STARTUP_TIMEOUT_MS);
    await echo.waitForLine(/pulling from/, STARTUP_TIMEOUT_MS);
    await closer.waitForLine(/pulling from/, STARTUP_TIMEOUT_MS);
    return { proxy, origin, log };
}

// Every transport of --only on one kind of page (see rowLabel), in one
// browser context, within the time budget. Returns how many rows ran.
async function runRows(opts, kind, pageUrl) {
    const context = await browser.newContext();
    let ran = 0;
    try {
        for (const transport of opts.transports) {
            if (Date.now() >= deadline - ROW_BUDGET_MS) {
                for (const c of CHECKS) record(transport, kind, c, false, 'not run: time budget used up');
                continue;
            }
            const t0 = Date.now();
            ++ran;
            const ok = await runRow(context, pageUrl, transport, kind);
            console.log(`${ok ? 'ok  ' : 'FAIL'} ${rowLabel(transport, kind, true)} ${Date.now() - t0} ms`);
        }
    } finally {
        await withTimeout(context.close(), 5000, 'context.close').catch(() => {});
    }
    return ran;
}

function rowsFailed(kind) {
    return [...results.entries()].some(([key, row]) => key.endsWith(`|${kind}`) &&
                                                       [...row.values()].some((r) => !r.ok));
}

// ---------------------------------------------------------------- behind load balancers

// The balancer's command line, its configuration written into dir from its
// template in tests/e2e/balancers with the placeholders filled in as
// tst_balancers does (deploy_docs fills the same ones with the
// documentation's addresses).
function balancerCommand(balancer, dir, listen, server1, server2) {
    const template = BALANCER_TEMPLATES[balancer];
    const recipe = readFileSync(path.join(HERE, '..', 'e2e', 'balancers', template), 'utf8')
        .replaceAll('@LISTEN@', listen).replaceAll('@SERVER1@', server1).replaceAll('@SERVER2@', server2);
    const left = recipe.match(/@[A-Z0-9_]+@/);
    if (left) throw new Error(`${template}: no value for ${left[0]}`);
    if (balancer === 'haproxy') {
        // The template is the part after Debian's "global" section; this
        // stands in for that, with the request log (option httplog) on
        // stderr, in the round's log.
        const file = path.join(dir, 'haproxy.cfg');
        writeFileSync(file, 'global\n    maxconn 256\n    log stderr format raw local0\n' + recipe);
        return ['-db', '-f', file];
    }
    // The template goes inside the "http" block of nginx.conf; this one
    // keeps nginx's pid file, request log (access.log) and temporary files
    // in dir, its error log on stderr, in the round's log.
    const recipePath = path.join(dir, 'sockjsproxy.conf');
    writeFileSync(recipePath, recipe);
    const main = path.join(dir, 'nginx.conf');
    writeFileSync(main, ['worker_processes 1;', `pid ${dir}/nginx.pid;`, 'error_log stderr notice;',
        'events { worker_connections 512; }', 'http {', `    access_log ${dir}/access.log;`,
        ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `    ${t}_temp_path ${dir}/${t};`),
        `    include ${recipePath};`, '}', ''].join('\n'));
    return ['-e', 'stderr', '-p', dir, '-c', main, '-g', 'daemon off;'];
}

// The sum of a Prometheus counter over its label sets; throws when
// /metrics has no such counter (a renamed one must not read as 0).
function counterSum(text, name) {
    let sum = null;
    for (const line of text.split('\n')) {
        const m = line.match(/^([a-z_]+)(?:\{[^}]*\})? (\d+)$/);
        if (m && m[1] === name) sum = (sum || 0) + Number(m[2]);
    }
    if (sum === null) throw new Error(`/metrics has no ${name}`);
    return sum;
}

// One balancer, as docs/deploy.md deploys it: its template in front of two
// proxies (each with its /echo and /close backends) that trust it as a
// proxy (http.trusted_proxies 127.0.0.1; the templates send
// X-Forwarded-For, not the PROXY protocol). The test page comes through the
// balancer too, so the rows are same-origin: the page, sockjs-client, /info,
// the iframe page and every session request all pass the balancer and its
// hash on the session id. Then, from the proxies' /metrics: no request of
// a session reached the proxy that does not hold it (404), the hash used
// both proxies, and the balancer's forwarding headers were all read.
async function balancerRound(opts, balancer) {
    const check = (name, ok, detail = '') => {
        balancerResults.push({ name: `${balancer}: ${name}`, ok, detail });
        if (!ok) console.log(`  FAIL ${balancer} ${name}: ${detail}`);
        return ok;
    };
    const t0 = Date.now();
    const dir = path.join(tempDir, balancer);
    mkdirSync(dir);
    const ports = await freePorts(13);
    const front = ports[0];
    const started = [];
    const proxies = [];
    let lb = null;
    try {
        for (const i of [0, 1]) {
            const own = ports.slice(1 + 6 * i, 7 + 6 * i);
            const p = await startEchoProxy(opts, `${balancer}-proxy${i + 1}`, own.slice(0, 5), started,
                { http: { trusted_proxies: ['127.0.0.1'] }, args: ['--control', `127.0.0.1:${own[5]}`] });
            proxies.push({ ...p, control: `http://127.0.0.1:${own[5]}` });
        }
        const server = (p) => p.origin.replace('http://', '');
        lb = new Child(balancer, opts.balancerPrograms[balancer],
                       balancerCommand(balancer, dir, `127.0.0.1:${front}`, server(proxies[0]), server(proxies[1])),
                       { logFile: path.join(dir, `${balancer}.log`), group: true });
        started.push(lb);
        const origin = `http://127.0.0.1:${front}`;
        await waitForHttp(`${origin}/echo/info`, lb, STARTUP_TIMEOUT_MS);
        console.log(`${balancer} ${origin} in front of ${proxies.map((p) => p.origin).join(' and ')} ` +
                    `(files in ${dir}), started in ${Date.now() - t0} ms`);

        const rows = await runRows(opts, balancer, `${origin}/browser-tests/page.html`);

        const metrics = await Promise.all(proxies.map((p) => httpGet(`${p.control}/metrics`)));
        const counter = (name) => metrics.map((m) => counterSum(m.body, name));
        const opened = counter('sockjsproxy_sessions_opened_total');
        const notFound = counter('sockjsproxy_not_found_total');
        // A row opens one session on /echo and one on /close. A request
        // sent to the other proxy opens a second session there (a poll) or
        // gets 404 (a send).
        const total = opened.reduce((a, b) => a + b, 0);
        check(`every session's requests reached one proxy (sessions ${opened.join(' + ')} for ${rows} rows, ` +
              `404s ${notFound.join(' + ')})`,
              total === 2 * rows && notFound.every((n) => n === 0),
              `sockjsproxy_sessions_opened_total ${opened.join(' + ')}, not 2 per row; ` +
              `sockjsproxy_not_found_total ${notFound.join(' + ')}`);
        // The proxies trust 127.0.0.1, so they read the forwarding headers of
        // every request. Chromium connects from 127.0.0.1 as well, and the
        // list is read from the right skipping trusted addresses, so the
        // client found is the balancer's own address: which address the
        // proxy reports behind a balancer is tst_balancers' clientAddress
        // (a client bound to 127.0.0.3). What a browser adds here is real
        // requests: none of their forwarding headers may be malformed and
        // none of the requests refused.
        const malformed = counter('sockjsproxy_forwarded_malformed_total');
        const rejected = counter('sockjsproxy_http_rejected_total');
        check(`the balancer's forwarding headers: none malformed (${malformed.join(' + ')}), ` +
              `no request refused (${rejected.join(' + ')})`,
              malformed.every((n) => n === 0) && rejected.every((n) => n === 0),
              'sockjsproxy_forwarded_malformed_total or sockjsproxy_http_rejected_total is not 0');
        // All n sessions on one proxy has a chance of 2^(1-n): only a fault
        // with as many sessions as the full matrix opens (16).
        if (total >= 16) {
            check(`the hash spread the sessions over both proxies (${opened.join(' + ')})`,
                  opened.every((n) => n > 0), 'one proxy opened none');
        } else {
            console.log(`${balancer}: sessions per proxy ${opened.join(' + ')} (too few to expect both used)`);
        }

        if (!lb.alive()) check(`${balancer} kept running`, false, lb.exited);
    } catch (e) {
        check('the round', false, e.message.split('\n')[0]);
        for (const t of opts.transports) {
            for (const c of CHECKS) {
                if (!results.get(`${t}|${balancer}`)?.has(c)) {
                    record(t, balancer, c, false, 'not run: the round failed');
                }
            }
        }
        console.log(e.message);
    } finally {
        if (rowsFailed(balancer) || balancerResults.some((r) => !r.ok && r.name.startsWith(`${balancer}:`))) {
            if (lb) console.log(lb.tail(20));
            const access = path.join(dir, 'access.log');
            if (existsSync(access)) {
                const lines = readFileSync(access, 'utf8').split('\n').filter(Boolean).slice(-20);
                console.log(lines.map((l) => `    ${balancer}| ${l.slice(0, 300)}`).join('\n'));
            }
            for (const p of proxies) console.log(p.proxy.tail(20));
        }
        await Promise.all(started.map((c) => c.stop()));
        console.log(`${balancer}: the round took ${Date.now() - t0} ms`);
    }
}

// ---------------------------------------------------------------- main

async function main() {
    opts = options();
    keepTemp = opts.keepTemp;
    tempDir = mkdtempSync(path.join(os.tmpdir(), 'sockjsproxy-browser-'));
    const www = path.join(tempDir, 'www');
    mkdirSync(www);
    copyFileSync(path.join(HERE, 'page.html'), path.join(www, 'page.html'));

    const { chromium } = await import('playwright-core');

    const started = [];
    let pageServer = null;
    try {
        const { proxy, origin: proxyOrigin, log: proxyLog } =
            await startEchoProxy(opts, 'proxy', await freePorts(5), started);

        pageServer = await startPageServer(path.join(www, 'page.html'));
        const crossOrigin = `http://127.0.0.1:${pageServer.address().port}`;
        const pageUrls = {
            same: `${proxyOrigin}/browser-tests/page.html`,
            cross: `${crossOrigin}/page.html?proxy=${encodeURIComponent(proxyOrigin)}`,
        };
        console.log(`proxy ${proxyOrigin} (log ${proxyLog}), cross-origin pages from ${crossOrigin}`);

        browser = await withTimeout(chromium.launch({
            executablePath: opts.chromium,
            headless: true,
            chromiumSandbox: false,
            timeout: STARTUP_TIMEOUT_MS,
            // playwright adds --headless and its own fresh --user-data-dir.
            args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
                   '--disable-component-update', '--disable-sync', '--disable-quic',
                   // The HTTPS/WSS round's certificate is self-signed.
                   '--ignore-certificate-errors'],
        }), STARTUP_TIMEOUT_MS + 2000, 'chromium.launch');
        console.log(`chromium ${browser.version()}`);

        for (const origin of opts.origins) await runRows(opts, origin, pageUrls[origin]);
        if (opts.origins.some(rowsFailed)) {
            console.log('proxy log (last lines):');
            console.log(proxy.tail(30));
        }
        if (!proxy.alive()) console.log(`proxy ended during the run (${proxy.exited})`);
    } finally {
        if (pageServer) pageServer.close();
        await Promise.all(started.map((c) => c.stop()));
    }

    for (const balancer of opts.balancers) {
        // A round is two proxies, four backends and a balancer starting,
        // then the rows; with less than a row's budget and that left it
        // could only fail.
        if (Date.now() < deadline - ROW_BUDGET_MS - STARTUP_TIMEOUT_MS) {
            await balancerRound(opts, balancer);
        } else {
            balancerResults.push({ name: balancer, ok: false, detail: 'not run: time budget used up' });
            for (const t of opts.transports) {
                for (const c of CHECKS) record(t, balancer, c, false, 'not run: time budget used up');
            }
        }
    }

    if (opts.tls) {
        if (Date.now() < deadline - 30_000) await tlsRound(opts);
        else tlsResults.push({ name: 'HTTPS and WSS', ok: false, detail: 'not run: time budget used up' });
    }

    if (opts.samplesFlow) {
        if (Date.now() < deadline - 20_000) await samplesFlow(opts);
        else extraResults.push({ name: 'samples flow', ok: false, detail: 'not run: time budget used up' });
    }
    if (opts.chatFlow) {
        if (Date.now() < deadline - 20_000) await chatFlow(opts);
        else chatResults.push({ name: 'chat sample', ok: false, detail: 'not run: time budget used up' });
    }
}

let opts = null;
const hardStop = setTimeout(() => {
    console.error(`run.mjs: the run took longer than ${TOTAL_BUDGET_MS / 1000 + 15} s, giving up`);
    const counts = opts ? printReport(opts) : { passed: 0, failed: 1 };
    keepTemp = true;
    console.log(`logs kept in ${tempDir}`);
    printCounts(counts);
    killEverythingNow();
    process.exit(1);
}, TOTAL_BUDGET_MS + 15_000);

try {
    await main();
} catch (e) {
    console.error(`run.mjs: ${e.stack || e}`);
    extraResults.push({ name: 'setup', ok: false, detail: e.message.split('\n')[0] });
}
await shutdown().catch(() => {});
clearTimeout(hardStop);
const counts = opts ? printReport(opts) : { passed: 0, failed: 1 };
if (counts.failed && tempDir) {
    keepTemp = true;
    console.log(`\nlogs kept in ${tempDir}`);
}
printCounts(counts);
killEverythingNow();
process.exit(counts.failed ? 1 : 0);
