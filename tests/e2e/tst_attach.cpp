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
#include "testbackend.h"
#include "testpaths.h"

#include "control/remotemonitor.h"

#include <QDeadlineTimer>
#include <QEventLoop>
#include <QFile>
#include <QHostAddress>
#include <QJsonArray>
#include <QJsonDocument>
#include <QProcess>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTest>
#include <QTimer>
#include <QUrl>
#include <QWebSocket>

#include <algorithm>
#include <memory>
#include <vector>

#ifdef Q_OS_LINUX
#include <csignal>
#include <sys/prctl.h>
#endif

using namespace SockJsProxy;
using namespace SockJsProxy::Test;

namespace {

constexpr int kStartMs = 20000; // the child up and serving (ASan)
constexpr int kWaitMs = 10000;  // anything else; passing runs take far less

const QByteArray kGreeting = QByteArrayLiteral("Welcome to SockJS!\n");
const QByteArray kGoAway = QByteArrayLiteral("c[3000,\"Go away!\"]");

template<typename Predicate>
bool waitUntil(Predicate &&predicate, int timeoutMs = kWaitMs)
{
    const QDeadlineTimer deadline(timeoutMs);
    while (!predicate()) {
        if (deadline.hasExpired())
            return predicate();
        QEventLoop loop;
        QTimer::singleShot(10, &loop, &QEventLoop::quit);
        loop.exec();
    }
    return true;
}

// Ports nobody listens on right now, all different (held at once, then
// released for the child).
QList<quint16> freePorts(int count)
{
    std::vector<std::unique_ptr<QTcpServer>> servers;
    QList<quint16> ports;
    for (int i = 0; i < count; ++i) {
        auto server = std::make_unique<QTcpServer>();
        if (!server->listen(QHostAddress::LocalHost, 0))
            return {};
        ports.append(server->serverPort());
        servers.push_back(std::move(server));
    }
    return ports;
}

// A child process and everything it wrote, collected as it arrives.
class Child : public QProcess
{
public:
    Child()
    {
        connect(this, &QProcess::readyReadStandardOutput, this, [this] { m_output += readAllStandardOutput(); });
        connect(this, &QProcess::readyReadStandardError, this, [this] { m_output += readAllStandardError(); });
    }
    QByteArray output() const { return m_output; }
    bool isRunning() const { return state() != QProcess::NotRunning; }

private:
    QByteArray m_output;
};

// Kills the child when the test function returns, passed or failed; a
// failed test gets the child's output in its log.
class ProcessGuard
{
public:
    ProcessGuard() = default;
    ProcessGuard(const ProcessGuard &) = delete;
    ProcessGuard &operator=(const ProcessGuard &) = delete;
    ~ProcessGuard()
    {
        if (!m_child)
            return;
        if (m_child->isRunning()) {
            m_child->kill();
            m_child->waitForFinished(5000);
        }
        if (QTest::currentTestFailed())
            qInfo().noquote() << "---- output of sockjsproxy-cli" << m_child->arguments().join(QLatin1Char(' '))
                              << "----\n" + QString::fromUtf8(m_child->output());
    }

    Child *start(const QString &program, const QStringList &args)
    {
        m_child = std::make_unique<Child>();
        m_child->setProgram(program);
        m_child->setArguments(args);
        QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
        environment.remove(QStringLiteral("SOCKJSPROXY_CONTROL_TOKEN")); // only what the arguments say
        environment.remove(QStringLiteral("QT_LOGGING_RULES"));
        environment.remove(QStringLiteral("QT_MESSAGE_PATTERN"));
        m_child->setProcessEnvironment(environment);
#ifdef Q_OS_LINUX
        m_child->setChildProcessModifier([] { ::prctl(PR_SET_PDEATHSIG, SIGKILL); });
#endif
        m_child->start();
        if (!m_child->waitForStarted(kStartMs)) {
            qWarning().noquote() << "cannot start" << program << ":" << m_child->errorString();
            return nullptr;
        }
        return m_child.get();
    }

private:
    std::unique_ptr<Child> m_child;
};

// A SockJS client over WebSocket recording every frame.
class WsClient : public QObject
{
public:
    WsClient()
    {
        connect(&socket, &QWebSocket::textMessageReceived, this,
                [this](const QString &message) { frames.append(message.toUtf8()); });
        connect(&socket, &QWebSocket::disconnected, this, [this] { disconnected = true; });
    }
    bool open(quint16 port, const QByteArray &path)
    {
        socket.open(QUrl(QStringLiteral("ws://127.0.0.1:%1%2").arg(port).arg(QString::fromLatin1(path))));
        return waitUntil([this] { return !frames.isEmpty() || disconnected; }) && frames.value(0) == "o";
    }
    void send(const QString &message)
    {
        socket.sendTextMessage(QString::fromUtf8(QJsonDocument(QJsonArray{message}).toJson(QJsonDocument::Compact)));
    }
    QStringList messages() const
    {
        QStringList result;
        for (const QByteArray &frame : frames) {
            if (!frame.startsWith('a'))
                continue;
            const QJsonArray array = QJsonDocument::fromJson(frame.mid(1)).array();
            for (const QJsonValue &value : array)
                result.append(value.toString());
        }
        return result;
    }
    bool waitForMessage(const QString &message)
    {
        return waitUntil([&] { return messages().contains(message) || disconnected; }) && messages().contains(message);
    }
    QList<QByteArray> significantFrames() const
    {
        QList<QByteArray> result = frames;
        result.removeAll("h");
        return result;
    }

