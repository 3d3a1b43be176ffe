// The plain-HTTP side of the proxy: greeting, /info, iframe page, HTTP/1.0
// and 1.1 connection handling (SOCKJS-PROTOCOL.md sections 1, 3, 4, 12, 14)
// and the HTTP front door (pipelining, chunked bodies, malformed or oversized
// requests, slow clients, static files, the built-in sockjs-client).
//
// Raw bytes over HttpClient against an in-process Server; exact bytes where
// the protocol fixes them. No sleeps: every wait spins the event loop until a
// condition holds or a timeout fails the test.

#include "httpclient.h"
#include "testserver.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include <memory>

using namespace SockJsProxy;
using namespace SockJsProxy::Test;

namespace {

using Headers = QList<QPair<QByteArray, QByteArray>>;
using Response = HttpClient::Response;

const QByteArray kGreeting = QByteArrayLiteral("Welcome to SockJS!\n");
const QByteArray kNoCache = QByteArrayLiteral("no-store, no-cache, no-transform, must-revalidate, max-age=0");

QByteArray withoutSpaces(QByteArray value)
{
    value.replace(' ', QByteArray());
    return value;
}

// Cache-Control of a long-cached answer: "public" and max-age >= 1 000 000
// (7+ digits, the first non-zero).
bool cachedForever(const QByteArray &cacheControl)
{
    static const QRegularExpression maxAge(QStringLiteral("(^|[ ,])max-age=[1-9][0-9]{6,}($|[ ,])"));
    return cacheControl.contains("public") && maxAge.match(QString::fromLatin1(cacheControl)).hasMatch();
}

// The body length of the response is knowable (the suite's client needs this).
bool framed(const Response &response)
{
    return response.hasHeader("Content-Length") || response.header("Transfer-Encoding") == "chunked"
           || response.header("Connection").toLower() == "close";
}

QByteArray iframePage(const QByteArray &sockjsUrl)
{
    return "<!DOCTYPE html>\n"
           "<html>\n"
           "<head>\n"
           "  <meta http-equiv=\"X-UA-Compatible\" content=\"IE=edge\" />\n"
           "  <meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\" />\n"
           "  <script src=\""
           + sockjsUrl
           + "\"></script>\n"
             "  <script>\n"
             "    document.domain = document.domain;\n"
             "    SockJS.bootstrap_iframe();\n"
             "  </script>\n"
             "</head>\n"
             "<body>\n"
             "  <h2>Don't panic!</h2>\n"
             "  <p>This is a SockJS hidden iframe. It's used for cross domain magic.</p>\n"
             "</body>\n"
             "</html>";
}

bool writeFile(const QString &path, const QByteArray &content)
{
    QFile file(path);
    return file.open(QIODevice::WriteOnly) && file.write(content) == content.size();
}

} // namespace

class tst_HttpBasics : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    // 1. BaseUrlGreeting
    void greeting_data();
    void greeting();
    void greetingHead();
    void notFound_data();
    void notFound();

    // 3. /info
    void info_data();
    void info();
    void infoWithoutOrigin();
    void infoEntropy();
    void infoOptions_data();
    void infoOptions();

    // 4. IframePage
    void iframe_data();
    void iframe();
    void iframeInvalid_data();
    void iframeInvalid();
    void iframeCacheability();
    void iframeConfiguredSockjsUrl();

    // 14. Http10 / Http11 synchronous
    void http10_data();
    void http10();
    void http11KeepAlive();
    void http11Close();

    // The front door.
    void pipelined();
    void pipelinedSession();
    void chunkedRequestBody();
    void malformedRequestLine_data();
    void malformedRequestLine();
    void limits_data();
    void limits();
    void outsideAnyPrefix_data();
    void outsideAnyPrefix();
    void staticFiles_data();
    void staticFiles();
    void staticFilesRedirect_data();
    void staticFilesRedirect();
    void staticFilesTraversal_data();
    void staticFilesTraversal();
    void staticFilesSymlinks_data();
    void staticFilesSymlinks();
    void staticFilesMountThroughLink();
    void staticFilesEtag();
    void builtinSockjsClient();
    void slowClient_data();
    void slowClient();

private:
    std::unique_ptr<TestServer> m_server;
    quint16 port() const { return m_server->port(); }
};

void tst_HttpBasics::init()
{
    m_server = std::make_unique<TestServer>();
    QVERIFY(m_server->start());
}

void tst_HttpBasics::cleanup() { m_server.reset(); }

// --- 1. Greeting ---------------------------------------------------------------

void tst_HttpBasics::greeting_data()
{
    QTest::addColumn<QByteArray>("path");
    QTest::newRow("/echo") << QByteArray("/echo");
    QTest::newRow("/echo/") << QByteArray("/echo/");
    QTest::newRow("/close") << QByteArray("/close");
    QTest::newRow("/disabled_websocket_echo/") << QByteArray("/disabled_websocket_echo/");
    QTest::newRow("/cookie_needed_echo") << QByteArray("/cookie_needed_echo");
    QTest::newRow("/cookie_needed_echo/") << QByteArray("/cookie_needed_echo/");
    QTest::newRow("query ignored") << QByteArray("/echo?t=1");
}

void tst_HttpBasics::greeting()
{
    QFETCH(QByteArray, path);
    const Response response = HttpClient::request(port(), "GET", path);
    QVERIFY(response.ok);
    QCOMPARE(response.status, 200);
    QCOMPARE(withoutSpaces(response.header("Content-Type")), QByteArray("text/plain;charset=UTF-8"));
    QCOMPARE(response.body, kGreeting);
    QCOMPARE(response.header("Content-Length"), QByteArray("19"));
    QVERIFY(!response.hasHeader("Set-Cookie"));
}

void tst_HttpBasics::greetingHead()
{
    HttpClient client(port());
    QVERIFY(client.connectToServer());
    client.sendRequest("HEAD", "/echo");
    const Response head = client.readHead();
    QVERIFY(head.ok);
    QCOMPARE(head.status, 200);
    QCOMPARE(withoutSpaces(head.header("Content-Type")), QByteArray("text/plain;charset=UTF-8"));
    QVERIFY(!head.hasHeader("Set-Cookie"));
    // No body follows a HEAD answer: the next response starts right after the head.
    client.sendRequest("GET", "/echo/");
    const Response next = client.readResponse();
    QVERIFY(next.ok);
    QCOMPARE(next.version, QByteArray("HTTP/1.1"));
    QCOMPARE(next.status, 200);
    QCOMPARE(next.body, kGreeting);
}

