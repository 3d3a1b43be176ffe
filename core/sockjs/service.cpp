#include "service.h"

#include "base/logging.h"
#include "frames.h"
#include "http/connection.h"
#include "jsoncodec.h"
#include "transports/eventsource.h"
#include "transports/htmlfile.h"
#include "transports/jsonp.h"
#include "transports/rawwebsocket.h"
#include "transports/websocket.h"
#include "transports/xhrpolling.h"
#include "transports/xhrstreaming.h"
#include "zmq/zmqbridge.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QLocale>
#include <QRandomGenerator>
#include <QUrl>
#include <QWebSocket>

namespace SockJsProxy {

namespace {

const QByteArray kNoCache = QByteArrayLiteral("no-store, no-cache, no-transform, must-revalidate, max-age=0");
constexpr int kOneYear = 365 * 24 * 3600;
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

QByteArray httpDate(const QDateTime &time)
{
    return QLocale::c().toString(time.toUTC(), QStringLiteral("ddd, dd MMM yyyy hh:mm:ss 'GMT'")).toLatin1();
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

HttpResponse methodNotAllowed(const QByteArray &allow)
{
    HttpResponse response(405);
    response.setHeader("Allow", allow);
    return response;
}

} // namespace

struct Service::Route
{
    enum class Kind { Greeting, Info, Iframe, RawWebSocket, Session, NotFound } kind = Kind::NotFound;
    QByteArray sessionId;
    QByteArray transport;
};

Service::Service(const ServiceConfig &config, QObject *parent)
    : QObject(parent), m_config(config),
      m_bridge(new ZmqBridge(config.zmqIn, config.zmqOut, config.zmqQueueLimit, this)), m_origins(config.origins)
{
    m_sessionOptions.heartbeatDelayMs = config.heartbeatDelayMs;
    m_sessionOptions.disconnectDelayMs = config.disconnectDelayMs;
    m_sessionOptions.maxQueuedMessages = config.maxQueuedMessages;
    m_sessionOptions.maxQueuedBytes = config.maxQueuedBytes;

    m_iframePage = QByteArrayLiteral("<!DOCTYPE html>\n"
                                     "<html>\n"
                                     "<head>\n"
                                     "  <meta http-equiv=\"X-UA-Compatible\" content=\"IE=edge\" />\n"
                                     "  <meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\" />\n"
                                     "  <script src=\"")
                   + config.sockjsUrl.toHtmlEscaped().toUtf8()
                   + QByteArrayLiteral("\"></script>\n"
                                       "  <script>\n"
                                       "    document.domain = document.domain;\n"
                                       "    SockJS.bootstrap_iframe();\n"
                                       "  </script>\n"
                                       "</head>\n"
                                       "<body>\n"
                                       "  <h2>Don't panic!</h2>\n"
                                       "  <p>This is a SockJS hidden iframe. It's used for cross domain magic.</p>\n"
                                       "</body>\n"
                                       "</html>");
    m_iframeEtag = '"' + QCryptographicHash::hash(m_iframePage, QCryptographicHash::Md5).toHex() + '"';

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
    } else if (path == "/websocket") {
        route.kind = Route::Kind::RawWebSocket;
    } else if (isIframePath(path)) {
        route.kind = Route::Kind::Iframe;
    } else {
        const QList<QByteArray> segments = path.mid(1).split('/');
        if (segments.size() == 3 && isValidSegment(segments.at(0)) && isValidSegment(segments.at(1))
            && !segments.at(2).isEmpty()) {
            route.kind = Route::Kind::Session;
            route.sessionId = segments.at(1);
            route.transport = segments.at(2);
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
    case Route::Kind::RawWebSocket:
    case Route::Kind::Session:
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
    return route.kind == Route::Kind::RawWebSocket
           || (route.kind == Route::Kind::Session && route.transport == "websocket");
}

// --- Header sets -------------------------------------------------------------

void Service::addNoCache(HttpResponse &response) { response.setHeader("Cache-Control", kNoCache); }

void Service::addCacheForever(HttpResponse &response)
{
    response.setHeader("Cache-Control", "public, max-age=" + QByteArray::number(kOneYear));
    response.setHeader("Expires", httpDate(QDateTime::currentDateTimeUtc().addSecs(kOneYear)));
}

void Service::addCors(HttpResponse &response, const HttpRequest &request) const
{
    const QByteArray origin = request.header("Origin");
    if (origin.isNull()) {
        response.setHeader("Access-Control-Allow-Origin", "*");
        return;
    }
    // The origin as sent, "null" included: credentials forbid "*".
    response.setHeader("Access-Control-Allow-Origin", origin);
    response.setHeader("Access-Control-Allow-Credentials", "true");
    response.setHeader("Vary", "Origin");
}

void Service::addCookie(HttpResponse &response, const HttpRequest &request) const
{
    if (!m_config.cookieNeeded)
        return;
    QByteArray value = "dummy";
    const QByteArray cookies = request.header("Cookie");
    for (const QByteArray &part : cookies.split(';')) {
        const QByteArray cookie = part.trimmed();
        if (cookie.startsWith("JSESSIONID=")) {
            value = cookie.mid(11);
            break;
        }
    }
    response.setHeader("Set-Cookie", "JSESSIONID=" + value + "; path=/");
}

HttpResponse Service::preflight(const HttpRequest &request, const QByteArray &methods) const
{
    HttpResponse response(204);
    addCacheForever(response);
    addCors(response, request);
    response.setHeader("Access-Control-Allow-Methods", methods);
    response.setHeader("Access-Control-Max-Age", QByteArray::number(kOneYear));
    const QByteArray requested = request.header("Access-Control-Request-Headers");
    if (!requested.isEmpty())
        response.setHeader("Access-Control-Allow-Headers", requested);
    return response;
}

// --- Fixed endpoints -----------------------------------------------------------

void Service::handleGreeting(Connection *connection)
{
    const QByteArray &method = connection->request().method;
    if (method != "GET" && method != "HEAD")
        return connection->respond(methodNotAllowed("GET, HEAD"));
    HttpResponse response(200);
    response.setHeader("Content-Type", "text/plain;charset=UTF-8");
    response.body = QByteArrayLiteral("Welcome to SockJS!\n");
    connection->respond(response);
}

void Service::handleInfo(Connection *connection)
{
    const HttpRequest &request = connection->request();
    if (request.method == "OPTIONS")
        return connection->respond(preflight(request, "OPTIONS, GET"));
    if (request.method != "GET" && request.method != "HEAD")
        return connection->respond(methodNotAllowed("OPTIONS, GET"));

    if (refuseOrigin(connection))
        return;
    QByteArray originsJson = "[";
    for (const QString &origin : m_origins.patterns()) {
        if (originsJson.size() > 1)
            originsJson += ',';
        JsonCodec::appendQuoted(originsJson, origin.toUtf8());
    }
    originsJson += ']';

    HttpResponse response(200);
    response.setHeader("Content-Type", "application/json;charset=UTF-8");
    addNoCache(response);
    addCors(response, request);
    response.body = QByteArrayLiteral("{\"websocket\":") + (m_config.websocket ? "true" : "false")
                    + QByteArrayLiteral(",\"cookie_needed\":") + (m_config.cookieNeeded ? "true" : "false")
                    + QByteArrayLiteral(",\"origins\":") + originsJson + QByteArrayLiteral(",\"entropy\":")
                    + QByteArray::number(QRandomGenerator::global()->generate()) + '}';
    connection->respond(response);
}

void Service::handleIframe(Connection *connection)
{
    const HttpRequest &request = connection->request();
    if (request.method != "GET" && request.method != "HEAD")
        return connection->respond(methodNotAllowed("GET, HEAD"));
    if (request.header("If-None-Match") == m_iframeEtag) {
        HttpResponse notModified(304);
        notModified.setHeader("ETag", m_iframeEtag);
        addCacheForever(notModified);
        return connection->respond(notModified);
    }
    HttpResponse response(200);
    response.setHeader("Content-Type", "text/html;charset=UTF-8");
    addCacheForever(response);
    response.setHeader("ETag", m_iframeEtag);
    response.body = m_iframePage;
    connection->respond(response);
}

// --- Session transports ----------------------------------------------------------

void Service::handleTransport(Connection *connection, const Route &route)
{
    const HttpRequest &request = connection->request();
    const QByteArray &method = request.method;
    const QByteArray transport = route.kind == Route::Kind::RawWebSocket ? QByteArray("websocket") : route.transport;
    if (refuseOrigin(connection))
        return;

    if (transport == "websocket") {
        if (!m_config.websocket)
            return respondNotFound(connection);
        if (method != "GET")
            return connection->respond(methodNotAllowed("GET"));
        // A proper upgrade never gets here: the server hands it to QWebSocketServer.
        if (!request.headerHasToken("Upgrade", "websocket"))
            return connection->respond(HttpResponse::text(400, "Can \"Upgrade\" only to \"WebSocket\"."));
        return connection->respond(HttpResponse::text(400, "\"Connection\" must be \"Upgrade\"."));
    }

    struct Endpoint
    {
        const char *name;
        const char *method;
        bool preflight;
    };
    static const Endpoint endpoints[] = {
        {"xhr", "POST", true},         {"xhr_send", "POST", true}, {"xhr_streaming", "POST", true},
        {"eventsource", "GET", false}, {"htmlfile", "GET", false}, {"jsonp", "GET", false},
        {"jsonp_send", "POST", false},
    };
    const Endpoint *endpoint = nullptr;
    for (const Endpoint &candidate : endpoints) {
        if (transport == candidate.name)
            endpoint = &candidate;
    }
    if (!endpoint)
        return respondNotFound(connection);

    if (method == "OPTIONS" && endpoint->preflight) {
        HttpResponse response = preflight(request, QByteArray("OPTIONS, ") + endpoint->method);
        addCookie(response, request);
        return connection->respond(response);
    }
    if (method != endpoint->method) {
        return connection->respond(methodNotAllowed(endpoint->preflight ? QByteArray("OPTIONS, ") + endpoint->method
                                                                        : QByteArray(endpoint->method)));
    }
    if (transport == "xhr_send" || transport == "jsonp_send")
        return handleSend(connection, route, transport == "jsonp_send");
    handleReceive(connection, route, transport);
}

void Service::handleReceive(Connection *connection, const Route &route, const QByteArray &transport)
{
    const HttpRequest &request = connection->request();
    HttpResponse head(200);
    addNoCache(head);
    addCors(head, request);
    addCookie(head, request);

    QByteArray callback;
    if (transport == "htmlfile" || transport == "jsonp") {
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

    HttpReceiver *receiver = nullptr;
    const qint64 limit = m_config.responseLimit;
    if (transport == "xhr") {
        head.setHeader("Content-Type", "application/javascript;charset=UTF-8");
        receiver = new XhrPollingTransport(connection, head);
    } else if (transport == "xhr_streaming") {
        head.setHeader("Content-Type", "application/javascript;charset=UTF-8");
        receiver = new XhrStreamingTransport(connection, head, limit);
    } else if (transport == "eventsource") {
        head.setHeader("Content-Type", "text/event-stream");
        receiver = new EventSourceTransport(connection, head, limit);
    } else if (transport == "htmlfile") {
        head.setHeader("Content-Type", "text/html;charset=UTF-8");
        receiver = new HtmlFileTransport(connection, head, limit, callback);
    } else {
        head.setHeader("Content-Type", "application/javascript;charset=UTF-8");
        receiver = new JsonpTransport(connection, head, callback);
    }
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

void Service::handleSend(Connection *connection, const Route &route, bool jsonp)
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
    if (jsonp && request.header("Content-Type").trimmed().toLower().startsWith("application/x-www-form-urlencoded")) {
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

    HttpResponse response(jsonp ? 200 : 204);
    response.setHeader("Content-Type", "text/plain;charset=UTF-8");
    addNoCache(response);
    addCors(response, request);
    addCookie(response, request);
    if (jsonp)
        response.body = QByteArrayLiteral("ok");
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
    WebSocketReceiver *receiver = nullptr;
    Session *session = nullptr;
    // WebSocket sessions are never looked up by URL: two connections on one
    // URL are two sessions (each lives as long as its connection).
    if (route.kind == Route::Kind::RawWebSocket) {
        session = createSession(QByteArray(), Session::Lifetime::Connection, client);
        receiver = new RawWebSocketTransport(socket, m_config.maxMessageBytes, session);
    } else {
        session = createSession(route.sessionId, Session::Lifetime::Connection, client);
        auto *transport = new WebSocketTransport(socket, m_config.maxMessageBytes, session);
        connect(transport, &WebSocketTransport::brokenFraming, this, [this] { ++m_counters[Counter::ProtocolErrors]; });
        receiver = transport;
    }
    session->attach(receiver);
}

// --- Sessions ----------------------------------------------------------------------

bool Service::refuseOrigin(Connection *connection)
{
    const QByteArray origin = connection->request().header("Origin");
    if (m_origins.allows(origin))
        return false;
    ++m_counters[Counter::RefusedOrigins];
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
    qCWarning(lcSession).noquote() << m_config.prefix << "new session from" << address
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
    qCDebug(lcSession).noquote() << m_config.prefix << "session" << QString::fromLatin1(session->backendId())
                                 << "opened over" << QString::fromLatin1(session->transportName());
    m_bridge->sendConnect(session->backendId());
}

void Service::setQueueBudget(QueueBudget *budget)
{
    m_sessionOptions.budget = budget;
    m_bridge->setQueueBudget(budget);
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
    qCDebug(lcSession).noquote() << m_config.prefix << "session" << QString::fromLatin1(session->backendId())
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

void Service::sessionTraffic(Session *session, bool outgoing, const QByteArray &message)
{
    Q_EMIT traffic(session->backendId(), outgoing, message);
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

bool Service::deliverToSession(Session *session, const QByteArray &message)
{
    if (!session->enqueue(message)) {
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
    session->close(CloseReason::GoAwayCode, CloseReason::goAway());
}

void Service::closeAll(int code, const QByteArray &reason)
{
    const auto sessions = m_byBackendId.values();
    for (Session *session : sessions) {
        session->close(code, reason);
        if (m_byBackendId.contains(session->backendId()))
            sessionExpired(session);
    }
}

} // namespace SockJsProxy
