// The backend API beyond the original wire protocol (README, "The ZeroMQ
// protocol"): close codes in a backend's "disconnect".
//
// A TestServer on 127.0.0.1, port 0, with in-process TestBackends; clients
// speak raw HTTP (HttpClient) or WebSocket (WebSocketClient). Rules that hold
// for every transport run once per transport: the five HTTP receiving
// transports, SockJS over WebSocket and the raw /websocket endpoint. No
// sleeps: every wait spins the event loop until a condition holds.

#include "httpclient.h"
#include "testbackend.h"
#include "testserver.h"
#include "websocketclient.h"

#include "sockjs/service.h"
#include "sockjs/session.h"
#include "zmq/zmqbridge.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>
#include <QLoggingCategory>
#include <QTest>
#include <QUuid>

#include <memory>

using namespace SockJsProxy;
using namespace SockJsProxy::Test;

namespace {

using Headers = QList<QPair<QByteArray, QByteArray>>;

constexpr int kWaitMs = 10000;

const QByteArray kCallback = QByteArrayLiteral("callback");

const QList<QByteArray> kTransports = {"xhr",   "xhr_streaming", "eventsource", "htmlfile",
                                       "jsonp", "websocket",     "rawwebsocket"};

QByteArray newSessionId() { return QUuid::createUuid().toByteArray(QUuid::WithoutBraces); }

// The value of one JSON string literal; null when it is not one.
QByteArray jsonStringValue(const QByteArray &literal)
{
    const QJsonDocument document = QJsonDocument::fromJson('[' + literal + ']');
    if (!document.isArray() || document.array().size() != 1 || !document.array().at(0).isString())
        return QByteArray();
    return document.array().at(0).toString().toUtf8();
}

// One client of one session over any transport. HTTP transports keep one
// receiving request at a time (a stream, or a long poll); WebSocket ones one
// connection. next() is the next SockJS frame without its transport's
// wrapping (raw WebSocket: the next message).
class Client
{
public:
    Client(quint16 port, const QByteArray &prefix, const QByteArray &transport, const Headers &headers = {},
           const QByteArray &query = QByteArray())
        : m_port(port), m_prefix(prefix), m_transport(transport), m_headers(headers), m_query(query)
    {}

    QByteArray transport() const { return m_transport; }
    bool isWebSocket() const { return m_transport == "websocket" || m_transport == "rawwebsocket"; }
    bool isRaw() const { return m_transport == "rawwebsocket"; }
    bool isStreaming() const
    {
        return m_transport == "xhr_streaming" || m_transport == "eventsource" || m_transport == "htmlfile";
    }
    QByteArray sessionId() const { return m_sessionId; }
    WebSocketClient *webSocket() const { return m_ws.get(); }

    QByteArray path() const
    {
        QByteArrayList query;
        QByteArray path;
        if (isRaw()) {
            path = m_prefix + "/websocket";
        } else {
            path = m_prefix + "/000/" + m_sessionId + '/' + m_transport;
            if (m_transport == "htmlfile" || m_transport == "jsonp")
                query.append("c=" + kCallback);
        }
        if (!m_query.isEmpty())
            query.append(m_query);
        return query.isEmpty() ? path : path + '?' + query.join('&');
    }

    // Sends the receiving request (streams: reads the head and prelude) or
    // completes the WebSocket handshake.
    bool start()
    {
        if (isWebSocket()) {
            if (m_ws)
                return true;
            QString origin;
            Headers headers;
            for (const auto &header : m_headers) {
                if (header.first.compare("Origin", Qt::CaseInsensitive) == 0)
                    origin = QString::fromUtf8(header.second);
                else
                    headers.append(header);
            }
            m_ws = std::make_unique<WebSocketClient>(origin);
            return m_ws->connectTo(m_port, path(), headers, kWaitMs);
        }
        if (m_http)
            return true;
        m_http = std::make_unique<HttpClient>(m_port, kWaitMs);
        if (!m_http->connectToServer())
            return false;
        const QByteArray method =
            (m_transport == "eventsource" || m_transport == "htmlfile" || m_transport == "jsonp") ? "GET" : "POST";
        m_http->sendRequest(method, path(), QByteArray(), m_headers);
        if (!isStreaming())
            return true;
        const HttpClient::Response head = m_http->readHead();
        if (!head.ok || head.status != 200)
            return false;
        return !m_http->readChunk().isEmpty(); // the prelude
    }

