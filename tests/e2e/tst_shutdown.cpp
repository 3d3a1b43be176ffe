// Graceful shutdown of the real sockjsproxy-cli (README "Exit codes"): on
// SIGTERM every session is closed with a close frame, backends get
// "disconnect" for every session they saw "connect" for, queued events get a
// bounded time to leave, and the process exits 0; a second signal exits at
// once.
//
// The proxy runs as a child process owned by a ProcessGuard that kills it
// when the test function returns, passed or failed (and PR_SET_PDEATHSIG
// kills it should this process die first). Ports are picked free at runtime.
// The backend is a TestBackend in this process, connected over tcp://.
// No sleeps: every wait spins the event loop until a condition holds.

#include "httpclient.h"
#include "testbackend.h"
#include "testpaths.h"

#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QHostAddress>
#include <QProcess>
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
#include <sys/types.h>
#endif

using namespace SockJsProxy::Test;

namespace {

constexpr int kStartMs = 20000; // a child up and serving (ASan)
constexpr int kWaitMs = 10000;  // anything else; passing runs take far less
// README: queued events get up to 2 s to leave; the rest of the exit is quick.
constexpr int kExitWithBackendMs = 3000;
constexpr int kExitWithoutBackendMs = 3500;
constexpr int kSessions = 20; // half WebSocket, half xhr-streaming

const QByteArray kGreeting = QByteArrayLiteral("Welcome to SockJS!\n");
const QByteArray kShutdownFrame = QByteArrayLiteral("c[1001,\"Server is shutting down\"]");

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

// Ports nobody listens on right now: held at once (so they differ), then
// released for the child that binds them.
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

struct Ports
{
    quint16 http = 0;
    quint16 in = 0;
    quint16 out = 0;

    static Ports pick()
    {
        const QList<quint16> ports = freePorts(3);
        Ports result;
        if (ports.size() == 3) {
            result.http = ports.at(0);
            result.in = ports.at(1);
            result.out = ports.at(2);
        }
        return result;
    }
    bool ok() const { return http != 0; }
    QStringList proxyArgs() const
    {
        return {QStringLiteral("--http-address"),
                QStringLiteral("127.0.0.1"),
                QStringLiteral("-p"),
                QString::number(http),
                QStringLiteral("-a"),
                QStringLiteral("127.0.0.1"),
                QStringLiteral("-i"),
                QString::number(in),
                QStringLiteral("-o"),
                QString::number(out)};
    }
    QString inEndpoint() const { return QStringLiteral("tcp://127.0.0.1:%1").arg(in); }
    QString outEndpoint() const { return QStringLiteral("tcp://127.0.0.1:%1").arg(out); }
};

// A child process, its output collected as it arrives, and when it ended.
class Child : public QProcess
{
public:
    Child()
    {
        connect(this, &QProcess::readyReadStandardOutput, this, [this] { m_output += readAllStandardOutput(); });
        connect(this, &QProcess::readyReadStandardError, this, [this] { m_output += readAllStandardError(); });
        connect(this, &QProcess::finished, this, [this] {
            if (m_signalled.isValid())
                m_exitMs = m_signalled.elapsed();
        });
    }
    QByteArray output() const { return m_output; }
    bool isRunning() const { return state() != QProcess::NotRunning; }

    // Sends a signal and starts the clock for exitMs().
    void sendSignal(int signal)
    {
        if (!m_signalled.isValid())
            m_signalled.start();
        ::kill(pid_t(processId()), signal);
    }
    // Milliseconds from the first sendSignal() to the exit; -1 while running.
    qint64 exitMs() const { return m_exitMs; }

private:
    QByteArray m_output;
    QElapsedTimer m_signalled;
    qint64 m_exitMs = -1;
};

// Owns the proxy of one test function and kills it, however the test ended.
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
        const QByteArray output = m_child->output();
        if (!QTest::currentTestFailed()
            && (output.contains("ERROR: AddressSanitizer") || output.contains("ERROR: LeakSanitizer")
                || output.contains("runtime error:"))) {
            QTest::qFail("sanitizer report from sockjsproxy-cli", __FILE__, __LINE__);
        }
        if (QTest::currentTestFailed())
            qInfo().noquote() << "---- output of sockjsproxy-cli ----\n" + QString::fromUtf8(output);
    }

    // Starts sockjsproxy-cli and waits until it greets on GET /.
    Child *startProxy(const Ports &ports)
    {
        m_child = std::make_unique<Child>();
        m_child->setProgram(cliPath());
        m_child->setArguments(ports.proxyArgs());
        QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
        environment.remove(QStringLiteral("QT_LOGGING_RULES"));
        environment.remove(QStringLiteral("QT_MESSAGE_PATTERN"));
        m_child->setProcessEnvironment(environment);
#ifdef Q_OS_LINUX
        m_child->setChildProcessModifier([] { ::prctl(PR_SET_PDEATHSIG, SIGKILL); });
#endif
        m_child->start();
        if (!m_child->waitForStarted(kStartMs))
            return nullptr;
        bool greeted = false;
        waitUntil(
            [&] {
                if (!m_child->isRunning())
                    return true;
                const HttpClient::Response response = HttpClient::request(ports.http, "GET", "/");
                greeted = response.ok && response.status == 200 && response.body == kGreeting;
                return greeted;
            },
            kStartMs);
        if (!greeted || !m_child->isRunning()) {
            qWarning().noquote() << "the proxy did not come up:\n" + QString::fromUtf8(m_child->output());
            return nullptr;
        }
        return m_child.get();
    }

