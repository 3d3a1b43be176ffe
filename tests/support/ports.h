#pragma once

#include <QList>
#include <QString>
#include <QStringList>

namespace SockJsProxy::Test {

// count distinct TCP ports on 127.0.0.1 that nobody listens on right now:
// all are held at once (so they differ), then released for the child
// processes that will bind them. Empty when that fails.
QList<quint16> freePorts(int count);

// True when a TCP connection to 127.0.0.1:port is accepted within timeoutMs
// (the connection is closed again at once).
bool acceptsConnections(quint16 port, int timeoutMs = 1000);

// One sockjsproxy-cli's ports, all on 127.0.0.1: HTTP, ZeroMQ in (the
// proxy's PUSH), ZeroMQ out (its PULL).
struct Ports
{
    quint16 http = 0;
    quint16 in = 0;
    quint16 out = 0;

    // Three free ports; ok() is false when there were none.
    static Ports pick();
    bool ok() const { return http != 0; }

    // sockjsproxy-cli's flags: everything on 127.0.0.1, so nothing of a
    // test is reachable from outside.
    QStringList proxyArgs() const;
    // The flags of the Python samples (-a -i -o).
    QStringList pythonArgs() const;
    // The flags of sockjsproxy-echo-backend (--in --out).
    QStringList cppArgs() const;
    QString inEndpoint() const;  // tcp://127.0.0.1:in
    QString outEndpoint() const; // tcp://127.0.0.1:out
};

} // namespace SockJsProxy::Test
