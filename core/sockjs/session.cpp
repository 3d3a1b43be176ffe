#include "session.h"

#include "base/logging.h"
#include "frames.h"
#include "transports/transport.h"

#include <QTimerEvent>

namespace SockJsProxy {

Session::Session(SessionHost *host, const QByteArray &urlId, const QByteArray &backendId, Lifetime lifetime,
                 const Options &options, QObject *parent)
    : QObject(parent), m_host(host), m_urlId(urlId), m_backendId(backendId), m_lifetime(lifetime), m_options(options)
{}

Session::~Session()
{
    disconnectReceiver();
    takeFromOutbox(m_outboxBytes);
}

void Session::takeFromOutbox(qint64 bytes)
{
    m_outboxBytes -= bytes;
    if (m_options.budget)
        m_options.budget->remove(bytes);
}

void Session::dropQueue()
{
    m_outbox.clear();
    takeFromOutbox(m_outboxBytes);
}

void Session::disconnectReceiver()
{
    // By handle: QObject::disconnect(receiver) walks every signal of the
    // sender, a noticeable share of a short WebSocket session's cost.
    for (QMetaObject::Connection &connection : m_receiverConnections)
        QObject::disconnect(connection);
    m_receiverConnections = {};
}

void Session::attach(Receiver *receiver)
{
    if (m_state == State::Closed) {
        // Whatever the backend sent before it closed still reaches the client.
        if (!m_outbox.isEmpty())
            deliver(receiver);
        if (!receiver->isFinished())
            receiver->sendClose(m_closeCode, m_closeReason);
        return;
    }
    if (m_receiver) {
        receiver->sendClose(CloseReason::AnotherConnectionCode, CloseReason::anotherConnection());
        return;
    }

    m_receiver = receiver;
    m_transportName = receiver->transportName();
    m_disconnectTimer.stop();
    m_receiverConnections = {
        connect(receiver, &Receiver::finished, this, &Session::onReceiverFinished),
        connect(receiver, &Receiver::writable, this, &Session::flush),
        connect(receiver, &Receiver::messagesReceived, this, &Session::receive),
    };

    if (m_state == State::Connecting && !m_connectSent) {
        m_connectSent = true;
        m_openedAt = QDateTime::currentDateTimeUtc();
        m_stats.lastActivityMs = m_openedAt.toMSecsSinceEpoch();
        if (!m_options.requireAccept) {
            m_state = State::Open;
            m_openPending = true;
        }
        m_host->sessionOpened(this);
        if (m_state == State::Open)
            Q_EMIT stateChanged(m_state);
        else
            m_acceptTimer.start(m_options.acceptTimeoutMs, this);
    }
    if (m_state == State::Connecting)
        return; // no open frame (nor heartbeat) before the backend accepted
    startReceiving();
}

void Session::startReceiving()
{
    if (m_openPending) {
        m_openPending = false;
        report(true, SessionTraffic::Kind::Open, SessionTraffic::Source::Proxy, Frames::open());
        m_receiver->sendOpen(); // a polling receiver ends here and detaches
    }
    if (!m_receiver)
        return;
    m_heartbeatTimer.start(m_options.heartbeatDelayMs, this);
    flush();
}

bool Session::accept()
{
    if (!isAwaitingAccept())
        return false;
    m_acceptTimer.stop();
    m_state = State::Open;
    m_openPending = true;
    Q_EMIT stateChanged(m_state);
    if (!m_inbox.isEmpty()) {
        m_inboxBytes = 0;
        receive(std::exchange(m_inbox, {}));
    }
    if (m_receiver)
        startReceiving();
    return true;
}

void Session::receive(const QList<QByteArray> &messages)
{
    if (isAwaitingAccept()) {
        for (const QByteArray &message : messages) {
            if (m_inbox.size() >= m_options.maxQueuedMessages
                || m_inboxBytes + message.size() > m_options.maxQueuedBytes) {
                qCWarning(lcSession).noquote()
                    << "session" << QString::fromLatin1(m_backendId) << "incoming queue full while waiting for accept ("
                    << m_inbox.size() << "messages," << m_inboxBytes << "bytes): closing it";
                close(1013, QByteArrayLiteral("Incoming queue full"), CloseOrigin::Limit);
                return;
            }
            m_inbox.append(message);
            m_inboxBytes += message.size();
        }
        return;
    }
    if (m_state != State::Open || messages.isEmpty())
        return;
    m_stats.messagesIn += quint64(messages.size());
    for (const QByteArray &message : messages) {
        m_stats.bytesIn += quint64(message.size());
        report(false, SessionTraffic::Kind::Message, SessionTraffic::Source::Client, message);
    }
    m_stats.lastActivityMs = QDateTime::currentMSecsSinceEpoch();
    m_host->sessionMessages(this, messages);
}

void Session::deliver(Receiver *receiver, qint64 maxBytes)
{
    // The first messages up to maxBytes (at least one), or all of them.
    qsizetype count = m_outbox.size();
    qint64 bytes = m_outboxBytes;
    if (maxBytes >= 0 && bytes > maxBytes) {
        count = 0;
        bytes = 0;
        while (count < m_outbox.size() && (count == 0 || bytes + m_outbox.at(count).size() <= maxBytes))
            bytes += m_outbox.at(count++).size();
    }
    QList<QByteArray> batch;
    if (count == m_outbox.size()) {
        batch = std::exchange(m_outbox, {});
    } else {
        batch = m_outbox.first(count);
        m_outbox.remove(0, count);
    }
    takeFromOutbox(bytes);
    m_stats.messagesOut += quint64(batch.size());
    m_stats.bytesOut += quint64(bytes);
    m_stats.lastActivityMs = QDateTime::currentMSecsSinceEpoch();
    if (Q_UNLIKELY(m_inspected || !m_fromMonitor.isEmpty())) {
        for (qsizetype i = 0; i < batch.size(); ++i) {
            auto source = SessionTraffic::Source::Backend;
            if (!m_fromMonitor.isEmpty() && m_fromMonitor.first() == m_deliveredTotal + quint64(i)) {
                m_fromMonitor.removeFirst();
                source = SessionTraffic::Source::Monitor;
            }
            report(true, SessionTraffic::Kind::Message, source, batch.at(i));
        }
    }
    m_deliveredTotal += quint64(batch.size());
    receiver->sendMessages(batch);
}

bool Session::enqueue(const QByteArray &message, SessionTraffic::Source source)
{
    if (m_state == State::Closed)
        return false;
    if (m_outbox.size() >= m_options.maxQueuedMessages || m_outboxBytes + message.size() > m_options.maxQueuedBytes) {
        qCWarning(lcSession).noquote() << "session" << QString::fromLatin1(m_backendId) << "outgoing queue full ("
                                       << m_outbox.size() << "messages," << m_outboxBytes << "bytes): closing it";
        close(1013, QByteArrayLiteral("Outgoing queue full"), CloseOrigin::Limit);
        return false;
    }
    if (Q_UNLIKELY(source == SessionTraffic::Source::Monitor))
        m_fromMonitor.append(m_queuedTotal);
    ++m_queuedTotal;
    m_outbox.append(message);
    m_outboxBytes += message.size();
    if (m_options.budget)
        m_options.budget->add(message.size()); // may emit overLimit(), connected queued
    if (m_receiver)
        m_host->scheduleFlush(this);
    return true;
}

void Session::flush()
{
    if (!m_receiver || m_outbox.isEmpty() || m_state == State::Connecting)
        return;
    // In slices while the receiver can take them, so that what its socket
    // holds unsent stays near its bound however much was queued; the rest
    // waits for writable() (or, on a polling transport, the next request).
    while (m_receiver && !m_outbox.isEmpty() && m_receiver->canWrite())
        deliver(m_receiver, kSliceBytes);
}

void Session::report(bool outgoing, SessionTraffic::Kind kind, SessionTraffic::Source source, const QByteArray &data)
{
    if (Q_UNLIKELY(m_inspected))
        m_host->sessionTraffic(this, SessionTraffic{outgoing, kind, source, data});
}

void Session::close(int code, const QByteArray &reason, CloseOrigin origin)
{
    if (m_state == State::Closed)
        return;
    if (isAwaitingAccept() || m_openPending) {
        // The client never saw the session open: what the backend sent
        // would come before the open frame it never gets.
        dropQueue(); // and gives its bytes back to the queue budget
    }
    m_state = State::Closed;
    m_closeCode = code;
    m_closeReason = reason;
    m_acceptTimer.stop();
    m_inbox.clear();
    m_inboxBytes = 0;
    m_closedBy = origin;
    m_closedAt = QDateTime::currentDateTimeUtc();
    // A client's close comes in; any other goes out to the client.
    const auto reportClose = [&] {
        if (!m_inspected)
            return;
        const bool byClient = origin == CloseOrigin::Client;
        const auto source = byClient                         ? SessionTraffic::Source::Client
                            : origin == CloseOrigin::Backend ? SessionTraffic::Source::Backend
                            : origin == CloseOrigin::Monitor ? SessionTraffic::Source::Monitor
                                                             : SessionTraffic::Source::Proxy;
        report(!byClient, SessionTraffic::Kind::Close, source, Frames::close(code, reason));
    };
    // The host logs the close of an open session (once, with its service).
    if (m_connectSent)
        m_host->sessionClosed(this);
    Q_EMIT stateChanged(m_state);

    if (m_receiver) {
        const QPointer<Receiver> receiver = m_receiver;
        // The close frame is written regardless of canWrite(), so what is
        // queued goes first even to a slow reader; held back, it would only
        // follow the close (the client never reads it).
        if (!m_outbox.isEmpty())
            deliver(receiver);
        reportClose();
        if (receiver && !receiver->isFinished())
            receiver->sendClose(code, reason); // finished() detaches it
    } else {
        reportClose();
        if (m_lifetime == Lifetime::Connection)
            detachReceiver();
        else
            startDisconnectTimer();
    }
}

void Session::onReceiverFinished(bool aborted)
{
    detachReceiver();
    if (m_lifetime == Lifetime::Connection) {
        // A WebSocket session lives exactly as long as its connection.
        close(aborted ? CloseReason::InterruptedCode : 1000,
              aborted ? CloseReason::interrupted() : QByteArrayLiteral("Normal closure"), CloseOrigin::Client);
        if (!m_expired) {
            m_expired = true;
            m_host->sessionExpired(this);
        }
        return;
    }
    if (aborted && m_connectSent)
        close(CloseReason::InterruptedCode, CloseReason::interrupted(), CloseOrigin::Client);
    startDisconnectTimer();
}

void Session::detachReceiver()
{
    disconnectReceiver();
    m_receiver = nullptr;
    m_heartbeatTimer.stop();
}

void Session::startDisconnectTimer()
{
    if (!m_receiver && !m_expired)
        m_disconnectTimer.start(m_options.disconnectDelayMs, this);
}

void Session::timerEvent(QTimerEvent *event)
{
    if (event->timerId() == m_heartbeatTimer.timerId()) {
        if (m_receiver && m_receiver->canWrite()) {
            report(true, SessionTraffic::Kind::Heartbeat, SessionTraffic::Source::Proxy, Frames::heartbeat());
            m_receiver->sendHeartbeat();
        }
        return;
    }
    if (event->timerId() == m_acceptTimer.timerId()) {
        m_acceptTimer.stop();
        if (!isAwaitingAccept())
            return;
        m_host->sessionAcceptTimedOut(this);
        close(kAcceptTimeoutCode, acceptTimeoutReason(), CloseOrigin::Timeout);
        return;
    }
    if (event->timerId() == m_disconnectTimer.timerId()) {
        m_disconnectTimer.stop();
        if (m_receiver || m_expired)
            return;
        // No receiver for the disconnect delay: the client is gone.
        close(CloseReason::InterruptedCode, CloseReason::interrupted(), CloseOrigin::Timeout);
        m_expired = true;
        m_host->sessionExpired(this);
        return;
    }
    QObject::timerEvent(event);
}

} // namespace SockJsProxy
