// The documented limits and failure behaviour (README "Limits and failure
// behaviour"), one test per limit: each asserts the answer the README
// promises (status, close code, what the backend hears) and the counter that
// records it.
//
// A Server on 127.0.0.1, port 0, with in-process TestBackends over inproc://
// (TestServer), except for the backend-absent test, which needs tcp:// so that
// the proxy can tell whether a backend is connected. Clients are raw: HTTP
// through HttpClient, WebSocket through RawWebSocket below (RFC 6455 framing
// by hand, so that a client can stop reading, send oversized or fragmented
// frames, and see close codes Qt's own client refuses, such as 1013). No
// sleeps: every wait spins the event loop until a condition holds.

#include "http/connection.h"
#include "httpclient.h"
#include "sockjs/service.h"
#include "sockjs/session.h"
#include "sockjs/transports/websocket.h"
#include "sockjsframes.h"
#include "testbackend.h"
#include "testserver.h"
#include "zmq/zmqbridge.h"

#include <QElapsedTimer>
#include <QHostAddress>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPointer>
#include <QTest>
#include <QTimer>
#include <QWebSocket>

#include <zmq.h>

#include <algorithm>
#include <functional>
#include <memory>

using namespace SockJsProxy;
using namespace SockJsProxy::Test;

namespace {

constexpr int kWaitMs = 10000;   // generous: the machine may be loaded, runs under ASan
constexpr int kFloodMs = 120000; // filling kernel buffers of a stalled reader
// One frame written while a receiver could still take more: the few messages
// a Flood has in flight, with their JSON and chunk framing.
constexpr qint64 kFrameSlack = 64 * 1024;

using Headers = QList<QPair<QByteArray, QByteArray>>;
using Response = HttpClient::Response;

const QByteArray kGreeting = QByteArrayLiteral("Welcome to SockJS!\n");
const QByteArray kGoodOrigin = QByteArrayLiteral("https://good.example.com");
const QByteArray kBadOrigin = QByteArrayLiteral("https://evil.example.net");
const QStringList kOriginPatterns{QStringLiteral("https://good.example.com"),
                                  QStringLiteral("http://*.trusted.test:*")};
// The second loopback address: Linux routes all of 127/8 to lo.
const QHostAddress kOtherAddress(QStringLiteral("127.0.0.2"));

Service *serviceOf(const Server *server, const QString &prefix)
{
    for (Service *service : server->services()) {
        if (service->prefix() == prefix)
            return service;
    }
    return nullptr;
}

// A config with the given services (prefix only; the caller adjusts them).
Config configWith(const QStringList &prefixes)
{
    Config config;
    config.httpAddress = QStringLiteral("127.0.0.1");
    config.httpPort = 0;
    for (const QString &prefix : prefixes) {
        ServiceConfig service;
        service.prefix = prefix;
        // Sessions between polls outlive any test, however slow the machine.
        service.disconnectDelayMs = 600000;
        config.services.append(service);
    }
    return config;
}

// One request on a fresh connection, optionally from another local address.
Response request(quint16 port, const QByteArray &method, const QByteArray &path, const QByteArray &body = QByteArray(),
                 const Headers &headers = {}, const QHostAddress &from = QHostAddress())
{
    HttpClient client(port, kWaitMs);
    if (!from.isNull() && !client.socket().bind(from))
        return Response();
    if (!client.connectToServer())
        return Response();
    client.sendRequest(method, path, body, headers);
    return client.readResponse();
}

// An xhr_streaming receiver held open (head, prelude and open frame read):
// it keeps its session alive. Null when any of that fails.
std::unique_ptr<HttpClient> openStream(quint16 port, const QByteArray &path, const QHostAddress &from = QHostAddress())
{
    auto client = std::make_unique<HttpClient>(port, kWaitMs);
    if (!from.isNull() && !client->socket().bind(from))
        return nullptr;
    if (!client->connectToServer())
        return nullptr;
    client->sendRequest("POST", path);
    const Response head = client->readHead();
    if (!head.ok || head.status != 200)
        return nullptr;
    if (client->readChunk() != QByteArray(2048, 'h') + '\n' || client->readChunk() != QByteArray("o\n"))
        return nullptr;
    return client;
}

// A WebSocket client speaking RFC 6455 by hand over an HttpClient.
class RawWebSocket
{
public:
    struct Frame
    {
        bool ok = false; // false: timeout or the connection ended
        bool fin = false;
        int opcode = -1;
        QByteArray payload;
        int closeCode() const { return payload.size() >= 2 ? (uchar(payload.at(0)) << 8) | uchar(payload.at(1)) : -1; }
        QByteArray closeReason() const { return payload.mid(2); }
    };

    explicit RawWebSocket(quint16 port, int timeoutMs = kWaitMs) : m_port(port), m_http(port, timeoutMs) {}

    HttpClient &http() { return m_http; }
    QTcpSocket &socket() { return m_http.socket(); }

    // Connects (from `from` when given) and writes the handshake.
    bool connectAndRequest(const QByteArray &path, const Headers &extra = {}, const QHostAddress &from = QHostAddress())
    {
        if (!from.isNull() && !m_http.socket().bind(from))
            return false;
        if (!m_http.connectToServer())
            return false;
        QByteArray request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + QByteArray::number(m_port)
                             + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                               "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\nSec-WebSocket-Version: 13\r\n";
        for (const auto &header : extra)
            request += header.first + ": " + header.second + "\r\n";
        m_http.write(request + "\r\n");
        return true;
    }

    // The handshake, then the 101 head: true when the upgrade succeeded.
    bool open(const QByteArray &path, const Headers &extra = {}, const QHostAddress &from = QHostAddress())
    {
        if (!connectAndRequest(path, extra, from))
            return false;
        const Response head = m_http.readHead();
        return head.ok && head.status == 101;
    }

    // One masked frame (clients must mask).
    void sendFrame(int opcode, const QByteArray &payload, bool fin = true)
    {
        QByteArray frame;
        frame += char((fin ? 0x80 : 0x00) | opcode);
        const qsizetype size = payload.size();
        if (size < 126) {
            frame += char(0x80 | size);
        } else if (size < 65536) {
            frame += char(0x80 | 126);
            frame += char(size >> 8);
            frame += char(size & 0xff);
        } else {
            frame += char(0x80 | 127);
            for (int shift = 56; shift >= 0; shift -= 8)
                frame += char((quint64(size) >> shift) & 0xff);
        }
        const QByteArray mask("\x5a\xa5\x3c\xc3", 4);
        frame += mask;
        for (qsizetype i = 0; i < size; ++i)
            frame += char(payload.at(i) ^ mask.at(i % 4));
        m_http.write(frame);
    }
    void sendText(const QByteArray &text) { sendFrame(0x1, text); }

    // The next frame from the server (servers never mask).
    Frame readFrame()
    {
        Frame frame;
        const QByteArray head = m_http.readBytes(2);
        if (head.isNull())
            return frame;
        frame.fin = uchar(head.at(0)) & 0x80;
        frame.opcode = uchar(head.at(0)) & 0x0f;
        quint64 length = uchar(head.at(1)) & 0x7f;
        if (length == 126 || length == 127) {
            const QByteArray extended = m_http.readBytes(length == 126 ? 2 : 8);
            if (extended.isNull())
                return frame;
            length = 0;
            for (const char c : extended)
                length = (length << 8) | uchar(c);
        }
        frame.payload = length == 0 ? QByteArray("") : m_http.readBytes(qsizetype(length));
        frame.ok = !frame.payload.isNull();
        return frame;
    }

    // Reads frames up to and including the close frame; the text frames
    // before it go to *texts. False when the connection ends (or times out)
    // without a close frame.
    bool readUntilClose(QList<QByteArray> *texts, Frame *close)
    {
        for (;;) {
            const Frame frame = readFrame();
            if (!frame.ok)
                return false;
            if (frame.opcode == 0x8) {
                *close = frame;
                return true;
            }
            if (frame.opcode == 0x1)
                texts->append(frame.payload);
        }
    }

private:
    quint16 m_port;
    HttpClient m_http;
};

// Feeds a backend's messages to one session, a few per event-loop turn and
// never far ahead of what the proxy has taken, until stopped. sample() runs
// on every turn, so maxima seen by the test are maxima over the whole flood.
class Flood : public QObject
{
public:
    Flood(TestBackend *backend, const ZmqBridge *bridge, const QByteArray &sessionId, qsizetype messageBytes)
        : m_backend(backend), m_bridge(bridge), m_sessionId(sessionId), m_messageBytes(messageBytes)
    {
        m_timer.setInterval(0);
        connect(&m_timer, &QTimer::timeout, this, &Flood::onTick);
    }

    std::function<void()> sample;
    void start() { m_timer.start(); }
    void stop() { m_timer.stop(); }
    int sent() const { return m_sent; }

