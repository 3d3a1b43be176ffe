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
#include "ports.h"
#include "processguard.h"
#include "testbackend.h"
#include "testpaths.h"
#include "waituntil.h"
#include "websocketclient.h"

#include <QDeadlineTimer>
#include <QFile>
#include <QProcess>
#include <QTest>

#include <algorithm>
#include <memory>
#include <vector>

#include <csignal>

using namespace SockJsProxy::Test;

namespace {

constexpr int kWaitMs = 10000; // passing runs take far less
// README: queued events get up to 2 s to leave; the rest of the exit is quick.
constexpr int kExitWithBackendMs = 3000;
constexpr int kExitWithoutBackendMs = 3500;
constexpr int kSessions = 20; // half WebSocket, half xhr-streaming

const QByteArray kShutdownFrame = QByteArrayLiteral("c[1001,\"Server is shutting down\"]");

// An xhr-streaming session; what it received so far, looked at without
// waiting, so that many sessions can run at once.
class StreamClient
{
public:
    explicit StreamClient(quint16 port) : m_http(port) {}
    void open(const QByteArray &path)
    {
        if (m_http.connectToServer())
            m_http.sendRequest("POST", path);
    }
    bool isOpen() { return m_http.unread().contains("\r\n2\r\no\n\r\n"); }
    // The close frame and then the terminating chunk.
    bool gotCloseAndEnd() { return m_http.unread().contains(kShutdownFrame + "\n\r\n0\r\n\r\n"); }
    bool isDisconnected() { return m_http.socket().state() == QAbstractSocket::UnconnectedState; }

private:
    HttpClient m_http;
};

struct Sessions
{
    std::vector<std::unique_ptr<WebSocketClient>> webSockets;
    std::vector<std::unique_ptr<StreamClient>> streams;

    void open(quint16 port, int count)
    {
        for (int i = 0; i < count; ++i) {
            const QByteArray id = QByteArray::number(i);
            if (i % 2 == 0) {
                webSockets.push_back(std::make_unique<WebSocketClient>());
                webSockets.back()->open(port, "/000/ws" + id + "/websocket");
            } else {
                streams.push_back(std::make_unique<StreamClient>(port));
                streams.back()->open("/000/xs" + id + "/xhr_streaming");
            }
        }
    }
    bool allOpen() const
    {
        return std::all_of(webSockets.cbegin(), webSockets.cend(), [](const auto &ws) { return ws->hasOpenFrame(); })
               && std::all_of(streams.cbegin(), streams.cend(), [](const auto &s) { return s->isOpen(); });
    }
    // Every client got the close frame and its connection ended.
    bool allClosed() const
    {
        return std::all_of(webSockets.cbegin(), webSockets.cend(), [](const auto &ws) { return ws->isDisconnected(); })
               && std::all_of(streams.cbegin(), streams.cend(),
                              [](const auto &s) { return s->gotCloseAndEnd() && s->isDisconnected(); });
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
    Child *proxy = guard.startProxy(ports.proxyArgs(), ports.http);
    QVERIFY(proxy);
    TestBackend backend(ports.inEndpoint(), ports.outEndpoint(), TestBackend::Mode::Echo);

    // The backend is connected and serving before the sessions open.
    WebSocketClient probe;
    probe.open(ports.http, "/000/probe/websocket");
    QVERIFY(waitUntil([&] { return probe.hasOpenFrame() || probe.isDisconnected(); }));
    probe.sendText(QStringLiteral("[\"ping\"]"));
    QVERIFY(waitUntil([&] { return probe.frames().contains("a[\"ping\"]"); }));

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
    QVERIFY(waitUntil([&] { return sessions.allClosed() && probe.isDisconnected(); }));
    for (const auto &ws : sessions.webSockets) {
        QCOMPARE(ws->significantFrames().constLast(), kShutdownFrame);
        QCOMPARE(int(ws->socket().closeCode()), 1001);
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
    Child *proxy = guard.startProxy(ports.proxyArgs(), ports.http);
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
    Child *proxy = guard.startProxy(ports.proxyArgs(), ports.http);
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
