#include "controlserver.h"

#include "base/logging.h"
#include "config/commandline.h"
#include "http/connection.h"
#include "http/listener.h"
#include "http/tlsacceptor.h"
#include "metrics/logcapture.h"
#include "metrics/monitor.h"
#include "server/server.h"
#include "sockjsproxy_version.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSslSocket>
#include <QTcpSocket>
#include <QUrlQuery>
#include <QWebSocket>
#include <QWebSocketServer>

#include <cmath>

namespace SockJsProxy {

namespace {

HttpResponse jsonResponse(int status, const QJsonObject &object)
{
    HttpResponse response(status);
    response.setHeader("Content-Type", "application/json;charset=UTF-8");
    response.setHeader("Cache-Control", "no-store");
    response.body = QJsonDocument(object).toJson(QJsonDocument::Compact) + '\n';
    return response;
}

HttpResponse jsonError(int status, const QString &message)
{
    return jsonResponse(status, QJsonObject{{QStringLiteral("error"), message}});
}

bool constantTimeEquals(const QByteArray &a, const QByteArray &b)
{
    if (a.size() != b.size())
        return false;
    unsigned char diff = 0;
    for (qsizetype i = 0; i < a.size(); ++i)
        diff |= uchar(a.at(i) ^ b.at(i));
    return diff == 0;
}

} // namespace

ControlServer::ControlServer(Monitor *monitor, QObject *parent)
    : QObject(parent), m_monitor(monitor),
      m_listener(new Listener(
          QStringLiteral("control"),
          {Counter::AcceptErrorsControl, Counter::AcceptPausesControl, Counter::AcceptRefusedControl}, this)),
      m_webSocketServer(
          new QWebSocketServer(QStringLiteral("SockJSProxy control"), QWebSocketServer::NonSecureMode, this))
{
    // Whole-process rows: counted with the proxy's own, which must outlive
    // us (the Monitor, which we need anyway, must not outlive the Server).
    if (Server *server = m_monitor->server())
        m_listener->setCounters(&server->processCounters());
    connect(m_listener, &Listener::connectionAccepted, this, &ControlServer::onNewConnection);
    connect(m_webSocketServer, &QWebSocketServer::newConnection, this, &ControlServer::onNewWebSocket);

    connect(m_monitor, &MonitorSource::sessionsChanged, this,
            [this](const QList<SessionInfo> &upserted, const QList<QByteArray> &removed) {
                if (m_clients.isEmpty())
                    return;
                QJsonArray upsertedJson;
                for (const SessionInfo &info : upserted)
                    upsertedJson.append(info.toJson());
                QJsonArray removedJson;
                for (const QByteArray &id : removed)
                    removedJson.append(QString::fromLatin1(id));
                broadcast({{QStringLiteral("type"), QStringLiteral("sessions")},
                           {QStringLiteral("upserted"), upsertedJson},
                           {QStringLiteral("removed"), removedJson}});
            });
    connect(m_monitor, &MonitorSource::statsUpdated, this, [this](const MonitorStats &stats) {
        if (!m_clients.isEmpty())
            broadcast({{QStringLiteral("type"), QStringLiteral("stats")}, {QStringLiteral("stats"), stats.toJson()}});
    });
    connect(m_monitor, &MonitorSource::traffic, this, [this](const TrafficEvent &event) {
        QJsonObject json = event.toJson();
        json.insert(QStringLiteral("type"), QStringLiteral("traffic"));
        // Only to the clients inspecting that session.
        const QByteArray text = QJsonDocument(json).toJson(QJsonDocument::Compact);
        for (QWebSocket *client : std::as_const(m_clients)) {
            if (m_inspectedBy.value(client).contains(event.sessionId))
                client->sendTextMessage(QString::fromUtf8(text));
        }
    });
    connect(m_monitor, &MonitorSource::logMessage, this,
            [this](const QString &level, const QString &category, const QString &text, const QDateTime &time) {
                if (m_clients.isEmpty() || level == QLatin1String("debug"))
                    return;
                QJsonObject event =
                    LogLine{time.isValid() ? time : QDateTime::currentDateTime(), level, category, text}.toJson();
                event.insert(QStringLiteral("type"), QStringLiteral("log"));
                broadcast(event);
            });
}

ControlServer::~ControlServer()
{
    for (auto it = m_inspectCount.cbegin(); it != m_inspectCount.cend(); ++it)
        m_monitor->setInspected(it.key(), false);
}

bool ControlServer::listen(const QString &endpoint, QString *error)
{
    QHostAddress address;
    quint16 port = 0;
    if (!CommandLine::checkControlEndpoint(endpoint, m_token, &address, &port, error))
        return false;
    QString listenError;
    if (!m_listener->listen(address, port, &listenError)) {
        *error = QStringLiteral("--control %1: %2").arg(endpoint, listenError);
        return false;
    }
    return true;
}

bool ControlServer::setTls(const TlsFiles &files, QString *error)
{
    const std::optional<TlsCredentials> credentials = TlsCredentials::load(files, error);
    if (!credentials) {
        *error = QStringLiteral("--control-tls-cert: ") + *error;
        return false;
    }
    m_listener->setTlsSockets(true);
    delete m_tls;
    m_tls = new TlsAcceptor(*credentials, Connection::Options().requestTimeoutMs, this);
    connect(m_tls, &TlsAcceptor::encrypted, this, &ControlServer::addConnection);
    return true;
}

bool ControlServer::reloadTls()
{
    if (!m_tls)
        return true;
    QString error;
    if (!m_tls->reload(&error)) {
        qCWarning(lcServer).noquote() << "--control-tls-cert: not reloaded, the certificate and key in use stay:"
                                      << error;
        return false;
    }
    qCInfo(lcServer).noquote() << "--control-tls-cert:" << m_tls->credentials().files().certificate
                               << "and its key reloaded; new connections get them";
    return true;
}

quint16 ControlServer::port() const { return m_listener->serverPort(); }

QHostAddress ControlServer::address() const { return m_listener->serverAddress(); }

void ControlServer::onNewConnection(QTcpSocket *socket)
{
    if (m_tls)
        m_tls->handshake(static_cast<QSslSocket *>(socket)); // addConnection() once encrypted
    else
        addConnection(socket);
}

void ControlServer::addConnection(QTcpSocket *socket)
{
    auto *connection = new Connection(socket, Connection::Options(), this);
    connect(connection, &Connection::requestReceived, this, &ControlServer::onRequest);
    connection->setUpgradeHandler([this](Connection *c, const HttpRequest &head) { return onUpgrade(c, head); });
}

bool ControlServer::authorized(const HttpRequest &request) const
{
    if (m_token.isEmpty())
        return true;
    const QByteArray header = request.header("Authorization");
    if (header.startsWith("Bearer ") && constantTimeEquals(header.mid(7).trimmed(), m_token))
        return true;
    const QByteArray query = request.queryItem("token");
    return !query.isNull() && constantTimeEquals(query, m_token);
}

bool ControlServer::onUpgrade(Connection *connection, const HttpRequest &head)
{
    if (head.path != "/api/stream" || !authorized(head))
        return false; // answered as HTTP: 404 or 401
    QTcpSocket *socket = connection->detachSocket();
    if (!socket)
        return false;
    socket->setParent(this);
    m_webSocketServer->handleConnection(socket);
    return true;
}

QByteArray ControlServer::snapshotJson() const
{
    QJsonArray sessions;
    const auto infos = m_monitor->sessions();
    for (const SessionInfo &info : infos)
        sessions.append(info.toJson());
    QJsonObject object{{QStringLiteral("version"), QStringLiteral(SOCKJSPROXY_VERSION)},
                       {QStringLiteral("stats"), m_monitor->stats().toJson()},
                       {QStringLiteral("sessions"), sessions}};
    return QJsonDocument(object).toJson(QJsonDocument::Compact);
}

void ControlServer::onRequest(Connection *connection)
{
    const HttpRequest &request = connection->request();
    if (!authorized(request)) {
        HttpResponse response = jsonError(401, QStringLiteral("missing or wrong token"));
        response.setHeader("WWW-Authenticate", "Bearer");
        return connection->respond(response);
    }
    if (request.path == "/metrics" && request.method == "GET") {
        HttpResponse response(200);
        response.setHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        response.body = m_monitor->prometheusText();
        return connection->respond(response);
    }
    if (request.path == "/api/snapshot" && request.method == "GET") {
        HttpResponse response(200);
        response.setHeader("Content-Type", "application/json;charset=UTF-8");
        response.setHeader("Cache-Control", "no-store");
        response.body = snapshotJson() + '\n';
        return connection->respond(response);
    }
    if (request.path == "/metrics" || request.path == "/api/snapshot") {
        // A known resource, the wrong method: 405, as for the commands.
        HttpResponse response = jsonError(405, QStringLiteral("use GET"));
        response.setHeader("Allow", "GET");
        return connection->respond(response);
    }
    static const QHash<QByteArray, QString> commands{
        {"/api/sessions/disconnect", QStringLiteral("disconnect")},
        {"/api/sessions/send", QStringLiteral("send")},
        {"/api/sessions/inspect", QStringLiteral("inspect")},
        {"/api/counters/clear", QStringLiteral("clear_counters")},
        {"/api/sessions/history", QStringLiteral("history")},
        {"/api/capture", QStringLiteral("capture")},
    };
    const auto command = commands.constFind(request.path);
    if (command == commands.cend())
        return connection->respond(jsonError(404, QStringLiteral("no such endpoint")));
    if (request.method != "POST") {
        HttpResponse response = jsonError(405, QStringLiteral("use POST"));
        response.setHeader("Allow", "POST");
        return connection->respond(response);
    }
    QJsonObject arguments;
    if (!request.body.trimmed().isEmpty()) {
        QJsonParseError parseError;
        const QJsonDocument document = QJsonDocument::fromJson(request.body, &parseError);
        if (!document.isObject())
            return connection->respond(jsonError(400, QStringLiteral("body must be a JSON object")));
        arguments = document.object();
    }
    QString error;
    const QJsonObject answer = runCommand(*command, arguments, nullptr, &error);
    if (!error.isEmpty())
        return connection->respond(jsonError(400, error));
    connection->respond(jsonResponse(200, answer));
}

QJsonObject ControlServer::runCommand(const QString &command, const QJsonObject &arguments, QWebSocket *client,
                                      QString *error)
{
    if (command == QLatin1String("disconnect")) {
        const QJsonValue ids = arguments.value(QStringLiteral("ids"));
        if (!ids.isArray()) {
            *error = QStringLiteral("ids: expected an array of session ids");
            return {};
        }
        QList<QByteArray> list;
        for (const QJsonValue &id : ids.toArray())
            list.append(id.toString().toLatin1());
        m_monitor->disconnectSessions(list);
        return {{QStringLiteral("requested"), list.size()}};
    }
    if (command == QLatin1String("send")) {
        const QJsonValue id = arguments.value(QStringLiteral("id"));
        const QJsonValue message = arguments.value(QStringLiteral("message"));
        if (!id.isString() || !message.isString()) {
            *error = QStringLiteral("expected {\"id\": string, \"message\": string}");
            return {};
        }
        m_monitor->sendToSession(id.toString().toLatin1(), message.toString().toUtf8());
        return {{QStringLiteral("sent"), true}};
    }
    if (command == QLatin1String("inspect")) {
        const QJsonValue id = arguments.value(QStringLiteral("id"));
        if (!id.isString()) {
            *error = QStringLiteral("expected {\"id\": string, \"inspect\": bool}");
            return {};
        }
        const bool inspect = arguments.value(QStringLiteral("inspect")).toBool(true);
        setInspected(client, id.toString().toLatin1(), inspect);
        return {{QStringLiteral("inspecting"), inspect}};
    }
    if (command == QLatin1String("clear_counters")) {
        m_monitor->clearCounters();
        return {{QStringLiteral("cleared"), true}};
    }
    if (command == QLatin1String("capture")) {
        const QJsonValue messages = arguments.value(QStringLiteral("messages"));
        if (!messages.isDouble() || messages.toDouble() < 0 || messages.toDouble() > Monitor::kMaxCapturePerSession
            || messages.toDouble() != std::floor(messages.toDouble())) {
            *error = QStringLiteral("expected {\"messages\": 0 to %1}").arg(Monitor::kMaxCapturePerSession);
            return {};
        }
        m_monitor->setCapture(messages.toInt());
        return {{QStringLiteral("capture"), m_monitor->captureStats().toJson()}};
    }
    if (command == QLatin1String("history")) {
        const QJsonValue id = arguments.value(QStringLiteral("id"));
        if (!id.isString()) {
            *error = QStringLiteral("expected {\"id\": string}");
            return {};
        }
        QJsonArray events;
        const QList<TrafficEvent> history = m_monitor->history(id.toString().toLatin1());
        for (const TrafficEvent &event : history)
            events.append(event.toJson());
        return {{QStringLiteral("session"), id}, {QStringLiteral("history"), events}};
    }
    *error = QStringLiteral("unknown command \"%1\"").arg(command);
    return {};
}

// Inspection is counted per session over clients: a session stays inspected
// while any client (or the HTTP API, client == nullptr) asks for it.
void ControlServer::setInspected(QWebSocket *client, const QByteArray &id, bool inspected)
{
    QSet<QByteArray> &mine = m_inspectedBy[client];
    if (inspected == mine.contains(id))
        return;
    if (inspected) {
        mine.insert(id);
        if (m_inspectCount[id]++ == 0)
            m_monitor->setInspected(id, true);
    } else {
        mine.remove(id);
        if (--m_inspectCount[id] <= 0) {
            m_inspectCount.remove(id);
            m_monitor->setInspected(id, false);
        }
    }
}

void ControlServer::onNewWebSocket()
{
    while (QWebSocket *client = m_webSocketServer->nextPendingConnection()) {
        client->setParent(this);
        m_clients.append(client);
        connect(client, &QWebSocket::disconnected, this, [this, client] { dropClient(client); });
        connect(client, &QWebSocket::textMessageReceived, this, [this, client](const QString &text) {
            const QJsonDocument document = QJsonDocument::fromJson(text.toUtf8());
            const QJsonObject object = document.object();
            QString error;
            QJsonObject answer = runCommand(object.value(QStringLiteral("command")).toString(), object, client, &error);
            if (!error.isEmpty())
                answer = {{QStringLiteral("error"), error}};
            answer.insert(QStringLiteral("type"), QStringLiteral("reply"));
            if (object.contains(QStringLiteral("tag")))
                answer.insert(QStringLiteral("tag"), object.value(QStringLiteral("tag")));
            client->sendTextMessage(QString::fromUtf8(QJsonDocument(answer).toJson(QJsonDocument::Compact)));
        });
        QJsonObject snapshot = QJsonDocument::fromJson(snapshotJson()).object();
        snapshot.insert(QStringLiteral("type"), QStringLiteral("snapshot"));
        client->sendTextMessage(QString::fromUtf8(QJsonDocument(snapshot).toJson(QJsonDocument::Compact)));
        // What was logged before it came; later lines follow as "log" events.
        QJsonArray lines;
        const QList<LogLine> history = LogCapture::instance()->history();
        for (const LogLine &line : history)
            lines.append(line.toJson());
        client->sendTextMessage(
            QString::fromUtf8(QJsonDocument(QJsonObject{{QStringLiteral("type"), QStringLiteral("log_history")},
                                                        {QStringLiteral("lines"), lines}})
                                  .toJson(QJsonDocument::Compact)));
    }
}

void ControlServer::dropClient(QWebSocket *client)
{
    m_clients.removeAll(client);
    const QSet<QByteArray> inspected = m_inspectedBy.value(client);
    for (const QByteArray &id : inspected)
        setInspected(client, id, false);
    m_inspectedBy.remove(client);
    client->deleteLater();
}

void ControlServer::broadcast(const QJsonObject &event)
{
    const QString text = QString::fromUtf8(QJsonDocument(event).toJson(QJsonDocument::Compact));
    for (QWebSocket *client : std::as_const(m_clients))
        client->sendTextMessage(text);
}

} // namespace SockJsProxy