void tst_HttpBasics::notFound_data()
{
    QTest::addColumn<QByteArray>("path");
    for (const char *path : {"/echo/a", "/echo/a.html", "/echo//", "/echo///", "/echo/a/a", "/echo/a/a/", "/echo/a/"})
        QTest::newRow(path) << QByteArray(path);
    QTest::newRow("/close/a/") << QByteArray("/close/a/");
}

void tst_HttpBasics::notFound()
{
    QFETCH(QByteArray, path);
    const Response response = HttpClient::request(port(), "GET", path);
    QVERIFY(response.ok);
    QCOMPARE(response.status, 404);
    QVERIFY(framed(response));
}

// --- 3. /info ------------------------------------------------------------------------

void tst_HttpBasics::info_data()
{
    QTest::addColumn<QByteArray>("prefix");
    QTest::addColumn<QByteArray>("origin");
    QTest::addColumn<bool>("websocket");
    QTest::addColumn<bool>("cookieNeeded");

    QTest::newRow("echo, Origin test") << QByteArray("/echo") << QByteArray("test") << true << false;
    QTest::newRow("echo, Origin null") << QByteArray("/echo") << QByteArray("null") << true << false;
    QTest::newRow("echo, Origin http") << QByteArray("/echo") << QByteArray("http://example.com:8000") << true << false;
    QTest::newRow("disabled websocket") << QByteArray("/disabled_websocket_echo") << QByteArray("test") << false
                                        << false;
    QTest::newRow("cookie needed") << QByteArray("/cookie_needed_echo") << QByteArray("test") << true << true;
    QTest::newRow("close") << QByteArray("/close") << QByteArray("test") << true << false;
}

void tst_HttpBasics::info()
{
    QFETCH(QByteArray, prefix);
    QFETCH(QByteArray, origin);
    QFETCH(bool, websocket);
    QFETCH(bool, cookieNeeded);

    const Response response = HttpClient::request(port(), "GET", prefix + "/info", QByteArray(), {{"Origin", origin}});
    QVERIFY(response.ok);
    QCOMPARE(response.status, 200);
    QCOMPARE(withoutSpaces(response.header("Content-Type")), QByteArray("application/json;charset=UTF-8"));
    QVERIFY(!response.hasHeader("Set-Cookie"));
    QCOMPARE(response.header("Cache-Control"), kNoCache);
    QVERIFY(!response.hasHeader("Expires"));
    QVERIFY(!response.hasHeader("Last-Modified"));
    QCOMPARE(response.header("Access-Control-Allow-Origin"), origin);
    QCOMPARE(response.header("Access-Control-Allow-Credentials"), QByteArray("true"));

    QJsonParseError error;
    const QJsonDocument document = QJsonDocument::fromJson(response.body, &error);
    QCOMPARE(error.error, QJsonParseError::NoError);
    QVERIFY(document.isObject());
    const QJsonObject object = document.object();
    QVERIFY(object.value(QStringLiteral("websocket")).isBool());
    QCOMPARE(object.value(QStringLiteral("websocket")).toBool(), websocket);
    QVERIFY(object.value(QStringLiteral("cookie_needed")).isBool());
    QCOMPARE(object.value(QStringLiteral("cookie_needed")).toBool(), cookieNeeded);
    QCOMPARE(object.value(QStringLiteral("origins")).toArray(), QJsonArray{QStringLiteral("*:*")});
    QVERIFY(object.value(QStringLiteral("entropy")).isDouble());
    // An integer: a JSON number without fraction or exponent.
    static const QRegularExpression entropy(QStringLiteral("\"entropy\"\\s*:\\s*-?[0-9]+\\s*[,}]"));
    QVERIFY2(entropy.match(QString::fromUtf8(response.body)).hasMatch(), response.body.constData());
}

void tst_HttpBasics::infoWithoutOrigin()
{
    const Response response = HttpClient::request(port(), "GET", "/echo/info");
    QVERIFY(response.ok);
    QCOMPARE(response.status, 200);
    QCOMPARE(response.header("Access-Control-Allow-Origin"), QByteArray("*"));
    QVERIFY(!response.hasHeader("Access-Control-Allow-Credentials"));
    QCOMPARE(response.header("Cache-Control"), kNoCache);
}

void tst_HttpBasics::infoEntropy()
{
    const auto entropy = [this] {
        const Response response = HttpClient::request(port(), "GET", "/echo/info");
        return QJsonDocument::fromJson(response.body).object().value(QStringLiteral("entropy")).toDouble(-1);
    };
    const double first = entropy();
    const double second = entropy();
    QVERIFY(first >= 0 && first <= 4294967295.0);
    QVERIFY(second >= 0 && second <= 4294967295.0);
    QVERIFY(first != second);
}

void tst_HttpBasics::infoOptions_data()
{
    QTest::addColumn<QByteArray>("prefix");
    QTest::addColumn<QByteArray>("origin");
    QTest::addColumn<QByteArray>("requestHeaders"); // null: not sent

    QTest::newRow("Origin test") << QByteArray("/echo") << QByteArray("test") << QByteArray();
    QTest::newRow("Origin null") << QByteArray("/echo") << QByteArray("null") << QByteArray();
    QTest::newRow("request headers") << QByteArray("/echo") << QByteArray("test") << QByteArray("a, b, c");
    QTest::newRow("empty request headers") << QByteArray("/echo") << QByteArray("test") << QByteArray("");
    QTest::newRow("disabled websocket") << QByteArray("/disabled_websocket_echo") << QByteArray("null") << QByteArray();
    QTest::newRow("cookie needed") << QByteArray("/cookie_needed_echo") << QByteArray("test") << QByteArray();
}

void tst_HttpBasics::infoOptions()
{
    QFETCH(QByteArray, prefix);
    QFETCH(QByteArray, origin);
    QFETCH(QByteArray, requestHeaders);

    Headers headers{{"Origin", origin}, {"Access-Control-Request-Method", "GET"}};
    if (!requestHeaders.isNull())
        headers.push_back({"Access-Control-Request-Headers", requestHeaders});
    HttpClient client(port());
    QVERIFY(client.connectToServer());
    client.sendRequest("OPTIONS", prefix + "/info", QByteArray(), headers);
    const Response response = client.readResponse();
    QVERIFY(response.ok);
    QVERIFY2(response.status == 200 || response.status == 204, QByteArray::number(response.status).constData());
    QCOMPARE(response.body, QByteArray());
    QVERIFY2(cachedForever(response.header("Cache-Control")), response.header("Cache-Control").constData());
    QVERIFY(!response.header("Expires").isEmpty());
    bool ok = false;
    const qlonglong maxAge = response.header("Access-Control-Max-Age").toLongLong(&ok);
    QVERIFY(ok);
    QVERIFY(maxAge > 1000000);
    const QByteArray methods = response.header("Access-Control-Allow-Methods");
    QVERIFY2(methods.contains("OPTIONS") && methods.contains("GET"), methods.constData());
    QCOMPARE(response.header("Access-Control-Allow-Origin"), origin);
    QCOMPARE(response.header("Access-Control-Allow-Credentials"), QByteArray("true"));
    if (requestHeaders.isEmpty())
        QVERIFY(response.header("Access-Control-Allow-Headers").isEmpty());
    else
        QCOMPARE(response.header("Access-Control-Allow-Headers"), requestHeaders);
    if (prefix != "/cookie_needed_echo")
        QVERIFY(!response.hasHeader("Set-Cookie"));

    // The empty body really was empty: the connection carries on.
    client.sendRequest("GET", "/echo");
    const Response next = client.readResponse();
    QVERIFY(next.ok);
    QCOMPARE(next.body, kGreeting);
}

