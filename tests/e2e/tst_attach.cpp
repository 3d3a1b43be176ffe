// Attaching a monitor to a running headless proxy: the real
// `sockjsproxy-cli --control 127.0.0.1:PORT` runs as a child process, a
// TestBackend in this process serves it over ZeroMQ tcp endpoints (echo),
// and a RemoteMonitor here attaches to the control endpoint while a
// WebSocket client and an xhr-streaming client talk to the proxy.
//
// The child belongs to a ProcessGuard that kills it however the test ends
// (and PR_SET_PDEATHSIG kills it should this process die first). Ports are
// picked free at runtime. No sleeps: every wait spins the event loop until a
// condition holds or its deadline passes.

#include "httpclient.h"
#include "ports.h"
#include "processguard.h"
#include "testbackend.h"
#include "testpaths.h"
#include "waituntil.h"
#include "websocketclient.h"

#include "control/remotemonitor.h"

#include <QFile>
#include <QProcess>
#include <QSignalSpy>
#include <QTest>

#include <algorithm>

using namespace SockJsProxy;
using namespace SockJsProxy::Test;

namespace {

constexpr int kWaitMs = 10000; // passing runs take far less

const QByteArray kGoAway = QByteArrayLiteral("c[3000,\"Go away!\"]");

SessionInfo findSession(const QList<SessionInfo> &sessions, const QByteArray &id)
{
    for (const SessionInfo &info : sessions) {
        if (info.id == id)
            return info;
    }
    return SessionInfo();
}

QList<TrafficEvent> trafficOf(const QSignalSpy &spy, const QByteArray &id)
{
    QList<TrafficEvent> result;
    for (const QList<QVariant> &arguments : spy) {
        const auto event = arguments.at(0).value<TrafficEvent>();
        if (event.sessionId == id)
            result.append(event);
    }
    return result;
}

} // namespace

class tst_Attach : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void attach_data();
    void attach();
};

void tst_Attach::initTestCase()
{
    QVERIFY2(QFile::exists(cliPath()), qPrintable(cliPath()));
    qRegisterMetaType<SockJsProxy::TrafficEvent>();
    qRegisterMetaType<SockJsProxy::MonitorStats>();
    qRegisterMetaType<SockJsProxy::SessionInfo>();
}

void tst_Attach::attach_data()
{
    QTest::addColumn<QByteArray>("token");
    QTest::newRow("no token") << QByteArray();
    QTest::newRow("token") << QByteArray("attach-test-token");
}

