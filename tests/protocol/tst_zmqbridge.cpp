// The ZeroMQ bridge of a running Server against in-process backends
// (SOCKJS-PROTOCOL.md section 16): what a misbehaving backend sends is
// counted and dropped without harming anyone, backend session ids are opaque
// and unique, and events wait for a backend that connects late or restarts.
//
// Sessions are driven over xhr polling with the raw HttpClient; every wait
// spins the event loop until a condition holds, no sleeps.

#include "httpclient.h"
#include "sockjs/service.h"
#include "testbackend.h"
#include "testserver.h"
#include "zmq/zmqbridge.h"

#include <QSet>
#include <QTest>

#include <zmq.h>

#include <memory>

using namespace SockJsProxy;
using namespace SockJsProxy::Test;

namespace {

constexpr int kWaitMs = 5000; // generous under ASan; passing runs take far less

using Frames = QList<QByteArray>;

Service *serviceOf(const Server *server, const QString &prefix)
{
    for (Service *service : server->services()) {
        if (service->prefix() == prefix)
            return service;
    }
    return nullptr;
}

// The bridge counters in a fixed order, so a whole set can be compared.
enum BridgeCounter {
    SentConnect,
    SentMessage,
    SentDisconnect,
    ReceivedMessage,
    ReceivedDisconnect,
    Malformed,
    UnknownType
};

QList<quint64> bridgeCounters(const ZmqBridge *bridge)
{
    const Counters c = bridge->counters();
    return {c[Counter::BackendSentConnect],        c[Counter::BackendSentMessage],
            c[Counter::BackendSentDisconnect],     c[Counter::BackendReceivedMessage],
            c[Counter::BackendReceivedDisconnect], c[Counter::BackendMalformed],
            c[Counter::BackendUnknownType]};
}

QList<quint64> serviceCounters(const Service *service)
{
    const Counters &c = service->counters();
    return {c[Counter::SessionsOpened],
            c[Counter::SessionsClosed],
            c[Counter::MessagesIn],
            c[Counter::BytesIn],
            c[Counter::MessagesOut],
            c[Counter::BytesOut],
            c[Counter::UnknownSessionFromBackend],
            c[Counter::DroppedForClosedSession],
            c[Counter::ProtocolErrors]};
}
constexpr int kUnknownSessionFromBackend = 6;

// The raw handle of the bridge's PUSH ("in") socket.
void *pushHandle(const ZmqBridge *bridge)
{
    const auto sockets = bridge->findChildren<ZmqSocket *>();
    for (const ZmqSocket *socket : sockets) {
        int type = 0;
        size_t length = sizeof type;
        if (zmq_getsockopt(socket->handle(), ZMQ_TYPE, &type, &length) == 0 && type == ZMQ_PUSH)
            return socket->handle();
    }
    return nullptr;
}

// Whether ZeroMQ would take a message on the socket now: for PUSH, whether it
// has a live peer. Reading ZMQ_EVENTS also makes it process pending commands
// (a peer's pipe going away).
bool canSend(void *handle)
{
    int events = 0;
    size_t length = sizeof events;
    return zmq_getsockopt(handle, ZMQ_EVENTS, &events, &length) == 0 && (events & ZMQ_POLLOUT) != 0;
}

HttpClient::Response post(quint16 port, const QByteArray &path, const QByteArray &body = QByteArray())
{
    return HttpClient::request(port, "POST", path, body);
}

// A server with one service whose backend is created by the test.
struct BareServer
{
    std::unique_ptr<Server> server;
    QString in;
    QString out;

    bool start(const QString &tag)
    {
        static int counter = 0;
        ++counter;
        in = QStringLiteral("inproc://tst-zmqbridge-%1-%2-in").arg(tag).arg(counter);
        out = QStringLiteral("inproc://tst-zmqbridge-%1-%2-out").arg(tag).arg(counter);
        Config config;
        config.httpAddress = QStringLiteral("127.0.0.1");
        config.httpPort = 0;
        ServiceConfig service;
        service.prefix = QStringLiteral("/svc");
        service.zmqIn = in;
        service.zmqOut = out;
        config.services = {service};
        server = std::make_unique<Server>(config);
        QString error;
        if (!server->start(&error)) {
            qWarning("BareServer: %s", qPrintable(error));
            return false;
        }
        return true;
    }
    quint16 port() const { return server->httpPort(); }
    Service *service() const { return serviceOf(server.get(), QStringLiteral("/svc")); }
};

} // namespace

class tst_ZmqBridge : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void badBackendMessages_data();
    void badBackendMessages();
    void backendIdsUniqueAndPrintable();
    void eventsWaitForLateBackend();
    void backendRestart();
    void backendHeldToTheProxysPace_data();
    void backendHeldToTheProxysPace();
};

