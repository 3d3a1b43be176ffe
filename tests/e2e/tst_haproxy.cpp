// The real client address through a real HAProxy (Debian's /usr/sbin/haproxy,
// skipped when absent, except under CI, CI set, where that fails): haproxy
// runs as a plain process from a generated configuration on free loopback
// ports in front of the real sockjsproxy-cli,
// once passing the client with send-proxy-v2 (--proxy-protocol) and once
// with X-Forwarded-For (HTTP mode, option forwardfor). The client connects
// from the loopback alias 127.0.0.3 (Linux routes all of 127/8 to lo); the
// balancer reaches the proxy from 127.0.0.1, the one trusted proxy. The
// backend (TestBackend, echo, in this process) must see the session, and
// the control endpoint's /api/snapshot and /metrics must name the client
// with the balancer as its hop.
//
// Children belong to ProcessGuards that kill them however the test ends.
// No sleeps: every wait spins the event loop until a condition holds.

#include "httpclient.h"
#include "ports.h"
#include "processguard.h"
#include "testbackend.h"
#include "testpaths.h"
#include "waituntil.h"

#include <QDeadlineTimer>
#include <QDir>
#include <QEventLoop>
#include <QFile>
#include <QHostAddress>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include <memory>
#include <vector>

using namespace SockJsProxy::Test;

namespace {

constexpr int kStartMs = 20000; // a child up and serving (ASan)
constexpr int kWaitMs = 10000;

const QString kHaproxy = QStringLiteral("/usr/sbin/haproxy");
const QHostAddress kClient(QStringLiteral("127.0.0.3"));
const QByteArray kGreeting = QByteArrayLiteral("Welcome to SockJS!\n");

// One request from the client's address to port, on a fresh connection.
HttpClient::Response fromClient(quint16 port, const QByteArray &method, const QByteArray &path,
                                const QByteArray &body = QByteArray())
{
    HttpClient client(port, kWaitMs);
    if (!client.socket().bind(kClient) || !client.connectToServer())
        return {};
    client.sendRequest(method, path, body);
    return client.readResponse();
}

} // namespace

class tst_Haproxy : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void clientAddress_data();
    void clientAddress();
};

void tst_Haproxy::initTestCase()
{
    QVERIFY2(QFile::exists(cliPath()), qPrintable(cliPath()));
    if (!QFile::exists(kHaproxy)) {
        if (!qEnvironmentVariableIsEmpty("CI"))
            QFAIL("haproxy is not installed (scripts/install-deps --test installs it)");
        QSKIP("haproxy is not installed (scripts/install-deps --test)");
    }
}

void tst_Haproxy::clientAddress_data()
{
    QTest::addColumn<bool>("proxyProtocol");
    QTest::newRow("send-proxy-v2") << true;
    QTest::newRow("x-forwarded-for") << false;
}

