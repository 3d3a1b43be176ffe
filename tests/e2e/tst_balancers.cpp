// The recipes of docs/deploy.md, run: Debian's HAProxy and nginx started as
// plain processes from tests/e2e/balancers/*.in (the very text the
// documentation shows, deploy_docs checks that) on free loopback ports, in
// front of two real sockjsproxy-cli processes with an echo TestBackend
// each. Through each balancer:
// - every transport carries a session both ways, and the hash on the session
//   id keeps a session's requests on one proxy (the other one would answer
//   404);
// - the client's address (a client bound to the loopback alias 127.0.0.3) is
//   the one the proxy reports, with the balancer as its hop, and a forged
//   X-Forwarded-For changes nothing; with HAProxy also by send-proxy-v2;
// - a client that leaves a streaming transport is noticed at once: the
//   backend gets "disconnect" well within the disconnect delay;
// - 1,500 sessions from 150 client addresses (127.0.0.10-159), all open at
//   once, are not refused by max_sessions_per_address 10, and the 11th of
//   one address is.
// Skipped when a balancer is not installed, except under CI (CI set), where
// that fails.

#include "httpclient.h"
#include "ports.h"
#include "processguard.h"
#include "testbackend.h"
#include "testpaths.h"
#include "waituntil.h"
#include "websocketclient.h"

#include <QElapsedTimer>
#include <QFile>
#include <QHostAddress>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <memory>
#include <vector>

using namespace SockJsProxy::Test;

