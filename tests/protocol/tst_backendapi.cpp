// The backend API beyond the original wire protocol (README, "The ZeroMQ
// protocol"): connect metadata (connect_info), admission (require_accept,
// "accept") and close codes in a backend's "disconnect".
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

#include "http/trustedproxies.h"
#include "sockjs/node.h"
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
        m_localPort = m_http->socket().localPort();
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
        return m_localPort; // of the latest request (a poll's is gone once answered)
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
    quint16 m_localPort = 0;
};

} // namespace

class tst_BackendApi : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    // connect_info
    void connectInfo_fields_data();
    void connectInfo_fields();
    void connectInfo_offIsEmpty_data();
    void connectInfo_offIsEmpty();
    void connectInfo_noHeadersNoCookies();
    void connectInfo_behindTrustedProxy_data();
    void connectInfo_behindTrustedProxy();
    void connectInfo_hostileValues_data();
    void connectInfo_hostileValues();
    void connectInfo_oversizedCookie_data();
    void connectInfo_oversizedCookie();
    void connectInfo_cookieParsing_data();
    void connectInfo_cookieParsing();

    // require_accept
    void accept_holdsOpenFrame_data();
    void accept_holdsOpenFrame();
    void accept_refusalDuringHold_data();
    void accept_refusalDuringHold();
    void accept_timeout_data();
    void accept_timeout();
    void accept_clientMessagesHeld();
    void accept_clientGoneDuringHold_data();
    void accept_clientGoneDuringHold();
    void accept_unknownOrOpenSession();
    void accept_withConnectInfo();

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
    // The test client is a load balancer: its forwarding headers name the
    // client (connectInfo_behindTrustedProxy); without them it is the client.
    QString error;
    const auto trusted = TrustedProxies::parse({QStringLiteral("127.0.0.1")}, &error);
    QVERIFY2(trusted, qPrintable(error));
    config.http.trustedProxies = *trusted;
    ServiceConfig plain;
    plain.prefix = QStringLiteral("/plain");
    ServiceConfig info;
    info.prefix = QStringLiteral("/info");
    info.connectInfo = ConnectInfoConfig{{"x-user", "x-trace"}, true};
    ServiceConfig bare; // connect_info: true
    bare.prefix = QStringLiteral("/bare");
    bare.connectInfo = ConnectInfoConfig();
    bare.maxHeaderBytes = 4096;
    ServiceConfig accept;
    accept.prefix = QStringLiteral("/accept");
    accept.requireAccept = true;
    accept.acceptTimeoutMs = 60000;
    ServiceConfig timeout;
    timeout.prefix = QStringLiteral("/timeout");
    timeout.requireAccept = true;
    timeout.acceptTimeoutMs = 200;
    ServiceConfig both;
    both.prefix = QStringLiteral("/both");
    both.requireAccept = true;
    both.acceptTimeoutMs = 60000;
    both.connectInfo = ConnectInfoConfig{{}, true};
    config.services = {plain, info, bare, accept, timeout, both};
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

namespace {

// The data of the connect the backend got for a session, as JSON; an empty
// object when it is none.
QJsonObject connectObject(const QByteArray &data)
{
    QJsonParseError error;
    const QJsonDocument document = QJsonDocument::fromJson(data, &error);
    return error.error == QJsonParseError::NoError ? document.object() : QJsonObject();
}

QByteArray expectedTransportName(const QByteArray &transport)
{
    if (transport == "xhr")
        return "xhr-polling";
    if (transport == "xhr_streaming")
        return "xhr-streaming";
    if (transport == "jsonp")
        return "jsonp-polling";
    return transport; // eventsource, htmlfile, websocket, rawwebsocket
}

} // namespace

// --- connect_info --------------------------------------------------------------------

void tst_BackendApi::connectInfo_fields_data() { addTransportRows(); }

