// The listening ports (Listener) of a Server and of its ControlServer, in
// this process: limits.max_connections and max_connections_per_address
// (503 with Retry-After, or a close, counted by reason), and running out
// of file descriptors: this process's own soft RLIMIT_NOFILE is lowered
// until accept() fails with EMFILE, and the listener must stop accepting
// for a pause (not polled: the process's CPU time stays near zero while
// clients keep arriving), refuse waiting clients at once, count and log it,
// keep serving what is open, and accept again once descriptors are back.
//
// Runs on Qt's event dispatcher, and, registered a second time with
// SOCKJSPROXY_EVENT_DISPATCHER=epoll, on the CLI's epoll dispatcher.
//
// A Server on 127.0.0.1, port 0, with in-process TestBackends (TestServer).

#include "control/controlserver.h"
#include "http/listener.h"
#include "httpclient.h"
#include "metrics/monitor.h"
#include "testserver.h"
#ifdef SOCKJSPROXY_EPOLL_DISPATCHER
#include "eventloop/epolldispatcher.h"
#endif

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QHostAddress>
#include <QSignalSpy>
#include <QTest>
#include <QWebSocket>

#include <memory>
#include <vector>

#ifdef Q_OS_UNIX
#include <arpa/inet.h>
#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

using namespace SockJsProxy;
using namespace SockJsProxy::Test;

namespace {

constexpr int kWaitMs = 10000;
const QHostAddress kOtherAddress(QStringLiteral("127.0.0.2"));
const QByteArray kGreeting = QByteArrayLiteral("Welcome to SockJS!\n");

// Log lines, for the ones the listener must write.
QStringList g_log;
QtMessageHandler g_previousHandler = nullptr;
void recordLog(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    g_log.append(message);
    if (g_previousHandler)
        g_previousHandler(type, context, message);
}

qsizetype logLinesContaining(const QString &text)
{
    qsizetype count = 0;
    for (const QString &line : std::as_const(g_log))
        count += line.contains(text) ? 1 : 0;
    return count;
}

#ifdef Q_OS_LINUX
// A client on a raw descriptor, created before the descriptors run out
// (connect() needs none). Never blocks: reads what is there.
class RawClient
{
public:
    RawClient() { m_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0); }
    ~RawClient()
    {
        if (m_fd >= 0)
            ::close(m_fd);
    }
    RawClient(const RawClient &) = delete;
    RawClient &operator=(const RawClient &) = delete;

    bool isValid() const { return m_fd >= 0; }

    bool connectTo(quint16 port)
    {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        const int result = ::connect(m_fd, reinterpret_cast<sockaddr *>(&address), sizeof address);
        return result == 0 || errno == EINPROGRESS;
    }
    bool send(const QByteArray &bytes)
    {
        return ::send(m_fd, bytes.constData(), size_t(bytes.size()), MSG_NOSIGNAL) > 0;
    }

    // Reads what has arrived; true once the server closed (EOF or reset).
    bool poll()
    {
        char buffer[4096];
        for (;;) {
            const ssize_t n = ::recv(m_fd, buffer, sizeof buffer, MSG_DONTWAIT);
            if (n > 0) {
                m_received.append(buffer, qsizetype(n));
                continue;
            }
            // ENOTCONN: the handshake is not through yet (a SYN to retry).
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ENOTCONN))
                m_closed = true;
            return m_closed;
        }
    }
    bool isClosed() const { return m_closed; }
    QByteArray received() const { return m_received; }

private:
    int m_fd = -1;
    QByteArray m_received;
    bool m_closed = false;
};

int highestOpenDescriptor()
{
    int highest = -1;
    if (DIR *dir = ::opendir("/proc/self/fd")) {
        while (const dirent *entry = ::readdir(dir)) {
            bool ok = false;
            const int fd = QByteArray(entry->d_name).toInt(&ok);
            if (ok && fd != ::dirfd(dir))
                highest = qMax(highest, fd);
        }
        ::closedir(dir);
    }
    return highest;
}

