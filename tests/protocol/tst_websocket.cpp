// WebSocket transports (SOCKJS-PROTOCOL.md section 7, WebsocketHttpErrors,
// Websocket, RawWebsocket) and the ZeroMQ side of a WebSocket session
// (section 16), against an in-process Server with TestBackends.
//
// Handshakes are written byte for byte over HttpClient where the suite does
// that; sessions use QWebSocket. No sleeps: every wait spins the event loop
// until a condition holds or a timeout fails the test.

#include "httpclient.h"
#include "sockjsframes.h"
#include "testbackend.h"
#include "testserver.h"
#include "websocketclient.h"

#include <QTest>

#include <memory>

using namespace SockJsProxy;
using namespace SockJsProxy::Test;

namespace {

constexpr int kWaitMs = 5000; // generous under ASan; passing runs take far less

using Headers = QList<QPair<QByteArray, QByteArray>>;

QByteArray websocketRequest(quint16 port, const QByteArray &method, const QByteArray &path, const Headers &headers)
{
    QByteArray request = method + ' ' + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + QByteArray::number(port) + "\r\n";
    for (const auto &header : headers)
        request += header.first + ": " + header.second + "\r\n";
    return request + "\r\n";
}

const QByteArray kKey = QByteArrayLiteral("x3JJHMbDL1EzLkh9GBhXDw==");
const QByteArray kAccept = QByteArrayLiteral("HSmrc0sMlYUkAGmm5OPpG2HaGWk=");

} // namespace

class tst_WebSocket : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    // 7.1 WebsocketHttpErrors, plus 404 on the websocket-disabled service.
    void httpErrors_data();
    void httpErrors();

    // 7.2 test_headersSanity and the accepted variants of Upgrade/Connection.
    void handshake_data();
    void handshake();

    void transport();
    void emptyFrame();
    void brokenJson();
    void close();
    void reuseSessionId();

    // 7.3 RawWebsocket
    void rawTransport();
    void rawClose();

    // 16: the backend's view of a WebSocket session.
    void backendSeesEveryMessageOnce();
    void backendMessageAndDisconnect();
    void rawBackendMessages();
    void heartbeat();

private:
    std::unique_ptr<TestServer> m_server;
};

void tst_WebSocket::init()
{
    m_server = std::make_unique<TestServer>();
    QVERIFY(m_server->start());
}

void tst_WebSocket::cleanup() { m_server.reset(); }

void tst_WebSocket::httpErrors_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QByteArray>("path");
    QTest::addColumn<Headers>("headers");
    QTest::addColumn<int>("status");

    const Headers upgrade{{"Upgrade", "WebSocket"}, {"Connection", "Upgrade"}};
    const Headers fullUpgrade{{"Upgrade", "websocket"},
                              {"Connection", "Upgrade"},
                              {"Sec-WebSocket-Version", "13"},
                              {"Sec-WebSocket-Key", kKey}};

    QTest::newRow("GET without Upgrade") << QByteArray("GET") << QByteArray("/echo/0/0/websocket") << Headers{} << 400;
    QTest::newRow("GET raw without Upgrade") << QByteArray("GET") << QByteArray("/echo/websocket") << Headers{} << 400;
    QTest::newRow("Connection: close") << QByteArray("GET") << QByteArray("/echo/0/0/websocket")
                                       << Headers{{"Upgrade", "WebSocket"}, {"Connection", "close"}} << 400;
    QTest::newRow("POST") << QByteArray("POST") << QByteArray("/echo/0/0/websocket") << Headers{} << 405;
    QTest::newRow("POST with Upgrade") << QByteArray("POST") << QByteArray("/echo/0/0/websocket") << upgrade << 405;
    QTest::newRow("POST raw") << QByteArray("POST") << QByteArray("/echo/websocket") << upgrade << 405;
    QTest::newRow("disabled, session URL")
        << QByteArray("GET") << QByteArray("/disabled_websocket_echo/0/0/websocket") << fullUpgrade << 404;
    QTest::newRow("disabled, raw URL") << QByteArray("GET") << QByteArray("/disabled_websocket_echo/websocket")
                                       << fullUpgrade << 404;
    QTest::newRow("disabled, no Upgrade")
        << QByteArray("GET") << QByteArray("/disabled_websocket_echo/0/0/websocket") << Headers{} << 404;
}

