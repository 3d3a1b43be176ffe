#pragma once

#include "base/counters.h"
#include "base/lograte.h"
#include "config/config.h"
#include "http/originpolicy.h"
#include "session.h"

#include <QHash>
#include <QObject>
#include <QPointer>

#include <memory>
#include <vector>

class QWebSocket;

namespace SockJsProxy {

class Connection;
class Endpoints;
struct HttpResponse;
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

    // Binds the ZeroMQ sockets.
    bool start(QString *error);

    // A request whose path is under the prefix; relativePath is the rest
    // ("" or starting with '/').
    void handleRequest(Connection *connection, const QByteArray &relativePath);
    // Whether an upgrade to relativePath should go to the WebSocket server.
    bool acceptsWebSocket(const QByteArray &relativePath) const;
    bool allowsOrigin(const QByteArray &origin) const { return m_origins.allows(origin); }
    // A WebSocket that completed its handshake on one of our URLs.
    void handleWebSocket(QWebSocket *socket, const QByteArray &relativePath);

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
    void scheduleFlush(Session *session) override;

private:
    struct Route;
    Route parseRoute(const QByteArray &relativePath) const;

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
    Session *findOrCreateHttpSession(const QByteArray &urlId, Connection *connection);
    void onMessageFromBackend(const QByteArray &sessionId, const QByteArray &data);
    void onDisconnectFromBackend(const QByteArray &sessionId);
    void flushScheduled();

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
    LogRateLimiter m_eventLog; // opens, closes and refusals at info, rate-limited
};

} // namespace SockJsProxy
