#pragma once

#include "monitortypes.h"

#include <QObject>

namespace SockJsProxy {

// What a monitor front end watches and drives, whether the proxy runs in
// the same process (Monitor) or elsewhere (RemoteMonitor, over the control
// endpoint). Updates are coalesced: sessionsChanged a few times a second,
// statsUpdated once per sampling interval; never one signal per message,
// except traffic of the sessions being inspected.
class MonitorSource : public QObject
{
    Q_OBJECT

public:
    using QObject::QObject;

    virtual QList<SessionInfo> sessions() const = 0;
    virtual MonitorStats stats() const = 0;

    // Commands. Disconnect: clients get c[3000,"Go away!"], backends "disconnect".
    virtual void disconnectSessions(const QList<QByteArray> &ids) = 0;
    virtual void sendToSession(const QByteArray &id, const QByteArray &message) = 0;
    // Counters shown from now on start at zero (the proxy's own, as exported
    // to Prometheus, never go back).
    virtual void clearCounters() = 0;
    // Traffic of inspected sessions arrives through traffic().
    virtual void setInspected(const QByteArray &id, bool inspected) = 0;
    // The bounded capture of every session's last messagesPerSession
    // messages (0: off, the default; Monitor says how it is bounded), so
    // that a session's recent history is there when it is inspected.
    virtual void setCapture(int messagesPerSession) { Q_UNUSED(messagesPerSession) }
    // Asks for the captured messages of a session; historyReady() answers
    // (with none when nothing was captured). Sources without a capture never answer.
    virtual void requestHistory(const QByteArray &id) { Q_UNUSED(id) }

Q_SIGNALS:
    // Sessions added or changed since the last signal, and those gone.
    void sessionsChanged(const QList<SockJsProxy::SessionInfo> &upserted, const QList<QByteArray> &removed);
    void statsUpdated(const SockJsProxy::MonitorStats &stats);
    void traffic(const SockJsProxy::TrafficEvent &event);
    // Captured messages of a session, oldest first (requestHistory()).
    void historyReady(const QByteArray &id, const QList<SockJsProxy::TrafficEvent> &events);
    // level: "debug", "info", "warning", "critical"; time: when the proxy
    // logged it (invalid: just now). Lines logged before a remote source
    // attached come first, with their times.
    void logMessage(const QString &level, const QString &category, const QString &text,
                    const QDateTime &time = QDateTime());
    // Remote sources: attached or not (detail says why).
    void connectionChanged(bool connected, const QString &detail);
};

} // namespace SockJsProxy