    QWebSocket socket;
    QList<QByteArray> frames;
    bool disconnected = false;
};

// Reads a chunked SockJS stream until what was read contains needle.
bool readStreamUntil(HttpClient &client, QByteArray *received, const QByteArray &needle)
{
    while (!received->contains(needle)) {
        const QByteArray chunk = client.readChunk();
        if (chunk.isEmpty()) // timeout (null) or the last chunk
            return received->contains(needle);
        *received += chunk;
    }
    return true;
}

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
    QStringList args{QStringLiteral("--http-address"),
                     QStringLiteral("127.0.0.1"),
                     QStringLiteral("-p"),
                     QString::number(http),
                     QStringLiteral("-a"),
                     QStringLiteral("127.0.0.1"),
                     QStringLiteral("-i"),
                     QString::number(in),
                     QStringLiteral("-o"),
                     QString::number(out),
                     QStringLiteral("--control"),
                     QStringLiteral("127.0.0.1:%1").arg(control)};
    if (!token.isEmpty())
        args << QStringLiteral("--control-token") << QString::fromUtf8(token);
    Child *proxy = guard.start(cliPath(), args);
    QVERIFY(proxy);
    bool greeted = false;
    waitUntil(
        [&] {
            if (!proxy->isRunning())
                return true;
            const HttpClient::Response response = HttpClient::request(http, "GET", "/");
            greeted = response.ok && response.status == 200 && response.body == kGreeting;
            return greeted;
        },
        kStartMs);
    QVERIFY2(greeted, proxy->output().constData());

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
    WsClient ws;
    QVERIFY(ws.open(http, "/000/attach/websocket"));
    QVERIFY(waitUntil([&] { return backend.sessionIds("connect").size() == 1; }));
    const QByteArray wsId = backend.sessionIds("connect").at(0);

    HttpClient stream(http, kWaitMs);
    QVERIFY(stream.connectToServer());
    stream.sendRequest("POST", "/000/streamer/xhr_streaming");
    const HttpClient::Response head = stream.readHead();
    QVERIFY(head.ok);
    QCOMPARE(head.status, 200);
    QByteArray streamed;
    QVERIFY(readStreamUntil(stream, &streamed, "o\n"));
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
    QCOMPARE(findSession(remote.sessions(), wsId).remotePort, ws.socket.localPort());
    QCOMPARE(findSession(remote.sessions(), streamId).remotePort, stream.socket().localPort());

    // Inspect the WebSocket session. Commands run in order on the control
    // connection: once the client has the message sent after the inspect
    // command, inspection is on.
    remote.setInspected(wsId, true);
    remote.sendToSession(wsId, "inspection on");
    QVERIFY(ws.waitForMessage(QStringLiteral("inspection on")));
    const QString text = QString::fromUtf8("seen by the monitor \xe2\x98\x83");
    ws.send(text);
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
    QVERIFY(readStreamUntil(stream, &streamed, "private"));
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
    QVERIFY(waitUntil([&] { return ws.disconnected; }));
    QCOMPARE(ws.significantFrames().constLast(), kGoAway);
    QCOMPARE(int(ws.socket.closeCode()), 3000);
    QVERIFY(waitUntil([&] { return backend.sessionIds("disconnect").contains(wsId); }));
    QVERIFY(!backend.sessionIds("disconnect").contains(streamId));

    remote.disconnectSessions({streamId});
    QVERIFY(readStreamUntil(stream, &streamed, kGoAway + '\n'));
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