void tst_WebSocket::httpErrors()
{
    QFETCH(QByteArray, method);
    QFETCH(QByteArray, path);
    QFETCH(Headers, headers);
    QFETCH(int, status);

    HttpClient client(m_server->port());
    QVERIFY(client.connectToServer());
    Headers all = headers;
    if (method == "POST")
        all.push_back({"Content-Length", "0"});
    client.write(websocketRequest(m_server->port(), method, path, all));
    const HttpClient::Response response = client.readResponse();
    QVERIFY(response.ok);
    QCOMPARE(response.status, status);
    // The suite can only read a response whose length is knowable.
    QVERIFY(response.hasHeader("Content-Length") || response.header("Transfer-Encoding") == "chunked"
            || response.header("Connection").toLower() == "close");
    if (status == 405) {
        QVERIFY(!response.header("Allow").isEmpty());
        QVERIFY(!response.hasHeader("Content-Type"));
        QCOMPARE(response.body, QByteArray());
        QCOMPARE(response.header("Content-Length"), QByteArray("0"));
    }
}

void tst_WebSocket::handshake_data()
{
    QTest::addColumn<QByteArray>("path");
    QTest::addColumn<QByteArray>("upgrade");
    QTest::addColumn<QByteArray>("connection");
    QTest::addColumn<bool>("sockjsFraming");

    QTest::newRow("headersSanity") << QByteArray("/echo/000/sanity/websocket") << QByteArray("websocket")
                                   << QByteArray("Upgrade") << true;
    QTest::newRow("Upgrade: WebSocket") << QByteArray("/echo/000/mixed/websocket") << QByteArray("WebSocket")
                                        << QByteArray("Upgrade") << true;
    QTest::newRow("Connection: keep-alive, Upgrade")
        << QByteArray("/echo/000/list/websocket") << QByteArray("websocket") << QByteArray("keep-alive, Upgrade")
        << true;
    QTest::newRow("Connection: upgrade") << QByteArray("/echo/000/lower/websocket") << QByteArray("WEBSOCKET")
                                         << QByteArray("upgrade") << true;
    QTest::newRow("raw") << QByteArray("/echo/websocket") << QByteArray("websocket") << QByteArray("Upgrade") << false;
    QTest::newRow("raw, keep-alive, Upgrade")
        << QByteArray("/echo/websocket") << QByteArray("WebSocket") << QByteArray("keep-alive, Upgrade") << false;
}

void tst_WebSocket::handshake()
{
    QFETCH(QByteArray, path);
    QFETCH(QByteArray, upgrade);
    QFETCH(QByteArray, connection);
    QFETCH(bool, sockjsFraming);

    TestBackend *backend = m_server->backend(QStringLiteral("/echo"));
    HttpClient client(m_server->port());
    QVERIFY(client.connectToServer());
    // The suite's request: the obsolete Sec-WebSocket-Origin and no Origin.
    client.write(websocketRequest(m_server->port(), "GET", path,
                                  {{"Upgrade", upgrade},
                                   {"Connection", connection},
                                   {"Sec-WebSocket-Version", "13"},
                                   {"Sec-WebSocket-Key", kKey},
                                   {"Sec-WebSocket-Origin", "http://asd"}}));
    const HttpClient::Response head = client.readHead();
    QVERIFY(head.ok);
    QCOMPARE(head.status, 101);
    QCOMPARE(head.header("Sec-WebSocket-Accept"), kAccept);
    QCOMPARE(head.header("Connection").toLower(), QByteArray("upgrade"));
    QCOMPARE(head.header("Upgrade").toLower(), QByteArray("websocket"));
    QVERIFY(!head.hasHeader("Content-Length"));

    // The session opened: the backend hears of it.
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("connect").size(), 1, kWaitMs);
    if (sockjsFraming) {
        // The open frame: one unmasked text frame "o".
        QCOMPARE(client.readBytes(3), QByteArray("\x81\x01o", 3));
    }

    // A masked client text frame: SockJS framing wants a JSON array, raw takes it verbatim.
    const QByteArray payload = sockjsFraming ? QByteArray("[\"hi\"]") : QByteArray("hi");
    const QByteArray mask("\x11\x22\x33\x44", 4);
    QByteArray frame;
    frame += char(0x81);
    frame += char(0x80 | payload.size());
    frame += mask;
    for (qsizetype i = 0; i < payload.size(); ++i)
        frame += char(payload.at(i) ^ mask.at(i % 4));
    client.write(frame);
    const QByteArray echo = sockjsFraming ? QByteArray("a[\"hi\"]") : QByteArray("hi");
    QCOMPARE(client.readBytes(2 + echo.size()), QByteArray("\x81", 1) + char(echo.size()) + echo);
    QCOMPARE(backend->eventsOfType("message").size(), 1);
    QCOMPARE(backend->eventsOfType("message").first().data, QByteArray("hi"));
}

