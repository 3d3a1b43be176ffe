#pragma once

#include "base/counters.h"
#include "zmqsocket.h"

#include <QElapsedTimer>
#include <QHash>
#include <QObject>
#include <QSet>

#include <memory>

namespace SockJsProxy {

class ZapHandler;

// The wire protocol with the backends of one service, byte-compatible with
// the original SockJSProxy:
//  - a bound PUSH socket ("in") carries [type, session_id, data] to the
//    backends: connect (empty data, or JSON metadata with connect_info),
//    message (UTF-8 bytes), disconnect (empty);
//  - a bound PULL socket ("out") takes [type, session_id, data] from them:
//    message (deliver data to the session), disconnect (close it; data
//    empty or a JSON close code and reason), accept (open a session held
//    for require_accept; data ignored) and broadcast (deliver data to every
//    session the second frame names, space-separated, or to every open
//    session when it is empty). What they mean is the Service's.
// Malformed messages from backends (wrong frame count, unknown type) are
// logged, counted and dropped; never an exception, never a crash.
//
// With CURVE (setCurve()) both sockets are CURVE servers and a backend gets
// in only with an allowed public key: the process's ZapHandler asks this
// bridge. Until its handshake succeeds a backend has no pipe in ZeroMQ, so
// not one event goes to a refused one. Refusals are counted
// (BackendRefusedKey with the peer's address in the log,
// BackendRefusedHandshake for a backend without CURVE or with another
// server key) and logged at most once per ten seconds per kind and peer.
class ZmqBridge : public QObject
{
    Q_OBJECT

public:
    // queueLimit: events this bridge holds when ZeroMQ takes no more for the
    // backends (ZmqSocket::setOutboxLimit). highWaterMark: the messages
    // ZeroMQ itself holds per backend connection, each way. Towards the
    // backends, past it, this bridge's own queue takes over, which the
    // total queue budget counts; from a backend, past it, ZeroMQ stops
    // reading and the backend waits (its PUSH blocks or says EAGAIN), so
    // what a backend has sent and the proxy has not yet handled stays
    // bounded, whatever rate it sends at.
    ZmqBridge(const QString &inEndpoint, const QString &outEndpoint, qsizetype queueLimit, int highWaterMark,
              QObject *parent = nullptr);
    ~ZmqBridge() override;

    // Binds "in" and "out"; on failure *error names the endpoint. Logs nothing.
    bool start(QString *error);

    // Before start(): makes both sockets CURVE servers with secretKey (Z85)
    // and lets in only the backends whose public key (Z85) is allowed.
    void setCurve(const QByteArray &secretKey, const QSet<QByteArray> &allowedKeys);
    // Any time: the keys let in from now on. Backends connected with a key
    // taken out stay connected until they reconnect.
    void setAllowedKeys(const QSet<QByteArray> &allowedKeys);
    bool hasCurve() const { return !m_curveSecretKey.isEmpty(); }
    const QSet<QByteArray> &allowedKeys() const { return m_allowedKeys; }
    // Before exiting: lets closing the sockets spend up to milliseconds
    // delivering what is queued (the final "disconnect"s), never longer.
    void setShutdownLinger(int milliseconds);

    QString inEndpoint() const { return m_inEndpoint; }
    QString outEndpoint() const { return m_outEndpoint; }
    // The endpoints actually bound (after a wildcard port: the port chosen).
    QString boundInEndpoint() const;
    QString boundOutEndpoint() const;

    // data: empty, or the connect metadata (the service's connect_info).
    void sendConnect(const QByteArray &sessionId, const QByteArray &data = QByteArray(""));
    void sendMessage(const QByteArray &sessionId, const QByteArray &data);
    void sendDisconnect(const QByteArray &sessionId);

    // Counters of CounterScope::Backend (base/counters.h), the outbox's
    // drops included.
    Counters counters() const;
    qsizetype queuedToBackend() const;
    qint64 queuedBytesToBackend() const;
    // Events queued for the backends count against budget too; see
    // ZmqSocket::setQueueBudget().
    void setQueueBudget(QueueBudget *budget);
    quint64 droppedToBackend() const;
    // Backends connected to "in" and "out" right now (from zmq_socket_monitor;
    // -1 where the transport reports no connections, as inproc://).
    int inPeers() const { return m_inPeers; }
    int outPeers() const { return m_outPeers; }

Q_SIGNALS:
    // A backend connected to or left "in" or "out".
    void peersChanged(int inPeers, int outPeers);
    void messageFromBackend(const QByteArray &sessionId, const QByteArray &data);
    void disconnectFromBackend(const QByteArray &sessionId, const QByteArray &data);
    void acceptFromBackend(const QByteArray &sessionId);
    // target: empty (every open session) or session ids separated by spaces.
    void broadcastFromBackend(const QByteArray &target, const QByteArray &data);

private:
    void send(const QByteArray &type, const QByteArray &sessionId, const QByteArray &data);
    void onIncoming(const SockJsProxy::ZmqMessage &message);
    ZmqSocket *watchPeers(ZmqSocket *socket, const char *name, int *peers);
    bool startCurve(QString *error);
    bool authorize(const char *name, const QByteArray &address, const QByteArray &publicKey);
    // Logs a refusal unless one of the same kind was logged less than ten
    // seconds ago; the next line tells how many were not.
    void logRefusal(const QString &kind, const QString &text);

    QString m_inEndpoint;
    QString m_outEndpoint;
    ZmqSocket *m_push;
    ZmqSocket *m_pull;
    Counters m_counters;
    int m_inPeers = 0;
    int m_outPeers = 0;
    bool m_holdWithoutPeers = false;

    QByteArray m_curveSecretKey; // Z85; empty: no CURVE
    QSet<QByteArray> m_allowedKeys;
    std::shared_ptr<ZapHandler> m_zap; // outlives m_push and m_pull
    QList<QByteArray> m_zapDomains;
    struct RefusalLog
    {
        QElapsedTimer lastLine;
        quint64 notLogged = 0;
    };
    QHash<QString, RefusalLog> m_refusalLog;
};

} // namespace SockJsProxy
