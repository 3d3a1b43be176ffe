#include "remotemonitor.h"

#include "config/commandline.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTimerEvent>
#include <QUrlQuery>
#include <QWebSocket>

namespace SockJsProxy {

namespace {
constexpr int kRetryMs = 2000;
}

RemoteMonitor::RemoteMonitor(QObject *parent) : MonitorSource(parent) {}

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

void RemoteMonitor::open()
{
    m_socket = new QWebSocket(QString(), QWebSocketProtocol::VersionLatest, this);
    m_socket->setMaxAllowedIncomingMessageSize(256 * 1024 * 1024);
    connect(m_socket, &QWebSocket::connected, this, [this] {
        m_connected = true;
        m_retryTimer.stop();
        Q_EMIT connectionChanged(true, m_endpoint);
    });
    connect(m_socket, &QWebSocket::textMessageReceived, this, &RemoteMonitor::onText);
    connect(m_socket, &QWebSocket::disconnected, this, [this] {
        const bool wasConnected = m_connected;
        m_connected = false;
        const QString reason = m_socket ? m_socket->errorString() : QString();
        if (m_socket) {
            m_socket->deleteLater();
            m_socket = nullptr;
        }
        const QList<QByteArray> removed = m_sessions.keys();
        m_sessions.clear();
        if (!removed.isEmpty())
            Q_EMIT sessionsChanged({}, removed);
        Q_EMIT connectionChanged(false, wasConnected ? QStringLiteral("connection lost, retrying")
                                                     : QStringLiteral("cannot connect (%1), retrying").arg(reason));
        m_retryTimer.start(kRetryMs, this);
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
        Q_EMIT connectionChanged(false, QStringLiteral("cannot connect (%1), retrying").arg(reason));
        m_retryTimer.start(kRetryMs, this);
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
        m_stats = MonitorStats::fromJson(event.value(QStringLiteral("stats")).toObject());
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
        Q_EMIT logMessage(event.value(QStringLiteral("level")).toString(),
                          event.value(QStringLiteral("category")).toString(),
                          event.value(QStringLiteral("text")).toString());
    } else if (type == QLatin1String("reply") && event.contains(QStringLiteral("error"))) {
        Q_EMIT logMessage(QStringLiteral("warning"), QStringLiteral("monitor"),
                          QStringLiteral("command refused: ") + event.value(QStringLiteral("error")).toString());
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

} // namespace SockJsProxy