// Descriptors holding every free number up to highest, so that the next
// one opened is above it; closed when this goes.
class Fillers
{
public:
    explicit Fillers(int highest)
    {
        for (;;) {
            const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                break;
            if (fd > highest) {
                ::close(fd);
                break;
            }
            m_fds.push_back(fd);
        }
    }
    ~Fillers()
    {
        for (const int fd : m_fds)
            ::close(fd);
    }
    Fillers(const Fillers &) = delete;
    Fillers &operator=(const Fillers &) = delete;

private:
    std::vector<int> m_fds;
};

// CPU time this process has used, in milliseconds.
qint64 cpuMs()
{
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    return qint64(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000
           + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1000;
}
#endif

} // namespace

class tst_Listener : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void init();
    void cleanup();
    void connectionLimits();
    void webSocketCountedUntilClosed();
    void refusedWithoutRequestIsClosed();
    void outOfDescriptors_data();
    void outOfDescriptors();

private:
    std::unique_ptr<TestServer> m_server;
#ifdef Q_OS_UNIX
    rlimit m_limit{};
#endif
};

void tst_Listener::initTestCase()
{
    g_previousHandler = qInstallMessageHandler(recordLog);
#ifdef Q_OS_UNIX
    QCOMPARE(::getrlimit(RLIMIT_NOFILE, &m_limit), 0);
#endif
    qInfo() << "event dispatcher:" << QCoreApplication::eventDispatcher()->metaObject()->className();
}

void tst_Listener::cleanupTestCase() { qInstallMessageHandler(g_previousHandler); }

void tst_Listener::init() { g_log.clear(); }

void tst_Listener::cleanup()
{
#ifdef Q_OS_UNIX
    ::setrlimit(RLIMIT_NOFILE, &m_limit);
#endif
    m_server.reset();
}

// 3 connections in all, 2 from one address: the third from 127.0.0.1 is
// over the per-address limit, the next from 127.0.0.2 over the total.
void tst_Listener::connectionLimits()
{
    Config config = TestServer::protocolConfig(QString());
    config.resources.maxConnections = 3;
    config.resources.maxConnectionsPerAddress = 2;
    m_server = std::make_unique<TestServer>();
    QVERIFY(m_server->start(config));
    Server *server = m_server->server();
    const quint16 port = m_server->port();
    QCOMPARE(server->maxConnections(), 3);
    QCOMPARE(server->maxConnectionsPerAddress(), 2);

    // Two keep-alive connections from 127.0.0.1, served.
    std::vector<std::unique_ptr<HttpClient>> open;
    for (int i = 0; i < 2; ++i) {
        open.push_back(std::make_unique<HttpClient>(port, kWaitMs));
        QVERIFY(open.back()->connectToServer());
        open.back()->sendRequest("GET", "/echo");
        QCOMPARE(open.back()->readResponse().body, kGreeting);
    }
    QCOMPARE(server->openConnections(), 2);

    // A third from 127.0.0.1: 503 once its request is in, then closed.
    HttpClient overAddress(port, kWaitMs);
    QVERIFY(overAddress.connectToServer());
    overAddress.sendRequest("GET", "/echo");
    const HttpClient::Response refused = overAddress.readResponse();
    QCOMPARE(refused.status, 503);
    QCOMPARE(refused.header("Retry-After"), QByteArray("5"));
    QCOMPARE(refused.header("Connection"), QByteArray("close"));
    QCOMPARE(refused.body, QByteArray("Too many connections\n"));
    QVERIFY(overAddress.waitForClose());
    QCOMPARE(server->counters()[Counter::ConnectionsRefusedPerAddress], quint64(1));
    QCOMPARE(server->counters()[Counter::ConnectionsRefusedMaxConnections], quint64(0));

    // One from 127.0.0.2 fits the total; the next does not.
    HttpClient other(port, kWaitMs);
    QVERIFY2(other.socket().bind(kOtherAddress) && other.connectToServer(), "cannot connect from 127.0.0.2");
    other.sendRequest("GET", "/echo");
    QCOMPARE(other.readResponse().body, kGreeting);
    QCOMPARE(server->openConnections(), 3);
    HttpClient overTotal(port, kWaitMs);
    QVERIFY(overTotal.socket().bind(kOtherAddress) && overTotal.connectToServer());
    overTotal.sendRequest("GET", "/echo");
    QCOMPARE(overTotal.readResponse().status, 503);
    QCOMPARE(server->counters()[Counter::ConnectionsRefusedMaxConnections], quint64(1));
    QCOMPARE(server->counters()[Counter::ConnectionsRefusedPerAddress], quint64(1));
    QCOMPARE(server->counters()[Counter::ConnectionsAccepted], quint64(3));

    // The connections already open were never disturbed.
    open.front()->sendRequest("GET", "/echo");
    QCOMPARE(open.front()->readResponse().body, kGreeting);

    // A connection that goes makes room, for its address too.
    open.front()->socket().abort();
    QTRY_COMPARE_WITH_TIMEOUT(server->openConnections(), 2, kWaitMs);
    HttpClient again(port, kWaitMs);
    QVERIFY(again.connectToServer());
    again.sendRequest("GET", "/echo");
    QCOMPARE(again.readResponse().body, kGreeting);
    QCOMPARE(server->counters()[Counter::ConnectionsRefusedMaxConnections], quint64(1));
}