void tst_Attach::attach()
{
    QFETCH(QByteArray, token);
    const QList<quint16> ports = freePorts(4);
    QCOMPARE(ports.size(), 4);
    const quint16 http = ports.at(0);
    const quint16 in = ports.at(1);
    const quint16 out = ports.at(2);
    const quint16 control = ports.at(3);

    ProcessGuard guard;
    QStringList args = Ports{http, in, out}.proxyArgs();
    args << QStringLiteral("--control") << QStringLiteral("127.0.0.1:%1").arg(control);
    if (!token.isEmpty())
        args << QStringLiteral("--control-token") << QString::fromUtf8(token);
    Child *proxy = guard.startProxy(args, http); // up and greeting on GET /
    QVERIFY(proxy);

    // The backend, in this process, over tcp.
    TestBackend backend(QStringLiteral("tcp://127.0.0.1:%1").arg(in), QStringLiteral("tcp://127.0.0.1:%1").arg(out),
                        TestBackend::Mode::Echo);

    // Attach.
    RemoteMonitor remote;
    QSignalSpy connectionSpy(&remote, &MonitorSource::connectionChanged);
    QSignalSpy trafficSpy(&remote, &MonitorSource::traffic);
    remote.attach(QStringLiteral("127.0.0.1:%1").arg(control), token);
    QVERIFY(waitUntil([&] { return remote.isConnected(); }));
    QCOMPARE(connectionSpy.first().at(0).toBool(), true);
    QVERIFY(remote.sessions().isEmpty());
    // The stats (sampled every second) show the backend connected to both sockets.
    QVERIFY(waitUntil([&] {
        const MonitorStats stats = remote.stats();
        return stats.services.size() == 1 && stats.services.first().backend.inPeers >= 1
               && stats.services.first().backend.outPeers >= 1;
    }));
    QCOMPARE(remote.stats().services.first().backend.inEndpoint, QStringLiteral("tcp://127.0.0.1:%1").arg(in));

    // A WebSocket client and an xhr-streaming client.
    WebSocketClient ws;
    QVERIFY(ws.openSession(http, "/000/attach/websocket"));
    QVERIFY(waitUntil([&] { return backend.sessionIds("connect").size() == 1; }));
    const QByteArray wsId = backend.sessionIds("connect").at(0);

    HttpClient stream(http, kWaitMs);
    QVERIFY(stream.connectToServer());
    stream.sendRequest("POST", "/000/streamer/xhr_streaming");
    const HttpClient::Response head = stream.readHead();
    QVERIFY(head.ok);
    QCOMPARE(head.status, 200);
    QByteArray streamed;
    QVERIFY(stream.readChunksUntil(&streamed, "o\n"));
    QVERIFY(waitUntil([&] { return backend.sessionIds("connect").size() == 2; }));
    const QByteArray streamId = backend.sessionIds("connect").at(1);

    // The RemoteMonitor shows both, with their transports.
    QVERIFY(waitUntil([&] {
        return findSession(remote.sessions(), wsId).transport == "websocket"
               && findSession(remote.sessions(), streamId).transport == "xhr-streaming";
    }));
    QCOMPARE(remote.sessions().size(), 2);
    for (const QByteArray &id : {wsId, streamId}) {
        const SessionInfo info = findSession(remote.sessions(), id);
        QCOMPARE(info.service, QStringLiteral("/"));
        QCOMPARE(info.remoteAddress, QStringLiteral("127.0.0.1"));
        QCOMPARE(info.state, QStringLiteral("open"));
    }
    QCOMPARE(findSession(remote.sessions(), wsId).remotePort, ws.socket().localPort());
    QCOMPARE(findSession(remote.sessions(), streamId).remotePort, stream.socket().localPort());

    // Inspect the WebSocket session. Commands run in order on the control
    // connection: once the client has the message sent after the inspect
    // command, inspection is on.
    remote.setInspected(wsId, true);
    remote.sendToSession(wsId, "inspection on");
    QVERIFY(ws.waitForMessage(QStringLiteral("inspection on")));
    const QString text = QString::fromUtf8("seen by the monitor \xe2\x98\x83");
    ws.send({text});
    QVERIFY(ws.waitForMessage(text)); // the echo
    QVERIFY(waitUntil([&] {
        const QList<TrafficEvent> events = trafficOf(trafficSpy, wsId);
        return std::count_if(events.cbegin(), events.cend(),
                             [&](const TrafficEvent &e) { return e.data == text.toUtf8(); })
               >= 2;
    }));
    const QList<TrafficEvent> events = trafficOf(trafficSpy, wsId);
    const auto incoming = std::find_if(events.cbegin(), events.cend(), [&](const TrafficEvent &e) {
        return e.direction == TrafficEvent::Direction::In;
    });
    QVERIFY(incoming != events.cend());
    QCOMPARE(incoming->data, text.toUtf8());
    QVERIFY(std::any_of(events.cbegin(), events.cend(), [&](const TrafficEvent &e) {
        return e.direction == TrafficEvent::Direction::Out && e.data == text.toUtf8();
    }));

    // The other session is not inspected: its messages are no traffic events.
    QCOMPARE(HttpClient::request(http, "POST", "/000/streamer/xhr_send", "[\"private\"]").status, 204);
    QVERIFY(stream.readChunksUntil(&streamed, "private"));
    // A traffic event of the inspected session, caused after that: whatever
    // the proxy sent the monitor before it has arrived.
    remote.sendToSession(wsId, "sync");
    QVERIFY(waitUntil([&] {
        const QList<TrafficEvent> events = trafficOf(trafficSpy, wsId);
        return std::any_of(events.cbegin(), events.cend(), [](const TrafficEvent &e) { return e.data == "sync"; });
    }));
    QVERIFY(trafficOf(trafficSpy, streamId).isEmpty());

    // Disconnect both from the monitor: the clients get 3000, the backend "disconnect".
    remote.disconnectSessions({wsId});
    QVERIFY(waitUntil([&] { return ws.isDisconnected(); }));
    QCOMPARE(ws.significantFrames().constLast(), kGoAway);
    QCOMPARE(int(ws.socket().closeCode()), 3000);
    QVERIFY(waitUntil([&] { return backend.sessionIds("disconnect").contains(wsId); }));
    QVERIFY(!backend.sessionIds("disconnect").contains(streamId));

    remote.disconnectSessions({streamId});
    QVERIFY(stream.readChunksUntil(&streamed, kGoAway + '\n'));
    QVERIFY(waitUntil([&] { return backend.sessionIds("disconnect").contains(streamId); }));
    QCOMPARE(backend.sessionIds("disconnect").size(), 2);
    // The monitor sees them go: the WebSocket session at once, the HTTP
    // one closed (it is forgotten after the disconnect delay).
    QVERIFY(waitUntil([&] {
        const QList<SessionInfo> sessions = remote.sessions();
        const SessionInfo streamInfo = findSession(sessions, streamId);
        return findSession(sessions, wsId).id.isEmpty()
               && (streamInfo.id.isEmpty() || streamInfo.state == QLatin1String("closed"));
    }));

    // SIGTERM: the proxy exits cleanly, the monitor hears of it.
    const qsizetype reportsBefore = connectionSpy.size();
    proxy->terminate();
    QVERIFY(waitUntil([&] { return !proxy->isRunning(); }));
    QCOMPARE(proxy->exitStatus(), QProcess::NormalExit);
    QVERIFY2(proxy->exitCode() == 0, proxy->output().constData());
    QVERIFY(waitUntil([&] { return connectionSpy.size() > reportsBefore; }));
    QCOMPARE(connectionSpy.at(reportsBefore).at(0).toBool(), false);
    QVERIFY(!connectionSpy.at(reportsBefore).at(1).toString().isEmpty());
    QVERIFY(!remote.isConnected());
    remote.detach();
}

QTEST_GUILESS_MAIN(tst_Attach)
#include "tst_attach.moc"