void tst_ZmqBridge::badBackendMessages_data()
{
    QTest::addColumn<Frames>("frames"); // "$ID" is replaced by the live session's id
    QTest::addColumn<int>("bridgeCounter");
    QTest::addColumn<bool>("unknownSession");

    QTest::newRow("1 frame") << Frames{"message"} << int(Malformed) << false;
    QTest::newRow("1 empty frame") << Frames{""} << int(Malformed) << false;
    QTest::newRow("2 frames, message") << Frames{"message", "$ID"} << int(Malformed) << false;
    QTest::newRow("2 frames, disconnect") << Frames{"disconnect", "$ID"} << int(Malformed) << false;
    QTest::newRow("4 frames, message") << Frames{"message", "$ID", "data", "extra"} << int(Malformed) << false;
    QTest::newRow("4 frames, disconnect") << Frames{"disconnect", "$ID", "", ""} << int(Malformed) << false;
    QTest::newRow("unknown type") << Frames{"msg", "$ID", "data"} << int(UnknownType) << false;
    QTest::newRow("type in upper case") << Frames{"MESSAGE", "$ID", "data"} << int(UnknownType) << false;
    QTest::newRow("connect from backend") << Frames{"connect", "$ID", ""} << int(UnknownType) << false;
    QTest::newRow("empty type") << Frames{"", "$ID", "data"} << int(UnknownType) << false;
    QTest::newRow("message, unknown id") << Frames{"message", "no-such-session", "data"} << int(ReceivedMessage)
                                         << true;
    QTest::newRow("message, empty id") << Frames{"message", "", "data"} << int(ReceivedMessage) << true;
    QTest::newRow("message, id with NUL")
        << Frames{"message", QByteArray("$ID\0", 4), "data"} << int(ReceivedMessage) << true;
    QTest::newRow("disconnect, unknown id")
        << Frames{"disconnect", "no-such-session", ""} << int(ReceivedDisconnect) << true;
}

void tst_ZmqBridge::badBackendMessages()
{
    QFETCH(Frames, frames);
    QFETCH(int, bridgeCounter);
    QFETCH(bool, unknownSession);

    TestServer server;
    QVERIFY(server.start());
    TestBackend *backend = server.backend(QStringLiteral("/echo"));
    Service *service = serviceOf(server.server(), QStringLiteral("/echo"));
    QVERIFY(service);
    const ZmqBridge *bridge = service->bridge();

    QCOMPARE(post(server.port(), "/echo/000/victim/xhr").body, QByteArray("o\n"));
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("connect").size(), 1, kWaitMs);
    const QByteArray id = backend->sessionIds("connect").first();

    for (QByteArray &frame : frames)
        frame.replace("$ID", id);
    const QList<quint64> bridgeBefore = bridgeCounters(bridge);
    const QList<quint64> serviceBefore = serviceCounters(service);
    backend->sendRaw(frames);

    QList<quint64> bridgeExpected = bridgeBefore;
    ++bridgeExpected[bridgeCounter];
    QList<quint64> serviceExpected = serviceBefore;
    if (unknownSession)
        ++serviceExpected[kUnknownSessionFromBackend];
    QTRY_COMPARE_WITH_TIMEOUT(bridgeCounters(bridge), bridgeExpected, kWaitMs);
    QCOMPARE(serviceCounters(service), serviceExpected);

    // The proxy still serves, the session is untouched (nothing delivered,
    // not closed), and a valid message afterwards goes through.
    QCOMPARE(HttpClient::request(server.port(), "GET", "/echo").body, QByteArray("Welcome to SockJS!\n"));
    backend->sendMessage(id, "after");
    ++bridgeExpected[ReceivedMessage];
    QTRY_COMPARE_WITH_TIMEOUT(bridgeCounters(bridge), bridgeExpected, kWaitMs);
    const HttpClient::Response poll = post(server.port(), "/echo/000/victim/xhr");
    QCOMPARE(poll.status, 200);
    QCOMPARE(poll.body, QByteArray("a[\"after\"]\n"));
    QCOMPARE(service->counters()[Counter::UnknownSessionFromBackend], serviceExpected[kUnknownSessionFromBackend]);
    QCOMPARE(service->counters()[Counter::SessionsClosed], quint64(0));
    QCOMPARE(backend->sessionIds("disconnect").size(), 0);
}

