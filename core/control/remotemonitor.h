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
//
// While the proxy is away it tries again after 1 s, then after twice as
// long each time, up to 30 s (back to 1 s once attached). A refused token
// (401) is not retried: connectionChanged(false, "wrong or missing control
// token") and nothing more until attach() or reconnect().
class RemoteMonitor : public MonitorSource
{
    Q_OBJECT

public:
    static constexpr int kFirstRetryMs = 1000;
    static constexpr int kMaxRetryMs = 30000;
    static QString unauthorizedText() { return QStringLiteral("wrong or missing control token"); }

    explicit RemoteMonitor(QObject *parent = nullptr);
    ~RemoteMonitor() override;

    // endpoint: "HOST:PORT" or "PORT" (127.0.0.1); token may be empty.
    void attach(const QString &endpoint, const QByteArray &token);
    void detach();
    // Tries again now: after a refused token, or instead of waiting.
    void reconnect();
    bool isConnected() const { return m_connected; }
    QString endpoint() const { return m_endpoint; }
    // The last attempt was refused for its token; no more are planned.
    bool isUnauthorized() const { return m_unauthorized; }
    // Whether another attempt is planned, and in how long at most.
    bool isRetryPending() const { return m_retryTimer.isActive(); }
    int currentRetryDelayMs() const { return m_currentRetryMs; }

    QList<SessionInfo> sessions() const override { return m_sessions.values(); }
    MonitorStats stats() const override { return m_stats; }
    void disconnectSessions(const QList<QByteArray> &ids) override;
    void sendToSession(const QByteArray &id, const QByteArray &message) override;
    void clearCounters() override;
    void setInspected(const QByteArray &id, bool inspected) override;
    // Sent again whenever the stream is (re)opened: a restarted proxy starts without.
    void setCapture(int messagesPerSession) override;
    void requestHistory(const QByteArray &id) override;

protected:
    void timerEvent(QTimerEvent *event) override;

private:
    void open();
    void onText(const QString &text);
    void sendCommand(const QJsonObject &command);
    // The attempt failed or the stream ended: forget the sessions, say why, plan the next.
    void failed(const QString &detail, bool retry);

    QWebSocket *m_socket = nullptr;
    QString m_endpoint;
    QUrl m_url;
    bool m_connected = false;
    bool m_unauthorized = false;
    int m_nextRetryMs = kFirstRetryMs;
    int m_currentRetryMs = 0;
    int m_capture = 0;
    QBasicTimer m_retryTimer;
    QHash<QByteArray, SessionInfo> m_sessions;
    MonitorStats m_stats;
};

} // namespace SockJsProxy