void tst_WebSocket::transport()
{
    WebSocketClient ws;
    QVERIFY(ws.connectTo(m_server->port(), "/echo/000/transport/websocket"));
    QTRY_COMPARE_WITH_TIMEOUT(ws.texts(), QStringList{QStringLiteral("o")}, kWaitMs);
    ws.sendText(QStringLiteral("[\"a\"]"));
    QTRY_COMPARE_WITH_TIMEOUT(ws.texts().size(), 2, kWaitMs);
    QCOMPARE(ws.texts(), (QStringList{QStringLiteral("o"), QStringLiteral("a[\"a\"]")}));
    QVERIFY(ws.binaryMessages().isEmpty());
    QVERIFY(!ws.isDisconnected());
    QVERIFY(ws.closeAndWait());
}

void tst_WebSocket::emptyFrame()
{
    TestBackend *backend = m_server->backend(QStringLiteral("/echo"));
    WebSocketClient ws;
    QVERIFY(ws.connectTo(m_server->port(), "/echo/000/empty/websocket"));
    QTRY_COMPARE_WITH_TIMEOUT(ws.texts(), QStringList{QStringLiteral("o")}, kWaitMs);
    ws.sendText(QString());
    ws.sendText(QStringLiteral("[]"));
    ws.sendText(QStringLiteral("[\"a\"]"));
    QTRY_COMPARE_WITH_TIMEOUT(ws.texts().size(), 2, kWaitMs);
    QCOMPARE(ws.texts(), (QStringList{QStringLiteral("o"), QStringLiteral("a[\"a\"]")}));
    QVERIFY(!ws.isDisconnected());
    QCOMPARE(ws.socket().state(), QAbstractSocket::ConnectedState);
    // Nothing reached the backend for the empty frames.
    const QList<TestBackend::Event> messages = backend->eventsOfType("message");
    QCOMPARE(messages.size(), 1);
    QCOMPARE(messages.first().data, QByteArray("a"));
    QCOMPARE(backend->eventsOfType("disconnect").size(), 0);
    QVERIFY(ws.closeAndWait());
}

void tst_WebSocket::brokenJson()
{
    TestBackend *backend = m_server->backend(QStringLiteral("/echo"));
    WebSocketClient ws;
    QVERIFY(ws.connectTo(m_server->port(), "/echo/000/broken/websocket"));
    QTRY_COMPARE_WITH_TIMEOUT(ws.texts(), QStringList{QStringLiteral("o")}, kWaitMs);
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("connect").size(), 1, kWaitMs);
    const QByteArray id = backend->sessionIds("connect").first();

    ws.sendText(QStringLiteral("[\"a"));
    QTRY_VERIFY_WITH_TIMEOUT(ws.isDisconnected(), 3000);
    QCOMPARE(ws.texts(), QStringList{QStringLiteral("o")});
    // The session ended with its connection: the backend is told, once.
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("disconnect"), QList<QByteArray>{id}, kWaitMs);
    QCOMPARE(backend->eventsOfType("message").size(), 0);
}

void tst_WebSocket::close()
{
    TestBackend *backend = m_server->backend(QStringLiteral("/close"));
    WebSocketClient ws;
    QVERIFY(ws.connectTo(m_server->port(), "/close/000/close/websocket"));
    QTRY_VERIFY_WITH_TIMEOUT(ws.isDisconnected(), kWaitMs);
    QCOMPARE(ws.texts(), (QStringList{QStringLiteral("o"), QStringLiteral("c[3000,\"Go away!\"]")}));
    QCOMPARE(int(ws.socket().closeCode()), 3000);
    QCOMPARE(ws.socket().closeReason(), QStringLiteral("Go away!"));
    // The backend closed the session and hears "disconnect" back for it.
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("disconnect").size(), 1, kWaitMs);
    QCOMPARE(backend->sessionIds("disconnect"), backend->sessionIds("connect"));
}

