#!/usr/bin/env node
// Browser end-to-end tests for SockJSProxy: headless Chromium talks SockJS to a
// real sockjsproxy-cli with the sample Python backends behind it, directly and
// through HAProxy and nginx started from tests/e2e/balancers/*.in, and three
// cluster nodes behind HAProxy with one backend connected to all of them.
//
//   node run.mjs --cli BUILD/app/sockjsproxy-cli [--samples-dir SRC/samples]
//                [--python /usr/bin/python3] [--chromium /usr/bin/chromium]
//                [--only websocket,eventsource] [--origins same,cross] [--no-samples-flow]
//                [--no-chat-flow]
//                [--no-tls] [--balancers haproxy,nginx | --no-balancers]
//                [--no-cluster | --cluster-only]
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
            'no-cluster': { type: 'boolean' },
            'cluster-only': { type: 'boolean' },
            'keep-temp': { type: 'boolean' },
            help: { type: 'boolean', short: 'h' },
        },
    });
    if (values.help) {
        console.log('usage: node run.mjs --cli PATH/sockjsproxy-cli [--samples-dir DIR] [--python PY] ' +
                    '[--chromium PATH] [--only t1,t2] [--origins same,cross] [--no-samples-flow] ' +
                    '[--no-chat-flow] [--no-tls] [--balancers haproxy,nginx | --no-balancers] ' +
                    '[--no-cluster | --cluster-only] [--keep-temp]');
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
        cluster: !values['no-cluster'],
        clusterHaproxy: null,
        keepTemp: !!values['keep-temp'],
    };
    // --cluster-only: the cluster phase and nothing else (CTest's
    // browser_cluster; browser_e2e runs the rest with --no-cluster).
    if (values['cluster-only']) {
        if (values['no-cluster'] || values.origins || values.balancers || values['no-balancers']) {
            console.error('run.mjs: --cluster-only goes with none of --no-cluster, --origins, --balancers, ' +
                          '--no-balancers');
            process.exit(2);
        }
        Object.assign(o, { origins: [], balancers: [], samplesFlow: false, chatFlow: false, tls: false });
    }
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
    if (o.cluster) {
        o.clusterHaproxy = findProgram('haproxy', env.HAPROXY);
        if (!o.clusterHaproxy) {
            problems.push(`haproxy not found (${env.HAPROXY || 'PATH, /usr/sbin'}): scripts/install-deps --test ` +
                          'installs it; --no-cluster leaves the cluster phase out');
        }
        if (!existsSync(path.join(HERE, 'cluster-backend.py'))) problems.push('cluster-backend.py is missing');
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
const clusterResults = [];   // [{name, ok, detail}] for the cluster phase

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
    if (opts.cluster) {
        console.log('');
        console.log('three nodes (cluster) behind haproxy, one backend connected to all three');
        for (const r of clusterResults) {
            if (r.ok) ++passed; else ++failed;
            console.log(`  ${r.ok ? 'PASS' : 'FAIL'}  ${r.name}${r.ok ? '' : `: ${r.detail}`}`);
        }
        if (clusterResults.length === 0) { ++failed; console.log('  FAIL  not run'); }
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
    const config = {
        http: { address: '127.0.0.1', port: httpPort, ...http },
        static: [{ url: '/browser-tests', path: path.join(tempDir, 'www') }],
        services: [testService('/echo', echoIn, echoOut), testService('/close', closeIn, closeOut)],
    };
    const { proxy, origin, log } = await startProxy(opts, name, config, args, started);
    const echo = new Child(`${name}-echo`, opts.python,
        [path.join(opts.samplesDir, 'echo-sjp.py'), '-a', '127.0.0.1', '-i', String(echoIn), '-o', String(echoOut)]);
    const closer = new Child(`${name}-close`, opts.python,
        [path.join(opts.samplesDir, 'echo-sjp.py'), '-a', '127.0.0.1', '-i', String(closeIn), '-o', String(closeOut),
         '--close-on-connect']);
    started.push(echo, closer);
    await echo.waitForLine(/pulling from/, STARTUP_TIMEOUT_MS);
    await closer.waitForLine(/pulling from/, STARTUP_TIMEOUT_MS);
    return { proxy, origin, log };
}

// A service of the test proxies' configs: prefix in front of a backend on
// 127.0.0.1 ports inPort and outPort; more: other keys.
function testService(prefix, inPort, outPort, more = {}) {
    const zmq = (p) => `tcp://127.0.0.1:${p}`;
    return {
        prefix, zmq: { in: zmq(inPort), out: zmq(outPort) }, websocket: true, cookie_needed: false,
        heartbeat_delay_ms: 25000, disconnect_delay_ms: 5000, response_limit: 131072, ...more,
    };
}

// sockjsproxy-cli -v with config (written to TEMP/name.json) and more
// arguments; resolves once its first service's /info answers. The process
// goes into started, for the caller to stop, also when this throws.
async function startProxy(opts, name, config, args, started) {
    const configPath = path.join(tempDir, `${name}.json`);
    writeFileSync(configPath, JSON.stringify(config, null, 2));
    const log = path.join(tempDir, `${name}.log`);
    const proxy = new Child(name, opts.cli, ['--config', configPath, '-v', ...args], { logFile: log, timestamped: true });
    started.push(proxy);
    const origin = `http://127.0.0.1:${config.http.port}`;
    await waitForHttp(`${origin}${config.services[0].prefix}/info`, proxy, STARTUP_TIMEOUT_MS);
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
// More than two servers: the template's line of the second one, repeated
// for each (sockjsproxy3, sockjsproxy4, ...).
function balancerCommand(balancer, dir, listen, servers) {
    const template = BALANCER_TEMPLATES[balancer];
    const [server1, server2, ...more] = servers;
    const recipe = readFileSync(path.join(HERE, '..', 'e2e', 'balancers', template), 'utf8')
        .split('\n').flatMap((line) => [line, ...(line.includes('@SERVER2@')
            ? more.map((server, i) => line.replaceAll('@SERVER2@', server)
                .replace(/sockjsproxy2\b/, `sockjsproxy${i + 3}`)) : [])]).join('\n')
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
// /metrics has no such counter (a renamed one must not read as 0), unless
// it has label sets made at run time (then none yet is 0).
function counterSum(text, name, { noneIsZero = false } = {}) {
    let sum = null;
    for (const line of text.split('\n')) {
        const m = line.match(/^([a-z_]+)(?:\{[^}]*\})? (\d+)$/);
        if (m && m[1] === name) sum = (sum || 0) + Number(m[2]);
    }
    if (sum === null && noneIsZero && text.includes(`\n# TYPE ${name} counter\n`)) return 0;
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
                       balancerCommand(balancer, dir, `127.0.0.1:${front}`, proxies.map(server)),
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

// ---------------------------------------------------------------- several nodes behind HAProxy

// README "Several proxies": three nodes that know each other, with small
// heartbeat, dead_after and grace so that a dead node is noticed in well
// under two seconds. The bound on the dead node's disconnects is the
// README's, from its last heartbeat (so at most this long after the kill).
const CLUSTER_NODES = ['n1', 'n2', 'n3'];
const CLUSTER_TIMING = { heartbeat_ms: 200, dead_after_ms: 1000, claim_grace_ms: 300 };
const CLUSTER_BOUND_MS = CLUSTER_TIMING.dead_after_ms + CLUSTER_TIMING.claim_grace_ms + 2 * CLUSTER_TIMING.heartbeat_ms;
// What the kill-to-disconnect time may exceed the bound by: the backend's
// lines reach this script through a pipe and a 20 ms poll, on a busy machine.
const CLUSTER_OBSERVE_SLACK_MS = 500;
// A page of a dead node reconnects until this runs out: HAProxy marks the
// node down after its health checks fail (the template's "check": every
// 2 s, down after 3), and until then sends a third of the new sessions, and
// /info, to it.
const CLUSTER_RECONNECT_MS = 25_000;
const CLUSTER_DISCONNECT_DELAY_MS = 2000;

// The cluster phase: the nodes behind HAProxy from tests/e2e/balancers
// (sticky by session id, a third server line as the second), one backend
// connected to all three (cluster-backend.py: echoes, and on a trigger
// sends one broadcast with an empty target), and a page in its own browser
// context for every transport (its own connection pool: Chromium's six
// connections per host would hold back the streaming transports' sessions
// otherwise), plus WebSocket pages until every node holds a session. Then:
// echoes exactly once and in order (one message in flight per session:
// replies forwarded by a peer and replies that went straight to the
// session's node are not ordered among themselves), a broadcast reaches
// every session once, SIGKILL of the node holding the most sessions, its
// pages closed and reconnected through HAProxy to a live node, one
// disconnect for each of its sessions from the node that speaks for it,
// then echoes and a broadcast again, and in the end one disconnect for
// every connect.
async function clusterRound(opts) {
    const check = (name, ok, detail = '') => {
        clusterResults.push({ name, ok, detail });
        if (!ok) console.log(`  FAIL cluster ${name}: ${detail}`);
        return ok;
    };
    const t0 = Date.now();
    const stage = (name) => console.log(`cluster: ${name} at ${Date.now() - t0} ms`);
    const dir = path.join(tempDir, 'cluster');
    mkdirSync(dir);
    const ports = await freePorts(1 + 5 * CLUSTER_NODES.length);
    const front = ports[0];
    const nodes = CLUSTER_NODES.map((name, i) => {
        const [httpPort, inPort, outPort, clusterPort, controlPort] = ports.slice(1 + 5 * i, 6 + 5 * i);
        return { name, httpPort, inPort, outPort, bind: `tcp://127.0.0.1:${clusterPort}`,
                 control: `http://127.0.0.1:${controlPort}`, controlPort, proxy: null };
    });
    const started = [];
    const pages = [];
    let backend = null;
    let lb = null;
    let failedEarly = false;
    try {
        for (const node of nodes) {
            const config = {
                http: { address: '127.0.0.1', port: node.httpPort, trusted_proxies: ['127.0.0.1'] },
                static: [{ url: '/browser-tests', path: path.join(tempDir, 'www') }],
                services: [testService('/echo', node.inPort, node.outPort,
                                       { disconnect_delay_ms: CLUSTER_DISCONNECT_DELAY_MS })],
                // The same peer list for every node: each skips its own bind.
                cluster: { node: node.name, bind: node.bind, peers: nodes.map((n) => n.bind), ...CLUSTER_TIMING },
            };
            node.proxy = (await startProxy(opts, `cluster-${node.name}`, config,
                                           ['--control', `127.0.0.1:${node.controlPort}`], started)).proxy;
        }
        // Forwarding works once every node has heard from every other.
        for (const node of nodes) {
            for (const peer of nodes) {
                if (peer !== node) await node.proxy.waitForLine(new RegExp(`peer ${peer.name} reached at`), STARTUP_TIMEOUT_MS);
            }
        }
        backend = new Child('cluster-backend', opts.python,
            [path.join(HERE, 'cluster-backend.py'),
             ...nodes.flatMap((n) => ['--node', `tcp://127.0.0.1:${n.inPort},tcp://127.0.0.1:${n.outPort}`])],
            { logFile: path.join(dir, 'backend.log') });
        started.push(backend);
        await backend.waitForLine(/pulling from/, STARTUP_TIMEOUT_MS);
        // With ZMQ_IMMEDIATE a node the backend has not reached yet gets no
        // share of its replies: wait until it reached all three.
        for (const node of nodes) {
            await node.proxy.waitForLine(/backend connected to in/, STARTUP_TIMEOUT_MS);
            await node.proxy.waitForLine(/backend connected to out/, STARTUP_TIMEOUT_MS);
        }
        lb = new Child('haproxy', opts.clusterHaproxy,
                       balancerCommand('haproxy', dir, `127.0.0.1:${front}`,
                                       nodes.map((n) => `127.0.0.1:${n.httpPort}`)),
                       { logFile: path.join(dir, 'haproxy.log'), group: true });
        started.push(lb);
        const origin = `http://127.0.0.1:${front}`;
        await waitForHttp(`${origin}/echo/info`, lb, STARTUP_TIMEOUT_MS);
        console.log(`cluster: haproxy ${origin} in front of ${nodes.map((n) => `${n.name} ${n.httpPort}`).join(', ')} ` +
                    `(files in ${dir}), started in ${Date.now() - t0} ms`);

        // The backend's events, as it printed them.
        const events = (kind) => backend.lines.filter((l) => l.startsWith(`${kind} `)).map((l) => l.slice(kind.length + 1));
        const countOf = (list) => list.reduce((m, id) => m.set(id, (m.get(id) || 0) + 1), new Map());
        const nodeOf = (id) => id.split('-')[0];

        // ---- pages
        const label = (p) => `${p.transport}#${p.n}`;
        const openPage = async (transport) => {
            const p = { transport, n: pages.filter((q) => q.transport === transport).length + 1, console: [],
                        id: null };
            pages.push(p);
            p.context = await browser.newContext();
            p.page = await p.context.newPage();
            p.page.on('console', (m) => {
                if (!/document.domain mutation is ignored/.test(m.text())) p.console.push(`console.${m.type()}: ${m.text()}`);
            });
            p.page.on('pageerror', (e) => p.console.push(`pageerror: ${e.message}`));
            p.call = (fn, arg, ms, what) => withTimeout(p.page.evaluate(fn, arg), ms + 2000, `${label(p)} ${what}`);
            await p.page.goto(`${origin}/browser-tests/page.html`, { timeout: CHECK_TIMEOUT_MS });
            await p.call((ms) => window.SJPT.load(ms), CHECK_TIMEOUT_MS, CHECK_TIMEOUT_MS, 'load sockjs-client');
            return p;
        };
        // Opens a session with exactly p.transport, and learns its id from
        // the backend. Tries again (a new session) until budgetMs runs out.
        // want: the node it must land on; then the client's session id is
        // one HAProxy's hash sends there (see idsFor).
        const connect = async (p, budgetMs, want = null) => {
            const until = Date.now() + budgetMs;
            let last = '';
            for (let attempt = 1; Date.now() < until; ++attempt) {
                try {
                    const ms = Math.max(1000, Math.min(CHECK_TIMEOUT_MS + 4000, until - Date.now()));
                    const sid = want ? idsFor[want].pop() : null;
                    const o = await p.call(([t, m, i]) => window.SJPT.open('/echo', t, m, i), [p.transport, ms, sid],
                                           ms, 'open');
                    if (o.transport !== p.transport) throw new Error(`sock.transport is ${show(o.transport)}`);
                    const [id] = await p.call((m) => window.SJPT.echo(['__whoami__'], m), CHECK_TIMEOUT_MS,
                                              CHECK_TIMEOUT_MS, 'whoami');
                    p.id = id;
                    if (want && nodeOf(id) !== want) {
                        last = `on ${nodeOf(id)}, not ${want}`;
                        continue;
                    }
                    return;
                } catch (e) {
                    last = e.message.split('\n')[0];
                    await sleep(300);
                }
            }
            throw new Error(`${label(p)} did not open${want ? ` on ${want}` : ''} within ${budgetMs} ms (last: ${last})`);
        };
        // Every page in parallel: n messages, one in flight at a time, each
        // must come back as sent. Returns the problems.
        const echoRound = async (stage, n) => {
            const problems = [];
            await Promise.all(pages.map(async (p) => {
                for (let i = 1; i <= n; ++i) {
                    const sent = [`${stage} ${label(p)} \u{1F600} ${i} of ${n}`];
                    try {
                        const got = await p.call(([m, t]) => window.SJPT.echo(m, t), [sent, CHECK_TIMEOUT_MS],
                                                 CHECK_TIMEOUT_MS, 'echo');
                        const problem = compareMessages(sent, got);
                        if (problem) { problems.push(`${label(p)} on ${nodeOf(p.id)}: ${problem}`); return; }
                    } catch (e) {
                        problems.push(`${label(p)} on ${nodeOf(p.id)}: ${e.message.split('\n')[0]}`);
                        return;
                    }
                }
            }));
            return problems;
        };
        // A broadcast sent by the backend on the trigger of one page: every
        // page receives exactly it, once (a second copy would be the
        // answer to the next echo, or left over at the end).
        const broadcastRound = async (tag) => {
            const problems = [];
            const [trigger, ...others] = pages;
            const receiving = others.map(async (p) => {
                try {
                    const got = await p.call((m) => window.SJPT.receive(1, m), CHECK_TIMEOUT_MS, CHECK_TIMEOUT_MS,
                                             'receive');
                    if (got[0] !== tag) problems.push(`${label(p)}: got ${show(got[0])}`);
                } catch (e) {
                    problems.push(`${label(p)} on ${nodeOf(p.id)}: ${e.message.split('\n')[0]}`);
                }
            });
            try {
                // The trigger's only answer is the broadcast itself.
                const got = await trigger.call(([m, t]) => window.SJPT.echo(m, t),
                                               [[`__broadcast__ ${tag}`], CHECK_TIMEOUT_MS], CHECK_TIMEOUT_MS,
                                               'broadcast trigger');
                if (got[0] !== tag) problems.push(`${label(trigger)}: got ${show(got[0])}`);
            } catch (e) {
                problems.push(`${label(trigger)}: ${e.message.split('\n')[0]}`);
            }
            await Promise.all(receiving);
            const sent = events('broadcast').filter((t) => t === tag).length;
            if (sent !== 1) problems.push(`the backend sent ${sent} broadcasts ${tag}`);
            return problems;
        };
        const spread = () => {
            const per = Object.fromEntries(nodes.map((n) => [n.name, 0]));
            for (const p of pages) if (p.id) per[nodeOf(p.id)] = (per[nodeOf(p.id)] ?? 0) + 1;
            return per;
        };
        const showSpread = (per) => Object.entries(per).map(([n, c]) => `${n} ${c}`).join(', ');

        // A page of every transport with its session on the node that will
        // die, and one page on each of the two others (the dead node's
        // pages land there too when they reconnect).
        const victim = nodes[1];
        const keepers = nodes.filter((n) => n !== victim);
        const plan = [...opts.transports.map((t) => [t, victim.name]),
                      ...keepers.map((n, i) => [opts.transports[i % opts.transports.length], n.name])];
        // Client session ids that HAProxy sends to each node: its hash
        // (consistent, on the session id) decides, the request log says
        // where a request went. Asked with GET .../xhr_send, which opens no
        // session (the node answers 404 or 405).
        const idsFor = Object.fromEntries(nodes.map((n) => [n.name, []]));
        const candidates = Array.from({ length: 120 }, (_, i) => `pick${i}x${Math.random().toString(36).slice(2, 8)}`);
        await Promise.all(candidates.map((id) => httpGet(`${origin}/echo/000/${id}/xhr_send`).catch(() => null)));
        const pickUntil = Date.now() + 5000;
        for (;;) {
            const routed = new Map();
            for (const l of lb.lines) {
                const m = l.match(/ sockjsproxy\/sockjsproxy(\d) .*"GET \/echo\/000\/(pick\w+)\/xhr_send /);
                if (m) routed.set(m[2], nodes[Number(m[1]) - 1].name);
            }
            if (routed.size === candidates.length || Date.now() > pickUntil) {
                for (const [id, node] of routed) idsFor[node].push(id);
                break;
            }
            await sleep(50);
        }
        if (!check(`haproxy's request log names the node of each session id (${showSpread(
                       Object.fromEntries(Object.entries(idsFor).map(([n, ids]) => [n, ids.length])))} of ` +
                   `${candidates.length})`,
                   Object.values(idsFor).every((ids) => ids.length >= plan.length), 'too few ids for a node')) {
            failedEarly = true;
            return;
        }
        // The pages load a few at a time (all at once starve a busy
        // machine), their sessions open together.
        const loaded = [];
        for (let i = 0; i < plan.length; i += 3) {
            loaded.push(...await Promise.all(plan.slice(i, i + 3).map(([transport, want]) =>
                openPage(transport).then((p) => [p, want], (e) => e))));
        }
        stage('pages loaded');
        const opened = await Promise.all(loaded.map(async (x) => {
            if (x instanceof Error) return x.message.split('\n')[0];
            const [p, want] = x;
            try {
                await connect(p, 40_000, want);
                return null;
            } catch (e) {
                return e.message.split('\n')[0];
            }
        }));
        const before = spread();
        if (!check(`every transport opens through haproxy, ${pages.length} pages, sessions on all three nodes ` +
                   `(${showSpread(before)})`,
                   opened.every((x) => x === null) && Object.values(before).every((c) => c > 0) &&
                   Object.keys(before).length === nodes.length, opened.filter(Boolean).join('; '))) {
            failedEarly = true;
            return;
        }
        stage('pages open');
        let problems = await echoRound('before', 5);
        check(`${pages.length} pages: 5 messages each echoed exactly once and in order`, problems.length === 0,
              problems.join('; '));
        problems = await broadcastRound('broadcast-1');
        check('a broadcast (empty target) reaches every session on every node exactly once', problems.length === 0,
              problems.join('; '));
        problems = await echoRound('after-broadcast', 2);
        check('then the next echo of every page is its own (no second copy)', problems.length === 0,
              problems.join('; '));

        // ---- SIGKILL the victim
        // First the sessions the test opened and left (a page that landed
        // on another node) end: one closed in the node's last moments may
        // miss its disconnect or get two (README), which is not under test.
        const openNow = () => {
            const gone = countOf(events('disconnect'));
            return events('connect').filter((id) => !gone.has(id));
        };
        const settleUntil = Date.now() + CLUSTER_DISCONNECT_DELAY_MS + 5000;
        while (openNow().length !== pages.length && Date.now() < settleUntil) await sleep(100);
        const pageIds = new Set(pages.map((p) => p.id));
        if (!check(`before the kill the backend's open sessions are the ${pages.length} pages'`,
                   openNow().length === pages.length && openNow().every((id) => pageIds.has(id)),
                   `open: ${openNow().join(' ')}`)) {
            failedEarly = true;
            return;
        }
        // The peers learn of closed sessions on the next heartbeat.
        await sleep(2 * CLUSTER_TIMING.heartbeat_ms);
        const doomed = pages.filter((p) => nodeOf(p.id) === victim.name);
        // Every session the backend was told of on that node (the pages',
        // and any other, say one sockjs-client opened and abandoned).
        const deadIds = openNow().filter((id) => nodeOf(id) === victim.name);
        const liveIds = openNow().filter((id) => nodeOf(id) !== victim.name);
        const disconnectsBefore = events('disconnect').length;
        stage('kill');
        const killedAt = Date.now();
        victim.proxy.kill('SIGKILL');
        console.log(`cluster: SIGKILL ${victim.name} (pages ${doomed.map(label).join(', ')}; ` +
                    `${deadIds.length} sessions)`);

        // The backend hears of each of the dead node's sessions once, from
        // the node that speaks for it, within the README's bound.
        let allDisconnectedAt = null;
        const watchDisconnects = (async () => {
            const until = killedAt + CLUSTER_BOUND_MS + 5000;
            while (Date.now() < until) {
                const seen = new Set(events('disconnect'));
                if (deadIds.every((id) => seen.has(id))) { allDisconnectedAt = Date.now(); return; }
                await sleep(20);
            }
        })();
        // Its pages see their session close, then open a new one through
        // HAProxy, which lands on a live node.
        // Most transports see the close at once (their connection through
        // HAProxy breaks); one whose stream broke without a sign (htmlfile:
        // Chromium fires no load event in an iframe whose response was cut
        // short) sees it when it next sends.
        const closes = [];
        const reconnecting = doomed.map(async (p) => {
            try {
                let ev = await p.call((m) => window.SJPT.closed(m), 5000, 5000, 'close event').catch(() => null);
                let how = '';
                if (!ev) {
                    await p.call(([m, t]) => window.SJPT.echo(m, t), [['probe'], CHECK_TIMEOUT_MS], CHECK_TIMEOUT_MS,
                                 'probe').catch(() => null);
                    ev = await p.call((m) => window.SJPT.closed(m), CHECK_TIMEOUT_MS, CHECK_TIMEOUT_MS, 'close event');
                    how = ' on its next send';
                }
                closes.push(`${label(p)} ${ev.code}${how}`);
            } catch (e) {
                return `${label(p)}: ${e.message.split('\n')[0]}`;
            }
            try {
                await connect(p, CLUSTER_RECONNECT_MS);
                if (nodeOf(p.id) === victim.name) return `${label(p)} reopened on the dead node (${p.id})`;
            } catch (e) {
                return e.message.split('\n')[0];
            }
            return null;
        });
        await watchDisconnects;
        const reconnected = await Promise.all(reconnecting);
        const tookMs = allDisconnectedAt === null ? null : allDisconnectedAt - killedAt;
        check(`the dead node's pages see close (${closes.sort().join(', ')}) and reopen through haproxy on a ` +
              `live node (${doomed.map((p) => `${label(p)} on ${nodeOf(p.id)}`).join(', ')}), ` +
              `all ${Date.now() - killedAt} ms after the kill`,
              reconnected.every((x) => x === null), reconnected.filter(Boolean).join('; '));
        check(`the backend got a disconnect for each of the dead node's ${deadIds.length} sessions ${tookMs} ms after ` +
              `the kill (bound ${CLUSTER_BOUND_MS} ms from its last heartbeat)`,
              tookMs !== null && tookMs <= CLUSTER_BOUND_MS + CLUSTER_OBSERVE_SLACK_MS,
              tookMs === null ? 'not all within 5 s past the bound' : `${tookMs} ms`);
        const afterKill = countOf(events('disconnect').slice(disconnectsBefore));
        const twice = deadIds.filter((id) => afterKill.get(id) !== 1);
        const liveGone = liveIds.filter((id) => afterKill.has(id));
        check('exactly one each, and none for a live node\'s open session', twice.length === 0 && liveGone.length === 0,
              [...twice.map((id) => `${id}: ${afterKill.get(id) || 0} disconnects`),
               ...liveGone.map((id) => `${id} of a live page disconnected`)].join('; '));
        const metrics = await Promise.all(nodes.filter((n) => n !== victim)
            .map((n) => httpGet(`${n.control}/metrics`)));
        const claimed = metrics.map((m) => counterSum(m.body, 'sockjsproxy_cluster_dead_disconnects_total',
                                                      { noneIsZero: true }));
        const line = `\nsockjsproxy_cluster_dead_disconnects_total{peer="${victim.name}"} ${deadIds.length}\n`;
        check(`one live node sent them (sockjsproxy_cluster_dead_disconnects_total ${claimed.join(' + ')})`,
              metrics.filter((m) => m.body.includes(line)).length === 1 &&
              claimed.reduce((a, b) => a + b, 0) === deadIds.length,
              `not ${deadIds.length} for ${victim.name} from one node`);

        stage('reconnected');
        problems = await echoRound('after-kill', 5);
        check(`every page, reconnected or not: 5 messages echoed exactly once and in order (${showSpread(spread())})`,
              problems.length === 0, problems.join('; '));
        problems = await broadcastRound('broadcast-2');
        check('a broadcast reaches every session on the live nodes exactly once', problems.length === 0,
              problems.join('; '));
        problems = await echoRound('last', 2);
        await sleep(300);
        for (const p of pages) {
            const extra = await p.call(() => window.SJPT.extra(), 0, 1000, 'extra').catch((e) => [e.message]);
            if (extra.length) problems.push(`${label(p)}: ${extra.length} messages nobody asked for: ${show(extra[0])}`);
        }
        check('no page got a message twice or one it did not ask for', problems.length === 0, problems.join('; '));

        // ---- the pages leave: one disconnect for every connect, cluster-wide
        // Closing the browser contexts ends every request of theirs (a
        // closed jsonp-polling session's pending <script> request would
        // otherwise stay until the next heartbeat frame).
        stage('pages leave');
        await Promise.all(pages.map(async (p) => {
            await withTimeout(p.context.close(), 5000, 'context.close').catch(() => {});
            p.context = null;
        }));
        const until = Date.now() + CLUSTER_DISCONNECT_DELAY_MS + 8000;
        let connects;
        let disconnects;
        for (;;) {
            connects = countOf(events('connect'));
            disconnects = countOf(events('disconnect'));
            if ([...connects.keys()].every((id) => disconnects.has(id)) || Date.now() > until) break;
            await sleep(100);
        }
        const wrong = [...new Set([...connects.keys(), ...disconnects.keys()])]
            .filter((id) => connects.get(id) !== 1 || disconnects.get(id) !== 1)
            .map((id) => `${id}: ${connects.get(id) || 0} connects, ${disconnects.get(id) || 0} disconnects`);
        check(`once the pages close: one connect and one disconnect for each of the ${connects.size} sessions`,
              wrong.length === 0, wrong.join('; '));
        for (const node of nodes) {
            if (node !== victim && !node.proxy.alive()) check(`${node.name} kept running`, false, node.proxy.exited);
        }
        if (!lb.alive()) check('haproxy kept running', false, lb.exited);
    } catch (e) {
        check('the round', false, e.message.split('\n')[0]);
        console.log(e.message);
    } finally {
        if (failedEarly || clusterResults.some((r) => !r.ok)) {
            for (const p of pages) {
                if (p.console.length) {
                    console.log(`  browser messages (${p.transport}#${p.n}):`);
                    for (const l of p.console.slice(-8)) console.log(`    ${l.slice(0, 300)}`);
                }
            }
            if (lb) console.log(lb.tail(20));
            if (backend) console.log(backend.tail(20));
            for (const node of nodes) if (node.proxy) console.log(node.proxy.tail(15));
        }
        for (const p of pages) {
            if (p.context) await withTimeout(p.context.close(), 5000, 'context.close').catch(() => {});
        }
        await Promise.all(started.map((c) => c.stop()));
        console.log(`cluster: the phase took ${Date.now() - t0} ms`);
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

    // The direct rows (none with --cluster-only).
    if (opts.origins.length) {
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

    if (opts.cluster) {
        // Three nodes, a backend and a balancer starting, pages opening,
        // a node dying and its pages reconnecting: about a minute on two
        // busy cores.
        if (Date.now() < deadline - 45_000) await clusterRound(opts);
        else clusterResults.push({ name: 'cluster', ok: false, detail: 'not run: time budget used up' });
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
