// End to end: the real sockjsproxy-cli and real backends (samples/echo-sjp.py,
// samples/datereply-sjp.py, sockjsproxy-echo-backend) run as child processes;
// the test is the browser, speaking HTTP (HttpClient) and WebSocket
// (WebSocketClient) to the proxy on 127.0.0.1.
//
// Every child belongs to a ProcessGuard that kills it when the test function
// returns, passed or failed (and PR_SET_PDEATHSIG kills it should this
// process die first). Ports are picked free at runtime. No sleeps: every wait
// spins the event loop until a condition holds or its deadline passes.

#include "httpclient.h"
#include "ports.h"
#include "processguard.h"
#include "sockjsframes.h"
#include "sockjsproxy_version.h"
#include "testbackend.h"
#include "testcertificates.h"
#include "testpaths.h"
#include "waituntil.h"
#include "websocketclient.h"

#include <QDeadlineTimer>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QHostAddress>
#include <QProcess>
#include <QRegularExpression>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <csignal>
#include <memory>
#include <vector>

#ifdef Q_OS_LINUX
#include <sys/resource.h>
#include <unistd.h>
#endif

using namespace SockJsProxy::Test;

namespace {

constexpr int kStartMs = 20000; // a child up and serving (ASan, Python imports)
constexpr int kWaitMs = 10000;  // anything else; passing runs take far less

const QByteArray kGreeting = QByteArrayLiteral("Welcome to SockJS!\n");

// ---- SockJS framing

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