namespace {

constexpr int kWaitMs = 10000;
constexpr int kDisconnectDelayMs = 5000;

const QHostAddress kClient(QStringLiteral("127.0.0.3"));

QString balancerPath(const QString &name)
{
    return name == QLatin1String("haproxy") ? QStringLiteral("/usr/sbin/haproxy") : QStringLiteral("/usr/sbin/nginx");
}

// The template of tests/e2e/balancers with its placeholders filled in.
QByteArray renderTemplate(const QString &file, const QByteArray &listen, const QByteArray &server1,
                          const QByteArray &server2)
{
    QFile in(sourceDir() + QStringLiteral("/tests/e2e/balancers/") + file);
    if (!in.open(QIODevice::ReadOnly))
        return {};
    QByteArray text = in.readAll();
    text.replace("@LISTEN@", listen).replace("@SERVER1@", server1).replace("@SERVER2@", server2);
    return text;
}

bool writeFile(const QString &path, const QByteArray &bytes)
{
    QFile file(path);
    return file.open(QIODevice::WriteOnly) && file.write(bytes) == bytes.size();
}

HttpClient::Response fromAddress(const QHostAddress &address, quint16 port, const QByteArray &method,
                                 const QByteArray &path, const QByteArray &body = QByteArray(),
                                 const QList<QPair<QByteArray, QByteArray>> &headers = {})
{
    HttpClient client(port, kWaitMs);
    if (!client.socket().bind(address) || !client.connectToServer())
        return {};
    client.sendRequest(method, path, body, headers);
    return client.readResponse();
}

// Two proxies (or one, named twice in the balancer's configuration), their
// backends and a balancer in front, all on 127.0.0.1.
class Setup
{
public:
    bool start(const QString &balancer, bool twoProxies, int maxSessionsPerAddress)
    {
        if (!m_dir.isValid())
            return fail("no temporary directory");
        const QList<quint16> ports = freePorts(8);
        if (ports.size() != 8)
            return fail("no free ports");
        front = ports.at(0);
        control = ports.at(1);
        const int proxies = twoProxies ? 2 : 1;
        for (int i = 0; i < proxies; ++i) {
            const quint16 http = ports.at(2 + 3 * i);
            const quint16 in = ports.at(3 + 3 * i);
            const quint16 out = ports.at(4 + 3 * i);
            httpPorts.append(http);
            const QByteArray config =
                "{\"http\": {\"address\": \"127.0.0.1\", \"port\": " + QByteArray::number(http)
                + ", \"trusted_proxies\": [\"127.0.0.1\"], \"proxy_protocol\": " + (proxyProtocol ? "true" : "false")
                + "},\n \"services\": [{\"prefix\": \"/\", "
                  "\"zmq\": {\"in\": \"tcp://127.0.0.1:"
                + QByteArray::number(in) + "\", \"out\": \"tcp://127.0.0.1:" + QByteArray::number(out)
                + "\"}, \"disconnect_delay_ms\": " + QByteArray::number(disconnectDelayMs)
                + ", \"max_sessions_per_address\": " + QByteArray::number(maxSessionsPerAddress) + "}]}\n";
            const QString configPath = m_dir.filePath(QStringLiteral("proxy%1.json").arg(i));
            if (!writeFile(configPath, config))
                return fail("cannot write the proxy's config");
            QStringList args{QStringLiteral("--config"), configPath};
            if (i == 0)
                args << QStringLiteral("--control") << QStringLiteral("127.0.0.1:%1").arg(control);
            // With the PROXY protocol only the balancer gets answers.
            Child *proxy = proxyProtocol ? m_guard.start(QStringLiteral("sockjsproxy-cli"), cliPath(), args)
                                         : m_guard.startProxy(args, http);
            if (!proxy || (proxyProtocol && !waitForPort(proxy, http)))
                return fail("the proxy did not start");
            backends.push_back(std::make_unique<TestBackend>(QStringLiteral("tcp://127.0.0.1:%1").arg(in),
                                                             QStringLiteral("tcp://127.0.0.1:%1").arg(out),
                                                             TestBackend::Mode::Echo));
        }
        const QByteArray listen = "127.0.0.1:" + QByteArray::number(front);
        const QByteArray server1 = "127.0.0.1:" + QByteArray::number(httpPorts.first());
        const QByteArray server2 = "127.0.0.1:" + QByteArray::number(httpPorts.last());
        Child *child = nullptr;
        if (balancer == QLatin1String("haproxy")) {
            const QByteArray global = "global\n    maxconn 2000\n";
            QByteArray recipe = renderTemplate(QStringLiteral("haproxy.cfg.in"), listen, server1, server2);
            if (proxyProtocol) // as docs/deploy.md says
                recipe.replace(" check\n", " check send-proxy-v2\n");
            const QString path = m_dir.filePath(QStringLiteral("haproxy.cfg"));
            if (recipe.isEmpty() || !writeFile(path, global + recipe))
                return fail("cannot write haproxy.cfg");
            child = m_guard.start(QStringLiteral("haproxy"), balancerPath(balancer),
                                  {QStringLiteral("-db"), QStringLiteral("-f"), path});
        } else {
            const QByteArray recipe = renderTemplate(QStringLiteral("nginx.conf.in"), listen, server1, server2);
            const QString recipePath = m_dir.filePath(QStringLiteral("sockjsproxy.conf"));
            const QByteArray dir = QFile::encodeName(m_dir.path());
            const QByteArray main = "worker_processes 1;\npid " + dir
                                    + "/nginx.pid;\nerror_log stderr notice;\n"
                                      "events { worker_connections 2048; }\nhttp {\n    access_log off;\n"
                                      "    client_body_temp_path "
                                    + dir
                                    + "/client_body;\n"
                                      "    proxy_temp_path "
                                    + dir
                                    + "/proxy;\n"
                                      "    fastcgi_temp_path "
                                    + dir
                                    + "/fastcgi;\n"
                                      "    uwsgi_temp_path "
                                    + dir
                                    + "/uwsgi;\n"
                                      "    scgi_temp_path "
                                    + dir
                                    + "/scgi;\n"
                                      "    include "
                                    + QFile::encodeName(recipePath) + ";\n}\n";
            const QString mainPath = m_dir.filePath(QStringLiteral("nginx.conf"));
            if (recipe.isEmpty() || !writeFile(recipePath, recipe) || !writeFile(mainPath, main))
                return fail("cannot write nginx.conf");
            child =
                m_guard.start(QStringLiteral("nginx"), balancerPath(balancer),
                              {QStringLiteral("-e"), QStringLiteral("stderr"), QStringLiteral("-p"), m_dir.path(),
                               QStringLiteral("-c"), mainPath, QStringLiteral("-g"), QStringLiteral("daemon off;")});
        }
        if (!child)
            return fail("the balancer did not start");
        bool greeted = waitUntil(
            [&] {
                return !child->isRunning()
                       || fromAddress(kClient, front, "GET", "/").body == QByteArrayLiteral("Welcome to SockJS!\n");
            },
            kProcessStartMs);
        if (!greeted || !child->isRunning())
            return fail("the balancer does not answer: " + child->output());
        return true;
    }