void tst_WebSocket::reuseSessionId()
{
    TestBackend *backend = m_server->backend(QStringLiteral("/echo"));
    const QByteArray path = "/echo/000/reused/websocket";
    WebSocketClient first;
    WebSocketClient second;
    QVERIFY(first.connectTo(m_server->port(), path));
    QVERIFY(second.connectTo(m_server->port(), path));
    QTRY_COMPARE_WITH_TIMEOUT(first.texts(), QStringList{QStringLiteral("o")}, kWaitMs);
    QTRY_COMPARE_WITH_TIMEOUT(second.texts(), QStringList{QStringLiteral("o")}, kWaitMs);
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("connect").size(), 2, kWaitMs);
    const QList<QByteArray> ids = backend->sessionIds("connect");
    QVERIFY(ids.at(0) != ids.at(1));

    first.sendText(QStringLiteral("[\"one\"]"));
    QTRY_COMPARE_WITH_TIMEOUT(first.texts().size(), 2, kWaitMs);
    second.sendText(QStringLiteral("[\"two\"]"));
    QTRY_COMPARE_WITH_TIMEOUT(second.texts().size(), 2, kWaitMs);
    QCOMPARE(first.texts(), (QStringList{QStringLiteral("o"), QStringLiteral("a[\"one\"]")}));
    QCOMPARE(second.texts(), (QStringList{QStringLiteral("o"), QStringLiteral("a[\"two\"]")}));
    // Each message reached the backend under its own session's id.
    const QList<TestBackend::Event> messages = backend->eventsOfType("message");
    QCOMPARE(messages.size(), 2);
    QCOMPARE(messages.at(0).data, QByteArray("one"));
    QCOMPARE(messages.at(1).data, QByteArray("two"));
    QVERIFY(messages.at(0).sessionId != messages.at(1).sessionId);
    QVERIFY(ids.contains(messages.at(0).sessionId));
    QVERIFY(ids.contains(messages.at(1).sessionId));

    // Closing one leaves the other working.
    QVERIFY(first.closeAndWait());
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("disconnect"), QList<QByteArray>{messages.at(0).sessionId}, kWaitMs);
    second.sendText(QStringLiteral("[\"still\"]"));
    QTRY_COMPARE_WITH_TIMEOUT(second.texts().size(), 3, kWaitMs);
    QCOMPARE(second.texts().last(), QStringLiteral("a[\"still\"]"));
    QVERIFY(second.closeAndWait());
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("disconnect").size(), 2, kWaitMs);

    // The same URL opens a brand-new session.
    WebSocketClient third;
    QVERIFY(third.connectTo(m_server->port(), path));
    QTRY_COMPARE_WITH_TIMEOUT(third.texts(), QStringList{QStringLiteral("o")}, kWaitMs);
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("connect").size(), 3, kWaitMs);
    const QByteArray thirdId = backend->sessionIds("connect").at(2);
    QVERIFY(!ids.contains(thirdId));
    third.sendText(QStringLiteral("[\"three\"]"));
    QTRY_COMPARE_WITH_TIMEOUT(third.texts().size(), 2, kWaitMs);
    QCOMPARE(third.texts().last(), QStringLiteral("a[\"three\"]"));
    QVERIFY(third.closeAndWait());
}

void tst_WebSocket::rawTransport()
{
    TestBackend *backend = m_server->backend(QStringLiteral("/echo"));
    WebSocketClient ws;
    QVERIFY(ws.connectTo(m_server->port(), "/echo/websocket"));
    const QString hello = QStringLiteral("Hello world!") + QChar(0xffff);
    ws.sendText(hello);
    QTRY_COMPARE_WITH_TIMEOUT(ws.texts().size(), 1, kWaitMs);
    // No SockJS framing at all: no "o", the text back verbatim.
    QCOMPARE(ws.texts(), QStringList{hello});
    QVERIFY(ws.binaryMessages().isEmpty());
    const QList<TestBackend::Event> messages = backend->eventsOfType("message");
    QCOMPARE(messages.size(), 1);
    QCOMPARE(messages.first().data, QByteArray("Hello world!\xef\xbf\xbf"));
    QCOMPARE(backend->sessionIds("connect"), QList<QByteArray>{messages.first().sessionId});
    QVERIFY(ws.closeAndWait());
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("disconnect"), QList<QByteArray>{messages.first().sessionId},
                              kWaitMs);
}