// Every field, from the request that opened the session: its address and
// port, transport, path and query, Origin and User-Agent, the proxy node,
// the listed headers only (names in lower case), the cookies parsed.
void tst_BackendApi::connectInfo_fields()
{
    QFETCH(QByteArray, transport);
    const Headers headers = {{"Origin", "http://example.com"},
                             {"User-Agent", "tst/1.0"},
                             {"X-User", "alice"},
                             {"X-Other", "not passed on"},
                             {"Cookie", "nick=bob; theme=\"dark\""},
                             {"Cookie", "nick=eve; lang=en"}};
    Client client(port(), "/info", transport, headers, "room=1&x=%20y");
    if (client.isRaw())
        QVERIFY(client.start());
    else
        QCOMPARE(client.next(), QByteArray("o"));
    const QByteArray id = waitForConnect("/info");
    QVERIFY(!id.isEmpty());
    const QByteArray data = backend("/info")->eventsOfType("connect").first().data;
    const QJsonObject info = connectObject(data);
    QVERIFY2(!info.isEmpty(), data.constData());

    QCOMPARE(info.value("remote_address").toString(), QStringLiteral("127.0.0.1"));
    QCOMPARE(info.value("remote_port").toInt(), int(client.localPort()));
    QCOMPARE(info.value("transport").toString().toUtf8(), expectedTransportName(transport));
    const QByteArray path = client.path();
    QCOMPARE(info.value("path").toString().toUtf8(), path.left(path.indexOf('?')));
    QCOMPARE(info.value("query").toString().toUtf8(), path.mid(path.indexOf('?') + 1));
    QVERIFY(info.value("query").toString().endsWith(QLatin1String("room=1&x=%20y")));
    QCOMPARE(info.value("origin").toString(), QStringLiteral("http://example.com"));
    QCOMPARE(info.value("user_agent").toString(), QStringLiteral("tst/1.0"));
    QCOMPARE(info.value("node").toString().toUtf8(), Node::localName());
    QVERIFY(id.startsWith(Node::localName() + '-'));
    if (client.isWebSocket()) {
        // One value per header name in a WebSocket handshake as Qt reads it.
        QCOMPARE(info.value("headers").toObject(), (QJsonObject{{"x-user", "alice"}}));
        QVERIFY(info.value("cookies").toObject().contains("nick"));
        QVERIFY(info.value("cookies").toObject().contains("lang"));
    } else {
        QCOMPARE(info.value("headers").toObject(), (QJsonObject{{"x-user", "alice"}}));
        // Both Cookie headers; the first nick wins, quotes come off.
        QCOMPARE(info.value("cookies").toObject(), (QJsonObject{{"nick", "bob"}, {"theme", "dark"}, {"lang", "en"}}));
    }
    QCOMPARE(info.keys(), (QStringList{"cookies", "headers", "node", "origin", "path", "query", "remote_address",
                                       "remote_port", "transport", "user_agent"}));
    // Only in connect: messages and disconnect keep their data.
    QCOMPARE(counter("/info", Counter::BackendErrors), quint64(0));
}

void tst_BackendApi::connectInfo_offIsEmpty_data() { addTransportRows(); }

// Without connect_info the connect data is empty, as it always was.
void tst_BackendApi::connectInfo_offIsEmpty()
{
    QFETCH(QByteArray, transport);
    Client client(port(), "/plain", transport, {{"Cookie", "nick=bob"}, {"X-User", "alice"}});
    if (client.isRaw())
        QVERIFY(client.start());
    else
        QCOMPARE(client.next(), QByteArray("o"));
    QVERIFY(!waitForConnect("/plain").isEmpty());
    const TestBackend::Event event = backend("/plain")->eventsOfType("connect").first();
    QCOMPARE(event.data, QByteArray(""));
    QCOMPARE(event.data.size(), qsizetype(0));
}

// connect_info: true: no headers, no cookies key; absent headers are null.
void tst_BackendApi::connectInfo_noHeadersNoCookies()
{
    HttpClient http(port(), kWaitMs);
    QVERIFY(http.connectToServer());
    http.sendRequest("POST", "/bare/000/" + newSessionId() + "/xhr", QByteArray(),
                     {{"Cookie", "nick=bob"}, {"X-User", "alice"}});
    const HttpClient::Response response = http.readResponse();
    QCOMPARE(response.status, 200);
    QCOMPARE(response.body, QByteArray("o\n"));
    QVERIFY(!waitForConnect("/bare").isEmpty());
    const QJsonObject info = connectObject(backend("/bare")->eventsOfType("connect").first().data);
    QCOMPARE(info.value("headers").toObject(), QJsonObject());
    QVERIFY(!info.contains("cookies"));
    QVERIFY(info.value("origin").isNull());
    QVERIFY(info.value("user_agent").isNull());
    QCOMPARE(info.value("query").toString(), QString());
}