    // Events of this type, from every backend.
    int eventCount(const QByteArray &type) const
    {
        int count = 0;
        for (const auto &backend : backends)
            count += int(backend->sessionIds(type).size());
        return count;
    }

    QJsonArray snapshotSessions() const
    {
        return QJsonDocument::fromJson(HttpClient::request(control, "GET", "/api/snapshot").body)
            .object()
            .value(QStringLiteral("sessions"))
            .toArray();
    }

    bool proxyProtocol = false; // HAProxy's send-proxy-v2, the proxies' http.proxy_protocol
    int disconnectDelayMs = kDisconnectDelayMs;
    QByteArray error;
    quint16 front = 0;
    quint16 control = 0;
    QList<quint16> httpPorts;
    std::vector<std::unique_ptr<TestBackend>> backends;

private:
    bool fail(const QByteArray &why)
    {
        error = why;
        return false;
    }

    QTemporaryDir m_dir;
    ProcessGuard m_guard;
};

void addBalancerRows()
{
    QTest::addColumn<QString>("balancer");
    QTest::newRow("haproxy") << QStringLiteral("haproxy");
    QTest::newRow("nginx") << QStringLiteral("nginx");
}

// Skips (or fails under CI) when the balancer is not installed.
#define REQUIRE_BALANCER(balancer)                                                                                     \
    do {                                                                                                               \
        if (!QFile::exists(balancerPath(balancer))) {                                                                  \
            if (!qEnvironmentVariableIsEmpty("CI"))                                                                    \
                QFAIL(                                                                                                 \
                    qPrintable(balancerPath(balancer) + QStringLiteral(" is missing (scripts/install-deps --test)"))); \
            QSKIP(qPrintable(balancerPath(balancer)                                                                    \
                             + QStringLiteral(" is not installed (scripts/install-deps --test)")));                    \
        }                                                                                                              \
    } while (false)

} // namespace

class tst_Balancers : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void transports_data() { addBalancerRows(); }
    void transports();
    void clientAddress_data();
    void clientAddress();
    void leavingClient_data();
    void leavingClient();
    void perAddressCap_data() { addBalancerRows(); }
    void perAddressCap();
};

void tst_Balancers::initTestCase() { QVERIFY2(QFile::exists(cliPath()), qPrintable(cliPath())); }

