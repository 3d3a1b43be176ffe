// The counters panel: one value label per row of the counter table (named by
// its JSON key), showing the totals of MonitorStats; bytes as sizes.

#include "backendpanel.h"
#include "sessiontablemodel.h"

#include <QLabel>
#include <QLocale>
#include <QTableWidget>
#include <QTest>

using namespace SockJsProxy;

class tst_BackendPanel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void everyCounterShown();
    void keepsItsWidth();
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

// Growing numbers do not widen the panel (and the dock it is in).
void tst_BackendPanel::keepsItsWidth()
{
    BackendPanel panel;
    MonitorStats stats;
    ServiceStats service;
    service.prefix = QStringLiteral("/echo");
    service.backend.inEndpoint = QStringLiteral("tcp://127.0.0.1:9241");
    service.backend.outEndpoint = QStringLiteral("tcp://127.0.0.1:9242");
    stats.services = {service};
    panel.setStats(stats);
    const int width = panel.sizeHint().width();
    const int dropped = panel.servicesTable()->columnWidth(BackendPanel::DroppedColumn);
    for (const CounterInfo &row : kCounterTable)
        stats.counters[row.id] = 123456789012345ULL;
    stats.services[0].backend.dropped = 123456789012345ULL;
    stats.sessionsOpen = 1234567890;
    panel.setStats(stats);
    QCOMPARE(panel.sizeHint().width(), width);
    QCOMPARE(panel.servicesTable()->columnWidth(BackendPanel::DroppedColumn), dropped);
}

QTEST_MAIN(tst_BackendPanel)
#include "tst_backendpanel.moc"
