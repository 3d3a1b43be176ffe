// QueueBudget: the sum of every outgoing queue against
// limits.max_queued_bytes_total, and when it asks for sessions to be closed.

#include "base/queuebudget.h"

#include <QSignalSpy>
#include <QTest>

using namespace SockJsProxy;

class tst_QueueBudget : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void lowWater();
    void signalsOncePerCrossing();
    void noLimitNeverSignals();
    void stuckOverLimitSignalsOnce();
};

void tst_QueueBudget::lowWater()
{
    QCOMPARE(QueueBudget::lowWaterFor(1024 * 1024), qint64(917504));
    QCOMPARE(QueueBudget::lowWaterFor(8), qint64(7));
    QCOMPARE(QueueBudget::lowWaterFor(0), qint64(0));
    QCOMPARE(QueueBudget(QueueBudget::kDefaultLimit).lowWater(), qint64(448) * 1024 * 1024);
}

void tst_QueueBudget::signalsOncePerCrossing()
{
    QueueBudget budget(800);
    QSignalSpy over(&budget, &QueueBudget::overLimit);
    budget.add(800); // at the limit is not over it
    QCOMPARE(budget.total(), qint64(800));
    QCOMPARE(over.size(), 0);
    budget.add(1);
    QCOMPARE(over.size(), 1);
    budget.add(500); // still over: already said
    QCOMPARE(over.size(), 1);
    budget.remove(600); // 701: below the limit, above the low-water mark (700)
    QCOMPARE(budget.total(), qint64(701));
    budget.add(200);
    QCOMPARE(over.size(), 1); // not re-armed: it never got back to 700
    budget.remove(201);
    QCOMPARE(budget.total(), qint64(700));
    budget.add(101);
    QCOMPARE(over.size(), 2);
    budget.remove(801);
    QCOMPARE(budget.total(), qint64(0));
    QCOMPARE(over.size(), 2);
}

void tst_QueueBudget::noLimitNeverSignals()
{
    QueueBudget budget;
    QSignalSpy over(&budget, &QueueBudget::overLimit);
    budget.add(qint64(1) << 40);
    QCOMPARE(budget.total(), qint64(1) << 40);
    QCOMPARE(over.size(), 0);
}

// A total that no close brings down (a backend queue): one signal, not one
// per message.
void tst_QueueBudget::stuckOverLimitSignalsOnce()
{
    QueueBudget budget(100);
    QSignalSpy over(&budget, &QueueBudget::overLimit);
    for (int i = 0; i < 1000; ++i)
        budget.add(10);
    QCOMPARE(over.size(), 1);
    QCOMPARE(budget.total(), qint64(10000));
}

QTEST_GUILESS_MAIN(tst_QueueBudget)
#include "tst_queuebudget.moc"