    // The next frame; null on a timeout. A polling transport sends a new
    // request when none is pending.
    QByteArray next()
    {
        if (!start())
            return QByteArray();
        if (isWebSocket()) {
            const QList<QByteArray> &received = m_ws->frames(); // text messages
            if (!waitUntil([&] { return received.size() > m_read || m_ws->isDisconnected(); }, kWaitMs)
                || received.size() <= m_read)
                return QByteArray();
            return received.at(m_read++);
        }
        if (isStreaming()) {
            const QByteArray chunk = m_http->readChunk();
            return chunk.isEmpty() ? QByteArray() : unwrap(chunk);
        }
        const HttpClient::Response response = std::exchange(m_http, nullptr)->readResponse();
        if (!response.ok || response.status != 200)
            return QByteArray();
        return unwrap(response.body);
    }

    // What arrived and was not read yet, without waiting: the unread bytes
    // of the HTTP response, or the WebSocket messages not taken by next().
    QByteArray pending() const
    {
        if (m_ws)
            return m_ws->frames().mid(m_read).join('|') + m_ws->binaryMessages().join('|');
        return m_http ? m_http->unread() : QByteArray();
    }

    // The session's close as this transport shows it: the close frame (and
    // the end of a stream; on WebSocket the close frame's code and reason),
    // a raw WebSocket only the close frame. Nothing else may come first.
    bool closesWith(int code, const QByteArray &reason, QString *problem)
    {
        const QByteArray frame = "c[" + QByteArray::number(code) + ",\"" + reason + "\"]";
        if (!isRaw()) {
            const QByteArray got = next();
            if (got != frame) {
                *problem = QStringLiteral("expected %1, got %2").arg(QString::fromUtf8(frame), QString::fromUtf8(got));
                return false;
            }
        }
        if (isStreaming() && (!m_http->readChunk().isEmpty() || !m_http->unread().isEmpty())) {
            *problem = QStringLiteral("the stream did not end after the close frame");
            return false;
        }
        if (isWebSocket()) {
            if (!m_ws->waitForDisconnect(kWaitMs)) {
                *problem = QStringLiteral("the WebSocket stayed open");
                return false;
            }
            if (m_ws->closeCode() != code || m_ws->closeReason() != QString::fromUtf8(reason)) {
                *problem =
                    QStringLiteral("WebSocket closed with %1 \"%2\"").arg(m_ws->closeCode()).arg(m_ws->closeReason());
                return false;
            }
            if (m_ws->frames().size() != m_read || !m_ws->binaryMessages().isEmpty()) {
                *problem = QStringLiteral("more messages: %1").arg(QString::fromUtf8(pending()));
                return false;
            }
        }
        return true;
    }

    // The client goes away: the receiving request or the connection dropped.
    void abort()
    {
        if (m_http)
            m_http->socket().abort();
        m_http.reset();
        if (m_ws)
            m_ws->socket().abort();
    }

    quint16 localPort() const
    {
        if (m_ws)
            return m_ws->socket().localPort();
        return m_http ? m_http->socket().localPort() : 0;
    }

private:
    QByteArray unwrap(const QByteArray &wrapped) const
    {
        const auto strip = [&wrapped](const QByteArray &before, const QByteArray &after) {
            if (!wrapped.startsWith(before) || !wrapped.endsWith(after)
                || wrapped.size() < before.size() + after.size())
                return QByteArray();
            return wrapped.mid(before.size(), wrapped.size() - before.size() - after.size());
        };
        if (m_transport == "xhr" || m_transport == "xhr_streaming")
            return strip("", "\n");
        if (m_transport == "eventsource")
            return strip("data: ", "\r\n\r\n");
        if (m_transport == "htmlfile")
            return jsonStringValue(strip("<script>\np(", ");\n</script>\r\n"));
        return jsonStringValue(strip("/**/" + kCallback + '(', ");\r\n"));
    }

    quint16 m_port;
    QByteArray m_prefix;
    QByteArray m_transport;
    Headers m_headers;
    QByteArray m_query;
    QByteArray m_sessionId = newSessionId();
    std::unique_ptr<HttpClient> m_http;
    std::unique_ptr<WebSocketClient> m_ws;
    qsizetype m_read = 0;
};

} // namespace

class tst_BackendApi : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    // disconnect with a close code
    void closeData_codeAndReason_data();
    void closeData_codeAndReason();
    void closeData_emptyIsGoAway();
    void closeData_invalid_data();
    void closeData_invalid();

