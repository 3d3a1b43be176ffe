#include "zmqbridge.h"

#include "base/logging.h"
#include "zmq/zaphandler.h"

#include <QAtomicInt>

#include <zmq.h>

#include <cstring>

namespace SockJsProxy {

namespace {
const QByteArray kConnect = QByteArrayLiteral("connect");
const QByteArray kMessage = QByteArrayLiteral("message");
const QByteArray kDisconnect = QByteArrayLiteral("disconnect");
const QByteArray kAccept = QByteArrayLiteral("accept");
const QByteArray kBroadcast = QByteArrayLiteral("broadcast");
// A refused backend retries every 100 ms (ZeroMQ's reconnect interval): one
// line per kind and peer this often, with the count of those not logged.
constexpr qint64 kRefusalLogIntervalMs = 10000;
constexpr qsizetype kRefusalLogEntries = 1024;

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

ZmqBridge::ZmqBridge(const QString &inEndpoint, const QString &outEndpoint, qsizetype queueLimit, int highWaterMark,
                     QObject *parent)
    : QObject(parent), m_inEndpoint(inEndpoint), m_outEndpoint(outEndpoint),
      m_push(new ZmqSocket(ZmqSocket::Type::Push, this)), m_pull(new ZmqSocket(ZmqSocket::Type::Pull, this))
{
    m_push->setOutboxLimit(queueLimit);
    m_push->setSendHighWaterMark(highWaterMark);
    m_pull->setReceiveHighWaterMark(highWaterMark);
    // Backends get a share of the loop, not all of it.
    m_pull->setBudget(256);
    connect(m_pull, &ZmqSocket::messageReceived, this, &ZmqBridge::onIncoming);
}

ZmqBridge::~ZmqBridge()
{
    // The sockets go before the ZAP handler they were authenticated by
    // (children would go after the members).
    delete m_push;
    delete m_pull;
    m_push = m_pull = nullptr;
    if (m_zap) {
        for (const QByteArray &domain : std::as_const(m_zapDomains))
            m_zap->removeDomain(domain);
    }
}

void ZmqBridge::setCurve(const QByteArray &secretKey, const QSet<QByteArray> &allowedKeys)
{
    m_curveSecretKey = secretKey;
    m_allowedKeys = allowedKeys;
}

void ZmqBridge::setAllowedKeys(const QSet<QByteArray> &allowedKeys) { m_allowedKeys = allowedKeys; }

// The handler first: a CURVE socket bound without one would let every key in.
bool ZmqBridge::startCurve(QString *error)
{
    m_zap = ZapHandler::shared(error);
    if (!m_zap)
        return false;
    const struct
    {
        ZmqSocket *socket;
        const char *name;
        const QString &endpoint;
    } sockets[] = {{m_push, "in", m_inEndpoint}, {m_pull, "out", m_outEndpoint}};
    for (const auto &socket : sockets) {
        const char *name = socket.name;
        const QByteArray domain = m_zap->addDomain("sockjsproxy " + QByteArray(name) + ' ' + socket.endpoint.toUtf8(),
                                                   this, [this, name](const ZapHandler::Request &request) {
                                                       return authorize(name, request.address, request.publicKey);
                                                   });
        m_zapDomains.append(domain);
        QString curveError;
        if (!socket.socket->setCurveServer(m_curveSecretKey, domain, &curveError)) {
            *error = socket.endpoint + QStringLiteral(": ") + curveError;
            return false;
        }
    }
    return true;
}

bool ZmqBridge::authorize(const char *name, const QByteArray &address, const QByteArray &publicKey)
{
    const QString peer = QString::fromLatin1(address);
    const QString key = QString::fromLatin1(publicKey);
    if (m_allowedKeys.contains(publicKey)) {
        qCDebug(lcZmq).noquote() << "backend" << peer << "authenticated on" << name << "with CURVE key" << key;
        return true;
    }
    ++m_counters[Counter::BackendRefusedKey];
    logRefusal(QStringLiteral("key %1 %2 %3").arg(QLatin1String(name), peer, key),
               QStringLiteral("backend %1 refused on %2 (%3): CURVE public key %4 is not allowed (zmq.curve)")
                   .arg(peer, QLatin1String(name), qstrcmp(name, "in") == 0 ? m_inEndpoint : m_outEndpoint, key));
    return false;
}

void ZmqBridge::logRefusal(const QString &kind, const QString &text)
{
    if (m_refusalLog.size() >= kRefusalLogEntries && !m_refusalLog.contains(kind))
        m_refusalLog.clear(); // a storm of distinct peers: start counting afresh
    RefusalLog &entry = m_refusalLog[kind];
    if (entry.lastLine.isValid() && entry.lastLine.elapsed() < kRefusalLogIntervalMs) {
        ++entry.notLogged;
        return;
    }
    QString line = text;
    if (entry.notLogged > 0)
        line += QStringLiteral(" (%1 more since the last such line)").arg(entry.notLogged);
    qCWarning(lcZmq).noquote() << line;
    entry.notLogged = 0;
    entry.lastLine.start();
}

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
    if (hasCurve() && !startCurve(error))
        return false;

