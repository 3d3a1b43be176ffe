#pragma once

#include "base/counters.h"
#include "zmqsocket.h"

#include <QObject>

namespace SockJsProxy {

// The wire protocol with the backends of one service, byte-compatible with
// the original SockJSProxy:
//  - a bound PUSH socket ("in") carries [type, session_id, data] to the
//    backends: connect (empty data), message (UTF-8 bytes), disconnect (empty);
//  - a bound PULL socket ("out") takes [type, session_id, data] from them:
//    message (deliver data to the session), disconnect (close it; data
//    ignored but present) and broadcast (deliver data to every session the
//    second frame names, space-separated, or to every open session when it
//    is empty).
// Malformed messages from backends (wrong frame count, unknown type) are
// logged, counted and dropped; never an exception, never a crash.
class ZmqBridge : public QObject
{
    Q_OBJECT

public:
    ZmqBridge(const QString &inEndpoint, const QString &outEndpoint, qsizetype queueLimit, QObject *parent = nullptr);
    ~ZmqBridge() override;

    // Binds "in" and "out"; on failure *error names the endpoint. Logs nothing.
    bool start(QString *error);
    // Before exiting: lets closing the sockets spend up to milliseconds
    // delivering what is queued (the final "disconnect"s), never longer.
    void setShutdownLinger(int milliseconds);

    QString inEndpoint() const { return m_inEndpoint; }
    QString outEndpoint() const { return m_outEndpoint; }
    // The endpoints actually bound (after a wildcard port: the port chosen).
    QString boundInEndpoint() const;
    QString boundOutEndpoint() const;

    void sendConnect(const QByteArray &sessionId);
    void sendMessage(const QByteArray &sessionId, const QByteArray &data);
    void sendDisconnect(const QByteArray &sessionId);

    // Counters of CounterScope::Backend (base/counters.h), the outbox's
    // drops included.
    Counters counters() const;
    qsizetype queuedToBackend() const;
    quint64 droppedToBackend() const;
    // Backends connected to "in" and "out" right now (from zmq_socket_monitor;
    // -1 where the transport reports no connections, as inproc://).
    int inPeers() const { return m_inPeers; }
    int outPeers() const { return m_outPeers; }

Q_SIGNALS:
    // A backend connected to or left "in" or "out".
    void peersChanged(int inPeers, int outPeers);
    void messageFromBackend(const QByteArray &sessionId, const QByteArray &data);
    void disconnectFromBackend(const QByteArray &sessionId);
    // target: empty (every open session) or session ids separated by spaces.
    void broadcastFromBackend(const QByteArray &target, const QByteArray &data);

private:
    void send(const QByteArray &type, const QByteArray &sessionId, const QByteArray &data);
    void onIncoming(const SockJsProxy::ZmqMessage &message);
    ZmqSocket *watchPeers(ZmqSocket *socket, const char *name, int *peers);

    QString m_inEndpoint;
    QString m_outEndpoint;
    ZmqSocket *m_push;
    ZmqSocket *m_pull;
    Counters m_counters;
    int m_inPeers = 0;
    int m_outPeers = 0;
    bool m_holdWithoutPeers = false;
};

} // namespace SockJsProxy
