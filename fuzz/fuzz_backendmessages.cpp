// libFuzzer target: ZeroMQ messages from backends, end to end through the
// real Server, Service, ZmqBridge and Session code.
//
// Once per process: a QCoreApplication, a Server with one service on
// inproc:// endpoints, a fake backend (PUSH connected to "out", PULL connected
// to "in") and a few WebSocket sessions. The sessions are opened through
// Service::handleWebSocket() with QWebSocket objects that were never
// connected: everything the session writes is framed as for a client and then
// discarded by the socket, so no TCP is involved. A session that closes is
// replaced before the next input.
//
// Input format: one or more multipart messages, each a frame count then the
// frames (1 + byte % 5). The type frame is chosen by a selector byte from
// {message, disconnect, connect, garbage}, the session id frame by another
// from the open sessions, a closed one, a near-miss of an open one or raw
// bytes;
// other frames are length-prefixed raw bytes (a length byte, with the high
// bit set a second one).
//
// After the messages were handled: the bridge counted each one exactly once
// under the right counter, the service's counters agree with that and with
// its sessions, the backend saw "connect" and "disconnect" exactly once per
// session, and nothing was queued, dropped or left behind.

#include "config/config.h"
#include "server/server.h"
#include "sockjs/service.h"
#include "sockjs/session.h"
#include "zmq/zmqbridge.h"
#include "zmq/zmqsocket.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QEvent>
#include <QSet>
#include <QWebSocket>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <vector>

using namespace SockJsProxy;

