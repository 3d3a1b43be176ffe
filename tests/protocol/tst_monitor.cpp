// Monitor over a TestServer with real clients (QWebSocket, raw HTTP) and the
// in-process TestBackends: the session table and its change signals, the
// counters and rates (fake time through sampleStats(nowMs)), clearCounters,
// traffic of inspected sessions, the commands (disconnect, send), backend
// status and the Prometheus text.
//
// Timers of the Monitor are never started: the tests call
// publishSessionChanges() and sampleStats() themselves. No sleeps: every
// wait spins the event loop until a condition holds or a deadline passes.

#include "httpclient.h"
#include "sockjsframes.h"
#include "testbackend.h"
#include "testserver.h"
#include "waituntil.h"
#include "websocketclient.h"

#include "metrics/monitor.h"
#include "sockjs/service.h"
#include "sockjs/session.h"
#include "zmq/zmqbridge.h"

#include <QRegularExpression>
#include <QSet>
#include <QSignalSpy>
#include <QTest>

#include <algorithm>
#include <memory>

using namespace SockJsProxy;
using namespace SockJsProxy::Test;

namespace {

constexpr int kWaitMs = 5000;           // generous under ASan; passing runs take far less
constexpr int kDisconnectDelayMs = 200; // /echo's, so ended HTTP sessions go quickly

const QByteArray kGoAway = QByteArrayLiteral("c[3000,\"Go away!\"]");
const QByteArray kEcho = QByteArrayLiteral("/echo");

// A SockJS client over xhr_streaming (receiving) and xhr_send (sending).
class XhrStreamClient
{
public:
    XhrStreamClient(quint16 port, const QByteArray &prefix, const QByteArray &urlId)
        : m_http(port), m_port(port), m_base(prefix + "/000/" + urlId)
    {}

    bool open(const QList<QPair<QByteArray, QByteArray>> &headers = {})
    {
        if (!m_http.connectToServer())
            return false;
        m_http.sendRequest("POST", m_base + "/xhr_streaming", QByteArray(), headers);
        const HttpClient::Response head = m_http.readHead();
        if (!head.ok || head.status != 200)
            return false;
        return readUntil("o\n");
    }

    bool send(const QStringList &messages)
    {
        return HttpClient::request(m_port, "POST", m_base + "/xhr_send", sockJsMessages(messages)).status == 204;
    }

    // Reads chunks until what was received contains needle.
    bool readUntil(const QByteArray &needle) { return m_http.readChunksUntil(&m_received, needle); }

    QStringList messages() const
    {
        QList<QByteArray> frames = m_received.split('\n');
        return decodedMessages(frames);
    }
    QByteArray received() const { return m_received; }
    HttpClient &http() { return m_http; }

private:
    HttpClient m_http;
    quint16 m_port;
    QByteArray m_base;
    QByteArray m_received;
};

// Everything a MonitorSource emitted.
class Recorder : public QObject
{
public:
    explicit Recorder(MonitorSource *source)
    {
        connect(source, &MonitorSource::sessionsChanged, this,
                [this](const QList<SessionInfo> &upserted, const QList<QByteArray> &removedIds) {
                    changes.append({upserted, removedIds});
                    for (const SessionInfo &info : upserted)
                        latest.insert(info.id, info);
                    removed += removedIds;
                });
        connect(source, &MonitorSource::traffic, this, [this](const TrafficEvent &event) { traffic.append(event); });
        connect(source, &MonitorSource::statsUpdated, this, [this](const MonitorStats &s) { stats.append(s); });
    }

    QList<QPair<QList<SessionInfo>, QList<QByteArray>>> changes;
    QHash<QByteArray, SessionInfo> latest;
    QList<QByteArray> removed;
    QList<TrafficEvent> traffic;
    QList<MonitorStats> stats;

    QList<TrafficEvent> trafficOf(const QByteArray &id) const
    {
        QList<TrafficEvent> result;
        for (const TrafficEvent &event : traffic) {
            if (event.sessionId == id)
                result.append(event);
        }
        return result;
    }
};

bool containsSession(const QList<SessionInfo> &sessions, const QByteArray &id)
{
    return std::any_of(sessions.cbegin(), sessions.cend(), [&](const SessionInfo &s) { return s.id == id; });
}

SessionInfo findSession(const QList<SessionInfo> &sessions, const QByteArray &id)
{
    for (const SessionInfo &info : sessions) {
        if (info.id == id)
            return info;
    }
    return SessionInfo();
}

const ServiceStats *serviceStats(const MonitorStats &stats, const QString &prefix)
{
    for (const ServiceStats &service : stats.services) {
        if (service.prefix == prefix)
            return &service;
    }
    return nullptr;
}

// The value of one Prometheus sample line ("name{labels} value"), -1 when absent.
qint64 sampleValue(const QByteArray &text, const QByteArray &nameAndLabels)
{
    for (const QByteArray &line : text.split('\n')) {
        if (line.startsWith(nameAndLabels + ' '))
            return line.mid(nameAndLabels.size() + 1).toLongLong();
    }
    return -1;
}

} // namespace

class tst_Monitor : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void sessionsAppearAndDisappear_data();
    void sessionsAppearAndDisappear();
    void onlyChangesRepublished();
    void heldSessionsSayWhoClosed();
    void sessionCounters();

    void countersAndRates_data();
    void countersAndRates();
    void clearCounters();

    void traffic_data();
    void traffic();
    void trafficStopsWhenUninspected();

    void disconnectSessions_data();
    void disconnectSessions();
    void sendToSession_data();
    void sendToSession();
    void commandsForUnknownSessions();

    void backendStatusInproc();
    void backendStatusTcp();

    void prometheusText();

private:
    // Waits for the next "connect" at prefix's backend and returns its session id.
    QByteArray waitForConnect(const QString &prefix = QStringLiteral("/echo"));
    Service *service(const QString &prefix) const;

    std::unique_ptr<TestServer> m_server;
    std::unique_ptr<Monitor> m_monitor;
    int m_connectsSeen = 0;
};

