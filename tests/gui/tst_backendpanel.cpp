// The counters panel: one value label per row of the counter table (named by
// its JSON key), showing the totals of MonitorStats; bytes as sizes.

#include "backendpanel.h"
#include "sessiontablemodel.h"

#include <QLabel>
#include <QLocale>
#include <QTest>

using namespace SockJsProxy;

class tst_BackendPanel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void everyCounterShown();
};

void tst_BackendPanel::everyCounterShown()
{
    BackendPanel panel;
    MonitorStats stats;
    stats.sessionsOpen = 7;
    quint64 value = 1000;
    for (const CounterInfo &row : kCounterTable)
        stats.counters[row.id] = value++;
    panel.setStats(stats);

    const QLocale locale;
    QCOMPARE(panel.counterLabel(QStringLiteral("sessionsOpen"))->text(), QStringLiteral("7"));
    for (const CounterInfo &row : kCounterTable) {
        const QLabel *label = panel.counterLabel(QLatin1String(row.key));
        QVERIFY2(label, row.key);
        const quint64 shown = stats.counters[row.id];
        const QString expected = row.bytes ? SessionTableModel::formatBytes(shown) : locale.toString(shown);
        QCOMPARE(label->text(), expected);
    }

    panel.clear();
    for (const CounterInfo &row : kCounterTable)
        QCOMPARE(panel.counterLabel(QLatin1String(row.key))->text(), QStringLiteral("-"));
}

QTEST_MAIN(tst_BackendPanel)
#include "tst_backendpanel.moc"
