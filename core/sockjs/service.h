#pragma once

#include "base/counters.h"
#include "base/lograte.h"
#include "config/config.h"
#include "http/originpolicy.h"
#include "session.h"

#include <QHash>
#include <QObject>
#include <QPointer>
#include <QSet>

#include <optional>

#include <memory>
#include <vector>

class QWebSocket;

namespace SockJsProxy {

class BackendRouter;
class Connection;
class Endpoints;
struct HttpResponse;
class QueueBudget;
class ZmqBridge;
struct HttpRequest;
struct TransportInfo;

// One SockJS service: everything under its prefix, its sessions and its
// ZeroMQ bridge. Owns its sessions (children) and the bridge.
class Service : public QObject, public SessionHost
{
    Q_OBJECT

public:
    explicit Service(const ServiceConfig &config, QObject *parent = nullptr);
    ~Service() override;

    const ServiceConfig &config() const { return m_config; }
    QString prefix() const { return m_config.prefix; }
    ZmqBridge *bridge() const { return m_bridge; }
    // Counters of CounterScope::Service (base/counters.h).
    const Counters &counters() const { return m_counters; }

    // Reads the key material of zmq.curve (none: nothing to do) and hands
    // it to the bridge. start() does it when not done yet; call it first to
    // tell bad keys (a configuration error) from sockets that cannot bind.
    // *error names the key and the file ("zmq.curve.secret_key_file:
    // /etc/proxy.key: cannot read: ...").
    bool loadKeys(QString *error);
    // Reads the backends' allowed keys again (SIGHUP): the new set applies to
    // connections from now on. On an error the keys in use stay, and
    // *error says why.
    bool reloadKeys(QString *error);
    // The proxy's CURVE public key (Z85) once loadKeys() read zmq.curve;
    // empty without it.
    QByteArray curvePublicKey() const { return m_curvePublicKey; }
    // Where the outgoing queues of its sessions and of its backend link
    // count (limits.max_queued_bytes_total); budget must outlive the
    // service. Call before start().
    void setQueueBudget(QueueBudget *budget);

    // Binds the ZeroMQ sockets.
    bool start(QString *error);

    // A request whose path is under the prefix; relativePath is the rest
    // ("" or starting with '/').
    void handleRequest(Connection *connection, const QByteArray &relativePath);
    // Whether an upgrade to relativePath should go to the WebSocket server.
    bool acceptsWebSocket(const QByteArray &relativePath) const;
    bool allowsOrigin(const QByteArray &origin) const { return m_origins.allows(origin); }
    // A WebSocket that completed its handshake on one of our URLs, from client
    // (Server::clientOf(); ClientAddress::direct() of the socket's peer when
    // there is no load balancer).
    void handleWebSocket(QWebSocket *socket, const QByteArray &relativePath, const ClientAddress &client);

    // A backend's disconnect data: empty, or {"code": 3000-4999, "reason":
    // up to 123 bytes of UTF-8} (reason optional, other keys ignored).
    // Returns false for anything else (*problem says why); code and reason
    // are then those of the default close, 3000 "Go away!".
    static bool parseCloseData(const QByteArray &data, int *code, QByteArray *reason, QString *problem);

    QList<Session *> sessions() const { return m_byBackendId.values(); }
    Session *sessionByBackendId(const QByteArray &id) const { return m_byBackendId.value(id); }
    qsizetype sessionCount() const { return m_byBackendId.size(); }

    // Queues a message for the session as if a backend had sent it (source:
    // who did, for the inspector). Returns false when it was dropped
    // (session closed or its queue full).
    bool deliverToSession(Session *session, const QByteArray &message,
                          SessionTraffic::Source source = SessionTraffic::Source::Backend);

    // The proxy shuts down: closes every session with code/reason (the
    // backend is told) and forgets them.
    void closeAll(int code, const QByteArray &reason);

