// End to end: the real sockjsproxy-cli and real backends (samples/echo-sjp.py,
// samples/datereply-sjp.py, sockjsproxy-echo-backend) run as child processes;
// the test is the browser, speaking HTTP (HttpClient) and WebSocket
// (QWebSocket) to the proxy on 127.0.0.1.
//
// Every child belongs to a ProcessGuard that kills it when the test function
// returns, passed or failed (and PR_SET_PDEATHSIG kills it should this
// process die first). Ports are picked free at runtime. No sleeps: every wait
// spins the event loop until a condition holds or its deadline passes.

#include "httpclient.h"
#include "sockjsproxy_version.h"
#include "testbackend.h"
#include "testpaths.h"

#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QHostAddress>
#include <QJsonArray>
#include <QJsonDocument>
#include <QProcess>
#include <QRegularExpression>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
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
#include <sys/resource.h>
#include <unistd.h>
#endif

using namespace SockJsProxy::Test;

namespace {

constexpr int kStartMs = 20000; // a child up and serving (ASan, Python imports)
constexpr int kWaitMs = 10000;  // anything else; passing runs take far less

const QByteArray kGreeting = QByteArrayLiteral("Welcome to SockJS!\n");

// Spins the event loop until predicate() holds or timeoutMs pass, re-checking
// every 10 ms (what QTRY_VERIFY does, usable in helpers that return a value).
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

// Ports nobody listens on right now: all are held at once (so they differ),
// then released for the child that will bind them.
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

// One proxy's ports: HTTP, ZeroMQ in (PUSH), ZeroMQ out (PULL).
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

    // Everything on 127.0.0.1: nothing of the test is reachable from outside.
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
    // The flags of the Python samples.
    QStringList pythonArgs() const
    {
        return {QStringLiteral("-a"), QStringLiteral("127.0.0.1"), QStringLiteral("-i"),
                QString::number(in),  QStringLiteral("-o"),        QString::number(out)};
    }
    QString inEndpoint() const { return QStringLiteral("tcp://127.0.0.1:%1").arg(in); }
    QString outEndpoint() const { return QStringLiteral("tcp://127.0.0.1:%1").arg(out); }
    QStringList cppArgs() const
    {
        return {QStringLiteral("--in"), inEndpoint(), QStringLiteral("--out"), outEndpoint()};
    }
};

// A child process and everything it has written so far (collected as it
// arrives, so waiting on output never blocks the event loop).
class Child : public QProcess
{
public:
    explicit Child(const QString &name) : m_name(name)
    {
        connect(this, &QProcess::readyReadStandardOutput, this, [this] {
            const QByteArray bytes = readAllStandardOutput();
            m_stdout += bytes;
            m_all += bytes;
        });
        connect(this, &QProcess::readyReadStandardError, this, [this] {
            const QByteArray bytes = readAllStandardError();
            m_stderr += bytes;
            m_all += bytes;
        });
    }

    QString name() const { return m_name; }
    QByteArray standardOutput() const { return m_stdout; }
    QByteArray standardError() const { return m_stderr; }
    QByteArray output() const { return m_all; }
    bool isRunning() const { return state() != QProcess::NotRunning; }

    QList<QByteArray> lines() const
    {
        QList<QByteArray> result = m_all.split('\n');
        if (!result.isEmpty() && result.constLast().isEmpty())
            result.removeLast();
        return result;
    }
    bool hasLineContaining(const QByteArray &text) const
    {
        const QList<QByteArray> all = lines();
        return std::any_of(all.cbegin(), all.cend(), [&](const QByteArray &line) { return line.contains(text); });
    }
    // Lines that start with prefix ("connect " but not "disconnect ...").
    QList<QByteArray> linesStartingWith(const QByteArray &prefix) const
    {
        QList<QByteArray> result;
        for (const QByteArray &line : lines()) {
            if (line.startsWith(prefix))
                result.append(line);
        }
        return result;
    }

private:
    QString m_name;
    QByteArray m_stdout;
    QByteArray m_stderr;
    QByteArray m_all;
};

// Waits until a line of the child's output contains text (false on timeout
// or when the child exits without writing it).
bool waitForLine(Child *child, const QByteArray &text, int timeoutMs = kWaitMs)
{
    waitUntil([&] { return child->hasLineContaining(text) || !child->isRunning(); }, timeoutMs);
    return child->hasLineContaining(text);
}

// Waits until count lines of the child's output start with prefix.
bool waitForLinesStartingWith(Child *child, const QByteArray &prefix, int count, int timeoutMs = kWaitMs)
{
    waitUntil([&] { return child->linesStartingWith(prefix).size() >= count || !child->isRunning(); }, timeoutMs);
    return child->linesStartingWith(prefix).size() >= count;
}

bool waitForExit(Child *child, int timeoutMs = kWaitMs)
{
    return waitUntil([&] { return !child->isRunning(); }, timeoutMs);
}

// Owns the children of one test function and kills every one still running
// when it goes out of scope, however the test ended. A failed test gets the
// children's output in its log.
class ProcessGuard
{
public:
    ProcessGuard() = default;
    ProcessGuard(const ProcessGuard &) = delete;
    ProcessGuard &operator=(const ProcessGuard &) = delete;

    ~ProcessGuard()
    {
        for (const auto &child : m_children) {
            if (child->isRunning()) {
                child->kill();
                child->waitForFinished(5000); // also reads what is left in the pipes
            }
        }
        // A sanitizer report from a child fails the test even if every check passed.
        for (const auto &child : m_children) {
            const QByteArray output = child->output();
            if (!QTest::currentTestFailed()
                && (output.contains("ERROR: AddressSanitizer") || output.contains("ERROR: LeakSanitizer")
                    || output.contains("runtime error:"))) {
                QTest::qFail(qPrintable(QStringLiteral("sanitizer report from %1").arg(child->name())), __FILE__,
                             __LINE__);
            }
        }
        if (!QTest::currentTestFailed())
            return;
        for (const auto &child : m_children) {
            qInfo().noquote() << "---- output of" << child->name() << child->arguments().join(QLatin1Char(' '))
                              << "----\n" + QString::fromUtf8(child->output());
        }
    }