void tst_Balancers::transports()
{
    QFETCH(QString, balancer);
    REQUIRE_BALANCER(balancer);
    Setup setup;
    QVERIFY2(setup.start(balancer, true, 1000), setup.error.constData());
    const quint16 front = setup.front;
    const QByteArray form = "application/x-www-form-urlencoded";

    // Several sessions of each kind: with two proxies behind the hash, a
    // balancer that routed by anything else would send some of a session's
    // requests to the proxy that does not know it (404).
    for (int i = 0; i < 4; ++i) {
        const QByteArray n = QByteArray::number(i);

        const QByteArray polling = "/000/polling" + n;
        QCOMPARE(HttpClient::request(front, "POST", polling + "/xhr").body, QByteArray("o\n"));
        QCOMPARE(HttpClient::request(front, "POST", polling + "/xhr_send", "[\"hello\"]").status, 204);
        QCOMPARE(HttpClient::request(front, "POST", polling + "/xhr").body, QByteArray("a[\"hello\"]\n"));

        const QByteArray streaming = "/000/streaming" + n;
        HttpClient stream(front, kWaitMs);
        QVERIFY(stream.connectToServer());
        stream.sendRequest("POST", streaming + "/xhr_streaming");
        QCOMPARE(stream.readHead().status, 200);
        QByteArray received;
        QVERIFY(stream.readChunksUntil(&received, "\no\n"));
        QCOMPARE(HttpClient::request(front, "POST", streaming + "/xhr_send", "[\"hello\"]").status, 204);
        QVERIFY2(stream.readChunksUntil(&received, "o\na[\"hello\"]\n"), received.right(100).constData());

        const QByteArray eventsource = "/000/eventsource" + n;
        HttpClient events(front, kWaitMs);
        QVERIFY(events.connectToServer());
        events.sendRequest("GET", eventsource + "/eventsource");
        QCOMPARE(events.readHead().status, 200);
        received.clear();
        QVERIFY(events.readChunksUntil(&received, "\r\ndata: o\r\n\r\n"));
        QCOMPARE(HttpClient::request(front, "POST", eventsource + "/xhr_send", "[\"hello\"]").status, 204);
        QVERIFY2(events.readChunksUntil(&received, "\r\ndata: o\r\n\r\ndata: a[\"hello\"]\r\n\r\n"),
                 received.constData());

        const QByteArray htmlfile = "/000/htmlfile" + n;
        HttpClient html(front, kWaitMs);
        QVERIFY(html.connectToServer());
        html.sendRequest("GET", htmlfile + "/htmlfile?c=callback");
        QCOMPARE(html.readHead().status, 200);
        received.clear();
        QVERIFY(html.readChunksUntil(&received, "<script>\np(\"o\");\n</script>\r\n"));
        QCOMPARE(HttpClient::request(front, "POST", htmlfile + "/xhr_send", "[\"hello\"]").status, 204);
        QVERIFY2(html.readChunksUntil(&received, "<script>\np(\"a[\\\"hello\\\"]\");\n</script>\r\n"),
                 received.constData());

        const QByteArray jsonp = "/000/jsonp" + n;
        QCOMPARE(HttpClient::request(front, "GET", jsonp + "/jsonp?c=callback").body,
                 QByteArray("/**/callback(\"o\");\r\n"));
        HttpClient::Response sent =
            HttpClient::request(front, "POST", jsonp + "/jsonp_send", "d=%5B%22hello%22%5D", {{"Content-Type", form}});
        QCOMPARE(sent.status, 200);
        QCOMPARE(sent.body, QByteArray("ok"));
        QCOMPARE(HttpClient::request(front, "GET", jsonp + "/jsonp?c=callback").body,
                 QByteArray("/**/callback(\"a[\\\"hello\\\"]\");\r\n"));

        WebSocketClient websocket;
        QVERIFY(websocket.openSession(front, "/000/websocket" + n + "/websocket", {}, kWaitMs));
        websocket.send({QStringLiteral("hello")});
        QVERIFY(websocket.waitForMessage(QStringLiteral("hello"), kWaitMs));
        QVERIFY(websocket.closeAndWait(kWaitMs));
    }
    // Both proxies had sessions (the hash spreads them), each saw its own.
    for (const auto &backend : setup.backends)
        QVERIFY(!backend->sessionIds("connect").isEmpty());
    int connects = 0;
    for (const auto &backend : setup.backends)
        connects += int(backend->sessionIds("connect").size());
    QCOMPARE(connects, 4 * 6);
}

void tst_Balancers::clientAddress_data()
{
    QTest::addColumn<QString>("balancer");
    QTest::addColumn<bool>("proxyProtocol");
    QTest::newRow("haproxy") << QStringLiteral("haproxy") << false;
    QTest::newRow("haproxy send-proxy-v2") << QStringLiteral("haproxy") << true;
    QTest::newRow("nginx") << QStringLiteral("nginx") << false;
}

