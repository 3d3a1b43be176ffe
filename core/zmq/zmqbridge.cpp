#include "zmqbridge.h"

#include "base/logging.h"

#include <QAtomicInt>

#include <zmq.h>

#include <cstring>

namespace SockJsProxy {

namespace {
const QByteArray kConnect = QByteArrayLiteral("connect");
const QByteArray kMessage = QByteArrayLiteral("message");
const QByteArray kDisconnect = QByteArrayLiteral("disconnect");
const QByteArray kBroadcast = QByteArrayLiteral("broadcast");
// High-water marks: ZeroMQ's own queues absorb bursts before our outbox does.
constexpr int kHighWaterMark = 100000;

QString printable(const QByteArray &bytes)
{
    QByteArray shown = bytes.left(64);
    for (char &c : shown) {
        if (uchar(c) < 0x20 || uchar(c) > 0x7e)
            c = '?';
    }
    return QString::fromLatin1(shown) + (bytes.size() > 64 ? QStringLiteral("...") : QString());
}
} // namespace

ZmqBridge::ZmqBridge(const QString &inEndpoint, const QString &outEndpoint, qsizetype queueLimit, QObject *parent)
    : QObject(parent), m_inEndpoint(inEndpoint), m_outEndpoint(outEndpoint),
      m_push(new ZmqSocket(ZmqSocket::Type::Push, this)), m_pull(new ZmqSocket(ZmqSocket::Type::Pull, this))
{
    m_push->setOutboxLimit(queueLimit);
    m_push->setSendHighWaterMark(kHighWaterMark);
    m_pull->setReceiveHighWaterMark(kHighWaterMark);
    // Backends get a share of the loop, not all of it.
    m_pull->setBudget(256);
    connect(m_pull, &ZmqSocket::messageReceived, this, &ZmqBridge::onIncoming);
}

ZmqBridge::~ZmqBridge() = default;

bool ZmqBridge::start(QString *error)
{
    // Connection events exist for tcp:// and ipc:// only; elsewhere
    // (inproc://) the number of backends is unknown (-1). The monitors are
    // set up before binding, so no backend can connect unseen.
    const auto hasEvents = [](const QString &endpoint) {
        return endpoint.startsWith(QLatin1String("tcp://")) || endpoint.startsWith(QLatin1String("ipc://"));
    };
    m_inPeers = m_outPeers = -1;
    if (hasEvents(m_inEndpoint)) {
        m_inPeers = 0;
        watchPeers(m_push, "in", &m_inPeers);
    }
    if (hasEvents(m_outEndpoint)) {
        m_outPeers = 0;
        watchPeers(m_pull, "out", &m_outPeers);
    }
    // Events are held in our bounded queue only after the last backend
    // left: ZeroMQ would otherwise hand some to the connection of a backend
    // that just died, and they would be lost with it. Before any backend
    // came, ZeroMQ itself takes nothing, so nothing needs holding.
    m_holdWithoutPeers = m_inPeers >= 0;

    if (!m_push->bind(m_inEndpoint, error))
        return false;
    return m_pull->bind(m_outEndpoint, error);
}

// Follows connections of backends to socket with zmq_socket_monitor: its
// events arrive on an inproc PAIR socket as [event id (u16) + value (u32),
// endpoint].
ZmqSocket *ZmqBridge::watchPeers(ZmqSocket *socket, const char *name, int *peers)
{
    static QAtomicInt counter;
    const QByteArray endpoint = "inproc://sockjsproxy-monitor-" + QByteArray::number(counter.fetchAndAddRelaxed(1));
    if (zmq_socket_monitor(socket->handle(), endpoint.constData(), ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) != 0) {
        qCWarning(lcZmq) << "cannot watch backend connections:" << zmq_strerror(zmq_errno());
        *peers = -1;
        return nullptr;
    }
    auto *events = new ZmqSocket(ZmqSocket::Type::Pair, this);
    QString error;
    if (!events->connectTo(QString::fromLatin1(endpoint), &error)) {
        qCWarning(lcZmq).noquote() << "cannot watch backend connections:" << error;
        *peers = -1;
        return events;
    }
    connect(events, &ZmqSocket::messageReceived, this, [this, name, peers](const ZmqMessage &message) {
        if (message.size() != 2 || message.first().size() < 6)
            return;
        quint16 event = 0;
        std::memcpy(&event, message.first().constData(), sizeof event);
        if (event == ZMQ_EVENT_ACCEPTED)
            ++*peers;
        else if (event == ZMQ_EVENT_DISCONNECTED && *peers > 0)
            --*peers;
        else
            return;
        qCInfo(lcZmq).noquote() << "backend" << (event == ZMQ_EVENT_ACCEPTED ? "connected to" : "left") << name << "("
                                << QString::fromUtf8(message.at(1)) << ") -" << *peers << "connected";
        if (m_holdWithoutPeers && peers == &m_inPeers)
            m_push->setHeld(m_inPeers == 0);
        Q_EMIT peersChanged(m_inPeers, m_outPeers);
    });
    return events;
}

void ZmqBridge::setShutdownLinger(int milliseconds) { m_push->setLinger(milliseconds); }

QString ZmqBridge::boundInEndpoint() const { return m_push->lastEndpoint(); }

QString ZmqBridge::boundOutEndpoint() const { return m_pull->lastEndpoint(); }

qsizetype ZmqBridge::queuedToBackend() const { return m_push->outboxSize(); }

quint64 ZmqBridge::droppedToBackend() const { return m_push->droppedCount(); }

Counters ZmqBridge::counters() const
{
    Counters counters = m_counters;
    counters[Counter::BackendQueueDrops] = m_push->droppedCount();
    return counters;
}

void ZmqBridge::sendConnect(const QByteArray &sessionId)
{
    ++m_counters[Counter::BackendSentConnect];
    send(kConnect, sessionId, QByteArray(""));
}

void ZmqBridge::sendMessage(const QByteArray &sessionId, const QByteArray &data)
{
    ++m_counters[Counter::BackendSentMessage];
    qCDebug(lcTraffic).noquote() << "->backend" << QString::fromLatin1(sessionId) << QString::fromUtf8(data);
    send(kMessage, sessionId, data);
}

void ZmqBridge::sendDisconnect(const QByteArray &sessionId)
{
    ++m_counters[Counter::BackendSentDisconnect];
    send(kDisconnect, sessionId, QByteArray(""));
}

void ZmqBridge::send(const QByteArray &type, const QByteArray &sessionId, const QByteArray &data)
{
    m_push->send({type, sessionId, data});
}

void ZmqBridge::onIncoming(const ZmqMessage &message)
{
    if (message.size() != 3) {
        ++m_counters[Counter::BackendMalformed];
        qCWarning(lcZmq).noquote() << "backend message with" << message.size()
                                   << "frames dropped (expected 3: type, session_id, data); first frame:"
                                   << (message.isEmpty() ? QString() : printable(message.first()));
        return;
    }
    const QByteArray &type = message.at(0);
    const QByteArray &sessionId = message.at(1);
    if (type == kMessage) {
        ++m_counters[Counter::BackendReceivedMessage];
        qCDebug(lcTraffic).noquote() << "<-backend" << QString::fromLatin1(sessionId)
                                     << QString::fromUtf8(message.at(2));
        Q_EMIT messageFromBackend(sessionId, message.at(2));
    } else if (type == kDisconnect) {
        ++m_counters[Counter::BackendReceivedDisconnect];
        qCDebug(lcTraffic).noquote() << "<-backend disconnect" << QString::fromLatin1(sessionId);
        Q_EMIT disconnectFromBackend(sessionId);
    } else if (type == kBroadcast) {
        // The second frame is the target: empty (every session) or session ids.
        ++m_counters[Counter::BackendReceivedBroadcast];
        qCDebug(lcTraffic).noquote() << "<-backend broadcast to" << (sessionId.isEmpty() ? "all" : printable(sessionId))
                                     << QString::fromUtf8(message.at(2));
        Q_EMIT broadcastFromBackend(sessionId, message.at(2));
    } else {
        ++m_counters[Counter::BackendUnknownType];
        qCWarning(lcZmq).noquote() << "backend message of unknown type" << printable(type) << "for session"
                                   << printable(sessionId) << "dropped (expected message, disconnect or broadcast)";
    }
}

} // namespace SockJsProxy
