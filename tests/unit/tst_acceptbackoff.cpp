// AcceptBackoff: how long a listener stops accepting after accept() failed
// for lack of descriptors, on a clock the test passes in (fake time).

#include "http/acceptbackoff.h"

#include <QTest>

using namespace SockJsProxy;

class tst_AcceptBackoff : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void pausesDoubleToTheBound();
    void successEndsTheRun();
    void successBetweenFailuresDoesNotEndTheRun();
    void refusedAreCountedPerPeriodAndRun();
    void succeededWithoutRun();
};

// Failures at the end of each pause: 100, 200, 400, 800, then 1000 for good.
void tst_AcceptBackoff::pausesDoubleToTheBound()
{
    AcceptBackoff backoff;
    QVERIFY(!backoff.inRun());
    QCOMPARE(backoff.pauseMs(), qint64(0));
    qint64 now = 5000;
    const QList<qint64> expected{100, 200, 400, 800, 1000, 1000, 1000};
    for (qsizetype i = 0; i < expected.size(); ++i) {
        const qint64 pause = backoff.failed(now);
        QCOMPARE(pause, expected.at(i));
        QCOMPARE(backoff.pauseMs(), pause);
        QVERIFY(backoff.inRun());
        QCOMPARE(backoff.periodsInRun(), quint64(i + 1));
        now += pause;
    }
    QCOMPARE(backoff.periods(), quint64(expected.size()));
    QCOMPARE(AcceptBackoff::kFirstPauseMs, qint64(100));
    QCOMPARE(AcceptBackoff::kMaxPauseMs, qint64(1000));
}

void tst_AcceptBackoff::successEndsTheRun()
{
    AcceptBackoff backoff;
    QCOMPARE(backoff.failed(1000), qint64(100));
    QCOMPARE(backoff.failed(1100), qint64(200));
    QCOMPARE(backoff.failed(1300), qint64(400));
    // A connection within 2 s of the last failure: still the same run.
    QCOMPARE(AcceptBackoff::kSettleMs, qint64(2000));
    QCOMPARE(backoff.succeeded(1750), qint64(-1));
    QCOMPARE(backoff.succeeded(3299), qint64(-1));
    QVERIFY(backoff.inRun());
    // The run lasted from the first failure to the connection that ends it.
    QCOMPARE(backoff.succeeded(3300), qint64(2300));
    QVERIFY(!backoff.inRun());
    QCOMPARE(backoff.pauseMs(), qint64(0));
    QCOMPARE(backoff.succeeded(3400), qint64(-1));
    // A later failure starts over, short.
    QCOMPARE(backoff.failed(60000), qint64(100));
    QCOMPARE(backoff.periodsInRun(), quint64(1));
    QCOMPARE(backoff.periods(), quint64(4));
    QCOMPARE(backoff.succeeded(62000), qint64(2000));
}

// Near the limit, descriptors free up and run out again all the time: the
// pauses grow to the bound and stay there, and the run goes on.
void tst_AcceptBackoff::successBetweenFailuresDoesNotEndTheRun()
{
    AcceptBackoff backoff;
    qint64 now = 0;
    QList<qint64> pauses;
    for (int i = 0; i < 8; ++i) {
        pauses.append(backoff.failed(now));
        now += pauses.last();
        QCOMPARE(backoff.succeeded(now), qint64(-1)); // one connection got a descriptor
        now += 10;
    }
    QCOMPARE(pauses, (QList<qint64>{100, 200, 400, 800, 1000, 1000, 1000, 1000}));
    QVERIFY(backoff.inRun());
    QCOMPARE(backoff.periodsInRun(), quint64(8));
}

void tst_AcceptBackoff::refusedAreCountedPerPeriodAndRun()
{
    AcceptBackoff backoff;
    backoff.failed(0);
    backoff.refused(30);
    backoff.refused(2);
    QCOMPARE(backoff.refusedInPeriod(), quint64(32));
    QCOMPARE(backoff.refusedInRun(), quint64(32));
    backoff.failed(100);
    QCOMPARE(backoff.refusedInPeriod(), quint64(0));
    backoff.refused(5);
    QCOMPARE(backoff.refusedInPeriod(), quint64(5));
    QCOMPARE(backoff.refusedInRun(), quint64(37));
    QCOMPARE(backoff.succeeded(2100), qint64(2100));
    // The last run's total stays readable until the next run starts.
    QCOMPARE(backoff.refusedInRun(), quint64(37));
    QCOMPARE(backoff.refusedInPeriod(), quint64(0));
    backoff.failed(5000);
    QCOMPARE(backoff.refusedInRun(), quint64(0));
}

void tst_AcceptBackoff::succeededWithoutRun()
{
    AcceptBackoff backoff;
    QCOMPARE(backoff.succeeded(10), qint64(-1));
    QCOMPARE(backoff.succeeded(20), qint64(-1));
    QVERIFY(!backoff.inRun());
    QCOMPARE(backoff.periods(), quint64(0));
}

QTEST_APPLESS_MAIN(tst_AcceptBackoff)
#include "tst_acceptbackoff.moc"