private:
    static void addTransportRows();
    quint16 port() const { return m_server->port(); }
    TestBackend *backend(const QByteArray &prefix) const { return m_server->backend(QString::fromUtf8(prefix)); }
    Service *service(const QByteArray &prefix) const;
    quint64 counter(const QByteArray &prefix, Counter id) const;
    // The backend id of the session a backend heard of last ("connect"),
    // waiting for it; empty on a timeout.
    QByteArray waitForConnect(const QByteArray &prefix, qsizetype count = 1) const;
    QList<QByteArray> eventTypes(const QByteArray &prefix, const QByteArray &backendId) const;
    // An HTTP round trip through the server: whatever the server was about
    // to write to other clients has been written when it returns.
    void fence() const;

    std::unique_ptr<TestServer> m_server;
};

void tst_BackendApi::initTestCase()
{
    QLoggingCategory::setFilterRules(QStringLiteral("sockjsproxy.*.info=false\nsockjsproxy.*.warning=false"));
}

void tst_BackendApi::init()
{
    Config config;
    config.httpAddress = QStringLiteral("127.0.0.1");
    config.httpPort = 0;
    ServiceConfig plain;
    plain.prefix = QStringLiteral("/plain");
    config.services = {plain};
    m_server = std::make_unique<TestServer>();
    QVERIFY(m_server->start(config));
}

void tst_BackendApi::cleanup() { m_server.reset(); }

void tst_BackendApi::addTransportRows()
{
    QTest::addColumn<QByteArray>("transport");
    for (const QByteArray &transport : kTransports)
        QTest::newRow(transport.constData()) << transport;
}

Service *tst_BackendApi::service(const QByteArray &prefix) const
{
    for (Service *candidate : m_server->server()->services()) {
        if (candidate->prefix().toUtf8() == prefix)
            return candidate;
    }
    return nullptr;
}

quint64 tst_BackendApi::counter(const QByteArray &prefix, Counter id) const
{
    // As the exporters see them: both scopes, sums filled in.
    Service *owner = service(prefix);
    Counters counters = owner->counters();
    counters += owner->bridge()->counters();
    return counters.computeSums()[id];
}

QByteArray tst_BackendApi::waitForConnect(const QByteArray &prefix, qsizetype count) const
{
    TestBackend *events = backend(prefix);
    if (!waitUntil([&] { return events->eventsOfType("connect").size() >= count; }, kWaitMs))
        return QByteArray();
    return events->eventsOfType("connect").at(count - 1).sessionId;
}

QList<QByteArray> tst_BackendApi::eventTypes(const QByteArray &prefix, const QByteArray &backendId) const
{
    QList<QByteArray> types;
    for (const TestBackend::Event &event : backend(prefix)->events()) {
        if (event.sessionId == backendId)
            types.append(event.type);
    }
    return types;
}

void tst_BackendApi::fence() const
{
    const HttpClient::Response response = HttpClient::request(port(), "GET", "/plain/info");
    QCOMPARE(response.status, 200);
}

// --- disconnect with a close code ------------------------------------------------------

void tst_BackendApi::closeData_codeAndReason_data() { addTransportRows(); }

// {"code": 4001, "reason": "..."}: the client gets exactly that close (raw
// WebSocket: as the close frame's code and reason); the backend its
// disconnect, once.
void tst_BackendApi::closeData_codeAndReason()
{
    QFETCH(QByteArray, transport);
    Client client(port(), "/plain", transport);
    if (!client.isRaw())
        QCOMPARE(client.next(), QByteArray("o"));
    else
        QVERIFY(client.start());
    const QByteArray id = waitForConnect("/plain");
    QVERIFY(!id.isEmpty());
    backend("/plain")->sendDisconnect(id, "{\"code\": 4001, \"reason\": \"Unauthorized \\u00e9\"}");
    QString problem;
    QVERIFY2(client.closesWith(4001, "Unauthorized \xc3\xa9", &problem), qPrintable(problem));
    QTRY_COMPARE(eventTypes("/plain", id), (QList<QByteArray>{"connect", "disconnect"}));
    QCOMPARE(counter("/plain", Counter::BackendInvalidClose), quint64(0));
    QCOMPARE(counter("/plain", Counter::BackendErrors), quint64(0));
}