void tst_ZmqBridge::backendIdsUniqueAndPrintable()
{
    TestServer server;
    QVERIFY(server.start());
    TestBackend *backend = server.backend(QStringLiteral("/echo"));

    constexpr int kSessions = 1000;
    // One keep-alive connection carries all the opening polls.
    HttpClient client(server.port());
    QVERIFY(client.connectToServer());
    for (int i = 0; i < kSessions; ++i) {
        client.sendRequest("POST", "/echo/000/s" + QByteArray::number(i) + "/xhr");
        const HttpClient::Response response = client.readResponse();
        QVERIFY(response.ok);
        QCOMPARE(response.body, QByteArray("o\n"));
    }
    // Sessions of another service draw from the same pool of ids.
    QCOMPARE(post(server.port(), "/cookie_needed_echo/000/s0/xhr").body, QByteArray("o\n"));

    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("connect").size(), kSessions, kWaitMs);
    TestBackend *other = server.backend(QStringLiteral("/cookie_needed_echo"));
    QTRY_COMPARE_WITH_TIMEOUT(other->sessionIds("connect").size(), 1, kWaitMs);

    QSet<QByteArray> seen;
    for (const QByteArray &id : backend->sessionIds("connect") + other->sessionIds("connect")) {
        QVERIFY2(!id.isEmpty(), "empty backend session id");
        for (const char c : id)
            QVERIFY2(c >= 0x20 && c <= 0x7e, id.toHex().constData());
        QVERIFY2(!seen.contains(id), id.constData());
        seen.insert(id);
    }
    QCOMPARE(seen.size(), kSessions + 1);
    // Opaque: the id in the URL is not what the backend sees.
    QVERIFY(!seen.contains("s0"));
    QVERIFY(!seen.contains("s999"));
}

void tst_ZmqBridge::eventsWaitForLateBackend()
{
    BareServer bare;
    QVERIFY(bare.start(QStringLiteral("late")));
    Service *service = bare.service();
    QVERIFY(service);

    // No backend yet: the session opens and takes messages all the same.
    QCOMPARE(post(bare.port(), "/svc/000/early/xhr").body, QByteArray("o\n"));
    QCOMPARE(post(bare.port(), "/svc/000/early/xhr_send", "[\"m1\",\"m2\"]").status, 204);
    QCOMPARE(post(bare.port(), "/svc/000/early/xhr_send", "[\"m3\"]").status, 204);
    QCOMPARE(service->bridge()->counters()[Counter::BackendSentConnect], quint64(1));
    QCOMPARE(service->bridge()->counters()[Counter::BackendSentMessage], quint64(3));
    QCOMPARE(service->bridge()->queuedToBackend(), qsizetype(4));
    QCOMPARE(service->bridge()->droppedToBackend(), quint64(0));

    TestBackend backend(bare.in, bare.out, TestBackend::Mode::Echo);
    QTRY_COMPARE_WITH_TIMEOUT(backend.events().size(), 4, kWaitMs);
    const QList<TestBackend::Event> events = backend.events();
    QCOMPARE(events.at(0).type, QByteArray("connect"));
    const QByteArray id = events.at(0).sessionId;
    const QList<QByteArray> data{"", "m1", "m2", "m3"};
    for (int i = 1; i < 4; ++i) {
        QCOMPARE(events.at(i).type, QByteArray("message"));
        QCOMPARE(events.at(i).sessionId, id);
        QCOMPARE(events.at(i).data, data.at(i));
    }
    QCOMPARE(service->bridge()->queuedToBackend(), qsizetype(0));

    // The echoes reach the session, queued into one frame for the next poll.
    QTRY_COMPARE_WITH_TIMEOUT(service->counters()[Counter::MessagesOut], quint64(3), kWaitMs);
    QCOMPARE(post(bare.port(), "/svc/000/early/xhr").body, QByteArray("a[\"m1\",\"m2\",\"m3\"]\n"));
}

