#pragma once

#include "base/queuebudget.h"
#include "transports/transport.h"

#include <QBasicTimer>
#include <QByteArray>
#include <QDateTime>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QString>

#include <array>

namespace SockJsProxy {

class Session;

// Something that passed on a session being inspected (Session::setInspected):
// a message either way, or a frame of the protocol's own (open, heartbeat,
// close). Reported to SessionHost::sessionTraffic.
struct SessionTraffic
{
    enum class Kind { Message, Open, Heartbeat, Close };
    // Who it came from: the client, the backend, the monitor (a message it
    // sent, a disconnect it asked for) or the proxy itself (open frames,
    // heartbeats, closes on timeout, limits and shutdown).
    enum class Source { Client, Backend, Monitor, Proxy };

    bool outgoing = false; // towards the client
    Kind kind = Kind::Message;
    Source source = Source::Client;
    QByteArray data; // the message; for Open, Heartbeat and Close the SockJS frame ("o", "h", c[code,"reason"])
};

// What a Session reports to the service that owns it (and, through it, to
// the backend). Tests implement it with a recorder.
class SessionHost
{
public:
    virtual ~SessionHost() = default;
    // The session starts: tell the backend "connect". The client gets the
    // open frame right after, or, with Options::requireAccept, once the
    // backend accepted (Session::accept()).
    virtual void sessionOpened(Session *session) = 0;
    // Messages the client sent, in order.
    virtual void sessionMessages(Session *session, const QList<QByteArray> &messages) = 0;
    // The session closed for whatever reason: tell the backend "disconnect".
    // Called once per session that was opened (sessionOpened).
    virtual void sessionClosed(Session *session) = 0;
    // The backend did not accept the session within
    // Options::acceptTimeoutMs; the session closes next.
    virtual void sessionAcceptTimedOut(Session *session) { Q_UNUSED(session) }
    // Only for sessions being inspected (setInspected): what passed.
    virtual void sessionTraffic(Session *session, const SessionTraffic &traffic)
    {
        Q_UNUSED(session)
        Q_UNUSED(traffic)
    }
    // The session is over and may be forgotten and deleted (deleteLater).
    virtual void sessionExpired(Session *session) = 0;
    // Messages were queued for an attached receiver; call flush() soon
    // (coalesces a burst from the backend into one frame).
    virtual void scheduleFlush(Session *session) = 0;
};

// One SockJS session: the state machine, the queue of outgoing messages and
// the timers. It outlives the HTTP requests that carry it (one receiver at a
// time, held in a QPointer) and never asks which transport it has.
//
// HTTP sessions live until no receiver was attached for the disconnect
// delay; WebSocket sessions (Lifetime::Connection) end with their connection.
// After close() the session answers every receiver with the close frame
// until it expires.
class Session : public QObject
{
    Q_OBJECT

public:
    // Queued messages go to the client in batches of at most this many
    // bytes (or one larger message), each only while the receiver can write.
    static constexpr qint64 kSliceBytes = 64 * 1024;

    enum class State { Connecting, Open, Closed };
    enum class Lifetime { Requests, Connection };
    // Who closed a session, for the monitor: the client (it left, or broke
    // the protocol), its backend ("disconnect"), the monitor (Disconnect),
    // the disconnect delay (no receiver came back), a limit (its outgoing
    // queue), the proxy's shutdown, or the proxy for another reason.
    enum class CloseOrigin { None, Client, Backend, Monitor, Timeout, Limit, Shutdown, Proxy };

    // Facts about the client, for the monitor; set once by the service.
    struct ClientInfo
    {
        QString address; // the client's (behind a load balancer: the real one)
        quint16 port = 0;
        QString origin;
        QString userAgent;
        QString via; // the load balancer it came through; empty when direct
    };

    struct Stats
    {
        quint64 messagesIn = 0;  // client -> backend
        quint64 messagesOut = 0; // backend -> client, handed to a receiver
        quint64 bytesIn = 0;
        quint64 bytesOut = 0;
        qint64 lastActivityMs = 0; // ms since the epoch
    };

    struct Options
    {
        int heartbeatDelayMs = 25000;
        int disconnectDelayMs = 5000;
        qsizetype maxQueuedMessages = 10000; // outbox bound (slow reader)
        qint64 maxQueuedBytes = 16 * 1024 * 1024;
        // Where the outbox's bytes count too (limits.max_queued_bytes_total);
        // must outlive the session. None: counted nowhere else.
        QueueBudget *budget = nullptr;
        // The client's open frame waits for accept() (the service's
        // require_accept); after acceptTimeoutMs the session closes.
        bool requireAccept = false;
        int acceptTimeoutMs = 5000;
    };

    // The close of a session its backend did not accept in time.
    static constexpr int kAcceptTimeoutCode = 3008; // "Timeout" in the IANA registry
    static QByteArray acceptTimeoutReason() { return QByteArrayLiteral("Backend did not accept"); }

    Session(SessionHost *host, const QByteArray &urlId, const QByteArray &backendId, Lifetime lifetime,
            const Options &options, QObject *parent = nullptr);
    ~Session() override;