void tst_Monitor::init()
{
    m_server = std::make_unique<TestServer>();
    Config config = TestServer::protocolConfig(QString());
    config.services[0].disconnectDelayMs = kDisconnectDelayMs;
    QCOMPARE(config.services[0].prefix, QStringLiteral("/echo"));
    QVERIFY(m_server->start(config));
    m_monitor = std::make_unique<Monitor>(m_server->server());
    m_connectsSeen = 0;
}

void tst_Monitor::cleanup()
{
    m_monitor.reset(); // never outlives the Server
    m_server.reset();
}

QByteArray tst_Monitor::waitForConnect(const QString &prefix)
{
    TestBackend *backend = m_server->backend(prefix);
    const int wanted = ++m_connectsSeen;
    if (!waitUntil([&] { return backend->sessionIds("connect").size() >= wanted; }))
        return QByteArray();
    return backend->sessionIds("connect").at(wanted - 1);
}

Service *tst_Monitor::service(const QString &prefix) const
{
    for (Service *service : m_server->server()->services()) {
        if (service->prefix() == prefix)
            return service;
    }
    return nullptr;
}

void tst_Monitor::sessionsAppearAndDisappear_data()
{
    QTest::addColumn<QByteArray>("transport");
    // How it ends (below): the client closes, aborts, or stops polling.
    QTest::addColumn<int>("closeCode");
    QTest::addColumn<QString>("closeReason");
    QTest::addColumn<QString>("closedBy");
    const QString interrupted = QStringLiteral("Connection interrupted");
    const QString client = QStringLiteral("client");
    // A WebSocket client's close: the connection ends under the session.
    QTest::newRow("websocket") << QByteArray("websocket") << 1002 << interrupted << client;
    QTest::newRow("rawwebsocket") << QByteArray("rawwebsocket") << 1002 << interrupted << client;
    QTest::newRow("xhr-streaming") << QByteArray("xhr-streaming") << 1002 << interrupted << client;
    QTest::newRow("xhr-polling") << QByteArray("xhr-polling") << 1002 << interrupted << QStringLiteral("timeout");
}

void tst_Monitor::sessionsAppearAndDisappear()
{
    QFETCH(QByteArray, transport);
    QFETCH(int, closeCode);
    QFETCH(QString, closeReason);
    QFETCH(QString, closedBy);
    Recorder recorder(m_monitor.get());
    const QString origin = QString::fromUtf8("http://caf\xc3\xa9.example:8000");
    const QByteArray userAgent = "MonitorTest/1.0 (" + transport + ")";

    m_monitor->publishSessionChanges();
    QCOMPARE(recorder.changes.size(), 0); // nothing yet, nothing said
    QVERIFY(m_monitor->sessions().isEmpty());

    std::unique_ptr<WebSocketClient> ws;
    std::unique_ptr<XhrStreamClient> stream;
    quint16 clientPort = 0;
    if (transport == "websocket" || transport == "rawwebsocket") {
        ws = std::make_unique<WebSocketClient>(origin);
        const WebSocketClient::Headers headers{{"User-Agent", userAgent}};
        // Raw WebSocket: no open frame, the handshake is all.
        QVERIFY(transport == "rawwebsocket" ? ws->connectTo(m_server->port(), "/echo/websocket", headers)
                                            : ws->openSession(m_server->port(), "/echo/000/s1/websocket", headers));
        clientPort = ws->socket().localPort();
    } else if (transport == "xhr-streaming") {
        stream = std::make_unique<XhrStreamClient>(m_server->port(), kEcho, "s1");
        QVERIFY(stream->open({{"Origin", origin.toUtf8()}, {"User-Agent", userAgent}}));
        clientPort = stream->http().socket().localPort();
    } else {
        HttpClient http(m_server->port());
        QVERIFY(http.connectToServer());
        http.sendRequest("POST", "/echo/000/s1/xhr", QByteArray(),
                         {{"Origin", origin.toUtf8()}, {"User-Agent", userAgent}});
        const HttpClient::Response response = http.readResponse();
        QCOMPARE(response.status, 200);
        QCOMPARE(response.body, QByteArray("o\n"));
        clientPort = http.socket().localPort();
    }
    const QByteArray id = waitForConnect();
    QVERIFY(!id.isEmpty());

    // In sessions() at once, whatever the signals say.
    const QList<SessionInfo> sessions = m_monitor->sessions();
    QCOMPARE(sessions.size(), 1);
    const SessionInfo &info = sessions.first();
    QCOMPARE(info.id, id);
    QCOMPARE(info.service, QStringLiteral("/echo"));
    QCOMPARE(info.transport, transport);
    QCOMPARE(info.remoteAddress, QStringLiteral("127.0.0.1"));
    QCOMPARE(info.remotePort, clientPort);
    QCOMPARE(info.origin, origin);
    QCOMPARE(info.userAgent, QString::fromUtf8(userAgent));
    // An xhr-polling session between two polls waits for the next.
    QCOMPARE(info.state, transport == "xhr-polling" ? QStringLiteral("waiting") : QStringLiteral("open"));
    QVERIFY(info.closedBy.isEmpty());
    QVERIFY(info.openedAt.isValid());
    QVERIFY(info.lastActivity.isValid());
    QCOMPARE(info.messagesIn, quint64(0));

    // Upserted once, with the same facts.
    m_monitor->publishSessionChanges();
    QCOMPARE(recorder.changes.size(), 1);
    QCOMPARE(recorder.changes.first().first.size(), 1);
    QVERIFY(recorder.changes.first().second.isEmpty());
    QVERIFY(recorder.changes.first().first.first() == info);

    // The session ends: removed, and gone from sessions().
    if (ws)
        ws->socket().close();
    else if (stream)
        stream->http().socket().abort();
    // (xhr-polling: no request comes back; the disconnect delay ends it.)
    QTRY_VERIFY_WITH_TIMEOUT(!containsSession(m_monitor->sessions(), id), kWaitMs);
    m_monitor->publishSessionChanges();
    QCOMPARE(recorder.removed, QList<QByteArray>{id});
    // Published once more as it ended, in the same signal that removes it.
    QCOMPARE(recorder.changes.last().second, QList<QByteArray>{id});
    QCOMPARE(recorder.changes.last().first.size(), 1);
    const SessionInfo ended = recorder.changes.last().first.first();
    QCOMPARE(ended.id, id);
    QCOMPARE(ended.state, QStringLiteral("closed"));
    QCOMPARE(ended.closeCode, closeCode);
    QCOMPARE(ended.closeReason, closeReason);
    QCOMPARE(ended.closedBy, closedBy);
    QVERIFY(ended.closedAt.isValid());
    QVERIFY(ended.closedAt >= ended.openedAt);
    QTRY_COMPARE_WITH_TIMEOUT(m_server->backend(QStringLiteral("/echo"))->sessionIds("disconnect"),
                              QList<QByteArray>{id}, kWaitMs);

    // Said once: nothing more to publish.
    const qsizetype changes = recorder.changes.size();
    m_monitor->publishSessionChanges();
    QCOMPARE(recorder.changes.size(), changes);
}