void tst_BackendApi::connectInfo_behindTrustedProxy_data() { addTransportRows(); }

// Behind a trusted proxy, remote_address is the client it names, on every
// transport, as everywhere else in the proxy.
void tst_BackendApi::connectInfo_behindTrustedProxy()
{
    QFETCH(QByteArray, transport);
    Client client(port(), "/bare", transport, {{"X-Forwarded-For", "203.0.113.9, 127.0.0.1"}});
    if (client.isRaw())
        QVERIFY(client.start());
    else
        QCOMPARE(client.next(), QByteArray("o"));
    QVERIFY(!waitForConnect("/bare").isEmpty());
    const QJsonObject info = connectObject(backend("/bare")->eventsOfType("connect").first().data);
    QCOMPARE(info.value("remote_address").toString(), QStringLiteral("203.0.113.9"));
}

void tst_BackendApi::connectInfo_hostileValues_data()
{
    QTest::addColumn<QByteArray>("transport");
    QTest::addColumn<QByteArray>("value"); // X-User as sent
    QTest::addColumn<QString>("expected"); // as the backend reads it
    QTest::newRow("invalid UTF-8") << QByteArray("xhr_streaming")
                                   << QByteArray("a\xff\xfe"
                                                 "b")
                                   << QString::fromUtf8("a\xef\xbf\xbd\xef\xbf\xbd"
                                                        "b");
    QTest::newRow("tab") << QByteArray("xhr_streaming") << QByteArray("a\tb") << QStringLiteral("a\tb");
    QTest::newRow("control characters") << QByteArray("xhr")
                                        << QByteArray("a\x01\x1f\x7f"
                                                      "z")
                                        << QStringLiteral("a\x01\x1f\x7f"
                                                          "z");
    QTest::newRow("quotes and backslashes")
        << QByteArray("xhr") << QByteArray(R"(a"b\c\"})") << QStringLiteral(R"(a"b\c\"})");
    QTest::newRow("JSON and HTML") << QByteArray("jsonp") << QByteArray(R"(</script>{"x":[1]})")
                                   << QStringLiteral(R"(</script>{"x":[1]})");
    QTest::newRow("U+2028") << QByteArray("eventsource")
                            << QByteArray("a\xe2\x80\xa8"
                                          "b")
                            << QString::fromUtf8("a\xe2\x80\xa8"
                                                 "b");
    QTest::newRow("invalid UTF-8, WebSocket")
        << QByteArray("websocket") << QByteArray("\xc3(") << QString::fromUtf8("\xef\xbf\xbd(");
}

// Whatever bytes a header carries, the connect data is valid JSON and the
// value reads back as its UTF-8 (invalid bytes U+FFFD).
void tst_BackendApi::connectInfo_hostileValues()
{
    QFETCH(QByteArray, transport);
    QFETCH(QByteArray, value);
    QFETCH(QString, expected);
    Client client(port(), "/info", transport, {{"X-User", value}, {"Cookie", "nick=" + value}});
    QCOMPARE(client.next(), QByteArray("o"));
    QVERIFY(!waitForConnect("/info").isEmpty());
    const QByteArray data = backend("/info")->eventsOfType("connect").first().data;
    QJsonParseError error;
    const QJsonDocument document = QJsonDocument::fromJson(data, &error);
    QVERIFY2(error.error == QJsonParseError::NoError, data.constData());
    QVERIFY(QString::fromUtf8(data).toUtf8() == data); // valid UTF-8 throughout
    QCOMPARE(document.object().value("headers").toObject().value("x-user").toString(), expected);
    QCOMPARE(document.object().value("cookies").toObject().value("nick").toString(), expected);
}