namespace {

#define FUZZ_CHECK(condition)                                                                                          \
    do {                                                                                                               \
        if (!(condition))                                                                                              \
            __builtin_trap();                                                                                          \
    } while (false)

constexpr int kSessions = 3;
constexpr int kMaxMessagesPerInput = 16;
constexpr qint64 kMaxWaitMs = 5000;

const QByteArray kMessage = QByteArrayLiteral("message");
const QByteArray kDisconnect = QByteArrayLiteral("disconnect");
const QByteArray kConnect = QByteArrayLiteral("connect");

class Input
{
public:
    Input(const uint8_t *data, size_t size) : m_data(data), m_size(size) {}
    bool atEnd() const { return m_pos >= m_size; }
    uint8_t byte() { return atEnd() ? 0 : m_data[m_pos++]; }
    QByteArray raw()
    {
        size_t length = byte();
        if (length & 0x80)
            length = ((length & 0x7f) << 8) | byte();
        length = std::min(length, m_size - m_pos);
        const QByteArray bytes(reinterpret_cast<const char *>(m_data + m_pos), qsizetype(length));
        m_pos += length;
        return bytes;
    }

private:
    const uint8_t *m_data;
    size_t m_size;
    size_t m_pos = 0;
};

struct Harness
{
    std::unique_ptr<Server> server;
    Service *service = nullptr;
    std::unique_ptr<ZmqSocket> toProxy;   // the backend's PUSH, connected to "out"
    std::unique_ptr<ZmqSocket> fromProxy; // the backend's PULL, connected to "in"
    QByteArray ids[kSessions];
    std::vector<QByteArray> closedIds; // recently closed sessions, for stale ids
    QSet<QByteArray> backendOpen;      // sessions the backend was told about
    quint64 backendReceived = 0;
};

Harness *harness = nullptr;

void discardMessages(QtMsgType, const QMessageLogContext &, const QString &) {}

quint64 bridgeTotal(const Counters &c)
{
    return c[Counter::BackendReceivedMessage] + c[Counter::BackendReceivedDisconnect] + c[Counter::BackendMalformed]
           + c[Counter::BackendUnknownType];
}

bool waitUntil(const std::function<bool()> &done)
{
    QElapsedTimer timer;
    timer.start();
    while (!done()) {
        if (timer.elapsed() > kMaxWaitMs)
            return false;
        QCoreApplication::processEvents(QEventLoop::AllEvents);
    }
    return true;
}

void onBackendMessage(const ZmqMessage &message)
{
    // Clients never send here: only connect and disconnect, data empty.
    ++harness->backendReceived;
    FUZZ_CHECK(message.size() == 3);
    FUZZ_CHECK(message.at(2).isEmpty());
    if (message.at(0) == kConnect) {
        FUZZ_CHECK(!harness->backendOpen.contains(message.at(1)));
        harness->backendOpen.insert(message.at(1));
    } else {
        FUZZ_CHECK(message.at(0) == kDisconnect);
        FUZZ_CHECK(harness->backendOpen.remove(message.at(1)));
    }
}

QByteArray openSession(int slot)
{
    const auto before = harness->service->sessions();
    auto *socket = new QWebSocket(); // the transport takes it
    harness->service->handleWebSocket(
        socket, slot == 0 ? QByteArrayLiteral("/websocket") : QByteArrayLiteral("/000/fuzz/websocket"),
        ClientAddress::direct(socket->peerAddress(), socket->peerPort()));
    Session *opened = nullptr;
    for (Session *session : harness->service->sessions()) {
        if (!before.contains(session))
            opened = session;
    }
    FUZZ_CHECK(opened && opened->state() == Session::State::Open);
    // The monitor's traffic hook runs for one of them.
    opened->setInspected(slot == 1);
    return opened->backendId();
}

void setUp()
{
    harness = new Harness;
    Config config;
    config.httpAddress = QStringLiteral("127.0.0.1");
    config.httpPort = 0;
    ServiceConfig service;
    service.prefix = QStringLiteral("/fuzz");
    service.zmqIn = QStringLiteral("inproc://fuzz-backend-in");
    service.zmqOut = QStringLiteral("inproc://fuzz-backend-out");
    // Small queues so that "Outgoing queue full" is reached.
    service.maxQueuedMessages = 8;
    service.maxQueuedBytes = 4096;
    config.services.append(service);

    harness->server = std::make_unique<Server>(config);
    QString error;
    FUZZ_CHECK(harness->server->start(&error));
    FUZZ_CHECK(harness->server->services().size() == 1);
    harness->service = harness->server->services().front();

    harness->fromProxy = std::make_unique<ZmqSocket>(ZmqSocket::Type::Pull);
    QObject::connect(harness->fromProxy.get(), &ZmqSocket::messageReceived, harness->fromProxy.get(),
                     &onBackendMessage);
    FUZZ_CHECK(harness->fromProxy->connectTo(service.zmqIn, &error));
    harness->toProxy = std::make_unique<ZmqSocket>(ZmqSocket::Type::Push);
    FUZZ_CHECK(harness->toProxy->connectTo(service.zmqOut, &error));
}

void refillSessions()
{
    for (int slot = 0; slot < kSessions; ++slot) {
        QByteArray &id = harness->ids[slot];
        if (!id.isEmpty() && harness->service->sessionByBackendId(id))
            continue;
        if (!id.isEmpty()) {
            harness->closedIds.push_back(id);
            if (harness->closedIds.size() > 4)
                harness->closedIds.erase(harness->closedIds.begin());
        }
        id = openSession(slot);
    }
}

// Selector: low 3 bits the kind, the rest the session slot.
QByteArray sessionIdFrame(Input &in)
{
    const uint8_t selector = in.byte();
    const QByteArray &known = harness->ids[(selector >> 3) % kSessions];
    switch (selector & 7) {
    case 4: // a session that was closed
        return harness->closedIds.empty() ? known : harness->closedIds[(selector >> 3) % harness->closedIds.size()];
    case 5: // near misses must not match
        return known + char(in.byte());
    case 6:
        return known.left(known.size() - 1 - (selector >> 7));
    case 7:
        return in.raw();
    default: // an open session
        return known;
    }
}

// Selector: low 3 bits the kind.
QByteArray typeFrame(Input &in)
{
    const uint8_t selector = in.byte();
    switch (selector & 7) {
    case 5:
        return kDisconnect;
    case 6:
        return kConnect;
    case 7:
        return in.raw();
    default:
        return kMessage;
    }
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    static int argc = 1;
    static char name[] = "fuzz_backendmessages";
    static char *argv[] = {name, nullptr};
    qInstallMessageHandler(discardMessages);
    new QCoreApplication(argc, argv); // lives as long as the process (qApp)
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!harness)
        setUp();
    refillSessions();
    QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);

    ZmqBridge *bridge = harness->service->bridge();
    const Counters bridgeBefore = bridge->counters();
    const Counters serviceBefore = harness->service->counters();
    const Counters serverBefore = harness->server->counters();

    // Build and send the messages.
    Input in(data, size);
    quint64 sent = 0;
    quint64 expectMessage = 0, expectDisconnect = 0, expectMalformed = 0, expectUnknown = 0;
    quint64 messageBytes = 0;
    QSet<QByteArray> liveBefore;
    for (int slot = 0; slot < kSessions; ++slot)
        liveBefore.insert(harness->ids[slot]);
    quint64 toLiveSession = 0;
    do {
        const int frames = 1 + in.byte() % 5;
        ZmqMessage message;
        for (int i = 0; i < frames; ++i) {
            if (i == 0)
                message.append(typeFrame(in));
            else if (i == 1)
                message.append(sessionIdFrame(in));
            else
                message.append(in.raw());
        }
        if (frames != 3) {
            ++expectMalformed;
        } else if (message.at(0) == kMessage) {
            ++expectMessage;
            messageBytes += quint64(message.at(2).size());
            if (liveBefore.contains(message.at(1)))
                ++toLiveSession;
        } else if (message.at(0) == kDisconnect) {
            ++expectDisconnect;
        } else {
            ++expectUnknown;
        }
        FUZZ_CHECK(harness->toProxy->send(message));
        ++sent;
    } while (!in.atEnd() && sent < kMaxMessagesPerInput);

    // Every message handled, then the flushes, the backend notifications and
    // the deferred deletes they caused.
    FUZZ_CHECK(waitUntil([&] { return bridgeTotal(bridge->counters()) - bridgeTotal(bridgeBefore) >= sent; }));
    FUZZ_CHECK(waitUntil([&] {
        const Counters &c = bridge->counters();
        return harness->backendReceived == c[Counter::BackendSentConnect] + c[Counter::BackendSentDisconnect];
    }));
    QCoreApplication::processEvents(QEventLoop::AllEvents);
    QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);

    // The bridge: each message counted once, under its kind.
    const Counters &b = bridge->counters();
    FUZZ_CHECK(bridgeTotal(b) - bridgeTotal(bridgeBefore) == sent);
    FUZZ_CHECK(b[Counter::BackendReceivedMessage] - bridgeBefore[Counter::BackendReceivedMessage] == expectMessage);
    FUZZ_CHECK(b[Counter::BackendReceivedDisconnect] - bridgeBefore[Counter::BackendReceivedDisconnect]
               == expectDisconnect);
    FUZZ_CHECK(b[Counter::BackendMalformed] - bridgeBefore[Counter::BackendMalformed] == expectMalformed);
    FUZZ_CHECK(b[Counter::BackendUnknownType] - bridgeBefore[Counter::BackendUnknownType] == expectUnknown);
    FUZZ_CHECK(b[Counter::BackendSentMessage] == 0); // no client said anything
    FUZZ_CHECK(bridge->queuedToBackend() == 0 && bridge->droppedToBackend() == 0);

    // The service: each message either delivered, dropped for a closed
    // session or for an unknown one; each disconnect either closed a session
    // or was for an unknown one.
    const Counters &s = harness->service->counters();
    const quint64 delivered = s[Counter::MessagesOut] - serviceBefore[Counter::MessagesOut];
    const quint64 dropped = s[Counter::DroppedForClosedSession] - serviceBefore[Counter::DroppedForClosedSession];
    const quint64 unknown = s[Counter::UnknownSessionFromBackend] - serviceBefore[Counter::UnknownSessionFromBackend];
    FUZZ_CHECK(delivered + dropped + unknown >= expectMessage);
    FUZZ_CHECK(delivered + dropped + unknown <= expectMessage + expectDisconnect);
    FUZZ_CHECK(delivered + dropped <= toLiveSession);
    FUZZ_CHECK(s[Counter::BytesOut] - serviceBefore[Counter::BytesOut] <= messageBytes);
    if (delivered == 0)
        FUZZ_CHECK(s[Counter::BytesOut] == serviceBefore[Counter::BytesOut]);
    FUZZ_CHECK(s[Counter::MessagesIn] == 0 && s[Counter::BytesIn] == 0 && s[Counter::ProtocolErrors] == 0);
    FUZZ_CHECK(s[Counter::SessionsClosed] - serviceBefore[Counter::SessionsClosed] <= expectDisconnect + expectMessage);

    // Sessions: every open one is known to the backend and alive; every
    // closed one is gone (WebSocket sessions end with their connection) and
    // its object deleted.
    FUZZ_CHECK(s[Counter::SessionsOpened] - s[Counter::SessionsClosed] == quint64(harness->service->sessionCount()));
    FUZZ_CHECK(b[Counter::BackendSentConnect] == s[Counter::SessionsOpened]
               && b[Counter::BackendSentDisconnect] == s[Counter::SessionsClosed]);
    QSet<QByteArray> live;
    for (Session *session : harness->service->sessions()) {
        FUZZ_CHECK(session->state() == Session::State::Open);
        FUZZ_CHECK(session->hasReceiver());
        FUZZ_CHECK(session->queuedMessages() == 0); // flushed to the client
        live.insert(session->backendId());
    }
    FUZZ_CHECK(live == harness->backendOpen);
    FUZZ_CHECK(harness->service->findChildren<Session *>(Qt::FindDirectChildrenOnly).size()
               == harness->service->sessionCount());

    if (qEnvironmentVariableIsSet("FUZZ_VERBOSE")) {
        std::fprintf(stderr,
                     "sent %llu: bridge message %llu disconnect %llu malformed %llu unknown-type %llu | "
                     "service delivered %llu dropped %llu unknown-session %llu opened %llu closed %llu\n",
                     qulonglong(sent), qulonglong(b[Counter::BackendReceivedMessage]),
                     qulonglong(b[Counter::BackendReceivedDisconnect]), qulonglong(b[Counter::BackendMalformed]),
                     qulonglong(b[Counter::BackendUnknownType]), qulonglong(s[Counter::MessagesOut]),
                     qulonglong(s[Counter::DroppedForClosedSession]), qulonglong(s[Counter::UnknownSessionFromBackend]),
                     qulonglong(s[Counter::SessionsOpened]), qulonglong(s[Counter::SessionsClosed]));
    }

    // No HTTP was involved.
    const Counters &server = harness->server->counters();
    FUZZ_CHECK(server[Counter::HttpRequests] == serverBefore[Counter::HttpRequests]
               && server[Counter::ConnectionsAccepted] == serverBefore[Counter::ConnectionsAccepted]);
    return 0;
}
