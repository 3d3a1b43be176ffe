// The rate chart fed known samples: the hover shows the figures of the
// sample under the mouse (time, messages and bytes per second each way,
// open sessions), nothing over an outage; bytes per second as the left
// axis; the window choices and the outage gap as before.

#include "ratechart.h"

#include <QMouseEvent>
#include <QTest>

using namespace SockJsProxy;

namespace {

// 12:00:00 local time on a fixed day, so the texts are exact.
const QDateTime kStart(QDate(2026, 3, 14), QTime(12, 0, 0));

// Sample i, one a second: i messages in, 2i out, 100i bytes in, 1536i out,
// 10 + i open sessions; /a has a tenth of it.
MonitorStats sampleAt(int i)
{
    MonitorStats stats;
    stats.time = kStart.addSecs(i);
    stats.sessionsOpen = 10 + i;
    stats.rates.messagesIn = i;
    stats.rates.messagesOut = 2.0 * i;
    stats.rates.bytesIn = 100.0 * i;
    stats.rates.bytesOut = 1536.0 * i;
    ServiceStats service;
    service.prefix = QStringLiteral("/a");
    service.sessionsOpen = 1;
    service.rates.messagesIn = i / 10.0;
    service.rates.messagesOut = i / 5.0;
    service.rates.bytesIn = 10.0 * i;
    service.rates.bytesOut = 20.0 * i;
    stats.services = {service};
    return stats;
}

qint64 ms(int second) { return kStart.addSecs(second).toMSecsSinceEpoch(); }

void moveMouse(QWidget *widget, QPointF position)
{
    QMouseEvent move(QEvent::MouseMove, position, widget->mapToGlobal(position), Qt::NoButton, Qt::NoButton,
                     Qt::NoModifier);
    QCoreApplication::sendEvent(widget, &move);
}

} // namespace

class tst_RateChart : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void valuesAtASample();
    void hoverFollowsTheMouse();
    void hoverOverAnOutage();
    void bytesPerSecond();
    void windowChoicesKeepTheHover();
};

void tst_RateChart::valuesAtASample()
{
    RateChart chart;
    chart.resize(600, 240);
    for (int i = 0; i <= 60; ++i)
        chart.addSample(sampleAt(i));

    const RateChart::Values values = chart.valuesAt(ms(42));
    QCOMPARE(values.time, kStart.addSecs(42));
    QVERIFY(!values.gap);
    QCOMPARE(values.messagesIn, 42.0);
    QCOMPARE(values.messagesOut, 84.0);
    QCOMPARE(values.bytesIn, 4200.0);
    QCOMPARE(values.bytesOut, 64512.0);
    QCOMPARE(values.sessions, 52);
    // The nearest sample: 300 ms after 42 s is 42, 700 ms after is 43.
    QCOMPARE(chart.valuesAt(ms(42) + 300).time, kStart.addSecs(42));
    QCOMPARE(chart.valuesAt(ms(42) + 700).time, kStart.addSecs(43));
    // Before the first sample and after the last: nothing.
    QVERIFY(!chart.valuesAt(ms(-30)).time.isValid());
    QVERIFY(!chart.valuesAt(ms(90)).time.isValid());

    // Per service.
    chart.setService(QStringLiteral("/a"));
    const RateChart::Values service = chart.valuesAt(ms(42));
    QCOMPARE(service.messagesIn, 4.2);
    QCOMPARE(service.bytesOut, 840.0);
    QCOMPARE(service.sessions, 1);
}

void tst_RateChart::hoverFollowsTheMouse()
{
    RateChart chart;
    chart.resize(600, 240);
    chart.setWindow(60000);
    for (int i = 0; i <= 60; ++i)
        chart.addSample(sampleAt(i));
    chart.show();
    QVERIFY(QTest::qWaitForWindowExposed(&chart));
    QVERIFY(!chart.hasHover());
    QCOMPARE(chart.hoverText(), QString());

    // The mouse over 30 s into the minute shown (whose end is the newest
    // sample at 60 s): the sample of 30 s.
    const double x = chart.xForTime(ms(30));
    QCOMPARE(chart.timeAtX(x), ms(30));
    moveMouse(&chart, QPointF(x, chart.height() / 2.0));
    QVERIFY(chart.hasHover());
    QCOMPARE(chart.hoverValues().time, kStart.addSecs(30));
    QCOMPARE(chart.hoverText(), QStringLiteral("12:00:30\n"
                                               "in: 30.0 msg/s, 2.9 KiB/s\n"
                                               "out: 60.0 msg/s, 45.0 KiB/s\n"
                                               "40 open sessions"));
    chart.grab(); // paints the line and the label

    // A new sample moves the window on: the same x is a second later.
    chart.addSample(sampleAt(61));
    QCOMPARE(chart.hoverValues().time, kStart.addSecs(31));
    QVERIFY(chart.hoverText().startsWith(QLatin1String("12:00:31\nin: 31.0 msg/s, 3.0 KiB/s\n")));

    // Over the axis labels, below the plot, or gone: no hover.
    moveMouse(&chart, QPointF(2, chart.height() / 2.0));
    QVERIFY(!chart.hasHover());
    moveMouse(&chart, QPointF(x, chart.height() / 2.0));
    QVERIFY(chart.hasHover());
    QEvent leave(QEvent::Leave);
    QCoreApplication::sendEvent(&chart, &leave);
    QVERIFY(!chart.hasHover());
    QCOMPARE(chart.hoverText(), QString());
}