void tst_ZmqBridge::backendRestart()
{
    BareServer bare;
    QVERIFY(bare.start(QStringLiteral("restart")));
    Service *service = bare.service();
    QVERIFY(service);

    auto first = std::make_unique<TestBackend>(bare.in, bare.out, TestBackend::Mode::Echo);
    QCOMPARE(post(bare.port(), "/svc/000/lives/xhr").body, QByteArray("o\n"));
    QTRY_COMPARE_WITH_TIMEOUT(first->sessionIds("connect").size(), 1, kWaitMs);
    const QByteArray id = first->sessionIds("connect").first();
    QCOMPARE(post(bare.port(), "/svc/000/lives/xhr_send", "[\"before\"]").status, 204);
    QTRY_COMPARE_WITH_TIMEOUT(service->counters()[Counter::MessagesOut], quint64(1), kWaitMs);
    QCOMPARE(post(bare.port(), "/svc/000/lives/xhr").body, QByteArray("a[\"before\"]\n"));

    // The backend goes away and comes back on the same endpoints. What the
    // proxy PUSHes before ZeroMQ has torn down the old peer's pipe goes down
    // that pipe and is lost (ZeroMQ semantics, not the proxy's doing), so wait
    // until the proxy's socket has no peer before the new backend connects.
    void *push = pushHandle(service->bridge());
    QVERIFY(push);
    QVERIFY(canSend(push));
    first.reset();
    QTRY_VERIFY_WITH_TIMEOUT(!canSend(push), kWaitMs);
    TestBackend second(bare.in, bare.out, TestBackend::Mode::Echo);

    QCOMPARE(post(bare.port(), "/svc/000/lives/xhr_send", "[\"after\"]").status, 204);
    QTRY_COMPARE_WITH_TIMEOUT(second.events().size(), 1, kWaitMs);
    QCOMPARE(second.events().first().type, QByteArray("message"));
    QCOMPARE(second.events().first().sessionId, id);
    QCOMPARE(second.events().first().data, QByteArray("after"));
    QTRY_COMPARE_WITH_TIMEOUT(service->counters()[Counter::MessagesOut], quint64(2), kWaitMs);
    QCOMPARE(post(bare.port(), "/svc/000/lives/xhr").body, QByteArray("a[\"after\"]\n"));

    // New sessions reach the new backend too, and it can close them.
    QCOMPARE(post(bare.port(), "/svc/000/fresh/xhr").body, QByteArray("o\n"));
    QTRY_COMPARE_WITH_TIMEOUT(second.sessionIds("connect").size(), 1, kWaitMs);
    const QByteArray freshId = second.sessionIds("connect").first();
    QVERIFY(freshId != id);
    second.sendDisconnect(freshId);
    QTRY_COMPARE_WITH_TIMEOUT(second.sessionIds("disconnect"), QList<QByteArray>{freshId}, kWaitMs);
    QCOMPARE(post(bare.port(), "/svc/000/fresh/xhr").body, QByteArray("c[3000,\"Go away!\"]\n"));
}

void tst_ZmqBridge::backendHeldToTheProxysPace_data()
{
    QTest::addColumn<int>("highWaterMark");
    QTest::newRow("10") << 10;
    QTest::newRow("1000 (the default)") << ServiceConfig().zmqHighWaterMark;
}

// zmq.high_water_mark: a backend can be at most that many messages ahead of
// the proxy, whatever it sends; the rest waits on the backend's side, and
// goes once the proxy has handled what it has.
void tst_ZmqBridge::backendHeldToTheProxysPace()
{
    QFETCH(int, highWaterMark);
    static int run = 0;
    const QString in = QStringLiteral("inproc://tst-zmqbridge-hwm-%1-in").arg(++run);
    const QString out = QStringLiteral("inproc://tst-zmqbridge-hwm-%1-out").arg(run);
    ZmqBridge bridge(in, out, 100, highWaterMark);
    QString error;
    QVERIFY2(bridge.start(&error), qPrintable(error));
    ZmqSocket backend(ZmqSocket::Type::Push);
    backend.setSendHighWaterMark(1);
    QVERIFY2(backend.connectTo(out, &error), qPrintable(error));

    // The event loop does not turn: the proxy reads nothing meanwhile.
    const auto sendUntilRefused = [&] {
        int sent = 0;
        for (; sent < 100 * highWaterMark; ++sent) {
            if (zmq_send(backend.handle(), "message", 7, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
                if (zmq_errno() != EAGAIN)
                    qWarning("zmq_send: %s", zmq_strerror(zmq_errno()));
                break;
            }
            zmq_send(backend.handle(), "s", 1, ZMQ_SNDMORE);
            zmq_send(backend.handle(), "data", 4, 0);
        }
        return sent;
    };
    const int ahead = sendUntilRefused();
    // inproc: one pipe, as deep as the two high-water marks together.
    QVERIFY2(ahead >= highWaterMark && ahead <= highWaterMark + 2, qPrintable(QString::number(ahead)));

    // The proxy catches up, and the backend may send again: ZeroMQ tells
    // the sending side of reads in steps of about half the mark.
    QTRY_COMPARE_WITH_TIMEOUT(bridge.counters()[Counter::BackendReceivedMessage], quint64(ahead), kWaitMs);
    const int more = sendUntilRefused();
    QVERIFY2(more >= highWaterMark / 3 && more <= highWaterMark + 2, qPrintable(QString::number(more)));
    QTRY_COMPARE_WITH_TIMEOUT(bridge.counters()[Counter::BackendReceivedMessage], quint64(ahead + more), kWaitMs);
}

QTEST_GUILESS_MAIN(tst_ZmqBridge)
#include "tst_zmqbridge.moc"
