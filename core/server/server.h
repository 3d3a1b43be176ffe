#pragma once

#include "base/counters.h"
#include "config/config.h"

#include <QByteArrayView>
#include <QList>
#include <QObject>

#include <memory>
#include <vector>

class QTcpServer;
class QWebSocketServer;

namespace SockJsProxy {

class Cluster;
class Connection;
class Service;
class StaticFiles;
struct HttpRequest;

// The HTTP front door: accepts TCP connections, routes each request to a
// static mount (first), the built-in sockjs-client, or the SockJS service
// whose prefix matches (longest first), and hands WebSocket upgrades to
// QWebSocketServer with the handshake still unread in the socket. The same
// routing chooses the HTTP limits of each request once its request line is
// in: a service's own (services[].limits), else the top-level ones.
//
// Owns the services (and so their sessions and ZeroMQ sockets) and every
// connection. One thread: everything runs on the Qt event loop.
class Server : public QObject
{
    Q_OBJECT

public:
    explicit Server(const Config &config, QObject *parent = nullptr);
    ~Server() override;

    // Binds every service's ZeroMQ sockets, then the HTTP port. On failure
    // *error says what and where ("HTTP 0.0.0.0:8080: address in use").
    // Logs nothing: what listens is said once everything is (ProxyInstance).
    bool start(QString *error);
    quint16 httpPort() const;
    const Config &config() const { return m_config; }
    const QList<Service *> &services() const { return m_services; }
    // Counters of CounterScope::Server (base/counters.h).
    const Counters &counters() const { return m_counters; }
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

private:
    struct Route
    {
        QByteArray prefix; // UTF-8 of the service's prefix
        Service *service;
        HttpParser::Limits limits;
    };

    void onNewConnection();
    void onRequest(Connection *connection);
    bool onUpgradeRequest(Connection *connection, const HttpRequest &head);
    void onNewWebSocket();
    // The one prefix match of the routing (longest prefix first); null when
    // no service's prefix covers path.
    const Route *routeFor(QByteArrayView path) const;
    Service *serviceFor(const QByteArray &path, QByteArray *relativePath) const;

    Config m_config;
    QTcpServer *m_tcpServer;
    QWebSocketServer *m_webSocketServer;
    QList<Service *> m_services;        // children; sorted by prefix length, longest first
    std::vector<Route> m_routes;        // one per service, in the order of m_services
    qsizetype m_largestHeaderBytes = 0; // of the top-level limits and every service's
    std::vector<std::unique_ptr<StaticFiles>> m_statics;
    Counters m_counters;
    std::unique_ptr<Cluster> m_cluster; // uses m_counters and the services
};

} // namespace SockJsProxy
