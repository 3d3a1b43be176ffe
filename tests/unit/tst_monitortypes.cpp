// The monitoring value types and their JSON form (the control endpoint's
// wire format): every type survives toJson -> fromJson, also through JSON
// text as the control endpoint sends it, with UTF-8, empty and extreme values.

#include "metrics/monitortypes.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QTest>

using namespace SockJsProxy;

namespace {

constexpr quint64 k2p53 = quint64(1) << 53; // the largest count a JSON double holds exactly

// What the control endpoint does: object -> compact text -> object.
QJsonObject throughText(const QJsonObject &object)
{
    QJsonParseError error;
    const QJsonDocument document =
        QJsonDocument::fromJson(QJsonDocument(object).toJson(QJsonDocument::Compact), &error);
    if (error.error != QJsonParseError::NoError)
        qWarning("%s", qPrintable(error.errorString()));
    return document.object();
}

QString utf8(const char *text) { return QString::fromUtf8(text); }

// A distinct value in every row; Server rows only with withServer (a
// service's JSON carries none).
Counters makeCounters(quint64 base, bool withServer = true)
{
    Counters c;
    quint64 step = 0;
    for (const CounterInfo &row : kCounterTable) {
        const quint64 value = base > step ? base - step : base + step; // never above base when base is 2^53
        if (row.runtimeLabel && withServer)
            c.add(row.id, QStringLiteral("n2"), value); // one value per peer, their total in the row
        else if (withServer || row.scope != CounterScope::Server)
            c[row.id] = value;
        ++step;
    }
    return c;
}

void compareCounters(const Counters &actual, const Counters &expected)
{
    for (const CounterInfo &row : kCounterTable)
        QVERIFY2(actual[row.id] == expected[row.id], row.key);
}

// Rates are doubles both sides: exact equality (JSON text keeps the shortest
// representation that reads back to the same double).
void compareRates(const Rates &actual, const Rates &expected)
{
    QVERIFY(actual.sessionsOpened == expected.sessionsOpened);
    QVERIFY(actual.sessionsClosed == expected.sessionsClosed);
    QVERIFY(actual.messagesIn == expected.messagesIn);
    QVERIFY(actual.messagesOut == expected.messagesOut);
    QVERIFY(actual.bytesIn == expected.bytesIn);
    QVERIFY(actual.bytesOut == expected.bytesOut);
}

void compareBackend(const BackendStatus &actual, const BackendStatus &expected)
{
    QCOMPARE(actual.inEndpoint, expected.inEndpoint);
    QCOMPARE(actual.outEndpoint, expected.outEndpoint);
    QCOMPARE(actual.inPeers, expected.inPeers);
    QCOMPARE(actual.outPeers, expected.outPeers);
    QCOMPARE(actual.queued, expected.queued);
    QCOMPARE(actual.dropped, expected.dropped);
}

void compareService(const ServiceStats &actual, const ServiceStats &expected)
{
    QCOMPARE(actual.prefix, expected.prefix);
    QCOMPARE(actual.sessionsOpen, expected.sessionsOpen);
    compareCounters(actual.counters, expected.counters);
    if (QTest::currentTestFailed())
        return;
    compareRates(actual.rates, expected.rates);
    if (QTest::currentTestFailed())
        return;
    compareBackend(actual.backend, expected.backend);
}

} // namespace

class tst_MonitorTypes : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void sessionInfo_data();
    void sessionInfo();
    void sessionInfoEquality();

    void counters_data();
    void counters();
    void countersSum();

    void rates_data();
    void rates();

    void backendStatus_data();
    void backendStatus();

    void serviceStats();

    void monitorStats_data();
    void monitorStats();

    void trafficEvent_data();
    void trafficEvent();

    void defaultsFromEmptyJson();
    void jsonKeys();
};

