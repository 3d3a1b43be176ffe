#include "server.h"

#include "base/logging.h"
#include "cluster/cluster.h"
#include "http/connection.h"
#include "sockjs/node.h"
#include "sockjs/service.h"
#include "sockjsproxy_version.h"
#include "staticfiles.h"
#include "zmq/zmqbridge.h"

#include <QTcpServer>
#include <QTcpSocket>
#include <QWebSocket>
#include <QWebSocketServer>

#include <algorithm>

namespace SockJsProxy {

Server::Server(const Config &config, QObject *parent)
    : QObject(parent), m_config(config), m_tcpServer(new QTcpServer(this)),
      m_webSocketServer(new QWebSocketServer(QStringLiteral("SockJSProxy/" SOCKJSPROXY_VERSION),
                                             QWebSocketServer::NonSecureMode, this))
{
    // Before the first session id is drawn: ids name their node.
    if (m_config.cluster.enabled)
        Node::setLocalName(m_config.cluster.node.toLatin1());
    for (const ServiceConfig &serviceConfig : m_config.services)
        m_services.append(new Service(serviceConfig, this));
    if (m_config.cluster.enabled) {
        m_cluster = std::make_unique<Cluster>(m_config.cluster, Node::localName(), Node::incarnation(), &m_counters);
        for (Service *service : std::as_const(m_services))
            m_cluster->addService(service);
    }
    std::stable_sort(m_services.begin(), m_services.end(),
                     [](const Service *a, const Service *b) { return a->prefix().size() > b->prefix().size(); });
    // Prefixes and limits resolved once: the parser asks for every request.
    m_largestHeaderBytes = m_config.http.limits.maxHeaderBytes;
    for (Service *service : std::as_const(m_services)) {
        const HttpParser::Limits limits = service->config().httpLimits(m_config.http.limits);
        m_routes.push_back({service->prefix().toUtf8(), service, limits});
        m_largestHeaderBytes = qMax(m_largestHeaderBytes, limits.maxHeaderBytes);
    }

    m_statics.push_back(
        std::make_unique<StaticFiles>(QStringLiteral("/sockjs-client"), QStringLiteral(":/sockjsproxy")));
    for (const StaticMount &mount : m_config.statics)
        m_statics.push_back(std::make_unique<StaticFiles>(mount.url, mount.path, mount.followSymlinks));

    m_tcpServer->setMaxPendingConnections(1024);
    m_webSocketServer->setMaxPendingConnections(1024);
    connect(m_tcpServer, &QTcpServer::newConnection, this, &Server::onNewConnection);
    connect(m_webSocketServer, &QWebSocketServer::newConnection, this, &Server::onNewWebSocket);
}

Server::~Server()
{
    // The cluster first: it routes for the services.
    m_cluster.reset();
    // Services first: their sessions hold receivers owned by connections.
    m_routes.clear();
    qDeleteAll(m_services);
    m_services.clear();
}

bool Server::start(QString *error)
{
    for (Service *service : std::as_const(m_services)) {
        QString zmqError;
        if (!service->start(&zmqError)) {
            *error = QStringLiteral("service %1: ZeroMQ %2").arg(service->prefix(), zmqError);
            return false;
        }
    }
    if (m_cluster && !m_cluster->start(error))
        return false;
    const QHostAddress address(m_config.httpAddress);
    if (address.isNull()) {
        *error = QStringLiteral("HTTP address \"%1\" is not an IP address").arg(m_config.httpAddress);
        return false;
    }
    if (!m_tcpServer->listen(address, m_config.httpPort)) {
        *error = QStringLiteral("HTTP %1:%2: %3")
                     .arg(m_config.httpAddress)
                     .arg(m_config.httpPort)
                     .arg(m_tcpServer->errorString());
        return false;
    }
    return true;
}

quint16 Server::httpPort() const { return m_tcpServer->serverPort(); }

void Server::onNewConnection()
{
    while (QTcpSocket *socket = m_tcpServer->nextPendingConnection()) {
        ++m_counters[Counter::ConnectionsAccepted];
        auto *connection = new Connection(socket, m_config.http, this);
        connect(connection, &Connection::requestReceived, this, &Server::onRequest);
        connect(connection, &Connection::requestRejected, this, [this] { ++m_counters[Counter::HttpRejected]; });
        connection->setUpgradeHandler(
            [this](Connection *c, const HttpRequest &head) { return onUpgradeRequest(c, head); });
        connection->setLimitsLookup([this](QByteArrayView path) { return limitsFor(path); }, m_largestHeaderBytes);
    }
}

const Server::Route *Server::routeFor(QByteArrayView path) const
{
    for (const Route &route : m_routes) {
        if (pathUnderPrefix(path, route.prefix))
            return &route;
    }
    return nullptr;
}

Service *Server::serviceFor(const QByteArray &path, QByteArray *relativePath) const
{
    const Route *route = routeFor(path);
    if (!route)
        return nullptr;
    *relativePath = route->prefix == "/" ? path : path.mid(route->prefix.size());
    return route->service;
}

HttpParser::Limits Server::limitsFor(QByteArrayView path) const
{
    // Routed as onRequest() does: static mounts come first and, like paths
    // of no service, get the top-level limits.
    for (const auto &statics : m_statics) {
        if (statics->matches(path))
            return m_config.http.limits;
    }
    const Route *route = routeFor(path);
    return route ? route->limits : m_config.http.limits;
}

void Server::onRequest(Connection *connection)
{
    ++m_counters[Counter::HttpRequests];
    const HttpRequest &request = connection->request();
    qCDebug(lcHttp).noquote() << connection->peerAddress().toString() << QString::fromLatin1(request.method)
                              << QString::fromLatin1(request.target);
    for (const auto &statics : m_statics) {
        if (statics->matches(request.path))
            return statics->serve(connection);
    }
    QByteArray relativePath;
    if (Service *service = serviceFor(request.path, &relativePath))
        return service->handleRequest(connection, relativePath);
    ++m_counters[Counter::HttpNotFound];
    connection->respond(HttpResponse::text(404, "Not found"));
}

bool Server::onUpgradeRequest(Connection *connection, const HttpRequest &head)
{
    if (!head.headerHasToken("Upgrade", "websocket") || !head.headerHasToken("Connection", "upgrade"))
        return false; // answered as plain HTTP (400 on WebSocket URLs)
    QByteArray relativePath;
    Service *service = serviceFor(head.path, &relativePath);
    if (!service || !service->acceptsWebSocket(relativePath))
        return false;
    if (!service->allowsOrigin(head.header("Origin")))
        return false; // answered 403 as plain HTTP
    QTcpSocket *socket = connection->detachSocket();
    if (!socket)
        return false;
    ++m_counters[Counter::WebSocketUpgrades];
    // Parented to the server while QWebSocketServer reads the handshake, so
    // that a socket whose handshake never completes is still freed with us.
    socket->setParent(this);
    m_webSocketServer->handleConnection(socket);
    return true;
}

void Server::onNewWebSocket()
{
    while (QWebSocket *socket = m_webSocketServer->nextPendingConnection()) {
        socket->setParent(this);
        const QByteArray path = socket->requestUrl().path(QUrl::FullyEncoded).toUtf8();
        QByteArray relativePath;
        Service *service = serviceFor(path, &relativePath);
        if (!service || !service->acceptsWebSocket(relativePath)) {
            socket->close(QWebSocketProtocol::CloseCodePolicyViolated, QStringLiteral("No such endpoint"));
            socket->deleteLater();
            continue;
        }
        service->handleWebSocket(socket, relativePath);
    }
}

void Server::shutdown()
{
    m_tcpServer->close();
    for (Service *service : std::as_const(m_services)) {
        service->closeAll(1001, QByteArrayLiteral("Server is shutting down"));
        // Closing a backend socket may then spend this long delivering the
        // last "disconnect"s; a dead backend never holds the exit up longer.
        service->bridge()->setShutdownLinger(m_config.shutdownTimeoutMs);
    }
    if (m_cluster)
        m_cluster->shutdown(m_config.shutdownTimeoutMs);
    const auto connections = findChildren<Connection *>(QString(), Qt::FindDirectChildrenOnly);
    for (Connection *connection : connections)
        connection->close();
}

} // namespace SockJsProxy