    // "<seq>:" padded with 'x' to the message size.
    static QByteArray message(int seq, qsizetype size)
    {
        QByteArray text = QByteArray::number(seq) + ':';
        return text + QByteArray(qMax<qsizetype>(0, size - text.size()), 'x');
    }
    static int seqOf(const QString &message) { return message.section(QLatin1Char(':'), 0, 0).toInt(); }

private:
    void onTick()
    {
        if (sample)
            sample();
        if (!m_timer.isActive())
            return;
        // Paced by the proxy: at most a few messages in flight, so a reader
        // that keeps up never sees more than a handful queued at once.
        const quint64 taken = m_bridge->counters()[Counter::BackendReceivedMessage] - m_baseline;
        if (m_sent == 0)
            m_baseline = m_bridge->counters()[Counter::BackendReceivedMessage];
        if (m_sent > 0 && quint64(m_sent) > taken + 4)
            return;
        for (int i = 0; i < 2; ++i)
            m_backend->sendMessage(m_sessionId, message(m_sent++, m_messageBytes));
    }

    TestBackend *m_backend;
    const ZmqBridge *m_bridge;
    QByteArray m_sessionId;
    qsizetype m_messageBytes;
    QTimer m_timer;
    int m_sent = 0;
    quint64 m_baseline = 0;
};

// Sequence numbers 0, 1, 2, ... without gaps or repeats.
bool consecutiveFromZero(const QStringList &messages)
{
    for (qsizetype i = 0; i < messages.size(); ++i) {
        if (Flood::seqOf(messages.at(i)) != i)
            return false;
    }
    return true;
}

} // namespace

class tst_Limits : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // services[].origins
    void originWebSocketUpgrade();
    void originHttp_data();
    void originHttp();
    void originInfoListsPatterns();

    // services[].max_sessions, max_sessions_per_address
    void maxSessionsHttp();
    void maxSessionsWebSocket();
    void maxSessionsPerAddress();

    // services[].check_address
    void checkAddress();

    // services[].max_message_bytes
    void maxMessageBytes_data();
    void maxMessageBytes();

    // limits.*
    void httpLimits_data();
    void httpLimits();
    void requestTimeout();
    void completeHeadIsNotSlow_data();
    void completeHeadIsNotSlow();
    void keepAliveTimeout();

    // services[].limits
    void serviceHttpLimits_data();
    void serviceHttpLimits();
    void serviceWebSocketLimits_data();
    void serviceWebSocketLimits();
    void topLevelLimitsOutsideServices();

    // services[].max_queued_messages / max_queued_bytes and the 1 MiB of unsent bytes
    void slowWebSocketReaderResumes();
    void outboxBoundWebSocket_data();
    void outboxBoundWebSocket();
    void outboxBoundXhrStreaming();

    // services[].zmq.queue_limit, and the bounded flush at exit
    void backendAbsentQueueLimit();
    void shutdownLinger();
};

// ---- origins ----------------------------------------------------------------------

void tst_Limits::originWebSocketUpgrade()
{
    Config config = configWith({QStringLiteral("/svc")});
    config.services[0].origins = kOriginPatterns;
    TestServer server;
    QVERIFY(server.start(config));
    Service *service = serviceOf(server.server(), QStringLiteral("/svc"));
    TestBackend *backend = server.backend(QStringLiteral("/svc"));

    for (const QByteArray &path : {QByteArray("/svc/000/bad/websocket"), QByteArray("/svc/websocket")}) {
        RawWebSocket bad(server.port());
        QVERIFY(bad.connectAndRequest(path, {{"Origin", kBadOrigin}}));
        const Response refused = bad.http().readResponse();
        QVERIFY(refused.ok);
        QCOMPARE(refused.status, 403);
        QCOMPARE(refused.body, QByteArray("Origin not allowed\n"));
        QVERIFY(!refused.hasHeader("Sec-WebSocket-Accept"));
    }
    QCOMPARE(service->counters()[Counter::RefusedOrigins], quint64(2));
    QCOMPARE(service->sessionCount(), qsizetype(0));
    QCOMPARE(server.server()->counters()[Counter::WebSocketUpgrades], quint64(0));

    // An allowed origin and no Origin at all (not a browser) both upgrade.
    RawWebSocket good(server.port());
    QVERIFY(good.open("/svc/000/good/websocket", {{"Origin", kGoodOrigin}}));
    RawWebSocket::Frame open = good.readFrame();
    QVERIFY(open.ok);
    QCOMPARE(open.payload, QByteArray("o"));
    RawWebSocket subdomain(server.port());
    QVERIFY(subdomain.open("/svc/000/sub/websocket", {{"Origin", "http://app.trusted.test:8443"}}));
    QCOMPARE(subdomain.readFrame().payload, QByteArray("o"));
    RawWebSocket none(server.port());
    QVERIFY(none.open("/svc/000/none/websocket"));
    QCOMPARE(none.readFrame().payload, QByteArray("o"));

    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("connect").size(), 3, kWaitMs);
    QCOMPARE(service->sessionCount(), qsizetype(3));
    QCOMPARE(service->counters()[Counter::RefusedOrigins], quint64(2));
}

void tst_Limits::originHttp_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QByteArray>("path"); // under /svc; $S is an open session's URL id
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("okStatus"); // with an allowed origin or none

    QTest::newRow("info") << QByteArray("GET") << QByteArray("/info") << QByteArray() << 200;
    QTest::newRow("xhr") << QByteArray("POST") << QByteArray("/000/new/xhr") << QByteArray() << 200;
    QTest::newRow("xhr_send") << QByteArray("POST") << QByteArray("/000/$S/xhr_send") << QByteArray("[\"m\"]") << 204;
    QTest::newRow("xhr_streaming") << QByteArray("POST") << QByteArray("/000/new/xhr_streaming") << QByteArray() << 200;
    QTest::newRow("eventsource") << QByteArray("GET") << QByteArray("/000/new/eventsource") << QByteArray() << 200;
    QTest::newRow("htmlfile") << QByteArray("GET") << QByteArray("/000/new/htmlfile?c=cb") << QByteArray() << 200;
    QTest::newRow("jsonp") << QByteArray("GET") << QByteArray("/000/new/jsonp?c=cb") << QByteArray() << 200;
    QTest::newRow("jsonp_send") << QByteArray("POST") << QByteArray("/000/$S/jsonp_send")
                                << QByteArray("d=%5B%22m%22%5D") << 200;
}

void tst_Limits::originHttp()
{
    QFETCH(QByteArray, method);
    QFETCH(QByteArray, path);
    QFETCH(QByteArray, body);
    QFETCH(int, okStatus);

    Config config = configWith({QStringLiteral("/svc")});
    config.services[0].origins = kOriginPatterns;
    config.services[0].responseLimit = 1; // streams end after their first frame
    TestServer server;
    QVERIFY(server.start(config));
    Service *service = serviceOf(server.server(), QStringLiteral("/svc"));
    TestBackend *backend = server.backend(QStringLiteral("/svc"));
    const quint16 port = server.port();

    // A session to send to (opened by an allowed page).
    const Response opened = request(port, "POST", "/svc/000/s/xhr", QByteArray(), {{"Origin", kGoodOrigin}});
    QCOMPARE(opened.body, QByteArray("o\n"));
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("connect").size(), 1, kWaitMs);
    const qsizetype sessionsBefore = service->sessionCount();
    const Headers form =
        path.endsWith("jsonp_send") ? Headers{{"Content-Type", "application/x-www-form-urlencoded"}} : Headers{};

    // Refused origin: 403, counted, nothing opened, nothing delivered.
    int round = 0;
    const auto target = [&] {
        QByteArray p = path;
        p.replace("$S", "s").replace("new", "new" + QByteArray::number(round++));
        return "/svc" + p;
    };
    const Response refused = request(port, method, target(), body, form + Headers{{"Origin", kBadOrigin}});
    QVERIFY(refused.ok);
    QCOMPARE(refused.status, 403);
    QCOMPARE(refused.body, QByteArray("Origin not allowed\n"));
    QCOMPARE(service->counters()[Counter::RefusedOrigins], quint64(1));
    QCOMPARE(service->sessionCount(), sessionsBefore);
    QCOMPARE(service->counters()[Counter::MessagesIn], quint64(0));

    // Allowed origin, then no Origin header at all: served as usual.
    const Response allowed = request(port, method, target(), body, form + Headers{{"Origin", kGoodOrigin}});
    QVERIFY(allowed.ok);
    QCOMPARE(allowed.status, okStatus);
    QCOMPARE(allowed.header("Access-Control-Allow-Origin"), kGoodOrigin);
    const Response without = request(port, method, target(), body, form);
    QVERIFY(without.ok);
    QCOMPARE(without.status, okStatus);
    QCOMPARE(service->counters()[Counter::RefusedOrigins], quint64(1));
    if (body.isEmpty() && path != "/info")
        QCOMPARE(service->sessionCount(), sessionsBefore + 2);
    if (!body.isEmpty()) {
        QTRY_COMPARE_WITH_TIMEOUT(backend->eventsOfType("message").size(), 2, kWaitMs);
        QCOMPARE(service->counters()[Counter::MessagesIn], quint64(2));
    }
}