void tst_MonitorTypes::sessionInfo_data()
{
    QTest::addColumn<SessionInfo>("info");

    QTest::newRow("default") << SessionInfo();

    SessionInfo typical;
    typical.id = "a1b2c3d4e5f60718";
    typical.service = QStringLiteral("/echo");
    typical.transport = "websocket";
    typical.remoteAddress = QStringLiteral("127.0.0.1");
    typical.remotePort = 54321;
    typical.origin = QStringLiteral("http://example.com");
    typical.userAgent = QStringLiteral("Mozilla/5.0 (X11; Linux x86_64)");
    typical.state = QStringLiteral("open");
    typical.openedAt = QDateTime(QDate(2024, 5, 1), QTime(12, 0, 0, 123), Qt::UTC);
    typical.lastActivity = QDateTime(QDate(2024, 5, 1), QTime(12, 0, 5, 999), Qt::UTC);
    typical.messagesIn = 10;
    typical.messagesOut = 20;
    typical.bytesIn = 300;
    typical.bytesOut = 400;
    typical.queued = 5;
    QTest::newRow("typical") << typical;

    SessionInfo unicode = typical;
    unicode.service = utf8("/\xc3\xa9\xc3\xa7ho/\xe6\x97\xa5\xe6\x9c\xac");
    unicode.origin = utf8("https://b\xc3\xbc\x63her.example");
    unicode.userAgent = utf8("Agent \xe2\x98\x83 \xf0\x9f\x98\x80 \"quoted\" \\ back\tslash\n") + QChar(0x2028);
    unicode.transport = "xhr-streaming";
    unicode.remoteAddress = QStringLiteral("::ffff:127.0.0.1");
    QTest::newRow("utf-8 strings") << unicode;

    SessionInfo extremes = typical;
    extremes.remotePort = 65535;
    extremes.messagesIn = k2p53;
    extremes.messagesOut = k2p53 - 1;
    extremes.bytesIn = quint64(1) << 40;
    extremes.bytesOut = quint64(4294967296ULL) + 1; // just past 32 bits
    extremes.queued = qsizetype(1) << 40;
    extremes.state = QStringLiteral("closed");
    QTest::newRow("large counters") << extremes;

    SessionInfo empty = typical;
    empty.origin = QString();
    empty.userAgent = QString();
    empty.remoteAddress = QString();
    empty.remotePort = 0;
    empty.lastActivity = QDateTime(); // never active
    empty.state = QStringLiteral("connecting");
    QTest::newRow("empty strings, invalid time") << empty;

    SessionInfo offset = typical;
    // A time in another zone comes back as the same instant (sent as UTC).
    offset.openedAt = QDateTime(QDate(1999, 12, 31), QTime(23, 59, 59, 1), Qt::OffsetFromUTC, 5 * 3600 + 1800);
    offset.lastActivity = QDateTime::fromMSecsSinceEpoch(0, Qt::UTC);
    QTest::newRow("time zone offset, epoch") << offset;

    SessionInfo rawId = typical;
    rawId.id = "raw-0123456789abcdef_-.~";
    rawId.transport = "rawwebsocket";
    QTest::newRow("id with punctuation") << rawId;

    SessionInfo forwarded = typical;
    forwarded.remoteAddress = QStringLiteral("2001:db8::7");
    forwarded.remotePort = 0; // the balancer did not say
    forwarded.via = QStringLiteral("10.0.0.2");
    QTest::newRow("behind a load balancer") << forwarded;

    SessionInfo clustered = typical;
    clustered.node = QStringLiteral("n2");
    QTest::newRow("on a cluster node") << clustered;
}

void tst_MonitorTypes::sessionInfo()
{
    QFETCH(SessionInfo, info);
    const SessionInfo direct = SessionInfo::fromJson(info.toJson());
    QVERIFY(direct == info);
    // Field by field, for a readable failure as well.
    QCOMPARE(direct.id, info.id);
    QCOMPARE(direct.service, info.service);
    QCOMPARE(direct.transport, info.transport);
    QCOMPARE(direct.userAgent, info.userAgent);
    QCOMPARE(direct.openedAt, info.openedAt);
    QCOMPARE(direct.lastActivity.isValid(), info.lastActivity.isValid());
    QCOMPARE(direct.messagesIn, info.messagesIn);
    QCOMPARE(direct.queued, info.queued);

    const SessionInfo viaText = SessionInfo::fromJson(throughText(info.toJson()));
    QVERIFY(viaText == info);
    QCOMPARE(viaText.messagesIn, info.messagesIn);
    QCOMPARE(viaText.bytesOut, info.bytesOut);
    QCOMPARE(viaText.remotePort, info.remotePort);
}