// --- 4. Iframe -------------------------------------------------------------------------

void tst_HttpBasics::iframe_data()
{
    QTest::addColumn<QByteArray>("path");
    const char *paths[] = {"/echo/iframe.html",
                           "/echo/iframe-a.html",
                           "/echo/iframe-.html",
                           "/echo/iframe-0.1.2.html",
                           "/echo/iframe-0.1.2abc-dirty.2144.html",
                           "/echo/iframe_x.html",
                           "/echo/iframe.html?t=1234",
                           "/echo/iframe-a.html?t=1234&x=y",
                           "/cookie_needed_echo/iframe.html",
                           "/close/iframe-0.1.2.html"};
    for (const char *path : paths)
        QTest::newRow(path) << QByteArray(path);
}

void tst_HttpBasics::iframe()
{
    QFETCH(QByteArray, path);
    const Response response = HttpClient::request(port(), "GET", path);
    QVERIFY(response.ok);
    QCOMPARE(response.status, 200);
    QCOMPARE(withoutSpaces(response.header("Content-Type")), QByteArray("text/html;charset=UTF-8"));
    QVERIFY2(cachedForever(response.header("Cache-Control")), response.header("Cache-Control").constData());
    QVERIFY(!response.header("Expires").isEmpty());
    QVERIFY(!response.header("ETag").isEmpty());
    QVERIFY(!response.hasHeader("Last-Modified"));
    QVERIFY(!response.hasHeader("Set-Cookie"));
    QCOMPARE(response.body.trimmed(), iframePage(builtinSockJsUrl().toUtf8()));

    // Every variant is the same page.
    const Response plain = HttpClient::request(port(), "GET", "/echo/iframe.html");
    QCOMPARE(response.header("ETag"), plain.header("ETag"));
}

void tst_HttpBasics::iframeInvalid_data()
{
    QTest::addColumn<QByteArray>("path");
    for (const char *path :
         {"/echo/iframe.htm", "/echo/iframe", "/echo/IFRAME.HTML", "/echo/IFRAME", "/echo/iframe.HTML",
          "/echo/iframe.xml", "/echo/iframe-/.html", "/echo/iframeA.html", "/echo/iframe-a.html/"})
        QTest::newRow(path) << QByteArray(path);
}

void tst_HttpBasics::iframeInvalid()
{
    QFETCH(QByteArray, path);
    const Response response = HttpClient::request(port(), "GET", path);
    QVERIFY(response.ok);
    QCOMPARE(response.status, 404);
    QVERIFY(framed(response));
}

void tst_HttpBasics::iframeCacheability()
{
    const Response first = HttpClient::request(port(), "GET", "/echo/iframe.html");
    const Response second = HttpClient::request(port(), "GET", "/echo/iframe.html");
    QVERIFY(first.ok);
    QVERIFY(second.ok);
    const QByteArray etag = first.header("ETag");
    QVERIFY(!etag.isEmpty());
    QCOMPARE(second.header("ETag"), etag);

    HttpClient client(port());
    QVERIFY(client.connectToServer());
    client.sendRequest("GET", "/echo/iframe.html", QByteArray(), {{"If-None-Match", etag}});
    const Response notModified = client.readResponse();
    QVERIFY(notModified.ok);
    QCOMPARE(notModified.status, 304);
    QVERIFY(!notModified.hasHeader("Content-Type"));
    QVERIFY(!notModified.hasHeader("Set-Cookie"));
    QVERIFY(notModified.header("Content-Length").isNull() || notModified.header("Content-Length") == "0");
    // No body: the next response on the connection starts right away.
    client.sendRequest("GET", "/echo");
    const Response next = client.readResponse();
    QVERIFY(next.ok);
    QCOMPARE(next.status, 200);
    QCOMPARE(next.body, kGreeting);

    // A different tag gets the page.
    const Response other =
        HttpClient::request(port(), "GET", "/echo/iframe.html", QByteArray(), {{"If-None-Match", "\"other\""}});
    QCOMPARE(other.status, 200);
    QCOMPARE(other.body.trimmed(), iframePage(builtinSockJsUrl().toUtf8()));
}

void tst_HttpBasics::iframeConfiguredSockjsUrl()
{
    Config config = TestServer::protocolConfig(QStringLiteral("sockjs_url"));
    config.services[0].sockjsUrl = QStringLiteral("http://cdn.example.com/sockjs-1.6.1.min.js");
    config.services[1].sockjsUrl = QStringLiteral("/lib/sockjs.js");
    TestServer server;
    QVERIFY(server.start(config));
    const QByteArray first = config.services[0].prefix.toUtf8();
    const QByteArray second = config.services[1].prefix.toUtf8();

    const Response remote = HttpClient::request(server.port(), "GET", first + "/iframe.html");
    QCOMPARE(remote.status, 200);
    QCOMPARE(remote.body.trimmed(), iframePage("http://cdn.example.com/sockjs-1.6.1.min.js"));
    const Response local = HttpClient::request(server.port(), "GET", second + "/iframe-0.1.html");
    QCOMPARE(local.status, 200);
    QCOMPARE(local.body.trimmed(), iframePage("/lib/sockjs.js"));
    // Different pages, different tags.
    QVERIFY(remote.header("ETag") != local.header("ETag"));
}

// --- 14. HTTP/1.0 and HTTP/1.1 -----------------------------------------------------------

void tst_HttpBasics::http10_data()
{
    QTest::addColumn<QByteArray>("connection"); // null: no Connection header
    QTest::addColumn<bool>("keepAlive");
    QTest::newRow("Keep-Alive") << QByteArray("Keep-Alive") << true;
    QTest::newRow("keep-alive") << QByteArray("keep-alive") << true;
    QTest::newRow("no Connection header") << QByteArray() << false;
    QTest::newRow("close") << QByteArray("close") << false;
}

