#pragma once

#include "config/config.h"

#include <QList>
#include <QObject>

#include <memory>

class QTcpServer;
class QWebSocketServer;

namespace SockJsProxy {

class Connection;
class Service;
class StaticFiles;
struct HttpRequest;

// The HTTP front door: accepts TCP connections, routes each request to a
// static mount (first), the built-in sockjs-client, or the SockJS service
// whose prefix matches (longest first), and hands WebSocket upgrades to
// QWebSocketServer with the handshake still unread in the socket.
//
// Owns the services (and so their sessions and ZeroMQ sockets) and every
// connection. One thread: everything runs on the Qt event loop.
class Server : public QObject
{
    Q_OBJECT

public:
    struct Counters
    {
        quint64 connectionsAccepted = 0;
        quint64 requests = 0;
        quint64 rejectedRequests = 0; // malformed, over a limit, too slow
        quint64 notFound = 0;
        quint64 webSocketUpgrades = 0;
    };

    explicit Server(const Config &config, QObject *parent = nullptr);
    ~Server() override;

    // Binds every service's ZeroMQ sockets, then the HTTP port. On failure
    // *error says what and where ("HTTP 0.0.0.0:8080: address in use").
    bool start(QString *error);
    quint16 httpPort() const;
    const Config &config() const { return m_config; }
    const QList<Service *> &services() const { return m_services; }
    const Counters &counters() const { return m_counters; }

    // Stops accepting, closes every session with a close frame (backends get
    // "disconnect") and then every connection.
    void shutdown();

private:
    void onNewConnection();
    void onRequest(Connection *connection);
    bool onUpgradeRequest(Connection *connection, const HttpRequest &head);
    void onNewWebSocket();
    Service *serviceFor(const QByteArray &path, QByteArray *relativePath) const;

    Config m_config;
    QTcpServer *m_tcpServer;
    QWebSocketServer *m_webSocketServer;
    QList<Service *> m_services; // children; sorted by prefix length, longest first
    std::vector<std::unique_ptr<StaticFiles>> m_statics;
    Counters m_counters;
};

} // namespace SockJsProxy