    // Starts a program; null (and a warning) when it cannot be started.
    Child *start(const QString &name, const QString &program, const QStringList &args)
    {
        auto child = std::make_unique<Child>(name);
        child->setProgram(program);
        child->setArguments(args);
        QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
        environment.insert(QStringLiteral("PYTHONUNBUFFERED"), QStringLiteral("1"));
        environment.remove(QStringLiteral("SOCKJSPROXY_SAMPLES_DIR")); // --samples must find them by itself
        environment.remove(QStringLiteral("QT_LOGGING_RULES"));
        environment.remove(QStringLiteral("QT_MESSAGE_PATTERN"));
        child->setProcessEnvironment(environment);
#ifdef Q_OS_LINUX
        const rlim_t openFiles = m_openFilesLimit;
        child->setChildProcessModifier([openFiles] {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (openFiles > 0) {
                const rlimit limit{openFiles, openFiles};
                ::setrlimit(RLIMIT_NOFILE, &limit);
            }
        });
#endif
        child->start();
        Child *raw = child.get();
        m_children.push_back(std::move(child));
        if (!raw->waitForStarted(kStartMs)) {
            qWarning().noquote() << "cannot start" << program << ":" << raw->errorString();
            return nullptr;
        }
        return raw;
    }

    // Starts sockjsproxy-cli and polls GET greetingPath until it answers
    // "Welcome to SockJS!\n". Null (and a warning) when it does not.
    Child *startProxy(const QStringList &args, quint16 httpPort, const QByteArray &greetingPath = "/")
    {
        Child *proxy = start(QStringLiteral("sockjsproxy-cli"), cliPath(), args);
        if (!proxy)
            return nullptr;
        bool greeted = false;
        waitUntil(
            [&] {
                if (!proxy->isRunning())
                    return true;
                const HttpClient::Response response = HttpClient::request(httpPort, "GET", greetingPath);
                greeted = response.ok && response.status == 200 && response.body == kGreeting;
                return greeted;
            },
            kStartMs);
        if (!greeted || !proxy->isRunning()) {
            qWarning().noquote() << "the proxy did not come up:\n" + QString::fromUtf8(proxy->output());
            return nullptr;
        }
        return proxy;
    }

    // Starts samples/<script> with the Python that has pyzmq and waits for
    // its start-up line (its sockets are connected by then).
    Child *startPythonBackend(const QString &script, const QStringList &args)
    {
        const QStringList arguments = QStringList{sourceDir() + QStringLiteral("/samples/") + script} + args;
        Child *backend = start(script, pythonPath(), arguments);
        if (!backend)
            return nullptr;
        if (!waitForLine(backend, "pulling from", kStartMs)) {
            qWarning().noquote() << script << "did not start:\n" + QString::fromUtf8(backend->output());
            return nullptr;
        }
        return backend;
    }

    Child *startCppBackend(const QStringList &args)
    {
        Child *backend = start(QStringLiteral("sockjsproxy-echo-backend"), echoBackendPath(), args);
        if (!backend)
            return nullptr;
        if (!waitForLine(backend, "pulling from", kStartMs)) {
            qWarning().noquote() << "the echo backend did not start:\n" + QString::fromUtf8(backend->output());
            return nullptr;
        }
        return backend;
    }

    // Runs sockjsproxy-cli to its end (it must exit by itself).
    Child *runCli(const QStringList &args)
    {
        Child *cli = start(QStringLiteral("sockjsproxy-cli"), cliPath(), args);
        if (!cli || !waitForExit(cli)) {
            qWarning() << "sockjsproxy-cli" << args << "did not exit";
            return nullptr;
        }
        return cli;
    }

#ifdef Q_OS_LINUX
    // Children started from now on get this soft and hard RLIMIT_NOFILE
    // (as "prlimit --nofile=N:N" would); 0: this process's.
    void setOpenFilesLimit(rlim_t limit) { m_openFilesLimit = limit; }
#endif

private:
    std::vector<std::unique_ptr<Child>> m_children;
#ifdef Q_OS_LINUX
    rlim_t m_openFilesLimit = 0;
#endif
};

// The lines of stderr that are not log lines ("2024-05-01 12:00:00.000 info ...").
QList<QByteArray> errorLines(const QByteArray &stderrBytes)
{
    static const QRegularExpression logLine(QStringLiteral("^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} "));
    QList<QByteArray> result;
    for (const QByteArray &line : stderrBytes.split('\n')) {
        if (!line.trimmed().isEmpty() && !logLine.match(QString::fromUtf8(line)).hasMatch())
            result.append(line);
    }
    return result;
}

// ---- SockJS framing

// A client's SockJS message frame: ["m1","m2",...].
QByteArray sockJsMessages(const QStringList &messages)
{
    QJsonArray array;
    for (const QString &message : messages)
        array.append(message);
    return QJsonDocument(array).toJson(QJsonDocument::Compact);
}

// The strings of every a[...] frame, in order; other frames are skipped.
QStringList decodedMessages(const QList<QByteArray> &frames)
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

// Frames of an HTTP transport body: one per line.
QList<QByteArray> bodyFrames(const QByteArray &body)
{
    QList<QByteArray> frames = body.split('\n');
    frames.removeAll(QByteArray());
    return frames;
}