void tst_WebSocket::rawClose()
{
    TestBackend *backend = m_server->backend(QStringLiteral("/close"));
    WebSocketClient ws;
    QVERIFY(ws.connectTo(m_server->port(), "/close/websocket"));
    QTRY_VERIFY_WITH_TIMEOUT(ws.isDisconnected(), kWaitMs);
    QCOMPARE(ws.socket().closeReason(), QStringLiteral("Go away!"));
    QCOMPARE(int(ws.socket().closeCode()), 3000);
    QVERIFY(ws.texts().isEmpty());
    QVERIFY(ws.binaryMessages().isEmpty());
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("disconnect").size(), 1, kWaitMs);
    QCOMPARE(backend->sessionIds("disconnect"), backend->sessionIds("connect"));
}

void tst_WebSocket::backendSeesEveryMessageOnce()
{
    TestBackend *backend = m_server->backend(QStringLiteral("/echo"));
    WebSocketClient ws;
    QVERIFY(ws.connectTo(m_server->port(), "/echo/000/order/websocket"));
    QTRY_COMPARE_WITH_TIMEOUT(ws.texts(), QStringList{QStringLiteral("o")}, kWaitMs);
    QTRY_COMPARE_WITH_TIMEOUT(backend->events().size(), 1, kWaitMs);
    const QByteArray id = backend->events().first().sessionId;
    QCOMPARE(backend->events().first().type, QByteArray("connect"));
    QCOMPARE(backend->events().first().data, QByteArray());
    QVERIFY(!id.isEmpty());

    // 64 KiB of UTF-8 exactly, whole characters only.
    QByteArray big;
    for (int i = 0;; ++i) {
        const QByteArray piece = "chunk " + QByteArray::number(i) + " \xc3\xa9\xe2\x82\xac|";
        if (big.size() + piece.size() > 64 * 1024)
            break;
        big += piece;
    }
    big += QByteArray(64 * 1024 - big.size(), 'x');
    QCOMPARE(big.size(), 64 * 1024);

    // What the client sends (JSON text) and what the backend must see (UTF-8).
    ws.sendText(QStringLiteral("[\"a\"]"));
    ws.sendText(QStringLiteral("[\"b\",\"c\"]"));
    ws.sendText(QStringLiteral("[\"x\\u0000y\"]"));
    ws.sendText(QString::fromUtf8("[\"\xf0\x9f\x98\x80 \xf0\x9d\x84\x9e\"]"));
    ws.sendText(QStringLiteral("[\"\\ud83d\\ude00\"]"));
    ws.sendText(QStringLiteral("[\"") + QString::fromUtf8(big) + QStringLiteral("\"]"));
    ws.sendText(QStringLiteral("[\"last\"]"));
    const QList<QByteArray> expected{
        "a", "b", "c", QByteArray("x\0y", 3), "\xf0\x9f\x98\x80 \xf0\x9d\x84\x9e", "\xf0\x9f\x98\x80", big, "last"};

    QTRY_COMPARE_WITH_TIMEOUT(backend->events().size(), 1 + expected.size(), kWaitMs);
    const QList<TestBackend::Event> events = backend->events();
    for (qsizetype i = 0; i < expected.size(); ++i) {
        const TestBackend::Event &event = events.at(i + 1);
        QCOMPARE(event.type, QByteArray("message"));
        QCOMPARE(event.sessionId, id);
        QCOMPARE(event.data.size(), expected.at(i).size());
        QCOMPARE(event.data, expected.at(i));
    }

    // The echoes come back in order, batched however the proxy likes.
    QStringList expectedEchoes;
    for (const QByteArray &message : expected)
        expectedEchoes.append(QString::fromUtf8(message));
    QTRY_COMPARE_WITH_TIMEOUT(decodedMessages(ws.frames()).size(), expectedEchoes.size(), kWaitMs);
    QCOMPARE(decodedMessages(ws.frames()), expectedEchoes);
    // U+0000 goes out JSON-escaped, lower-case hex.
    bool nulEscaped = false;
    for (const QString &frame : ws.texts())
        nulEscaped = nulEscaped || frame.contains(QStringLiteral("\"x\\u0000y\""));
    QVERIFY(nulEscaped);

    // One disconnect when the client closes, and nothing after it.
    QVERIFY(ws.closeAndWait());
    QTRY_COMPARE_WITH_TIMEOUT(backend->events().size(), 2 + expected.size(), kWaitMs);
    QCOMPARE(backend->events().last().type, QByteArray("disconnect"));
    QCOMPARE(backend->events().last().sessionId, id);
    QCOMPARE(backend->events().last().data, QByteArray());
    // A later session's connect arrives behind anything still in flight for
    // the first one: nothing else was sent for it.
    WebSocketClient next;
    QVERIFY(next.connectTo(m_server->port(), "/echo/000/order/websocket"));
    QTRY_COMPARE_WITH_TIMEOUT(backend->events().size(), 3 + expected.size(), kWaitMs);
    QCOMPARE(backend->events().last().type, QByteArray("connect"));
    QVERIFY(backend->events().last().sessionId != id);
    QCOMPARE(backend->sessionIds("disconnect"), QList<QByteArray>{id});
    QVERIFY(next.closeAndWait());
}