void tst_Limits::originInfoListsPatterns()
{
    Config config = configWith({QStringLiteral("/svc"), QStringLiteral("/any")});
    config.services[0].origins = kOriginPatterns;
    TestServer server;
    QVERIFY(server.start(config));

    const Response restricted = request(server.port(), "GET", "/svc/info", QByteArray(), {{"Origin", kGoodOrigin}});
    QCOMPARE(restricted.status, 200);
    const QJsonArray listed =
        QJsonDocument::fromJson(restricted.body).object().value(QStringLiteral("origins")).toArray();
    QStringList patterns;
    for (const QJsonValue &value : listed)
        patterns.append(value.toString());
    QCOMPARE(patterns, kOriginPatterns);

    // The default: any origin, reported as the protocol suite expects.
    const Response open = request(server.port(), "GET", "/any/info", QByteArray(), {{"Origin", kBadOrigin}});
    QCOMPARE(open.status, 200);
    QCOMPARE(QJsonDocument::fromJson(open.body).object().value(QStringLiteral("origins")).toArray(),
             QJsonArray{QStringLiteral("*:*")});
    QCOMPARE(serviceOf(server.server(), QStringLiteral("/any"))->counters()[Counter::RefusedOrigins], quint64(0));
}

// ---- sessions per service and per address ----------------------------------------------

void tst_Limits::maxSessionsHttp()
{
    Config config = configWith({QStringLiteral("/svc")});
    config.services[0].maxSessions = 3;
    config.services[0].maxSessionsPerAddress = 0; // no per-address limit
    config.services[0].disconnectDelayMs = 200;   // a session that ends frees its slot soon
    TestServer server;
    QVERIFY(server.start(config));
    Service *service = serviceOf(server.server(), QStringLiteral("/svc"));
    TestBackend *backend = server.backend(QStringLiteral("/svc"));
    const quint16 port = server.port();

    // Three sessions, each kept alive by its stream.
    std::vector<std::unique_ptr<HttpClient>> streams;
    for (int i = 0; i < 3; ++i) {
        streams.push_back(openStream(port, "/svc/000/s" + QByteArray::number(i) + "/xhr_streaming"));
        QVERIFY(streams.back());
    }
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("connect").size(), 3, kWaitMs);

    for (const QByteArray &transport : {QByteArray("xhr"), QByteArray("xhr_streaming")}) {
        const Response refused = request(port, "POST", "/svc/000/extra/" + transport);
        QVERIFY(refused.ok);
        QCOMPARE(refused.status, 503);
        QCOMPARE(refused.body, QByteArray("Too many sessions\n"));
        bool numeric = false;
        QVERIFY(refused.header("Retry-After").toInt(&numeric) > 0 && numeric);
    }
    const Response eventsource = request(port, "GET", "/svc/000/extra/eventsource");
    QCOMPARE(eventsource.status, 503);
    QVERIFY(!eventsource.header("Retry-After").isEmpty());
    QCOMPARE(service->counters()[Counter::RefusedSessionsMaxSessions], quint64(3));
    QCOMPARE(service->sessionCount(), qsizetype(3));
    QCOMPARE(backend->sessionIds("connect").size(), 3);

    // The sessions that exist are untouched: they still send and receive.
    QCOMPARE(request(port, "POST", "/svc/000/s0/xhr_send", "[\"still\"]").status, 204);
    QCOMPARE(streams.at(0)->readChunk(), QByteArray("a[\"still\"]\n"));

    // A session that ends frees its slot.
    backend->sendDisconnect(backend->sessionIds("connect").at(1));
    QCOMPARE(streams.at(1)->readChunk(), QByteArray("c[3000,\"Go away!\"]\n"));
    QTRY_COMPARE_WITH_TIMEOUT(service->sessionCount(), qsizetype(2), kWaitMs);
    QCOMPARE(request(port, "POST", "/svc/000/late/xhr").body, QByteArray("o\n"));
    QCOMPARE(service->counters()[Counter::RefusedSessionsMaxSessions], quint64(3));
}

void tst_Limits::maxSessionsWebSocket()
{
    Config config = configWith({QStringLiteral("/svc")});
    config.services[0].maxSessions = 2;
    config.services[0].maxSessionsPerAddress = 0;
    TestServer server;
    QVERIFY(server.start(config));
    Service *service = serviceOf(server.server(), QStringLiteral("/svc"));
    TestBackend *backend = server.backend(QStringLiteral("/svc"));

    RawWebSocket first(server.port());
    QVERIFY(first.open("/svc/000/a/websocket"));
    QCOMPARE(first.readFrame().payload, QByteArray("o"));
    const auto stream = openStream(server.port(), "/svc/000/b/xhr_streaming");
    QVERIFY(stream);
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("connect").size(), 2, kWaitMs);

    for (const QByteArray &path : {QByteArray("/svc/000/c/websocket"), QByteArray("/svc/websocket")}) {
        RawWebSocket refused(server.port());
        QVERIFY(refused.open(path));
        QList<QByteArray> texts;
        RawWebSocket::Frame close;
        QVERIFY(refused.readUntilClose(&texts, &close));
        QCOMPARE(texts, QList<QByteArray>()); // not even the open frame
        QCOMPARE(close.closeCode(), 1013);
        QCOMPARE(close.closeReason(), QByteArray("Too many sessions"));
        QVERIFY(refused.http().waitForClose());
    }
    QCOMPARE(service->counters()[Counter::RefusedSessionsMaxSessions], quint64(2));
    QCOMPARE(service->sessionCount(), qsizetype(2));
    QCOMPARE(backend->sessionIds("connect").size(), 2);
    QCOMPARE(backend->sessionIds("disconnect").size(), 0);

    // The open WebSocket session still works.
    first.sendText("[\"ping\"]");
    QCOMPARE(first.readFrame().payload, QByteArray("a[\"ping\"]"));
}

void tst_Limits::maxSessionsPerAddress()
{
    Config config = configWith({QStringLiteral("/svc")});
    config.services[0].maxSessionsPerAddress = 2;
    TestServer server;
    QVERIFY(server.start(config));
    Service *service = serviceOf(server.server(), QStringLiteral("/svc"));
    TestBackend *backend = server.backend(QStringLiteral("/svc"));
    const quint16 port = server.port();

    // 127.0.0.1: one WebSocket and one HTTP session fill its share.
    RawWebSocket ws(port);
    QVERIFY(ws.open("/svc/000/w1/websocket"));
    QCOMPARE(ws.readFrame().payload, QByteArray("o"));
    const auto stream = openStream(port, "/svc/000/h1/xhr_streaming");
    QVERIFY(stream);

    const Response refused = request(port, "POST", "/svc/000/h2/xhr");
    QCOMPARE(refused.status, 503);
    QVERIFY(!refused.header("Retry-After").isEmpty());
    RawWebSocket wsRefused(port);
    QVERIFY(wsRefused.open("/svc/000/w2/websocket"));
    QList<QByteArray> texts;
    RawWebSocket::Frame close;
    QVERIFY(wsRefused.readUntilClose(&texts, &close));
    QCOMPARE(close.closeCode(), 1013);
    QCOMPARE(close.closeReason(), QByteArray("Too many sessions"));
    QCOMPARE(service->counters()[Counter::RefusedSessionsPerAddress], quint64(2));

    // Another address has a share of its own.
    const auto other = openStream(port, "/svc/000/o1/xhr_streaming", kOtherAddress);
    QVERIFY2(other, "cannot open a session from 127.0.0.2");
    QCOMPARE(service->sessions().size(), qsizetype(3));
    RawWebSocket otherWs(port);
    QVERIFY(otherWs.open("/svc/000/o2/websocket", {}, kOtherAddress));
    QCOMPARE(otherWs.readFrame().payload, QByteArray("o"));
    QCOMPARE(request(port, "POST", "/svc/000/o3/xhr", QByteArray(), {}, kOtherAddress).status, 503);
    QCOMPARE(service->counters()[Counter::RefusedSessionsPerAddress], quint64(3));
    QCOMPARE(service->sessionCount(), qsizetype(4));
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("connect").size(), 4, kWaitMs);
    int fromOther = 0;
    for (const Session *session : service->sessions())
        fromOther += session->clientInfo().address == kOtherAddress.toString() ? 1 : 0;
    QCOMPARE(fromOther, 2);

    // Sending to an existing session is not a new session.
    QCOMPARE(request(port, "POST", "/svc/000/h1/xhr_send", "[\"x\"]").status, 204);
    QCOMPARE(stream->readChunk(), QByteArray("a[\"x\"]\n"));

    // A session of 127.0.0.1 ends: its slot is free again.
    ws.sendFrame(0x8, QByteArray("\x03\xe8", 2)); // close 1000
    QTRY_COMPARE_WITH_TIMEOUT(service->sessionCount(), qsizetype(3), kWaitMs);
    QCOMPARE(request(port, "POST", "/svc/000/h3/xhr").body, QByteArray("o\n"));
    QCOMPARE(service->counters()[Counter::RefusedSessionsPerAddress], quint64(3));
}

