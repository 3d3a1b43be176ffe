// RateTracker: per-second rates from cumulative counters sampled at times
// the caller passes in (fake time, no clock, no sleeps).

#include "metrics/ratetracker.h"

#include <QTest>

#include <limits>

using namespace SockJsProxy;

namespace {

using Samples = QList<QPair<qint64, quint64>>; // (nowMs, base counter value)

// Every counter the tracker turns into a rate gets a distinct multiple of
// value, so a mix-up of fields shows; the others carry noise that must not
// leak into any rate.
Counters counters(quint64 value)
{
    Counters c;
    c[Counter::SessionsOpened] = value;
    c[Counter::SessionsClosed] = 2 * value;
    c[Counter::MessagesIn] = 3 * value;
    c[Counter::MessagesOut] = 4 * value;
    c[Counter::BytesIn] = 5 * value;
    c[Counter::BytesOut] = 6 * value;
    c[Counter::Drops] = 7 * value + 1;
    c[Counter::ProtocolErrors] = 11 * value + 3;
    c[Counter::BackendEvents] = 13 * value;
    c[Counter::BackendErrors] = 17 * value;
    return c;
}

QList<double> fields(const Rates &r)
{
    return {r.sessionsOpened, r.sessionsClosed, r.messagesIn, r.messagesOut, r.bytesIn, r.bytesOut};
}

} // namespace

class tst_RateTracker : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void sample_data();
    void sample();
    void oneFieldGoesBack();
    void reset();
    void largeCounters();
};

void tst_RateTracker::sample_data()
{
    QTest::addColumn<Samples>("samples");
    QTest::addColumn<QList<double>>("expected"); // rate of the base counter after each sample

    QTest::newRow("first sample is zero") << Samples{{1000, 500}} << QList<double>{0};
    QTest::newRow("first sample at time zero") << Samples{{0, 0}, {1000, 7}} << QList<double>{0, 7};
    QTest::newRow("steady") << Samples{{0, 0}, {1000, 10}, {2000, 20}, {3000, 30}} << QList<double>{0, 10, 10, 10};
    QTest::newRow("idle") << Samples{{0, 42}, {1000, 42}, {2000, 42}} << QList<double>{0, 0, 0};
    QTest::newRow("irregular intervals") << Samples{{0, 0}, {250, 5}, {1250, 15}, {1750, 40}, {5750, 80}}
                                         << QList<double>{0, 20, 10, 50, 10};
    QTest::newRow("fractional rate") << Samples{{0, 0}, {3000, 1}} << QList<double>{0, 1.0 / 3.0};
    QTest::newRow("one millisecond") << Samples{{0, 0}, {1, 1}} << QList<double>{0, 1000};
    QTest::newRow("negative clock") << Samples{{-2000, 0}, {-1000, 4}} << QList<double>{0, 4};
    // A sample at the same time gives zero and is not taken as the base: what
    // it counted is spread over the next interval (no count is lost).
    QTest::newRow("time not advancing") << Samples{{1000, 0}, {1000, 50}, {2000, 100}} << QList<double>{0, 0, 100};
    QTest::newRow("time not advancing twice")
        << Samples{{1000, 0}, {1000, 5}, {1000, 9}, {1500, 10}} << QList<double>{0, 0, 0, 20};
    QTest::newRow("time going backwards") << Samples{{2000, 0}, {1000, 10}, {3000, 30}} << QList<double>{0, 0, 30};
    // Counters reset underneath (a restarted proxy): never a negative rate,
    // and the next interval is measured from the value after the reset.
    QTest::newRow("counters reset") << Samples{{0, 100}, {1000, 20}, {2000, 50}} << QList<double>{0, 0, 30};
    QTest::newRow("counters reset to zero")
        << Samples{{0, 100}, {1000, 0}, {2000, 0}, {3000, 3}} << QList<double>{0, 0, 0, 3};
}

void tst_RateTracker::sample()
{
    QFETCH(Samples, samples);
    QFETCH(QList<double>, expected);
    QCOMPARE(samples.size(), expected.size());

    RateTracker tracker;
    for (qsizetype i = 0; i < samples.size(); ++i) {
        const Rates rates = tracker.sample(samples.at(i).first, counters(samples.at(i).second));
        const QList<double> actual = fields(rates);
        for (int f = 0; f < actual.size(); ++f) {
            const double want = expected.at(i) * (f + 1);
            QVERIFY2(actual.at(f) >= 0.0,
                     qPrintable(QStringLiteral("sample %1 field %2: %3").arg(i).arg(f).arg(actual.at(f))));
            QVERIFY2(
                qFuzzyCompare(1.0 + actual.at(f), 1.0 + want),
                qPrintable(
                    QStringLiteral("sample %1 field %2: %3, expected %4").arg(i).arg(f).arg(actual.at(f)).arg(want)));
        }
    }
}

// Only one counter goes back (the others keep rising): that one is zero,
// the others are unaffected.
void tst_RateTracker::oneFieldGoesBack()
{
    RateTracker tracker;
    tracker.sample(0, counters(100));
    Counters next = counters(200);
    next[Counter::MessagesIn] = 5; // was 300
    const Rates rates = tracker.sample(1000, next);
    QCOMPARE(rates.messagesIn, 0.0);
    QCOMPARE(rates.sessionsOpened, 100.0);
    QCOMPARE(rates.sessionsClosed, 200.0);
    QCOMPARE(rates.messagesOut, 400.0);
    QCOMPARE(rates.bytesIn, 500.0);
    QCOMPARE(rates.bytesOut, 600.0);

    next[Counter::MessagesIn] = 15;
    QCOMPARE(tracker.sample(2000, next).messagesIn, 10.0);
}

void tst_RateTracker::reset()
{
    RateTracker tracker;
    tracker.sample(0, counters(0));
    QCOMPARE(tracker.sample(1000, counters(10)).messagesIn, 30.0);
    tracker.reset();
    // After reset() the next sample is a first sample again, even at an
    // earlier time or with smaller counters.
    const Rates first = tracker.sample(500, counters(1));
    for (double value : fields(first))
        QCOMPARE(value, 0.0);
    QCOMPARE(tracker.sample(1500, counters(3)).sessionsOpened, 2.0);
}

// Counters far beyond 32 bits: exact differences, no overflow or negative rate.
void tst_RateTracker::largeCounters()
{
    constexpr quint64 big = quint64(1) << 53;
    RateTracker tracker;
    Counters a;
    a[Counter::MessagesIn] = big;
    a[Counter::BytesOut] = std::numeric_limits<quint64>::max() - 1000;
    tracker.sample(0, a);
    Counters b = a;
    b[Counter::MessagesIn] = big + 2000;
    b[Counter::BytesOut] = std::numeric_limits<quint64>::max();
    Rates rates = tracker.sample(2000, b);
    QCOMPARE(rates.messagesIn, 1000.0);
    QCOMPARE(rates.bytesOut, 500.0);

    // Wrapped to small values: a reset, not a huge rate.
    Counters c;
    c[Counter::BytesOut] = 10;
    c[Counter::MessagesIn] = 1;
    rates = tracker.sample(3000, c);
    QCOMPARE(rates.bytesOut, 0.0);
    QCOMPARE(rates.messagesIn, 0.0);
}

QTEST_GUILESS_MAIN(tst_RateTracker)
#include "tst_ratetracker.moc"
