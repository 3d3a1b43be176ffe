// ConnectionLimits: the arithmetic of limits.max_connections (its default
// from the open files limit) and limits.max_connections_per_address.

#include "http/connectionlimits.h"

#include <QTest>

#include <limits>

using namespace SockJsProxy;

namespace {
const QHostAddress kA(QStringLiteral("192.0.2.1"));
const QHostAddress kB(QStringLiteral("192.0.2.2"));
const QHostAddress kV6(QStringLiteral("2001:db8::1"));
} // namespace

class tst_ConnectionLimits : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void defaultMaxConnections_data();
    void defaultMaxConnections();
    void total();
    void perAddress();
    void totalBeforePerAddress();
    void sharedPeer();
    void noLimits();
    void releaseUnknown();
    void limitsChangedWithConnectionsOpen();
};

void tst_ConnectionLimits::defaultMaxConnections_data()
{
    QTest::addColumn<qint64>("openFiles");
    QTest::addColumn<int>("services");
    QTest::addColumn<int>("expected");

    // The limit less 128 and 16 per service ...
    QTest::newRow("1024, one service") << qint64(1024) << 1 << 1024 - 144;
    QTest::newRow("1024, three services") << qint64(1024) << 3 << 1024 - 176;
    QTest::newRow("65536, one service") << qint64(65536) << 1 << 65536 - 144;
    QTest::newRow("Linux's largest, 1048576") << qint64(1048576) << 1 << 1048576 - 144;
    // ... but never less than a quarter of the limit.
    QTest::newRow("256, one service") << qint64(256) << 1 << 256 - 144;
    QTest::newRow("160, one service: a quarter") << qint64(160) << 1 << 40;
    QTest::newRow("100, ten services: a quarter") << qint64(100) << 10 << 25;
    QTest::newRow("3: never 0") << qint64(3) << 1 << 1;
    // No limit to read (Windows), or unlimited.
    QTest::newRow("unknown") << qint64(-1) << 1 << ConnectionLimits::kDefaultWithoutLimit;
    QTest::newRow("huge") << (qint64(1) << 40) << 1 << std::numeric_limits<int>::max();
}

void tst_ConnectionLimits::defaultMaxConnections()
{
    QFETCH(qint64, openFiles);
    QFETCH(int, services);
    QFETCH(int, expected);
    QCOMPARE(ConnectionLimits::defaultMaxConnections(openFiles, services), expected);
    QCOMPARE(ConnectionLimits::reserve(services), 128 + 16 * services);
}

void tst_ConnectionLimits::total()
{
    ConnectionLimits limits;
    limits.setLimits(3, 0);
    QCOMPARE(limits.admit(kA), ConnectionLimits::Verdict::Admitted);
    QCOMPARE(limits.admit(kA), ConnectionLimits::Verdict::Admitted);
    QCOMPARE(limits.admit(kB), ConnectionLimits::Verdict::Admitted);
    QCOMPARE(limits.total(), 3);
    QCOMPARE(limits.admit(kV6), ConnectionLimits::Verdict::OverTotal);
    QCOMPARE(limits.admit(kA), ConnectionLimits::Verdict::OverTotal);
    // Refused connections are not counted.
    QCOMPARE(limits.total(), 3);
    QCOMPARE(limits.count(kA), 2);
    QCOMPARE(limits.count(kV6), 0);
    limits.release(kB);
    QCOMPARE(limits.total(), 2);
    QCOMPARE(limits.admit(kV6), ConnectionLimits::Verdict::Admitted);
    QCOMPARE(limits.count(kV6), 1);
}