    QByteArray urlId() const { return m_urlId; }         // from the URL; empty for raw WebSocket
    QByteArray backendId() const { return m_backendId; } // the id backends see, unique per process
    State state() const { return m_state; }
    Lifetime lifetime() const { return m_lifetime; }
    bool hasReceiver() const { return !m_receiver.isNull(); }
    Receiver *receiver() const { return m_receiver.data(); }
    QByteArray transportName() const { return m_transportName; }
    qsizetype queuedMessages() const { return m_outbox.size(); }
    qint64 queuedBytes() const { return m_outboxBytes; }
    int closeCode() const { return m_closeCode; }
    QByteArray closeReason() const { return m_closeReason; }
    CloseOrigin closedBy() const { return m_closedBy; } // None until closed
    QDateTime closedAt() const { return m_closedAt; }
    QDateTime openedAt() const { return m_openedAt; }
    const Stats &stats() const { return m_stats; }
    const ClientInfo &clientInfo() const { return m_client; }
    void setClientInfo(const ClientInfo &client) { m_client = client; }
    // While inspected, every message is reported to SessionHost::sessionTraffic.
    void setInspected(bool inspected) { m_inspected = inspected; }
    bool isInspected() const { return m_inspected; }

    // A receiving request or connection arrived for this session: opens the
    // session, delivers what is queued, or answers with the close frame or
    // c[2010,...] when another receiver is attached. With
    // Options::requireAccept the first one tells the backend "connect" and
    // then waits, without the open frame, until accept() or close().
    void attach(Receiver *receiver);
    // The backend accepted the session: the client gets the open frame and
    // what was queued, the backend what the client sent meanwhile. False
    // (nothing happens) when the session was not waiting for it.
    bool accept();
    // Connected to the backend and waiting for accept().
    bool isAwaitingAccept() const { return m_state == State::Connecting && m_connectSent; }

    // Messages from the client (xhr_send, jsonp_send, WebSocket). While the
    // session waits for accept() they are held (up to the outbox's bounds;
    // more closes the session with 1013 "Incoming queue full").
    void receive(const QList<QByteArray> &messages);

    // A message for the client. Returns false when it was not queued (the
    // session is closed, or the outbox is over its bound: then the session
    // closes with 1013 "Outgoing queue full"). source (Backend or Monitor) is
    // what the message is reported as while the session is inspected.
    bool enqueue(const QByteArray &message, SessionTraffic::Source source = SessionTraffic::Source::Backend);
    // Hands everything queued to the receiver, if one is attached and ready.
    void flush();

    // Closes the session: the backend is told, the receiver (if any) gets
    // what is queued and the close frame. A session whose client never got
    // the open frame (refused or timed out while waiting for accept())
    // drops what is queued: its client gets the close frame alone.
    // Idempotent: the first close's code, reason and origin stay.
    void close(int code, const QByteArray &reason, CloseOrigin origin = CloseOrigin::Proxy);
    // Drops every queued message (the process is over its queue budget):
    // a close() that follows sends the close frame alone.
    void dropQueue();

    // What the backend's "connect" carries (the service's connect_info;
    // empty without it). Set once by the service, cleared once sent.
    QByteArray connectData() const { return m_connectData; }
    void setConnectData(const QByteArray &data) { m_connectData = data; }

Q_SIGNALS:
    void stateChanged(SockJsProxy::Session::State state);

protected:
    void timerEvent(QTimerEvent *event) override;

private:
    void onReceiverFinished(bool aborted);
    // Hands the first messages of the outbox, up to maxBytes of them (at
    // least one), to receiver as one batch; all of them when maxBytes < 0.
    void deliver(Receiver *receiver, qint64 maxBytes = -1);
    void detachReceiver();
    void disconnectReceiver();
    void startDisconnectTimer();
    void takeFromOutbox(qint64 bytes);
    // Sends the open frame if it is due, then what is queued.
    void startReceiving();
    void report(bool outgoing, SessionTraffic::Kind kind, SessionTraffic::Source source, const QByteArray &data);

    SessionHost *m_host;
    QByteArray m_urlId;
    QByteArray m_backendId;
    QByteArray m_transportName;
    Lifetime m_lifetime;
    Options m_options;
    State m_state = State::Connecting;
    QPointer<Receiver> m_receiver;
    std::array<QMetaObject::Connection, 3> m_receiverConnections; // to m_receiver
    QList<QByteArray> m_outbox;
    qint64 m_outboxBytes = 0;
    QBasicTimer m_heartbeatTimer;
    QBasicTimer m_disconnectTimer;
    QBasicTimer m_acceptTimer;
    int m_closeCode = 0;
    QByteArray m_closeReason;
    CloseOrigin m_closedBy = CloseOrigin::None;
    QDateTime m_closedAt;
    // Outbox positions (counted from the first message ever queued) of
    // messages the monitor sent, oldest first; reported as its own.
    QList<quint64> m_fromMonitor;
    quint64 m_queuedTotal = 0;
    quint64 m_deliveredTotal = 0;
    QDateTime m_openedAt;
    Stats m_stats;
    ClientInfo m_client;
    QByteArray m_connectData;
    QList<QByteArray> m_inbox; // from the client while waiting for accept()
    qint64 m_inboxBytes = 0;
    bool m_connectSent = false; // the backend was told "connect"
    bool m_openPending = false; // open, but the client has no open frame yet
    bool m_expired = false;
    bool m_inspected = false;
};

} // namespace SockJsProxy
