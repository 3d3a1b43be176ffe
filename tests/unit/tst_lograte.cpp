// LogRateLimiter on fake time: at most limit() lines a second, the rest
// counted and summed up in one line once the second is over; everything
// with the category's debug output on.

#include "base/lograte.h"

#include <QLoggingCategory>
#include <QTest>

Q_LOGGING_CATEGORY(lcRateTest, "sockjsproxy.ratetest", QtInfoMsg)

using namespace SockJsProxy;

class tst_LogRateLimiter : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void limitsAndSumsUp();
    void verboseAdmitsAll();
};

void tst_LogRateLimiter::limitsAndSumsUp()
{
    LogRateLimiter limiter(lcRateTest, QStringLiteral("session events of /echo"), 3);
    QCOMPARE(limiter.limit(), 3);
    const qint64 t0 = 1'000'000;
    int admitted = 0;
    for (int i = 0; i < 10; ++i)
        admitted += limiter.admit(t0 + i) ? 1 : 0;
    QCOMPARE(admitted, 3);
    QCOMPARE(limiter.suppressedTotal(), quint64(7));

    // Nothing said within the second.
    limiter.flush(t0 + 999);
    // The next second: the summary first, then lines again.
    QTest::ignoreMessage(QtInfoMsg, "7 more session events of /echo not logged (at most 3 a second are)");
    QVERIFY(limiter.admit(t0 + 1000));
    QVERIFY(limiter.admit(t0 + 1001));
    QVERIFY(limiter.admit(t0 + 1002));
    QVERIFY(!limiter.admit(t0 + 1003));
    QTest::ignoreMessage(QtInfoMsg, "1 more session events of /echo not logged (at most 3 a second are)");
    limiter.flush(t0 + 5000);
    QCOMPARE(limiter.suppressedTotal(), quint64(8));
    limiter.flush(t0 + 9000); // said once
}

void tst_LogRateLimiter::verboseAdmitsAll()
{
    QLoggingCategory::setFilterRules(QStringLiteral("sockjsproxy.ratetest.debug=true"));
    LogRateLimiter limiter(lcRateTest, QStringLiteral("x"), 1);
    for (int i = 0; i < 100; ++i)
        QVERIFY(limiter.admit(i));
    QCOMPARE(limiter.suppressedTotal(), quint64(0));
    QLoggingCategory::setFilterRules(QString());
}

QTEST_GUILESS_MAIN(tst_LogRateLimiter)
#include "tst_lograte.moc"