void tst_HttpBasics::http10()
{
    QFETCH(QByteArray, connection);
    QFETCH(bool, keepAlive);

    HttpClient client(port());
    QVERIFY(client.connectToServer());
    Headers headers;
    if (!connection.isNull())
        headers.push_back({"Connection", connection});
    client.sendRequest("GET", "/echo", QByteArray(), headers, "HTTP/1.0");
    const Response response = client.readResponse();
    QVERIFY(response.ok);
    QVERIFY(response.version == "HTTP/1.0" || response.version == "HTTP/1.1");
    QCOMPARE(response.status, 200);
    QVERIFY(!response.hasHeader("Transfer-Encoding"));
    QCOMPARE(response.body, kGreeting);

    const QByteArray answer = response.header("Connection").toLower();
    if (!response.hasHeader("Content-Length")) {
        // Framed by closing the connection.
        QCOMPARE(answer, QByteArray("close"));
        QVERIFY(client.waitForClose());
        return;
    }
    QCOMPARE(response.header("Content-Length"), QByteArray("19"));
    if (!keepAlive) {
        QVERIFY(answer.isNull() || answer == "close");
        QVERIFY(client.waitForClose());
        return;
    }
    if (answer != "keep-alive") {
        QVERIFY(answer.isNull() || answer == "close");
        QVERIFY(client.waitForClose());
        return;
    }
    // Kept alive: a second request on the same socket works.
    client.sendRequest("GET", "/echo/", QByteArray(), headers, "HTTP/1.0");
    const Response second = client.readResponse();
    QVERIFY(second.ok);
    QCOMPARE(second.status, 200);
    QCOMPARE(second.body, kGreeting);
}

void tst_HttpBasics::http11KeepAlive()
{
    HttpClient client(port());
    QVERIFY(client.connectToServer());
    for (int i = 0; i < 3; ++i) {
        client.sendRequest("GET", "/echo", QByteArray(), {{"Connection", "keep-alive"}});
        const Response response = client.readResponse();
        QVERIFY(response.ok);
        QCOMPARE(response.version, QByteArray("HTTP/1.1"));
        QCOMPARE(response.status, 200);
        const QByteArray answer = response.header("Connection").toLower();
        QVERIFY2(answer.isNull() || answer == "keep-alive", answer.constData());
        if (response.hasHeader("Content-Length")) {
            QCOMPARE(response.header("Content-Length"), QByteArray("19"));
            QVERIFY(!response.hasHeader("Transfer-Encoding"));
        } else {
            QCOMPARE(response.header("Transfer-Encoding"), QByteArray("chunked"));
        }
        QCOMPARE(response.body, kGreeting);
    }
    QCOMPARE(client.socket().state(), QAbstractSocket::ConnectedState);
}

void tst_HttpBasics::http11Close()
{
    HttpClient client(port());
    QVERIFY(client.connectToServer());
    client.sendRequest("GET", "/echo", QByteArray(), {{"Connection", "close"}});
    const Response response = client.readResponse();
    QVERIFY(response.ok);
    QCOMPARE(response.status, 200);
    QCOMPARE(response.header("Connection").toLower(), QByteArray("close"));
    QCOMPARE(response.body, kGreeting);
    QVERIFY(client.waitForClose());
}

// --- The front door ----------------------------------------------------------------------

void tst_HttpBasics::pipelined()
{
    HttpClient client(port());
    QVERIFY(client.connectToServer());
    const QByteArray host = "Host: 127.0.0.1\r\n";
    client.write("GET /echo HTTP/1.1\r\n" + host
                 + "\r\n"
                   "GET /echo/info HTTP/1.1\r\n"
                 + host
                 + "Origin: test\r\n\r\n"
                   "GET /echo/a/a HTTP/1.1\r\n"
                 + host
                 + "\r\n"
                   "OPTIONS /echo/info HTTP/1.1\r\n"
                 + host
                 + "Origin: null\r\n\r\n"
                   "GET /echo/iframe.html HTTP/1.1\r\n"
                 + host
                 + "\r\n"
                   "GET /echo/ HTTP/1.1\r\n"
                 + host + "Connection: close\r\n\r\n");

    const Response greeting = client.readResponse();
    QVERIFY(greeting.ok);
    QCOMPARE(greeting.status, 200);
    QCOMPARE(greeting.body, kGreeting);
    const Response info = client.readResponse();
    QVERIFY(info.ok);
    QCOMPARE(info.status, 200);
    QCOMPARE(info.header("Access-Control-Allow-Origin"), QByteArray("test"));
    QVERIFY(QJsonDocument::fromJson(info.body).isObject());
    const Response notFound = client.readResponse();
    QVERIFY(notFound.ok);
    QCOMPARE(notFound.status, 404);
    const Response options = client.readResponse();
    QVERIFY(options.ok);
    QVERIFY(options.status == 200 || options.status == 204);
    QCOMPARE(options.header("Access-Control-Allow-Origin"), QByteArray("null"));
    const Response iframe = client.readResponse();
    QVERIFY(iframe.ok);
    QCOMPARE(iframe.status, 200);
    QCOMPARE(iframe.body.trimmed(), iframePage(builtinSockJsUrl().toUtf8()));
    const Response last = client.readResponse();
    QVERIFY(last.ok);
    QCOMPARE(last.status, 200);
    QCOMPARE(last.body, kGreeting);
    QVERIFY(client.waitForClose());
}

void tst_HttpBasics::pipelinedSession()
{
    // Open, send, and a poll that has to wait for the backend's echo: answers
    // come in request order, the long poll holding back nothing but itself.
    HttpClient client(port());
    QVERIFY(client.connectToServer());
    const QByteArray host = "Host: 127.0.0.1\r\n";
    const QByteArray body = "[\"x\",\"y\"]";
    client.write("POST /echo/000/piped/xhr HTTP/1.1\r\n" + host
                 + "Content-Length: 0\r\n\r\n"
                   "POST /echo/000/piped/xhr_send HTTP/1.1\r\n"
                 + host + "Content-Length: " + QByteArray::number(body.size()) + "\r\n\r\n" + body
                 + "POST /echo/000/piped/xhr HTTP/1.1\r\n" + host
                 + "Content-Length: 0\r\n\r\n"
                   "GET /echo HTTP/1.1\r\n"
                 + host + "\r\n");
    const Response open = client.readResponse();
    QVERIFY(open.ok);
    QCOMPARE(open.status, 200);
    QCOMPARE(open.body, QByteArray("o\n"));
    const Response send = client.readResponse();
    QVERIFY(send.ok);
    QCOMPARE(send.status, 204);
    const Response poll = client.readResponse();
    QVERIFY(poll.ok);
    QCOMPARE(poll.status, 200);
    QVERIFY2(poll.body == "a[\"x\",\"y\"]\n" || poll.body == "a[\"x\"]\n", poll.body.constData());
    const Response greeting = client.readResponse();
    QVERIFY(greeting.ok);
    QCOMPARE(greeting.body, kGreeting);
}