// A session held for the backend's accept (require_accept) that never
// opens ends in the monitor like any other: with its close code and reason
// and who closed it, the backend's refusal or the accept timeout.
void tst_Monitor::heldSessionsSayWhoClosed()
{
    TestServer server;
    Config config = TestServer::protocolConfig(QStringLiteral("held"));
    ServiceConfig held = config.services.first();
    held.prefix = QStringLiteral("/held");
    held.requireAccept = true;
    held.acceptTimeoutMs = 300;
    config.services = {held};
    QVERIFY(server.start(config));
    Monitor monitor(server.server());
    Recorder recorder(&monitor);
    TestBackend *backend = server.backend(QStringLiteral("/held")); // echoes; never accepts

    WebSocketClient refused;
    QVERIFY(refused.connectTo(server.port(), "/held/000/r1/websocket"));
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("connect").size(), 1, kWaitMs);
    WebSocketClient late;
    QVERIFY(late.connectTo(server.port(), "/held/000/t1/websocket"));
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("connect").size(), 2, kWaitMs);
    const QByteArray refusedId = backend->sessionIds("connect").at(0);
    const QByteArray lateId = backend->sessionIds("connect").at(1);
    monitor.publishSessionChanges();
    QVERIFY(recorder.latest.value(refusedId).closedBy.isEmpty());

    backend->sendDisconnect(refusedId, R"({"code": 4001, "reason": "Unauthorized"})");
    QTRY_VERIFY_WITH_TIMEOUT(!containsSession(monitor.sessions(), refusedId), kWaitMs);
    QTRY_VERIFY_WITH_TIMEOUT(!containsSession(monitor.sessions(), lateId), kWaitMs);
    monitor.publishSessionChanges();
    const SessionInfo refusal = recorder.latest.value(refusedId);
    QCOMPARE(refusal.state, QStringLiteral("closed"));
    QCOMPARE(refusal.closeCode, 4001);
    QCOMPARE(refusal.closeReason, QStringLiteral("Unauthorized"));
    QCOMPARE(refusal.closedBy, QStringLiteral("backend"));
    const SessionInfo timeout = recorder.latest.value(lateId);
    QCOMPARE(timeout.state, QStringLiteral("closed"));
    QCOMPARE(timeout.closeCode, Session::kAcceptTimeoutCode);
    QCOMPARE(timeout.closeReason, QString::fromUtf8(Session::acceptTimeoutReason()));
    QCOMPARE(timeout.closedBy, QStringLiteral("timeout"));
    QCOMPARE(QSet<QByteArray>(recorder.removed.cbegin(), recorder.removed.cend()),
             (QSet<QByteArray>{refusedId, lateId}));
}

void tst_Monitor::onlyChangesRepublished()
{
    Recorder recorder(m_monitor.get());
    WebSocketClient a;
    QVERIFY(a.openSession(m_server->port(), "/echo/000/a/websocket"));
    const QByteArray idA = waitForConnect();
    WebSocketClient b;
    QVERIFY(b.openSession(m_server->port(), "/echo/000/b/websocket"));
    const QByteArray idB = waitForConnect();
    QVERIFY(idA != idB);

    m_monitor->publishSessionChanges();
    QCOMPARE(recorder.changes.size(), 1);
    QCOMPARE(recorder.changes.at(0).first.size(), 2);
    QVERIFY(recorder.latest.contains(idA));
    QVERIFY(recorder.latest.contains(idB));

    // Nothing happened: no signal at all.
    m_monitor->publishSessionChanges();
    m_monitor->publishSessionChanges();
    QCOMPARE(recorder.changes.size(), 1);

    // A talks: only A comes again.
    a.send({QStringLiteral("ping")});
    QVERIFY(a.waitForMessages(1));
    m_monitor->publishSessionChanges();
    QCOMPARE(recorder.changes.size(), 2);
    QCOMPARE(recorder.changes.at(1).first.size(), 1);
    QCOMPARE(recorder.changes.at(1).first.first().id, idA);
    QVERIFY(recorder.changes.at(1).second.isEmpty());
    QCOMPARE(recorder.latest.value(idA).messagesIn, quint64(1));
    QCOMPARE(recorder.latest.value(idA).messagesOut, quint64(1));

    // B goes: only B is removed, A is not re-sent.
    QVERIFY(b.socket().state() == QAbstractSocket::ConnectedState);
    b.socket().close();
    QTRY_VERIFY_WITH_TIMEOUT(!containsSession(m_monitor->sessions(), idB), kWaitMs);
    m_monitor->publishSessionChanges();
    QCOMPARE(recorder.changes.size(), 3);
    QCOMPARE(recorder.changes.at(2).first.size(), 1); // B as it ended
    QCOMPARE(recorder.changes.at(2).first.first().id, idB);
    QCOMPARE(recorder.changes.at(2).first.first().state, QStringLiteral("closed"));
    QCOMPARE(recorder.changes.at(2).second, QList<QByteArray>{idB});
    QVERIFY(containsSession(m_monitor->sessions(), idA));
}