// Messages that must survive every hop unchanged: UTF-8 beyond Latin-1 and
// outside the BMP, the JavaScript line separators, an embedded NUL, JSON's
// own special characters.
QStringList unusualMessages()
{
    return {
        QStringLiteral("hello"),
        QString::fromUtf8("h\xc3\xa9llo w\xc3\xb6rld \xe2\x98\x83 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80"),
        QStringLiteral("line") + QChar(0x2028) + QStringLiteral("separator") + QChar(0x2029)
            + QStringLiteral("paragraph"),
        QStringLiteral("nul>") + QChar(0) + QStringLiteral("<nul"),
        QStringLiteral("quote \" backslash \\ tab \t newline \n end"),
    };
}

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

    // Opens ws://127.0.0.1:port + path and waits for the open frame.
    bool open(quint16 port, const QByteArray &path)
    {
        socket.open(QUrl(QStringLiteral("ws://127.0.0.1:%1%2").arg(port).arg(QString::fromLatin1(path))));
        return waitUntil([this] { return frames.contains("o") || disconnected; }) && frames.value(0) == "o";
    }

    void send(const QStringList &messages) { socket.sendTextMessage(QString::fromUtf8(sockJsMessages(messages))); }
    QStringList messages() const { return decodedMessages(frames); }
    bool waitForMessages(qsizetype count)
    {
        return waitUntil([&] { return messages().size() >= count || disconnected; }) && messages().size() >= count;
    }
    // Frames other than heartbeats.
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

// Reads a chunked SockJS stream until the bytes read contain needle.
bool readStreamUntil(HttpClient &client, QByteArray *received, const QByteArray &needle)
{
    while (!received->contains(needle)) {
        const QByteArray chunk = client.readChunk();
        if (chunk.isEmpty()) // null: timeout; empty: the stream ended
            return false;
        *received += chunk;
    }
    return true;
}

// The session id a backend printed in its "connect <id>" line.
QByteArray idOfLine(const QByteArray &line)
{
    const QList<QByteArray> words = line.split(' ');
    return words.value(1).trimmed();
}

} // namespace

class tst_EndToEnd : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();

    // The command line: the original's flags, errors as one line.
    void version();
    void help();
    void badArguments_data();
    void badArguments();
    void portInUse_data();
    void portInUse();

    // Echo through real backends, over WebSocket and HTTP transports.
    void echo_data();
    void echo();

    // The README's demo: --samples and datereply-sjp.py.
    void samplesFlow();

    // Backends that come late, die and come back.
    void backendStartsAfterProxy();
    void backendRestartsMidSession();

    void clientDropsMidStream();
    void twoServicesOnOnePort();
    void sigtermClosesSessions();
    void lowDescriptorLimit_data();
    void lowDescriptorLimit();

private:
    QTemporaryDir m_dir;
};

void tst_EndToEnd::initTestCase()
{
    QVERIFY(m_dir.isValid());
    QVERIFY2(QFile::exists(cliPath()), qPrintable(cliPath()));
    QVERIFY2(QFile::exists(echoBackendPath()), qPrintable(echoBackendPath()));

    // A Python that has pyzmq: the sample backends need it.
    ProcessGuard guard;
    Child *python =
        guard.start(QStringLiteral("python"), pythonPath(), {QStringLiteral("-c"), QStringLiteral("import zmq")});
    QVERIFY(python);
    QVERIFY(waitForExit(python, kStartMs));
    QVERIFY2(python->exitCode() == 0, python->output().constData());

    auto write = [this](const QString &name, const QByteArray &contents) {
        QFile file(m_dir.filePath(name));
        return file.open(QIODevice::WriteOnly) && file.write(contents) == contents.size();
    };
    QVERIFY(write(QStringLiteral("valid.json"), "{\"services\": [{\"prefix\": \"/a\", \"zmq\": {\"in\": "
                                                "\"tcp://127.0.0.1:1\", \"out\": \"tcp://127.0.0.1:2\"}}]}"));
    QVERIFY(write(QStringLiteral("unknown-key.json"),
                  "{\"services\": [{\"prefix\": \"/a\", \"heartbeat_delay_msec\": 1000}]}"));
}

void tst_EndToEnd::version()
{
    ProcessGuard guard;
    Child *cli = guard.runCli({QStringLiteral("--version")});
    QVERIFY(cli);
    QCOMPARE(cli->exitStatus(), QProcess::NormalExit);
    QCOMPARE(cli->exitCode(), 0);
    const QByteArray out = cli->standardOutput();
    QVERIFY2(out.startsWith("sockjsproxy-cli " SOCKJSPROXY_VERSION), out.constData());
    QCOMPARE(out.count('\n'), 1);
    QVERIFY2(cli->standardError().isEmpty(), cli->standardError().constData());
}

void tst_EndToEnd::help()
{
    ProcessGuard guard;
    Child *cli = guard.runCli({QStringLiteral("--help")});
    QVERIFY(cli);
    QCOMPARE(cli->exitStatus(), QProcess::NormalExit);
    QCOMPARE(cli->exitCode(), 0);
    const QString help = QString::fromUtf8(cli->standardOutput());

    // Every flag of the original's usage, with its short form where it had one.
    const QList<QPair<QString, QString>> flags = {
        {QStringLiteral("help"), QStringLiteral("h")},
        {QStringLiteral("version"), QString()},
        {QStringLiteral("address"), QStringLiteral("a")},
        {QStringLiteral("in-port"), QStringLiteral("i")},
        {QStringLiteral("out-port"), QStringLiteral("o")},
        {QStringLiteral("http-port"), QStringLiteral("p")},
        {QStringLiteral("static-path"), QStringLiteral("s")},
        {QStringLiteral("static-url"), QStringLiteral("u")},
        {QStringLiteral("samples"), QString()},
        {QStringLiteral("verbose"), QStringLiteral("v")},
    };
    for (const auto &[longName, shortName] : flags) {
        const QString pattern = shortName.isEmpty()
                                    ? QStringLiteral("^\\s+--%1\\b").arg(longName)
                                    : QStringLiteral("^\\s+(-%2, --%1|--%1, -%2)\\b").arg(longName, shortName);
        const QRegularExpression expression(pattern, QRegularExpression::MultilineOption);
        QVERIFY2(expression.match(help).hasMatch(), qPrintable(pattern + QStringLiteral(" not in:\n") + help));
    }
}