void tst_Balancers::clientAddress()
{
    QFETCH(QString, balancer);
    QFETCH(bool, proxyProtocol);
    REQUIRE_BALANCER(balancer);
    Setup setup;
    setup.proxyProtocol = proxyProtocol;
    QVERIFY2(setup.start(balancer, false, 1000), setup.error.constData());

    // Through the balancer from 127.0.0.3, once plainly, once with a forged
    // X-Forwarded-For the balancer appends to.
    QCOMPARE(fromAddress(kClient, setup.front, "POST", "/000/plain/xhr").body, QByteArray("o\n"));
    QCOMPARE(fromAddress(kClient, setup.front, "POST", "/000/forged/xhr", QByteArray(),
                         {{"X-Forwarded-For", "203.0.113.9"}, {"X-Real-IP", "203.0.113.9"}})
                 .body,
             QByteArray("o\n"));
    // Straight to the proxy with a forged header: not believed either (and
    // not answered at all without a PROXY header).
    HttpClient forger(setup.httpPorts.first(), kWaitMs);
    QVERIFY(forger.socket().bind(kClient) && forger.connectToServer());
    forger.sendRequest("POST", "/000/direct/xhr", QByteArray(), {{"X-Forwarded-For", "203.0.113.9"}});
    const HttpClient::Response direct = forger.readResponse();
    if (proxyProtocol)
        QVERIFY(!direct.ok);
    else
        QCOMPARE(direct.body, QByteArray("o\n"));
    const int expected = proxyProtocol ? 2 : 3;
    QTRY_COMPARE_WITH_TIMEOUT(setup.backends.front()->sessionIds("connect").size(), expected, kWaitMs);

    const QJsonArray sessions = setup.snapshotSessions();
    QCOMPARE(sessions.size(), expected);
    // The session ids of the snapshot are the proxy's own: the direct one
    // is the one without a hop.
    int directSessions = 0;
    int viaBalancer = 0;
    for (const QJsonValue &value : sessions) {
        const QJsonObject session = value.toObject();
        QCOMPARE(session.value(QStringLiteral("remote_address")).toString(), QStringLiteral("127.0.0.3"));
        if (session.value(QStringLiteral("via")).toString().isEmpty()) {
            ++directSessions;
            QCOMPARE(session.value(QStringLiteral("remote_port")).toInt(), int(forger.socket().localPort()));
        } else {
            ++viaBalancer;
            QCOMPARE(session.value(QStringLiteral("via")).toString(), QStringLiteral("127.0.0.1"));
            if (proxyProtocol) // the PROXY header carries the client's port
                QVERIFY(session.value(QStringLiteral("remote_port")).toInt() > 0);
        }
    }
    QCOMPARE(directSessions, proxyProtocol ? 0 : 1);
    QCOMPARE(viaBalancer, 2);
    const QByteArray metrics = HttpClient::request(setup.control, "GET", "/metrics").body;
    QVERIFY2(metrics.contains("\nsockjsproxy_forwarded_malformed_total 0\n"), metrics.constData());
}

void tst_Balancers::leavingClient_data()
{
    QTest::addColumn<QString>("balancer");
    QTest::addColumn<QByteArray>("transport");
    for (const char *balancer : {"haproxy", "nginx"}) {
        for (const char *transport : {"xhr_streaming", "eventsource", "htmlfile", "websocket"})
            QTest::addRow("%s %s", balancer, transport) << QString::fromLatin1(balancer) << QByteArray(transport);
    }
}