// Per-session counters count messages and their bytes in both directions.
void tst_Monitor::sessionCounters()
{
    WebSocketClient ws;
    QVERIFY(ws.openSession(m_server->port(), "/echo/000/c/websocket"));
    const QByteArray id = waitForConnect();
    const QStringList messages{QStringLiteral("one"), QString::fromUtf8("t\xc3\xa9"), QStringLiteral("three!")};
    ws.send(messages);
    QVERIFY(ws.waitForMessages(3));
    const SessionInfo info = findSession(m_monitor->sessions(), id);
    QCOMPARE(info.messagesIn, quint64(3));
    QCOMPARE(info.messagesOut, quint64(3));
    QCOMPARE(info.bytesIn, quint64(3 + 3 + 6)); // UTF-8 bytes
    QCOMPARE(info.bytesOut, quint64(12));
    QCOMPARE(info.queued, qsizetype(0));
}

void tst_Monitor::countersAndRates_data()
{
    QTest::addColumn<int>("count");
    QTest::addColumn<int>("intervalMs");
    QTest::newRow("1 message, 1 s") << 1 << 1000;
    QTest::newRow("10 messages, 1 s") << 10 << 1000;
    QTest::newRow("100 messages, 1 s") << 100 << 1000;
    QTest::newRow("50 messages, 250 ms") << 50 << 250;
    QTest::newRow("30 messages, 3 s") << 30 << 3000;
}

void tst_Monitor::countersAndRates()
{
    QFETCH(int, count);
    QFETCH(int, intervalMs);
    Recorder recorder(m_monitor.get());
    WebSocketClient ws;
    QVERIFY(ws.openSession(m_server->port(), "/echo/000/r/websocket"));
    waitForConnect();

    const qint64 t0 = 1'000'000; // fake time
    m_monitor->sampleStats(t0);
    QCOMPARE(recorder.stats.size(), 1);
    const ServiceStats *echo = serviceStats(m_monitor->stats(), QStringLiteral("/echo"));
    QVERIFY(echo);
    QCOMPARE(echo->counters[Counter::SessionsOpened], quint64(1));
    QCOMPARE(echo->rates.messagesIn, 0.0); // first sample
    QCOMPARE(m_monitor->stats().time, QDateTime::fromMSecsSinceEpoch(t0, Qt::UTC));

    // count messages of 4 bytes each, one per frame.
    for (int i = 0; i < count; ++i)
        ws.send({QStringLiteral("m%1").arg(i % 100, 3, 10, QLatin1Char('0'))});
    QVERIFY(ws.waitForMessages(count));
    QTRY_COMPARE_WITH_TIMEOUT(m_server->backend(QStringLiteral("/echo"))->eventsOfType("message").size(),
                              qsizetype(count), kWaitMs);

    m_monitor->sampleStats(t0 + intervalMs);
    QCOMPARE(recorder.stats.size(), 2);
    const MonitorStats stats = m_monitor->stats();
    QCOMPARE(recorder.stats.last().time, stats.time);
    echo = serviceStats(stats, QStringLiteral("/echo"));
    QVERIFY(echo);
    const double perSecond = 1000.0 / intervalMs;
    QCOMPARE(echo->sessionsOpen, qsizetype(1));
    QCOMPARE(echo->counters[Counter::SessionsOpened], quint64(1));
    QCOMPARE(echo->counters[Counter::SessionsClosed], quint64(0));
    QCOMPARE(echo->counters[Counter::MessagesIn], quint64(count));
    QCOMPARE(echo->counters[Counter::MessagesOut], quint64(count));
    QCOMPARE(echo->counters[Counter::BytesIn], quint64(4 * count));
    QCOMPARE(echo->counters[Counter::BytesOut], quint64(4 * count));
    QCOMPARE(echo->counters[Counter::BackendEvents], quint64(count));
    QCOMPARE(echo->counters[Counter::Drops], quint64(0));
    QCOMPARE(echo->rates.messagesIn, count * perSecond);
    QCOMPARE(echo->rates.messagesOut, count * perSecond);
    QCOMPARE(echo->rates.bytesIn, 4 * count * perSecond);
    QCOMPARE(echo->rates.sessionsOpened, 0.0); // opened before t0
    // The other services saw nothing.
    const ServiceStats *close = serviceStats(stats, QStringLiteral("/close"));
    QVERIFY(close);
    QCOMPARE(close->counters[Counter::MessagesIn], quint64(0));
    QCOMPARE(close->rates.messagesIn, 0.0);
    // Totals sum the services.
    QCOMPARE(stats.services.size(), 4);
    QCOMPARE(stats.sessionsOpen, qsizetype(1));
    QCOMPARE(stats.counters[Counter::MessagesIn], quint64(count));
    QCOMPARE(stats.rates.messagesIn, count * perSecond);
    QCOMPARE(stats.rates.bytesOut, 4 * count * perSecond);

    // Nothing more: the next interval's rate is zero, counters stay.
    m_monitor->sampleStats(t0 + 2 * intervalMs);
    echo = serviceStats(m_monitor->stats(), QStringLiteral("/echo"));
    QCOMPARE(echo->rates.messagesIn, 0.0);
    QCOMPARE(echo->counters[Counter::MessagesIn], quint64(count));

    // The session closes: sessions_closed counts it, its rate shows.
    ws.socket().close();
    QTRY_COMPARE_WITH_TIMEOUT(m_server->backend(QStringLiteral("/echo"))->sessionIds("disconnect").size(), qsizetype(1),
                              kWaitMs);
    QTRY_VERIFY_WITH_TIMEOUT(m_monitor->sessions().isEmpty(), kWaitMs);
    m_monitor->sampleStats(t0 + 3 * intervalMs);
    echo = serviceStats(m_monitor->stats(), QStringLiteral("/echo"));
    QCOMPARE(echo->counters[Counter::SessionsClosed], quint64(1));
    QCOMPARE(echo->sessionsOpen, qsizetype(0));
    QCOMPARE(echo->rates.sessionsClosed, perSecond);
}

