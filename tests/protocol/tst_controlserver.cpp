// ControlServer on 127.0.0.1, port 0, over a Monitor over a TestServer
// with real SockJS clients: the HTTP/JSON API (snapshot, metrics, the
// commands and their errors), tokens, the loopback rule, the WebSocket
// stream (/api/stream) with its events and commands, inspection per
// client, and a RemoteMonitor attached to it.
//
// The Monitor's timers are not started: tests call publishSessionChanges()
// and sampleStats() to make events happen. No sleeps: every wait spins the
// event loop until a condition holds or a deadline passes.

#include "httpclient.h"
#include "testbackend.h"
#include "testcertificates.h"
#include "testserver.h"
#include "waituntil.h"
#include "websocketclient.h"

#include "control/controlserver.h"
#include "control/remotemonitor.h"
#include "metrics/monitor.h"
#include "sockjs/service.h"
#include "sockjsproxy_version.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QUrlQuery>

#include <algorithm>
#include <memory>

using namespace SockJsProxy;
using namespace SockJsProxy::Test;

namespace {

constexpr int kWaitMs = 5000;
const QByteArray kGoAway = QByteArrayLiteral("c[3000,\"Go away!\"]");
const QByteArray kToken = QByteArrayLiteral("s3cr3t-t0ken");

using Headers = QList<QPair<QByteArray, QByteArray>>;

QJsonObject jsonObject(const QByteArray &bytes) { return QJsonDocument::fromJson(bytes).object(); }

QByteArray json(const QJsonObject &object) { return QJsonDocument(object).toJson(QJsonDocument::Compact); }

// A client of the control stream: records every event as a JSON object.
class StreamClient : public WebSocketClient
{
public:
    StreamClient()
    {
        connect(&socket(), &QWebSocket::textMessageReceived, this,
                [this](const QString &message) { m_events.append(jsonObject(message.toUtf8())); });
    }
    bool open(quint16 port, const QString &query = QString())
    {
        QByteArray path = "/api/stream";
        if (!query.isEmpty())
            path += '?' + query.toUtf8();
        WebSocketClient::open(port, path);
        return waitUntil([this] { return !m_events.isEmpty() || isDisconnected() || hasError(); })
               && !m_events.isEmpty();
    }
    void command(const QJsonObject &object) { sendText(QString::fromUtf8(json(object))); }

    const QList<QJsonObject> &events() const { return m_events; }
    QList<QJsonObject> ofType(const QString &type) const
    {
        QList<QJsonObject> result;
        for (const QJsonObject &event : m_events) {
            if (event.value(QStringLiteral("type")).toString() == type)
                result.append(event);
        }
        return result;
    }
    // Waits until count events of type arrived; the last of them (empty on timeout).
    QJsonObject waitFor(const QString &type, qsizetype count = 1)
    {
        if (!waitUntil([&] { return ofType(type).size() >= count; }))
            return QJsonObject();
        return ofType(type).at(count - 1);
    }
    // Sends a command with a tag and waits for the reply with that tag.
    QJsonObject request(QJsonObject object)
    {
        const int tag = ++m_tag;
        object.insert(QStringLiteral("tag"), tag);
        command(object);
        QJsonObject reply;
        waitUntil([&] {
            for (const QJsonObject &event : ofType(QStringLiteral("reply"))) {
                if (event.value(QStringLiteral("tag")).toInt() == tag) {
                    reply = event;
                    return true;
                }
            }
            return false;
        });
        return reply;
    }

private:
    QList<QJsonObject> m_events;
    int m_tag = 0;
};

bool hasSession(const QJsonArray &sessions, const QByteArray &id, const QByteArray &transport = QByteArray())
{
    return std::any_of(sessions.begin(), sessions.end(), [&](const QJsonValue &value) {
        const QJsonObject object = value.toObject();
        return object.value(QStringLiteral("id")).toString().toLatin1() == id
               && (transport.isNull() || object.value(QStringLiteral("transport")).toString().toLatin1() == transport);
    });
}

bool hasSession(const QList<SessionInfo> &sessions, const QByteArray &id)
{
    return std::any_of(sessions.cbegin(), sessions.cend(), [&](const SessionInfo &s) { return s.id == id; });
}

} // namespace

class tst_ControlServer : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void listenBeyondLoopbackNeedsToken_data();
    void listenBeyondLoopbackNeedsToken();
    void listenOnBusyPort();

    void snapshot();
    void metrics();
    void disconnectCommand();
    void sendCommand();
    void inspectCommand();
    void clearCountersCommand();
    void httpErrors_data();
    void httpErrors();

    void token_data();
    void token();
    void streamNeedsToken();

    void streamSnapshotThenEvents();
    void streamCommands();
    void streamLog();
    void trafficOnlyToInspectingClient();
    void inspectionCountedOverClients();

    void remoteMonitor();
    void remoteMonitorLosesConnection();
    void remoteMonitorWrongToken();

    void overTls();

private:
    bool startControl(const QByteArray &token = QByteArray());
    QByteArray openSockJsSession(WebSocketClient *client, const QByteArray &urlId);
    Service *service(const QString &prefix) const;
    HttpClient::Response get(const QByteArray &path, const Headers &headers = {});
    HttpClient::Response post(const QByteArray &path, const QByteArray &body, const Headers &headers = {});

    std::unique_ptr<TestServer> m_server;
    std::unique_ptr<Monitor> m_monitor;
    std::unique_ptr<ControlServer> m_control;
    int m_connects = 0;
};

void tst_ControlServer::init()
{
    m_server = std::make_unique<TestServer>();
    QVERIFY(m_server->start());
    m_monitor = std::make_unique<Monitor>(m_server->server());
    m_connects = 0;
}

void tst_ControlServer::cleanup()
{
    m_control.reset();
    m_monitor.reset();
    m_server.reset();
}

bool tst_ControlServer::startControl(const QByteArray &token)
{
    m_control = std::make_unique<ControlServer>(m_monitor.get());
    m_control->setToken(token);
    QString error;
    if (!m_control->listen(QStringLiteral("127.0.0.1:0"), &error)) {
        qWarning("%s", qPrintable(error));
        return false;
    }
    return m_control->port() != 0 && m_control->address() == QHostAddress(QHostAddress::LocalHost);
}

