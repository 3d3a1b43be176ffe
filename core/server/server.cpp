#include "server.h"

#include "base/logging.h"
#include "base/openfiles.h"
#include "base/queuebudget.h"
#include "cluster/cluster.h"
#include "http/connection.h"
#include "http/listener.h"
#include "http/tlsacceptor.h"
#include "sockjs/node.h"
#include "sockjs/service.h"
#include "sockjsproxy_version.h"
#include "staticfiles.h"
#include "zmq/zmqbridge.h"

#include <QPointer>
#include <QSslSocket>
#include <QTcpSocket>
#include <QWebSocket>
#include <QWebSocketServer>

#include <algorithm>

namespace SockJsProxy {

namespace {
// A live TCP connection is the only one with its four endpoints.
QString endpointsKey(const QHostAddress &peer, quint16 peerPort, const QHostAddress &local, quint16 localPort)
{
    return peer.toString() + QLatin1Char('|') + QString::number(peerPort) + QLatin1Char('|') + local.toString()
           + QLatin1Char('|') + QString::number(localPort);
}

Counter proxyRefusalCounter(Connection::ProxyRefusal refusal)
{
    switch (refusal) {
    case Connection::ProxyRefusal::Missing:
        return Counter::ProxyRefusedMissing;
    case Connection::ProxyRefusal::Malformed:
        return Counter::ProxyRefusedMalformed;
    case Connection::ProxyRefusal::Incomplete:
        break;
    }
    return Counter::ProxyRefusedIncomplete;
}
} // namespace

Server::Server(const Config &config, QObject *parent)
    : QObject(parent), m_config(config),
      m_listener(new Listener(QStringLiteral("HTTP"),
                              {Counter::AcceptErrorsHttp, Counter::AcceptPausesHttp, Counter::AcceptRefusedHttp},
                              this)),
      m_queueBudget(new QueueBudget(config.resources.maxQueuedBytesTotal, this)),
      m_webSocketServer(new QWebSocketServer(QStringLiteral("SockJSProxy/" SOCKJSPROXY_VERSION),
                                             QWebSocketServer::NonSecureMode, this))
{
    // Before the first session id is drawn: ids name their node.
    if (m_config.cluster.enabled)
        Node::setLocalName(m_config.cluster.node.toLatin1());
    for (const ServiceConfig &serviceConfig : m_config.services) {
        m_services.append(new Service(serviceConfig, this));
        m_services.last()->setQueueBudget(m_queueBudget);
    }
    // Queued: it fires from inside the queue that grew.
    connect(m_queueBudget, &QueueBudget::overLimit, this, &Server::onQueueBudgetOver, Qt::QueuedConnection);
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

    m_listener->setCounters(&m_counters);
    m_listener->setTlsSockets(m_config.tls.has_value()); // for m_tls, which loadKeys() makes
    m_webSocketServer->setMaxPendingConnections(1024);
    connect(m_listener, &Listener::connectionAccepted, this, &Server::onNewConnection);
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

bool Server::loadKeys(QString *error)
{
    if (m_config.tls && !m_tls) {
        const std::optional<TlsCredentials> credentials = TlsCredentials::load(*m_config.tls, error);
        if (!credentials) {
            *error = QStringLiteral("http.tls: ") + *error;
            return false;
        }
        // The handshake is part of the first request: it gets the same time.
        m_tls = new TlsAcceptor(*credentials, m_config.http.requestTimeoutMs, this);
        // With proxy_protocol the header comes before the ClientHello: the
        // acceptor reads it, and the Connection is told what it said.
        m_tls->setProxyProtocol(m_config.http.proxyProtocol);
        connect(m_tls, &TlsAcceptor::encrypted, this,
                [this](QSslSocket *socket, const ProxyProtocolDecoder::Header *proxyHeader) {
                    addConnection(socket, proxyHeader);
                });
        connect(m_tls, &TlsAcceptor::proxyHeaderRefused, this,
                [this](Connection::ProxyRefusal refusal, const QByteArray &reason, const QHostAddress &peer,
                       quint16 peerPort) {
                    ++m_counters[proxyRefusalCounter(refusal)];
                    onProxyHeaderRefused(ClientAddress::direct(peer, peerPort), reason);
                });
        connect(m_tls, &TlsAcceptor::handshakeFailed, this, [this] { ++m_counters[Counter::TlsHandshakeFailures]; });
        connect(m_tls, &TlsAcceptor::handshakeTimedOut, this, [this] { ++m_counters[Counter::TlsHandshakeTimeouts]; });
    }
    for (Service *service : std::as_const(m_services)) {
        QString keyError;
        if (!service->loadKeys(&keyError)) {
            *error = QStringLiteral("service %1: %2").arg(service->prefix(), keyError);
            return false;
        }
    }
    return true;
}

bool Server::reloadKeys()
{
    bool ok = true;
    for (Service *service : std::as_const(m_services)) {
        QString keyError;
        if (!service->reloadKeys(&keyError)) {
            qCWarning(lcServer).noquote()
                << "service" << service->prefix() << "- keys not reloaded, those in use stay:" << keyError;
            ok = false;
        }
    }
    if (m_tls) {
        QString tlsError;
        if (m_tls->reload(&tlsError)) {
            qCInfo(lcServer).noquote() << "http.tls: certificate" << m_tls->credentials().files().certificate
                                       << "and its key reloaded; new connections get them";
        } else {
            qCWarning(lcServer).noquote() << "http.tls: not reloaded, the certificate and key in use stay:" << tlsError;
            ok = false;
        }
    }
    return ok;
}

bool Server::start(QString *error)
{
    if (!loadKeys(error))
        return false;
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
    // Decided now, after the open files limit was set at start-up.
    const ResourceLimits &resources = m_config.resources;
    const qint64 openFiles = openFilesLimit().soft;
    const int maxConnections = resources.maxConnections > 0
                                   ? resources.maxConnections
                                   : ConnectionLimits::defaultMaxConnections(openFiles, int(m_services.size()));
    m_listener->setConnectionLimits(maxConnections, resources.maxConnectionsPerAddress);
    m_listener->setSharedPeers(m_config.http.trustedProxies);
    QString listenError;
    if (!m_listener->listen(address, m_config.httpPort, &listenError)) {
        *error = QStringLiteral("HTTP %1:%2: %3").arg(m_config.httpAddress).arg(m_config.httpPort).arg(listenError);
        return false;
    }
    const QString derivation =
        resources.maxConnections > 0 ? QStringLiteral("limits.max_connections")
        : openFiles > 0
            ? QStringLiteral("the open files limit %1 less %2 reserved").arg(openFiles).arg(openFiles - maxConnections)
            : QStringLiteral("no open files limit known");
    m_connectionLimitsNote =
        QStringLiteral("at most %1 client connections (%2), %3 per address")
            .arg(maxConnections)
            .arg(derivation)
            .arg(resources.maxConnectionsPerAddress > 0 ? QString::number(resources.maxConnectionsPerAddress)
                                                        : QStringLiteral("any number"));
    return true;
}

quint16 Server::httpPort() const { return m_listener->serverPort(); }

int Server::openConnections() const { return m_listener->openConnections(); }

int Server::maxConnections() const { return m_listener->connectionLimits().maxTotal(); }

int Server::maxConnectionsPerAddress() const { return m_listener->connectionLimits().maxPerAddress(); }

void Server::onNewConnection(QTcpSocket *socket)
{
    ++m_counters[Counter::ConnectionsAccepted];
    if (socket->peerAddress().isNull()) {
        // Gone before it was looked at (a balancer's TCP health check):
        // nobody to answer, and no peer to call untrusted.
        socket->abort();
        socket->deleteLater();
        return;
    }
    if (m_config.http.proxyProtocol && !m_config.http.trustedProxies.contains(socket->peerAddress())) {
        // Not a word is read from a peer that may not speak for others.
        ++m_counters[Counter::ProxyRefusedUntrustedPeer];
        onProxyHeaderRefused(ClientAddress::direct(socket->peerAddress(), socket->peerPort()),
                             "peer is not in http.trusted_proxies");
        socket->abort();
        socket->deleteLater();
        return;
    }
    if (m_tls)
        m_tls->handshake(static_cast<QSslSocket *>(socket)); // addConnection() once encrypted
    else
        addConnection(socket);
}

void Server::addConnection(QTcpSocket *socket, const ProxyProtocolDecoder::Header *proxyHeader)
{
    Connection::Options options = m_config.http;
    if (proxyHeader)
        options.proxyProtocol = false; // read already, before the TLS handshake
    auto *connection = new Connection(socket, options, this);
    if (proxyHeader) {
        connection->setProxyHeader(*proxyHeader);
        ++m_counters[Counter::ProxyHeadersAccepted];
    }
    connect(connection, &Connection::requestReceived, this, &Server::onRequest);
    connect(connection, &Connection::requestRejected, this, [this] { ++m_counters[Counter::HttpRejected]; });
    if (!m_config.http.trustedProxies.isEmpty()) {
        connect(connection, &Connection::forwardingMalformed, this,
                [this, connection](const QByteArray &reason) { onForwardingMalformed(connection, reason); });
    }
    if (m_config.http.proxyProtocol) {
        connect(connection, &Connection::proxyHeaderAccepted, this,
                [this] { ++m_counters[Counter::ProxyHeadersAccepted]; });
        connect(connection, &Connection::proxyHeaderRefused, this,
                [this, connection](Connection::ProxyRefusal refusal, const QByteArray &reason) {
                    ++m_counters[proxyRefusalCounter(refusal)];
                    onProxyHeaderRefused(connection->client(), reason);
                });
    }
    connection->setUpgradeHandler([this](Connection *c, const HttpRequest &head) { return onUpgradeRequest(c, head); });
    connection->setLimitsLookup([this](QByteArrayView path) { return limitsFor(path); }, m_largestHeaderBytes);
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
    qCDebug(lcHttp).noquote() << connection->client().toString() << QString::fromLatin1(request.method)
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
    if (!m_config.http.trustedProxies.isEmpty()) {
        // QWebSocket does not show its QTcpSocket; the endpoints are the link.
        const QString key =
            endpointsKey(socket->peerAddress(), socket->peerPort(), socket->localAddress(), socket->localPort());
        m_pendingWebSocketClients.insert(key, {socket, connection->client()});
        connect(socket, &QObject::destroyed, this, [this, key, socket] {
            const auto it = m_pendingWebSocketClients.constFind(key);
            if (it != m_pendingWebSocketClients.cend() && it->socket == socket)
                m_pendingWebSocketClients.erase(it);
        });
    }
    m_webSocketServer->handleConnection(socket);
    return true;
}

void Server::onNewWebSocket()
{
    while (QWebSocket *socket = m_webSocketServer->nextPendingConnection()) {
        socket->setParent(this);
        const QByteArray path = socket->requestUrl().path(QUrl::FullyEncoded).toUtf8();
        const ClientAddress client = clientOf(socket);
        m_pendingWebSocketClients.remove(
            endpointsKey(socket->peerAddress(), socket->peerPort(), socket->localAddress(), socket->localPort()));
        QByteArray relativePath;
        Service *service = serviceFor(path, &relativePath);
        if (!service || !service->acceptsWebSocket(relativePath)) {
            socket->close(QWebSocketProtocol::CloseCodePolicyViolated, QStringLiteral("No such endpoint"));
            socket->deleteLater();
            continue;
        }
        service->handleWebSocket(socket, relativePath, client);
    }
}

ClientAddress Server::clientOf(const QWebSocket *socket) const
{
    const auto it = m_pendingWebSocketClients.constFind(
        endpointsKey(socket->peerAddress(), socket->peerPort(), socket->localAddress(), socket->localPort()));
    if (it != m_pendingWebSocketClients.cend())
        return it->client;
    return ClientAddress::direct(socket->peerAddress(), socket->peerPort());
}

namespace {
QString suppressedNote(quint64 suppressed)
{
    return suppressed ? QStringLiteral(" (%1 more since the last such line)").arg(suppressed) : QString();
}
} // namespace

void Server::onForwardingMalformed(Connection *connection, const QByteArray &reason)
{
    ++m_counters[Counter::ForwardedMalformed];
    quint64 suppressed = 0;
    if (!m_forwardingLog.allow(&suppressed))
        return;
    qCWarning(lcHttp).noquote() << QStringLiteral("request from trusted proxy %1 served as from the proxy: "
                                                  "malformed %2%3")
                                       .arg(connection->client().toString(), QString::fromLatin1(reason),
                                            suppressedNote(suppressed));
}

void Server::onProxyHeaderRefused(const ClientAddress &peer, const QByteArray &reason)
{
    quint64 suppressed = 0;
    if (!m_proxyProtocolLog.allow(&suppressed))
        return;
    qCWarning(lcHttp).noquote() << QStringLiteral("connection from %1 closed: PROXY protocol: %2%3")
                                       .arg(peer.toString(), QString::fromLatin1(reason), suppressedNote(suppressed));
}

void Server::onQueueBudgetOver()
{
    const qint64 before = m_queueBudget->total();
    const qint64 lowWater = m_queueBudget->lowWater();
    if (before <= lowWater)
        return; // drained meanwhile
    std::vector<std::pair<qint64, QPointer<Session>>> queues;
    for (const Service *service : std::as_const(m_services)) {
        const QList<Session *> sessions = service->sessions();
        for (Session *session : sessions) {
            if (session->queuedBytes() > 0)
                queues.emplace_back(session->queuedBytes(), session);
        }
    }
    std::sort(queues.begin(), queues.end(), [](const auto &a, const auto &b) { return a.first > b.first; });
    int closed = 0;
    for (const auto &[bytes, session] : queues) {
        if (m_queueBudget->total() <= lowWater)
            break;
        if (!session)
            continue;
        // The client cannot keep up: what it has not read goes, the close
        // frame alone follows.
        session->dropQueue();
        if (session->state() != Session::State::Closed) {
            session->close(1013, QByteArrayLiteral("Outgoing queue full"), Session::CloseOrigin::Limit);
            ++closed;
        }
    }
    m_counters[Counter::SessionsClosedQueueBudget] += quint64(closed);
    qCWarning(lcServer).noquote()
        << QStringLiteral("outgoing queues hold %1 bytes, over limits.max_queued_bytes_total %2: closed %3 "
                          "session(s) with the largest queues, %4 bytes left queued")
               .arg(before)
               .arg(m_queueBudget->limit())
               .arg(closed)
               .arg(m_queueBudget->total());
}

void Server::shutdown()
{
    m_listener->close();
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