void tst_Monitor::clearCounters()
{
    WebSocketClient ws;
    QVERIFY(ws.openSession(m_server->port(), "/echo/000/x/websocket"));
    waitForConnect();
    ws.send({QStringLiteral("a"), QStringLiteral("b"), QStringLiteral("c")});
    QVERIFY(ws.waitForMessages(3));

    const qint64 now = QDateTime::currentMSecsSinceEpoch(); // clearCounters() samples at the real clock
    m_monitor->sampleStats(now);
    QCOMPARE(serviceStats(m_monitor->stats(), QStringLiteral("/echo"))->counters[Counter::MessagesIn], quint64(3));

    QSignalSpy statsSpy(m_monitor.get(), &MonitorSource::statsUpdated);
    m_monitor->clearCounters();
    QCOMPARE(statsSpy.size(), 1); // shown at once
    MonitorStats stats = m_monitor->stats();
    const ServiceStats *echo = serviceStats(stats, QStringLiteral("/echo"));
    QCOMPARE(echo->counters[Counter::SessionsOpened], quint64(0));
    QCOMPARE(echo->counters[Counter::MessagesIn], quint64(0));
    QCOMPARE(echo->counters[Counter::MessagesOut], quint64(0));
    QCOMPARE(echo->counters[Counter::BytesIn], quint64(0));
    QCOMPARE(echo->counters[Counter::BackendEvents], quint64(0));
    QCOMPARE(stats.counters[Counter::MessagesIn], quint64(0));
    QCOMPARE(stats.counters[Counter::SessionsOpened], quint64(0));
    QCOMPARE(echo->sessionsOpen, qsizetype(1)); // a gauge, not a counter
    QCOMPARE(stats.sessionsOpen, qsizetype(1));

    // Prometheus keeps the proxy's own counters: they never go back.
    QByteArray text = m_monitor->prometheusText();
    QCOMPARE(sampleValue(text, "sockjsproxy_messages_in_total{service=\"/echo\"}"), 3);
    QCOMPARE(sampleValue(text, "sockjsproxy_sessions_opened_total{service=\"/echo\"}"), 1);
    QCOMPARE(Monitor::rawCounters(service(QStringLiteral("/echo")))[Counter::MessagesIn], quint64(3));

    // Counting goes on from zero.
    ws.send({QStringLiteral("d"), QStringLiteral("e")});
    QVERIFY(ws.waitForMessages(5));
    m_monitor->sampleStats(QDateTime::currentMSecsSinceEpoch() + 1000);
    stats = m_monitor->stats();
    echo = serviceStats(stats, QStringLiteral("/echo"));
    QCOMPARE(echo->counters[Counter::MessagesIn], quint64(2));
    QCOMPARE(echo->counters[Counter::MessagesOut], quint64(2));
    QCOMPARE(stats.counters[Counter::MessagesIn], quint64(2));
    QVERIFY(echo->rates.messagesIn >= 0.0);
    QVERIFY(stats.rates.messagesIn >= 0.0);
    text = m_monitor->prometheusText();
    QCOMPARE(sampleValue(text, "sockjsproxy_messages_in_total{service=\"/echo\"}"), 5);

    // Clearing twice is harmless.
    m_monitor->clearCounters();
    m_monitor->clearCounters();
    QCOMPARE(serviceStats(m_monitor->stats(), QStringLiteral("/echo"))->counters[Counter::MessagesIn], quint64(0));
    QCOMPARE(sampleValue(m_monitor->prometheusText(), "sockjsproxy_messages_in_total{service=\"/echo\"}"), 5);
}

void tst_Monitor::traffic_data()
{
    QTest::addColumn<QByteArray>("transport");
    QTest::newRow("websocket") << QByteArray("websocket");
    QTest::newRow("xhr-streaming") << QByteArray("xhr-streaming");
}

void tst_Monitor::traffic()
{
    QFETCH(QByteArray, transport);
    Recorder recorder(m_monitor.get());
    const bool websocket = transport == "websocket";
    const QString text = QString::fromUtf8("inspect me \xe2\x98\x83");

    // inspected: A; not: B (always a WebSocket).
    WebSocketClient wsA;
    XhrStreamClient streamA(m_server->port(), kEcho, "a");
    if (websocket)
        QVERIFY(wsA.openSession(m_server->port(), "/echo/000/a/websocket"));
    else
        QVERIFY(streamA.open());
    const QByteArray idA = waitForConnect();
    WebSocketClient wsB;
    QVERIFY(wsB.openSession(m_server->port(), "/echo/000/b/websocket"));
    const QByteArray idB = waitForConnect();

    m_monitor->setInspected(idA, true);

    wsB.send({QStringLiteral("not inspected")});
    QVERIFY(wsB.waitForMessages(1));
    if (websocket) {
        wsA.send({text, QStringLiteral("second")});
        QVERIFY(wsA.waitForMessages(2));
    } else {
        QVERIFY(streamA.send({text, QStringLiteral("second")}));
        QVERIFY(streamA.readUntil("second"));
    }
    // Both directions of A, in order: what the client sent, then the echo.
    QTRY_COMPARE_WITH_TIMEOUT(recorder.trafficOf(idA).size(), qsizetype(4), kWaitMs);
    const QList<TrafficEvent> events = recorder.trafficOf(idA);
    QCOMPARE(events.at(0).direction, TrafficEvent::Direction::In);
    QCOMPARE(events.at(0).data, text.toUtf8());
    QCOMPARE(events.at(1).direction, TrafficEvent::Direction::In);
    QCOMPARE(events.at(1).data, QByteArray("second"));
    QCOMPARE(events.at(2).direction, TrafficEvent::Direction::Out);
    QCOMPARE(events.at(2).data, text.toUtf8());
    QCOMPARE(events.at(3).direction, TrafficEvent::Direction::Out);
    QCOMPARE(events.at(3).data, QByteArray("second"));
    for (const TrafficEvent &event : events)
        QVERIFY(event.time.isValid());

    // B was never inspected: nothing of it, ever.
    wsB.send({QStringLiteral("still not")});
    QVERIFY(wsB.waitForMessages(2));
    QVERIFY(recorder.trafficOf(idB).isEmpty());
    QCOMPARE(recorder.traffic.size(), 4);
}

