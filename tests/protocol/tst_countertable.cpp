// The table of counters (base/counters.h) against every exporter: a Server
// where refused origins, refused sessions (both reasons), address
// mismatches, 404s, a WebSocket upgrade, a protocol error and bad backend
// messages really happen; then every row of the table must appear, with the
// value the proxy keeps, in /metrics, in /api/snapshot, in the stream's
// stats as the RemoteMonitor reads them, and in the in-process Monitor.
//
// A Server on 127.0.0.1, port 0, with in-process TestBackends (TestServer),
// a Monitor and a ControlServer on 127.0.0.1, port 0.

#include "control/controlserver.h"
#include "control/remotemonitor.h"
#include "httpclient.h"
#include "metrics/monitor.h"
#include "sockjs/service.h"
#include "testbackend.h"
#include "testpaths.h"
#include "testserver.h"
#include "zmq/zmqbridge.h"

#include <QFile>
#include <QHostAddress>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QSet>
#include <QSignalSpy>
#include <QTest>
#include <QWebSocket>

#include <algorithm>
#include <memory>

using namespace SockJsProxy;
using namespace SockJsProxy::Test;

namespace {

constexpr int kWaitMs = 10000;
using Response = HttpClient::Response;

const QByteArray kGoodOrigin = QByteArrayLiteral("https://good.example.com");
const QByteArray kBadOrigin = QByteArrayLiteral("https://evil.example.net");
// The second loopback address: Linux routes all of 127/8 to lo.
const QHostAddress kOtherAddress(QStringLiteral("127.0.0.2"));

// The value of the sample line `series value` in Prometheus text, -1 when absent.
qint64 sample(const QByteArray &text, const QByteArray &series)
{
    for (const QByteArray &line : text.split('\n')) {
        if (line.startsWith(series + ' '))
            return line.mid(series.size() + 1).toLongLong();
    }
    return -1;
}

// The series of a row: name{service="/a",label} or name{label} or name.
QByteArray series(const CounterInfo &row, const QString &prefix)
{
    QByteArrayList labels;
    if (row.scope != CounterScope::Server)
        labels.append("service=\"" + prefix.toUtf8() + '"');
    if (*row.label)
        labels.append(row.label);
    return labels.isEmpty() ? QByteArray(row.name) : row.name + ('{' + labels.join(',') + '}');
}

} // namespace

class tst_CounterTable : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();
    void table();
    void everyRowInEveryExporter();

private:
    Service *service(const QString &prefix) const;
    // Makes one of each counted event happen; checks the counts as it goes.
    void provokeEverything();

    std::unique_ptr<TestServer> m_server;
    std::unique_ptr<Monitor> m_monitor;
    std::unique_ptr<ControlServer> m_control;
    std::unique_ptr<QWebSocket> m_webSocket; // open until cleanup: no count moves meanwhile
};

void tst_CounterTable::init()
{
    Config config;
    config.httpAddress = QStringLiteral("127.0.0.1");
    config.httpPort = 0;
    for (const char *prefix : {"/capped", "/peraddress", "/open"}) {
        ServiceConfig service;
        service.prefix = QString::fromLatin1(prefix);
        service.disconnectDelayMs = 600000; // sessions between polls outlive the test
        config.services.append(service);
    }
    config.services[0].origins = {QString::fromLatin1(kGoodOrigin)};
    config.services[0].maxSessions = 1;
    config.services[0].maxSessionsPerAddress = 0;
    config.services[0].checkAddress = true;
    config.services[1].maxSessionsPerAddress = 1;
    m_server = std::make_unique<TestServer>();
    QVERIFY(m_server->start(config));
    m_monitor = std::make_unique<Monitor>(m_server->server());
    m_control = std::make_unique<ControlServer>(m_monitor.get());
    QString error;
    QVERIFY2(m_control->listen(QStringLiteral("127.0.0.1:0"), &error), qPrintable(error));
}

void tst_CounterTable::cleanup()
{
    m_webSocket.reset();
    m_control.reset();
    m_monitor.reset();
    m_server.reset();
}

Service *tst_CounterTable::service(const QString &prefix) const
{
    const QList<Service *> &services = m_server->server()->services();
    const auto it =
        std::find_if(services.cbegin(), services.cend(), [&](const Service *s) { return s->prefix() == prefix; });
    return it == services.cend() ? nullptr : *it;
}

