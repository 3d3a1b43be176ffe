#pragma once

#include "zmq/zmqsocket.h"

#include <QByteArray>
#include <QList>
#include <QObject>

namespace SockJsProxy::Test {

// A ZeroMQ backend inside the test process, speaking the proxy's wire
// protocol: PULL connected to the proxy's "in", PUSH connected to its "out".
// Records every event it receives; optionally echoes messages or closes
// every session as soon as it connects (the "/close" application).
class TestBackend : public QObject
{
    Q_OBJECT

public:
    enum class Mode { Record, Echo, CloseOnConnect };

    struct Event
    {
        QByteArray type;
        QByteArray sessionId;
        QByteArray data;
    };

    TestBackend(const QString &inEndpoint, const QString &outEndpoint, Mode mode, QObject *parent = nullptr);

    // Not connected yet: connectTo() each proxy, as a backend shared by
    // several proxies does (ZeroMQ deals its messages round-robin). With
    // immediate, its PUSH queues nothing for a proxy it is not connected to
    // (ZMQ_IMMEDIATE), so a dead proxy gets no share of the replies.
    TestBackend(Mode mode, bool immediate, QObject *parent = nullptr);
    bool connectTo(const QString &inEndpoint, const QString &outEndpoint);

    QList<Event> events() const { return m_events; }
    QList<Event> eventsOfType(const QByteArray &type) const;
    QList<QByteArray> sessionIds(const QByteArray &type) const; // ids of the events of that type, in order
    void clear() { m_events.clear(); }

    void sendMessage(const QByteArray &sessionId, const QByteArray &data);
    void sendDisconnect(const QByteArray &sessionId);
    // disconnect with data (a close code and reason as JSON, or anything).
    void sendDisconnect(const QByteArray &sessionId, const QByteArray &data);
    // accept (require_accept): frames accept, id, empty.
    void sendAccept(const QByteArray &sessionId);
    void sendRaw(const QList<QByteArray> &frames);

Q_SIGNALS:
    void eventReceived(const QByteArray &type, const QByteArray &sessionId, const QByteArray &data);

private:
    void onMessage(const SockJsProxy::ZmqMessage &message);

    ZmqSocket m_pull;
    ZmqSocket m_push;
    Mode m_mode;
    QList<Event> m_events;
};

} // namespace SockJsProxy::Test