private:
    std::unique_ptr<Child> m_child;
};

// A QWebSocket that records every frame it receives.
class WsClient : public QObject
{
public:
    WsClient()
    {
        connect(&socket, &QWebSocket::textMessageReceived, this,
                [this](const QString &message) { frames.append(message.toUtf8()); });
        connect(&socket, &QWebSocket::disconnected, this, [this] { disconnected = true; });
    }
    void open(quint16 port, const QByteArray &path)
    {
        socket.open(QUrl(QStringLiteral("ws://127.0.0.1:%1%2").arg(port).arg(QString::fromLatin1(path))));
    }
    bool isOpen() const { return frames.value(0) == "o"; }
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

// An xhr-streaming session; what it received so far, read as it arrives.
class StreamClient : public QObject
{
public:
    explicit StreamClient(quint16 port)
    {
        connect(&socket, &QTcpSocket::readyRead, this, [this] { received += socket.readAll(); });
        connect(&socket, &QTcpSocket::disconnected, this, [this] { disconnected = true; });
        socket.connectToHost(QHostAddress::LocalHost, port);
    }
    void open(const QByteArray &path)
    {
        socket.write("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n");
    }
    bool isOpen() const { return received.contains("\r\n2\r\no\n\r\n"); }
    // The close frame and then the terminating chunk.
    bool gotCloseAndEnd() const { return received.contains(kShutdownFrame + "\n\r\n0\r\n\r\n"); }

    QTcpSocket socket;
    QByteArray received;
    bool disconnected = false;
};

struct Sessions
{
    std::vector<std::unique_ptr<WsClient>> webSockets;
    std::vector<std::unique_ptr<StreamClient>> streams;

    void open(quint16 port, int count)
    {
        for (int i = 0; i < count; ++i) {
            const QByteArray id = QByteArray::number(i);
            if (i % 2 == 0) {
                webSockets.push_back(std::make_unique<WsClient>());
                webSockets.back()->open(port, "/000/ws" + id + "/websocket");
            } else {
                streams.push_back(std::make_unique<StreamClient>(port));
                streams.back()->open("/000/xs" + id + "/xhr_streaming");
            }
        }
    }
    bool allOpen() const
    {
        return std::all_of(webSockets.cbegin(), webSockets.cend(), [](const auto &ws) { return ws->isOpen(); })
               && std::all_of(streams.cbegin(), streams.cend(), [](const auto &s) { return s->isOpen(); });
    }
    // Every client got the close frame and its connection ended.
    bool allClosed() const
    {
        return std::all_of(webSockets.cbegin(), webSockets.cend(), [](const auto &ws) { return ws->disconnected; })
               && std::all_of(streams.cbegin(), streams.cend(),
                              [](const auto &s) { return s->gotCloseAndEnd() && s->disconnected; });
    }
};

// Whether SIGTERM is still pending for the process (not yet taken by a thread).
bool sigtermPending(qint64 pid)
{
    QFile status(QStringLiteral("/proc/%1/status").arg(pid));
    if (!status.open(QIODevice::ReadOnly))
        return false;
    for (const QByteArray &line : status.readAll().split('\n')) {
        if (line.startsWith("ShdPnd:") || line.startsWith("SigPnd:")) {
            bool ok = false;
            const quint64 mask = line.mid(7).trimmed().toULongLong(&ok, 16);
            if (ok && (mask & (quint64(1) << (SIGTERM - 1))))
                return true;
        }
    }
    return false;
}

} // namespace

class tst_Shutdown : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void sigtermClosesEverySession();
    void sigtermWithoutBackend();
    void secondSignalExitsAtOnce();
};

void tst_Shutdown::initTestCase() { QVERIFY2(QFile::exists(cliPath()), qPrintable(cliPath())); }

