#include "remotemonitor.h"

#include "config/commandline.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QTimerEvent>
#include <QUrlQuery>
#include <QWebSocket>

namespace SockJsProxy {

namespace {

// The HTTP status of a refused handshake, from QWebSocket's error text
// ("... Unhandled http status code: 401 (Unauthorized)."); 0 if none.
int handshakeStatus(const QString &error)
{
    static const QRegularExpression pattern(QStringLiteral("status code: (\\d{3})"));
    const QRegularExpressionMatch match = pattern.match(error);
    return match.hasMatch() ? match.captured(1).toInt() : 0;
}

} // namespace

RemoteMonitor::RemoteMonitor(QObject *parent) : MonitorSource(parent)
{
    qRegisterMetaType<SockJsProxy::SessionInfo>();
    qRegisterMetaType<SockJsProxy::MonitorStats>();
    qRegisterMetaType<SockJsProxy::TrafficEvent>();
}

RemoteMonitor::~RemoteMonitor() { detach(); }

void RemoteMonitor::attach(const QString &endpoint, const QByteArray &token)
{
    detach();
    QHostAddress address;
    quint16 port = 0;
    QString error;
    if (!CommandLine::parseControlEndpoint(endpoint, &address, &port, &error)) {
        Q_EMIT connectionChanged(false, error);
        return;
    }
    m_endpoint = endpoint;
    m_url = QUrl(QStringLiteral("ws://%1:%2/api/stream")
                     .arg(address.protocol() == QAbstractSocket::IPv6Protocol
                              ? QLatin1Char('[') + address.toString() + QLatin1Char(']')
                              : address.toString())
                     .arg(port));
    if (!token.isEmpty())
        m_url.setQuery(QUrlQuery{{QStringLiteral("token"), QString::fromUtf8(token)}});
    open();
}

void RemoteMonitor::detach()
{
    m_retryTimer.stop();
    m_unauthorized = false;
    m_nextRetryMs = kFirstRetryMs;
    m_currentRetryMs = 0;
    if (m_socket) {
        m_socket->disconnect(this);
        m_socket->abort();
        m_socket->deleteLater();
        m_socket = nullptr;
    }
    if (m_connected) {
        m_connected = false;
        Q_EMIT connectionChanged(false, QStringLiteral("detached"));
    }
    QList<QByteArray> removed = m_sessions.keys();
    m_sessions.clear();
    if (!removed.isEmpty())
        Q_EMIT sessionsChanged({}, removed);
}

void RemoteMonitor::reconnect()
{
    if (m_url.isEmpty() || m_socket)
        return;
    m_retryTimer.stop();
    m_unauthorized = false;
    m_currentRetryMs = 0;
    open();
}

void RemoteMonitor::failed(const QString &detail, bool retry)
{
    m_connected = false;
    const QList<QByteArray> removed = m_sessions.keys();
    m_sessions.clear();
    if (!removed.isEmpty())
        Q_EMIT sessionsChanged({}, removed);
    m_currentRetryMs = 0;
    if (retry) {
        m_currentRetryMs = m_nextRetryMs;
        m_nextRetryMs = qMin(2 * m_nextRetryMs, kMaxRetryMs);
        m_retryTimer.start(m_currentRetryMs, this);
    }
    Q_EMIT connectionChanged(false, detail);
}

void RemoteMonitor::open()
{
    m_socket = new QWebSocket(QString(), QWebSocketProtocol::VersionLatest, this);
    m_socket->setMaxAllowedIncomingMessageSize(256 * 1024 * 1024);
    connect(m_socket, &QWebSocket::connected, this, [this] {
        m_connected = true;
        m_unauthorized = false;
        m_retryTimer.stop();
        m_nextRetryMs = kFirstRetryMs;
        m_currentRetryMs = 0;
        if (m_capture > 0)
            setCapture(m_capture);
        Q_EMIT connectionChanged(true, m_endpoint);
    });
    connect(m_socket, &QWebSocket::textMessageReceived, this, &RemoteMonitor::onText);
    connect(m_socket, &QWebSocket::disconnected, this, [this] {
        const bool wasConnected = m_connected;
        const QString reason = m_socket ? m_socket->errorString() : QString();
        if (m_socket) {
            m_socket->deleteLater();
            m_socket = nullptr;
        }
        failed(wasConnected ? QStringLiteral("connection lost") : QStringLiteral("cannot connect (%1)").arg(reason),
               true);
    });
    // A refused handshake (wrong token, not a control endpoint) is reported
    // through error() alone: the TCP connection stays open and
    // disconnected() never comes, so give up on this socket here.
    connect(m_socket, qOverload<QAbstractSocket::SocketError>(&QWebSocket::error), this, [this] {
        if (m_connected || !m_socket)
            return; // an open stream ends through disconnected()
        QWebSocket *socket = m_socket;
        m_socket = nullptr;
        socket->disconnect(this);
        const QString reason = socket->errorString();
        socket->abort();
        socket->deleteLater();
        const int status = handshakeStatus(reason);
        if (status == 401) {
            // Trying again with the same token cannot help: wait for the user.
            m_unauthorized = true;
            failed(unauthorizedText(), false);
        } else if (status != 0) {
            failed(QStringLiteral("cannot connect (the endpoint answered HTTP %1)").arg(status), true);
        } else {
            failed(QStringLiteral("cannot connect (%1)").arg(reason), true);
        }
    });
    m_socket->open(m_url);
}

void RemoteMonitor::timerEvent(QTimerEvent *event)
{
    if (event->timerId() != m_retryTimer.timerId())
        return MonitorSource::timerEvent(event);
    m_retryTimer.stop();
    if (!m_socket && !m_url.isEmpty())
        open();
}

void RemoteMonitor::onText(const QString &text)
{
    const QJsonObject event = QJsonDocument::fromJson(text.toUtf8()).object();
    const QString type = event.value(QStringLiteral("type")).toString();
    if (type == QLatin1String("snapshot")) {
        // The stats first: whoever handles sessionsChanged may ask stats()
        // which proxy (or cluster node) the sessions are of.
        m_stats = MonitorStats::fromJson(event.value(QStringLiteral("stats")).toObject());
        const QList<QByteArray> removed = m_sessions.keys();
        m_sessions.clear();
        QList<SessionInfo> upserted;
        for (const QJsonValue &value : event.value(QStringLiteral("sessions")).toArray()) {
            const SessionInfo info = SessionInfo::fromJson(value.toObject());
            m_sessions.insert(info.id, info);
            upserted.append(info);
        }
        QList<QByteArray> gone;
        for (const QByteArray &id : removed) {
            if (!m_sessions.contains(id))
                gone.append(id);
        }
        Q_EMIT sessionsChanged(upserted, gone);
        Q_EMIT statsUpdated(m_stats);
    } else if (type == QLatin1String("sessions")) {
        QList<SessionInfo> upserted;
        for (const QJsonValue &value : event.value(QStringLiteral("upserted")).toArray()) {
            const SessionInfo info = SessionInfo::fromJson(value.toObject());
            m_sessions.insert(info.id, info);
            upserted.append(info);
        }
        QList<QByteArray> removed;
        for (const QJsonValue &value : event.value(QStringLiteral("removed")).toArray()) {
            const QByteArray id = value.toString().toLatin1();
            m_sessions.remove(id);
            removed.append(id);
        }
        Q_EMIT sessionsChanged(upserted, removed);
    } else if (type == QLatin1String("stats")) {
        m_stats = MonitorStats::fromJson(event.value(QStringLiteral("stats")).toObject());
        Q_EMIT statsUpdated(m_stats);
    } else if (type == QLatin1String("traffic")) {
        Q_EMIT traffic(TrafficEvent::fromJson(event));
    } else if (type == QLatin1String("log")) {
        const LogLine line = LogLine::fromJson(event);
        Q_EMIT logMessage(line.level, line.category, line.text, line.time);
    } else if (type == QLatin1String("log_history")) {
        for (const QJsonValue &value : event.value(QStringLiteral("lines")).toArray()) {
            const LogLine line = LogLine::fromJson(value.toObject());
            Q_EMIT logMessage(line.level, line.category, line.text, line.time);
        }
    } else if (type == QLatin1String("reply") && event.contains(QStringLiteral("error"))) {
        Q_EMIT logMessage(QStringLiteral("warning"), QStringLiteral("monitor"),
                          QStringLiteral("command refused: ") + event.value(QStringLiteral("error")).toString());
    } else if (type == QLatin1String("reply") && event.contains(QStringLiteral("history"))) {
        QList<TrafficEvent> events;
        for (const QJsonValue &value : event.value(QStringLiteral("history")).toArray())
            events.append(TrafficEvent::fromJson(value.toObject()));
        Q_EMIT historyReady(event.value(QStringLiteral("session")).toString().toLatin1(), events);
    }
}

void RemoteMonitor::sendCommand(const QJsonObject &command)
{
    if (!m_socket || !m_connected)
        return;
    m_socket->sendTextMessage(QString::fromUtf8(QJsonDocument(command).toJson(QJsonDocument::Compact)));
}

void RemoteMonitor::disconnectSessions(const QList<QByteArray> &ids)
{
    QJsonArray array;
    for (const QByteArray &id : ids)
        array.append(QString::fromLatin1(id));
    sendCommand({{QStringLiteral("command"), QStringLiteral("disconnect")}, {QStringLiteral("ids"), array}});
}

void RemoteMonitor::sendToSession(const QByteArray &id, const QByteArray &message)
{
    sendCommand({{QStringLiteral("command"), QStringLiteral("send")},
                 {QStringLiteral("id"), QString::fromLatin1(id)},
                 {QStringLiteral("message"), QString::fromUtf8(message)}});
}

void RemoteMonitor::clearCounters() { sendCommand({{QStringLiteral("command"), QStringLiteral("clear_counters")}}); }

void RemoteMonitor::setInspected(const QByteArray &id, bool inspected)
{
    sendCommand({{QStringLiteral("command"), QStringLiteral("inspect")},
                 {QStringLiteral("id"), QString::fromLatin1(id)},
                 {QStringLiteral("inspect"), inspected}});
}

void RemoteMonitor::setCapture(int messagesPerSession)
{
    m_capture = messagesPerSession;
    sendCommand({{QStringLiteral("command"), QStringLiteral("capture")}, {QStringLiteral("messages"), m_capture}});
}

void RemoteMonitor::requestHistory(const QByteArray &id)
{
    sendCommand(
        {{QStringLiteral("command"), QStringLiteral("history")}, {QStringLiteral("id"), QString::fromLatin1(id)}});
}

} // namespace SockJsProxy
