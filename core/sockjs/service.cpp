#include "service.h"

#include "backendrouter.h"
#include "base/logging.h"
#include "endpoints.h"
#include "frames.h"
#include "http/connection.h"
#include "jsoncodec.h"
#include "node.h"
#include "transports/registry.h"
#include "transports/transport.h"
#include "transports/websocket.h"
#include "zmq/curvekeys.h"
#include "zmq/zmqbridge.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkRequest>
#include <QSet>
#include <QWebSocket>

#include <cmath>
#include <functional>

namespace SockJsProxy {

namespace {

constexpr qsizetype kMaxCallbackLength = 64;

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

// The cookies of a Cookie header ("a=1; b=2"): name to value, the first of
// a name kept (the most specific path, RFC 6265 5.4), quotes taken off.
QJsonObject parseCookies(const QByteArray &header)
{
    QJsonObject cookies;
    for (const QByteArray &part : header.split(';')) {
        const qsizetype equals = part.indexOf('=');
        if (equals <= 0)
            continue;
        const QString name = QString::fromUtf8(part.left(equals).trimmed());
        QByteArray value = part.mid(equals + 1).trimmed();
        if (value.size() >= 2 && value.startsWith('"') && value.endsWith('"'))
            value = value.mid(1, value.size() - 2);
        if (!name.isEmpty() && !cookies.contains(name))
            cookies.insert(name, QString::fromUtf8(value));
    }
    return cookies;
}

} // namespace

// What connect_info tells a backend of the request that opened a session.
struct Service::ConnectFacts
{
    QString address;
    quint16 port = 0;
    QByteArray transport; // Receiver::transportName()
    QByteArray path;      // as requested, not decoded
    QByteArray query;
    // Every value of a header, joined as HTTP joins them (", "; cookies "; ").
    std::function<QByteArray(const QByteArray &name)> header;
};

QByteArray Service::connectData(const ConnectFacts &facts) const
{
    const ConnectInfoConfig &config = *m_config.connectInfo;
    // Strings from the client become UTF-8 (invalid bytes U+FFFD) and
    // QJsonDocument escapes control characters: always valid JSON.
    const auto text = [](const QByteArray &bytes) { return QString::fromUtf8(bytes); };
    const auto optional = [&text](const QByteArray &bytes) {
        return bytes.isNull() ? QJsonValue(QJsonValue::Null) : QJsonValue(text(bytes));
    };
    QJsonObject headers;
    for (const QByteArray &name : config.headers) {
        const QByteArray value = facts.header(name);
        if (!value.isNull())
            headers.insert(text(name), text(value));
    }
    QJsonObject info{
        {QStringLiteral("remote_address"), facts.address},
        {QStringLiteral("remote_port"), facts.port},
        {QStringLiteral("transport"), text(facts.transport)},
        {QStringLiteral("path"), text(facts.path)},
        {QStringLiteral("query"), text(facts.query)},
        {QStringLiteral("origin"), optional(facts.header("origin"))},
        {QStringLiteral("user_agent"), optional(facts.header("user-agent"))},
        {QStringLiteral("node"), QString::fromLatin1(Node::localName())},
        {QStringLiteral("headers"), headers},
    };
    if (config.cookies)
        info.insert(QStringLiteral("cookies"), parseCookies(facts.header("cookie")));
    return QJsonDocument(info).toJson(QJsonDocument::Compact);
}

struct Service::Route
{
    enum class Kind { Greeting, Info, Iframe, Transport, NotFound } kind = Kind::NotFound;
    QByteArray sessionId;                     // empty for transports at {prefix}/NAME
    const TransportInfo *transport = nullptr; // Transport: null for an unknown name
};

Service::Service(const ServiceConfig &config, QObject *parent)
    : QObject(parent), m_config(config),
      m_bridge(new ZmqBridge(config.zmqIn, config.zmqOut, config.zmqQueueLimit, config.zmqHighWaterMark, this)),
      m_origins(config.origins), m_endpoints(std::make_unique<Endpoints>(config)),
      m_eventLog(lcSession, QStringLiteral("session events of %1 (opens, closes, refusals)").arg(config.prefix))
{
    m_sessionOptions.heartbeatDelayMs = config.heartbeatDelayMs;
    m_sessionOptions.disconnectDelayMs = config.disconnectDelayMs;
    m_sessionOptions.maxQueuedMessages = config.maxQueuedMessages;
    m_sessionOptions.maxQueuedBytes = config.maxQueuedBytes;
    m_sessionOptions.requireAccept = config.requireAccept;
    m_sessionOptions.acceptTimeoutMs = config.acceptTimeoutMs;

    connect(m_bridge, &ZmqBridge::messageFromBackend, this, &Service::onMessageFromBackend);
    connect(m_bridge, &ZmqBridge::disconnectFromBackend, this, &Service::onDisconnectFromBackend);
    connect(m_bridge, &ZmqBridge::acceptFromBackend, this, &Service::onAcceptFromBackend);
    connect(m_bridge, &ZmqBridge::broadcastFromBackend, this, &Service::onBroadcastFromBackend);
}

Service::~Service()
{
    // Sessions are children; make sure none calls back into a half-destroyed service.
    const auto sessions = m_byBackendId.values();
    for (Session *session : sessions)
        delete session;
}

bool Service::loadKeys(QString *error)
{
    if (m_keysLoaded || !m_config.zmqCurve)
        return true;
    const ZmqCurveConfig &curve = *m_config.zmqCurve;
    if (!CurveKeys::available()) {
        *error = QStringLiteral("zmq.curve: this libzmq has no CURVE support (built without libsodium)");
        return false;
    }
    QString keyError;
    std::optional<QByteArray> secretKey;
    if (!curve.secretKeyFile.isEmpty()) {
        secretKey = CurveKeys::readFile(curve.secretKeyFile, CurveKeys::Kind::Secret, &keyError);
        if (!secretKey) {
            *error = QStringLiteral("zmq.curve.secret_key_file: ") + keyError;
            return false;
        }
    } else {
        secretKey = CurveKeys::parse(curve.secretKey.toUtf8(), &keyError);
        if (!secretKey) {
            *error = QStringLiteral("zmq.curve.secret_key: ") + keyError;
            return false;
        }
    }
    const auto publicKey = CurveKeys::publicKeyOf(*secretKey, &keyError);
    if (!publicKey) {
        *error = QStringLiteral("zmq.curve: ") + keyError;
        return false;
    }
    const auto allowed = readAllowedKeys(error);
    if (!allowed)
        return false;
    m_bridge->setCurve(*secretKey, *allowed);
    m_curvePublicKey = *publicKey;
    m_keysLoaded = true;
    return true;
}

std::optional<QSet<QByteArray>> Service::readAllowedKeys(QString *error) const
{
    const ZmqCurveConfig &curve = *m_config.zmqCurve;
    QSet<QByteArray> allowed;
    for (qsizetype i = 0; i < curve.allowedKeys.size(); ++i) {
        QString keyError;
        const QByteArray text = curve.allowedKeys.at(i).toUtf8();
        const auto key = CurveKeys::parse(text, &keyError);
        if (!key) {
            *error =
                QStringLiteral("zmq.curve.allowed_keys[%1]: \"%2\": %3").arg(i).arg(curve.allowedKeys.at(i), keyError);
            return std::nullopt;
        }
        allowed.insert(*key);
    }
    if (!curve.allowedKeysDir.isEmpty()) {
        QString keyError;
        const auto keys = CurveKeys::readDirectory(curve.allowedKeysDir, &keyError);
        if (!keys) {
            *error = QStringLiteral("zmq.curve.allowed_keys_dir: ") + keyError;
            return std::nullopt;
        }
        allowed.unite(*keys);
    }
    return allowed;
}

bool Service::reloadKeys(QString *error)
{
    if (!m_config.zmqCurve || !m_keysLoaded)
        return true;
    const auto allowed = readAllowedKeys(error);
    if (!allowed)
        return false;
    const QSet<QByteArray> &before = m_bridge->allowedKeys();
    const qsizetype added = (*allowed - before).size();
    const qsizetype removed = (before - *allowed).size();
    m_bridge->setAllowedKeys(*allowed);
    qCInfo(lcZmq).noquote() << "service" << prefix() << "- CURVE keys reloaded:" << allowed->size()
                            << "backend key(s) allowed," << added << "added," << removed << "removed";
    return true;
}

bool Service::start(QString *error) { return loadKeys(error) && m_bridge->start(error); }

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