void tst_Monitor::trafficStopsWhenUninspected()
{
    Recorder recorder(m_monitor.get());
    WebSocketClient ws;
    QVERIFY(ws.openSession(m_server->port(), "/echo/000/t/websocket"));
    const QByteArray id = waitForConnect();

    m_monitor->setInspected(id, true);
    ws.send({QStringLiteral("seen")});
    QVERIFY(ws.waitForMessages(1));
    QTRY_COMPARE_WITH_TIMEOUT(recorder.traffic.size(), qsizetype(2), kWaitMs);

    m_monitor->setInspected(id, false);
    ws.send({QStringLiteral("unseen")});
    QVERIFY(ws.waitForMessages(2));
    QCOMPARE(recorder.traffic.size(), qsizetype(2));

    // A message from the monitor itself is traffic too while inspected.
    m_monitor->setInspected(id, true);
    m_monitor->sendToSession(id, "pushed");
    QVERIFY(ws.waitForMessages(3));
    QTRY_COMPARE_WITH_TIMEOUT(recorder.traffic.size(), qsizetype(3), kWaitMs);
    QCOMPARE(recorder.traffic.last().direction, TrafficEvent::Direction::Out);
    QCOMPARE(recorder.traffic.last().data, QByteArray("pushed"));

    // A Monitor that goes away leaves no session inspected.
    Session *session = service(QStringLiteral("/echo"))->sessionByBackendId(id);
    QVERIFY(session);
    QVERIFY(session->isInspected());
    m_monitor.reset();
    QVERIFY(!session->isInspected());
}

void tst_Monitor::disconnectSessions_data()
{
    QTest::addColumn<QByteArray>("transport");
    QTest::newRow("websocket") << QByteArray("websocket");
    QTest::newRow("xhr-streaming") << QByteArray("xhr-streaming");
}

void tst_Monitor::disconnectSessions()
{
    QFETCH(QByteArray, transport);
    TestBackend *backend = m_server->backend(QStringLiteral("/echo"));

    WebSocketClient wsA;
    XhrStreamClient streamA(m_server->port(), kEcho, "a");
    if (transport == "websocket")
        QVERIFY(wsA.openSession(m_server->port(), "/echo/000/a/websocket"));
    else
        QVERIFY(streamA.open());
    const QByteArray idA = waitForConnect();
    WebSocketClient other;
    QVERIFY(other.openSession(m_server->port(), "/echo/000/o/websocket"));
    const QByteArray idOther = waitForConnect();

    m_monitor->disconnectSessions({idA});

    if (transport == "websocket") {
        QVERIFY(wsA.waitForDisconnect());
        QCOMPARE(wsA.frames().last(), kGoAway);
        QCOMPARE(int(wsA.socket().closeCode()), 3000);
        QCOMPARE(wsA.socket().closeReason(), QStringLiteral("Go away!"));
    } else {
        QVERIFY(streamA.readUntil(kGoAway + '\n'));
    }
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("disconnect"), QList<QByteArray>{idA}, kWaitMs);

    // The other session is untouched and still works.
    QVERIFY(!other.isDisconnected());
    other.send({QStringLiteral("still here")});
    QVERIFY(other.waitForMessages(1));
    QCOMPARE(backend->sessionIds("disconnect"), QList<QByteArray>{idA});
    QVERIFY(containsSession(m_monitor->sessions(), idOther));
    QTRY_VERIFY_WITH_TIMEOUT(!containsSession(m_monitor->sessions(), idA), kWaitMs);

    // Several at once.
    WebSocketClient c1;
    QVERIFY(c1.openSession(m_server->port(), "/echo/000/c1/websocket"));
    const QByteArray id1 = waitForConnect();
    m_monitor->disconnectSessions({id1, idOther});
    QVERIFY(c1.waitForDisconnect());
    QVERIFY(other.waitForDisconnect());
    QCOMPARE(c1.frames().last(), kGoAway);
    QCOMPARE(other.frames().last(), kGoAway);
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("disconnect").size(), qsizetype(3), kWaitMs);
    QVERIFY(backend->sessionIds("disconnect").contains(id1));
    QVERIFY(backend->sessionIds("disconnect").contains(idOther));
}

void tst_Monitor::sendToSession_data()
{
    QTest::addColumn<QByteArray>("transport");
    QTest::newRow("websocket") << QByteArray("websocket");
    QTest::newRow("xhr-streaming") << QByteArray("xhr-streaming");
}

void tst_Monitor::sendToSession()
{
    QFETCH(QByteArray, transport);
    TestBackend *backend = m_server->backend(QStringLiteral("/echo"));
    const QString message = QString::fromUtf8("from the monitor \xf0\x9f\x98\x80 \"quoted\"");

    WebSocketClient ws;
    XhrStreamClient stream(m_server->port(), kEcho, "s");
    if (transport == "websocket")
        QVERIFY(ws.openSession(m_server->port(), "/echo/000/s/websocket"));
    else
        QVERIFY(stream.open());
    const QByteArray id = waitForConnect();

    m_monitor->sendToSession(id, message.toUtf8());
    if (transport == "websocket") {
        QVERIFY(ws.waitForMessages(1));
        QCOMPARE(ws.messages(), QStringList{message});
    } else {
        QVERIFY(stream.readUntil("\"]\n"));
        QCOMPARE(stream.messages(), QStringList{message});
    }
    // The backend is not involved; the session counts it as outgoing.
    QVERIFY(backend->eventsOfType("message").isEmpty());
    QCOMPARE(findSession(m_monitor->sessions(), id).messagesOut, quint64(1));
    QCOMPARE(Monitor::rawCounters(service(QStringLiteral("/echo")))[Counter::MessagesOut], quint64(1));
}