    if (!m_push->bind(m_inEndpoint, error))
        return false;
    return m_pull->bind(m_outEndpoint, error);
}

// Follows connections of backends to socket with zmq_socket_monitor: its
// events arrive on an inproc PAIR socket as [event id (u16) + value (u32),
// endpoint].
//
// With CURVE a backend counts once its handshake succeeded. Every
// connection that fails its handshake reports that (HANDSHAKE_FAILED_*)
// before it reports DISCONNECTED, and every other DISCONNECTED is of a
// connection that succeeded: so a DISCONNECTED takes back a failure still
// unmatched, else a backend. (The events carry no connection to match them
// by; with one I/O thread they come in order.)
ZmqSocket *ZmqBridge::watchPeers(ZmqSocket *socket, const char *name, int *peers)
{
    static QAtomicInt counter;
    const QByteArray endpoint = "inproc://sockjsproxy-monitor-" + QByteArray::number(counter.fetchAndAddRelaxed(1));
    const int failures =
        ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
    const int mask = hasCurve() ? ZMQ_EVENT_HANDSHAKE_SUCCEEDED | failures | ZMQ_EVENT_DISCONNECTED
                                : ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED;
    if (zmq_socket_monitor(socket->handle(), endpoint.constData(), mask) != 0) {
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
    const int connected = hasCurve() ? ZMQ_EVENT_HANDSHAKE_SUCCEEDED : ZMQ_EVENT_ACCEPTED;
    connect(events, &ZmqSocket::messageReceived, this,
            [this, name, peers, connected, failedHandshakes = 0](const ZmqMessage &message) mutable {
                if (message.size() != 2 || message.first().size() < 6)
                    return;
                quint16 event = 0;
                quint32 value = 0;
                std::memcpy(&event, message.first().constData(), sizeof event);
                std::memcpy(&value, message.first().constData() + sizeof event, sizeof value);
                const QString where = QString::fromUtf8(message.at(1));
                if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL || event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
                    ++failedHandshakes;
                    ++m_counters[Counter::BackendRefusedHandshake];
                    // A plaintext backend fails with MECHANISM_MISMATCH, or,
                    // when it saw the mismatch first and hung up, with no
                    // detail. These events carry no peer address: the
                    // socket's own is all there is.
                    QString why;
                    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
                        why = QStringLiteral("the connection ended during the CURVE handshake (a plaintext backend?)");
                    else if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
                        why = QStringLiteral("it does not speak CURVE (a plaintext backend?)");
                    else if (value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC)
                        why = QStringLiteral("its CURVE handshake failed (another server key?)");
                    else
                        why = QStringLiteral("ZMTP protocol error 0x%1").arg(value, 0, 16);
                    logRefusal(QStringLiteral("handshake %1 %2 %3").arg(QLatin1String(name)).arg(event).arg(value),
                               QStringLiteral("backend refused on %1 (%2): %3").arg(QLatin1String(name), where, why));
                    return;
                }
                if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
                    ++failedHandshakes; // refused by authorize(), counted and logged there
                    return;
                }
                if (event == connected) {
                    ++*peers;
                } else if (event == ZMQ_EVENT_DISCONNECTED && failedHandshakes > 0) {
                    --failedHandshakes;
                    return;
                } else if (event == ZMQ_EVENT_DISCONNECTED && *peers > 0) {
                    --*peers;
                } else {
                    return;
                }
                qCInfo(lcZmq).noquote() << "backend" << (event == connected ? "connected to" : "left") << name << "("
                                        << where << ") -" << *peers << "connected";
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

qint64 ZmqBridge::queuedBytesToBackend() const { return m_push->outboxBytes(); }

void ZmqBridge::setQueueBudget(QueueBudget *budget) { m_push->setQueueBudget(budget); }

quint64 ZmqBridge::droppedToBackend() const { return m_push->droppedCount(); }

Counters ZmqBridge::counters() const
{
    Counters counters = m_counters;
    counters[Counter::BackendQueueDrops] = m_push->droppedCount();
    return counters;
}

void ZmqBridge::sendConnect(const QByteArray &sessionId, const QByteArray &data)
{
    ++m_counters[Counter::BackendSentConnect];
    send(kConnect, sessionId, data);
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
        qCDebug(lcTraffic).noquote() << "<-backend disconnect" << QString::fromLatin1(sessionId)
                                     << QString::fromUtf8(message.at(2));
        Q_EMIT disconnectFromBackend(sessionId, message.at(2));
    } else if (type == kAccept) {
        // The data frame is there but means nothing (yet).
        ++m_counters[Counter::BackendReceivedAccept];
        qCDebug(lcTraffic).noquote() << "<-backend accept" << QString::fromLatin1(sessionId);
        Q_EMIT acceptFromBackend(sessionId);
    } else if (type == kBroadcast) {
        // The second frame is the target: empty (every session) or session ids.
        ++m_counters[Counter::BackendReceivedBroadcast];
        qCDebug(lcTraffic).noquote() << "<-backend broadcast to" << (sessionId.isEmpty() ? "all" : printable(sessionId))
                                     << QString::fromUtf8(message.at(2));
        Q_EMIT broadcastFromBackend(sessionId, message.at(2));
    } else {
        ++m_counters[Counter::BackendUnknownType];
        qCWarning(lcZmq).noquote() << "backend message of unknown type" << printable(type) << "for session"
                                   << printable(sessionId)
                                   << "dropped (expected message, disconnect, accept or broadcast)";
    }
}

} // namespace SockJsProxy
