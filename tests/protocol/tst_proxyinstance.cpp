// ProxyInstance, the lifecycle shared by sockjsproxy-cli and the monitor:
// a failed start names what failed and leaves nothing bound; the monitor
// and control endpoint exist only when asked for; the shutdown drain ends
// as soon as backends took every queued event, at shutdown_timeout_ms when
// no backend is there to take them, and at once on a second request.
//
// A real Server on 127.0.0.1 port 0 with ZeroMQ on tcp://127.0.0.1:* (so
// that "no backend connected" is what it is in production); sessions are
// opened over xhr polling; every wait spins the event loop, no sleeps.

#include "control/controlserver.h"
#include "httpclient.h"
#include "proxy/proxyinstance.h"
#include "server/server.h"
#include "sockjs/service.h"
#include "testbackend.h"
#include "zmq/zmqbridge.h"
#include "zmq/zmqsocket.h"

#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTest>

using namespace SockJsProxy;
using namespace SockJsProxy::Test;

namespace {

constexpr int kWaitMs = 10000; // generous under ASan; passing runs take far less
constexpr int kSessions = 5;

CommandLine::Result options(int shutdownTimeoutMs)
{
    CommandLine::Result result;
    result.config.httpAddress = QStringLiteral("127.0.0.1");
    result.config.httpPort = 0;
    result.config.shutdownTimeoutMs = shutdownTimeoutMs;
    ServiceConfig service;
    service.prefix = QStringLiteral("/p");
    service.zmqIn = QStringLiteral("tcp://127.0.0.1:*");
    service.zmqOut = QStringLiteral("tcp://127.0.0.1:*");
    result.config.services = {service};
    return result;
}

const ZmqBridge *bridgeOf(const ProxyInstance &proxy) { return proxy.server()->services().constFirst()->bridge(); }

// Opens kSessions sessions over xhr polling; each queues a "connect".
bool openSessions(const ProxyInstance &proxy)
{
    for (int i = 0; i < kSessions; ++i) {
        const QByteArray path = "/p/000/s" + QByteArray::number(i) + "/xhr";
        const HttpClient::Response response = HttpClient::request(proxy.server()->httpPort(), "POST", path);
        if (!response.ok || response.body != "o\n")
            return false;
    }
    return true;
}

} // namespace

class tst_ProxyInstance : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void startFailure_data();
    void startFailure();
    void monitorAndControlOnlyWhenAsked();
    void drainEndsWhenQueuesAreEmpty();
    void drainEndsAtTimeoutWithoutBackend();
    void secondShutdownEndsAtOnce();
};

void tst_ProxyInstance::startFailure_data()
{
    QTest::addColumn<QString>("taken"); // what is in use: http, zmq, control; or "open" control without token
    QTest::newRow("HTTP port in use") << QStringLiteral("http");
    QTest::newRow("ZeroMQ endpoint in use") << QStringLiteral("zmq");
    QTest::newRow("control port in use") << QStringLiteral("control");
    QTest::newRow("control beyond loopback without a token") << QStringLiteral("open");
}