// Ids of sessions that are gone (or never were): nothing happens.
void tst_Monitor::commandsForUnknownSessions()
{
    Recorder recorder(m_monitor.get());
    WebSocketClient ws;
    QVERIFY(ws.openSession(m_server->port(), "/echo/000/u/websocket"));
    waitForConnect();
    m_monitor->disconnectSessions({"no-such-session", QByteArray()});
    m_monitor->sendToSession("no-such-session", "lost");
    m_monitor->setInspected("no-such-session", true);
    m_monitor->disconnectSessions({});
    ws.send({QStringLiteral("alive")});
    QVERIFY(ws.waitForMessages(1));
    QVERIFY(!ws.isDisconnected());
    QCOMPARE(ws.messages(), QStringList{QStringLiteral("alive")});
    QVERIFY(recorder.traffic.isEmpty());
    QVERIFY(m_server->backend(QStringLiteral("/echo"))->sessionIds("disconnect").isEmpty());
}

// Over inproc:// zmq_socket_monitor reports no ACCEPTED/DISCONNECTED events
// (inproc has no listener), so the peer counts say nothing about the
// TestBackends connected there; the endpoints are reported as bound.
void tst_Monitor::backendStatusInproc()
{
    // The backend of /echo is connected (it echoes).
    WebSocketClient ws;
    QVERIFY(ws.openSession(m_server->port(), "/echo/000/i/websocket"));
    waitForConnect();
    ws.send({QStringLiteral("ping")});
    QVERIFY(ws.waitForMessages(1));

    m_monitor->sampleStats(1000);
    const ServiceStats *echo = serviceStats(m_monitor->stats(), QStringLiteral("/echo"));
    QVERIFY(echo);
    QVERIFY(echo->backend.inEndpoint.startsWith(QLatin1String("inproc://")));
    QVERIFY(echo->backend.outEndpoint.startsWith(QLatin1String("inproc://")));
    QVERIFY(echo->backend.inEndpoint != echo->backend.outEndpoint);
    QCOMPARE(echo->backend.queued, qsizetype(0));
    QCOMPARE(echo->backend.dropped, quint64(0));
    // Whatever inproc gives, never more peers than there are.
    QVERIFY(echo->backend.inPeers <= 1);
    QVERIFY(echo->backend.outPeers <= 1);
    qInfo("inproc: in_peers %d, out_peers %d", echo->backend.inPeers, echo->backend.outPeers);
}

// Over tcp:// the peer counts follow the backends: 0, 1 when one connects,
// back to 0 when it leaves.
void tst_Monitor::backendStatusTcp()
{
    Config config;
    config.httpAddress = QStringLiteral("127.0.0.1");
    config.httpPort = 0;
    ServiceConfig service;
    service.prefix = QStringLiteral("/tcp");
    service.zmqIn = QStringLiteral("tcp://127.0.0.1:*");
    service.zmqOut = QStringLiteral("tcp://127.0.0.1:*");
    config.services = {service};
    Server server(config);
    QString error;
    QVERIFY2(server.start(&error), qPrintable(error));
    Monitor monitor(&server);

    const Service *tcp = server.services().first();
    BackendStatus status = Monitor::backendStatus(tcp);
    QVERIFY(status.inEndpoint.startsWith(QLatin1String("tcp://127.0.0.1:")));
    QVERIFY(status.outEndpoint.startsWith(QLatin1String("tcp://127.0.0.1:")));
    QVERIFY(!status.inEndpoint.endsWith(QLatin1String(":*")));
    QVERIFY(status.inEndpoint != status.outEndpoint);
    QCOMPARE(status.inPeers, 0);
    QCOMPARE(status.outPeers, 0);

    QSignalSpy peersSpy(tcp->bridge(), &ZmqBridge::peersChanged);
    auto backend = std::make_unique<TestBackend>(status.inEndpoint, status.outEndpoint, TestBackend::Mode::Echo);
    QTRY_COMPARE_WITH_TIMEOUT(Monitor::backendStatus(tcp).inPeers, 1, kWaitMs);
    QTRY_COMPARE_WITH_TIMEOUT(Monitor::backendStatus(tcp).outPeers, 1, kWaitMs);
    QVERIFY(peersSpy.size() >= 2);

    // In the sampled stats as well.
    monitor.sampleStats(1000);
    QCOMPARE(monitor.stats().services.size(), 1);
    QCOMPARE(monitor.stats().services.first().backend.inPeers, 1);
    QCOMPARE(monitor.stats().services.first().backend.outPeers, 1);
    QCOMPARE(monitor.stats().services.first().backend.inEndpoint, status.inEndpoint);

    // The backend works through those endpoints.
    WebSocketClient ws;
    QVERIFY(ws.openSession(server.httpPort(), "/tcp/000/t/websocket"));
    ws.send({QStringLiteral("over tcp")});
    QVERIFY(ws.waitForMessages(1));
    QCOMPARE(ws.messages(), QStringList{QStringLiteral("over tcp")});

    backend.reset();
    QTRY_COMPARE_WITH_TIMEOUT(Monitor::backendStatus(tcp).inPeers, 0, kWaitMs);
    QTRY_COMPARE_WITH_TIMEOUT(Monitor::backendStatus(tcp).outPeers, 0, kWaitMs);
}

