// limits.max_queued_bytes_total: when all outgoing queues together pass it,
// the sessions with the largest queues lose them and are closed with
// c[1013,"Outgoing queue full"], their backends told "disconnect", until
// the sum is back at the low-water mark (7/8 of the limit); the other
// sessions, and one that reads, are untouched.
//
// A Server on 127.0.0.1, port 0, with an in-process TestBackend.

#include "base/queuebudget.h"
#include "httpclient.h"
#include "testserver.h"

#include <QSignalSpy>
#include <QTest>
#include <QWebSocket>

using namespace SockJsProxy;
using namespace SockJsProxy::Test;

namespace {

constexpr int kWaitMs = 10000;
constexpr qint64 kKiB = 1024;
constexpr qint64 kLimit = 1024 * kKiB; // low water 896 KiB

QStringList g_log;
QtMessageHandler g_previousHandler = nullptr;
void recordLog(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    g_log.append(message);
    if (g_previousHandler)
        g_previousHandler(type, context, message);
}

} // namespace

class tst_MemoryBudget : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { g_previousHandler = qInstallMessageHandler(recordLog); }
    void cleanupTestCase() { qInstallMessageHandler(g_previousHandler); }
    void largestQueuesClosedFirst();
    void defaultLimit();
};

void tst_MemoryBudget::largestQueuesClosedFirst()
{
    Config config = TestServer::protocolConfig(QString());
    config.services.resize(1);                     // /echo
    config.services[0].disconnectDelayMs = 120000; // the slow sessions wait for a poll
    config.resources.maxQueuedBytesTotal = kLimit;
    TestServer server;
    QVERIFY(server.start(config));
    const QueueBudget &budget = server.server()->queueBudget();
    QCOMPARE(budget.limit(), kLimit);
    TestBackend *backend = server.backend(QStringLiteral("/echo"));
    const quint16 port = server.port();

    // Ten sessions that never poll again, and one WebSocket that reads.
    constexpr int kSlow = 10;
    for (int i = 0; i < kSlow; ++i)
        QCOMPARE(HttpClient::request(port, "POST", "/echo/000/slow" + QByteArray::number(i) + "/xhr").body,
                 QByteArray("o\n"));
    QWebSocket reader;
    QSignalSpy readerMessages(&reader, &QWebSocket::textMessageReceived);
    reader.open(QUrl(QStringLiteral("ws://127.0.0.1:%1/echo/000/reader/websocket").arg(port)));
    QTRY_COMPARE_WITH_TIMEOUT(readerMessages.size(), 1, kWaitMs); // "o"
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("connect").size(), kSlow + 1, kWaitMs);
    const QList<QByteArray> ids = backend->sessionIds("connect"); // slow0..slow9, reader

    // 100 KiB queued for each slow session: 1000 KiB, under the limit.
    const QByteArray hundred(100 * kKiB, 'x');
    for (int i = 0; i < kSlow; ++i)
        backend->sendMessage(ids.at(i), hundred);
    QTRY_COMPARE_WITH_TIMEOUT(budget.total(), kSlow * 100 * kKiB, kWaitMs);
    // The reader's messages pass through without staying queued. (Small:
    // for a moment they are queued too, and count.)
    backend->sendMessage(ids.at(kSlow), QByteArrayLiteral("hello"));
    QTRY_COMPARE_WITH_TIMEOUT(readerMessages.size(), 2, kWaitMs);
    QCOMPARE(budget.total(), kSlow * 100 * kKiB);

    // 20 KiB more for slow6 (still under), then 30 KiB for slow3: over.
    // slow3 (130 KiB) goes, then slow6 (120 KiB): 800 KiB is under 896.
    backend->sendMessage(ids.at(6), QByteArray(20 * kKiB, 'y'));
    QTRY_COMPARE_WITH_TIMEOUT(budget.total(), 1020 * kKiB, kWaitMs);
    backend->sendMessage(ids.at(3), QByteArray(30 * kKiB, 'z'));
    QTRY_COMPARE_WITH_TIMEOUT(server.server()->counters()[Counter::SessionsClosedQueueBudget], quint64(2), kWaitMs);
    QCOMPARE(budget.total(), 800 * kKiB);
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("disconnect").size(), 2, kWaitMs);
    QCOMPARE(backend->sessionIds("disconnect"), (QList<QByteArray>{ids.at(3), ids.at(6)}));
    int warnings = 0;
    for (const QString &line : std::as_const(g_log))
        warnings +=
            line.contains(QStringLiteral("over limits.max_queued_bytes_total 1048576: closed 2 session(s)")) ? 1 : 0;
    QCOMPARE(warnings, 1);

    // The closed ones get the close frame alone; the others what was queued.
    QCOMPARE(HttpClient::request(port, "POST", "/echo/000/slow3/xhr").body,
             QByteArray("c[1013,\"Outgoing queue full\"]\n"));
    QCOMPARE(HttpClient::request(port, "POST", "/echo/000/slow6/xhr").body,
             QByteArray("c[1013,\"Outgoing queue full\"]\n"));
    QCOMPARE(HttpClient::request(port, "POST", "/echo/000/slow0/xhr").body, "a[\"" + hundred + "\"]\n");
    QCOMPARE(budget.total(), 700 * kKiB);

    // The reader goes on as before.
    reader.sendTextMessage(QStringLiteral("[\"still here\"]"));
    QTRY_COMPARE_WITH_TIMEOUT(readerMessages.size(), 3, kWaitMs);
    QCOMPARE(readerMessages.at(1).at(0).toString(), QStringLiteral("a[\"hello\"]"));
    QCOMPARE(readerMessages.at(2).at(0).toString(), QStringLiteral("a[\"still here\"]"));
    QCOMPARE(server.server()->counters()[Counter::SessionsClosedQueueBudget], quint64(2));
}

void tst_MemoryBudget::defaultLimit()
{
    TestServer server;
    QVERIFY(server.start());
    QCOMPARE(server.server()->queueBudget().limit(), qint64(512) * 1024 * 1024);
    QCOMPARE(server.server()->queueBudget().total(), qint64(0));
}

QTEST_GUILESS_MAIN(tst_MemoryBudget)
#include "tst_memorybudget.moc"
