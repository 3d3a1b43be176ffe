#pragma once

#include "metrics/monitorsource.h"

#include <QBasicTimer>
#include <QHash>
#include <QUrl>

class QWebSocket;

namespace SockJsProxy {

// A MonitorSource for a proxy in another process: attaches to its control
// endpoint's WebSocket stream (/api/stream), keeps the session table and
// stats it is sent, and sends commands over the same connection.
// Reconnects every two seconds while the proxy is away.
class RemoteMonitor : public MonitorSource
{
    Q_OBJECT

public:
    explicit RemoteMonitor(QObject *parent = nullptr);
    ~RemoteMonitor() override;

    // endpoint: "HOST:PORT" or "PORT" (127.0.0.1); token may be empty.
    void attach(const QString &endpoint, const QByteArray &token);
    void detach();
    bool isConnected() const { return m_connected; }
    QString endpoint() const { return m_endpoint; }

    QList<SessionInfo> sessions() const override { return m_sessions.values(); }
    MonitorStats stats() const override { return m_stats; }
    void disconnectSessions(const QList<QByteArray> &ids) override;
    void sendToSession(const QByteArray &id, const QByteArray &message) override;
    void clearCounters() override;
    void setInspected(const QByteArray &id, bool inspected) override;

protected:
    void timerEvent(QTimerEvent *event) override;

private:
    void open();
    void onText(const QString &text);
    void sendCommand(const QJsonObject &command);

    QWebSocket *m_socket = nullptr;
    QString m_endpoint;
    QUrl m_url;
    bool m_connected = false;
    QBasicTimer m_retryTimer;
    QHash<QByteArray, SessionInfo> m_sessions;
    MonitorStats m_stats;
};

} // namespace SockJsProxy