// A WebSocket's TCP connection is counted while the QWebSocket holds it.
void tst_Listener::webSocketCountedUntilClosed()
{
    Config config = TestServer::protocolConfig(QString());
    config.resources.maxConnections = 1;
    m_server = std::make_unique<TestServer>();
    QVERIFY(m_server->start(config));
    Server *server = m_server->server();

    QWebSocket socket;
    QSignalSpy messages(&socket, &QWebSocket::textMessageReceived);
    socket.open(QUrl(QStringLiteral("ws://127.0.0.1:%1/echo/000/w/websocket").arg(m_server->port())));
    QTRY_COMPARE_WITH_TIMEOUT(messages.size(), 1, kWaitMs);
    QCOMPARE(messages.at(0).at(0).toString(), QStringLiteral("o"));
    QCOMPARE(server->openConnections(), 1);
    QCOMPARE(HttpClient::request(m_server->port(), "GET", "/echo").status, 503);

    socket.close();
    QTRY_COMPARE_WITH_TIMEOUT(server->openConnections(), 0, kWaitMs);
    QCOMPARE(HttpClient::request(m_server->port(), "GET", "/echo").body, kGreeting);
}

// Over a limit, a client that sends nothing is closed after the grace.
void tst_Listener::refusedWithoutRequestIsClosed()
{
    Config config = TestServer::protocolConfig(QString());
    config.resources.maxConnections = 1;
    m_server = std::make_unique<TestServer>();
    QVERIFY(m_server->start(config));
    HttpClient holder(m_server->port(), kWaitMs);
    QVERIFY(holder.connectToServer());
    QTRY_COMPARE_WITH_TIMEOUT(m_server->server()->openConnections(), 1, kWaitMs);

    HttpClient silent(m_server->port(), kWaitMs);
    QElapsedTimer timer;
    timer.start();
    QVERIFY(silent.connectToServer());
    QVERIFY(silent.waitForClose());
    QVERIFY2(timer.elapsed() >= Listener::kRefusalGraceMs - 100, qPrintable(QString::number(timer.elapsed())));
    QVERIFY2(timer.elapsed() < Listener::kRefusalGraceMs + 3000, qPrintable(QString::number(timer.elapsed())));
    QCOMPARE(silent.socket().bytesAvailable(), qint64(0));
    QCOMPARE(m_server->server()->counters()[Counter::ConnectionsRefusedMaxConnections], quint64(1));
}

void tst_Listener::outOfDescriptors_data()
{
    QTest::addColumn<bool>("control");
    QTest::newRow("HTTP port") << false;
    QTest::newRow("control endpoint") << true;
}