void tst_EndToEnd::badArguments_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QString>("named"); // what the error line must name

    const QString samples = sourceDir() + QStringLiteral("/samples");
    const QString missing = m_dir.filePath(QStringLiteral("missing.json"));
    const QString valid = m_dir.filePath(QStringLiteral("valid.json"));
    const QString unknownKey = m_dir.filePath(QStringLiteral("unknown-key.json"));

    QTest::newRow("static-path without static-url")
        << QStringList{QStringLiteral("--static-path"), samples} << QStringLiteral("--static-url");
    QTest::newRow("static-url without static-path")
        << QStringList{QStringLiteral("-u"), QStringLiteral("/static")} << QStringLiteral("--static-path");
    QTest::newRow("static-path not a directory")
        << QStringList{QStringLiteral("-s"), missing, QStringLiteral("-u"), QStringLiteral("/static")} << missing;
    QTest::newRow("http port too big") << QStringList{QStringLiteral("-p"), QStringLiteral("70000")}
                                       << QStringLiteral("70000");
    QTest::newRow("in port not a number")
        << QStringList{QStringLiteral("--in-port"), QStringLiteral("abc")} << QStringLiteral("abc");
    QTest::newRow("out port not a number")
        << QStringList{QStringLiteral("-o"), QStringLiteral("9242x")} << QStringLiteral("9242x");
    QTest::newRow("port without value") << QStringList{QStringLiteral("-p")} << QStringLiteral("-p");
    QTest::newRow("unknown flag") << QStringList{QStringLiteral("--bogus-flag")} << QStringLiteral("bogus-flag");
    QTest::newRow("config file missing") << QStringList{QStringLiteral("--config"), missing} << missing;
    QTest::newRow("config unknown key") << QStringList{QStringLiteral("--config"), unknownKey}
                                        << QStringLiteral("heartbeat_delay_msec");
    QTest::newRow("config with in-port") << QStringList{QStringLiteral("--config"), valid, QStringLiteral("-i"),
                                                        QStringLiteral("9999")}
                                         << QStringLiteral("in-port");
}

void tst_EndToEnd::badArguments()
{
    QFETCH(QStringList, arguments);
    QFETCH(QString, named);

    ProcessGuard guard;
    Child *cli = guard.runCli(arguments);
    QVERIFY(cli);
    QCOMPARE(cli->exitStatus(), QProcess::NormalExit);
    QVERIFY2(cli->exitCode() != 0, "exit code 0 for bad arguments");
    const QByteArray error = cli->standardError();
    QCOMPARE(error.trimmed().count('\n'), 0); // one line
    QVERIFY2(error.contains(named.toUtf8()),
             qPrintable(QStringLiteral("\"%1\" not named in: %2").arg(named, QString::fromUtf8(error))));
}

void tst_EndToEnd::portInUse_data()
{
    QTest::addColumn<int>("taken"); // 0: HTTP, 1: ZeroMQ in, 2: ZeroMQ out
    QTest::newRow("http") << 0;
    QTest::newRow("zmq in") << 1;
    QTest::newRow("zmq out") << 2;
}

void tst_EndToEnd::portInUse()
{
    QFETCH(int, taken);
    const Ports ports = Ports::pick();
    QVERIFY(ports.ok());
    const quint16 port = taken == 0 ? ports.http : taken == 1 ? ports.in : ports.out;
    QTcpServer squatter;
    QVERIFY2(squatter.listen(QHostAddress::LocalHost, port), qPrintable(squatter.errorString()));

    ProcessGuard guard;
    Child *cli = guard.runCli(ports.proxyArgs());
    QVERIFY(cli);
    QCOMPARE(cli->exitStatus(), QProcess::NormalExit);
    QVERIFY2(cli->exitCode() != 0, "exit code 0 with a port in use");
    // Start-up log lines may come first; the error itself is one line.
    const QList<QByteArray> errors = errorLines(cli->standardError());
    QVERIFY2(errors.size() == 1, cli->standardError().constData());
    QVERIFY2(errors.first().contains(QByteArray::number(port)), errors.first().constData());
    QVERIFY2(errors.first().toLower().contains("in use"), errors.first().constData());
}

void tst_EndToEnd::echo_data()
{
    QTest::addColumn<QString>("backend");
    QTest::addColumn<QString>("transport");
    QTest::newRow("python websocket") << QStringLiteral("python") << QStringLiteral("websocket");
    QTest::newRow("python xhr-polling") << QStringLiteral("python") << QStringLiteral("xhr");
    QTest::newRow("c++ websocket") << QStringLiteral("c++") << QStringLiteral("websocket");
    QTest::newRow("c++ xhr-polling") << QStringLiteral("c++") << QStringLiteral("xhr");
}