void tst_Limits::checkAddress()
{
    Config config = configWith({QStringLiteral("/strict"), QStringLiteral("/lax")});
    config.services[0].checkAddress = true;
    TestServer server;
    QVERIFY(server.start(config));
    const quint16 port = server.port();
    Service *strict = serviceOf(server.server(), QStringLiteral("/strict"));
    Service *lax = serviceOf(server.server(), QStringLiteral("/lax"));
    TestBackend *strictBackend = server.backend(QStringLiteral("/strict"));
    TestBackend *laxBackend = server.backend(QStringLiteral("/lax"));

    QCOMPARE(request(port, "POST", "/strict/000/s/xhr").body, QByteArray("o\n"));
    QTRY_COMPARE_WITH_TIMEOUT(strictBackend->sessionIds("connect").size(), 1, kWaitMs);
    QCOMPARE(strict->sessions().first()->clientInfo().address, QStringLiteral("127.0.0.1"));

    // The same session from 127.0.0.2: sending and receiving are refused.
    const Response send = request(port, "POST", "/strict/000/s/xhr_send", "[\"hijack\"]", {}, kOtherAddress);
    QVERIFY2(send.ok, "cannot connect from 127.0.0.2");
    QCOMPARE(send.status, 403);
    QCOMPARE(strict->counters()[Counter::AddressMismatches], quint64(1));
    const Response poll = request(port, "POST", "/strict/000/s/xhr", QByteArray(), {}, kOtherAddress);
    QCOMPARE(poll.status, 403);
    const Response stream = request(port, "GET", "/strict/000/s/eventsource", QByteArray(), {}, kOtherAddress);
    QCOMPARE(stream.status, 403);
    QCOMPARE(strict->counters()[Counter::AddressMismatches], quint64(3));
    QCOMPARE(strict->counters()[Counter::MessagesIn], quint64(0));
    QCOMPARE(strictBackend->eventsOfType("message").size(), 0);

    // The session itself is unharmed: its own address sends and polls.
    QCOMPARE(request(port, "POST", "/strict/000/s/xhr_send", "[\"mine\"]").status, 204);
    QTRY_COMPARE_WITH_TIMEOUT(strict->counters()[Counter::MessagesOut], quint64(1), kWaitMs);
    QCOMPARE(request(port, "POST", "/strict/000/s/xhr").body, QByteArray("a[\"mine\"]\n"));
    QCOMPARE(strictBackend->sessionIds("disconnect").size(), 0);
    QCOMPARE(strict->counters()[Counter::AddressMismatches], quint64(3));

    // Off (the default): a client that changes address keeps its session.
    QCOMPARE(request(port, "POST", "/lax/000/s/xhr").body, QByteArray("o\n"));
    QCOMPARE(request(port, "POST", "/lax/000/s/xhr_send", "[\"moved\"]", {}, kOtherAddress).status, 204);
    QTRY_COMPARE_WITH_TIMEOUT(lax->counters()[Counter::MessagesOut], quint64(1), kWaitMs);
    QCOMPARE(request(port, "POST", "/lax/000/s/xhr", QByteArray(), {}, kOtherAddress).body,
             QByteArray("a[\"moved\"]\n"));
    QCOMPARE(laxBackend->eventsOfType("message").size(), 1);
    QCOMPARE(lax->counters()[Counter::AddressMismatches], quint64(0));
}

// ---- WebSocket messages ---------------------------------------------------------------------

void tst_Limits::maxMessageBytes_data()
{
    QTest::addColumn<QByteArray>("path");
    QTest::addColumn<bool>("sockjs");
    QTest::addColumn<bool>("fragmented");

    QTest::newRow("sockjs, one frame") << QByteArray("/svc/000/big/websocket") << true << false;
    QTest::newRow("sockjs, fragmented") << QByteArray("/svc/000/big/websocket") << true << true;
    QTest::newRow("raw, one frame") << QByteArray("/svc/websocket") << false << false;
}

void tst_Limits::maxMessageBytes()
{
    QFETCH(QByteArray, path);
    QFETCH(bool, sockjs);
    QFETCH(bool, fragmented);

    constexpr qint64 kMax = 1024;
    Config config = configWith({QStringLiteral("/svc")});
    config.services[0].maxMessageBytes = kMax;
    TestServer server;
    QVERIFY(server.start(config));
    Service *service = serviceOf(server.server(), QStringLiteral("/svc"));
    TestBackend *backend = server.backend(QStringLiteral("/svc"));

    RawWebSocket ws(server.port());
    QVERIFY(ws.open(path));
    if (sockjs)
        QCOMPARE(ws.readFrame().payload, QByteArray("o"));
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("connect").size(), 1, kWaitMs);
    const QByteArray id = backend->sessionIds("connect").first();

    // A message exactly at the limit goes through.
    const auto wrap = [&](const QByteArray &text) { return sockjs ? "[\"" + text + "\"]" : text; };
    const QByteArray atLimit = QByteArray(kMax - (sockjs ? 4 : 0), 'a');
    ws.sendText(wrap(atLimit));
    const RawWebSocket::Frame echo = ws.readFrame();
    QVERIFY(echo.ok);
    QCOMPARE(echo.payload, sockjs ? "a" + wrap(atLimit) : atLimit);

    // One byte over: close 1009, nothing of it delivered.
    const QByteArray over = wrap(QByteArray(kMax - (sockjs ? 4 : 0) + 1, 'b'));
    if (fragmented) {
        const qsizetype half = over.size() / 2;
        ws.sendFrame(0x1, over.left(half), false);
        ws.sendFrame(0x0, over.mid(half), true);
    } else {
        ws.sendText(over);
    }
    QList<QByteArray> texts;
    RawWebSocket::Frame close;
    QVERIFY(ws.readUntilClose(&texts, &close));
    QCOMPARE(close.closeCode(), 1009);
    QVERIFY(ws.http().waitForClose());
    QCOMPARE(texts, QList<QByteArray>());

    // The session ended with its connection: the backend hears disconnect
    // and saw only the message within the limit.
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("disconnect"), QList<QByteArray>{id}, kWaitMs);
    const QList<TestBackend::Event> messages = backend->eventsOfType("message");
    QCOMPARE(messages.size(), 1);
    QCOMPARE(messages.first().data, atLimit);
    QCOMPARE(service->counters()[Counter::MessagesIn], quint64(1));
    QCOMPARE(service->counters()[Counter::SessionsClosed], quint64(1));
    QTRY_COMPARE_WITH_TIMEOUT(service->sessionCount(), qsizetype(0), kWaitMs);
}

// ---- HTTP limits --------------------------------------------------------------------------------

void tst_Limits::httpLimits_data()
{
    QTest::addColumn<QByteArray>("request"); // $H is the Host header line
    QTest::addColumn<int>("status");

    const QByteArray send = "POST /svc/000/s/xhr_send HTTP/1.1\r\n$H";
    QTest::newRow("xhr_send body") << QByteArray(send + "Content-Length: 1025\r\n\r\n" + QByteArray(1025, ' ')) << 413;
    QTest::newRow("xhr_send body, announced only") << QByteArray(send + "Content-Length: 100000000\r\n\r\n") << 413;
    QTest::newRow("xhr_send chunked body")
        << QByteArray(send + "Transfer-Encoding: chunked\r\n\r\n401\r\n" + QByteArray(1025, ' ') + "\r\n0\r\n\r\n")
        << 413;
    QTest::newRow("jsonp_send body") << QByteArray(
        "POST /svc/000/s/jsonp_send HTTP/1.1\r\n$HContent-Type: application/x-www-form-urlencoded\r\n"
        "Content-Length: 2000\r\n\r\n"
        + QByteArray(2000, 'd')) << 413;
    QTest::newRow("request line") << QByteArray("GET /svc/" + QByteArray(300, 'a') + " HTTP/1.1\r\n$H\r\n") << 414;
    QTest::newRow("request line, unfinished") << QByteArray("GET /svc/" + QByteArray(300, 'a')) << 414;
    QTest::newRow("request line, unfinished POST") << QByteArray("POST /svc/" + QByteArray(300, 'a')) << 414;
    QTest::newRow("header bytes, unfinished")
        << QByteArray("GET /svc HTTP/1.1\r\n$HX-Pad: " + QByteArray(1100, 'p')) << 431;
    QTest::newRow("header bytes") << QByteArray("GET /svc HTTP/1.1\r\n$HX-Pad: " + QByteArray(1100, 'p') + "\r\n\r\n")
                                  << 431;
    QByteArray many = "GET /svc HTTP/1.1\r\n$H";
    for (int i = 0; i < 10; ++i)
        many += "X-H" + QByteArray::number(i) + ": v\r\n";
    QTest::newRow("header count") << QByteArray(many + "\r\n") << 431;
    QTest::newRow("header count, unfinished") << many << 431;
}