void tst_BackendApi::connectInfo_oversizedCookie_data()
{
    QTest::addColumn<QByteArray>("transport");
    QTest::newRow("xhr") << QByteArray("xhr");
    QTest::newRow("websocket") << QByteArray("websocket");
}

// A Cookie header over the service's header limit (/bare: 4096 bytes) is
// refused with the request: no session, no connect.
void tst_BackendApi::connectInfo_oversizedCookie()
{
    QFETCH(QByteArray, transport);
    const Headers headers = {{"Cookie", "nick=" + QByteArray(5000, 'x')}};
    if (transport == "websocket") {
        WebSocketClient ws;
        QVERIFY(!ws.connectTo(port(), "/bare/000/" + newSessionId() + "/websocket", headers, kWaitMs));
    } else {
        HttpClient http(port(), kWaitMs);
        QVERIFY(http.connectToServer());
        http.sendRequest("POST", "/bare/000/" + newSessionId() + "/xhr", QByteArray(), headers);
        QCOMPARE(http.readResponse().status, 431);
    }
    fence();
    QVERIFY(backend("/bare")->events().isEmpty());
    QCOMPARE(service("/bare")->sessionCount(), qsizetype(0));
    // Just under the limit it passes, whole.
    const QByteArray cookie = QByteArray(3500, 'y');
    Client client(port(), "/bare", transport, {{"Cookie", "nick=" + cookie}});
    QCOMPARE(client.next(), QByteArray("o"));
    QVERIFY(!waitForConnect("/bare").isEmpty());
}

void tst_BackendApi::connectInfo_cookieParsing_data()
{
    QTest::addColumn<QByteArray>("header");
    QTest::addColumn<QJsonObject>("cookies");
    QTest::newRow("empty") << QByteArray("") << QJsonObject();
    QTest::newRow("no equals") << QByteArray("justaname; a=1") << QJsonObject{{"a", "1"}};
    QTest::newRow("empty name") << QByteArray("=x; b=2") << QJsonObject{{"b", "2"}};
    QTest::newRow("empty value") << QByteArray("a=") << QJsonObject{{"a", ""}};
    QTest::newRow("equals in value") << QByteArray("a=b=c") << QJsonObject{{"a", "b=c"}};
    QTest::newRow("spaces") << QByteArray("  a = 1 ;b=2;") << QJsonObject{{"a", "1"}, {"b", "2"}};
    QTest::newRow("first wins") << QByteArray("a=1; a=2") << QJsonObject{{"a", "1"}};
    QTest::newRow("percent stays") << QByteArray("n=%C3%A9") << QJsonObject{{"n", "%C3%A9"}};
}

void tst_BackendApi::connectInfo_cookieParsing()
{
    QFETCH(QByteArray, header);
    QFETCH(QJsonObject, cookies);
    Client client(port(), "/info", "xhr", {{"Cookie", header}});
    QCOMPARE(client.next(), QByteArray("o"));
    QVERIFY(!waitForConnect("/info").isEmpty());
    const QJsonObject info = connectObject(backend("/info")->eventsOfType("connect").first().data);
    QCOMPARE(info.value("cookies").toObject(), cookies);
}

// --- require_accept --------------------------------------------------------------------

void tst_BackendApi::accept_holdsOpenFrame_data() { addTransportRows(); }

// The client gets nothing (no open frame, no heartbeat, no message) until
// the backend accepts; messages the backend sent before wait, and follow
// the open frame.
void tst_BackendApi::accept_holdsOpenFrame()
{
    QFETCH(QByteArray, transport);
    Client client(port(), "/accept", transport);
    QVERIFY(client.start());
    const QByteArray id = waitForConnect("/accept");
    QVERIFY(!id.isEmpty());
    QCOMPARE(service("/accept")->sessionByBackendId(id)->state(), Session::State::Connecting);
    backend("/accept")->sendMessage(id, "early");
    QVERIFY(waitUntil([&] { return counter("/accept", Counter::BackendReceivedMessage) == 1; }, kWaitMs));
    fence();
    QCOMPARE(client.pending(), QByteArray());

    backend("/accept")->sendAccept(id);
    if (!client.isRaw())
        QCOMPARE(client.next(), QByteArray("o"));
    QCOMPARE(client.next(), client.isRaw() ? QByteArray("early") : QByteArray("a[\"early\"]"));
    QCOMPARE(service("/accept")->sessionByBackendId(id)->state(), Session::State::Open);
    QCOMPARE(counter("/accept", Counter::BackendReceivedAccept), quint64(1));
    QCOMPARE(counter("/accept", Counter::BackendErrors), quint64(0));
    QCOMPARE(counter("/accept", Counter::AcceptTimeouts), quint64(0));
    QCOMPARE(eventTypes("/accept", id), (QList<QByteArray>{"connect"}));
}