    // The command line: the original's flags; the README's exit codes, and
    // errors as one line.
    void version();
    void help();
    void exitCodes_data();
    void exitCodes();

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
    void sessionEventsLoggedOnce();
    void sighupReloadsTlsCertificate();

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
    QVERIFY(write(QStringLiteral("negative-timeout.json"),
                  "{\"shutdown_timeout_ms\": -1, \"services\": [{\"prefix\": \"/a\"}]}"));
    QVERIFY(write(QStringLiteral("broken.json"), "{\"services\": [{\"prefix\": \"/a\""));
    SockJsProxy::TlsFiles files;
    QString error;
    QVERIFY2(makeSelfSigned(m_dir.path(), QStringLiteral("tls"), &files, &error), qPrintable(error));
    QVERIFY2(makeSelfSigned(m_dir.path(), QStringLiteral("other"), &files, &error), qPrintable(error));
    QVERIFY(QDir(m_dir.path()).mkdir(QStringLiteral("a-directory")));
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

// README "Exit codes": 2 for bad options (unknown, missing value, bad value,
// a stray argument, --control beyond loopback without a token) and a bad
// config file; 1 when a port cannot be bound. Either way stderr is exactly
// one line, "sockjsproxy-cli: ..." naming the culprit, and nothing before it
// (no "listening" lines of a start that then failed).
void tst_EndToEnd::exitCodes_data()
{
    QTest::addColumn<QStringList>("arguments"); // "PORTS": free ports (HTTP, ZeroMQ in and out) on 127.0.0.1
    QTest::addColumn<QString>("taken");         // held during the run: http, in, out or control
    QTest::addColumn<int>("exitCode");
    QTest::addColumn<QString>("named"); // what the error line must name; "TAKEN": the port held

    const QString samples = sourceDir() + QStringLiteral("/samples");
    const QString missing = m_dir.filePath(QStringLiteral("missing.json"));
    const QString valid = m_dir.filePath(QStringLiteral("valid.json"));
    const QString unknownKey = m_dir.filePath(QStringLiteral("unknown-key.json"));
    const QString negativeTimeout = m_dir.filePath(QStringLiteral("negative-timeout.json"));
    const QString broken = m_dir.filePath(QStringLiteral("broken.json"));
    const QString ports = QStringLiteral("PORTS");
    const QString none;

    // Bad options: 2.
    QTest::newRow("unknown option") << QStringList{ports, QStringLiteral("--bogus-flag")} << none << 2
                                    << QStringLiteral("'bogus-flag'");
    QTest::newRow("unknown short option")
        << QStringList{ports, QStringLiteral("-x")} << none << 2 << QStringLiteral("'x'");
    QTest::newRow("missing value") << QStringList{QStringLiteral("-p")} << none << 2 << QStringLiteral("'-p'");
    QTest::newRow("bad value: http port too big")
        << QStringList{QStringLiteral("-p"), QStringLiteral("70000")} << none << 2 << QStringLiteral("70000");
    QTest::newRow("bad value: in port not a number")
        << QStringList{QStringLiteral("--in-port"), QStringLiteral("abc")} << none << 2 << QStringLiteral("abc");
    QTest::newRow("bad value: out port not a number")
        << QStringList{QStringLiteral("-o"), QStringLiteral("9242x")} << none << 2 << QStringLiteral("9242x");
    QTest::newRow("bad value: http address")
        << QStringList{ports, QStringLiteral("--http-address"), QStringLiteral("nohost")} << none << 2
        << QStringLiteral("--http-address nohost");
    QTest::newRow("bad value: static-path not a directory")
        << QStringList{QStringLiteral("-s"), missing, QStringLiteral("-u"), QStringLiteral("/static")} << none << 2
        << missing;
    QTest::newRow("static-path without static-url")
        << QStringList{QStringLiteral("--static-path"), samples} << none << 2 << QStringLiteral("--static-url");
    QTest::newRow("static-url without static-path")
        << QStringList{QStringLiteral("-u"), QStringLiteral("/static")} << none << 2 << QStringLiteral("--static-path");
    QTest::newRow("stray positional argument") << QStringList{ports, QStringLiteral("extra-positional")} << none << 2
                                               << QStringLiteral("\"extra-positional\"");
    QTest::newRow("control beyond loopback without a token")
        << QStringList{ports, QStringLiteral("--control"), QStringLiteral("0.0.0.0:0")} << none << 2
        << QStringLiteral("--control 0.0.0.0:0");
    QTest::newRow("control not an endpoint")
        << QStringList{ports, QStringLiteral("--control"), QStringLiteral("nowhere")} << none << 2
        << QStringLiteral("--control nowhere");

    // A bad config file: 2.
    QTest::newRow("config file missing") << QStringList{QStringLiteral("--config"), missing} << none << 2 << missing;
    QTest::newRow("config broken JSON") << QStringList{QStringLiteral("--config"), broken} << none << 2 << broken;
    QTest::newRow("config unknown key") << QStringList{QStringLiteral("--config"), unknownKey} << none << 2
                                        << QStringLiteral("services[0].heartbeat_delay_msec");
    QTest::newRow("config negative shutdown_timeout_ms") << QStringList{QStringLiteral("--config"), negativeTimeout}
                                                         << none << 2 << QStringLiteral("shutdown_timeout_ms");
    QTest::newRow("config with in-port") << QStringList{QStringLiteral("--config"), valid, QStringLiteral("-i"),
                                                        QStringLiteral("9999")}
                                         << none << 2 << QStringLiteral("--in-port");

    // TLS credentials that cannot be used: 2.
    const QString tlsCert = m_dir.filePath(QStringLiteral("tls.crt"));
    const QString tlsKey = m_dir.filePath(QStringLiteral("tls.key"));
    const QString otherKey = m_dir.filePath(QStringLiteral("other.key"));
    const QString directory = m_dir.filePath(QStringLiteral("a-directory"));
    const QString tlsCertOption = QStringLiteral("--tls-cert");
    const QString tlsKeyOption = QStringLiteral("--tls-key");
    QTest::newRow("tls certificate missing")
        << QStringList{ports, tlsCertOption, missing, tlsKeyOption, tlsKey} << none << 2
        << QStringLiteral("http.tls: certificate %1: No such file or directory").arg(missing);
    QTest::newRow("tls key unreadable") << QStringList{ports, tlsCertOption, tlsCert, tlsKeyOption, directory} << none
                                        << 2 << QStringLiteral("http.tls: key %1: ").arg(directory);
    QTest::newRow("tls key of another certificate")
        << QStringList{ports, tlsCertOption, tlsCert, tlsKeyOption, otherKey} << none << 2
        << QStringLiteral("http.tls: key %1 does not belong to the certificate in %2").arg(otherKey, tlsCert);
    QTest::newRow("tls certificate without key")
        << QStringList{ports, tlsCertOption, tlsCert} << none << 2 << QStringLiteral("--tls-key");
    QTest::newRow("control tls key of another certificate")
        << QStringList{ports,
                       QStringLiteral("--control"),
                       QStringLiteral("127.0.0.1:CONTROL"),
                       QStringLiteral("--control-tls-cert"),
                       tlsCert,
                       QStringLiteral("--control-tls-key"),
                       otherKey}
        << none << 2 << QStringLiteral("--control-tls-cert: key %1 does not belong").arg(otherKey);

    // A port that cannot be bound: 1.
    QTest::newRow("HTTP port in use") << QStringList{ports} << QStringLiteral("http") << 1
                                      << QStringLiteral("HTTP 127.0.0.1:TAKEN");
    QTest::newRow("ZeroMQ in endpoint in use")
        << QStringList{ports} << QStringLiteral("in") << 1 << QStringLiteral("tcp://127.0.0.1:TAKEN");
    QTest::newRow("ZeroMQ out endpoint in use")
        << QStringList{ports} << QStringLiteral("out") << 1 << QStringLiteral("tcp://127.0.0.1:TAKEN");
    QTest::newRow("control port in use") << QStringList{ports, QStringLiteral("--control"),
                                                        QStringLiteral("127.0.0.1:CONTROL")}
                                         << QStringLiteral("control") << 1
                                         << QStringLiteral("--control 127.0.0.1:TAKEN");
}

void tst_EndToEnd::exitCodes()
{
    QFETCH(QStringList, arguments);
    QFETCH(QString, taken);
    QFETCH(int, exitCode);
    QFETCH(QString, named);

    const QList<quint16> free = freePorts(4);
    QCOMPARE(free.size(), 4);
    Ports ports;
    ports.http = free.at(0);
    ports.in = free.at(1);
    ports.out = free.at(2);
    const quint16 control = free.at(3);
    QStringList args;
    for (const QString &argument : std::as_const(arguments)) {
        if (argument == QLatin1String("PORTS"))
            args += ports.proxyArgs();
        else
            args += QString(argument).replace(QLatin1String("CONTROL"), QString::number(control));
    }
    QTcpServer squatter;
    if (!taken.isEmpty()) {
        const quint16 port = taken == QLatin1String("http")  ? ports.http
                             : taken == QLatin1String("in")  ? ports.in
                             : taken == QLatin1String("out") ? ports.out
                                                             : control;
        QVERIFY2(squatter.listen(QHostAddress::LocalHost, port), qPrintable(squatter.errorString()));
        named.replace(QLatin1String("TAKEN"), QString::number(port));
    }

    ProcessGuard guard;
    Child *cli = guard.runCli(args);
    QVERIFY(cli);
    QCOMPARE(cli->exitStatus(), QProcess::NormalExit);
    QCOMPARE(cli->exitCode(), exitCode);
    const QByteArray error = cli->standardError();
    QVERIFY2(error.startsWith("sockjsproxy-cli: ") && error.endsWith('\n') && error.count('\n') == 1,
             error.constData()); // exactly one line
    QVERIFY2(error.contains(named.toUtf8()),
             qPrintable(QStringLiteral("\"%1\" not named in: %2").arg(named, QString::fromUtf8(error))));
    QVERIFY2(cli->standardOutput().isEmpty(), cli->standardOutput().constData());
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
        WebSocketClient ws;
        QVERIFY(ws.openSession(ports.http, "/000/echo/websocket"));
        for (const QString &message : sent)
            ws.send({message});
        QVERIFY(ws.waitForMessages(sent.size()));
        received = ws.messages();
        QVERIFY(!ws.isDisconnected());
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

    WebSocketClient ws;
    QVERIFY(ws.openSession(ports.http, "/000/demo/websocket"));
    ws.send({QStringLiteral("what time is it?")});
    QVERIFY(waitUntil([&] { return ws.isDisconnected(); }));
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

    WebSocketClient ws;
    QVERIFY(ws.openSession(ports.http, "/000/early/websocket"));
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

    WebSocketClient ws;
    QVERIFY(ws.openSession(ports.http, "/000/restart/websocket"));
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
    QVERIFY(!ws.isDisconnected());
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
        QVERIFY(stream.readChunksUntil(&received, "o\n"));
        const HttpClient::Response send = HttpClient::request(ports.http, "POST", "/000/dropper/xhr_send",
                                                              sockJsMessages({QStringLiteral("mid-stream")}));
        QCOMPARE(send.status, 204);
        QVERIFY(stream.readChunksUntil(&received, "a[\"mid-stream\"]\n"));

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
    WebSocketClient ws;
    QVERIFY(ws.openSession(ports.http, "/000/after-drop/websocket"));
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

    WebSocketClient wsA;
    WebSocketClient wsB;
    QVERIFY(wsA.openSession(http, "/a/000/one/websocket"));
    QVERIFY(wsB.openSession(http, "/b/000/two/websocket"));
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

    WebSocketClient ws;
    QVERIFY(ws.openSession(ports.http, "/000/socket/websocket"));
    ws.send({QStringLiteral("ping")});
    QVERIFY(ws.waitForMessages(1)); // the backend is connected and serving

    HttpClient stream(ports.http, kWaitMs);
    QVERIFY(stream.connectToServer());
    stream.sendRequest("POST", "/000/streamer/xhr_streaming");
    const HttpClient::Response head = stream.readHead();
    QVERIFY(head.ok);
    QCOMPARE(head.status, 200);
    QByteArray streamed;
    QVERIFY(stream.readChunksUntil(&streamed, "o\n"));
    QVERIFY(waitUntil([&] { return backend.sessionIds("connect").size() == 2; }));

    proxy->terminate(); // SIGTERM

    QVERIFY(waitUntil([&] { return ws.isDisconnected(); }));
    QVERIFY2(ws.significantFrames().constLast().startsWith("c["), ws.significantFrames().constLast().constData());
    QVERIFY(stream.readChunksUntil(&streamed, "c["));
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

// Without --verbose, a session's open and its close are one info line each.
void tst_EndToEnd::sessionEventsLoggedOnce()
{
    const Ports ports = Ports::pick();
    QVERIFY(ports.ok());
    ProcessGuard guard;
    Child *proxy = guard.startProxy(ports.proxyArgs(), ports.http);
    QVERIFY(proxy);

    WebSocketClient ws;
    QVERIFY(ws.openSession(ports.http, "/000/logged/websocket"));
    ws.socket().close();
    QVERIFY(waitForLine(proxy, " closed: "));
    // Everything written by the time it exits.
    proxy->terminate();
    QVERIFY(waitForExit(proxy));

    QList<QByteArray> sessionLines;
    for (const QByteArray &line : proxy->lines()) {
        if (line.contains(" session "))
            sessionLines.append(line);
    }
    QCOMPARE(sessionLines.size(), 2);
    const QList<QByteArray> opened = sessionLines.at(0).split(' ');
    QVERIFY2(sessionLines.at(0).contains(" info sockjsproxy.session: / session ")
                 && sessionLines.at(0).endsWith(" opened over websocket"),
             sessionLines.at(0).constData());
    QVERIFY2(sessionLines.at(1).contains(" info sockjsproxy.session: / session ")
                 && sessionLines.at(1).contains(" closed: "),
             sessionLines.at(1).constData());
    const QByteArray id = opened.value(opened.indexOf("session") + 1);
    QVERIFY(!id.isEmpty());
    QVERIFY2(sessionLines.at(1).contains(" session " + id + " closed: "), sessionLines.at(1).constData());
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
    WebSocketClient ws;
    QVERIFY(ws.openSession(ports.http, "/echo/000/ws/websocket"));
    HttpClient stream(ports.http, kWaitMs);
    QVERIFY(stream.connectToServer());
    stream.sendRequest("POST", "/echo/000/xs/xhr_streaming");
    QCOMPARE(stream.readHead().status, 200);
    QByteArray streamed;
    QVERIFY(stream.readChunksUntil(&streamed, "o\n"));
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
        return stream.readChunksUntil(&streamed, "a[\"" + text.toUtf8() + "\"]\n");
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
    WebSocketClient late;
    QVERIFY(waitUntil([&] { return HttpClient::request(ports.http, "GET", "/echo").status == 200; }, kWaitMs));
    QVERIFY(late.openSession(ports.http, "/echo/000/late/websocket"));
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

// --tls-cert/--tls-key, then SIGHUP with a renewed pair: the open WSS
// session carries on, new connections get the new certificate; a pair
// caught half-copied keeps the one in use.
void tst_EndToEnd::sighupReloadsTlsCertificate()
{
    const Ports ports = Ports::pick();
    QVERIFY(ports.ok());
    const SockJsProxy::TlsFiles first{m_dir.filePath(QStringLiteral("tls.crt")),
                                      m_dir.filePath(QStringLiteral("tls.key"))};
    const SockJsProxy::TlsFiles second{m_dir.filePath(QStringLiteral("other.crt")),
                                       m_dir.filePath(QStringLiteral("other.key"))};
    const SockJsProxy::TlsFiles live{m_dir.filePath(QStringLiteral("live.crt")),
                                     m_dir.filePath(QStringLiteral("live.key"))};
    const auto install = [](const QString &from, const QString &to) {
        QFile::remove(to);
        return QFile::copy(from, to);
    };
    QVERIFY(install(first.certificate, live.certificate) && install(first.key, live.key));

    ProcessGuard guard;
    Child *proxy = guard.start(
        QStringLiteral("sockjsproxy-cli"), cliPath(),
        ports.proxyArgs()
            + QStringList{QStringLiteral("--tls-cert"), live.certificate, QStringLiteral("--tls-key"), live.key});
    QVERIFY(proxy);
    QVERIFY(waitForLine(proxy, "HTTPS on"));
    TestBackend backend(ports.inEndpoint(), ports.outEndpoint(), TestBackend::Mode::Echo);
    const QList<QSslCertificate> trusted{certificateOf(first), certificateOf(second)};

    WebSocketClient ws;
    ws.useTls(trusted);
    QVERIFY(ws.openSession(ports.http, "/000/hup/websocket"));
    ws.send({QStringLiteral("before")});
    QVERIFY(ws.waitForMessage(QStringLiteral("before")));

    QVERIFY(install(second.certificate, live.certificate) && install(second.key, live.key));
    proxy->sendSignal(SIGHUP);
    QVERIFY(waitForLine(proxy, "and its key reloaded; new connections get them"));
    ws.send({QStringLiteral("after")});
    QVERIFY(ws.waitForMessage(QStringLiteral("after")));
    QVERIFY(!ws.isDisconnected());
    HttpClient fresh(ports.http, kWaitMs);
    fresh.useTls(trusted);
    QVERIFY(fresh.connectToServer());
    QCOMPARE(fresh.sslSocket().peerCertificate(), certificateOf(second));

    // Half-copied: the new certificate, the old key.
    QVERIFY(install(first.certificate, live.certificate));
    proxy->sendSignal(SIGHUP);
    QVERIFY(waitForLine(proxy, "http.tls: not reloaded, the certificate and key in use stay: key " + live.key.toUtf8()
                                   + " does not belong to the certificate in " + live.certificate.toUtf8()));
    QVERIFY(proxy->isRunning());
    HttpClient again(ports.http, kWaitMs);
    again.useTls(trusted);
    QVERIFY(again.connectToServer());
    QCOMPARE(again.sslSocket().peerCertificate(), certificateOf(second));
    ws.send({QStringLiteral("still")});
    QVERIFY(ws.waitForMessage(QStringLiteral("still")));
}

QTEST_GUILESS_MAIN(tst_EndToEnd)

#include "tst_endtoend.moc"