void tst_Shutdown::sigtermClosesEverySession()
{
    const Ports ports = Ports::pick();
    QVERIFY(ports.ok());
    ProcessGuard guard;
    Child *proxy = guard.startProxy(ports);
    QVERIFY(proxy);
    TestBackend backend(ports.inEndpoint(), ports.outEndpoint(), TestBackend::Mode::Echo);

    // The backend is connected and serving before the sessions open.
    WsClient probe;
    probe.open(ports.http, "/000/probe/websocket");
    QVERIFY(waitUntil([&] { return probe.isOpen() || probe.disconnected; }));
    probe.socket.sendTextMessage(QStringLiteral("[\"ping\"]"));
    QVERIFY(waitUntil([&] { return probe.frames.contains("a[\"ping\"]"); }));

    Sessions sessions;
    sessions.open(ports.http, kSessions - 1);
    QVERIFY(waitUntil([&] { return sessions.allOpen(); }));
    QVERIFY(waitUntil([&] { return backend.sessionIds("connect").size() == kSessions; }));

    proxy->sendSignal(SIGTERM);

    QVERIFY(waitUntil([&] { return !proxy->isRunning(); }));
    QCOMPARE(proxy->exitStatus(), QProcess::NormalExit);
    QCOMPARE(proxy->exitCode(), 0);
    QVERIFY2(proxy->exitMs() < kExitWithBackendMs, QByteArray::number(proxy->exitMs()).constData());

    // Every client got the close frame, then the end of its connection.
    QVERIFY(waitUntil([&] { return sessions.allClosed() && probe.disconnected; }));
    for (const auto &ws : sessions.webSockets) {
        QCOMPARE(ws->significantFrames().constLast(), kShutdownFrame);
        QCOMPARE(int(ws->socket.closeCode()), 1001);
    }
    QCOMPARE(probe.significantFrames().constLast(), kShutdownFrame);

    // The backend heard "disconnect" once for each session it saw "connect" for.
    QVERIFY(waitUntil([&] { return backend.sessionIds("disconnect").size() >= kSessions; }));
    QList<QByteArray> connected = backend.sessionIds("connect");
    QList<QByteArray> disconnected = backend.sessionIds("disconnect");
    std::sort(connected.begin(), connected.end());
    std::sort(disconnected.begin(), disconnected.end());
    QCOMPARE(disconnected, connected);
    QVERIFY(!proxy->output().contains("not delivered at exit"));
}

void tst_Shutdown::sigtermWithoutBackend()
{
    const Ports ports = Ports::pick();
    QVERIFY(ports.ok());
    ProcessGuard guard;
    Child *proxy = guard.startProxy(ports);
    QVERIFY(proxy);

    Sessions sessions;
    sessions.open(ports.http, kSessions);
    QVERIFY(waitUntil([&] { return sessions.allOpen(); }));

    // Nobody will ever take the "disconnect"s: the flush is bounded.
    proxy->sendSignal(SIGTERM);
    QVERIFY(waitUntil([&] { return !proxy->isRunning(); }));
    QCOMPARE(proxy->exitStatus(), QProcess::NormalExit);
    QCOMPARE(proxy->exitCode(), 0);
    QVERIFY2(proxy->exitMs() < kExitWithoutBackendMs, QByteArray::number(proxy->exitMs()).constData());
    QVERIFY(proxy->output().contains("not delivered at exit"));

    QVERIFY(waitUntil([&] { return sessions.allClosed(); }));
    for (const auto &ws : sessions.webSockets)
        QCOMPARE(ws->significantFrames().constLast(), kShutdownFrame);
}

void tst_Shutdown::secondSignalExitsAtOnce()
{
    const Ports ports = Ports::pick();
    QVERIFY(ports.ok());
    ProcessGuard guard;
    Child *proxy = guard.startProxy(ports);
    QVERIFY(proxy);

    // No backend and sessions open: a graceful exit would wait for the flush.
    Sessions sessions;
    sessions.open(ports.http, 4);
    QVERIFY(waitUntil([&] { return sessions.allOpen(); }));

    // Two SIGTERMs back to back. Two signals still pending at once would
    // merge into one, so the second goes once a thread has taken the first
    // (no longer pending): its handler is running or done, and the second is
    // then certain to be a second signal.
    proxy->sendSignal(SIGTERM);
    QDeadlineTimer deadline(kWaitMs);
    while (sigtermPending(proxy->processId()) && !deadline.hasExpired()) {}
    QVERIFY(!deadline.hasExpired());
    proxy->sendSignal(SIGTERM);

    QVERIFY(waitUntil([&] { return !proxy->isRunning(); }));
    QCOMPARE(proxy->exitStatus(), QProcess::NormalExit);
    QCOMPARE(proxy->exitCode(), 128 + SIGTERM);
    // At once: the bounded flush of the graceful path never ran to its end.
    QVERIFY(!proxy->output().contains("not delivered at exit"));
}

QTEST_GUILESS_MAIN(tst_Shutdown)
#include "tst_shutdown.moc"