void tst_BackendApi::accept_refusalDuringHold_data() { addTransportRows(); }

// A disconnect instead of accept: the client gets the close frame alone,
// with the backend's code (raw WebSocket: the close frame), never an open
// frame, nor what the backend queued; the backend its one disconnect.
void tst_BackendApi::accept_refusalDuringHold()
{
    QFETCH(QByteArray, transport);
    Client client(port(), "/accept", transport);
    QVERIFY(client.start());
    const QByteArray id = waitForConnect("/accept");
    QVERIFY(!id.isEmpty());
    backend("/accept")->sendMessage(id, "never seen");
    backend("/accept")->sendDisconnect(id, R"({"code": 4001, "reason": "Unauthorized"})");
    QString problem;
    QVERIFY2(client.closesWith(4001, "Unauthorized", &problem), qPrintable(problem));
    QTRY_COMPARE(eventTypes("/accept", id), (QList<QByteArray>{"connect", "disconnect"}));
    QCOMPARE(counter("/accept", Counter::BackendErrors), quint64(0));
    // A later accept finds the session closed: counted, ignored.
    backend("/accept")->sendAccept(id);
    QVERIFY(waitUntil([&] { return counter("/accept", Counter::BackendErrors) == 1; }, kWaitMs));
    QCOMPARE(counter("/accept", Counter::BackendUnexpectedAccept)
                 + counter("/accept", Counter::UnknownSessionFromBackend),
             quint64(1));
    fence();
    QCOMPARE(client.pending(), QByteArray());
}

void tst_BackendApi::accept_timeout_data() { addTransportRows(); }

// No answer within accept_timeout_ms (/timeout: 200 ms): the session
// closes, counted; the client never saw it open; the backend is told.
void tst_BackendApi::accept_timeout()
{
    QFETCH(QByteArray, transport);
    Client client(port(), "/timeout", transport);
    QVERIFY(client.start());
    const QByteArray id = waitForConnect("/timeout");
    QVERIFY(!id.isEmpty());
    QString problem;
    QVERIFY2(client.closesWith(Session::kAcceptTimeoutCode, Session::acceptTimeoutReason(), &problem),
             qPrintable(problem));
    QCOMPARE(counter("/timeout", Counter::AcceptTimeouts), quint64(1));
    QTRY_COMPARE(eventTypes("/timeout", id), (QList<QByteArray>{"connect", "disconnect"}));
    QCOMPARE(counter("/timeout", Counter::BackendErrors), quint64(0));
}

// Messages a raw WebSocket client sends before the accept (it sees its
// WebSocket open) wait, and reach the backend after the accept, in order.
void tst_BackendApi::accept_clientMessagesHeld()
{
    Client client(port(), "/accept", "rawwebsocket");
    QVERIFY(client.start());
    const QByteArray id = waitForConnect("/accept");
    QVERIFY(!id.isEmpty());
    client.webSocket()->sendText(QStringLiteral("one"));
    client.webSocket()->sendText(QStringLiteral("two"));
    fence();
    QCOMPARE(eventTypes("/accept", id), (QList<QByteArray>{"connect"}));
    QCOMPARE(counter("/accept", Counter::MessagesIn), quint64(0));
    backend("/accept")->sendAccept(id);
    QTRY_COMPARE(eventTypes("/accept", id), (QList<QByteArray>{"connect", "message", "message"}));
    const QList<TestBackend::Event> messages = backend("/accept")->eventsOfType("message");
    QCOMPARE(messages.at(0).data, QByteArray("one"));
    QCOMPARE(messages.at(1).data, QByteArray("two"));
    // The echo backend answers them, now the session is open.
    QCOMPARE(client.next(), QByteArray("one"));
    QCOMPARE(client.next(), QByteArray("two"));
}