void tst_Listener::outOfDescriptors()
{
#ifndef Q_OS_LINUX
    QSKIP("needs /proc/self/fd and RLIMIT_NOFILE");
#else
    QFETCH(bool, control);
    Config config = TestServer::protocolConfig(QString());
    config.resources.maxConnectionsPerAddress = 0;
    m_server = std::make_unique<TestServer>();
    QVERIFY(m_server->start(config));
    Server *server = m_server->server();
    Monitor monitor(server);
    ControlServer controlServer(&monitor);
    QString error;
    QVERIFY2(controlServer.listen(QStringLiteral("127.0.0.1:0"), &error), qPrintable(error));
    const quint16 port = control ? controlServer.port() : m_server->port();
    const QByteArray request = control ? QByteArrayLiteral("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                                       : QByteArrayLiteral("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    const Counter errors = control ? Counter::AcceptErrorsControl : Counter::AcceptErrorsHttp;
    const Counter pauses = control ? Counter::AcceptPausesControl : Counter::AcceptPausesHttp;
    const Counter refusedRow = control ? Counter::AcceptRefusedControl : Counter::AcceptRefusedHttp;
    const QString name =
        control ? QStringLiteral("control 127.0.0.1:%1").arg(port) : QStringLiteral("HTTP 127.0.0.1:%1").arg(port);

    // A session that is open when the descriptors run out, on a keep-alive
    // connection opened now.
    HttpClient established(m_server->port(), kWaitMs);
    QVERIFY(established.connectToServer());
    established.sendRequest("POST", "/echo/000/kept/xhr");
    QCOMPARE(established.readResponse().body, QByteArray("o\n"));

    // Every client this test will need, before there is no descriptor left.
    std::vector<std::unique_ptr<RawClient>> clients;
    for (int i = 0; i < 40; ++i) {
        clients.push_back(std::make_unique<RawClient>());
        QVERIFY(clients.back()->isValid());
    }
    // No descriptor number left below the limit: the next accept() fails.
    const int highest = highestOpenDescriptor();
    QVERIFY(highest > 0);
    const Fillers fillers(highest);
    rlimit low = m_limit;
    low.rlim_cur = rlim_t(highest + 1);
    QCOMPARE(::setrlimit(RLIMIT_NOFILE, &low), 0);

    // A burst: every client connects at once; half of them send a request.
    for (int i = 0; i < 10; ++i) {
        QVERIFY(clients[size_t(i)]->connectTo(port));
        if (i % 2 == 0)
            QVERIFY(clients[size_t(i)]->send(request));
    }
    QTRY_VERIFY_WITH_TIMEOUT(server->counters()[pauses] >= 1, kWaitMs);
    QVERIFY(server->counters()[errors] >= server->counters()[pauses]);
    // Each gets its answer promptly: 503 where its request was in, else a close.
    for (int i = 0; i < 10; ++i) {
        RawClient &client = *clients[size_t(i)];
        QTRY_VERIFY_WITH_TIMEOUT(client.poll(), 3000);
        if (!client.received().isEmpty()) {
            QVERIFY2(client.received().startsWith("HTTP/1.1 503 Service Unavailable\r\n"),
                     client.received().constData());
            QVERIFY(client.received().contains("\r\nRetry-After: 5\r\n"));
            QVERIFY(client.received().endsWith("\r\n\r\nServer busy\n"));
        }
    }
    QTRY_VERIFY_WITH_TIMEOUT(server->counters()[refusedRow] >= 10, kWaitMs);

    // Out of descriptors for a while, clients arriving all the time: the
    // listener is not polled meanwhile, so this process stays near idle.
    const qint64 cpuBefore = cpuMs();
    QElapsedTimer wall;
    wall.start();
    int next = 10;
    while (wall.elapsed() < 2000) {
        if (next < 30) {
            // send() fails until the handshake is through: a client
            // accepted without its request would just wait for it.
            QVERIFY(clients[size_t(next)]->connectTo(port));
            QTRY_VERIFY_WITH_TIMEOUT(clients[size_t(next)]->send(request), 3000);
            ++next;
        }
        QTest::qWait(100);
    }
    const qint64 cpu = cpuMs() - cpuBefore;
    qInfo() << "CPU time while out of descriptors:" << cpu << "ms in" << wall.elapsed() << "ms";
    QVERIFY2(cpu < wall.elapsed() / 5,
             qPrintable(QStringLiteral("%1 ms of CPU in %2 ms").arg(cpu).arg(wall.elapsed())));
    // Refused, each; or, where a descriptor came free at a resume, served.
    quint64 served = 0;
    for (int i = 10; i < 30; ++i) {
        RawClient &client = *clients[size_t(i)];
        QTRY_VERIFY_WITH_TIMEOUT(client.poll() || client.received().contains("\r\n\r\n"), 3000);
        if (client.received().startsWith("HTTP/1.1 200 OK\r\n"))
            ++served;
    }
    QCOMPARE(server->counters()[refusedRow] + served, quint64(30));
    const quint64 refusedAll = server->counters()[refusedRow];
    // Pauses grew from 100 ms; one log line each, with what it refused.
    QVERIFY(server->counters()[pauses] >= 3);
    QCOMPARE(logLinesContaining(name + QStringLiteral(": out of file descriptors")),
             qsizetype(server->counters()[pauses]));
    QVERIFY(logLinesContaining(QStringLiteral("not accepting for 100 ms")) == 1);
    QVERIFY(logLinesContaining(QStringLiteral("not accepting for 1000 ms")) >= 1);
    // The rows of the other listener never moved.
    const Counter otherPauses = control ? Counter::AcceptPausesHttp : Counter::AcceptPausesControl;
    QCOMPARE(server->counters()[otherPauses], quint64(0));

    // What was open is served as ever (an xhr poll on the kept connection).
    established.sendRequest("POST", "/echo/000/kept/xhr_send", "[\"still here\"]");
    QCOMPARE(established.readResponse().status, 204);
    established.sendRequest("POST", "/echo/000/kept/xhr");
    QCOMPARE(established.readResponse().body, QByteArray("a[\"still here\"]\n"));

    // Descriptors back: accepting resumes by itself within a pause.
    QCOMPARE(::setrlimit(RLIMIT_NOFILE, &m_limit), 0);
    RawClient &late = *clients[30];
    QVERIFY(late.connectTo(port));
    QVERIFY(late.send(request));
    QTRY_VERIFY_WITH_TIMEOUT(late.poll() || late.received().contains("\r\n\r\n"), 3000);
    QVERIFY2(late.received().startsWith("HTTP/1.1 200 OK\r\n"), late.received().constData());
    // The run is over with the first connection 2 s after the last failure.
    QCOMPARE(logLinesContaining(name + QStringLiteral(": accepting connections again after")), qsizetype(0));
    QTest::qWait(int(AcceptBackoff::kSettleMs));
    RawClient &settled = *clients[31];
    QVERIFY(settled.connectTo(port));
    QVERIFY(settled.send(request));
    QTRY_COMPARE_WITH_TIMEOUT(logLinesContaining(name + QStringLiteral(": accepting connections again after")),
                              qsizetype(1), 3000);
    QCOMPARE(logLinesContaining(QStringLiteral("%1 connection attempt(s) refused meanwhile").arg(refusedAll)),
             qsizetype(1));
#endif
}

int main(int argc, char *argv[])
{
#ifdef SOCKJSPROXY_EPOLL_DISPATCHER
    if (qEnvironmentVariable("SOCKJSPROXY_EVENT_DISPATCHER") == QLatin1String("epoll"))
        QCoreApplication::setEventDispatcher(new EpollDispatcher); // the application owns it
#endif
    QCoreApplication app(argc, argv);
    tst_Listener test;
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&test, argc, argv);
}

#include "tst_listener.moc"