    // Cluster (core/cluster). The router gets backend messages for sessions
    // this node does not hold and hears of every connect and disconnect;
    // null (the default): a single proxy.
    void setRouter(BackendRouter *router) { m_router = router; }
    // Sessions whose backends were told "connect" and not yet "disconnect".
    QList<QByteArray> openSessionIds() const;
    // What another node forwarded: handled here only, never sent on again;
    // a session that is not here is counted as unknown, as from a backend.
    void messageFromPeer(const QByteArray &sessionId, const QByteArray &data);
    // data: the backend's close data (empty or a JSON close code).
    void disconnectFromPeer(const QByteArray &sessionId, const QByteArray &data);
    void acceptFromPeer(const QByteArray &sessionId);
    // sessionIds empty: every open session of the service.
    void broadcastFromPeer(const QList<QByteArray> &sessionIds, const QByteArray &data);
    // Tells the backends that a session of a node that died has ended.
    void sendDisconnectForLostSession(const QByteArray &sessionId);

Q_SIGNALS:
    void sessionCreated(SockJsProxy::Session *session);
    void sessionRemoved(SockJsProxy::Session *session);
    // What passed on an inspected session (Session::setInspected).
    void traffic(const QByteArray &sessionId, const SockJsProxy::SessionTraffic &traffic);

protected:
    // SessionHost
    void sessionOpened(Session *session) override;
    void sessionMessages(Session *session, const QList<QByteArray> &messages) override;
    void sessionClosed(Session *session) override;
    void sessionExpired(Session *session) override;
    void sessionTraffic(Session *session, const SessionTraffic &traffic) override;
    void sessionAcceptTimedOut(Session *session) override;
    void scheduleFlush(Session *session) override;

private:
    struct Route;
    Route parseRoute(const QByteArray &relativePath) const;
    struct ConnectFacts;
    // The data of a session's "connect" with connect_info: one JSON object.
    QByteArray connectData(const ConnectFacts &facts) const;

    void handleGreeting(Connection *connection);
    void handleInfo(Connection *connection);
    void handleIframe(Connection *connection);
    void handleTransport(Connection *connection, const Route &route);
    void handleReceive(Connection *connection, const Route &route, const TransportInfo &transport);
    void handleSend(Connection *connection, const Route &route, const TransportInfo &transport);

    Session *createSession(const QByteArray &urlId, Session::Lifetime lifetime, const Session::ClientInfo &client);
    // Whether one more session from address fits max_sessions(_per_address).
    bool admitsSession(const QString &address);
    // 403 when the request's Origin is not allowed; true when it answered.
    bool refuseOrigin(Connection *connection);
    // 404, counted.
    void respondNotFound(Connection *connection);
    Session *findOrCreateHttpSession(const QByteArray &urlId, Connection *connection, const TransportInfo &transport);
    void onMessageFromBackend(const QByteArray &sessionId, const QByteArray &data);
    void onDisconnectFromBackend(const QByteArray &sessionId, const QByteArray &data);
    void onAcceptFromBackend(const QByteArray &sessionId);
    void onBroadcastFromBackend(const QByteArray &target, const QByteArray &data);
    // mayRoute: from a backend (a router may send it on), not from a peer.
    void handleMessage(const QByteArray &sessionId, const QByteArray &data, bool mayRoute);
    void handleDisconnect(const QByteArray &sessionId, const QByteArray &data, bool mayRoute);
    void handleAccept(const QByteArray &sessionId, bool mayRoute);
    void handleBroadcast(const QList<QByteArray> &sessionIds, const QByteArray &data, bool mayRoute);
    void flushScheduled();
    std::optional<QSet<QByteArray>> readAllowedKeys(QString *error) const;

    ServiceConfig m_config;
    ZmqBridge *m_bridge;
    Session::Options m_sessionOptions;
    QHash<QByteArray, Session *> m_byUrlId;     // HTTP sessions by the id in their URL
    QHash<QByteArray, Session *> m_byBackendId; // every live session
    std::vector<QPointer<Session>> m_flushQueue;
    bool m_flushScheduled = false;
    OriginPolicy m_origins;
    std::unique_ptr<Endpoints> m_endpoints; // greeting, /info, iframe, header sets
    QHash<QString, int> m_sessionsPerAddress;
    Counters m_counters;
    bool m_keysLoaded = false;
    QByteArray m_curvePublicKey;
    BackendRouter *m_router = nullptr;
    LogRateLimiter m_eventLog; // opens, closes and refusals at info, rate-limited
};

} // namespace SockJsProxy