// The table itself: names and keys well-formed, the metric names of the
// first release unchanged.
void tst_CounterTable::table()
{
    QSet<QByteArray> keys;
    for (const CounterInfo &row : kCounterTable) {
        const QByteArray name(row.name);
        QVERIFY2(name.startsWith("sockjsproxy_") && name.endsWith("_total"), row.name);
        QVERIFY2(QRegularExpression(QStringLiteral("^[a-z_]+$")).match(QLatin1String(row.name)).hasMatch(), row.name);
        QVERIFY2(QRegularExpression(QStringLiteral("^[a-z_]+$")).match(QLatin1String(row.key)).hasMatch(), row.key);
        QVERIFY2(!keys.contains(row.key), row.key);
        keys.insert(row.key);
        QVERIFY2(*row.title && *row.help, row.key);
        if (row.runtimeLabel) // the label's name; its values come at run time
            QVERIFY2(QRegularExpression(QStringLiteral("^[a-z_]+$")).match(QLatin1String(row.label)).hasMatch(),
                     row.label);
        else if (*row.label)
            QVERIFY2(
                QRegularExpression(QStringLiteral("^[a-z_]+=\"[a-z_]+\"$")).match(QLatin1String(row.label)).hasMatch(),
                row.label);
    }
    QCOMPARE(qsizetype(keys.size()), qsizetype(kCounterCount));

    // The README's table of counters names every one.
    QFile readme(sourceDir() + QStringLiteral("/README.md"));
    QVERIFY(readme.open(QIODevice::ReadOnly));
    const QByteArray text = readme.readAll();
    for (const CounterInfo &row : kCounterTable) {
        QVERIFY2(text.contains('`' + QByteArray(row.name) + '`'), row.name);
        QVERIFY2(text.contains('`' + QByteArray(row.key) + '`'), row.key);
        if (*row.label && !row.runtimeLabel)
            QVERIFY2(text.contains(QByteArray(row.label).split('"').at(1)), row.label);
    }

    const std::pair<Counter, const char *> firstRelease[] = {
        {Counter::SessionsOpened, "sockjsproxy_sessions_opened_total"},
        {Counter::SessionsClosed, "sockjsproxy_sessions_closed_total"},
        {Counter::MessagesIn, "sockjsproxy_messages_in_total"},
        {Counter::MessagesOut, "sockjsproxy_messages_out_total"},
        {Counter::BytesIn, "sockjsproxy_bytes_in_total"},
        {Counter::BytesOut, "sockjsproxy_bytes_out_total"},
        {Counter::Drops, "sockjsproxy_drops_total"},
        {Counter::ProtocolErrors, "sockjsproxy_protocol_errors_total"},
        {Counter::BackendEvents, "sockjsproxy_backend_events_total"},
        {Counter::BackendErrors, "sockjsproxy_backend_errors_total"},
        {Counter::HttpRequests, "sockjsproxy_http_requests_total"},
        {Counter::HttpRejected, "sockjsproxy_http_rejected_total"},
        {Counter::ConnectionsAccepted, "sockjsproxy_connections_accepted_total"},
    };
    for (const auto &[id, name] : firstRelease)
        QCOMPARE(QByteArray(counterInfo(id).name), QByteArray(name));

    // Sums: every part adds to its sum.
    Counters counters;
    for (const CounterInfo &row : kCounterTable) {
        if (!row.sum)
            counters[row.id] = 1;
    }
    counters.computeSums();
    QCOMPARE(counters[Counter::Drops], quint64(2));
    QCOMPARE(counters[Counter::BackendEvents], quint64(4)); // message, disconnect, accept, broadcast
    QCOMPARE(counters[Counter::BackendErrors], quint64(5));
}