void tst_Monitor::prometheusText()
{
    WebSocketClient ws;
    QVERIFY(ws.openSession(m_server->port(), "/echo/000/p/websocket"));
    waitForConnect();
    ws.send({QStringLiteral("12345"), QStringLiteral("678")});
    QVERIFY(ws.waitForMessages(2));
    // A session of /close: the backend closes it at once.
    WebSocketClient closed;
    QVERIFY(closed.openSession(m_server->port(), "/close/000/c/websocket"));
    QVERIFY(closed.waitForDisconnect());
    QTRY_VERIFY_WITH_TIMEOUT(!service(QStringLiteral("/close"))->sessionCount(), kWaitMs);
    // A plain HTTP request.
    QCOMPARE(HttpClient::request(m_server->port(), "GET", "/echo/info").status, 200);

    const QByteArray text = m_monitor->prometheusText();
    QVERIFY(text.endsWith('\n'));

    // Format: HELP then TYPE once per metric, before its samples; every
    // other line a sample "name{service="...",reason="..."} integer" (labels
    // optional, service first) or "name integer".
    static const QRegularExpression sample(
        QStringLiteral("^([a-z_]+)(\\{(service=\"[^\"]*\"|[a-z_]+=\"[a-z_]+\")(,[a-z_]+=\"[a-z_]+\")*\\})? ([0-9]+)$"));
    static const QRegularExpression help(QStringLiteral("^# HELP ([a-z_]+) \\S.*$"));
    static const QRegularExpression type(QStringLiteral("^# TYPE ([a-z_]+) (counter|gauge)$"));
    QSet<QString> described;
    QString lastHelp;
    QString current;
    QHash<QString, QString> types;
    for (const QByteArray &line : text.split('\n')) {
        if (line.isEmpty())
            continue;
        const QString l = QString::fromUtf8(line);
        if (const auto m = help.match(l); m.hasMatch()) {
            QVERIFY2(!described.contains(m.captured(1)), qPrintable(l));
            described.insert(m.captured(1));
            lastHelp = m.captured(1);
        } else if (const auto t = type.match(l); t.hasMatch()) {
            QCOMPARE(t.captured(1), lastHelp);
            current = t.captured(1);
            types.insert(current, t.captured(2));
        } else {
            const auto s = sample.match(l);
            QVERIFY2(s.hasMatch(), qPrintable(l));
            QCOMPARE(s.captured(1), current);
        }
    }
    for (auto it = types.cbegin(); it != types.cend(); ++it) {
        if (it.key().endsWith(QLatin1String("_total")))
            QCOMPARE(it.value(), QStringLiteral("counter"));
    }
    QCOMPARE(types.value(QStringLiteral("sockjsproxy_sessions_open")), QStringLiteral("gauge"));
    QCOMPARE(types.value(QStringLiteral("sockjsproxy_backend_queue")), QStringLiteral("gauge"));
    QVERIFY(types.contains(QStringLiteral("sockjsproxy_http_requests_total")));
    QVERIFY(types.contains(QStringLiteral("sockjsproxy_connections_accepted_total")));

    // One sample per service and metric, with the right values.
    for (const QByteArray &prefix : {QByteArray("/echo"), QByteArray("/disabled_websocket_echo"),
                                     QByteArray("/cookie_needed_echo"), QByteArray("/close")})
        QVERIFY2(sampleValue(text, "sockjsproxy_messages_in_total{service=\"" + prefix + "\"}") >= 0,
                 prefix.constData());
    auto value = [&](const char *name, const char *service) {
        return sampleValue(text, QByteArray(name) + "{service=\"" + service + "\"}");
    };
    QCOMPARE(value("sockjsproxy_sessions_open", "/echo"), 1);
    QCOMPARE(value("sockjsproxy_sessions_opened_total", "/echo"), 1);
    QCOMPARE(value("sockjsproxy_sessions_closed_total", "/echo"), 0);
    QCOMPARE(value("sockjsproxy_messages_in_total", "/echo"), 2);
    QCOMPARE(value("sockjsproxy_messages_out_total", "/echo"), 2);
    QCOMPARE(value("sockjsproxy_bytes_in_total", "/echo"), 8);
    QCOMPARE(value("sockjsproxy_bytes_out_total", "/echo"), 8);
    QCOMPARE(value("sockjsproxy_backend_events_total", "/echo"), 2);
    QCOMPARE(value("sockjsproxy_backend_queue", "/echo"), 0);
    QCOMPARE(value("sockjsproxy_sessions_open", "/close"), 0);
    QCOMPARE(value("sockjsproxy_sessions_opened_total", "/close"), 1);
    QCOMPARE(value("sockjsproxy_sessions_closed_total", "/close"), 1);
    QCOMPARE(value("sockjsproxy_backend_events_total", "/close"), 1); // its disconnect
    QCOMPARE(value("sockjsproxy_messages_in_total", "/cookie_needed_echo"), 0);
    QCOMPARE(value("sockjsproxy_sessions_opened_total", "/disabled_websocket_echo"), 0);
    const Counters &server = m_server->server()->counters();
    QCOMPARE(sampleValue(text, "sockjsproxy_http_requests_total"), qint64(server[Counter::HttpRequests]));
    QVERIFY(server[Counter::HttpRequests] >= 1);
    QCOMPARE(sampleValue(text, "sockjsproxy_http_rejected_total"), 0);
    QCOMPARE(sampleValue(text, "sockjsproxy_connections_accepted_total"), qint64(server[Counter::ConnectionsAccepted]));
    QVERIFY(server[Counter::ConnectionsAccepted] >= 3);
    // The values agree with rawCounters().
    const Counters raw = Monitor::rawCounters(service(QStringLiteral("/echo")));
    QCOMPARE(quint64(value("sockjsproxy_protocol_errors_total", "/echo")), raw[Counter::ProtocolErrors]);
    QCOMPARE(quint64(value("sockjsproxy_drops_total", "/echo")), raw[Counter::Drops]);
}

QTEST_GUILESS_MAIN(tst_Monitor)
#include "tst_monitor.moc"