void tst_ProxyInstance::startFailure()
{
    QFETCH(QString, taken);
    CommandLine::Result settings = options(2000);
    QTcpServer squatter;
    QVERIFY(squatter.listen(QHostAddress::LocalHost, 0));
    const QString port = QString::number(squatter.serverPort());
    // Where HTTP goes when it is not the part taken: a port known to be
    // free, to see that it is free again after the failure.
    QTcpServer probe;
    QVERIFY(probe.listen(QHostAddress::LocalHost, 0));
    const quint16 httpPort = probe.serverPort();
    probe.close();
    settings.config.httpPort = httpPort;
    ZmqSocket zmqSquatter(ZmqSocket::Type::Pull);
    QString culprit;
    if (taken == QLatin1String("http")) {
        settings.config.httpPort = squatter.serverPort();
        culprit = QStringLiteral("HTTP 127.0.0.1:") + port;
    } else if (taken == QLatin1String("zmq")) {
        QVERIFY(zmqSquatter.bind(QStringLiteral("tcp://127.0.0.1:*")));
        settings.config.services[0].zmqOut = zmqSquatter.lastEndpoint();
        culprit = zmqSquatter.lastEndpoint();
    } else if (taken == QLatin1String("control")) {
        settings.controlEndpoint = QStringLiteral("127.0.0.1:") + port;
        culprit = QStringLiteral("--control 127.0.0.1:") + port;
    } else {
        settings.controlEndpoint = QStringLiteral("0.0.0.0:0");
        culprit = QStringLiteral("--control 0.0.0.0:0");
    }

    ProxyInstance proxy;
    QSignalSpy stopped(&proxy, &ProxyInstance::stopped);
    QString error;
    QVERIFY(!proxy.start(settings, &error));
    QVERIFY2(error.contains(culprit), qPrintable(error));
    QVERIFY2(!error.contains(QLatin1Char('\n')), qPrintable(error));
    QCOMPARE(proxy.state(), ProxyInstance::State::Idle);
    QVERIFY(!proxy.server());
    QVERIFY(!proxy.monitor());
    QVERIFY(!proxy.control());
    proxy.shutdown(); // nothing to shut down
    QCOMPARE(stopped.count(), 0);
    QCOMPARE(proxy.state(), ProxyInstance::State::Idle);

    // Nothing stayed bound.
    if (taken != QLatin1String("http")) {
        QTcpServer http;
        QVERIFY2(http.listen(QHostAddress::LocalHost, httpPort), qPrintable(http.errorString()));
    }
}

void tst_ProxyInstance::monitorAndControlOnlyWhenAsked()
{
    QString error;
    ProxyInstance bare;
    QVERIFY2(bare.start(options(2000), &error), qPrintable(error));
    QVERIFY(bare.server());
    QVERIFY(bare.server()->httpPort() != 0);
    QVERIFY(!bare.monitor());
    QVERIFY(!bare.control());

    ProxyInstance watched(ProxyInstance::Monitoring::Always);
    QVERIFY2(watched.start(options(2000), &error), qPrintable(error));
    QVERIFY(watched.monitor());
    QVERIFY(!watched.control());

    CommandLine::Result controlled = options(2000);
    controlled.controlEndpoint = QStringLiteral("127.0.0.1:0");
    ProxyInstance control;
    QVERIFY2(control.start(controlled, &error), qPrintable(error));
    QVERIFY(control.monitor());
    QVERIFY(control.control());
    const quint16 controlPort = control.control()->port();
    QVERIFY(controlPort != 0);
    QCOMPARE(HttpClient::request(controlPort, "GET", "/api/snapshot").status, 200);

    // A shutdown stops them first: the control port is free at once.
    control.shutdown();
    QVERIFY(!control.monitor());
    QVERIFY(!control.control());
    QTcpServer reuse;
    QVERIFY2(reuse.listen(QHostAddress::LocalHost, controlPort), qPrintable(reuse.errorString()));
}