void tst_WebSocket::backendMessageAndDisconnect()
{
    TestBackend *backend = m_server->backend(QStringLiteral("/echo"));
    WebSocketClient ws;
    QVERIFY(ws.connectTo(m_server->port(), "/echo/000/pushed/websocket"));
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("connect").size(), 1, kWaitMs);
    const QByteArray id = backend->sessionIds("connect").first();
    QTRY_COMPARE_WITH_TIMEOUT(ws.texts(), QStringList{QStringLiteral("o")}, kWaitMs);

    // The backend speaks first.
    backend->sendMessage(id, "from backend \"quoted\"");
    QTRY_COMPARE_WITH_TIMEOUT(ws.texts().size(), 2, kWaitMs);
    QCOMPARE(ws.texts().at(1), QStringLiteral("a[\"from backend \\\"quoted\\\"\"]"));

    backend->sendDisconnect(id);
    QTRY_VERIFY_WITH_TIMEOUT(ws.isDisconnected(), kWaitMs);
    QCOMPARE(ws.texts(), (QStringList{QStringLiteral("o"), QStringLiteral("a[\"from backend \\\"quoted\\\"\"]"),
                                      QStringLiteral("c[3000,\"Go away!\"]")}));
    QCOMPARE(int(ws.socket().closeCode()), 3000);
    QCOMPARE(ws.socket().closeReason(), QStringLiteral("Go away!"));
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("disconnect"), QList<QByteArray>{id}, kWaitMs);
    QCOMPARE(backend->events().last().type, QByteArray("disconnect"));
}

void tst_WebSocket::rawBackendMessages()
{
    TestBackend *backend = m_server->backend(QStringLiteral("/echo"));
    WebSocketClient ws;
    QVERIFY(ws.connectTo(m_server->port(), "/echo/websocket"));
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("connect").size(), 1, kWaitMs);
    const QByteArray id = backend->sessionIds("connect").first();

    // Verbatim both ways: no JSON, U+0000 and astral characters untouched.
    const QByteArray text = QByteArray("[\"not json framing\"] ") + QByteArray(1, '\0') + " \xf0\x9f\x98\x80";
    backend->sendMessage(id, text);
    QTRY_COMPARE_WITH_TIMEOUT(ws.texts().size(), 1, kWaitMs);
    QCOMPARE(ws.texts().first().toUtf8(), text);

    backend->sendDisconnect(id);
    QTRY_VERIFY_WITH_TIMEOUT(ws.isDisconnected(), kWaitMs);
    QCOMPARE(int(ws.socket().closeCode()), 3000);
    QCOMPARE(ws.socket().closeReason(), QStringLiteral("Go away!"));
    QCOMPARE(ws.texts().size(), 1);
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("disconnect"), QList<QByteArray>{id}, kWaitMs);
}

void tst_WebSocket::heartbeat()
{
    Config config = TestServer::protocolConfig(QStringLiteral("heartbeat"));
    ServiceConfig fast;
    fast.prefix = QStringLiteral("/fast");
    fast.heartbeatDelayMs = 200;
    config.services = {fast};
    TestServer server;
    QVERIFY(server.start(config));

    TestBackend *backend = server.backend(QStringLiteral("/fast"));
    WebSocketClient ws;
    QVERIFY(ws.connectTo(server.port(), "/fast/000/idle/websocket"));
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("connect").size(), 1, kWaitMs);
    QTRY_COMPARE_WITH_TIMEOUT(ws.texts().size(), 3, kWaitMs);
    QCOMPARE(ws.texts(), (QStringList{QStringLiteral("o"), QStringLiteral("h"), QStringLiteral("h")}));
    QVERIFY(!ws.isDisconnected());
    // Heartbeats are not messages: the backend saw only the connect.
    QCOMPARE(backend->events().size(), 1);
    QVERIFY(ws.closeAndWait());
}

QTEST_GUILESS_MAIN(tst_WebSocket)
#include "tst_websocket.moc"