void tst_Limits::httpLimits()
{
    QFETCH(QByteArray, request);
    QFETCH(int, status);

    Config config = configWith({QStringLiteral("/svc")});
    config.http.limits.maxRequestLine = 256;
    config.http.limits.maxHeaderBytes = 1024;
    config.http.limits.maxHeaderCount = 10;
    config.http.limits.maxBodyBytes = 1024;
    TestServer server;
    QVERIFY(server.start(config));
    Service *service = serviceOf(server.server(), QStringLiteral("/svc"));
    const quint16 port = server.port();
    QCOMPARE(::request(port, "POST", "/svc/000/s/xhr").body, QByteArray("o\n"));

    // Within the limits all is well (Host counts as one of the 10 headers).
    QCOMPARE(::request(port, "POST", "/svc/000/s/xhr_send", "[\"" + QByteArray(1020, 'x') + "\"]").status, 204);
    QCOMPARE(::request(port, "GET", "/svc/" + QByteArray(200, 'a')).status, 404);
    QCOMPARE(server.server()->counters()[Counter::HttpRejected], quint64(0));

    HttpClient client(port, kWaitMs);
    QVERIFY(client.connectToServer());
    client.write(QByteArray(request).replace("$H", "Host: 127.0.0.1\r\n"));
    const Response response = client.readResponse();
    QVERIFY(response.ok);
    QCOMPARE(response.status, status);
    QCOMPARE(response.header("Connection").toLower(), QByteArray("close"));
    QVERIFY(client.waitForClose());
    QCOMPARE(server.server()->counters()[Counter::HttpRejected], quint64(1));
    // Nothing of a refused body reaches the session.
    QCOMPARE(service->counters()[Counter::MessagesIn], quint64(1));
    QCOMPARE(service->counters()[Counter::ProtocolErrors], quint64(0));
    // The proxy is fine.
    QCOMPARE(::request(port, "GET", "/svc").body, kGreeting);
}

void tst_Limits::requestTimeout()
{
    constexpr int kTimeoutMs = 500;
    Config config = configWith({QStringLiteral("/svc")});
    config.http.requestTimeoutMs = kTimeoutMs;
    TestServer server;
    QVERIFY(server.start(config));

    HttpClient slow(server.port(), kWaitMs);
    QVERIFY(slow.connectToServer());
    QElapsedTimer timer;
    timer.start();
    slow.write("POST /svc/000/s/xhr HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Unfinished: ");
    const Response response = slow.readResponse();
    const qint64 elapsed = timer.elapsed();
    QVERIFY(response.ok);
    QCOMPARE(response.status, 408);
    QCOMPARE(response.header("Connection").toLower(), QByteArray("close"));
    QVERIFY2(elapsed >= kTimeoutMs * 8 / 10, QByteArray::number(elapsed).constData());
    QVERIFY(slow.waitForClose());
    QCOMPARE(server.server()->counters()[Counter::HttpRejected], quint64(1));
    QCOMPARE(serviceOf(server.server(), QStringLiteral("/svc"))->sessionCount(), qsizetype(0));
}