QByteArray tst_ControlServer::openSockJsSession(WebSocketClient *client, const QByteArray &urlId)
{
    if (!client->openSession(m_server->port(), "/echo/000/" + urlId + "/websocket"))
        return QByteArray();
    TestBackend *backend = m_server->backend(QStringLiteral("/echo"));
    const int wanted = ++m_connects;
    if (!waitUntil([&] { return backend->sessionIds("connect").size() >= wanted; }))
        return QByteArray();
    return backend->sessionIds("connect").at(wanted - 1);
}

Service *tst_ControlServer::service(const QString &prefix) const
{
    for (Service *service : m_server->server()->services()) {
        if (service->prefix() == prefix)
            return service;
    }
    return nullptr;
}

HttpClient::Response tst_ControlServer::get(const QByteArray &path, const Headers &headers)
{
    return HttpClient::request(m_control->port(), "GET", path, QByteArray(), headers);
}

HttpClient::Response tst_ControlServer::post(const QByteArray &path, const QByteArray &body, const Headers &headers)
{
    return HttpClient::request(m_control->port(), "POST", path, body, headers);
}

void tst_ControlServer::listenBeyondLoopbackNeedsToken_data()
{
    QTest::addColumn<QString>("endpoint");
    QTest::newRow("0.0.0.0") << QStringLiteral("0.0.0.0:0");
    QTest::newRow("[::]") << QStringLiteral("[::]:0");
    QTest::newRow("0.0.0.0, fixed port") << QStringLiteral("0.0.0.0:1");
}

void tst_ControlServer::listenBeyondLoopbackNeedsToken()
{
    QFETCH(QString, endpoint);
    ControlServer control(m_monitor.get());
    QString error;
    QVERIFY(!control.listen(endpoint, &error));
    QVERIFY2(error.contains(QLatin1String("token")), qPrintable(error));
    QVERIFY2(error.contains(QLatin1String("loopback")), qPrintable(error));
    QVERIFY2(error.contains(endpoint), qPrintable(error));
    QCOMPARE(control.port(), quint16(0)); // not listening

    // Loopback without a token is fine.
    ControlServer local(m_monitor.get());
    error.clear();
    QVERIFY2(local.listen(QStringLiteral("localhost:0"), &error), qPrintable(error));
    QVERIFY(local.port() != 0);
}

void tst_ControlServer::listenOnBusyPort()
{
    QVERIFY(startControl());
    ControlServer second(m_monitor.get());
    QString error;
    QVERIFY(!second.listen(QStringLiteral("127.0.0.1:%1").arg(m_control->port()), &error));
    QVERIFY(!error.isEmpty());
}

void tst_ControlServer::snapshot()
{
    QVERIFY(startControl());
    WebSocketClient client;
    const QByteArray id = openSockJsSession(&client, "snap");
    QVERIFY(!id.isEmpty());
    m_monitor->sampleStats(5000);

    const HttpClient::Response response = get("/api/snapshot");
    QCOMPARE(response.status, 200);
    QCOMPARE(response.header("Content-Type"), QByteArray("application/json;charset=UTF-8"));
    QCOMPARE(response.header("Cache-Control"), QByteArray("no-store"));
    QJsonParseError parseError;
    const QJsonDocument document = QJsonDocument::fromJson(response.body, &parseError);
    QCOMPARE(parseError.error, QJsonParseError::NoError);
    const QJsonObject object = document.object();
    QCOMPARE(object.value(QStringLiteral("version")).toString(), QStringLiteral(SOCKJSPROXY_VERSION));
    const QJsonArray sessions = object.value(QStringLiteral("sessions")).toArray();
    QCOMPARE(sessions.size(), 1);
    QVERIFY(hasSession(sessions, id, "websocket"));
    QVERIFY(SessionInfo::fromJson(sessions.at(0).toObject()) == m_monitor->sessions().first());
    const MonitorStats stats = MonitorStats::fromJson(object.value(QStringLiteral("stats")).toObject());
    QCOMPARE(stats.services.size(), 4);
    QCOMPARE(stats.sessionsOpen, qsizetype(1));
    QCOMPARE(stats.counters[Counter::SessionsOpened], quint64(1));
    QCOMPARE(stats.time, QDateTime::fromMSecsSinceEpoch(5000, Qt::UTC));
}

void tst_ControlServer::metrics()
{
    QVERIFY(startControl());
    WebSocketClient client;
    QVERIFY(!openSockJsSession(&client, "m").isEmpty());
    client.send({QStringLiteral("abc")});
    QVERIFY(client.waitForMessages(1));

    const HttpClient::Response response = get("/metrics");
    QCOMPARE(response.status, 200);
    QCOMPARE(response.header("Content-Type"), QByteArray("text/plain; version=0.0.4; charset=utf-8"));
    QCOMPARE(response.body, m_monitor->prometheusText());
    QVERIFY(response.body.contains("# HELP sockjsproxy_messages_in_total "));
    QVERIFY(response.body.contains("# TYPE sockjsproxy_messages_in_total counter\n"));
    QVERIFY(response.body.contains("\nsockjsproxy_messages_in_total{service=\"/echo\"} 1\n"));
    QVERIFY(response.body.contains("\nsockjsproxy_sessions_open{service=\"/echo\"} 1\n"));
}

void tst_ControlServer::disconnectCommand()
{
    QVERIFY(startControl());
    WebSocketClient a;
    WebSocketClient b;
    const QByteArray idA = openSockJsSession(&a, "a");
    const QByteArray idB = openSockJsSession(&b, "b");
    QVERIFY(!idA.isEmpty() && !idB.isEmpty());

    const QJsonArray ids{QString::fromLatin1(idA), QStringLiteral("no-such-session")};
    const HttpClient::Response response = post("/api/sessions/disconnect", json({{QStringLiteral("ids"), ids}}));
    QCOMPARE(response.status, 200);
    QCOMPARE(response.header("Content-Type"), QByteArray("application/json;charset=UTF-8"));
    QCOMPARE(jsonObject(response.body).value(QStringLiteral("requested")).toInt(), 2);

    QVERIFY(a.waitForDisconnect());
    QCOMPARE(a.frames().last(), kGoAway);
    QCOMPARE(int(a.socket().closeCode()), 3000);
    TestBackend *backend = m_server->backend(QStringLiteral("/echo"));
    QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("disconnect"), QList<QByteArray>{idA}, kWaitMs);
    QVERIFY(!b.isDisconnected());
}