void tst_EndToEnd::echo()
{
    QFETCH(QString, backend);
    QFETCH(QString, transport);
    const Ports ports = Ports::pick();
    QVERIFY(ports.ok());
    ProcessGuard guard;
    QVERIFY(guard.startProxy(ports.proxyArgs(), ports.http));
    if (backend == QLatin1String("python"))
        QVERIFY(guard.startPythonBackend(QStringLiteral("echo-sjp.py"), ports.pythonArgs()));
    else
        QVERIFY(guard.startCppBackend(ports.cppArgs()));

    const QStringList sent = unusualMessages();
    QStringList received;
    if (transport == QLatin1String("websocket")) {
        WsClient ws;
        QVERIFY(ws.open(ports.http, "/000/echo/websocket"));
        for (const QString &message : sent)
            ws.send({message});
        QVERIFY(ws.waitForMessages(sent.size()));
        received = ws.messages();
        QVERIFY(!ws.disconnected);
    } else {
        const HttpClient::Response open = HttpClient::request(ports.http, "POST", "/000/echo/xhr");
        QVERIFY(open.ok);
        QCOMPARE(open.status, 200);
        QCOMPARE(open.body, QByteArray("o\n"));
        const HttpClient::Response send =
            HttpClient::request(ports.http, "POST", "/000/echo/xhr_send", sockJsMessages(sent));
        QCOMPARE(send.status, 204);
        // Long polls until every echo is back (one poll may carry some of them).
        const QDeadlineTimer deadline(kWaitMs);
        while (received.size() < sent.size() && !deadline.hasExpired()) {
            const HttpClient::Response poll = HttpClient::request(ports.http, "POST", "/000/echo/xhr");
            QVERIFY(poll.ok);
            QCOMPARE(poll.status, 200);
            received += decodedMessages(bodyFrames(poll.body));
        }
    }
    QCOMPARE(received, sent);
}

void tst_EndToEnd::samplesFlow()
{
    const Ports ports = Ports::pick();
    QVERIFY(ports.ok());
    ProcessGuard guard;
    // The README: sockjsproxy --samples samples --verbose, then datereply-sjp.py.
    Child *proxy = guard.startProxy(ports.proxyArgs() << QStringLiteral("--samples") << QStringLiteral("samples")
                                                      << QStringLiteral("--verbose"),
                                    ports.http);
    QVERIFY(proxy);

    const HttpClient::Response page = HttpClient::request(ports.http, "GET", "/samples/");
    QVERIFY(page.ok);
    QCOMPARE(page.status, 200);
    QVERIFY(page.header("Content-Type").startsWith("text/html"));
    QVERIFY(page.body.contains("sockjs"));
    // The page loads the proxy's own sockjs-client.
    const HttpClient::Response library = HttpClient::request(ports.http, "GET", "/sockjs-client/sockjs.min.js");
    QVERIFY(library.ok);
    QCOMPARE(library.status, 200);
    QVERIFY(library.body.contains("SockJS"));

    Child *backend =
        guard.startPythonBackend(QStringLiteral("datereply-sjp.py"), ports.pythonArgs() << QStringLiteral("-v"));
    QVERIFY(backend);

    WsClient ws;
    QVERIFY(ws.open(ports.http, "/000/demo/websocket"));
    ws.send({QStringLiteral("what time is it?")});
    QVERIFY(waitUntil([&] { return ws.disconnected; }));
    const QList<QByteArray> frames = ws.significantFrames();
    QCOMPARE(frames.size(), 3);
    QCOMPARE(frames.at(0), QByteArray("o"));
    static const QRegularExpression date(QStringLiteral("^a\\[\"\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\"\\]$"));
    QVERIFY2(date.match(QString::fromUtf8(frames.at(1))).hasMatch(), frames.at(1).constData());
    QCOMPARE(frames.at(2), QByteArray("c[3000,\"Go away!\"]"));

    // The proxy's verbose log shows the message; the backend hears of the close.
    QVERIFY(waitForLine(proxy, "what time is it?"));
    QVERIFY(waitForLinesStartingWith(backend, "disconnect ", 1));
    QCOMPARE(idOfLine(backend->linesStartingWith("disconnect ").first()),
             idOfLine(backend->linesStartingWith("connect ").first()));
    QVERIFY(proxy->isRunning());
}

void tst_EndToEnd::backendStartsAfterProxy()
{
    const Ports ports = Ports::pick();
    QVERIFY(ports.ok());
    ProcessGuard guard;
    Child *proxy = guard.startProxy(ports.proxyArgs() << QStringLiteral("-v"), ports.http);
    QVERIFY(proxy);

    WsClient ws;
    QVERIFY(ws.open(ports.http, "/000/early/websocket"));
    ws.send({QStringLiteral("sent before any backend")});
    // The proxy has the message (its verbose log says so) and nobody to give it to.
    QVERIFY(waitForLine(proxy, "sent before any backend"));

    Child *backend =
        guard.startPythonBackend(QStringLiteral("echo-sjp.py"), ports.pythonArgs() << QStringLiteral("-v"));
    QVERIFY(backend);
    QVERIFY(ws.waitForMessages(1));
    QCOMPARE(ws.messages(), QStringList{QStringLiteral("sent before any backend")});

    // The queued connect came first, then the message, for the same session.
    // (The backend's stdout may trail the echo: wait for it.)
    QVERIFY(waitForLinesStartingWith(backend, "message ", 1));
    const QList<QByteArray> connects = backend->linesStartingWith("connect ");
    const QList<QByteArray> messages = backend->linesStartingWith("message ");
    QCOMPARE(connects.size(), 1);
    QCOMPARE(messages.size(), 1);
    QVERIFY(backend->output().indexOf(connects.first()) < backend->output().indexOf(messages.first()));
    QCOMPARE(messages.first(), "message " + idOfLine(connects.first()) + ": sent before any backend");
}