void tst_BackendApi::accept_clientGoneDuringHold_data()
{
    QTest::addColumn<QByteArray>("transport");
    QTest::newRow("xhr") << QByteArray("xhr");
    QTest::newRow("xhr_streaming") << QByteArray("xhr_streaming");
    QTest::newRow("websocket") << QByteArray("websocket");
    QTest::newRow("rawwebsocket") << QByteArray("rawwebsocket");
}

// The client goes away while the session waits: it closes, and the backend
// that was told connect is told disconnect.
void tst_BackendApi::accept_clientGoneDuringHold()
{
    QFETCH(QByteArray, transport);
    Client client(port(), "/accept", transport);
    QVERIFY(client.start());
    const QByteArray id = waitForConnect("/accept");
    QVERIFY(!id.isEmpty());
    client.abort();
    QTRY_COMPARE_WITH_TIMEOUT(eventTypes("/accept", id), (QList<QByteArray>{"connect", "disconnect"}), kWaitMs);
    backend("/accept")->sendAccept(id); // too late: counted, ignored
    QVERIFY(waitUntil([&] { return counter("/accept", Counter::BackendErrors) == 1; }, kWaitMs));
}

// accept for no such session, for an open one, and on a service without
// require_accept: counted, ignored, the client sees nothing of it.
void tst_BackendApi::accept_unknownOrOpenSession()
{
    backend("/accept")->sendAccept("no-such-session");
    QVERIFY(waitUntil([&] { return counter("/accept", Counter::UnknownSessionFromBackend) == 1; }, kWaitMs));

    Client held(port(), "/accept", "websocket");
    QVERIFY(held.start());
    const QByteArray id = waitForConnect("/accept");
    backend("/accept")->sendAccept(id);
    QCOMPARE(held.next(), QByteArray("o"));
    backend("/accept")->sendAccept(id);
    QVERIFY(waitUntil([&] { return counter("/accept", Counter::BackendUnexpectedAccept) == 1; }, kWaitMs));
    QCOMPARE(counter("/accept", Counter::BackendErrors), quint64(2));
    QCOMPARE(counter("/accept", Counter::BackendReceivedAccept), quint64(3));

    Client plain(port(), "/plain", "websocket");
    QCOMPARE(plain.next(), QByteArray("o"));
    const QByteArray plainId = waitForConnect("/plain");
    backend("/plain")->sendAccept(plainId);
    QVERIFY(waitUntil([&] { return counter("/plain", Counter::BackendUnexpectedAccept) == 1; }, kWaitMs));
    fence();
    QCOMPARE(held.pending(), QByteArray());
    QCOMPARE(plain.pending(), QByteArray());
    // Both still work.
    held.webSocket()->send({QStringLiteral("still")});
    QCOMPARE(held.next(), QByteArray("a[\"still\"]"));
    plain.webSocket()->send({QStringLiteral("open")});
    QCOMPARE(plain.next(), QByteArray("a[\"open\"]"));
}

// Both together: the backend decides on what connect tells it.
void tst_BackendApi::accept_withConnectInfo()
{
    Client good(port(), "/both", "xhr_streaming", {{"Cookie", "nick=ann"}});
    QVERIFY(good.start());
    Client bad(port(), "/both", "eventsource", {{"Cookie", "nick=???"}});
    QVERIFY(bad.start());
    QVERIFY(!waitForConnect("/both", 2).isEmpty());
    for (const TestBackend::Event &event : backend("/both")->eventsOfType("connect")) {
        const QString nick = connectObject(event.data).value("cookies").toObject().value("nick").toString();
        if (nick == QLatin1String("ann"))
            backend("/both")->sendAccept(event.sessionId);
        else
            backend("/both")->sendDisconnect(event.sessionId, R"({"code": 4002, "reason": "Bad nickname"})");
    }
    QCOMPARE(good.next(), QByteArray("o"));
    QString problem;
    QVERIFY2(bad.closesWith(4002, "Bad nickname", &problem), qPrintable(problem));
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