void tst_RateChart::hoverOverAnOutage()
{
    RateChart chart;
    chart.resize(600, 240);
    chart.setWindow(60000);
    for (int i = 0; i <= 20; ++i)
        chart.addSample(sampleAt(i));
    chart.setStale(true); // gone from 20 s to 40 s
    for (int i = 40; i <= 60; ++i)
        chart.addSample(sampleAt(i));
    QCOMPARE(chart.segmentCount(), 2);

    const RateChart::Values gap = chart.valuesAt(ms(30));
    QVERIFY(gap.gap);
    QVERIFY(!gap.time.isValid());
    chart.setHoverX(qRound(chart.xForTime(ms(30))));
    QCOMPARE(chart.hoverText(), QStringLiteral("12:00:30\nno figures (proxy gone)"));
    chart.grab();
    // Either side of it, the figures are there.
    QCOMPARE(chart.valuesAt(ms(20)).messagesIn, 20.0);
    QCOMPARE(chart.valuesAt(ms(40)).messagesIn, 40.0);

    // Gone now: the past stays readable, "now" says there are no figures.
    chart.setStale(true);
    QCOMPARE(chart.valuesAt(ms(50)).messagesOut, 100.0);
    QCOMPARE(chart.currentText(), QStringLiteral("now: \u2014 (no figures: the proxy is gone)"));
}

void tst_RateChart::bytesPerSecond()
{
    RateChart chart;
    chart.resize(600, 240);
    for (int i = 0; i <= 10; ++i)
        chart.addSample(sampleAt(i));
    QCOMPARE(chart.unit(), RateChart::Unit::Messages);
    QCOMPARE(chart.currentText(), QStringLiteral("now: 10 in/s, 20 out/s, 20 open"));

    chart.setUnit(RateChart::Unit::Bytes);
    QCOMPARE(chart.unit(), RateChart::Unit::Bytes);
    QCOMPARE(chart.currentText(), QStringLiteral("now: 1000 B/s in, 15.0 KiB/s out, 20 open"));
    chart.setService(QStringLiteral("/a"));
    QCOMPARE(chart.currentText(), QStringLiteral("now: 100 B/s in, 200 B/s out, 1 open"));
    chart.setService(QString());
    // The hover shows both, whichever the axis counts.
    chart.setHoverX(qRound(chart.xForTime(ms(4))));
    QCOMPARE(chart.hoverText(), QStringLiteral("12:00:04\n"
                                               "in: 4.0 msg/s, 400 B/s\n"
                                               "out: 8.0 msg/s, 6.0 KiB/s\n"
                                               "14 open sessions"));
    chart.grab();

    chart.setUnit(RateChart::Unit::Messages);
    QCOMPARE(chart.currentText(), QStringLiteral("now: 10 in/s, 20 out/s, 20 open"));
}

void tst_RateChart::windowChoicesKeepTheHover()
{
    RateChart chart;
    chart.resize(600, 240);
    for (int i = 0; i <= 600; ++i)
        chart.addSample(sampleAt(i));
    chart.addMarker(ms(590), QStringLiteral("new process"));
    for (const qint64 window : {qint64(60000), RateChart::kWindowMs, RateChart::kMaxWindowMs}) {
        chart.setWindow(window);
        QCOMPARE(chart.window(), window);
        // The newest sample is at the right edge of the plot, whatever the window.
        const double right = chart.xForTime(ms(600));
        QCOMPARE(chart.timeAtX(chart.xForTime(ms(600) - window)), ms(600) - window);
        chart.setHoverX(qRound(right));
        QCOMPARE(chart.hoverValues().time, kStart.addSecs(600));
        QCOMPARE(chart.hoverValues().bytesOut, 1536.0 * 600);
        chart.grab();
    }
    // A minute shows only its samples: 50 s before the newest is there, 61 s is not.
    chart.setWindow(60000);
    QCOMPARE(chart.valuesAt(ms(550)).messagesIn, 550.0);
    QVERIFY(!chart.valuesAt(ms(530)).time.isValid());
    QCOMPARE(chart.markerCount(), 1);
    QCOMPARE(chart.segmentCount(), 1);
}

QTEST_MAIN(tst_RateChart)
#include "tst_ratechart.moc"