void tst_CounterTable::provokeEverything()
{
    const quint16 port = m_server->port();
    Service *capped = service(QStringLiteral("/capped"));
    Service *perAddress = service(QStringLiteral("/peraddress"));
    Service *open = service(QStringLiteral("/open"));
    const Counters &server = m_server->server()->counters();

    // A refused origin.
    QCOMPARE(HttpClient::request(port, "POST", "/capped/000/x/xhr", QByteArray(), {{"Origin", kBadOrigin}}).status,
             403);
    QCOMPARE(capped->counters()[Counter::RefusedOrigins], quint64(1));

    // Sessions refused for max_sessions, then for max_sessions_per_address.
    QCOMPARE(HttpClient::request(port, "POST", "/capped/000/s/xhr").body, QByteArray("o\n"));
    QCOMPARE(HttpClient::request(port, "POST", "/capped/000/t/xhr").status, 503);
    QCOMPARE(capped->counters()[Counter::RefusedSessionsMaxSessions], quint64(1));
    QCOMPARE(capped->counters()[Counter::RefusedSessionsPerAddress], quint64(0));
    QCOMPARE(HttpClient::request(port, "POST", "/peraddress/000/s/xhr").body, QByteArray("o\n"));
    QCOMPARE(HttpClient::request(port, "POST", "/peraddress/000/t/xhr").status, 503);
    QCOMPARE(perAddress->counters()[Counter::RefusedSessionsPerAddress], quint64(1));
    QCOMPARE(perAddress->counters()[Counter::RefusedSessionsMaxSessions], quint64(0));

    // An address mismatch (check_address).
    HttpClient hijacker(port, kWaitMs);
    QVERIFY2(hijacker.socket().bind(kOtherAddress) && hijacker.connectToServer(), "cannot connect from 127.0.0.2");
    hijacker.sendRequest("POST", "/capped/000/s/xhr_send", "[\"x\"]");
    QCOMPARE(hijacker.readResponse().status, 403);
    QCOMPARE(capped->counters()[Counter::AddressMismatches], quint64(1));

    // 404s: under a service, and for no service at all.
    QCOMPARE(HttpClient::request(port, "POST", "/open/000/s/no_such_transport").status, 404);
    QCOMPARE(HttpClient::request(port, "POST", "/open/000/nobody/xhr_send", "[\"x\"]").status, 404);
    QCOMPARE(open->counters()[Counter::ServiceNotFound], quint64(2));
    QCOMPARE(HttpClient::request(port, "GET", "/nowhere").status, 404);
    QCOMPARE(server[Counter::HttpNotFound], quint64(1));

    // A WebSocket upgrade, and a protocol error on it.
    m_webSocket = std::make_unique<QWebSocket>();
    QSignalSpy messages(m_webSocket.get(), &QWebSocket::textMessageReceived);
    m_webSocket->open(QUrl(QStringLiteral("ws://127.0.0.1:%1/open/000/w/websocket").arg(port)));
    QTRY_COMPARE_WITH_TIMEOUT(messages.size(), 1, kWaitMs);
    QCOMPARE(server[Counter::WebSocketUpgrades], quint64(1));
    QCOMPARE(HttpClient::request(port, "POST", "/open/000/h/xhr").body, QByteArray("o\n"));
    QCOMPARE(HttpClient::request(port, "POST", "/open/000/h/xhr_send", "[broken").status, 500);
    QCOMPARE(open->counters()[Counter::ProtocolErrors], quint64(1));

    // Backend messages for no session, with too few frames, of an unknown type.
    TestBackend *backend = m_server->backend(QStringLiteral("/open"));
    backend->sendMessage("no-such-session", "x");
    backend->sendRaw({"message", "only two"});
    backend->sendRaw({"bogus", "id", "x"});
    QTRY_COMPARE_WITH_TIMEOUT(open->bridge()->counters()[Counter::BackendUnknownType], quint64(1), kWaitMs);
    QCOMPARE(open->counters()[Counter::UnknownSessionFromBackend], quint64(1));
    QCOMPARE(open->bridge()->counters()[Counter::BackendMalformed], quint64(1));
    QCOMPARE(Monitor::rawCounters(open)[Counter::BackendErrors], quint64(3));
}