void tst_ControlServer::sendCommand()
{
    QVERIFY(startControl());
    WebSocketClient client;
    const QByteArray id = openSockJsSession(&client, "s");
    const QString message = QString::fromUtf8("hello from control \xe2\x98\x83");
    const HttpClient::Response response =
        post("/api/sessions/send",
             json({{QStringLiteral("id"), QString::fromLatin1(id)}, {QStringLiteral("message"), message}}));
    QCOMPARE(response.status, 200);
    QCOMPARE(jsonObject(response.body).value(QStringLiteral("sent")).toBool(), true);
    QVERIFY(client.waitForMessages(1));
    QCOMPARE(client.messages(), QStringList{message});
    QVERIFY(m_server->backend(QStringLiteral("/echo"))->eventsOfType("message").isEmpty());
}

void tst_ControlServer::inspectCommand()
{
    QVERIFY(startControl());
    WebSocketClient client;
    const QByteArray id = openSockJsSession(&client, "i");
    Session *session = service(QStringLiteral("/echo"))->sessionByBackendId(id);
    QVERIFY(session);
    QSignalSpy trafficSpy(m_monitor.get(), &MonitorSource::traffic);

    HttpClient::Response response =
        post("/api/sessions/inspect",
             json({{QStringLiteral("id"), QString::fromLatin1(id)}, {QStringLiteral("inspect"), true}}));
    QCOMPARE(response.status, 200);
    QCOMPARE(jsonObject(response.body).value(QStringLiteral("inspecting")).toBool(), true);
    QVERIFY(session->isInspected());
    client.send({QStringLiteral("look")});
    QVERIFY(client.waitForMessages(1));
    QTRY_COMPARE_WITH_TIMEOUT(trafficSpy.size(), 2, kWaitMs);

    // "inspect" defaults to true; false ends it.
    response = post("/api/sessions/inspect", json({{QStringLiteral("id"), QString::fromLatin1(id)}}));
    QCOMPARE(response.status, 200);
    QVERIFY(session->isInspected());
    response = post("/api/sessions/inspect",
                    json({{QStringLiteral("id"), QString::fromLatin1(id)}, {QStringLiteral("inspect"), false}}));
    QCOMPARE(response.status, 200);
    QCOMPARE(jsonObject(response.body).value(QStringLiteral("inspecting")).toBool(), false);
    QVERIFY(!session->isInspected());
    client.send({QStringLiteral("unseen")});
    QVERIFY(client.waitForMessages(2));
    QCOMPARE(trafficSpy.size(), 2);
}

void tst_ControlServer::clearCountersCommand()
{
    QVERIFY(startControl());
    WebSocketClient client;
    QVERIFY(!openSockJsSession(&client, "c").isEmpty());
    client.send({QStringLiteral("1"), QStringLiteral("2")});
    QVERIFY(client.waitForMessages(2));
    m_monitor->sampleStats(QDateTime::currentMSecsSinceEpoch());
    QCOMPARE(m_monitor->stats().counters[Counter::MessagesIn], quint64(2));

    const HttpClient::Response response = post("/api/counters/clear", QByteArray());
    QCOMPARE(response.status, 200);
    QCOMPARE(jsonObject(response.body).value(QStringLiteral("cleared")).toBool(), true);
    QCOMPARE(m_monitor->stats().counters[Counter::MessagesIn], quint64(0));
    const QJsonObject snapshot = jsonObject(get("/api/snapshot").body);
    QCOMPARE(MonitorStats::fromJson(snapshot.value(QStringLiteral("stats")).toObject()).counters[Counter::MessagesIn],
             quint64(0));
    // Prometheus keeps counting from where it was.
    QVERIFY(get("/metrics").body.contains("\nsockjsproxy_messages_in_total{service=\"/echo\"} 2\n"));
}

void tst_ControlServer::httpErrors_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QByteArray>("path");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("status");
    QTest::addColumn<QByteArray>("allow");

    QTest::newRow("GET a command") << QByteArray("GET") << QByteArray("/api/sessions/disconnect") << QByteArray() << 405
                                   << QByteArray("POST");
    QTest::newRow("PUT a command") << QByteArray("PUT") << QByteArray("/api/sessions/send") << QByteArray("{}") << 405
                                   << QByteArray("POST");
    QTest::newRow("GET clear") << QByteArray("GET") << QByteArray("/api/counters/clear") << QByteArray() << 405
                               << QByteArray("POST");
    QTest::newRow("DELETE inspect") << QByteArray("DELETE") << QByteArray("/api/sessions/inspect") << QByteArray()
                                    << 405 << QByteArray("POST");
    QTest::newRow("POST metrics") << QByteArray("POST") << QByteArray("/metrics") << QByteArray() << 405
                                  << QByteArray("GET");
    QTest::newRow("POST snapshot") << QByteArray("POST") << QByteArray("/api/snapshot") << QByteArray("{}") << 405
                                   << QByteArray("GET");
    QTest::newRow("unknown path") << QByteArray("GET") << QByteArray("/nope") << QByteArray() << 404 << QByteArray();
    QTest::newRow("unknown command path")
        << QByteArray("POST") << QByteArray("/api/sessions/explode") << QByteArray("{}") << 404 << QByteArray();
    QTest::newRow("root") << QByteArray("GET") << QByteArray("/") << QByteArray() << 404 << QByteArray();
    QTest::newRow("trailing slash") << QByteArray("GET") << QByteArray("/metrics/") << QByteArray() << 404
                                    << QByteArray();
    QTest::newRow("bad JSON") << QByteArray("POST") << QByteArray("/api/sessions/disconnect")
                              << QByteArray("{\"ids\": [") << 400 << QByteArray();
    QTest::newRow("JSON array body") << QByteArray("POST") << QByteArray("/api/sessions/send") << QByteArray("[1, 2]")
                                     << 400 << QByteArray();
    QTest::newRow("JSON string body") << QByteArray("POST") << QByteArray("/api/sessions/inspect")
                                      << QByteArray("\"x\"") << 400 << QByteArray();
    QTest::newRow("ids not an array") << QByteArray("POST") << QByteArray("/api/sessions/disconnect")
                                      << QByteArray("{\"ids\": \"abc\"}") << 400 << QByteArray();
    QTest::newRow("disconnect without ids")
        << QByteArray("POST") << QByteArray("/api/sessions/disconnect") << QByteArray() << 400 << QByteArray();
    QTest::newRow("send without message") << QByteArray("POST") << QByteArray("/api/sessions/send")
                                          << QByteArray("{\"id\": \"abc\"}") << 400 << QByteArray();
    QTest::newRow("send with a number") << QByteArray("POST") << QByteArray("/api/sessions/send")
                                        << QByteArray("{\"id\": \"abc\", \"message\": 5}") << 400 << QByteArray();
    QTest::newRow("inspect without id") << QByteArray("POST") << QByteArray("/api/sessions/inspect")
                                        << QByteArray("{\"inspect\": true}") << 400 << QByteArray();
}