void tst_HttpBasics::chunkedRequestBody()
{
    QCOMPARE(HttpClient::request(port(), "POST", "/echo/000/chunked/xhr").body, QByteArray("o\n"));
    HttpClient client(port());
    QVERIFY(client.connectToServer());
    client.write("POST /echo/000/chunked/xhr_send HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Transfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
                 "5\r\n[\"chu\r\n"
                 "a;ext=1\r\nnked\",\"two\r\n"
                 "2\r\n\"]\r\n"
                 "0\r\n\r\n");
    const Response send = client.readResponse();
    QVERIFY(send.ok);
    QCOMPARE(send.status, 204);
    QCOMPARE(send.body, QByteArray());
    TestBackend *backend = m_server->backend(QStringLiteral("/echo"));
    QTRY_COMPARE_WITH_TIMEOUT(backend->eventsOfType("message").size(), 2, 5000);
    QCOMPARE(backend->eventsOfType("message").at(0).data, QByteArray("chunked"));
    QCOMPARE(backend->eventsOfType("message").at(1).data, QByteArray("two"));
    // The same connection is still usable.
    client.sendRequest("GET", "/echo");
    QCOMPARE(client.readResponse().body, kGreeting);
}

void tst_HttpBasics::malformedRequestLine_data()
{
    QTest::addColumn<QByteArray>("request");
    QTest::addColumn<bool>("goodFirst"); // a valid request precedes the bad one
    QTest::newRow("garbage") << QByteArray("GARBAGE\r\n\r\n") << false;
    QTest::newRow("no version") << QByteArray("GET /echo\r\n\r\n") << false;
    QTest::newRow("extra part") << QByteArray("GET /echo HTTP/1.1 extra\r\nHost: x\r\n\r\n") << false;
    QTest::newRow("double space") << QByteArray("GET  /echo HTTP/1.1\r\nHost: x\r\n\r\n") << false;
    QTest::newRow("bad method") << QByteArray("G(T /echo HTTP/1.1\r\nHost: x\r\n\r\n") << false;
    QTest::newRow("bad version") << QByteArray("GET /echo HTTX/1.1\r\nHost: x\r\n\r\n") << false;
    QTest::newRow("relative target") << QByteArray("GET echo HTTP/1.1\r\nHost: x\r\n\r\n") << false;
    QTest::newRow("control byte in target") << QByteArray("GET /ec\x01ho HTTP/1.1\r\nHost: x\r\n\r\n") << false;
    QTest::newRow("after a good request")
        << QByteArray("GET /echo HTTP/1.1\r\nHost: x\r\n\r\nNONSENSE\r\n\r\n") << true;
}

void tst_HttpBasics::malformedRequestLine()
{
    QFETCH(QByteArray, request);
    QFETCH(bool, goodFirst);
    const quint64 rejected = m_server->server()->counters()[Counter::HttpRejected];
    HttpClient client(port());
    QVERIFY(client.connectToServer());
    client.write(request);
    Response response = client.readResponse();
    if (goodFirst) {
        QVERIFY(response.ok);
        QCOMPARE(response.body, kGreeting);
        response = client.readResponse();
    }
    QVERIFY(response.ok);
    QCOMPARE(response.status, 400);
    QCOMPARE(response.header("Connection").toLower(), QByteArray("close"));
    QVERIFY(client.waitForClose());
    QCOMPARE(m_server->server()->counters()[Counter::HttpRejected], rejected + 1);
}

void tst_HttpBasics::limits_data()
{
    QTest::addColumn<QByteArray>("request");
    QTest::addColumn<int>("status");

    const QByteArray host = "Host: 127.0.0.1\r\n";
    QTest::newRow("header within limit") << QByteArray("GET /echo HTTP/1.1\r\n" + host
                                                       + "X-Pad: " + QByteArray(500, 'p') + "\r\n\r\n")
                                         << 200;
    QTest::newRow("oversized header") << QByteArray("GET /echo HTTP/1.1\r\n" + host + "X-Pad: " + QByteArray(2000, 'p')
                                                    + "\r\n\r\n")
                                      << 431;
    QByteArray many = "GET /echo HTTP/1.1\r\n" + host;
    for (int i = 0; i < 9; ++i)
        many += "X-H" + QByteArray::number(i) + ": v\r\n";
    QTest::newRow("10 headers") << QByteArray(many + "\r\n") << 200;
    QTest::newRow("11 headers") << QByteArray(many + "X-H9: v\r\n\r\n") << 431;
    QTest::newRow("11 headers, POST") << QByteArray("POST /echo/000/x/xhr HTTP/1.1\r\n" + host
                                                    + many.mid(many.indexOf("X-H0")) + "X-H9: v\r\n\r\n")
                                      << 431;
    QTest::newRow("body within limit") << QByteArray("POST /echo/000/x/xhr_send HTTP/1.1\r\n" + host
                                                     + "Content-Length: 1000\r\n\r\n" + QByteArray(1000, ' '))
                                       << 404; // a session that does not exist: the body was read
    QTest::newRow("oversized body") << QByteArray("POST /echo/000/x/xhr_send HTTP/1.1\r\n" + host
                                                  + "Content-Length: 2000\r\n\r\n" + QByteArray(2000, ' '))
                                    << 413;
    QTest::newRow("oversized body, announced only")
        << QByteArray("POST /echo/000/x/xhr_send HTTP/1.1\r\n" + host + "Content-Length: 100000000\r\n\r\n") << 413;
    QTest::newRow("oversized chunked body")
        << QByteArray("POST /echo/000/x/xhr_send HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n" + "400\r\n"
                      + QByteArray(1024, ' ') + "\r\n" + "400\r\n" + QByteArray(1024, ' ') + "\r\n0\r\n\r\n")
        << 413;
}