void tst_Limits::completeHeadIsNotSlow_data()
{
    QTest::addColumn<QByteArray>("request");
    QTest::newRow("GET, CRLF") << QByteArray("GET /svc HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    QTest::newRow("GET, no headers") << QByteArray("GET /svc HTTP/1.1\r\n\r\n");
    QTest::newRow("GET, bare LF") << QByteArray("GET /svc HTTP/1.1\nHost: 127.0.0.1\n\n");
    QTest::newRow("GET, LF then CRLF") << QByteArray("GET /svc HTTP/1.1\r\nHost: 127.0.0.1\n\r\n");
    QTest::newRow("POST, bare LF") << QByteArray(
        "POST /svc/000/s/xhr HTTP/1.1\nHost: 127.0.0.1\nContent-Length: 0\n\n");
}

// A request whose head is complete is answered at once, however its lines
// end: the request timeout is only for requests still arriving.
void tst_Limits::completeHeadIsNotSlow()
{
    QFETCH(QByteArray, request);
    Config config = configWith({QStringLiteral("/svc")});
    config.http.requestTimeoutMs = 3600 * 1000; // a 408 would come long after this test gave up
    TestServer server;
    QVERIFY(server.start(config));

    HttpClient client(server.port(), kWaitMs);
    QVERIFY(client.connectToServer());
    client.write(request);
    const Response response = client.readResponse();
    QVERIFY(response.ok);
    QCOMPARE(response.status, 200);
    QVERIFY(response.body == kGreeting || response.body == "o\n");
    QCOMPARE(server.server()->counters()[Counter::HttpRejected], quint64(0));
}

void tst_Limits::keepAliveTimeout()
{
    constexpr int kTimeoutMs = 500;
    Config config = configWith({QStringLiteral("/svc")});
    config.http.keepAliveTimeoutMs = kTimeoutMs;
    TestServer server;
    QVERIFY(server.start(config));

    HttpClient idle(server.port(), kWaitMs);
    QVERIFY(idle.connectToServer());
    idle.sendRequest("GET", "/svc");
    QCOMPARE(idle.readResponse().body, kGreeting);
    QElapsedTimer timer;
    timer.start();
    // Closed without a word: an idle connection is not a failed request.
    QVERIFY(idle.waitForClose());
    QVERIFY2(timer.elapsed() >= kTimeoutMs * 8 / 10, QByteArray::number(timer.elapsed()).constData());
    QCOMPARE(idle.socket().readAll(), QByteArray());
    QCOMPARE(server.server()->counters()[Counter::HttpRejected], quint64(0));
}

// ---- HTTP limits per service ------------------------------------------------------------------

namespace {

// One port, two services: /small stricter than the top-level limits, /big
// more generous than them.
Config smallAndBigConfig()
{
    Config config = configWith({QStringLiteral("/small"), QStringLiteral("/big")});
    config.http.limits.maxHeaderBytes = 2048;
    config.http.limits.maxHeaderCount = 20;
    config.http.limits.maxBodyBytes = 2048;
    config.services[0].maxHeaderBytes = 512;
    config.services[0].maxHeaderCount = 8;
    config.services[0].maxBodyBytes = 256;
    // Above the top-level values: a handshake this large must still be
    // peeked whole before the WebSocket server gets it.
    config.services[1].maxHeaderBytes = 32 * 1024;
    config.services[1].maxHeaderCount = 60;
    config.services[1].maxBodyBytes = 64 * 1024;
    return config;
}

// count header fields "X-H<i>: v".
Headers manyHeaders(int count)
{
    Headers headers;
    for (int i = 0; i < count; ++i)
        headers.append({"X-H" + QByteArray::number(i), "v"});
    return headers;
}

// count header fields of about bytes each.
Headers paddedHeaders(int count, qsizetype bytes)
{
    Headers headers;
    for (int i = 0; i < count; ++i)
        headers.append({"X-Pad" + QByteArray::number(i), QByteArray(bytes, 'p')});
    return headers;
}

QByteArray headerLines(const Headers &headers)
{
    QByteArray lines;
    for (const auto &header : headers)
        lines += header.first + ": " + header.second + "\r\n";
    return lines;
}

} // namespace

void tst_Limits::serviceHttpLimits_data()
{
    QTest::addColumn<QByteArray>("request"); // $P is the service prefix, $H the Host header line
    QTest::addColumn<int>("smallStatus");
    QTest::addColumn<int>("bigStatus");

    // Every request is over the top-level limits as well as /small's.
    const QByteArray send = "POST $P/000/s/xhr_send HTTP/1.1\r\n$H";
    const QByteArray message = "[\"" + QByteArray(3996, 'x') + "\"]"; // 4000 bytes
    QTest::newRow("xhr_send body") << QByteArray(send + "Content-Length: 4000\r\n\r\n" + message) << 413 << 204;
    QTest::newRow("xhr_send chunked body")
        << QByteArray(send + "Transfer-Encoding: chunked\r\n\r\n7d0\r\n" + message.left(2000) + "\r\n7d0\r\n"
                      + message.mid(2000) + "\r\n0\r\n\r\n")
        << 413 << 204;
    const QByteArray form = "d=%5B%22" + QByteArray(3000, 'd') + "%22%5D";
    QTest::newRow("jsonp_send body") << QByteArray(
        "POST $P/000/s/jsonp_send HTTP/1.1\r\n$HContent-Type: application/x-www-form-urlencoded\r\n"
        "Content-Length: "
        + QByteArray::number(form.size()) + "\r\n\r\n" + form)
                                     << 413 << 200;
    QTest::newRow("header count") << QByteArray(send + headerLines(manyHeaders(30))
                                                + "Content-Length: 5\r\n\r\n[\"m\"]")
                                  << 431 << 204;
    QTest::newRow("header bytes") << QByteArray(send + headerLines(paddedHeaders(4, 1000))
                                                + "Content-Length: 5\r\n\r\n[\"m\"]")
                                  << 431 << 204;
}

// The same request on one keep-alive connection, first for /big (served),
// then for /small (refused with its own limits). A fresh connection to
// /big afterwards is served again: nothing of /small's limits sticks.
void tst_Limits::serviceHttpLimits()
{
    QFETCH(QByteArray, request);
    QFETCH(int, smallStatus);
    QFETCH(int, bigStatus);

    TestServer server;
    QVERIFY(server.start(smallAndBigConfig()));
    Service *small = serviceOf(server.server(), QStringLiteral("/small"));
    Service *big = serviceOf(server.server(), QStringLiteral("/big"));
    const quint16 port = server.port();
    QCOMPARE(::request(port, "POST", "/small/000/s/xhr").body, QByteArray("o\n"));
    QCOMPARE(::request(port, "POST", "/big/000/s/xhr").body, QByteArray("o\n"));
    QTRY_COMPARE_WITH_TIMEOUT(server.backend(QStringLiteral("/big"))->sessionIds("connect").size(), 1, kWaitMs);
    const auto forService = [&request](const QByteArray &prefix) {
        return QByteArray(request).replace("$P", prefix).replace("$H", "Host: 127.0.0.1\r\n");
    };

    HttpClient client(port, kWaitMs);
    QVERIFY(client.connectToServer());
    client.write(forService("/big"));
    const Response served = client.readResponse();
    QVERIFY(served.ok);
    QCOMPARE(served.status, bigStatus);
    QVERIFY(served.header("Connection").toLower() != "close");
    QTRY_COMPARE_WITH_TIMEOUT(big->counters()[Counter::MessagesIn], quint64(1), kWaitMs);

    client.write(forService("/small"));
    const Response refused = client.readResponse();
    QVERIFY(refused.ok);
    QCOMPARE(refused.status, smallStatus);
    QCOMPARE(refused.header("Connection").toLower(), QByteArray("close"));
    QVERIFY(client.waitForClose());
    QCOMPARE(server.server()->counters()[Counter::HttpRejected], quint64(1));
    QCOMPARE(small->counters()[Counter::MessagesIn], quint64(0));

    HttpClient again(port, kWaitMs);
    QVERIFY(again.connectToServer());
    again.write(forService("/big"));
    QCOMPARE(again.readResponse().status, bigStatus);
    QTRY_COMPARE_WITH_TIMEOUT(big->counters()[Counter::MessagesIn], quint64(2), kWaitMs);
    QCOMPARE(big->counters()[Counter::ProtocolErrors], quint64(0));
    QCOMPARE(server.server()->counters()[Counter::HttpRejected], quint64(1));
}

void tst_Limits::serviceWebSocketLimits_data()
{
    QTest::addColumn<QByteArray>("path"); // under the prefix
    QTest::addColumn<Headers>("extra");   // besides the 5 fields of the handshake
    QTest::addColumn<bool>("sockjs");

    // Over the top-level limits as well as /small's; within /big's.
    QTest::newRow("sockjs, header count") << QByteArray("/000/w/websocket") << manyHeaders(20) << true;
    QTest::newRow("raw, header count") << QByteArray("/websocket") << manyHeaders(20) << false;
    QTest::newRow("sockjs, header bytes") << QByteArray("/000/w/websocket") << paddedHeaders(4, 5000) << true;
    QTest::newRow("raw, header bytes") << QByteArray("/websocket") << paddedHeaders(4, 5000) << false;
}

// The handshake is peeked before it is parsed; the peek applies the limits
// of the service it is for, whole or while it is still arriving.
void tst_Limits::serviceWebSocketLimits()
{
    QFETCH(QByteArray, path);
    QFETCH(Headers, extra);
    QFETCH(bool, sockjs);

    Config config = smallAndBigConfig();
    config.http.requestTimeoutMs = 3600 * 1000; // a 408 would come long after this test gave up
    TestServer server;
    QVERIFY(server.start(config));
    TestBackend *smallBackend = server.backend(QStringLiteral("/small"));
    TestBackend *bigBackend = server.backend(QStringLiteral("/big"));

    RawWebSocket refused(server.port());
    QVERIFY(refused.connectAndRequest("/small" + path, extra));
    const Response response = refused.http().readResponse();
    QVERIFY(response.ok);
    QCOMPARE(response.status, 431);
    QCOMPARE(response.header("Connection").toLower(), QByteArray("close"));
    QVERIFY(!response.hasHeader("Sec-WebSocket-Accept"));
    QVERIFY(refused.http().waitForClose());

    // Unfinished: refused as soon as it is over the limit, not when it times out.
    HttpClient unfinished(server.port(), kWaitMs);
    QVERIFY(unfinished.connectToServer());
    unfinished.write("GET /small" + path
                     + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
                       "Sec-WebSocket-Version: 13\r\n"
                     + headerLines(extra));
    const Response early = unfinished.readResponse();
    QVERIFY(early.ok);
    QCOMPARE(early.status, 431);
    QVERIFY(unfinished.waitForClose());
    QCOMPARE(server.server()->counters()[Counter::HttpRejected], quint64(2));
    QCOMPARE(server.server()->counters()[Counter::WebSocketUpgrades], quint64(0));

    RawWebSocket accepted(server.port());
    QVERIFY(accepted.open("/big" + path, extra));
    if (sockjs)
        QCOMPARE(accepted.readFrame().payload, QByteArray("o"));
    QTRY_COMPARE_WITH_TIMEOUT(bigBackend->sessionIds("connect").size(), 1, kWaitMs);
    QCOMPARE(server.server()->counters()[Counter::WebSocketUpgrades], quint64(1));
    QCOMPARE(server.server()->counters()[Counter::HttpRejected], quint64(2));
    QCOMPARE(smallBackend->sessionIds("connect").size(), 0);
}

// Requests that reach no service (404s, static files, a path that only
// starts like a prefix) get the top-level limits.
void tst_Limits::topLevelLimitsOutsideServices()
{
    TestServer server;
    QVERIFY(server.start(smallAndBigConfig()));
    const quint16 port = server.port();
    const Headers within = manyHeaders(10); // 11 with Host: under 20, over /small's 8
    const Headers over = manyHeaders(25);   // over 20, under /big's 60
    const Headers padded = paddedHeaders(4, 1000);
    quint64 rejected = 0;

    struct Case
    {
        QByteArray method;
        QByteArray path;
        QByteArray body;
        Headers headers;
        int status;
    };
    const QByteArray script = "/sockjs-client/sockjs.min.js";
    const Case cases[] = {
        {"GET", "/nowhere", {}, within, 404},
        {"GET", "/nowhere", {}, over, 431},
        {"GET", "/nowhere", {}, padded, 431},
        {"POST", "/nowhere", QByteArray(1000, 'b'), {}, 404},
        {"POST", "/nowhere", QByteArray(3000, 'b'), {}, 413},
        {"GET", script, {}, within, 200},
        {"GET", script, {}, over, 431},
        {"GET", "/bigger", {}, over, 431}, // not under /big
        {"GET", "/big", {}, over, 200},
        {"GET", "/big", {}, padded, 200},
        {"GET", "/small", {}, within, 431},
    };
    for (const Case &c : cases) {
        const Response response = ::request(port, c.method, c.path, c.body, c.headers);
        QVERIFY2(response.ok, c.path.constData());
        QVERIFY2(response.status == c.status,
                 qPrintable(QStringLiteral("%1 %2 with %3 header fields: %4")
                                .arg(QString::fromLatin1(c.method), QString::fromLatin1(c.path))
                                .arg(c.headers.size())
                                .arg(response.status)));
        rejected += c.status >= 413 ? 1 : 0;
    }
    QCOMPARE(server.server()->counters()[Counter::HttpRejected], rejected);

    // An upgrade for no service: the top-level limits too.
    RawWebSocket nowhere(port);
    QVERIFY(nowhere.connectAndRequest("/nowhere/websocket", manyHeaders(20)));
    QCOMPARE(nowhere.http().readResponse().status, 431);
    QCOMPARE(server.server()->counters()[Counter::HttpRejected], rejected + 1);
}

// ---- outgoing queues towards slow readers -----------------------------------------------------

// A reader that stops for a while but within the bounds: the session holds
// back what the socket cannot take (1 MiB unsent at most), goes on once the
// client reads again, and the client gets every message in order over a
// session that stays open.
void tst_Limits::slowWebSocketReaderResumes()
{
    constexpr int kMessages = 1500;
    constexpr qsizetype kMessageBytes = 4096; // 6 MiB in all: more than the socket and the kernel hold
    Config config = configWith({QStringLiteral("/svc")});
    config.services[0].maxQueuedMessages = kMessages;
    config.services[0].maxQueuedBytes = 64 * 1024 * 1024;
    TestServer server;
    QVERIFY(server.start(config));
    Service *service = serviceOf(server.server(), QStringLiteral("/svc"));
    TestBackend *backend = server.backend(QStringLiteral("/svc"));

    RawWebSocket ws(server.port(), kFloodMs);
    QVERIFY(ws.open("/svc/000/pause/websocket"));
    QCOMPARE(ws.readFrame().payload, QByteArray("o"));
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("connect").size(), 1, kWaitMs);
    const QByteArray id = backend->sessionIds("connect").first();
    QPointer<Session> session = service->sessionByBackendId(id);
    QVERIFY(session);

    ws.socket().setReadBufferSize(4096);
    for (int i = 0; i < kMessages; ++i)
        backend->sendMessage(id, Flood::message(i, kMessageBytes));
    QTRY_COMPARE_WITH_TIMEOUT(service->bridge()->counters()[Counter::BackendReceivedMessage], quint64(kMessages),
                              kWaitMs);
    // The session is holding messages back: the socket said it is full.
    QTRY_VERIFY_WITH_TIMEOUT(session && session->queuedMessages() > 0, kWaitMs);
    const auto *receiver = qobject_cast<WebSocketReceiver *>(session->receiver());
    QVERIFY(receiver);
    QVERIFY(!session->receiver()->canWrite());
    // Unsent: below the bound when the last slice went, plus that slice
    // (JSON framing adds a few bytes per message). The rest waits queued.
    QVERIFY2(receiver->socket()->bytesToWrite() <= WebSocketReceiver::kMaxUnsentBytes + Session::kSliceBytes + 1024,
             QByteArray::number(receiver->socket()->bytesToWrite()).constData());

    ws.socket().setReadBufferSize(0);
    QStringList messages;
    QByteArray text; // large SockJS frames come in several WebSocket frames
    while (messages.size() < kMessages) {
        const RawWebSocket::Frame frame = ws.readFrame();
        QVERIFY2(frame.ok, QByteArray::number(messages.size()).constData());
        QCOMPARE(frame.opcode, text.isEmpty() ? 0x1 : 0x0);
        text += frame.payload;
        if (frame.fin) {
            messages += decodedMessages({text});
            text.clear();
        }
    }
    QCOMPARE(messages.size(), kMessages);
    QVERIFY(consecutiveFromZero(messages));
    QVERIFY(session);
    QCOMPARE(session->state(), Session::State::Open);
    QCOMPARE(session->queuedMessages(), qsizetype(0));
    QCOMPARE(service->counters()[Counter::MessagesOut], quint64(kMessages));
    QCOMPARE(service->counters()[Counter::DroppedForClosedSession], quint64(0));
}