void tst_Haproxy::clientAddress()
{
    QFETCH(bool, proxyProtocol);
    const QList<quint16> ports = freePorts(5);
    QCOMPARE(ports.size(), 5);
    const quint16 http = ports.at(0);
    const quint16 in = ports.at(1);
    const quint16 out = ports.at(2);
    const quint16 control = ports.at(3);
    const quint16 front = ports.at(4);

    ProcessGuard proxyGuard;
    QStringList args{QStringLiteral("--http-address"),
                     QStringLiteral("127.0.0.1"),
                     QStringLiteral("-p"),
                     QString::number(http),
                     QStringLiteral("-a"),
                     QStringLiteral("127.0.0.1"),
                     QStringLiteral("-i"),
                     QString::number(in),
                     QStringLiteral("-o"),
                     QString::number(out),
                     QStringLiteral("--control"),
                     QStringLiteral("127.0.0.1:%1").arg(control),
                     QStringLiteral("--trusted-proxy"),
                     QStringLiteral("127.0.0.1")};
    if (proxyProtocol)
        args << QStringLiteral("--proxy-protocol");
    Child *proxy = proxyGuard.start(QStringLiteral("sockjsproxy-cli"), cliPath(), args);
    QVERIFY(proxy);
    // Up once the control endpoint answers (HTTP may want a PROXY header).
    QVERIFY2(waitUntil(
                 [&] {
                     return proxy->state() == QProcess::NotRunning
                            || HttpClient::request(control, "GET", "/metrics").status == 200;
                 },
                 kStartMs)
                 && proxy->state() == QProcess::Running,
             proxy->output().constData());
    TestBackend backend(QStringLiteral("tcp://127.0.0.1:%1").arg(in), QStringLiteral("tcp://127.0.0.1:%1").arg(out),
                        TestBackend::Mode::Echo);

    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QByteArray mode = proxyProtocol ? "tcp" : "http";
    QByteArray config = "global\n    maxconn 64\n"
                        "defaults\n    mode "
                        + mode
                        + "\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n"
                          "frontend front\n    bind 127.0.0.1:"
                        + QByteArray::number(front) + "\n";
    if (!proxyProtocol)
        config += "    option forwardfor\n";
    config += "    default_backend proxy\nbackend proxy\n    server sockjsproxy 127.0.0.1:" + QByteArray::number(http)
              + (proxyProtocol ? " send-proxy-v2\n" : "\n");
    const QString configPath = QDir(dir.path()).filePath(QStringLiteral("haproxy.cfg"));
    QFile file(configPath);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write(config);
    file.close();

    ProcessGuard haproxyGuard;
    Child *haproxy = haproxyGuard.start(QStringLiteral("haproxy"), kHaproxy,
                                        {QStringLiteral("-db"), QStringLiteral("-f"), configPath});
    QVERIFY(haproxy);
    bool greeted = false;
    waitUntil(
        [&] {
            if (haproxy->state() == QProcess::NotRunning)
                return true;
            const HttpClient::Response response = fromClient(front, "GET", "/");
            greeted = response.ok && response.status == 200 && response.body == kGreeting;
            return greeted;
        },
        kStartMs);
    QVERIFY2(greeted, haproxy->output().constData());

    // A session through the balancer, from 127.0.0.3.
    HttpClient::Response response = fromClient(front, "POST", "/000/hx/xhr");
    QCOMPARE(response.status, 200);
    QCOMPARE(response.body, QByteArray("o\n"));
    QVERIFY(fromClient(front, "POST", "/000/hx/xhr_send", "[\"hello\"]").status == 204);
    response = fromClient(front, "POST", "/000/hx/xhr");
    QCOMPARE(response.body, QByteArray("a[\"hello\"]\n"));
    QVERIFY(waitUntil([&] { return backend.sessionIds("connect").size() == 1; }));

    // The proxy names the client and the hop.
    const QJsonObject snapshot =
        QJsonDocument::fromJson(HttpClient::request(control, "GET", "/api/snapshot").body).object();
    const QJsonArray sessions = snapshot.value(QStringLiteral("sessions")).toArray();
    QCOMPARE(sessions.size(), 1);
    const QJsonObject session = sessions.first().toObject();
    QCOMPARE(session.value(QStringLiteral("remote_address")).toString(), QStringLiteral("127.0.0.3"));
    QCOMPARE(session.value(QStringLiteral("via")).toString(), QStringLiteral("127.0.0.1"));
    if (proxyProtocol)
        QVERIFY(session.value(QStringLiteral("remote_port")).toInt() > 0); // the PROXY header carries it

    const QByteArray metrics = HttpClient::request(control, "GET", "/metrics").body;
    if (proxyProtocol) {
        QVERIFY2(metrics.contains("\nsockjsproxy_proxy_headers_accepted_total 4\n"), metrics.constData());
        QVERIFY2(metrics.contains("\nsockjsproxy_proxy_headers_refused_total{reason=\"untrusted_peer\"} 0\n"),
                 metrics.constData());
        // Straight to the proxy, without a header: closed unanswered.
        QVERIFY(!fromClient(http, "GET", "/").ok);
        QTRY_VERIFY_WITH_TIMEOUT(HttpClient::request(control, "GET", "/metrics")
                                     .body.contains("\nsockjsproxy_proxy_headers_refused_total{reason="
                                                    "\"untrusted_peer\"} 1\n"),
                                 kWaitMs);
    } else {
        QVERIFY2(metrics.contains("\nsockjsproxy_forwarded_malformed_total 0\n"), metrics.constData());
        // Straight to the proxy with a forged header: not believed.
        HttpClient forger(http, kWaitMs);
        QVERIFY(forger.socket().bind(kClient) && forger.connectToServer());
        forger.sendRequest("POST", "/000/forged/xhr", QByteArray(), {{"X-Forwarded-For", "203.0.113.9"}});
        QCOMPARE(forger.readResponse().body, QByteArray("o\n"));
        const QJsonArray all = QJsonDocument::fromJson(HttpClient::request(control, "GET", "/api/snapshot").body)
                                   .object()
                                   .value(QStringLiteral("sessions"))
                                   .toArray();
        QCOMPARE(all.size(), 2);
        for (const QJsonValue &value : all) {
            const QJsonObject one = value.toObject();
            QCOMPARE(one.value(QStringLiteral("remote_address")).toString(), QStringLiteral("127.0.0.3"));
            if (one.value(QStringLiteral("via")).toString().isEmpty())
                QCOMPARE(one.value(QStringLiteral("remote_port")).toInt(), int(forger.socket().localPort()));
        }
    }
}

QTEST_GUILESS_MAIN(tst_Haproxy)
#include "tst_haproxy.moc"