void tst_HttpBasics::limits()
{
    QFETCH(QByteArray, request);
    QFETCH(int, status);

    Config config = TestServer::protocolConfig(QStringLiteral("limits"));
    config.http.limits.maxHeaderBytes = 1024;
    config.http.limits.maxHeaderCount = 10;
    config.http.limits.maxBodyBytes = 1024;
    TestServer server;
    QVERIFY(server.start(config));

    HttpClient client(server.port());
    QVERIFY(client.connectToServer());
    client.write(request);
    const Response response = client.readResponse();
    QVERIFY(response.ok);
    QCOMPARE(response.status, status);
    if (status < 400 || status == 404) {
        QCOMPARE(server.server()->counters()[Counter::HttpRejected], quint64(0));
        QCOMPARE(client.socket().state(), QAbstractSocket::ConnectedState);
        return;
    }
    QCOMPARE(response.header("Connection").toLower(), QByteArray("close"));
    QVERIFY(client.waitForClose());
    QCOMPARE(server.server()->counters()[Counter::HttpRejected], quint64(1));
}

void tst_HttpBasics::outsideAnyPrefix_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QByteArray>("path");
    QTest::newRow("/") << QByteArray("GET") << QByteArray("/");
    QTest::newRow("/nope") << QByteArray("GET") << QByteArray("/nope");
    QTest::newRow("/echoes") << QByteArray("GET") << QByteArray("/echoes");
    QTest::newRow("/echoes/info") << QByteArray("GET") << QByteArray("/echoes/info");
    QTest::newRow("/closed/000/x/xhr") << QByteArray("POST") << QByteArray("/closed/000/x/xhr");
    QTest::newRow("/sockjs-clientx") << QByteArray("GET") << QByteArray("/sockjs-clientx");
    QTest::newRow("/ECHO") << QByteArray("GET") << QByteArray("/ECHO");
}

void tst_HttpBasics::outsideAnyPrefix()
{
    QFETCH(QByteArray, method);
    QFETCH(QByteArray, path);
    const quint64 notFound = m_server->server()->counters()[Counter::HttpNotFound];
    const Response response = HttpClient::request(port(), method, path);
    QVERIFY(response.ok);
    QCOMPARE(response.status, 404);
    QVERIFY(framed(response));
    QCOMPARE(m_server->server()->counters()[Counter::HttpNotFound], notFound + 1);
    // Nothing reached a backend.
    for (const char *prefix : {"/echo", "/close", "/cookie_needed_echo", "/disabled_websocket_echo"})
        QCOMPARE(m_server->backend(QLatin1String(prefix))->events().size(), 0);
}

// --- Static files ----------------------------------------------------------------------

namespace {

// A directory tree for a static mount at /static, with a secret beside it.
struct StaticTree
{
    QTemporaryDir dir;
    QString root() const { return dir.path() + QStringLiteral("/www"); }

    bool create()
    {
        return dir.isValid() && QDir(dir.path()).mkpath(QStringLiteral("www/sub/deeper"))
               && writeFile(dir.path() + QStringLiteral("/secret.txt"), "top secret\n")
               && writeFile(root() + QStringLiteral("/index.html"), "<p>root index</p>\n")
               && writeFile(root() + QStringLiteral("/hello.txt"), "hello, static\n")
               && writeFile(root() + QStringLiteral("/app.js"), "console.log(1);\n")
               && writeFile(root() + QStringLiteral("/style.css"), "p { color: red; }\n")
               && writeFile(root() + QStringLiteral("/data.json"), "{\"a\":1}\n")
               && writeFile(root() + QStringLiteral("/page.html"), "<p>page</p>\n")
               && writeFile(root() + QStringLiteral("/image.png"), QByteArray("\x89PNG\r\n\x1a\n\0\0", 10))
               && writeFile(root() + QStringLiteral("/with space.txt"), "spaced\n")
               && writeFile(root() + QStringLiteral("/sub/index.html"), "<p>sub index</p>\n")
               && writeFile(root() + QStringLiteral("/sub/deeper/file.txt"), "deep\n");
    }

    // Symbolic links in and out of the mount; secret.txt stands for
    // /etc/passwd, outside/ for any directory beside the mount.
    bool createLinks()
    {
        const QString top = dir.path();
        const QString www = root();
        return QDir(top).mkpath(QStringLiteral("outside")) && QDir(www).mkpath(QStringLiteral("linked-index"))
               && writeFile(top + QStringLiteral("/outside/index.html"), "<p>outside index</p>\n")
               && writeFile(top + QStringLiteral("/outside/file.txt"), "outside file\n")
               && QFile::link(top + QStringLiteral("/secret.txt"), www + QStringLiteral("/passwd"))
               && QFile::link(QStringLiteral("../secret.txt"), www + QStringLiteral("/passwd-relative"))
               && QFile::link(www + QStringLiteral("/hello.txt"), www + QStringLiteral("/hello-link.txt"))
               && QFile::link(QStringLiteral("../hello.txt"), www + QStringLiteral("/sub/up-link.txt"))
               && QFile::link(www + QStringLiteral("/sub"), www + QStringLiteral("/sublink"))
               && QFile::link(top + QStringLiteral("/outside"), www + QStringLiteral("/outdir"))
               && QFile::link(top + QStringLiteral("/outside/index.html"),
                              www + QStringLiteral("/linked-index/index.html"));
    }

    Config config(bool followSymlinks = false) const
    {
        Config config = TestServer::protocolConfig(QStringLiteral("static"));
        config.statics = {StaticMount{QStringLiteral("/static"), root(), followSymlinks}};
        return config;
    }
};

} // namespace

void tst_HttpBasics::staticFiles_data()
{
    QTest::addColumn<QByteArray>("path");
    QTest::addColumn<QByteArray>("contentType"); // the media type, before any parameter
    QTest::addColumn<QByteArray>("body");

    QTest::newRow("text") << QByteArray("/static/hello.txt") << QByteArray("text/plain")
                          << QByteArray("hello, static\n");
    QTest::newRow("html") << QByteArray("/static/page.html") << QByteArray("text/html") << QByteArray("<p>page</p>\n");
    QTest::newRow("css") << QByteArray("/static/style.css") << QByteArray("text/css")
                         << QByteArray("p { color: red; }\n");
    QTest::newRow("json") << QByteArray("/static/data.json") << QByteArray("application/json")
                          << QByteArray("{\"a\":1}\n");
    QTest::newRow("png") << QByteArray("/static/image.png") << QByteArray("image/png")
                         << QByteArray("\x89PNG\r\n\x1a\n\0\0", 10);
    QTest::newRow("js") << QByteArray("/static/app.js") << QByteArray("javascript") << QByteArray("console.log(1);\n");
    QTest::newRow("percent-encoded name")
        << QByteArray("/static/with%20space.txt") << QByteArray("text/plain") << QByteArray("spaced\n");
    QTest::newRow("nested") << QByteArray("/static/sub/deeper/file.txt") << QByteArray("text/plain")
                            << QByteArray("deep\n");
    QTest::newRow("query ignored") << QByteArray("/static/hello.txt?v=2") << QByteArray("text/plain")
                                   << QByteArray("hello, static\n");
    QTest::newRow("root directory") << QByteArray("/static/") << QByteArray("text/html")
                                    << QByteArray("<p>root index</p>\n");
    QTest::newRow("sub directory") << QByteArray("/static/sub/") << QByteArray("text/html")
                                   << QByteArray("<p>sub index</p>\n");
    QTest::newRow("missing file") << QByteArray("/static/missing.txt") << QByteArray() << QByteArray();
    QTest::newRow("directory without index") << QByteArray("/static/sub/deeper/") << QByteArray() << QByteArray();
}