void tst_MonitorTypes::sessionInfoEquality()
{
    SessionInfo a;
    a.id = "x";
    a.messagesIn = 1;
    SessionInfo b = a;
    QVERIFY(a == b);
    b.messagesIn = 2;
    QVERIFY(!(a == b));
    b = a;
    b.userAgent = QStringLiteral("other");
    QVERIFY(!(a == b));
    b = a;
    b.queued = 1;
    QVERIFY(!(a == b));
    b = a;
    b.lastActivity = QDateTime::fromMSecsSinceEpoch(1, Qt::UTC);
    QVERIFY(!(a == b));
    b = a;
    b.via = QStringLiteral("10.0.0.2");
    QVERIFY(!(a == b));
    b = a;
    b.node = QStringLiteral("n1");
    QVERIFY(!(a == b));
}

void tst_MonitorTypes::counters_data()
{
    QTest::addColumn<Counters>("counters");
    QTest::newRow("zero") << Counters();
    QTest::newRow("small") << makeCounters(12);
    QTest::newRow("2^32") << makeCounters(quint64(1) << 32);
    QTest::newRow("2^53") << makeCounters(k2p53);
    Counters all;
    for (const CounterInfo &row : kCounterTable) {
        if (row.runtimeLabel)
            all.add(row.id, QStringLiteral("n2"), k2p53);
        else
            all[row.id] = k2p53;
    }
    QTest::newRow("every field 2^53") << all;
    Counters one;
    one[Counter::WebSocketUpgrades] = 1;
    QTest::newRow("one field") << one;
}

void tst_MonitorTypes::counters()
{
    QFETCH(Counters, counters);
    compareCounters(countersFromJson(countersToJson(counters, true)), counters);
    if (QTest::currentTestFailed())
        return;
    compareCounters(countersFromJson(throughText(countersToJson(counters, true))), counters);
}

void tst_MonitorTypes::countersSum()
{
    Counters sum;
    sum += makeCounters(10);
    sum += makeCounters(20);
    const Counters ten = makeCounters(10);
    const Counters twenty = makeCounters(20);
    for (const CounterInfo &row : kCounterTable)
        QVERIFY2(sum[row.id] == ten[row.id] + twenty[row.id], row.key);
    // since(): the difference, never below zero.
    QVERIFY(sum.since(ten) == twenty);
    const Counters none = ten.since(sum);
    for (const CounterInfo &row : kCounterTable) {
        QVERIFY2(none[row.id] == 0, row.key);
        for (const quint64 value : none.labelled(row.id))
            QVERIFY2(value == 0, row.key);
    }
}

void tst_MonitorTypes::rates_data()
{
    QTest::addColumn<Rates>("rates");
    QTest::newRow("zero") << Rates();
    Rates fractions;
    fractions.sessionsOpened = 1.0 / 3.0;
    fractions.sessionsClosed = 0.1;
    fractions.messagesIn = 2.5;
    fractions.messagesOut = 1e-9;
    fractions.bytesIn = 123456.789;
    fractions.bytesOut = 0.5;
    QTest::newRow("fractions") << fractions;
    Rates large;
    large.messagesIn = 1e12;
    large.bytesIn = double(k2p53);
    large.bytesOut = 1.7976931348623157e308;
    QTest::newRow("large") << large;
}

void tst_MonitorTypes::rates()
{
    QFETCH(Rates, rates);
    compareRates(Rates::fromJson(rates.toJson()), rates);
    if (QTest::currentTestFailed())
        return;
    compareRates(Rates::fromJson(throughText(rates.toJson())), rates);
}

void tst_MonitorTypes::backendStatus_data()
{
    QTest::addColumn<BackendStatus>("status");
    QTest::newRow("default (unknown peers)") << BackendStatus();
    BackendStatus tcp;
    tcp.inEndpoint = QStringLiteral("tcp://127.0.0.1:9241");
    tcp.outEndpoint = QStringLiteral("tcp://127.0.0.1:9242");
    tcp.inPeers = 3;
    tcp.outPeers = 0;
    tcp.queued = 100000;
    tcp.dropped = k2p53;
    QTest::newRow("tcp") << tcp;
    BackendStatus inproc;
    inproc.inEndpoint = QStringLiteral("inproc://test-0-0-in");
    inproc.outEndpoint = utf8("ipc:///tmp/s\xc3\xa9ocket"); // non-ASCII path
    inproc.inPeers = -1;
    inproc.outPeers = 1;
    QTest::newRow("inproc, ipc, mixed peers") << inproc;
}