void tst_ProxyInstance::drainEndsWhenQueuesAreEmpty()
{
    // A timeout far beyond the test's own wait: ending at all proves that
    // the drain did not wait for it.
    const int timeoutMs = 60000;
    ProxyInstance proxy;
    QString error;
    QVERIFY2(proxy.start(options(timeoutMs), &error), qPrintable(error));
    TestBackend backend(bridgeOf(proxy)->boundInEndpoint(), bridgeOf(proxy)->boundOutEndpoint(),
                        TestBackend::Mode::Record);
    QTRY_COMPARE_WITH_TIMEOUT(bridgeOf(proxy)->inPeers(), 1, kWaitMs);
    QVERIFY(openSessions(proxy));
    QTRY_COMPARE_WITH_TIMEOUT(backend.sessionIds("connect").size(), kSessions, kWaitMs);

    QSignalSpy stopped(&proxy, &ProxyInstance::stopped);
    QElapsedTimer elapsed;
    elapsed.start();
    proxy.shutdown();
    QCOMPARE(proxy.state(), ProxyInstance::State::Draining);
    QCOMPARE(stopped.count(), 0); // from the event loop, which sends the "disconnect"s
    QVERIFY(stopped.wait(kWaitMs));
    QVERIFY2(elapsed.elapsed() < kWaitMs, QByteArray::number(elapsed.elapsed()).constData());
    QCOMPARE(stopped.count(), 1);
    QCOMPARE(stopped.at(0).at(0).value<qsizetype>(), qsizetype(0));
    QCOMPARE(proxy.state(), ProxyInstance::State::Stopped);
    QCOMPARE(proxy.queuedToBackends(), qsizetype(0));

    // Every session the backend saw open, it saw close.
    QTRY_COMPARE_WITH_TIMEOUT(backend.sessionIds("disconnect").size(), kSessions, kWaitMs);
    QList<QByteArray> connected = backend.sessionIds("connect");
    QList<QByteArray> disconnected = backend.sessionIds("disconnect");
    std::sort(connected.begin(), connected.end());
    std::sort(disconnected.begin(), disconnected.end());
    QCOMPARE(disconnected, connected);

    proxy.shutdown(); // over: nothing more
    QCOMPARE(stopped.count(), 1);
}

void tst_ProxyInstance::drainEndsAtTimeoutWithoutBackend()
{
    const int timeoutMs = 300;
    ProxyInstance proxy;
    QString error;
    QVERIFY2(proxy.start(options(timeoutMs), &error), qPrintable(error));
    QVERIFY(openSessions(proxy));
    // No backend ever connected: the "connect"s wait in the queue.
    QCOMPARE(proxy.queuedToBackends(), qsizetype(kSessions));

    QSignalSpy stopped(&proxy, &ProxyInstance::stopped);
    QTest::ignoreMessage(
        QtWarningMsg,
        QRegularExpression(QStringLiteral("^%1 messages to backends not delivered at exit").arg(2 * kSessions)));
    QElapsedTimer elapsed;
    elapsed.start();
    proxy.shutdown();
    QCOMPARE(proxy.queuedToBackends(), qsizetype(2 * kSessions)); // and now a "disconnect" each
    QVERIFY(stopped.wait(kWaitMs));
    QVERIFY2(elapsed.elapsed() >= timeoutMs, QByteArray::number(elapsed.elapsed()).constData());
    QVERIFY2(elapsed.elapsed() < kWaitMs, QByteArray::number(elapsed.elapsed()).constData());
    QCOMPARE(stopped.count(), 1);
    QCOMPARE(stopped.at(0).at(0).value<qsizetype>(), qsizetype(2 * kSessions));
    QCOMPARE(proxy.state(), ProxyInstance::State::Stopped);
}

void tst_ProxyInstance::secondShutdownEndsAtOnce()
{
    // A timeout the test never waits for: only the second request ends it.
    ProxyInstance proxy;
    QString error;
    QVERIFY2(proxy.start(options(60000), &error), qPrintable(error));
    QVERIFY(openSessions(proxy));

    QSignalSpy stopped(&proxy, &ProxyInstance::stopped);
    proxy.shutdown();
    QCOMPARE(proxy.state(), ProxyInstance::State::Draining);
    // A few drain polls pass and the queue stays (no backend).
    QVERIFY(!stopped.wait(100));
    QCOMPARE(proxy.state(), ProxyInstance::State::Draining);

    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("not delivered at exit")));
    proxy.shutdown();
    QCOMPARE(stopped.count(), 1); // before shutdown() returned
    QCOMPARE(stopped.at(0).at(0).value<qsizetype>(), qsizetype(2 * kSessions));
    QCOMPARE(proxy.state(), ProxyInstance::State::Stopped);

    proxy.shutdown();
    QVERIFY(!stopped.wait(100));
    QCOMPARE(stopped.count(), 1);
}

QTEST_GUILESS_MAIN(tst_ProxyInstance)
#include "tst_proxyinstance.moc"