void tst_EndToEnd::backendRestartsMidSession()
{
    const Ports ports = Ports::pick();
    QVERIFY(ports.ok());
    ProcessGuard guard;
    QVERIFY(guard.startProxy(ports.proxyArgs(), ports.http));
    Child *first = guard.startPythonBackend(QStringLiteral("echo-sjp.py"), ports.pythonArgs() << QStringLiteral("-v"));
    QVERIFY(first);

    WsClient ws;
    QVERIFY(ws.open(ports.http, "/000/restart/websocket"));
    ws.send({QStringLiteral("to the first backend")});
    QVERIFY(ws.waitForMessages(1));
    QVERIFY(waitForLinesStartingWith(first, "connect ", 1));
    const QByteArray sessionId = idOfLine(first->linesStartingWith("connect ").first());

    first->kill();
    QVERIFY(waitForExit(first));

    Child *second = guard.startPythonBackend(QStringLiteral("echo-sjp.py"), ports.pythonArgs() << QStringLiteral("-v"));
    QVERIFY(second);
    ws.send({QStringLiteral("to the second backend")});
    QVERIFY(ws.waitForMessages(2));
    QCOMPARE(ws.messages(),
             (QStringList{QStringLiteral("to the first backend"), QStringLiteral("to the second backend")}));
    QVERIFY(!ws.disconnected);
    // The same session, now served by the new process.
    QVERIFY(waitForLine(second, "message " + sessionId + ": to the second backend"));
}

void tst_EndToEnd::clientDropsMidStream()
{
    const Ports ports = Ports::pick();
    QVERIFY(ports.ok());
    ProcessGuard guard;
    Child *proxy = guard.startProxy(ports.proxyArgs(), ports.http);
    QVERIFY(proxy);
    Child *backend =
        guard.startPythonBackend(QStringLiteral("echo-sjp.py"), ports.pythonArgs() << QStringLiteral("-v"));
    QVERIFY(backend);

    {
        HttpClient stream(ports.http, kWaitMs);
        QVERIFY(stream.connectToServer());
        stream.sendRequest("POST", "/000/dropper/xhr_streaming");
        const HttpClient::Response head = stream.readHead();
        QVERIFY(head.ok);
        QCOMPARE(head.status, 200);
        QByteArray received;
        QVERIFY(readStreamUntil(stream, &received, "o\n"));
        const HttpClient::Response send = HttpClient::request(ports.http, "POST", "/000/dropper/xhr_send",
                                                              sockJsMessages({QStringLiteral("mid-stream")}));
        QCOMPARE(send.status, 204);
        QVERIFY(readStreamUntil(stream, &received, "a[\"mid-stream\"]\n"));

        stream.socket().abort(); // gone without a goodbye, the response still open
    }

    QVERIFY(waitForLinesStartingWith(backend, "disconnect ", 1));
    QCOMPARE(idOfLine(backend->linesStartingWith("disconnect ").first()),
             idOfLine(backend->linesStartingWith("connect ").first()));

    // The proxy still serves, new sessions included.
    QVERIFY(proxy->isRunning());
    const HttpClient::Response greeting = HttpClient::request(ports.http, "GET", "/");
    QVERIFY(greeting.ok);
    QCOMPARE(greeting.body, kGreeting);
    WsClient ws;
    QVERIFY(ws.open(ports.http, "/000/after-drop/websocket"));
    ws.send({QStringLiteral("still here")});
    QVERIFY(ws.waitForMessages(1));
    QCOMPARE(ws.messages(), QStringList{QStringLiteral("still here")});
}

void tst_EndToEnd::twoServicesOnOnePort()
{
    const QList<quint16> ports = freePorts(5);
    QVERIFY(ports.size() == 5);
    const quint16 http = ports.at(0);
    Ports a;
    a.http = http;
    a.in = ports.at(1);
    a.out = ports.at(2);
    Ports b;
    b.http = http;
    b.in = ports.at(3);
    b.out = ports.at(4);

    const QByteArray config = QStringLiteral("{\"http\": {\"address\": \"127.0.0.1\", \"port\": %1},\n"
                                             " \"services\": [\n"
                                             "  {\"prefix\": \"/a\", \"zmq\": {\"in\": \"%2\", \"out\": \"%3\"}},\n"
                                             "  {\"prefix\": \"/b\", \"zmq\": {\"in\": \"%4\", \"out\": \"%5\"}}\n"
                                             " ]}\n")
                                  .arg(http)
                                  .arg(a.inEndpoint(), a.outEndpoint(), b.inEndpoint(), b.outEndpoint())
                                  .toUtf8();
    const QString path = m_dir.filePath(QStringLiteral("two-services.json"));
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly));
    QCOMPARE(file.write(config), config.size());
    file.close();

    ProcessGuard guard;
    QVERIFY(guard.startProxy({QStringLiteral("--config"), path}, http, "/a/"));
    const HttpClient::Response greetingB = HttpClient::request(http, "GET", "/b/");
    QCOMPARE(greetingB.body, kGreeting);
    QCOMPARE(HttpClient::request(http, "GET", "/").status, 404);

    Child *backendA = guard.startPythonBackend(QStringLiteral("echo-sjp.py"), a.pythonArgs() << QStringLiteral("-v"));
    QVERIFY(backendA);
    Child *backendB = guard.startPythonBackend(QStringLiteral("echo-sjp.py"), b.pythonArgs() << QStringLiteral("-v"));
    QVERIFY(backendB);

    WsClient wsA;
    WsClient wsB;
    QVERIFY(wsA.open(http, "/a/000/one/websocket"));
    QVERIFY(wsB.open(http, "/b/000/two/websocket"));
    wsA.send({QStringLiteral("for service a")});
    wsB.send({QStringLiteral("for service b")});
    QVERIFY(wsA.waitForMessages(1));
    QVERIFY(wsB.waitForMessages(1));
    QCOMPARE(wsA.messages(), QStringList{QStringLiteral("for service a")});
    QCOMPARE(wsB.messages(), QStringList{QStringLiteral("for service b")});

    // Each backend saw its own service's session and message, nothing else.
    QVERIFY(waitForLine(backendA, ": for service a"));
    QVERIFY(waitForLine(backendB, ": for service b"));
    QCOMPARE(backendA->linesStartingWith("connect ").size(), 1);
    QCOMPARE(backendB->linesStartingWith("connect ").size(), 1);
    QVERIFY(!backendA->hasLineContaining("for service b"));
    QVERIFY(!backendB->hasLineContaining("for service a"));
}