void tst_ControlServer::httpErrors()
{
    QFETCH(QByteArray, method);
    QFETCH(QByteArray, path);
    QFETCH(QByteArray, body);
    QFETCH(int, status);
    QFETCH(QByteArray, allow);
    QVERIFY(startControl());
    WebSocketClient client;
    QVERIFY(!openSockJsSession(&client, "e").isEmpty());

    const HttpClient::Response response = HttpClient::request(m_control->port(), method, path, body);
    QVERIFY(response.ok);
    QCOMPARE(response.status, status);
    QCOMPARE(response.header("Allow"), allow);
    QCOMPARE(response.header("Content-Type"), QByteArray("application/json;charset=UTF-8"));
    const QJsonObject answer = jsonObject(response.body);
    QVERIFY2(!answer.value(QStringLiteral("error")).toString().isEmpty(), response.body.constData());
    // Nothing happened to the session.
    QVERIFY(!client.isDisconnected());
    QVERIFY(client.frames().size() == 1);
    QVERIFY(m_server->backend(QStringLiteral("/echo"))->sessionIds("disconnect").isEmpty());
}

void tst_ControlServer::token_data()
{
    QTest::addColumn<QByteArray>("path");
    QTest::addColumn<Headers>("headers");
    QTest::addColumn<int>("status");

    QTest::newRow("snapshot, none") << QByteArray("/api/snapshot") << Headers() << 401;
    QTest::newRow("snapshot, bearer") << QByteArray("/api/snapshot") << Headers{{"Authorization", "Bearer " + kToken}}
                                      << 200;
    QTest::newRow("snapshot, bearer lower-case header")
        << QByteArray("/api/snapshot") << Headers{{"authorization", "Bearer " + kToken}} << 200;
    QTest::newRow("snapshot, query") << QByteArray("/api/snapshot?token=" + kToken) << Headers() << 200;
    QTest::newRow("snapshot, query among others")
        << QByteArray("/api/snapshot?x=1&token=" + kToken + "&y=2") << Headers() << 200;
    QTest::newRow("snapshot, wrong bearer")
        << QByteArray("/api/snapshot") << Headers{{"Authorization", "Bearer nope"}} << 401;
    QTest::newRow("snapshot, token prefix")
        << QByteArray("/api/snapshot") << Headers{{"Authorization", "Bearer " + kToken.left(5)}} << 401;
    QTest::newRow("snapshot, token longer")
        << QByteArray("/api/snapshot") << Headers{{"Authorization", "Bearer " + kToken + "x"}} << 401;
    QTest::newRow("snapshot, basic scheme")
        << QByteArray("/api/snapshot") << Headers{{"Authorization", "Basic " + kToken}} << 401;
    QTest::newRow("snapshot, wrong query") << QByteArray("/api/snapshot?token=nope") << Headers() << 401;
    QTest::newRow("snapshot, empty query") << QByteArray("/api/snapshot?token=") << Headers() << 401;
    QTest::newRow("metrics, none") << QByteArray("/metrics") << Headers() << 401;
    QTest::newRow("metrics, bearer") << QByteArray("/metrics") << Headers{{"Authorization", "Bearer " + kToken}} << 200;
    QTest::newRow("metrics, query") << QByteArray("/metrics?token=" + kToken) << Headers() << 200;
    QTest::newRow("unknown path, none") << QByteArray("/nope") << Headers() << 401; // nothing told without a token
    QTest::newRow("unknown path, bearer")
        << QByteArray("/nope") << Headers{{"Authorization", "Bearer " + kToken}} << 404;
}

void tst_ControlServer::token()
{
    QFETCH(QByteArray, path);
    QFETCH(Headers, headers);
    QFETCH(int, status);
    QVERIFY(startControl(kToken));

    const HttpClient::Response response = get(path, headers);
    QVERIFY(response.ok);
    QCOMPARE(response.status, status);
    if (status == 401) {
        QCOMPARE(response.reason, QByteArray("Unauthorized")); // "HTTP/1.1 401 Unauthorized"
        QCOMPARE(response.header("WWW-Authenticate"), QByteArray("Bearer"));
        QVERIFY(!response.body.contains(kToken));
    }

    // Commands as well: refused without the token, and nothing happens.
    WebSocketClient client;
    const QByteArray id = openSockJsSession(&client, "t");
    const QByteArray body = json({{QStringLiteral("ids"), QJsonArray{QString::fromLatin1(id)}}});
    QCOMPARE(post("/api/sessions/disconnect", body).status, 401);
    QCOMPARE(post("/api/sessions/disconnect?token=wrong", body).status, 401);
    QCOMPARE(post("/api/counters/clear", QByteArray()).status, 401);
    QVERIFY(!client.isDisconnected());
    QCOMPARE(post("/api/sessions/disconnect", body, {{"Authorization", "Bearer " + kToken}}).status, 200);
    QVERIFY(client.waitForDisconnect());
}