// Empty data: c[3000,"Go away!"] byte for byte, on the wire as before.
void tst_BackendApi::closeData_emptyIsGoAway()
{
    Client client(port(), "/plain", "xhr_streaming");
    QCOMPARE(client.next(), QByteArray("o"));
    const QByteArray id = waitForConnect("/plain");
    backend("/plain")->sendDisconnect(id, QByteArray());
    QString problem;
    QVERIFY2(client.closesWith(3000, "Go away!", &problem), qPrintable(problem));
    QCOMPARE(counter("/plain", Counter::BackendInvalidClose), quint64(0));
}

void tst_BackendApi::closeData_invalid_data()
{
    QTest::addColumn<QByteArray>("data");
    QTest::addColumn<int>("code"); // what the client gets
    QTest::addColumn<QByteArray>("reason");
    QTest::addColumn<bool>("counted");
    const QByteArray reason123 = QByteArray(121, 'r') + "\xc3\xa9"; // 123 bytes, 122 characters
    QTest::newRow("123 bytes of reason") << "{\"code\":4999,\"reason\":\"" + reason123 + "\"}" << 4999 << reason123
                                         << false;
    QTest::newRow("no reason") << QByteArray("{\"code\":3000}") << 3000 << QByteArray("") << false;
    QTest::newRow("other keys ignored") << QByteArray("{\"code\":4002,\"reason\":\"x\",\"retry\":true}") << 4002
                                        << QByteArray("x") << false;
    QTest::newRow("reason escapes") << QByteArray("{\"code\":4003,\"reason\":\"a\\\"b\\\\c\"}") << 4003
                                    << QByteArray("a\\\"b\\\\c") << false;
    const QByteArray goAway = "Go away!";
    QTest::newRow("not JSON") << QByteArray("code=4001") << 3000 << goAway << true;
    QTest::newRow("whitespace") << QByteArray(" ") << 3000 << goAway << true;
    QTest::newRow("an array") << QByteArray("[4001,\"x\"]") << 3000 << goAway << true;
    QTest::newRow("no code") << QByteArray("{\"reason\":\"x\"}") << 3000 << goAway << true;
    QTest::newRow("code 2999") << QByteArray("{\"code\":2999}") << 3000 << goAway << true;
    QTest::newRow("code 5000") << QByteArray("{\"code\":5000}") << 3000 << goAway << true;
    QTest::newRow("code 1000") << QByteArray("{\"code\":1000}") << 3000 << goAway << true;
    QTest::newRow("code a string") << QByteArray("{\"code\":\"4001\"}") << 3000 << goAway << true;
    QTest::newRow("code a fraction") << QByteArray("{\"code\":4001.5}") << 3000 << goAway << true;
    QTest::newRow("reason a number") << QByteArray("{\"code\":4001,\"reason\":1}") << 3000 << goAway << true;
    QTest::newRow("124 bytes of reason") << "{\"code\":4001,\"reason\":\"" + QByteArray(124, 'r') + "\"}" << 3000
                                         << goAway << true;
    QTest::newRow("invalid UTF-8") << QByteArray("{\"code\":4001,\"reason\":\"\xff\"}") << 3000 << goAway << true;
    QTest::newRow("truncated") << QByteArray("{\"code\":4001,") << 3000 << goAway << true;
}

// Anything but a valid code and reason: the default close, counted once.
void tst_BackendApi::closeData_invalid()
{
    QFETCH(QByteArray, data);
    QFETCH(int, code);
    QFETCH(QByteArray, reason);
    QFETCH(bool, counted);
    Client client(port(), "/plain", "websocket");
    QCOMPARE(client.next(), QByteArray("o"));
    const QByteArray id = waitForConnect("/plain");
    backend("/plain")->sendDisconnect(id, data);
    const QByteArray frame = "c[" + QByteArray::number(code) + ",\"" + reason + "\"]";
    QCOMPARE(client.next(), frame);
    QVERIFY(client.webSocket()->waitForDisconnect(kWaitMs));
    QCOMPARE(client.webSocket()->closeCode(), code);
    QCOMPARE(counter("/plain", Counter::BackendInvalidClose), quint64(counted ? 1 : 0));
    QCOMPARE(counter("/plain", Counter::BackendErrors), quint64(counted ? 1 : 0));
    QTRY_COMPARE(eventTypes("/plain", id), (QList<QByteArray>{"connect", "disconnect"}));
}

QTEST_GUILESS_MAIN(tst_BackendApi)
#include "tst_backendapi.moc"