void tst_MonitorTypes::backendStatus()
{
    QFETCH(BackendStatus, status);
    compareBackend(BackendStatus::fromJson(status.toJson()), status);
    if (QTest::currentTestFailed())
        return;
    compareBackend(BackendStatus::fromJson(throughText(status.toJson())), status);
}

void tst_MonitorTypes::serviceStats()
{
    ServiceStats stats;
    stats.prefix = utf8("/\xe2\x98\x83");
    stats.sessionsOpen = 42;
    stats.counters = makeCounters(k2p53, false);
    stats.rates.messagesIn = 12.5;
    stats.rates.bytesOut = 1.0 / 7.0;
    stats.backend.inEndpoint = QStringLiteral("tcp://127.0.0.1:1");
    stats.backend.inPeers = 2;
    stats.backend.outPeers = -1;
    stats.backend.dropped = 5;
    compareService(ServiceStats::fromJson(stats.toJson()), stats);
    if (QTest::currentTestFailed())
        return;
    compareService(ServiceStats::fromJson(throughText(stats.toJson())), stats);
}

void tst_MonitorTypes::monitorStats_data()
{
    QTest::addColumn<int>("serviceCount");
    QTest::addColumn<QDateTime>("time");
    QTest::newRow("no services") << 0 << QDateTime(QDate(2024, 1, 2), QTime(3, 4, 5, 6), Qt::UTC);
    QTest::newRow("one service") << 1 << QDateTime::fromMSecsSinceEpoch(1000, Qt::UTC);
    QTest::newRow("four services") << 4 << QDateTime::fromMSecsSinceEpoch(1714564800123, Qt::UTC);
    QTest::newRow("invalid time") << 2 << QDateTime();
}

void tst_MonitorTypes::monitorStats()
{
    QFETCH(int, serviceCount);
    QFETCH(QDateTime, time);
    MonitorStats stats;
    stats.time = time;
    for (int i = 0; i < serviceCount; ++i) {
        ServiceStats service;
        service.prefix = QStringLiteral("/s%1").arg(i);
        service.sessionsOpen = i * 10;
        service.counters = makeCounters(quint64(i) * 1000 + 1, false);
        service.rates.messagesIn = i + 0.25;
        service.backend.inPeers = i;
        service.backend.outPeers = i - 1;
        stats.services.append(service);
        stats.sessionsOpen += service.sessionsOpen;
        stats.counters += service.counters;
    }
    stats.counters[Counter::HttpRequests] = 77;
    stats.counters[Counter::WebSocketUpgrades] = k2p53;
    stats.rates.sessionsOpened = 3;
    stats.rates.bytesIn = 1e6;
    if (serviceCount == 4) {
        stats.node = "n1";
        stats.peers = {{QStringLiteral("tcp://127.0.0.1:9001"), "n2", true},
                       {QStringLiteral("tcp://127.0.0.1:9002"), QByteArray(), false}};
        stats.counters.add(Counter::ClusterForwarded, QStringLiteral("n2"), 5);
    }

    for (const QJsonObject &json : {stats.toJson(), throughText(stats.toJson())}) {
        const MonitorStats back = MonitorStats::fromJson(json);
        QCOMPARE(back.time.isValid(), time.isValid());
        if (time.isValid())
            QCOMPARE(back.time, time);
        QCOMPARE(back.sessionsOpen, stats.sessionsOpen);
        compareCounters(back.counters, stats.counters);
        compareRates(back.rates, stats.rates);
        QCOMPARE(back.node, stats.node);
        QCOMPARE(back.peers, stats.peers);
        QCOMPARE(back.counters.labelled(Counter::ClusterForwarded), stats.counters.labelled(Counter::ClusterForwarded));
        QCOMPARE(back.services.size(), stats.services.size());
        for (int i = 0; i < serviceCount; ++i) {
            compareService(back.services.at(i), stats.services.at(i));
            if (QTest::currentTestFailed())
                return;
        }
    }
}

