#pragma once

#include "base/counters.h"
#include "base/logthrottle.h"
#include "config/config.h"

#include <QByteArrayView>
#include <QHash>
#include <QList>
#include <QObject>

#include <memory>
#include <vector>

class QTcpServer;
class QTcpSocket;
class QWebSocket;
class QWebSocketServer;

namespace SockJsProxy {

class Cluster;
class Connection;
class Listener;
class QueueBudget;
class Service;
class TlsAcceptor;
class StaticFiles;
struct HttpRequest;

// The HTTP front door: accepts TCP connections, routes each request to a
// static mount (first), the built-in sockjs-client, or the SockJS service
// whose prefix matches (longest first), and hands WebSocket upgrades to
// QWebSocketServer with the handshake still unread in the socket. The same
// routing chooses the HTTP limits of each request once its request line is
// in: a service's own (services[].limits), else the top-level ones.
//
// Behind load balancers (http.trusted_proxies, http.proxy_protocol) every
// request and WebSocket is attributed to its real client (Connection::client(),
// clientOf()); with the PROXY protocol, connections from untrusted peers are
// closed unread.
//
// Holds client connections to max_connections and
// max_connections_per_address (Config::resources): the Listener refuses
// the rest, and keeps accepting sanely when descriptors run out.
//
// Holds the sum of all outgoing queues to limits.max_queued_bytes_total:
// past it, the sessions with the largest queues lose them and are closed
// with 1013 "Outgoing queue full" (backends get "disconnect"), largest
// first, until the sum is back at seven eighths of the limit.
//
// Owns the services (and so their sessions and ZeroMQ sockets) and every
// connection. One thread: everything runs on the Qt event loop.
class Server : public QObject
{
    Q_OBJECT

public:
    explicit Server(const Config &config, QObject *parent = nullptr);
    ~Server() override;

    // Reads every service's key material (zmq.curve) and the TLS
    // certificate and key (http.tls). start() does it when not done yet;
    // call it first to tell bad keys, a configuration error, from ports that
    // cannot be bound. *error names the service or "http.tls", the key and
    // the file.
    bool loadKeys(QString *error);
    // Re-reads what may change while running (on SIGHUP): each service's
    // allowed backend keys, and the TLS certificate and key (for the
    // connections that come next; those open keep theirs). Logs what it
    // did; what cannot be read is not replaced. False when one could not.
    bool reloadKeys();

    // Binds every service's ZeroMQ sockets, then the HTTP port. On failure
    // *error says what and where ("HTTP 0.0.0.0:8080: address in use").
    // Logs nothing: what listens is said once everything is (ProxyInstance).
    // max_connections, unless configured, is derived from the open files
    // limit in force now (see applyOpenFilesLimit()).
    bool start(QString *error);
    quint16 httpPort() const;
    // Null without http.tls, and until loadKeys().
    TlsAcceptor *tls() const { return m_tls; }
    const Config &config() const { return m_config; }
    const QList<Service *> &services() const { return m_services; }
    // Counters of CounterScope::Server (base/counters.h), the HTTP port's
    // listener's included.
    const Counters &counters() const { return m_counters; }
    // The same, for what counts whole-process rows outside the Server: the
    // control endpoint's listener (Listener::setCounters()).
    Counters &processCounters() { return m_counters; }

    // Client connections open on the HTTP port, and the limits in force.
    int openConnections() const;
    int maxConnections() const;
    int maxConnectionsPerAddress() const;
    // How start() set the connection limits, for the start-up log lines
    // ("at most 112 client connections (...), 256 per address").
    const QString &connectionLimitsNote() const { return m_connectionLimitsNote; }
    // Bytes in every outgoing queue (sessions' and backend links'), against
    // limits.max_queued_bytes_total.
    const QueueBudget &queueBudget() const { return *m_queueBudget; }
    // The node's cluster (config "cluster"); null for a single proxy.
    Cluster *cluster() const { return m_cluster.get(); }

    // Stops accepting, closes every session with a close frame (backends get
    // "disconnect") and then every connection. Closing the ZeroMQ sockets
    // afterwards may take up to Config::shutdownTimeoutMs to deliver what
    // they still hold.
    void shutdown();

    // The header, count and body limits of a request for path (not decoded):
    // those of the service it is routed to, else the top-level ones.
    HttpParser::Limits limitsFor(QByteArrayView path) const;

    // The client of a WebSocket this server handed to QWebSocketServer: as
    // its Connection resolved it from the PROXY header and the upgrade
    // request's forwarding headers; the TCP peer when not known.
    ClientAddress clientOf(const QWebSocket *socket) const;

private:
    struct Route
    {
        QByteArray prefix; // UTF-8 of the service's prefix
        Service *service;
        HttpParser::Limits limits;
    };

    void onNewConnection(QTcpSocket *socket);
    // proxyHeader: the one read before the TLS handshake, if any.
    void addConnection(QTcpSocket *socket, const ProxyProtocolDecoder::Header *proxyHeader = nullptr);
    void onRequest(Connection *connection);
    bool onUpgradeRequest(Connection *connection, const HttpRequest &head);
    void onNewWebSocket();
    // Counts and logs (rate-limited) a request served as from its proxy.
    void onForwardingMalformed(Connection *connection, const QByteArray &reason);
    // Logs (rate-limited) why a connection was closed for the PROXY protocol.
    void onProxyHeaderRefused(const ClientAddress &peer, const QByteArray &reason);
    void onQueueBudgetOver();
    // The one prefix match of the routing (longest prefix first); null when
    // no service's prefix covers path.
    const Route *routeFor(QByteArrayView path) const;
    Service *serviceFor(const QByteArray &path, QByteArray *relativePath) const;

    Config m_config;
    Listener *m_listener;
    QueueBudget *m_queueBudget; // child; outlives the services (~Server deletes them first)
    TlsAcceptor *m_tls = nullptr;
    QWebSocketServer *m_webSocketServer;
    QList<Service *> m_services;        // children; sorted by prefix length, longest first
    std::vector<Route> m_routes;        // one per service, in the order of m_services
    qsizetype m_largestHeaderBytes = 0; // of the top-level limits and every service's
    std::vector<std::unique_ptr<StaticFiles>> m_statics;
    Counters m_counters;
    // Clients of upgrades handed to QWebSocketServer whose handshake has not
    // come out of nextPendingConnection() yet, by TCP endpoints; only kept
    // when there are trusted proxies (otherwise the client is the TCP peer).
    struct PendingClient
    {
        const QTcpSocket *socket; // identity only: a later connection may reuse the endpoints
        ClientAddress client;
    };
    QHash<QString, PendingClient> m_pendingWebSocketClients;
    LogThrottle m_forwardingLog;
    LogThrottle m_proxyProtocolLog;
    QString m_connectionLimitsNote;
    std::unique_ptr<Cluster> m_cluster; // uses m_counters and the services
};

} // namespace SockJsProxy