void tst_ConnectionLimits::perAddress()
{
    ConnectionLimits limits;
    limits.setLimits(0, 2);
    QCOMPARE(limits.admit(kA), ConnectionLimits::Verdict::Admitted);
    QCOMPARE(limits.admit(kA), ConnectionLimits::Verdict::Admitted);
    QCOMPARE(limits.admit(kA), ConnectionLimits::Verdict::OverPerAddress);
    QCOMPARE(limits.admit(kB), ConnectionLimits::Verdict::Admitted);
    QCOMPARE(limits.count(kA), 2);
    QCOMPARE(limits.total(), 3);
    limits.release(kA);
    QCOMPARE(limits.admit(kA), ConnectionLimits::Verdict::Admitted);
    QCOMPARE(limits.admit(kA), ConnectionLimits::Verdict::OverPerAddress);
    // An address whose last connection goes is forgotten.
    limits.release(kB);
    QCOMPARE(limits.addresses(), qsizetype(1));
}

void tst_ConnectionLimits::totalBeforePerAddress()
{
    ConnectionLimits limits;
    limits.setLimits(2, 2);
    QCOMPARE(limits.admit(kA), ConnectionLimits::Verdict::Admitted);
    QCOMPARE(limits.admit(kA), ConnectionLimits::Verdict::Admitted);
    // Over both: the total is the reason given.
    QCOMPARE(limits.admit(kA), ConnectionLimits::Verdict::OverTotal);
    QCOMPARE(limits.admit(kB), ConnectionLimits::Verdict::OverTotal);
}

// A trusted load balancer carries many clients: held to the total only,
// and counted in it.
void tst_ConnectionLimits::sharedPeer()
{
    ConnectionLimits limits;
    limits.setLimits(4, 1);
    QCOMPARE(limits.admit(kA, true), ConnectionLimits::Verdict::Admitted);
    QCOMPARE(limits.admit(kA, true), ConnectionLimits::Verdict::Admitted);
    QCOMPARE(limits.admit(kA, true), ConnectionLimits::Verdict::Admitted);
    QCOMPARE(limits.admit(kB), ConnectionLimits::Verdict::Admitted);
    QCOMPARE(limits.admit(kA, true), ConnectionLimits::Verdict::OverTotal);
    QCOMPARE(limits.count(kA), 3);
    limits.release(kA);
    QCOMPARE(limits.total(), 3);
    QCOMPARE(limits.admit(kB), ConnectionLimits::Verdict::OverPerAddress);
}

void tst_ConnectionLimits::noLimits()
{
    ConnectionLimits limits;
    for (int i = 0; i < 10000; ++i)
        QCOMPARE(limits.admit(kA), ConnectionLimits::Verdict::Admitted);
    QCOMPARE(limits.total(), 10000);
    QCOMPARE(limits.count(kA), 10000);
    for (int i = 0; i < 10000; ++i)
        limits.release(kA);
    QCOMPARE(limits.total(), 0);
    QCOMPARE(limits.addresses(), qsizetype(0));
}

void tst_ConnectionLimits::releaseUnknown()
{
    ConnectionLimits limits;
    limits.setLimits(1, 1);
    limits.release(kA); // never admitted: nothing to give back
    QCOMPARE(limits.total(), 0);
    QCOMPARE(limits.admit(kA), ConnectionLimits::Verdict::Admitted);
    QCOMPARE(limits.admit(kB), ConnectionLimits::Verdict::OverTotal);
}

void tst_ConnectionLimits::limitsChangedWithConnectionsOpen()
{
    ConnectionLimits limits;
    for (int i = 0; i < 5; ++i)
        limits.admit(kA);
    limits.setLimits(3, 0);
    QCOMPARE(limits.admit(kB), ConnectionLimits::Verdict::OverTotal);
    limits.release(kA);
    limits.release(kA);
    QCOMPARE(limits.admit(kB), ConnectionLimits::Verdict::OverTotal); // 3 open, 3 allowed
    limits.release(kA);
    QCOMPARE(limits.admit(kB), ConnectionLimits::Verdict::Admitted);
}

QTEST_APPLESS_MAIN(tst_ConnectionLimits)
#include "tst_connectionlimits.moc"