void tst_MonitorTypes::trafficEvent_data()
{
    QTest::addColumn<QByteArray>("sessionId");
    QTest::addColumn<int>("direction");
    QTest::addColumn<QByteArray>("data");

    QTest::newRow("in, ascii") << QByteArray("s1") << int(TrafficEvent::Direction::In) << QByteArray("hello");
    QTest::newRow("out, empty") << QByteArray("s2") << int(TrafficEvent::Direction::Out) << QByteArray("");
    QTest::newRow("out, utf-8") << QByteArray("0123456789abcdef") << int(TrafficEvent::Direction::Out)
                                << QByteArray("h\xc3\xa9llo \xe2\x98\x83 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80");
    QTest::newRow("in, json specials") << QByteArray("s3") << int(TrafficEvent::Direction::In)
                                       << QByteArray(
                                              "{\"quote\": \"\\\"\", \"tab\": \"\t\", \"nl\": \"\n\"} </script>");
    QTest::newRow("in, line separators") << QByteArray("s4") << int(TrafficEvent::Direction::In)
                                         << QByteArray("a\xe2\x80\xa8"
                                                       "b\xe2\x80\xa9"
                                                       "c");
    QTest::newRow("out, control characters")
        << QByteArray("s5") << int(TrafficEvent::Direction::Out) << QByteArray("\x01\x02\x1f\x7f end");
    QTest::newRow("in, embedded NUL") << QByteArray("s7") << int(TrafficEvent::Direction::In)
                                      << QByteArray("nul>\0<nul", 9);
    QTest::newRow("in, large") << QByteArray("s6") << int(TrafficEvent::Direction::In) << QByteArray(100000, 'x');
}

void tst_MonitorTypes::trafficEvent()
{
    QFETCH(QByteArray, sessionId);
    QFETCH(int, direction);
    QFETCH(QByteArray, data);

    TrafficEvent event;
    event.sessionId = sessionId;
    event.direction = TrafficEvent::Direction(direction);
    event.time = QDateTime(QDate(2024, 5, 1), QTime(12, 34, 56, 789), Qt::UTC);
    event.data = data;

    const QJsonObject json = event.toJson();
    QCOMPARE(json.value(QStringLiteral("direction")).toString(),
             event.direction == TrafficEvent::Direction::In ? QStringLiteral("in") : QStringLiteral("out"));
    for (const QJsonObject &object : {json, throughText(json)}) {
        const TrafficEvent back = TrafficEvent::fromJson(object);
        QCOMPARE(back.sessionId, event.sessionId);
        QCOMPARE(back.direction, event.direction);
        QCOMPARE(back.time, event.time);
        QCOMPARE(back.data, event.data);
    }
}

// What a client written against an older or newer proxy may send: missing
// keys give the defaults, unknown peers stay "unknown" (-1).
void tst_MonitorTypes::defaultsFromEmptyJson()
{
    const SessionInfo info = SessionInfo::fromJson(QJsonObject());
    QVERIFY(info == SessionInfo());
    compareCounters(countersFromJson(QJsonObject()), Counters());
    compareRates(Rates::fromJson(QJsonObject()), Rates());
    const BackendStatus backend = BackendStatus::fromJson(QJsonObject());
    QCOMPARE(backend.inPeers, -1);
    QCOMPARE(backend.outPeers, -1);
    QCOMPARE(backend.queued, qsizetype(0));
    const MonitorStats stats = MonitorStats::fromJson(QJsonObject());
    QVERIFY(stats.services.isEmpty());
    QVERIFY(!stats.time.isValid());
    const TrafficEvent event = TrafficEvent::fromJson(QJsonObject());
    QCOMPARE(event.direction, TrafficEvent::Direction::In);
    QVERIFY(event.data.isEmpty());
}