void tst_HttpBasics::staticFiles()
{
    QFETCH(QByteArray, path);
    QFETCH(QByteArray, contentType);
    QFETCH(QByteArray, body);

    StaticTree tree;
    QVERIFY(tree.create());
    TestServer server;
    QVERIFY(server.start(tree.config()));

    const Response response = HttpClient::request(server.port(), "GET", path);
    QVERIFY(response.ok);
    if (contentType.isEmpty()) {
        QCOMPARE(response.status, 404);
        return;
    }
    QCOMPARE(response.status, 200);
    const QByteArray type = response.header("Content-Type");
    const QByteArray mediaType = type.split(';').first().trimmed();
    if (contentType == "javascript")
        QVERIFY2(mediaType == "application/javascript" || mediaType == "text/javascript", type.constData());
    else
        QCOMPARE(mediaType, contentType);
    // Text is declared UTF-8 with the exact spelling the protocol uses elsewhere.
    if (type.contains("charset"))
        QVERIFY2(withoutSpaces(type).endsWith(";charset=UTF-8"), type.constData());
    QCOMPARE(response.body, body);
    QVERIFY(!response.header("ETag").isEmpty());

    // HEAD: same head, no body.
    HttpClient client(server.port());
    QVERIFY(client.connectToServer());
    client.sendRequest("HEAD", path);
    const Response head = client.readHead();
    QVERIFY(head.ok);
    QCOMPARE(head.status, 200);
    QCOMPARE(head.header("Content-Type"), type);
    client.sendRequest("GET", "/echo");
    QCOMPARE(client.readResponse().body, kGreeting);
}

void tst_HttpBasics::staticFilesRedirect_data()
{
    QTest::addColumn<QByteArray>("path");
    QTest::addColumn<QByteArray>("location");
    QTest::newRow("mount") << QByteArray("/static") << QByteArray("/static/");
    QTest::newRow("sub directory") << QByteArray("/static/sub") << QByteArray("/static/sub/");
}

void tst_HttpBasics::staticFilesRedirect()
{
    QFETCH(QByteArray, path);
    QFETCH(QByteArray, location);

    StaticTree tree;
    QVERIFY(tree.create());
    TestServer server;
    QVERIFY(server.start(tree.config()));

    const Response response = HttpClient::request(server.port(), "GET", path);
    QVERIFY(response.ok);
    QCOMPARE(response.status, 301);
    QCOMPARE(response.header("Location"), location);
    QVERIFY(framed(response));
    const Response target = HttpClient::request(server.port(), "GET", location);
    QCOMPARE(target.status, 200);
}

void tst_HttpBasics::staticFilesTraversal_data()
{
    QTest::addColumn<QByteArray>("path");
    QTest::newRow("..") << QByteArray("/static/../secret.txt");
    QTest::newRow("sub/../..") << QByteArray("/static/sub/../../secret.txt");
    QTest::newRow("%2e%2e") << QByteArray("/static/%2e%2e/secret.txt");
    QTest::newRow("%2E%2E") << QByteArray("/static/%2E%2E/secret.txt");
    QTest::newRow(".%2e") << QByteArray("/static/.%2e/secret.txt");
    QTest::newRow("%2e%2e%2f") << QByteArray("/static/%2e%2e%2fsecret.txt");
    QTest::newRow("sub/%2e%2e/%2e%2e") << QByteArray("/static/sub/%2e%2e/%2e%2e/secret.txt");
    QTest::newRow("backslash") << QByteArray("/static/..%5csecret.txt");
    QTest::newRow("NUL") << QByteArray("/static/hello.txt%00.png");
}

void tst_HttpBasics::staticFilesTraversal()
{
    QFETCH(QByteArray, path);

    StaticTree tree;
    QVERIFY(tree.create());
    TestServer server;
    QVERIFY(server.start(tree.config()));

    const Response response = HttpClient::request(server.port(), "GET", path);
    QVERIFY(response.ok);
    QCOMPARE(response.status, 404);
    QVERIFY(!response.body.contains("top secret"));
    QVERIFY(!response.body.contains("hello, static"));
}

void tst_HttpBasics::staticFilesSymlinks_data()
{
    QTest::addColumn<QByteArray>("path");
    QTest::addColumn<bool>("followSymlinks");
    QTest::addColumn<int>("status");
    QTest::addColumn<QByteArray>("body"); // for 200

    const QByteArray secret("top secret\n");
    const QByteArray outsideIndex("<p>outside index</p>\n");
    const QByteArray hello("hello, static\n");
    auto row = [](const char *name, const char *path, bool follow, int status, const QByteArray &body = {}) {
        QTest::newRow(name) << QByteArray(path) << follow << status << body;
    };
    // Refused by default: 404, as if missing.
    row("file link out", "/static/passwd", false, 404);
    row("relative file link out", "/static/passwd-relative", false, 404);
    row("file link out, percent-encoded", "/static/pass%77d", false, 404);
    row("directory link out", "/static/outdir/", false, 404);
    row("directory link out, no redirect", "/static/outdir", false, 404);
    row("file under a directory link out", "/static/outdir/file.txt", false, 404);
    row("index.html link out", "/static/linked-index/", false, 404);
    // Links that stay inside are served.
    row("file link in", "/static/hello-link.txt", false, 200, hello);
    row("relative file link in", "/static/sub/up-link.txt", false, 200, hello);
    row("directory link in", "/static/sublink/", false, 200, "<p>sub index</p>\n");
    row("file under a directory link in", "/static/sublink/deeper/file.txt", false, 200, "deep\n");
    // follow_symlinks: true serves what the links point to.
    row("file link out, follow_symlinks", "/static/passwd", true, 200, secret);
    row("relative file link out, follow_symlinks", "/static/passwd-relative", true, 200, secret);
    row("directory link out, follow_symlinks", "/static/outdir/", true, 200, outsideIndex);
    row("file under a directory link out, follow_symlinks", "/static/outdir/file.txt", true, 200, "outside file\n");
    row("index.html link out, follow_symlinks", "/static/linked-index/", true, 200, outsideIndex);
    row("file link in, follow_symlinks", "/static/hello-link.txt", true, 200, hello);
}