void tst_Balancers::leavingClient()
{
    QFETCH(QString, balancer);
    QFETCH(QByteArray, transport);
    REQUIRE_BALANCER(balancer);
    Setup setup;
    QVERIFY2(setup.start(balancer, false, 1000), setup.error.constData());
    const QByteArray path = "/000/leaving/" + transport;

    QElapsedTimer left;
    if (transport == "websocket") {
        WebSocketClient websocket;
        QVERIFY(websocket.openSession(setup.front, path, {}, kWaitMs));
        QTRY_COMPARE_WITH_TIMEOUT(setup.eventCount("connect"), 1, kWaitMs);
        websocket.socket().abort(); // gone without a close frame
        left.start();
    } else {
        HttpClient stream(setup.front, kWaitMs);
        QVERIFY(stream.connectToServer());
        stream.sendRequest(transport == "xhr_streaming" ? "POST" : "GET",
                           path + (transport == "htmlfile" ? "?c=callback" : ""));
        QCOMPARE(stream.readHead().status, 200);
        QByteArray received;
        QVERIFY(stream.readChunksUntil(&received, "o"));
        QTRY_COMPARE_WITH_TIMEOUT(setup.eventCount("connect"), 1, kWaitMs);
        stream.socket().abort();
        left.start();
    }
    // Without the balancer the proxy notices at once; the disconnect delay
    // (5 s) is the bound, the heartbeat (25 s) what a lingering session
    // would wait for.
    QVERIFY(waitUntil([&] { return setup.eventCount("disconnect") == 1; }, 3 * kDisconnectDelayMs));
    qInfo("%s %s: disconnect %lld ms after the client left", qPrintable(balancer), transport.constData(),
          left.elapsed());
    QVERIFY2(left.elapsed() < kDisconnectDelayMs, qPrintable(QString::number(left.elapsed())));
}

void tst_Balancers::perAddressCap()
{
    QFETCH(QString, balancer);
    REQUIRE_BALANCER(balancer);
    Setup setup;
    // One proxy: a per-address cap counts the sessions of one process.
    // Polled by nobody, the sessions stay open for the whole test.
    setup.disconnectDelayMs = 120000;
    QVERIFY2(setup.start(balancer, false, 10), setup.error.constData());

    // 150 client addresses, 10 sessions each: 1,500 through the balancer's
    // one address (more than the default cap of 1,000), none refused.
    constexpr int kAddresses = 150;
    constexpr int kPerAddress = 10;
    for (int a = 0; a < kAddresses; ++a) {
        const QHostAddress address(QStringLiteral("127.0.0.%1").arg(10 + a));
        for (int s = 0; s < kPerAddress; ++s) {
            const QByteArray path = "/000/a" + QByteArray::number(a) + "s" + QByteArray::number(s) + "/xhr";
            const HttpClient::Response response = fromAddress(address, setup.front, "POST", path);
            QVERIFY2(response.status == 200 && response.body == "o\n",
                     qPrintable(QStringLiteral("%1 %2: %3 %4")
                                    .arg(address.toString(), QString::fromLatin1(path))
                                    .arg(response.status)
                                    .arg(QString::fromUtf8(response.body))));
        }
    }
    // The 11th session of one client address is refused, and only that.
    const HttpClient::Response refused =
        fromAddress(QHostAddress(QStringLiteral("127.0.0.10")), setup.front, "POST", "/000/eleventh/xhr");
    QCOMPARE(refused.status, 503);
    QCOMPARE(fromAddress(QHostAddress(QStringLiteral("127.0.0.200")), setup.front, "POST", "/000/other/xhr").body,
             QByteArray("o\n"));
    QTRY_COMPARE_WITH_TIMEOUT(int(setup.backends.front()->sessionIds("connect").size()), kAddresses * kPerAddress + 1,
                              kWaitMs);
    const QByteArray metrics = HttpClient::request(setup.control, "GET", "/metrics").body;
    QVERIFY2(
        metrics.contains("sockjsproxy_sessions_refused_total{service=\"/\",reason=\"max_sessions_per_address\"} 1\n"),
        metrics.constData());
}

QTEST_GUILESS_MAIN(tst_Balancers)
#include "tst_balancers.moc"