// The key names are the documented wire format other tools read.
void tst_MonitorTypes::jsonKeys()
{
    SessionInfo info;
    info.id = "abc";
    info.openedAt = QDateTime(QDate(2024, 5, 1), QTime(12, 0, 0, 5), Qt::UTC);
    const QJsonObject session = info.toJson();
    for (const char *key :
         {"id", "service", "transport", "remote_address", "remote_port", "origin", "user_agent", "state", "opened_at",
          "last_activity", "messages_in", "messages_out", "bytes_in", "bytes_out", "queued"})
        QVERIFY2(session.contains(QLatin1String(key)), key);
    QCOMPARE(session.size(), 15);
    QCOMPARE(session.value(QStringLiteral("id")).toString(), QStringLiteral("abc"));
    QCOMPARE(session.value(QStringLiteral("opened_at")).toString(), QStringLiteral("2024-05-01T12:00:00.005Z"));
    // "via" only for a client behind a load balancer.
    info.via = QStringLiteral("10.0.0.2");
    QCOMPARE(info.toJson().size(), 16);
    QCOMPARE(info.toJson().value(QStringLiteral("via")).toString(), QStringLiteral("10.0.0.2"));
    // "node" only when a monitor of several nodes named it.
    info.node = QStringLiteral("n1");
    QCOMPARE(info.toJson().size(), 17);
    QCOMPARE(info.toJson().value(QStringLiteral("node")).toString(), QStringLiteral("n1"));

    // Counters: every row's key in the totals, all but the Server rows in a
    // service's; the keys of the first release among them.
    const QJsonObject counters = countersToJson(makeCounters(1), true);
    for (const char *key : {"sessions_opened", "sessions_closed", "messages_in", "messages_out", "bytes_in",
                            "bytes_out", "drops", "protocol_errors", "backend_events", "backend_errors"})
        QVERIFY2(counters.contains(QLatin1String(key)), key);
    QCOMPARE(counters.size(), qsizetype(kCounterCount));
    const QJsonObject serviceCounters = countersToJson(makeCounters(1), false);
    for (const CounterInfo &row : kCounterTable) {
        QVERIFY2(counters.contains(QLatin1String(row.key)), row.key);
        QVERIFY2(serviceCounters.contains(QLatin1String(row.key)) == (row.scope != CounterScope::Server), row.key);
    }

    const QJsonObject backend = BackendStatus().toJson();
    for (const char *key : {"in_endpoint", "out_endpoint", "in_peers", "out_peers", "queued", "dropped"})
        QVERIFY2(backend.contains(QLatin1String(key)), key);

    MonitorStats stats;
    stats.services.append(ServiceStats());
    const QJsonObject statsJson = stats.toJson();
    for (const char *key : {"time", "services", "sessions_open", "counters", "rates"})
        QVERIFY2(statsJson.contains(QLatin1String(key)), key);
    QCOMPARE(statsJson.value(QStringLiteral("services")).toArray().size(), 1);
    // "cluster" only from a cluster node: a proxy without one sends what it always did.
    QVERIFY(!statsJson.contains(QLatin1String("cluster")));
    QCOMPARE(statsJson.size(), 7);
    stats.node = "n1";
    stats.peers.append({QStringLiteral("tcp://127.0.0.1:9000"), "n2", true});
    const QJsonObject cluster = stats.toJson().value(QStringLiteral("cluster")).toObject();
    QCOMPARE(cluster.value(QStringLiteral("node")).toString(), QStringLiteral("n1"));
    QCOMPARE(QJsonDocument(cluster.value(QStringLiteral("peers")).toArray()).toJson(QJsonDocument::Compact),
             QByteArray("[{\"endpoint\":\"tcp://127.0.0.1:9000\",\"node\":\"n2\",\"up\":true}]"));
    const QJsonObject service = statsJson.value(QStringLiteral("services")).toArray().at(0).toObject();
    for (const char *key : {"prefix", "sessions_open", "counters", "rates", "backend"})
        QVERIFY2(service.contains(QLatin1String(key)), key);

    const QJsonObject traffic = TrafficEvent().toJson();
    for (const char *key : {"session", "direction", "time", "data"})
        QVERIFY2(traffic.contains(QLatin1String(key)), key);
}

QTEST_GUILESS_MAIN(tst_MonitorTypes)
#include "tst_monitortypes.moc"