void tst_ControlServer::streamNeedsToken()
{
    QVERIFY(startControl(kToken));
    StreamClient none;
    QVERIFY(!none.open(m_control->port()));
    QVERIFY(none.events().isEmpty());
    StreamClient wrong;
    QVERIFY(!wrong.open(m_control->port(), QStringLiteral("token=nope")));
    QVERIFY(wrong.events().isEmpty());

    StreamClient right;
    QVERIFY(right.open(m_control->port(), QStringLiteral("token=") + QString::fromLatin1(kToken)));
    QCOMPARE(right.events().first().value(QStringLiteral("type")).toString(), QStringLiteral("snapshot"));

    // The handshake refused over plain HTTP: 401.
    HttpClient http(m_control->port());
    QVERIFY(http.connectToServer());
    http.sendRequest("GET", "/api/stream", QByteArray(),
                     {{"Upgrade", "websocket"},
                      {"Connection", "Upgrade"},
                      {"Sec-WebSocket-Key", "x3JJHMbDL1EzLkh9GBhXDw=="},
                      {"Sec-WebSocket-Version", "13"}});
    QCOMPARE(http.readResponse().status, 401);
}

void tst_ControlServer::streamSnapshotThenEvents()
{
    QVERIFY(startControl());
    WebSocketClient before;
    const QByteArray idBefore = openSockJsSession(&before, "before");
    m_monitor->publishSessionChanges(); // the monitor knows it already

    StreamClient stream;
    QVERIFY(stream.open(m_control->port()));
    // First: the snapshot, with the session already there.
    const QJsonObject snapshot = stream.events().first();
    QCOMPARE(snapshot.value(QStringLiteral("type")).toString(), QStringLiteral("snapshot"));
    QCOMPARE(snapshot.value(QStringLiteral("version")).toString(), QStringLiteral(SOCKJSPROXY_VERSION));
    QVERIFY(hasSession(snapshot.value(QStringLiteral("sessions")).toArray(), idBefore, "websocket"));
    QVERIFY(snapshot.value(QStringLiteral("stats")).isObject());

    // A new session: a "sessions" event upserting it.
    WebSocketClient after;
    const QByteArray idAfter = openSockJsSession(&after, "after");
    m_monitor->publishSessionChanges();
    QJsonObject sessions = stream.waitFor(QStringLiteral("sessions"));
    QVERIFY(!sessions.isEmpty());
    QVERIFY(hasSession(sessions.value(QStringLiteral("upserted")).toArray(), idAfter, "websocket"));
    QVERIFY(!hasSession(sessions.value(QStringLiteral("upserted")).toArray(), idBefore)); // unchanged
    QVERIFY(sessions.value(QStringLiteral("removed")).toArray().isEmpty());

    // Gone: removed.
    before.socket().close();
    QTRY_VERIFY_WITH_TIMEOUT(!hasSession(m_monitor->sessions(), idBefore), kWaitMs);
    m_monitor->publishSessionChanges();
    sessions = stream.waitFor(QStringLiteral("sessions"), 2);
    QCOMPARE(sessions.value(QStringLiteral("removed")).toArray(), QJsonArray{QString::fromLatin1(idBefore)});

    // Stats.
    after.send({QStringLiteral("x")});
    QVERIFY(after.waitForMessages(1));
    m_monitor->sampleStats(7000);
    const QJsonObject stats = stream.waitFor(QStringLiteral("stats"));
    QVERIFY(!stats.isEmpty());
    const MonitorStats parsed = MonitorStats::fromJson(stats.value(QStringLiteral("stats")).toObject());
    QCOMPARE(parsed.time, QDateTime::fromMSecsSinceEpoch(7000, Qt::UTC));
    QCOMPARE(parsed.counters[Counter::MessagesIn], quint64(1));
    QCOMPARE(parsed.sessionsOpen, qsizetype(1));
    QCOMPARE(parsed.services.size(), 4);

    // The snapshot came before everything else.
    QCOMPARE(stream.ofType(QStringLiteral("snapshot")).size(), 1);
    QCOMPARE(stream.events().first().value(QStringLiteral("type")).toString(), QStringLiteral("snapshot"));
    QVERIFY(stream.ofType(QStringLiteral("traffic")).isEmpty()); // nothing inspected
}

void tst_ControlServer::streamCommands()
{
    QVERIFY(startControl());
    StreamClient stream;
    QVERIFY(stream.open(m_control->port()));
    WebSocketClient a;
    WebSocketClient b;
    const QByteArray idA = openSockJsSession(&a, "a");
    const QByteArray idB = openSockJsSession(&b, "b");

    QJsonObject reply = stream.request({{QStringLiteral("command"), QStringLiteral("send")},
                                        {QStringLiteral("id"), QString::fromLatin1(idA)},
                                        {QStringLiteral("message"), QStringLiteral("via stream")}});
    QCOMPARE(reply.value(QStringLiteral("type")).toString(), QStringLiteral("reply"));
    QCOMPARE(reply.value(QStringLiteral("sent")).toBool(), true);
    QVERIFY(!reply.contains(QStringLiteral("error")));
    QVERIFY(a.waitForMessages(1));
    QCOMPARE(a.messages(), QStringList{QStringLiteral("via stream")});

    reply = stream.request({{QStringLiteral("command"), QStringLiteral("disconnect")},
                            {QStringLiteral("ids"), QJsonArray{QString::fromLatin1(idB)}}});
    QCOMPARE(reply.value(QStringLiteral("type")).toString(), QStringLiteral("reply"));
    QCOMPARE(reply.value(QStringLiteral("requested")).toInt(), 1);
    QVERIFY(b.waitForDisconnect());
    QCOMPARE(b.frames().last(), kGoAway);
    QCOMPARE(int(b.socket().closeCode()), 3000);
    QTRY_COMPARE_WITH_TIMEOUT(m_server->backend(QStringLiteral("/echo"))->sessionIds("disconnect"),
                              QList<QByteArray>{idB}, kWaitMs);

    reply = stream.request({{QStringLiteral("command"), QStringLiteral("clear_counters")}});
    QCOMPARE(reply.value(QStringLiteral("cleared")).toBool(), true);
    QCOMPARE(m_monitor->stats().counters[Counter::SessionsOpened], quint64(0));

    reply = stream.request(
        {{QStringLiteral("command"), QStringLiteral("inspect")}, {QStringLiteral("id"), QString::fromLatin1(idA)}});
    QCOMPARE(reply.value(QStringLiteral("inspecting")).toBool(), true);

    // Errors are replies too, and the stream goes on.
    reply = stream.request({{QStringLiteral("command"), QStringLiteral("explode")}});
    QCOMPARE(reply.value(QStringLiteral("type")).toString(), QStringLiteral("reply"));
    QVERIFY(reply.value(QStringLiteral("error")).toString().contains(QLatin1String("explode")));
    reply = stream.request({{QStringLiteral("command"), QStringLiteral("disconnect")}, {QStringLiteral("ids"), 5}});
    QVERIFY(!reply.value(QStringLiteral("error")).toString().isEmpty());
    const qsizetype replies = stream.ofType(QStringLiteral("reply")).size();
    stream.socket().sendTextMessage(QStringLiteral("this is not JSON"));
    QVERIFY(stream.waitFor(QStringLiteral("reply"), replies + 1).contains(QStringLiteral("error")));
    QVERIFY(!stream.isDisconnected());
    QVERIFY(!a.isDisconnected());
}

