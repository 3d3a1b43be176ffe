#pragma once

#include "monitorsource.h"
#include "ratetracker.h"

#include "sockjs/session.h"

#include <QBasicTimer>
#include <QHash>
#include <QPointer>
#include <QSet>

#include <deque>

namespace SockJsProxy {

class Server;
class Service;
class Session;

// The monitoring layer over a Server in the same process. Reads counters
// the proxy keeps anyway and scans sessions a few times a second, only
// while something listens to sessionsChanged, so it costs the proxy next to
// nothing; the per-message cost is a few integer increments in Session.
//
// A session that ends is published once more, closed (code, reason, who
// closed), in the same sessionsChanged that removes it, however short it
// lived.
//
// The capture (setCapture(), off by default) keeps the last N messages of
// every session, live or ended, for history(): each message cut to
// kCaptureMessageBytes, and at most kCaptureBytes of message data and
// kCaptureMessages messages in all (the oldest go first), so it holds at
// most about kCaptureBytes plus some 100 bytes a message. While it is on,
// every session reports its traffic (the cost of inspecting them all).
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
    void setCapture(int messagesPerSession) override;
    // Emits historyReady() at once.
    void requestHistory(const QByteArray &id) override;

    static constexpr qsizetype kCaptureMessageBytes = 16 * 1024;
    static constexpr qint64 kCaptureBytes = 32 * 1024 * 1024;
    static constexpr qint64 kCaptureMessages = 200'000;
    static constexpr int kMaxCapturePerSession = 10'000;
    int capture() const { return m_capture.perSession; }
    CaptureStats captureStats() const { return m_capture; }
    // The captured messages of a session, oldest first.
    QList<TrafficEvent> history(const QByteArray &id) const;

    // This start of a proxy: random, fixed for the Monitor's life.
    QByteArray instanceId() const { return m_instance; }
    QDateTime startedAt() const { return m_startedAt; }

    // "client", "backend", "monitor", "timeout", "limit", "shutdown", "proxy"; "" for None.
    static QString closeOriginName(Session::CloseOrigin origin);
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
    void onTraffic(const QByteArray &sessionId, const SessionTraffic &traffic);
    void onSessionCreated(Session *session);
    void onSessionRemoved(const Service *service, Session *session);
    void keep(const TrafficEvent &event);
    void evictOldest();

    QPointer<Server> m_server;
    QBasicTimer m_sessionTimer;
    QBasicTimer m_statsTimer;
    QHash<QByteArray, Seen> m_seen;         // what was last published, per session id
    QHash<QString, RateTracker> m_trackers; // per service prefix
    RateTracker m_totalTracker;
    QHash<QString, Counters> m_baseline; // clearCounters()
    Counters m_serverBaseline;
    MonitorStats m_stats;
    QByteArray m_instance;
    QDateTime m_startedAt;
    QSet<QByteArray> m_inspected;           // by setInspected(), whose traffic() is emitted
    QHash<QByteArray, SessionInfo> m_ended; // removed since the last publish, as they ended
    quint64 m_trafficSeq = 0;
    // The capture: per session, and (session, seq) of every event in the
    // order kept, to push the oldest out (entries already gone are skipped).
    CaptureStats m_capture;
    QHash<QByteArray, std::deque<TrafficEvent>> m_captured;
    std::deque<std::pair<QByteArray, quint64>> m_captureOrder;
};

} // namespace SockJsProxy
