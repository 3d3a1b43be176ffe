#pragma once

#include "acceptbackoff.h"
#include "base/counters.h"
#include "connectionlimits.h"
#include "trustedproxies.h"

#include <QBasicTimer>
#include <QElapsedTimer>
#include <QHostAddress>
#include <QObject>

class QSocketNotifier;
class QTcpServer;
class QTcpSocket;

namespace SockJsProxy {

// A listening TCP port that keeps its footing when the process runs out of
// file descriptors, and that holds client connections to
// limits.max_connections and limits.max_connections_per_address.
//
// Out of descriptors. Qt 6.4's QTcpServer cannot tell EMFILE from "nothing
// pending": QNativeSocketEngine keeps only the first error of its life, and
// the first accept() that found the backlog empty already left
// TemporaryError there, so later EMFILE/ENFILE/ENOBUFS/ENOMEM read as
// TemporaryError and QTcpServer returns with its notifier still enabled.
// The listening socket stays readable, and the event loop calls accept()
// again at once, forever: a spin at 100% of a core. (Were EMFILE the very
// first error, it would pause accepting and never resume.) So on UNIX the
// Listener accepts itself: QTcpServer binds and listens, its notifier is
// paused for good, and a notifier of ours calls accept4(). When accept()
// fails for lack of descriptors or memory, the Listener
//  - refuses what waits in the backlog at once, with a descriptor kept in
//    reserve for this: closes the reserve, accepts one connection, answers
//    503 if its request is already there (else just closes it), opens the
//    reserve again; so clients learn at once rather than hang;
//  - disables its notifier for a pause (AcceptBackoff: 100 ms doubling up
//    to 1 s; not polled meanwhile), then tries again; existing connections
//    are served as ever;
//  - logs one line per pause with the attempts it refused, one when it
//    accepts again with no failure for 2 s, and counts failed accept()
//    calls, pauses and refused attempts in its counter rows.
// Elsewhere (Windows) QTcpServer accepts; its acceptError() pauses it and
// the Listener resumes it after the same pause.
//
// Over a connection limit a connection is refused with a 503 and
// Retry-After once its request head has arrived (within a second, else it
// is closed); at most 64 such refusals are kept at a time, beyond that a
// connection over a limit is closed at once. Counted by limit.
//
// Connections are counted from acceptance until their QTcpSocket is
// destroyed, whoever owns it by then (a Connection, a QWebSocket): a small
// child object of the socket gives the count back from its destructor.
// (Not the socket's destroyed() signal: a QWebSocket disconnects every
// signal of the socket it takes over.)
class Listener : public QObject
{
    Q_OBJECT

public:
    // The rows of base/counters.h this listener's accept trouble goes to.
    struct CounterRows
    {
        Counter acceptErrors;  // accept() failed (for any reason but "nothing pending")
        Counter acceptPauses;  // pauses for lack of descriptors or memory (back-off periods)
        Counter acceptRefused; // attempts refused with the reserve descriptor meanwhile
    };

    // name is for log lines ("HTTP", "control"); the address follows it.
    Listener(const QString &name, const CounterRows &rows, QObject *parent = nullptr);
    ~Listener() override;

    // On failure *error is QTcpServer's errorString().
    bool listen(const QHostAddress &address, quint16 port, QString *error);
    void close();
    bool isListening() const;
    quint16 serverPort() const;
    QHostAddress serverAddress() const;

    // The accepted sockets are QSslSocket objects in UnencryptedMode, for
    // a TlsAcceptor to take (HTTPS, WSS). Set before listen().
    void setTlsSockets(bool on);

    // 0: no limit. May be changed at any time; applies to new connections.
    void setConnectionLimits(int maxConnections, int maxConnectionsPerAddress);
    // Peers held to max_connections only, not to the per-address limit:
    // trusted load balancers, whose connections carry many clients (their
    // clients' sessions are still capped per real address).
    void setSharedPeers(const TrustedProxies &peers) { m_sharedPeers = peers; }
    const ConnectionLimits &connectionLimits() const { return m_limits; }
    // Client connections accepted and not yet gone.
    int openConnections() const { return m_limits.total(); }
    // Not accepting for now (out of descriptors or memory).
    bool isPaused() const { return m_pauseTimer.isActive(); }
    // Where this listener counts its rows (and the connection limits'
    // refusals): counters, which must outlive it (its owner's), or by
    // default an array of its own.
    void setCounters(Counters *counters) { m_counters = counters ? counters : &m_ownCounters; }
    const Counters &counters() const { return *m_counters; }

    // The address a connection's limits count it under: the TCP peer's.
    // The one place to change when the client address comes from
    // elsewhere (a trusted proxy's PROXY protocol header).
    static QHostAddress clientAddress(const QTcpSocket *socket);

    static constexpr int kAcceptsPerPass = 128;
    static constexpr int kRefusalGraceMs = 1000;
    static constexpr int kMaxRefusals = 64;

Q_SIGNALS:
    // A connection accepted within the limits. The socket is parented to
    // the Listener; the slot takes it (setParent) at once.
    void connectionAccepted(QTcpSocket *socket);

protected:
    void timerEvent(QTimerEvent *event) override;

private:
    friend class ListenerAdmission;

    void admit(QTcpSocket *socket);
    void release(const QHostAddress &client) { m_limits.release(client); }
    void refuseOverLimit(QTcpSocket *socket);
    void pause(int error);
    void resume();
    void noteAccepted();
#ifdef Q_OS_UNIX
    void onReadable();
    void acceptFailed(int error);
    quint64 refuseBacklog();
    void openReserve();
    void closeReserve();
#else
    void onPendingConnections();
#endif

    QString m_name;
    CounterRows m_rows;
    QTcpServer *m_server;
    bool m_tlsSockets = false;
    QSocketNotifier *m_notifier = nullptr;
    int m_reserve = -1; // a descriptor kept open to refuse with when out of them
    AcceptBackoff m_backoff;
    QElapsedTimer m_clock;
    QBasicTimer m_pauseTimer;
    QElapsedTimer m_otherErrorWarning; // rate of warnings for unexpected accept() errors
    ConnectionLimits m_limits;
    TrustedProxies m_sharedPeers;
    Counters m_ownCounters;
    Counters *m_counters = &m_ownCounters;
    int m_refusals = 0; // over-limit refusals in progress
};

} // namespace SockJsProxy