void tst_ControlServer::streamLog()
{
    QVERIFY(startControl());
    StreamClient stream;
    QVERIFY(stream.open(m_control->port()));
    qWarning("control stream log marker %d", 42);
    qDebug("control stream debug marker"); // debug lines are not sent
    const QJsonObject log = stream.waitFor(QStringLiteral("log"));
    QVERIFY(!log.isEmpty());
    // Other warnings may come first (none expected); find ours.
    QTRY_VERIFY_WITH_TIMEOUT(std::any_of(stream.events().cbegin(), stream.events().cend(),
                                         [](const QJsonObject &e) {
                                             return e.value(QStringLiteral("text")).toString()
                                                    == QLatin1String("control stream log marker 42");
                                         }),
                             kWaitMs);
    for (const QJsonObject &event : stream.ofType(QStringLiteral("log"))) {
        QVERIFY(event.value(QStringLiteral("level")).toString() != QLatin1String("debug"));
        if (event.value(QStringLiteral("text")).toString() == QLatin1String("control stream log marker 42")) {
            QCOMPARE(event.value(QStringLiteral("level")).toString(), QStringLiteral("warning"));
            QVERIFY(event.contains(QStringLiteral("category")));
        }
    }
}

void tst_ControlServer::trafficOnlyToInspectingClient()
{
    QVERIFY(startControl());
    StreamClient watcher;
    StreamClient bystander;
    QVERIFY(watcher.open(m_control->port()));
    QVERIFY(bystander.open(m_control->port()));
    WebSocketClient a;
    WebSocketClient b;
    const QByteArray idA = openSockJsSession(&a, "a");
    const QByteArray idB = openSockJsSession(&b, "b");

    QCOMPARE(watcher
                 .request({{QStringLiteral("command"), QStringLiteral("inspect")},
                           {QStringLiteral("id"), QString::fromLatin1(idA)},
                           {QStringLiteral("inspect"), true}})
                 .value(QStringLiteral("inspecting"))
                 .toBool(),
             true);

    b.send({QStringLiteral("b's business")});
    QVERIFY(b.waitForMessages(1));
    a.send({QStringLiteral("a's business")});
    QVERIFY(a.waitForMessages(1));

    const QJsonObject in = watcher.waitFor(QStringLiteral("traffic"), 2);
    QVERIFY(!in.isEmpty());
    const QList<QJsonObject> traffic = watcher.ofType(QStringLiteral("traffic"));
    QCOMPARE(traffic.size(), 2);
    QCOMPARE(traffic.at(0).value(QStringLiteral("session")).toString().toLatin1(), idA);
    QCOMPARE(traffic.at(0).value(QStringLiteral("direction")).toString(), QStringLiteral("in"));
    QCOMPARE(traffic.at(0).value(QStringLiteral("data")).toString(), QStringLiteral("a's business"));
    QCOMPARE(traffic.at(1).value(QStringLiteral("direction")).toString(), QStringLiteral("out"));
    QCOMPARE(traffic.at(1).value(QStringLiteral("data")).toString(), QStringLiteral("a's business"));
    QVERIFY(TrafficEvent::fromJson(traffic.at(1)).time.isValid());

    // The bystander sees none of it; a round trip through it proves its
    // stream is up to date.
    QVERIFY(!bystander.request({{QStringLiteral("command"), QStringLiteral("clear_counters")}}).isEmpty());
    QVERIFY(bystander.ofType(QStringLiteral("traffic")).isEmpty());

    // The watcher leaves: the session is no longer inspected.
    Session *session = service(QStringLiteral("/echo"))->sessionByBackendId(idA);
    QVERIFY(session);
    QVERIFY(session->isInspected());
    watcher.socket().close();
    QTRY_VERIFY_WITH_TIMEOUT(!session->isInspected(), kWaitMs);
}

void tst_ControlServer::inspectionCountedOverClients()
{
    QVERIFY(startControl());
    StreamClient one;
    StreamClient two;
    QVERIFY(one.open(m_control->port()));
    QVERIFY(two.open(m_control->port()));
    WebSocketClient a;
    const QByteArray idA = openSockJsSession(&a, "a");
    Session *session = service(QStringLiteral("/echo"))->sessionByBackendId(idA);
    QVERIFY(session);
    const QJsonObject inspect{{QStringLiteral("command"), QStringLiteral("inspect")},
                              {QStringLiteral("id"), QString::fromLatin1(idA)},
                              {QStringLiteral("inspect"), true}};
    QJsonObject uninspect = inspect;
    uninspect.insert(QStringLiteral("inspect"), false);

    QVERIFY(!one.request(inspect).isEmpty());
    QVERIFY(!one.request(inspect).isEmpty()); // twice from one client counts once
    QVERIFY(!two.request(inspect).isEmpty());
    QVERIFY(session->isInspected());

    QVERIFY(!one.request(uninspect).isEmpty());
    QVERIFY(session->isInspected()); // two still inspects

    a.send({QStringLiteral("for two")});
    QVERIFY(two.waitFor(QStringLiteral("traffic"), 2).value(QStringLiteral("data")).toString()
            == QLatin1String("for two"));
    // A round trip through one: anything sent to it before has arrived.
    QVERIFY(!one.request({{QStringLiteral("command"), QStringLiteral("clear_counters")}}).isEmpty());
    QVERIFY(one.ofType(QStringLiteral("traffic")).isEmpty());

    QVERIFY(!two.request(uninspect).isEmpty());
    QVERIFY(!session->isInspected());
    QVERIFY(!one.request(uninspect).isEmpty()); // not inspecting: no effect
    QVERIFY(!session->isInspected());

    // A ControlServer that goes away leaves nothing inspected.
    QVERIFY(!one.request(inspect).isEmpty());
    QVERIFY(session->isInspected());
    m_control.reset();
    QVERIFY(!session->isInspected());
}

