#pragma once

#include "monitorsource.h"
#include "ratetracker.h"

#include <QBasicTimer>
#include <QHash>
#include <QPointer>
#include <QSet>

namespace SockJsProxy {

class Server;
class Service;
class Session;

// The monitoring layer over a Server in the same process. Reads counters
// the proxy keeps anyway and scans sessions a few times a second, only
// while something listens to sessionsChanged, so it costs the proxy next to
// nothing; the per-message cost is a few integer increments in Session.
//
// Must not outlive the Server.
class Monitor : public MonitorSource
{
    Q_OBJECT

public:
    explicit Monitor(Server *server, QObject *parent = nullptr);
    ~Monitor() override;

    // Starts the timers (sessions every sessionIntervalMs, stats every statsIntervalMs).
    void start(int sessionIntervalMs = 250, int statsIntervalMs = 1000);
    void stop();

    // One stats sample at nowMs (the timer passes the clock; tests pass fake time).
    void sampleStats(qint64 nowMs);
    // Emits sessionsChanged for what changed since the last call.
    void publishSessionChanges();

    // The Server watched; null once it is gone.
    Server *server() const;

    QList<SessionInfo> sessions() const override;
    MonitorStats stats() const override { return m_stats; }
    void disconnectSessions(const QList<QByteArray> &ids) override;
    void sendToSession(const QByteArray &id, const QByteArray &message) override;
    void clearCounters() override;
    void setInspected(const QByteArray &id, bool inspected) override;

    // The proxy's own cumulative counters of a service, its backend link's
    // included, sums filled in (never cleared).
    static Counters rawCounters(const Service *service);
    static BackendStatus backendStatus(const Service *service);
    static SessionInfo sessionInfo(const Service *service, const Session *session);

    // Every counter and gauge in Prometheus text exposition format 0.0.4.
    QByteArray prometheusText() const;

protected:
    void timerEvent(QTimerEvent *event) override;

private:
    struct Seen
    {
        quint64 messagesIn = 0;
        quint64 messagesOut = 0;
        qint64 lastActivityMs = 0;
        qsizetype queued = 0;
        int state = 0;
        QByteArray transport;
    };
    Session *findSession(const QByteArray &id, Service **service = nullptr) const;
    void onTraffic(const QByteArray &sessionId, bool outgoing, const QByteArray &message);

    QPointer<Server> m_server;
    QBasicTimer m_sessionTimer;
    QBasicTimer m_statsTimer;
    QHash<QByteArray, Seen> m_seen;         // what was last published, per session id
    QHash<QString, RateTracker> m_trackers; // per service prefix
    RateTracker m_totalTracker;
    QHash<QString, Counters> m_baseline; // clearCounters()
    Counters m_serverBaseline;
    MonitorStats m_stats;
};

} // namespace SockJsProxy
