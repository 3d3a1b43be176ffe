#include "service.h"

#include "base/logging.h"
#include "endpoints.h"
#include "frames.h"
#include "http/connection.h"
#include "jsoncodec.h"
#include "transports/registry.h"
#include "transports/transport.h"
#include "transports/websocket.h"
#include "zmq/zmqbridge.h"

#include <QRandomGenerator>
#include <QWebSocket>

namespace SockJsProxy {

namespace {

constexpr qsizetype kMaxCallbackLength = 64;

// Backend session ids: a random tag per process and a counter, so an id is
// never reused within a process and is unlikely to meet one of an earlier run.
QByteArray nextBackendId()
{
    static const QByteArray tag =
        QByteArray::number(QRandomGenerator::system()->generate() % (36u * 36 * 36 * 36 * 36), 36)
            .rightJustified(5, '0');
    static quint64 counter = 0;
    return tag + '-' + QByteArray::number(++counter, 36);
}

bool isValidCallback(const QByteArray &callback)
{
    for (char c : callback) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
                        || c == '_' || c == '.';
        if (!ok)
            return false;
    }
    return true;
}

// Session URL segments: non-empty, no '.' (and no '/', by splitting).
bool isValidSegment(const QByteArray &segment) { return !segment.isEmpty() && !segment.contains('.'); }

bool isIframePath(const QByteArray &path)
{
    if (!path.startsWith("/iframe") || !path.endsWith(".html"))
        return false;
    for (qsizetype i = 7; i < path.size() - 5; ++i) {
        const char c = path.at(i);
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

} // namespace

struct Service::Route
{
    enum class Kind { Greeting, Info, Iframe, Transport, NotFound } kind = Kind::NotFound;
    QByteArray sessionId;                     // empty for transports at {prefix}/NAME
    const TransportInfo *transport = nullptr; // Transport: null for an unknown name
};

Service::Service(const ServiceConfig &config, QObject *parent)
    : QObject(parent), m_config(config),
      m_bridge(new ZmqBridge(config.zmqIn, config.zmqOut, config.zmqQueueLimit, this)), m_origins(config.origins),
      m_endpoints(std::make_unique<Endpoints>(config)),
      m_eventLog(lcSession, QStringLiteral("session events of %1 (opens, closes, refusals)").arg(config.prefix))
{
    m_sessionOptions.heartbeatDelayMs = config.heartbeatDelayMs;
    m_sessionOptions.disconnectDelayMs = config.disconnectDelayMs;
    m_sessionOptions.maxQueuedMessages = config.maxQueuedMessages;
    m_sessionOptions.maxQueuedBytes = config.maxQueuedBytes;

    connect(m_bridge, &ZmqBridge::messageFromBackend, this, &Service::onMessageFromBackend);
    connect(m_bridge, &ZmqBridge::disconnectFromBackend, this, &Service::onDisconnectFromBackend);
}

Service::~Service()
{
    // Sessions are children; make sure none calls back into a half-destroyed service.
    const auto sessions = m_byBackendId.values();
    for (Session *session : sessions)
        delete session;
}

bool Service::start(QString *error) { return m_bridge->start(error); }

Service::Route Service::parseRoute(const QByteArray &path) const
{
    Route route;
    if (path.isEmpty() || path == "/") {
        route.kind = Route::Kind::Greeting;
    } else if (path == "/info") {
        route.kind = Route::Kind::Info;
    } else if (const TransportInfo *transport = TransportRegistry::find(path.mid(1), TransportInfo::Path::Service)) {
        route.kind = Route::Kind::Transport;
        route.transport = transport;
    } else if (isIframePath(path)) {
        route.kind = Route::Kind::Iframe;
    } else {
        const QList<QByteArray> segments = path.mid(1).split('/');
        if (segments.size() == 3 && isValidSegment(segments.at(0)) && isValidSegment(segments.at(1))
            && !segments.at(2).isEmpty()) {
            route.kind = Route::Kind::Transport;
            route.sessionId = segments.at(1);
            route.transport = TransportRegistry::find(segments.at(2), TransportInfo::Path::Session);
        }
    }
    return route;
}

void Service::respondNotFound(Connection *connection)
{
    ++m_counters[Counter::ServiceNotFound];
    connection->respond(HttpResponse::text(404, "Not found"));
}

void Service::handleRequest(Connection *connection, const QByteArray &relativePath)
{
    const Route route = parseRoute(relativePath);
    switch (route.kind) {
    case Route::Kind::Greeting:
        return handleGreeting(connection);
    case Route::Kind::Info:
        return handleInfo(connection);
    case Route::Kind::Iframe:
        return handleIframe(connection);
    case Route::Kind::Transport:
        return handleTransport(connection, route);
    case Route::Kind::NotFound:
        break;
    }
    respondNotFound(connection);
}

bool Service::acceptsWebSocket(const QByteArray &relativePath) const
{
    if (!m_config.websocket)
        return false;
    const Route route = parseRoute(relativePath);
    return route.kind == Route::Kind::Transport && route.transport
           && route.transport->kind == TransportInfo::Kind::WebSocket;
}

// --- Fixed endpoints (endpoints.h) ------------------------------------------------

void Service::handleGreeting(Connection *connection)
{
    connection->respond(m_endpoints->greeting(connection->request()));
}

void Service::handleInfo(Connection *connection)
{
    const HttpRequest &request = connection->request();
    if (const std::optional<HttpResponse> early = Endpoints::infoBeforeOriginCheck(request))
        return connection->respond(*early);
    if (refuseOrigin(connection))
        return;
    connection->respond(m_endpoints->info(request, m_origins.patterns()));
}

void Service::handleIframe(Connection *connection) { connection->respond(m_endpoints->iframe(connection->request())); }

// --- Session transports ----------------------------------------------------------

void Service::handleTransport(Connection *connection, const Route &route)
{
    const HttpRequest &request = connection->request();
    const QByteArray &method = request.method;
    if (refuseOrigin(connection))
        return;
    const TransportInfo *transport = route.transport;
    if (!transport)
        return respondNotFound(connection);

    if (transport->kind == TransportInfo::Kind::WebSocket) {
        if (!m_config.websocket)
            return respondNotFound(connection);
        if (method != transport->method)
            return connection->respond(Endpoints::methodNotAllowed(transport->allow()));
        // A proper upgrade never gets here: the server hands it to QWebSocketServer.
        if (!request.headerHasToken("Upgrade", "websocket"))
            return connection->respond(HttpResponse::text(400, "Can \"Upgrade\" only to \"WebSocket\"."));
        return connection->respond(HttpResponse::text(400, "\"Connection\" must be \"Upgrade\"."));
    }

    if (method == "OPTIONS" && transport->preflight) {
        HttpResponse response = Endpoints::preflight(request, transport->allow());
        m_endpoints->addCookie(response, request);
        return connection->respond(response);
    }
    if (method != transport->method)
        return connection->respond(Endpoints::methodNotAllowed(transport->allow()));
    if (transport->kind == TransportInfo::Kind::Sending)
        return handleSend(connection, route, *transport);
    handleReceive(connection, route, *transport);
}

void Service::handleReceive(Connection *connection, const Route &route, const TransportInfo &transport)
{
    const HttpRequest &request = connection->request();
    HttpResponse head(200);
    Endpoints::addNoCache(head);
    Endpoints::addCors(head, request);
    m_endpoints->addCookie(head, request);

    QByteArray callback;
    if (transport.callback) {
        callback = request.queryItem("c");
        if (callback.isEmpty()) {
            ++m_counters[Counter::ProtocolErrors];
            return connection->respond(HttpResponse::text(500, "\"callback\" parameter required"));
        }
        if (callback.size() > kMaxCallbackLength || !isValidCallback(callback)) {
            ++m_counters[Counter::ProtocolErrors];
            return connection->respond(HttpResponse::text(500, "invalid \"callback\" parameter"));
        }
    }

    head.setHeader("Content-Type", transport.contentType);
    HttpReceiver *receiver = transport.createHttp(connection, head, m_config.responseLimit, callback);
    // The receiver lives as long as its request: it goes when the response ends.
    connect(receiver, &Receiver::finished, receiver, &QObject::deleteLater);

    Session *session = findOrCreateHttpSession(route.sessionId, connection);
    if (!session) {
        receiver->deleteLater();
        HttpResponse response = HttpResponse::text(503, "Too many sessions");
        response.setHeader("Retry-After", "5");
        return connection->respond(response);
    }
    if (m_config.checkAddress && session->clientInfo().address != connection->peerAddress().toString()) {
        ++m_counters[Counter::AddressMismatches];
        receiver->deleteLater();
        return connection->respond(HttpResponse::text(403, "Session belongs to another client address"));
    }
    receiver->start();
    session->attach(receiver);
}

void Service::handleSend(Connection *connection, const Route &route, const TransportInfo &transport)
{
    const HttpRequest &request = connection->request();
    Session *session = m_byUrlId.value(route.sessionId);
    if (!session)
        return respondNotFound(connection);
    if (m_config.checkAddress && session->clientInfo().address != connection->peerAddress().toString()) {
        ++m_counters[Counter::AddressMismatches];
        return connection->respond(HttpResponse::text(403, "Session belongs to another client address"));
    }

    QByteArray payload = request.body;
    if (transport.formEncoded
        && request.header("Content-Type").trimmed().toLower().startsWith("application/x-www-form-urlencoded")) {
        // The form field d; absent means no payload.
        HttpRequest form;
        form.query = request.body;
        payload = form.queryItem("d");
    }

    QList<QByteArray> messages;
    switch (JsonCodec::decodeMessages(payload, &messages)) {
    case JsonCodec::DecodeResult::Empty:
        ++m_counters[Counter::ProtocolErrors];
        return connection->respond(HttpResponse::text(500, "Payload expected."));
    case JsonCodec::DecodeResult::Broken:
        ++m_counters[Counter::ProtocolErrors];
        return connection->respond(HttpResponse::text(500, "Broken JSON encoding."));
    case JsonCodec::DecodeResult::Ok:
        break;
    }
    session->receive(messages);

    HttpResponse response(transport.reply ? 200 : 204);
    response.setHeader("Content-Type", transport.contentType);
    Endpoints::addNoCache(response);
    Endpoints::addCors(response, request);
    m_endpoints->addCookie(response, request);
    if (transport.reply)
        response.body = transport.reply;
    connection->respond(response);
}

void Service::handleWebSocket(QWebSocket *socket, const QByteArray &relativePath)
{
    const Route route = parseRoute(relativePath);
    const Session::ClientInfo client{socket->peerAddress().toString(), socket->peerPort(), socket->origin(),
                                     QString::fromUtf8(socket->request().rawHeader("User-Agent"))};
    if (!admitsSession(client.address)) {
        // 1013: try again later (RFC 6455 registry).
        socket->close(static_cast<QWebSocketProtocol::CloseCode>(1013), QStringLiteral("Too many sessions"));
        socket->deleteLater();
        return;
    }
    // WebSocket sessions are never looked up by URL: two connections on one
    // URL are two sessions (each lives as long as its connection).
    Session *session = createSession(route.sessionId, Session::Lifetime::Connection, client);
    WebSocketReceiver *receiver = route.transport->createWebSocket(socket, m_config.maxMessageBytes, session);
    connect(receiver, &WebSocketReceiver::brokenFraming, this, [this] { ++m_counters[Counter::ProtocolErrors]; });
    session->attach(receiver);
}

// --- Sessions ----------------------------------------------------------------------

bool Service::refuseOrigin(Connection *connection)
{
    const QByteArray origin = connection->request().header("Origin");
    if (m_origins.allows(origin))
        return false;
    ++m_counters[Counter::RefusedOrigins];
    if (m_eventLog.admit())
        qCInfo(lcHttp).noquote() << m_config.prefix << "origin" << QString::fromUtf8(origin.left(200)) << "refused";
    connection->respond(HttpResponse::text(403, "Origin not allowed"));
    return true;
}

bool Service::admitsSession(const QString &address)
{
    const bool overTotal = m_byBackendId.size() >= m_config.maxSessions;
    const bool overAddress =
        m_config.maxSessionsPerAddress > 0 && m_sessionsPerAddress.value(address) >= m_config.maxSessionsPerAddress;
    if (!overTotal && !overAddress)
        return true;
    ++m_counters[overTotal ? Counter::RefusedSessionsMaxSessions : Counter::RefusedSessionsPerAddress];
    if (m_eventLog.admit())
        qCInfo(lcSession).noquote() << m_config.prefix << "new session from" << address
                                    << "refused:" << (overTotal ? "max_sessions" : "max_sessions_per_address")
                                    << "reached";
    return false;
}

Session *Service::createSession(const QByteArray &urlId, Session::Lifetime lifetime, const Session::ClientInfo &client)
{
    auto *session = new Session(this, urlId, nextBackendId(), lifetime, m_sessionOptions, this);
    session->setClientInfo(client);
    ++m_sessionsPerAddress[client.address];
    m_byBackendId.insert(session->backendId(), session);
    if (lifetime == Session::Lifetime::Requests)
        m_byUrlId.insert(urlId, session);
    Q_EMIT sessionCreated(session);
    return session;
}

Session *Service::findOrCreateHttpSession(const QByteArray &urlId, Connection *connection)
{
    if (Session *session = m_byUrlId.value(urlId))
        return session;
    const HttpRequest &request = connection->request();
    const Session::ClientInfo client{connection->peerAddress().toString(), connection->peerPort(),
                                     QString::fromUtf8(request.header("Origin")),
                                     QString::fromUtf8(request.header("User-Agent"))};
    if (!admitsSession(client.address))
        return nullptr;
    return createSession(urlId, Session::Lifetime::Requests, client);
}

void Service::sessionOpened(Session *session)
{
    ++m_counters[Counter::SessionsOpened];
    if (m_eventLog.admit())
        qCInfo(lcSession).noquote() << m_config.prefix << "session" << QString::fromLatin1(session->backendId())
                                    << "opened over" << QString::fromLatin1(session->transportName());
    m_bridge->sendConnect(session->backendId());
}

void Service::sessionMessages(Session *session, const QList<QByteArray> &messages)
{
    for (const QByteArray &message : messages) {
        ++m_counters[Counter::MessagesIn];
        m_counters[Counter::BytesIn] += quint64(message.size());
        m_bridge->sendMessage(session->backendId(), message);
    }
}

void Service::sessionClosed(Session *session)
{
    ++m_counters[Counter::SessionsClosed];
    if (m_eventLog.admit())
        qCInfo(lcSession).noquote() << m_config.prefix << "session" << QString::fromLatin1(session->backendId())
                                    << "closed:" << session->closeCode() << QString::fromUtf8(session->closeReason());
    m_bridge->sendDisconnect(session->backendId());
}

void Service::sessionExpired(Session *session)
{
    if (!m_byBackendId.remove(session->backendId()))
        return;
    const auto count = m_sessionsPerAddress.find(session->clientInfo().address);
    if (count != m_sessionsPerAddress.end() && --count.value() <= 0)
        m_sessionsPerAddress.erase(count);
    const auto it = m_byUrlId.constFind(session->urlId());
    if (it != m_byUrlId.cend() && it.value() == session)
        m_byUrlId.erase(it);
    Q_EMIT sessionRemoved(session);
    session->deleteLater();
}

void Service::sessionTraffic(Session *session, const SessionTraffic &traffic)
{
    Q_EMIT this->traffic(session->backendId(), traffic);
}

void Service::scheduleFlush(Session *session)
{
    m_flushQueue.emplace_back(session);
    if (m_flushScheduled)
        return;
    m_flushScheduled = true;
    // After the current burst from the backend: one frame for all of it.
    QMetaObject::invokeMethod(this, &Service::flushScheduled, Qt::QueuedConnection);
}

void Service::flushScheduled()
{
    m_flushScheduled = false;
    std::vector<QPointer<Session>> queue;
    queue.swap(m_flushQueue);
    for (const QPointer<Session> &session : queue) {
        if (session)
            session->flush();
    }
}

void Service::onMessageFromBackend(const QByteArray &sessionId, const QByteArray &data)
{
    Session *session = m_byBackendId.value(sessionId);
    if (!session) {
        ++m_counters[Counter::UnknownSessionFromBackend];
        qCInfo(lcZmq).noquote() << m_config.prefix << "backend message for unknown session"
                                << QString::fromLatin1(sessionId.left(64)) << "dropped";
        return;
    }
    deliverToSession(session, data);
}

bool Service::deliverToSession(Session *session, const QByteArray &message, SessionTraffic::Source source)
{
    if (!session->enqueue(message, source)) {
        ++m_counters[Counter::DroppedForClosedSession];
        return false;
    }
    ++m_counters[Counter::MessagesOut];
    m_counters[Counter::BytesOut] += quint64(message.size());
    return true;
}

void Service::onDisconnectFromBackend(const QByteArray &sessionId)
{
    Session *session = m_byBackendId.value(sessionId);
    if (!session) {
        ++m_counters[Counter::UnknownSessionFromBackend];
        qCInfo(lcZmq).noquote() << m_config.prefix << "backend disconnect for unknown session"
                                << QString::fromLatin1(sessionId.left(64)) << "ignored";
        return;
    }
    session->close(CloseReason::GoAwayCode, CloseReason::goAway(), Session::CloseOrigin::Backend);
}

void Service::closeAll(int code, const QByteArray &reason)
{
    const auto sessions = m_byBackendId.values();
    for (Session *session : sessions) {
        session->close(code, reason, Session::CloseOrigin::Shutdown);
        if (m_byBackendId.contains(session->backendId()))
            sessionExpired(session);
    }
}

} // namespace SockJsProxy