void tst_ControlServer::remoteMonitor()
{
    QVERIFY(startControl(kToken));
    WebSocketClient early;
    const QByteArray idEarly = openSockJsSession(&early, "early");

    RemoteMonitor remote;
    QSignalSpy connectionSpy(&remote, &MonitorSource::connectionChanged);
    QSignalSpy statsSpy(&remote, &MonitorSource::statsUpdated);
    remote.attach(QStringLiteral("127.0.0.1:%1").arg(m_control->port()), kToken);
    QTRY_VERIFY_WITH_TIMEOUT(remote.isConnected(), kWaitMs);
    QCOMPARE(connectionSpy.first().at(0).toBool(), true);
    // The snapshot: sessions and stats at once.
    QTRY_VERIFY_WITH_TIMEOUT(hasSession(remote.sessions(), idEarly), kWaitMs);
    QVERIFY(statsSpy.size() >= 1);
    QCOMPARE(remote.sessions().size(), 1);
    QCOMPARE(remote.sessions().first().transport, QByteArray("websocket"));

    // Sessions mirrored.
    WebSocketClient late;
    const QByteArray idLate = openSockJsSession(&late, "late");
    m_monitor->publishSessionChanges();
    QTRY_VERIFY_WITH_TIMEOUT(hasSession(remote.sessions(), idLate), kWaitMs);
    QCOMPARE(remote.sessions().size(), 2);
    for (const SessionInfo &info : remote.sessions()) {
        QVERIFY(hasSession(m_monitor->sessions(), info.id));
        QCOMPARE(info.service, QStringLiteral("/echo"));
        QCOMPARE(info.remoteAddress, QStringLiteral("127.0.0.1"));
    }

    // Stats mirrored.
    late.send({QStringLiteral("one"), QStringLiteral("two")});
    QVERIFY(late.waitForMessages(2));
    m_monitor->sampleStats(10'000);
    QTRY_COMPARE_WITH_TIMEOUT(remote.stats().time, QDateTime::fromMSecsSinceEpoch(10'000, Qt::UTC), kWaitMs);
    QCOMPARE(remote.stats().counters[Counter::MessagesIn], quint64(2));
    QCOMPARE(remote.stats().counters[Counter::SessionsOpened], quint64(2));
    QCOMPARE(remote.stats().sessionsOpen, qsizetype(2));
    QCOMPARE(remote.stats().services.size(), 4);

    // Inspect through the remote: its traffic() reports.
    QSignalSpy trafficSpy(&remote, &MonitorSource::traffic);
    remote.setInspected(idLate, true);
    Session *session = service(QStringLiteral("/echo"))->sessionByBackendId(idLate);
    QVERIFY(session);
    QTRY_VERIFY_WITH_TIMEOUT(session->isInspected(), kWaitMs);
    late.send({QStringLiteral("watched")});
    QVERIFY(late.waitForMessages(3));
    QTRY_COMPARE_WITH_TIMEOUT(trafficSpy.size(), 2, kWaitMs);
    const auto event = trafficSpy.at(0).at(0).value<TrafficEvent>();
    QCOMPARE(event.sessionId, idLate);
    QCOMPARE(event.data, QByteArray("watched"));
    QCOMPARE(event.direction, TrafficEvent::Direction::In);

    // Send through the remote.
    remote.sendToSession(idLate, "from remote");
    QVERIFY(late.waitForMessages(4));
    QCOMPARE(late.messages().last(), QStringLiteral("from remote"));

    // Disconnect through the remote: the real client gets 3000, the backend "disconnect".
    remote.disconnectSessions({idEarly});
    QVERIFY(early.waitForDisconnect());
    QCOMPARE(early.frames().last(), kGoAway);
    QCOMPARE(int(early.socket().closeCode()), 3000);
    QTRY_COMPARE_WITH_TIMEOUT(m_server->backend(QStringLiteral("/echo"))->sessionIds("disconnect"),
                              QList<QByteArray>{idEarly}, kWaitMs);
    QVERIFY(!late.isDisconnected());
    // ...and the remote sees it go.
    QTRY_VERIFY_WITH_TIMEOUT(!hasSession(m_monitor->sessions(), idEarly), kWaitMs);
    m_monitor->publishSessionChanges();
    QTRY_VERIFY_WITH_TIMEOUT(!hasSession(remote.sessions(), idEarly), kWaitMs);
    QVERIFY(hasSession(remote.sessions(), idLate));

    // Clear counters through the remote.
    remote.clearCounters();
    QTRY_COMPARE_WITH_TIMEOUT(remote.stats().counters[Counter::MessagesIn], quint64(0), kWaitMs);

    remote.detach();
    QVERIFY(!remote.isConnected());
    QCOMPARE(connectionSpy.last().at(0).toBool(), false);
    QVERIFY(remote.sessions().isEmpty());
    // Commands while detached go nowhere.
    remote.disconnectSessions({idLate});
    QVERIFY(late.socket().state() == QAbstractSocket::ConnectedState);
    // The server forgets the detached client's inspection.
    QTRY_VERIFY_WITH_TIMEOUT(!session->isInspected(), kWaitMs);
}

void tst_ControlServer::remoteMonitorLosesConnection()
{
    QVERIFY(startControl());
    WebSocketClient client;
    const QByteArray id = openSockJsSession(&client, "x");
    RemoteMonitor remote;
    QSignalSpy connectionSpy(&remote, &MonitorSource::connectionChanged);
    QSignalSpy sessionsSpy(&remote, &MonitorSource::sessionsChanged);
    remote.attach(QString::number(m_control->port()), QByteArray()); // "PORT" means 127.0.0.1
    QTRY_VERIFY_WITH_TIMEOUT(remote.isConnected(), kWaitMs);
    QTRY_VERIFY_WITH_TIMEOUT(hasSession(remote.sessions(), id), kWaitMs);

    m_control.reset(); // the proxy's endpoint goes away
    QTRY_VERIFY_WITH_TIMEOUT(!remote.isConnected(), kWaitMs);
    QCOMPARE(connectionSpy.last().at(0).toBool(), false);
    QVERIFY(!connectionSpy.last().at(1).toString().isEmpty());
    // Its sessions are no longer shown.
    QVERIFY(remote.sessions().isEmpty());
    QVERIFY(sessionsSpy.last().at(1).value<QList<QByteArray>>().contains(id));
    remote.detach();
}

void tst_ControlServer::remoteMonitorWrongToken()
{
    QVERIFY(startControl(kToken));
    RemoteMonitor remote;
    QSignalSpy connectionSpy(&remote, &MonitorSource::connectionChanged);
    remote.attach(QStringLiteral("127.0.0.1:%1").arg(m_control->port()), "wrong");
    // Refused at the handshake: said at once, not connected, no sessions.
    QVERIFY(connectionSpy.wait(kWaitMs));
    QCOMPARE(connectionSpy.size(), 1);
    QCOMPARE(connectionSpy.first().at(0).toBool(), false);
    QCOMPARE(connectionSpy.first().at(1).toString(), QStringLiteral("wrong or missing control token"));
    QVERIFY(!remote.isConnected());
    QVERIFY(remote.isUnauthorized());
    QVERIFY(remote.sessions().isEmpty());
    // Not tried again with the same token: no attempt is planned.
    QVERIFY(!remote.isRetryPending());
    QVERIFY(!connectionSpy.wait(2 * RemoteMonitor::kFirstRetryMs + 500));
    QCOMPARE(connectionSpy.size(), 1);
    // Until asked: then refused once more, and again said so.
    remote.reconnect();
    QVERIFY(connectionSpy.wait(kWaitMs));
    QCOMPARE(connectionSpy.size(), 2);
    QCOMPARE(connectionSpy.last().at(1).toString(), QStringLiteral("wrong or missing control token"));
    QVERIFY(!remote.isRetryPending());
    remote.detach();
    QVERIFY(!remote.isUnauthorized());

    // Nobody listening: said as well.
    const quint16 port = m_control->port();
    m_control.reset();
    QSignalSpy refusedSpy(&remote, &MonitorSource::connectionChanged);
    remote.attach(QStringLiteral("127.0.0.1:%1").arg(port), kToken);
    QVERIFY(refusedSpy.wait(kWaitMs));
    QCOMPARE(refusedSpy.size(), 1);
    QCOMPARE(refusedSpy.first().at(0).toBool(), false);
    // Tried again after a second, then after twice as long each time.
    QVERIFY(remote.isRetryPending());
    QCOMPARE(remote.currentRetryDelayMs(), RemoteMonitor::kFirstRetryMs);
    QVERIFY(refusedSpy.wait(kWaitMs));
    QCOMPARE(remote.currentRetryDelayMs(), 2 * RemoteMonitor::kFirstRetryMs);
    QVERIFY(!remote.isUnauthorized());
    remote.detach();

    // A malformed endpoint is reported at once.
    QSignalSpy badSpy(&remote, &MonitorSource::connectionChanged);
    remote.attach(QStringLiteral("not an endpoint"), QByteArray());
    QCOMPARE(badSpy.size(), 1);
    QCOMPARE(badSpy.first().at(0).toBool(), false);
    QVERIFY(badSpy.first().at(1).toString().contains(QLatin1String("not an endpoint")));
}

void tst_ControlServer::overTls()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    TlsFiles files;
    QString error;
    QVERIFY2(makeSelfSigned(dir.path(), QStringLiteral("control"), &files, &error), qPrintable(error));
    m_control = std::make_unique<ControlServer>(m_monitor.get());
    m_control->setToken(kToken);
    QVERIFY2(m_control->setTls(files, &error), qPrintable(error));
    QVERIFY(m_control->isTls());
    QVERIFY2(m_control->listen(QStringLiteral("127.0.0.1:0"), &error), qPrintable(error));

    // /metrics over HTTPS, with the TLS handshake counters of the HTTP port.
    HttpClient https(m_control->port());
    https.useTls({certificateOf(files)});
    QVERIFY(https.connectToServer());
    https.sendRequest("GET", "/metrics", QByteArray(), {{"Authorization", "Bearer " + kToken}});
    const HttpClient::Response metrics = https.readResponse();
    QCOMPARE(metrics.status, 200);
    QVERIFY(metrics.body.contains("\nsockjsproxy_tls_handshakes_failed_total{reason=\"error\"} 0\n"));
    QVERIFY(metrics.body.contains("\nsockjsproxy_tls_handshakes_failed_total{reason=\"timeout\"} 0\n"));

    // The stream over WSS.
    StreamClient stream;
    stream.useTls({certificateOf(files)});
    QVERIFY(stream.open(m_control->port(), QStringLiteral("token=") + QString::fromLatin1(kToken)));
    QCOMPARE(stream.events().first().value(QStringLiteral("type")).toString(), QStringLiteral("snapshot"));

    // Plain HTTP gets nothing.
    HttpClient plain(m_control->port());
    QVERIFY(plain.connectToServer());
    plain.sendRequest("GET", "/metrics", QByteArray(), {{"Authorization", "Bearer " + kToken}});
    QVERIFY(plain.waitForClose());
    QCOMPARE(plain.unread(), QByteArray());

    // A reload that cannot read the key keeps the pair.
    QVERIFY(QFile::remove(files.key));
    QTest::ignoreMessage(QtWarningMsg,
                         QRegularExpression(QStringLiteral("^--control-tls-cert: not reloaded, .*No such file")));
    QVERIFY(!m_control->reloadTls());
    HttpClient again(m_control->port());
    again.useTls({certificateOf(files)});
    QVERIFY(again.connectToServer());
    QCOMPARE(again.sslSocket().peerCertificate(), certificateOf(files));
    QVERIFY(stream.closeAndWait());
}

QTEST_GUILESS_MAIN(tst_ControlServer)
#include "tst_controlserver.moc"