void tst_Limits::outboxBoundWebSocket_data()
{
    QTest::addColumn<qsizetype>("maxMessages");
    QTest::addColumn<qint64>("maxBytes");
    QTest::addColumn<qsizetype>("messageBytes");

    QTest::newRow("by messages") << qsizetype(40) << qint64(16 * 1024 * 1024) << qsizetype(4096);
    QTest::newRow("by bytes") << qsizetype(10000) << qint64(256 * 1024) << qsizetype(8192);
}

void tst_Limits::outboxBoundWebSocket()
{
    QFETCH(qsizetype, maxMessages);
    QFETCH(qint64, maxBytes);
    QFETCH(qsizetype, messageBytes);

    Config config = configWith({QStringLiteral("/svc")});
    config.services[0].maxQueuedMessages = maxMessages;
    config.services[0].maxQueuedBytes = maxBytes;
    TestServer server;
    QVERIFY(server.start(config));
    Service *service = serviceOf(server.server(), QStringLiteral("/svc"));
    TestBackend *backend = server.backend(QStringLiteral("/svc"));

    RawWebSocket ws(server.port(), kFloodMs);
    QVERIFY(ws.open("/svc/000/slow/websocket"));
    QCOMPARE(ws.readFrame().payload, QByteArray("o"));
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("connect").size(), 1, kWaitMs);
    const QByteArray id = backend->sessionIds("connect").first();
    QPointer<Session> session = service->sessionByBackendId(id);
    QVERIFY(session);

    int closeCode = 0;
    QByteArray closeReason;
    connect(session, &Session::stateChanged, this, [&](Session::State state) {
        if (state == Session::State::Closed) {
            closeCode = session->closeCode();
            closeReason = session->closeReason();
        }
    });

    // The client stops reading: Qt keeps at most 4 KiB for it, the kernel
    // a little more, and the rest piles up on the proxy's side.
    ws.socket().setReadBufferSize(4096);

    qsizetype maxQueued = 0;
    qint64 maxUnsent = 0;
    Flood flood(backend, service->bridge(), id, messageBytes);
    flood.sample = [&] {
        if (!session)
            return;
        maxQueued = qMax(maxQueued, session->queuedMessages());
        if (const auto *receiver = qobject_cast<WebSocketReceiver *>(session->receiver()))
            maxUnsent = qMax(maxUnsent, receiver->socket()->bytesToWrite());
        if (session->state() == Session::State::Closed)
            flood.stop();
    };
    flood.start();
    QTRY_VERIFY_WITH_TIMEOUT(closeCode != 0, kFloodMs);
    flood.stop();

    QCOMPARE(closeCode, 1013);
    QCOMPARE(closeReason, QByteArray("Outgoing queue full"));
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("disconnect"), QList<QByteArray>{id}, kWaitMs);
    QTRY_COMPARE_WITH_TIMEOUT(service->sessionCount(), qsizetype(0), kWaitMs);
    QCOMPARE(service->counters()[Counter::SessionsClosed], quint64(1));
    QVERIFY(service->counters()[Counter::DroppedForClosedSession] >= 1);
    QTRY_COMPARE_WITH_TIMEOUT(service->bridge()->counters()[Counter::BackendReceivedMessage], quint64(flood.sent()),
                              kWaitMs);
    const Counters &counters = service->counters();
    QCOMPARE(counters[Counter::MessagesOut] + counters[Counter::DroppedForClosedSession]
                 + counters[Counter::UnknownSessionFromBackend],
             quint64(flood.sent()));

    // Bounded all along: the session's queue by its limits, the socket's
    // unsent bytes by 1 MiB plus one frame (the few messages in flight).
    QVERIFY2(maxQueued <= maxMessages, QByteArray::number(maxQueued).constData());
    QVERIFY2(maxQueued * messageBytes <= maxBytes, QByteArray::number(maxQueued).constData());
    const qint64 unsentBound = WebSocketReceiver::kMaxUnsentBytes + kFrameSlack;
    QVERIFY2(maxUnsent <= unsentBound, QByteArray::number(maxUnsent).constData());
    QVERIFY2(maxUnsent >= WebSocketReceiver::kMaxUnsentBytes / 2, QByteArray::number(maxUnsent).constData());

    // The client reads again: every message queued before the bound, in
    // order and without a gap, then the SockJS close frame and the WebSocket
    // close with the same code, then the end of the connection.
    ws.socket().setReadBufferSize(0);
    QList<QByteArray> texts;
    RawWebSocket::Frame close;
    QVERIFY(ws.readUntilClose(&texts, &close));
    QCOMPARE(texts.constLast(), QByteArray("c[1013,\"Outgoing queue full\"]"));
    QCOMPARE(close.closeCode(), 1013);
    const QStringList messages = decodedMessages(texts);
    QVERIFY(consecutiveFromZero(messages));
    QCOMPARE(quint64(messages.size()), counters[Counter::MessagesOut]);
    QVERIFY(ws.http().waitForClose());
}