void tst_CounterTable::everyRowInEveryExporter()
{
    RemoteMonitor remote;
    QSignalSpy connected(&remote, &MonitorSource::connectionChanged);
    remote.attach(QStringLiteral("127.0.0.1:%1").arg(m_control->port()), QByteArray());
    QTRY_VERIFY_WITH_TIMEOUT(remote.isConnected(), kWaitMs);

    provokeEverything();
    if (QTest::currentTestFailed())
        return;
    m_monitor->sampleStats(20'000);

    const Counters &server = m_server->server()->counters();
    const QList<Service *> services = m_server->server()->services();
    QList<Counters> raw;
    for (const Service *service : services)
        raw.append(Monitor::rawCounters(service));
    const auto expected = [&](const CounterInfo &row, qsizetype serviceIndex) {
        return row.scope == CounterScope::Server ? server[row.id] : raw.at(serviceIndex)[row.id];
    };

    // Every counted event above shows in some row; each of these rows is non-zero.
    for (const Counter id :
         {Counter::RefusedOrigins, Counter::RefusedSessionsMaxSessions, Counter::RefusedSessionsPerAddress,
          Counter::AddressMismatches, Counter::ServiceNotFound, Counter::HttpNotFound, Counter::WebSocketUpgrades,
          Counter::ProtocolErrors, Counter::UnknownSessionFromBackend, Counter::BackendMalformed,
          Counter::BackendUnknownType, Counter::BackendErrors}) {
        quint64 total = m_monitor->stats().counters[id];
        QVERIFY2(total > 0, counterInfo(id).key);
    }

    // /metrics: one HELP and TYPE per name, one line per row (and service).
    const Response metrics = HttpClient::request(m_control->port(), "GET", "/metrics");
    QCOMPARE(metrics.status, 200);
    for (const CounterInfo &row : kCounterTable) {
        QVERIFY2(metrics.body.contains("\n# TYPE " + QByteArray(row.name) + " counter\n"), row.name);
        QCOMPARE(metrics.body.count("# HELP " + QByteArray(row.name) + ' '), 1);
        if (row.runtimeLabel) {
            // One line per label value: none without a cluster.
            QVERIFY2(!metrics.body.contains('\n' + QByteArray(row.name) + '{'), row.name);
            continue;
        }
        const int lines = row.scope == CounterScope::Server ? 1 : int(services.size());
        for (int i = 0; i < lines; ++i) {
            const QByteArray name = series(row, services.at(i)->prefix());
            QVERIFY2(sample(metrics.body, name) == qint64(expected(row, i)), name.constData());
        }
    }
    QCOMPARE(sample(metrics.body, "sockjsproxy_sessions_refused_total{service=\"/capped\",reason=\"max_sessions\"}"),
             1);
    QCOMPARE(sample(metrics.body,
                    "sockjsproxy_sessions_refused_total{service=\"/peraddress\",reason=\"max_sessions_per_address\"}"),
             1);
    QCOMPARE(sample(metrics.body, "sockjsproxy_origins_refused_total{service=\"/capped\"}"), 1);
    QCOMPARE(sample(metrics.body, "sockjsproxy_websocket_upgrades_total"), 1);

    // /api/snapshot: every row in the totals, all but the Server rows per service.
    const Response snapshot = HttpClient::request(m_control->port(), "GET", "/api/snapshot");
    QCOMPARE(snapshot.status, 200);
    const QJsonObject stats = QJsonDocument::fromJson(snapshot.body).object().value(QStringLiteral("stats")).toObject();
    const QJsonObject totals = stats.value(QStringLiteral("counters")).toObject();
    const QJsonArray serviceStats = stats.value(QStringLiteral("services")).toArray();
    QCOMPARE(serviceStats.size(), services.size());
    for (const CounterInfo &row : kCounterTable) {
        const QLatin1String key(row.key);
        QVERIFY2(totals.contains(key), row.key);
        quint64 sum = row.scope == CounterScope::Server ? server[row.id] : 0;
        for (qsizetype i = 0; i < services.size(); ++i) {
            const QJsonObject service = serviceStats.at(i).toObject();
            QCOMPARE(service.value(QStringLiteral("prefix")).toString(), services.at(i)->prefix());
            const QJsonObject counters = service.value(QStringLiteral("counters")).toObject();
            QVERIFY2(counters.contains(key) == (row.scope != CounterScope::Server), row.key);
            if (row.scope != CounterScope::Server) {
                QVERIFY2(quint64(counters.value(key).toDouble()) == expected(row, i), row.key);
                sum += expected(row, i);
            }
        }
        QVERIFY2(quint64(totals.value(key).toDouble()) == sum, row.key);
        QVERIFY2(m_monitor->stats().counters[row.id] == sum, row.key);
    }

    // The stream's stats, as the RemoteMonitor reads them.
    m_monitor->sampleStats(30'000);
    QTRY_COMPARE_WITH_TIMEOUT(remote.stats().time, QDateTime::fromMSecsSinceEpoch(30'000, Qt::UTC), kWaitMs);
    QVERIFY(remote.stats().counters == m_monitor->stats().counters);
    QCOMPARE(remote.stats().services.size(), services.size());
    for (qsizetype i = 0; i < services.size(); ++i)
        QVERIFY(remote.stats().services.at(i).counters == m_monitor->stats().services.at(i).counters);

    // Clearing restarts the counters shown, Server rows included.
    m_monitor->clearCounters();
    for (const CounterInfo &row : kCounterTable)
        QVERIFY2(m_monitor->stats().counters[row.id] == 0, row.key);
    QCOMPARE(sample(m_monitor->prometheusText(), "sockjsproxy_websocket_upgrades_total"), 1);
}

QTEST_GUILESS_MAIN(tst_CounterTable)
#include "tst_countertable.moc"