    Session *session = findOrCreateHttpSession(route.sessionId, connection, transport);
    if (!session) {
        receiver->deleteLater();
        HttpResponse response = HttpResponse::text(503, "Too many sessions");
        response.setHeader("Retry-After", "5");
        return connection->respond(response);
    }
    if (m_config.checkAddress && session->clientInfo().address != connection->client().address.toString()) {
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
    if (m_config.checkAddress && session->clientInfo().address != connection->client().address.toString()) {
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

void Service::handleWebSocket(QWebSocket *socket, const QByteArray &relativePath, const ClientAddress &from)
{
    const Route route = parseRoute(relativePath);
    const Session::ClientInfo client{from.address.toString(), from.port, socket->origin(),
                                     QString::fromUtf8(socket->request().rawHeader("User-Agent")), from.via.toString()};
    if (!admitsSession(client.address)) {
        // 1013: try again later (RFC 6455 registry).
        socket->close(static_cast<QWebSocketProtocol::CloseCode>(1013), QStringLiteral("Too many sessions"));
        socket->deleteLater();
        return;
    }
    // WebSocket sessions are never looked up by URL: two connections on one
    // URL are two sessions (each lives as long as its connection).
    Session *session = createSession(route.sessionId, Session::Lifetime::Connection, client);
    if (m_config.connectInfo) {
        const QNetworkRequest request = socket->request();
        const QUrl url = socket->requestUrl();
        session->setConnectData(connectData(
            {client.address, client.port, route.transport->displayName, url.path(QUrl::FullyEncoded).toUtf8(),
             url.query(QUrl::FullyEncoded).toUtf8(), [&request](const QByteArray &name) {
                 return request.hasRawHeader(name) ? request.rawHeader(name) : QByteArray();
             }}));
    }
    WebSocketReceiver *receiver = route.transport->createWebSocket(socket, m_config.maxMessageBytes, session);
    connect(receiver, &WebSocketReceiver::brokenFraming, this, [this, from] {
        ++m_counters[Counter::ProtocolErrors];
        qCInfo(lcSession).noquote() << "websocket: broken JSON from" << from.toString() << "- closing the connection";
    });
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
    auto *session = new Session(this, urlId, Node::nextSessionId(), lifetime, m_sessionOptions, this);
    session->setClientInfo(client);
    ++m_sessionsPerAddress[client.address];
    m_byBackendId.insert(session->backendId(), session);
    if (lifetime == Session::Lifetime::Requests)
        m_byUrlId.insert(urlId, session);
    Q_EMIT sessionCreated(session);
    return session;
}

Session *Service::findOrCreateHttpSession(const QByteArray &urlId, Connection *connection,
                                          const TransportInfo &transport)
{
    if (Session *session = m_byUrlId.value(urlId))
        return session;
    const HttpRequest &request = connection->request();
    const ClientAddress &from = connection->client();
    const Session::ClientInfo client{from.address.toString(), from.port, QString::fromUtf8(request.header("Origin")),
                                     QString::fromUtf8(request.header("User-Agent")), from.via.toString()};
    if (!admitsSession(client.address))
        return nullptr;
    Session *session = createSession(urlId, Session::Lifetime::Requests, client);
    if (m_config.connectInfo) {
        session->setConnectData(connectData({client.address, client.port, transport.displayName, request.path,
                                             request.query, [&request](const QByteArray &name) {
                                                 QByteArrayList values;
                                                 for (const auto &header : request.headers) {
                                                     if (header.first.compare(name, Qt::CaseInsensitive) == 0)
                                                         values.append(header.second);
                                                 }
                                                 if (values.isEmpty())
                                                     return QByteArray();
                                                 return values.join(name == "cookie" ? "; " : ", ");
                                             }}));
    }
    return session;
}

void Service::sessionOpened(Session *session)
{
    ++m_counters[Counter::SessionsOpened];
    if (m_eventLog.admit())
        qCInfo(lcSession).noquote() << m_config.prefix << "session" << QString::fromLatin1(session->backendId())
                                    << "opened over"
                                    << QString::fromLatin1(session->transportName())
                                           + (m_config.requireAccept ? QStringLiteral(" (waiting for accept)")
                                                                     : QString());
    if (m_config.connectInfo) {
        m_bridge->sendConnect(session->backendId(), session->connectData());
        session->setConnectData(QByteArray()); // sent once: no need to keep it
    } else {
        m_bridge->sendConnect(session->backendId());
    }
    if (m_router)
        m_router->sessionConnected(this, session->backendId());
}

void Service::sessionAcceptTimedOut(Session *session)
{
    ++m_counters[Counter::AcceptTimeouts];
    qCWarning(lcSession).noquote() << m_config.prefix << "session" << QString::fromLatin1(session->backendId())
                                   << "not accepted by the backend within" << m_config.acceptTimeoutMs
                                   << "ms: closing it";
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
    if (m_eventLog.admit())
        qCInfo(lcSession).noquote() << m_config.prefix << "session" << QString::fromLatin1(session->backendId())
                                    << "closed:" << session->closeCode() << QString::fromUtf8(session->closeReason());
    m_bridge->sendDisconnect(session->backendId());
    if (m_router)
        m_router->sessionDisconnected(this, session->backendId());
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
    handleMessage(sessionId, data, true);
}

void Service::onDisconnectFromBackend(const QByteArray &sessionId, const QByteArray &data)
{
    handleDisconnect(sessionId, data, true);
}

void Service::onAcceptFromBackend(const QByteArray &sessionId) { handleAccept(sessionId, true); }

void Service::onBroadcastFromBackend(const QByteArray &target, const QByteArray &data)
{
    // Session ids separated by spaces; each one once, in the order given.
    QList<QByteArray> ids;
    if (!target.isEmpty()) {
        QSet<QByteArray> seen;
        for (const QByteArray &id : target.split(' ')) {
            if (!id.isEmpty() && !seen.contains(id)) {
                seen.insert(id);
                ids.append(id);
            }
        }
        if (ids.isEmpty()) {
            // Only spaces: a target that names nobody is not "everybody".
            ++m_counters[Counter::UnknownSessionFromBackend];
            qCInfo(lcZmq).noquote() << m_config.prefix << "backend broadcast to a target of spaces only dropped";
            return;
        }
    }
    handleBroadcast(ids, data, true);
}

void Service::messageFromPeer(const QByteArray &sessionId, const QByteArray &data)
{
    handleMessage(sessionId, data, false);
}

void Service::disconnectFromPeer(const QByteArray &sessionId, const QByteArray &data)
{
    handleDisconnect(sessionId, data, false);
}

void Service::acceptFromPeer(const QByteArray &sessionId) { handleAccept(sessionId, false); }

void Service::broadcastFromPeer(const QList<QByteArray> &sessionIds, const QByteArray &data)
{
    handleBroadcast(sessionIds, data, false);
}

void Service::handleMessage(const QByteArray &sessionId, const QByteArray &data, bool mayRoute)
{
    Session *session = m_byBackendId.value(sessionId);
    if (!session) {
        if (mayRoute && m_router && m_router->routeMessage(this, sessionId, data))
            return;
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

void Service::handleAccept(const QByteArray &sessionId, bool mayRoute)
{
    Session *session = m_byBackendId.value(sessionId);
    if (!session) {
        if (mayRoute && m_router && m_router->routeAccept(this, sessionId))
            return;
        ++m_counters[Counter::UnknownSessionFromBackend];
        qCInfo(lcZmq).noquote() << m_config.prefix << "backend accept for unknown session"
                                << QString::fromLatin1(sessionId.left(64)) << "ignored";
        return;
    }
    if (!session->accept()) {
        ++m_counters[Counter::BackendUnexpectedAccept];
        qCInfo(lcZmq).noquote() << m_config.prefix << "backend accept for session" << QString::fromLatin1(sessionId)
                                << "ignored: it was not waiting for one"
                                << (m_config.requireAccept ? "" : "(no require_accept)");
    }
}

bool Service::parseCloseData(const QByteArray &data, int *code, QByteArray *reason, QString *problem)
{
    *code = CloseReason::GoAwayCode;
    *reason = CloseReason::goAway();
    if (data.isEmpty())
        return true;
    QJsonParseError error;
    const QJsonDocument document = QJsonDocument::fromJson(data, &error);
    if (error.error != QJsonParseError::NoError || !document.isObject()) {
        *problem = QStringLiteral("not a JSON object");
        return false;
    }
    const QJsonObject object = document.object();
    const QJsonValue codeValue = object.value(QLatin1String("code"));
    const double number = codeValue.toDouble();
    if (!codeValue.isDouble() || std::floor(number) != number || number < 3000 || number > 4999) {
        *problem = QStringLiteral("\"code\" must be an integer from 3000 to 4999");
        return false;
    }
    QByteArray reasonText("");
    const QJsonValue reasonValue = object.value(QLatin1String("reason"));
    if (!reasonValue.isUndefined()) {
        if (!reasonValue.isString()) {
            *problem = QStringLiteral("\"reason\" must be a string");
            return false;
        }
        reasonText = reasonValue.toString().toUtf8();
        // A WebSocket close frame has room for 123 bytes of reason.
        if (reasonText.size() > 123) {
            *problem = QStringLiteral("\"reason\" is longer than 123 bytes of UTF-8");
            return false;
        }
    }
    *code = int(number);
    *reason = reasonText;
    return true;
}

void Service::handleDisconnect(const QByteArray &sessionId, const QByteArray &data, bool mayRoute)
{
    Session *session = m_byBackendId.value(sessionId);
    if (!session) {
        if (mayRoute && m_router && m_router->routeDisconnect(this, sessionId, data))
            return;
        ++m_counters[Counter::UnknownSessionFromBackend];
        qCInfo(lcZmq).noquote() << m_config.prefix << "backend disconnect for unknown session"
                                << QString::fromLatin1(sessionId.left(64)) << "ignored";
        return;
    }
    int code = 0;
    QByteArray reason;
    QString problem;
    if (!parseCloseData(data, &code, &reason, &problem)) {
        ++m_counters[Counter::BackendInvalidClose];
        qCWarning(lcZmq).noquote() << m_config.prefix << "backend disconnect for session"
                                   << QString::fromLatin1(sessionId) << "with invalid close data (" << problem
                                   << "): closing it with" << code << QString::fromUtf8(reason);
    }
    session->close(code, reason, Session::CloseOrigin::Backend);
}

void Service::handleBroadcast(const QList<QByteArray> &sessionIds, const QByteArray &data, bool mayRoute)
{
    // Every session gets the same QByteArray: its frame is encoded once
    // (Frames::messages keeps the last one) however many sessions there are.
    if (sessionIds.isEmpty()) {
        // A copy: a session whose queue overflows closes, and may leave the
        // hash, while the loop runs (it is deleted later, not now).
        const QList<Session *> sessions = m_byBackendId.values();
        for (Session *session : sessions) {
            if (session->state() == Session::State::Open)
                deliverToSession(session, data);
        }
        if (mayRoute && m_router)
            m_router->routeBroadcast(this, {}, data);
        return;
    }
    QList<QByteArray> elsewhere;
    for (const QByteArray &id : sessionIds) {
        if (Session *session = m_byBackendId.value(id))
            deliverToSession(session, data);
        else
            elsewhere.append(id);
    }
    if (mayRoute && m_router && !elsewhere.isEmpty())
        elsewhere = m_router->routeBroadcast(this, elsewhere, data);
    if (elsewhere.isEmpty())
        return;
    m_counters[Counter::UnknownSessionFromBackend] += quint64(elsewhere.size());
    qCInfo(lcZmq).noquote() << m_config.prefix << "backend broadcast:" << elsewhere.size()
                            << "unknown session(s) skipped, the first"
                            << QString::fromLatin1(elsewhere.first().left(64));
}

QList<QByteArray> Service::openSessionIds() const
{
    QList<QByteArray> ids;
    ids.reserve(m_byBackendId.size());
    for (auto it = m_byBackendId.cbegin(); it != m_byBackendId.cend(); ++it) {
        if (it.value()->state() == Session::State::Open)
            ids.append(it.key());
    }
    return ids;
}

void Service::sendDisconnectForLostSession(const QByteArray &sessionId) { m_bridge->sendDisconnect(sessionId); }

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