void tst_EndToEnd::sigtermClosesSessions()
{
    const Ports ports = Ports::pick();
    QVERIFY(ports.ok());
    ProcessGuard guard;
    Child *proxy = guard.startProxy(ports.proxyArgs(), ports.http);
    QVERIFY(proxy);
    TestBackend backend(ports.inEndpoint(), ports.outEndpoint(), TestBackend::Mode::Echo);

    WsClient ws;
    QVERIFY(ws.open(ports.http, "/000/socket/websocket"));
    ws.send({QStringLiteral("ping")});
    QVERIFY(ws.waitForMessages(1)); // the backend is connected and serving

    HttpClient stream(ports.http, kWaitMs);
    QVERIFY(stream.connectToServer());
    stream.sendRequest("POST", "/000/streamer/xhr_streaming");
    const HttpClient::Response head = stream.readHead();
    QVERIFY(head.ok);
    QCOMPARE(head.status, 200);
    QByteArray streamed;
    QVERIFY(readStreamUntil(stream, &streamed, "o\n"));
    QVERIFY(waitUntil([&] { return backend.sessionIds("connect").size() == 2; }));

    proxy->terminate(); // SIGTERM

    QVERIFY(waitUntil([&] { return ws.disconnected; }));
    QVERIFY2(ws.significantFrames().constLast().startsWith("c["), ws.significantFrames().constLast().constData());
    QVERIFY(readStreamUntil(stream, &streamed, "c["));
    QVERIFY(stream.waitForClose());

    QVERIFY(waitUntil([&] { return backend.sessionIds("disconnect").size() >= 2; }));
    QList<QByteArray> connected = backend.sessionIds("connect");
    QList<QByteArray> disconnected = backend.sessionIds("disconnect");
    std::sort(connected.begin(), connected.end());
    std::sort(disconnected.begin(), disconnected.end());
    QCOMPARE(disconnected, connected);

    QVERIFY(waitForExit(proxy, 5000));
    QCOMPARE(proxy->exitStatus(), QProcess::NormalExit);
    QCOMPARE(proxy->exitCode(), 0);
}

#ifdef Q_OS_LINUX
namespace {
// CPU time a process has used, in milliseconds (/proc/PID/stat).
qint64 processCpuMs(qint64 pid)
{
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!stat.open(QIODevice::ReadOnly))
        return -1;
    const QByteArray line = stat.readAll();
    // After "(comm)": state is field 3, utime 14, stime 15.
    const QList<QByteArray> fields = line.mid(line.lastIndexOf(')') + 2).split(' ');
    if (fields.size() < 13)
        return -1;
    const qint64 ticks = fields.at(11).toLongLong() + fields.at(12).toLongLong();
    return ticks * 1000 / ::sysconf(_SC_CLK_TCK);
}

// The value of a sample line of /metrics, -1 when absent.
qint64 metricValue(const QByteArray &metrics, const QByteArray &sample)
{
    for (const QByteArray &line : metrics.split('\n')) {
        if (line.startsWith(sample + ' '))
            return line.mid(sample.size() + 1).trimmed().toLongLong();
    }
    return -1;
}
} // namespace
#endif

void tst_EndToEnd::lowDescriptorLimit_data()
{
    QTest::addColumn<QByteArray>("maxConnections"); // limits.max_connections; empty: derived from the limit
    QTest::addColumn<QByteArray>("refusedSample");  // the /metrics sample that counts the refusals
    // 256 - 128 - 16: the proxy refuses with 503 before descriptors run out.
    QTest::newRow("max_connections derived") << QByteArray()
                                             << QByteArray("sockjsproxy_connections_refused_total"
                                                           "{reason=\"max_connections\"}");
    // Set far above what the limit allows: accept() meets EMFILE.
    QTest::newRow("out of descriptors") << QByteArray("100000")
                                        << QByteArray("sockjsproxy_accept_refused_total{listener=\"http\"}");
}