void tst_HttpBasics::staticFilesSymlinks()
{
    QFETCH(QByteArray, path);
    QFETCH(bool, followSymlinks);
    QFETCH(int, status);
    QFETCH(QByteArray, body);

    StaticTree tree;
    QVERIFY(tree.create());
    QVERIFY(tree.createLinks());
    TestServer server;
    QVERIFY(server.start(tree.config(followSymlinks)));

    const Response response = HttpClient::request(server.port(), "GET", path);
    QVERIFY(response.ok);
    QCOMPARE(response.status, status);
    QVERIFY(framed(response));
    if (status == 200) {
        QCOMPARE(response.body, body);
        QVERIFY(!response.header("ETag").isEmpty());
    } else {
        QCOMPARE(response.body, QByteArray("Not found\n"));
        QVERIFY(!response.hasHeader("Location"));
    }
    // The connection stays usable either way.
    HttpClient client(server.port());
    QVERIFY(client.connectToServer());
    client.sendRequest("HEAD", path);
    QCOMPARE(client.readHead().status, status);
    client.sendRequest("GET", "/echo");
    QCOMPARE(client.readResponse().body, kGreeting);
}

// The mount directory may itself be reached through a link: what lies in
// the directory it leads to is inside.
void tst_HttpBasics::staticFilesMountThroughLink()
{
    StaticTree tree;
    QVERIFY(tree.create());
    QVERIFY(tree.createLinks());
    const QString alias = tree.dir.path() + QStringLiteral("/www-alias");
    QVERIFY(QFile::link(tree.root(), alias));
    TestServer server;
    Config config = tree.config();
    config.statics.first().path = alias;
    QVERIFY(server.start(config));

    QCOMPARE(HttpClient::request(server.port(), "GET", "/static/hello.txt").body, QByteArray("hello, static\n"));
    QCOMPARE(HttpClient::request(server.port(), "GET", "/static/sub/").body, QByteArray("<p>sub index</p>\n"));
    QCOMPARE(HttpClient::request(server.port(), "GET", "/static/hello-link.txt").status, 200);
    QCOMPARE(HttpClient::request(server.port(), "GET", "/static/passwd").status, 404);
    QCOMPARE(HttpClient::request(server.port(), "GET", "/static/outdir/file.txt").status, 404);
}

void tst_HttpBasics::staticFilesEtag()
{
    StaticTree tree;
    QVERIFY(tree.create());
    TestServer server;
    QVERIFY(server.start(tree.config()));

    const Response first = HttpClient::request(server.port(), "GET", "/static/hello.txt");
    QCOMPARE(first.status, 200);
    const QByteArray etag = first.header("ETag");
    QVERIFY(!etag.isEmpty());
    QCOMPARE(HttpClient::request(server.port(), "GET", "/static/hello.txt").header("ETag"), etag);

    HttpClient client(server.port());
    QVERIFY(client.connectToServer());
    client.sendRequest("GET", "/static/hello.txt", QByteArray(), {{"If-None-Match", etag}});
    const Response notModified = client.readResponse();
    QVERIFY(notModified.ok);
    QCOMPARE(notModified.status, 304);
    QVERIFY(!notModified.hasHeader("Content-Type"));
    client.sendRequest("GET", "/echo");
    QCOMPARE(client.readResponse().body, kGreeting);

    // A changed file gets a new tag and its new content.
    QVERIFY(writeFile(tree.root() + QStringLiteral("/hello.txt"), "hello again, static, longer\n"));
    const Response changed =
        HttpClient::request(server.port(), "GET", "/static/hello.txt", QByteArray(), {{"If-None-Match", etag}});
    QCOMPARE(changed.status, 200);
    QCOMPARE(changed.body, QByteArray("hello again, static, longer\n"));
    QVERIFY(changed.header("ETag") != etag);
}

void tst_HttpBasics::builtinSockjsClient()
{
    QCOMPARE(builtinSockJsUrl(), QStringLiteral("/sockjs-client/sockjs.min.js"));
    const Response response = HttpClient::request(port(), "GET", builtinSockJsUrl().toUtf8());
    QVERIFY(response.ok);
    QCOMPARE(response.status, 200);
    QVERIFY(response.body.size() > 1000);
    QVERIFY(response.header("Content-Type").contains("javascript"));
    QVERIFY(response.body.contains("SockJS"));
    QCOMPARE(response.header("Content-Length"), QByteArray::number(response.body.size()));
    QCOMPARE(HttpClient::request(port(), "GET", "/sockjs-client/missing.js").status, 404);
}

void tst_HttpBasics::slowClient_data()
{
    QTest::addColumn<QByteArray>("partial");
    QTest::newRow("GET head unfinished") << QByteArray("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    QTest::newRow("request line unfinished") << QByteArray("GET /ec");
    QTest::newRow("POST head unfinished") << QByteArray("POST /echo/000/x/xhr HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    QTest::newRow("body unfinished") << QByteArray(
        "POST /echo/000/x/xhr_send HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\n[\"a");
}

void tst_HttpBasics::slowClient()
{
    QFETCH(QByteArray, partial);

    constexpr int kTimeoutMs = 300;
    Config config = TestServer::protocolConfig(QStringLiteral("slow"));
    config.http.requestTimeoutMs = kTimeoutMs;
    TestServer server;
    QVERIFY(server.start(config));

    // An idle keep-alive connection is not a slow request.
    HttpClient idle(server.port());
    QVERIFY(idle.connectToServer());
    idle.sendRequest("GET", "/echo");
    QCOMPARE(idle.readResponse().body, kGreeting);

    HttpClient slow(server.port());
    QVERIFY(slow.connectToServer());
    QElapsedTimer timer;
    timer.start();
    slow.write(partial);
    const Response response = slow.readResponse();
    const qint64 elapsed = timer.elapsed();
    QVERIFY(response.ok);
    QCOMPARE(response.status, 408);
    QCOMPARE(response.header("Connection").toLower(), QByteArray("close"));
    QVERIFY2(elapsed >= kTimeoutMs * 8 / 10, QByteArray::number(elapsed).constData());
    QVERIFY2(elapsed < 2500, QByteArray::number(elapsed).constData());
    QVERIFY(slow.waitForClose());
    QCOMPARE(server.server()->counters()[Counter::HttpRejected], quint64(1));

    QCOMPARE(idle.socket().state(), QAbstractSocket::ConnectedState);
    idle.sendRequest("GET", "/echo/");
    QCOMPARE(idle.readResponse().body, kGreeting);
}

QTEST_GUILESS_MAIN(tst_HttpBasics)
#include "tst_httpbasics.moc"
