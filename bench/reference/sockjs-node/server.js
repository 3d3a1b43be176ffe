'use strict';
// Reference server for bench/run: sockjs-node's echo service on /echo, the
// same service SockJSProxy offers (default heartbeat, disconnect delay and
// response limit). A message "__fanout__" is not echoed: every open
// connection gets one message "fanout" instead (the fan-out scenario).
//
// usage: node server.js PORT   (listens on 127.0.0.1 only)

const http = require('http');
const sockjs = require('sockjs');

const port = Number(process.argv[2] || 9999);
const clients = new Set();

const echo = sockjs.createServer({ log: () => {} });
echo.on('connection', (conn) => {
    if (!conn)
        return;
    clients.add(conn);
    conn.on('data', (message) => {
        if (message === '__fanout__') {
            for (const client of clients)
                client.write('fanout');
            return;
        }
        conn.write(message);
    });
    conn.on('close', () => clients.delete(conn));
});

const server = http.createServer();
echo.installHandlers(server, { prefix: '/echo' });
server.listen(port, '127.0.0.1', () => {
    console.log(`sockjs-node ${require('sockjs/package.json').version} echo on http://127.0.0.1:${port}/echo`);
});

for (const signal of ['SIGINT', 'SIGTERM'])
    process.on(signal, () => process.exit(0));
