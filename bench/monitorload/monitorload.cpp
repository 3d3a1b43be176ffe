// sockjsproxy-bench-monitorload: is the monitor still responsive at 5,000
// sessions and 50,000 messages per second? A fake MonitorSource drives the
// real MainWindow at that load for a while — every session changed in every
// 250 ms update (the worst case of the coalesced stream), traffic of the
// inspected session at the given rate, stats every second — while a 10 ms
// timer measures how late the event loop runs it. Prints one RESULT line;
// nothing is asserted (performance stays out of the tests).
//
//   QT_QPA_PLATFORM=offscreen sockjsproxy-bench-monitorload [--sessions N]
//       [--rate MSGS_PER_S] [--seconds S]

#include "mainwindow.h"
#include "sessiontablemodel.h"

#include "metrics/monitorsource.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QItemSelectionModel>
#include <QTableView>
#include <QTimer>

#include <algorithm>
#include <cstdio>
#include <vector>

using namespace SockJsProxy;

namespace {

class LoadSource : public MonitorSource
{
public:
    QList<SessionInfo> sessions() const override { return m_sessions; }
    MonitorStats stats() const override { return m_stats; }
    void disconnectSessions(const QList<QByteArray> &) override {}
    void sendToSession(const QByteArray &, const QByteArray &) override {}
    void clearCounters() override {}
    void setInspected(const QByteArray &id, bool inspected) override
    {
        if (inspected)
            m_inspected = id;
    }

    void populate(int count)
    {
        static const QByteArray transports[] = {"websocket",   "xhr-streaming", "xhr-polling",
                                                "eventsource", "htmlfile",      "jsonp-polling"};
        for (int i = 0; i < count; ++i) {
            SessionInfo info;
            info.id = "load-" + QByteArray::number(i);
            info.service = QStringLiteral("/echo");
            info.transport = transports[i % 6];
            info.remoteAddress = QStringLiteral("10.0.%1.%2").arg(i / 250).arg(i % 250);
            info.remotePort = quint16(30000 + i % 30000);
            info.origin = QStringLiteral("https://app.example.com");
            info.userAgent = QStringLiteral("Mozilla/5.0 (X11; Linux x86_64) Chrome/156");
            info.state = QStringLiteral("open");
            info.openedAt = QDateTime::currentDateTimeUtc();
            m_sessions.append(info);
        }
        Q_EMIT sessionsChanged(m_sessions, {});
    }

    // Every session's counters move: the heaviest update the stream can carry.
    void touchAll(quint64 step)
    {
        const QDateTime now = QDateTime::currentDateTimeUtc();
        for (SessionInfo &info : m_sessions) {
            info.messagesIn += step;
            info.messagesOut += step;
            info.bytesIn += step * 32;
            info.bytesOut += step * 32;
            info.lastActivity = now;
        }
        Q_EMIT sessionsChanged(m_sessions, {});
    }

    void emitTraffic(int count)
    {
        const QByteArray id = m_inspected.isEmpty() ? m_sessions.first().id : m_inspected;
        TrafficEvent event;
        event.sessionId = id;
        event.time = QDateTime::currentDateTimeUtc();
        event.data = "{\"seq\":12345,\"text\":\"hello from the load\"}";
        for (int i = 0; i < count; ++i) {
            event.direction = i % 2 ? TrafficEvent::Direction::Out : TrafficEvent::Direction::In;
            Q_EMIT traffic(event);
        }
        m_messages += quint64(count);
    }

    void emitStats(int sessions, double rate)
    {
        m_stats.time = QDateTime::currentDateTimeUtc();
        m_stats.sessionsOpen = sessions;
        m_stats.counters[Counter::MessagesIn] = m_messages / 2;
        m_stats.counters[Counter::MessagesOut] = m_messages / 2;
        m_stats.rates.messagesIn = rate / 2;
        m_stats.rates.messagesOut = rate / 2;
        ServiceStats service;
        service.prefix = QStringLiteral("/echo");
        service.sessionsOpen = sessions;
        service.counters = m_stats.counters;
        service.rates = m_stats.rates;
        service.backend.inPeers = service.backend.outPeers = 1;
        m_stats.services = {service};
        Q_EMIT statsUpdated(m_stats);
    }

private:
    QList<SessionInfo> m_sessions;
    MonitorStats m_stats;
    QByteArray m_inspected;
    quint64 m_messages = 0;
};

double percentile(std::vector<double> values, double p)
{
    if (values.empty())
        return 0;
    std::sort(values.begin(), values.end());
    return values.at(std::min(values.size() - 1, size_t(p * double(values.size()))));
}

} // namespace

int main(int argc, char *argv[])
{
    QApplication app(argc, argv);
    QCommandLineParser parser;
    const QCommandLineOption sessionsOption(QStringLiteral("sessions"), QStringLiteral("Sessions."),
                                            QStringLiteral("N"), QStringLiteral("5000"));
    const QCommandLineOption rateOption(QStringLiteral("rate"), QStringLiteral("Inspected messages per second."),
                                        QStringLiteral("N"), QStringLiteral("50000"));
    const QCommandLineOption secondsOption(QStringLiteral("seconds"), QStringLiteral("Duration."), QStringLiteral("S"),
                                           QStringLiteral("20"));
    parser.addOptions({sessionsOption, rateOption, secondsOption});
    parser.addHelpOption();
    parser.process(app);
    const int sessions = parser.value(sessionsOption).toInt();
    const int rate = parser.value(rateOption).toInt();
    const int seconds = parser.value(secondsOption).toInt();

    LoadSource source;
    MainWindow window;
    window.resize(1400, 900);
    window.setSource(&source, QStringLiteral("load"));
    window.show();
    source.populate(sessions);
    window.sessionsView()->selectRow(0); // inspect one session: its traffic is shown live

    constexpr int kTrafficTickMs = 10;
    QTimer traffic;
    QObject::connect(&traffic, &QTimer::timeout, &source, [&] { source.emitTraffic(rate * kTrafficTickMs / 1000); });
    traffic.start(kTrafficTickMs);
    quint64 step = 0;
    QTimer updates;
    QObject::connect(&updates, &QTimer::timeout, &source, [&] { source.touchAll(++step); });
    updates.start(250);
    QTimer stats;
    QObject::connect(&stats, &QTimer::timeout, &source, [&] { source.emitStats(sessions, rate); });
    stats.start(1000);

    // The probe: how late does a 10 ms timer fire?
    std::vector<double> lateness;
    QElapsedTimer clock;
    clock.start();
    qint64 expected = 10;
    QTimer probe;
    probe.setTimerType(Qt::PreciseTimer);
    QObject::connect(&probe, &QTimer::timeout, &app, [&] {
        const qint64 now = clock.elapsed();
        lateness.push_back(double(std::max<qint64>(0, now - expected)));
        expected = now + 10;
    });
    probe.start(10);

    QTimer::singleShot(seconds * 1000, &app, &QApplication::quit);
    const int rc = app.exec();
    std::printf("RESULT scenario=monitor sessions=%d traffic_per_s=%d seconds=%d probes=%zu "
                "lateness_p50_ms=%.1f lateness_p99_ms=%.1f lateness_max_ms=%.1f table_rows=%d\n",
                sessions, rate, seconds, lateness.size(), percentile(lateness, 0.5), percentile(lateness, 0.99),
                lateness.empty() ? 0.0 : *std::max_element(lateness.begin(), lateness.end()),
                int(window.sessionModel()->rowCount()));
    return rc;
}