// The proxy under "prlimit --nofile=256:256": 400 connection attempts, half
// of them slowloris (a partial request line, never finished). The proxy
// stays near idle, the WebSocket and xhr-streaming sessions opened before
// keep echoing, every client that sent a request gets an answer (200 or
// 503) or a close promptly, /metrics counts the refusals, and once the
// slow connections time out (request_timeout_ms) new sessions open again.
void tst_EndToEnd::lowDescriptorLimit()
{
#ifndef Q_OS_LINUX
    QSKIP("needs RLIMIT_NOFILE and /proc");
#else
    QFETCH(QByteArray, maxConnections);
    QFETCH(QByteArray, refusedSample);
    const QList<quint16> free = freePorts(4);
    QCOMPARE(free.size(), 4);
    Ports ports;
    ports.http = free.at(0);
    ports.in = free.at(1);
    ports.out = free.at(2);
    const quint16 control = free.at(3);
    QByteArray limits = "\"request_timeout_ms\": 2000, \"max_connections_per_address\": 0";
    if (!maxConnections.isEmpty())
        limits += ", \"max_connections\": " + maxConnections;
    const QByteArray config =
        QStringLiteral("{\"http\": {\"address\": \"127.0.0.1\", \"port\": %1},\n \"limits\": {%2},\n"
                       " \"services\": [{\"prefix\": \"/echo\", \"zmq\": {\"in\": \"%3\", \"out\": \"%4\"}}]}\n")
            .arg(ports.http)
            .arg(QString::fromLatin1(limits), ports.inEndpoint(), ports.outEndpoint())
            .toUtf8();
    const QString path = m_dir.filePath(QStringLiteral("low-descriptors.json"));
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly));
    QCOMPARE(file.write(config), config.size());
    file.close();

    ProcessGuard guard;
    guard.setOpenFilesLimit(256);
    Child *proxy = guard.startProxy(
        {QStringLiteral("--config"), path, QStringLiteral("--control"), QStringLiteral("127.0.0.1:%1").arg(control)},
        ports.http, "/echo");
    QVERIFY(proxy);
    QVERIFY(waitForLine(proxy, "open files limit: 256 (was 256, hard limit 256)"));
    if (maxConnections.isEmpty())
        QVERIFY(waitForLine(proxy, "at most 112 client connections (the open files limit 256 less 144 reserved)"));
    guard.setOpenFilesLimit(0);
    QVERIFY(guard.startCppBackend(ports.cppArgs()));

    // Open before the flood: a WebSocket session, an xhr-streaming one (its
    // sends go on a keep-alive connection opened now too).
    WsClient ws;
    QVERIFY(ws.open(ports.http, "/echo/000/ws/websocket"));
    HttpClient stream(ports.http, kWaitMs);
    QVERIFY(stream.connectToServer());
    stream.sendRequest("POST", "/echo/000/xs/xhr_streaming");
    QCOMPARE(stream.readHead().status, 200);
    QByteArray streamed;
    QVERIFY(readStreamUntil(stream, &streamed, "o\n"));
    HttpClient sender(ports.http, kWaitMs);
    QVERIFY(sender.connectToServer());
    int round = 0;
    const auto echoes = [&] {
        const QString text = QStringLiteral("round %1").arg(++round);
        ws.send({text});
        if (!ws.waitForMessages(round) || ws.messages().constLast() != text)
            return false;
        sender.sendRequest("POST", "/echo/000/xs/xhr_send", "[\"" + text.toUtf8() + "\"]");
        if (sender.readResponse().status != 204)
            return false;
        return readStreamUntil(stream, &streamed, "a[\"" + text.toUtf8() + "\"]\n");
    };
    QVERIFY(echoes());

    // The flood: 200 slowloris, 200 clients with a whole request.
    const qint64 cpuBefore = processCpuMs(proxy->processId());
    QElapsedTimer wall;
    wall.start();
    std::vector<std::unique_ptr<QTcpSocket>> slow;
    std::vector<std::unique_ptr<QTcpSocket>> whole;
    for (int i = 0; i < 400; ++i) {
        auto socket = std::make_unique<QTcpSocket>();
        socket->connectToHost(QHostAddress::LocalHost, ports.http);
        socket->write(i % 2 ? QByteArray("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
                            : QByteArray("GET /echo HTTP/1.1\r\nHo"));
        (i % 2 ? whole : slow).push_back(std::move(socket));
    }
    // Every whole request is answered (200 within the limit, else 503) or
    // closed, promptly.
    const auto answered = [](const std::unique_ptr<QTcpSocket> &socket) {
        return socket->state() == QAbstractSocket::UnconnectedState || socket->bytesAvailable() >= 12;
    };
    QVERIFY(waitUntil([&] { return std::all_of(whole.cbegin(), whole.cend(), answered); }, kWaitMs));
    const qint64 answeredMs = wall.elapsed();
    int ok = 0;
    int refused = 0;
    for (const auto &socket : whole) {
        const QByteArray head = socket->peek(12);
        if (head == "HTTP/1.1 200")
            ++ok;
        else
            ++refused; // "HTTP/1.1 503", or closed
    }
    qInfo() << "answered in" << answeredMs << "ms:" << ok << "served," << refused << "refused";
    QVERIFY(ok > 0);
    QVERIFY(refused > 0);
    QVERIFY(echoes());
    if (!maxConnections.isEmpty())
        QVERIFY(waitForLine(proxy, "out of file descriptors"));

    // Near idle meanwhile: no spinning on the listening socket.
    waitUntil([&] { return wall.elapsed() >= 2500; }, 5000);
    QVERIFY(echoes());
    const qint64 cpu = processCpuMs(proxy->processId()) - cpuBefore;
    qInfo() << "proxy CPU time:" << cpu << "ms in" << wall.elapsed() << "ms";
    QVERIFY2(cpu < wall.elapsed() / 3,
             qPrintable(QStringLiteral("%1 ms of CPU in %2 ms").arg(cpu).arg(wall.elapsed())));

    // The slow ones time out (request_timeout_ms, or the refusal's grace).
    QVERIFY(waitUntil(
        [&] {
            return std::all_of(slow.cbegin(), slow.cend(), [](const std::unique_ptr<QTcpSocket> &socket) {
                return socket->state() == QAbstractSocket::UnconnectedState;
            });
        },
        kWaitMs));
    slow.clear();
    whole.clear();

    // New sessions open again, and /metrics counted the refusals.
    WsClient late;
    QVERIFY(waitUntil([&] { return HttpClient::request(ports.http, "GET", "/echo").status == 200; }, kWaitMs));
    QVERIFY(late.open(ports.http, "/echo/000/late/websocket"));
    late.send({QStringLiteral("late")});
    QVERIFY(late.waitForMessages(1));
    QVERIFY(echoes());
    const HttpClient::Response metrics = HttpClient::request(control, "GET", "/metrics");
    QCOMPARE(metrics.status, 200);
    const qint64 counted = metricValue(metrics.body, refusedSample);
    qInfo() << refusedSample << counted;
    QVERIFY2(counted > 0, metrics.body.constData());
    QVERIFY(proxy->isRunning());
#endif
}

QTEST_GUILESS_MAIN(tst_EndToEnd)

#include "tst_endtoend.moc"