void tst_Limits::outboxBoundXhrStreaming()
{
    constexpr qint64 kMaxBytes = 256 * 1024;
    constexpr qsizetype kMessageBytes = 8192;
    Config config = configWith({QStringLiteral("/svc")});
    config.services[0].maxQueuedBytes = kMaxBytes;
    config.services[0].responseLimit = qint64(1) << 40; // the stream never ends by itself
    TestServer server;
    QVERIFY(server.start(config));
    Service *service = serviceOf(server.server(), QStringLiteral("/svc"));
    TestBackend *backend = server.backend(QStringLiteral("/svc"));

    HttpClient stream(server.port(), kFloodMs);
    QVERIFY(stream.connectToServer());
    stream.sendRequest("POST", "/svc/000/slow/xhr_streaming");
    const Response head = stream.readHead();
    QVERIFY(head.ok);
    QCOMPARE(head.status, 200);
    QCOMPARE(stream.readChunk(), QByteArray(2048, 'h') + '\n');
    QCOMPARE(stream.readChunk(), QByteArray("o\n"));
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("connect").size(), 1, kWaitMs);
    const QByteArray id = backend->sessionIds("connect").first();
    QPointer<Session> session = service->sessionByBackendId(id);
    QVERIFY(session);
    const auto connections = server.server()->findChildren<Connection *>();
    Connection *connection = nullptr;
    for (Connection *candidate : connections) {
        if (candidate->isStreaming())
            connection = candidate;
    }
    QVERIFY(connection);
    QPointer<Connection> guard(connection);

    stream.socket().setReadBufferSize(4096);

    qsizetype maxQueued = 0;
    qint64 maxUnsent = 0;
    bool pausing = true;
    Flood flood(backend, service->bridge(), id, kMessageBytes);
    flood.sample = [&] {
        if (guard)
            maxUnsent = qMax(maxUnsent, guard->bytesToWrite());
        if (!session)
            return;
        maxQueued = qMax(maxQueued, session->queuedMessages());
        // First stop once messages wait in the session for the reader.
        if ((pausing && session->queuedMessages() >= 8) || session->state() == Session::State::Closed)
            flood.stop();
    };
    flood.start();
    QTRY_VERIFY_WITH_TIMEOUT(session->queuedMessages() >= 8, kFloodMs);
    flood.stop();

    // The reader is stalled: the proxy holds at most 1 MiB + one frame in
    // the socket, and the rest stays queued in the session, which stays open.
    QVERIFY(guard);
    QVERIFY(!session->receiver()->canWrite());
    QCOMPARE(session->state(), Session::State::Open);
    QVERIFY2(guard->bytesToWrite() >= HttpReceiver::kMaxUnsentBytes,
             QByteArray::number(guard->bytesToWrite()).constData());
    const qsizetype queued = session->queuedMessages();
    const int sentBeforePause = flood.sent();
    QTRY_COMPARE_WITH_TIMEOUT(service->bridge()->counters()[Counter::BackendReceivedMessage], quint64(sentBeforePause),
                              kWaitMs);
    QVERIFY(session->queuedMessages() >= queued);
    QCOMPARE(service->counters()[Counter::DroppedForClosedSession], quint64(0));

    // More from the backend: the bound closes the session.
    pausing = false;
    flood.start();
    QTRY_VERIFY_WITH_TIMEOUT(!session || session->state() == Session::State::Closed, kFloodMs);
    flood.stop();
    QVERIFY(session);
    QCOMPARE(session->closeCode(), 1013);
    QCOMPARE(session->closeReason(), QByteArray("Outgoing queue full"));
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("disconnect"), QList<QByteArray>{id}, kWaitMs);
    QCOMPARE(service->counters()[Counter::SessionsClosed], quint64(1));
    QVERIFY(service->counters()[Counter::DroppedForClosedSession] >= 1);
    QVERIFY2(maxQueued * kMessageBytes <= kMaxBytes, QByteArray::number(maxQueued).constData());
    // 1 MiB plus one frame while the session was open; then closing wrote
    // what was queued (at most the queue's bound) and the close frame.
    const qint64 unsentBound = HttpReceiver::kMaxUnsentBytes + kFrameSlack + kMaxBytes + 4096;
    QVERIFY2(maxUnsent <= unsentBound, QByteArray::number(maxUnsent).constData());
    QVERIFY(guard);
    QVERIFY2(guard->bytesToWrite() <= unsentBound, QByteArray::number(guard->bytesToWrite()).constData());

    // The client reads again: every message queued before the bound, in
    // order, then the close frame, then the end of the response.
    stream.socket().setReadBufferSize(0);
    QList<QByteArray> frames;
    for (;;) {
        const QByteArray chunk = stream.readChunk();
        QVERIFY2(!chunk.isNull(), "timeout reading the stream");
        if (chunk.isEmpty())
            break;
        frames.append(chunk.chopped(1)); // one frame per chunk, newline-terminated
    }
    QVERIFY(!frames.isEmpty());
    QCOMPARE(frames.constLast(), QByteArray("c[1013,\"Outgoing queue full\"]"));
    const QStringList messages = decodedMessages(frames);
    QVERIFY(consecutiveFromZero(messages));
    QCOMPARE(quint64(messages.size()), service->counters()[Counter::MessagesOut]);
    // The stream ended; the session answers later polls with its close frame.
    QCOMPARE(request(server.port(), "POST", "/svc/000/slow/xhr").body, QByteArray("c[1013,\"Outgoing queue full\"]\n"));
}

// ---- no backend ------------------------------------------------------------------------------

void tst_Limits::backendAbsentQueueLimit()
{
    constexpr qsizetype kQueueLimit = 10;
    Config config = configWith({QStringLiteral("/svc")});
    config.services[0].zmqIn = QStringLiteral("tcp://127.0.0.1:*");
    config.services[0].zmqOut = QStringLiteral("tcp://127.0.0.1:*");
    config.services[0].zmqQueueLimit = kQueueLimit;
    Server server(config);
    QString error;
    QVERIFY2(server.start(&error), qPrintable(error));
    Service *service = serviceOf(&server, QStringLiteral("/svc"));
    const ZmqBridge *bridge = service->bridge();
    const quint16 port = server.httpPort();
    QCOMPARE(bridge->inPeers(), 0);
    QVERIFY(bridge->boundInEndpoint().startsWith(QLatin1String("tcp://127.0.0.1:")));
    QVERIFY(!bridge->boundInEndpoint().endsWith(QLatin1Char('*')));

    // connect + 12 messages = 13 events for a queue of 10: the 3 newest are dropped.
    QCOMPARE(request(port, "POST", "/svc/000/s/xhr").body, QByteArray("o\n"));
    QCOMPARE(request(port, "POST", "/svc/000/s/xhr_send", "[\"m1\",\"m2\",\"m3\",\"m4\",\"m5\",\"m6\"]").status, 204);
    QCOMPARE(request(port, "POST", "/svc/000/s/xhr_send", "[\"m7\",\"m8\",\"m9\",\"m10\",\"m11\",\"m12\"]").status,
             204);
    QCOMPARE(bridge->queuedToBackend(), kQueueLimit);
    QCOMPARE(bridge->droppedToBackend(), quint64(3));
    QCOMPARE(service->counters()[Counter::MessagesIn], quint64(12));

    // A backend connects: what was queued arrives, in order, and nothing else.
    TestBackend backend(bridge->boundInEndpoint(), bridge->boundOutEndpoint(), TestBackend::Mode::Record);
    QTRY_COMPARE_WITH_TIMEOUT(backend.events().size(), int(kQueueLimit), kWaitMs);
    QTRY_COMPARE_WITH_TIMEOUT(bridge->inPeers(), 1, kWaitMs);
    const QList<TestBackend::Event> events = backend.events();
    QCOMPARE(events.first().type, QByteArray("connect"));
    const QByteArray id = events.first().sessionId;
    for (int i = 1; i < events.size(); ++i) {
        QCOMPARE(events.at(i).type, QByteArray("message"));
        QCOMPARE(events.at(i).sessionId, id);
        QCOMPARE(events.at(i).data, "m" + QByteArray::number(i));
    }
    QCOMPARE(bridge->queuedToBackend(), qsizetype(0));
    QCOMPARE(bridge->droppedToBackend(), quint64(3));

    // From now on events flow at once, and the backend's answers come back.
    QCOMPARE(request(port, "POST", "/svc/000/s/xhr_send", "[\"m13\"]").status, 204);
    QTRY_COMPARE_WITH_TIMEOUT(backend.events().size(), int(kQueueLimit) + 1, kWaitMs);
    QCOMPARE(backend.events().constLast().data, QByteArray("m13"));
    backend.sendMessage(id, "reply");
    QTRY_COMPARE_WITH_TIMEOUT(service->counters()[Counter::MessagesOut], quint64(1), kWaitMs);
    QCOMPARE(request(port, "POST", "/svc/000/s/xhr").body, QByteArray("a[\"reply\"]\n"));
    QCOMPARE(bridge->droppedToBackend(), quint64(3));
}

// README: at exit, queued events get up to 2 s to leave. The bridge's PUSH
// socket lingers that long once shutdown starts (0 before: a dead backend
// never delays anything), and nothing else about the socket changes.
void tst_Limits::shutdownLinger()
{
    Config config = configWith({QStringLiteral("/svc")});
    config.services[0].zmqIn = QStringLiteral("tcp://127.0.0.1:*");
    config.services[0].zmqOut = QStringLiteral("tcp://127.0.0.1:*");
    Server server(config);
    QString error;
    QVERIFY2(server.start(&error), qPrintable(error));
    ZmqBridge *bridge = serviceOf(&server, QStringLiteral("/svc"))->bridge();
    void *push = nullptr;
    for (const ZmqSocket *socket : bridge->findChildren<ZmqSocket *>()) {
        int type = 0;
        size_t length = sizeof type;
        if (zmq_getsockopt(socket->handle(), ZMQ_TYPE, &type, &length) == 0 && type == ZMQ_PUSH)
            push = socket->handle();
    }
    QVERIFY(push);
    const auto option = [push](int name) {
        int value = -1;
        size_t length = sizeof value;
        return zmq_getsockopt(push, name, &value, &length) == 0 ? value : -2;
    };
    QCOMPARE(option(ZMQ_LINGER), 0);
    const int receiveHighWaterMark = option(ZMQ_RCVHWM);
    const int sendHighWaterMark = option(ZMQ_SNDHWM);

    server.shutdown();
    QCOMPARE(option(ZMQ_LINGER), 2000);
    QCOMPARE(option(ZMQ_RCVHWM), receiveHighWaterMark);
    QCOMPARE(option(ZMQ_SNDHWM), sendHighWaterMark);
}

QTEST_GUILESS_MAIN(tst_Limits)
#include "tst_limits.moc"
