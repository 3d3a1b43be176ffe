// End to end: the JavaScript sample backend (samples/node/echo-sjp.mjs,
// Node.js with the npm package zeromq) behind the real sockjsproxy-cli, so
// that a backend in a third language runs the protocol in every test run:
// echo over WebSocket and xhr-polling, connect and disconnect seen, and the
// same with CURVE.
//
// It needs node and `npm ci` in samples/node (scripts/install-deps --test
// does both). Without them the test is skipped, except under CI (CI set),
// where it fails: a missing install step must not pass unseen.

#include "httpclient.h"
#include "ports.h"
#include "processguard.h"
#include "sockjsframes.h"
#include "testpaths.h"
#include "waituntil.h"
#include "websocketclient.h"
#include "zmq/curvekeys.h"

#include <QDeadlineTimer>
#include <QFile>
#include <QFileInfo>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>

using namespace SockJsProxy;
using namespace SockJsProxy::Test;

namespace {

constexpr int kStartMs = 20000;

QString sampleDir() { return sourceDir() + QStringLiteral("/samples/node"); }

} // namespace

class tst_NodeBackend : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void echo_data();
    void echo();
    void curve();

private:
    Child *startNodeBackend(ProcessGuard &guard, const QStringList &args);

    QString m_node;
};

void tst_NodeBackend::initTestCase()
{
    m_node = QStandardPaths::findExecutable(QStringLiteral("node"));
    QString missing;
    if (m_node.isEmpty())
        missing = QStringLiteral("node is not installed");
    else if (!QFileInfo::exists(sampleDir() + QStringLiteral("/node_modules/zeromq/package.json")))
        missing = QStringLiteral("the npm package zeromq is not installed (npm ci in %1)").arg(sampleDir());
    if (!missing.isEmpty()) {
        if (!qEnvironmentVariableIsEmpty("CI"))
            QFAIL(qPrintable(missing + QStringLiteral(" (scripts/install-deps --test installs it)")));
        QSKIP(qPrintable(missing));
    }
    QVERIFY2(QFile::exists(cliPath()), qPrintable(cliPath()));
}

Child *tst_NodeBackend::startNodeBackend(ProcessGuard &guard, const QStringList &args)
{
    Child *backend = guard.start(QStringLiteral("echo-sjp.mjs"), m_node,
                                 QStringList{sampleDir() + QStringLiteral("/echo-sjp.mjs")} + args);
    if (!backend)
        return nullptr;
    if (!waitForLine(backend, "pulling from", kStartMs)) {
        qWarning().noquote() << "echo-sjp.mjs did not start:\n" + QString::fromUtf8(backend->output());
        return nullptr;
    }
    return backend;
}

void tst_NodeBackend::echo_data()
{
    QTest::addColumn<QString>("transport");
    QTest::newRow("websocket") << QStringLiteral("websocket");
    QTest::newRow("xhr-polling") << QStringLiteral("xhr");
}

void tst_NodeBackend::echo()
{
    QFETCH(QString, transport);
    const Ports ports = Ports::pick();
    QVERIFY(ports.ok());
    ProcessGuard guard;
    QVERIFY(guard.startProxy(ports.proxyArgs(), ports.http));
    Child *backend = startNodeBackend(guard, ports.pythonArgs() << QStringLiteral("-v"));
    QVERIFY(backend);

    // Beyond Latin-1 and the BMP, an embedded NUL, JSON's own characters.
    const QStringList sent{
        QStringLiteral("hello"),
        QString::fromUtf8("h\xc3\xa9llo \xe2\x98\x83 \xf0\x9f\x98\x80"),
        QStringLiteral("nul>") + QChar(0) + QStringLiteral("<nul"),
        QStringLiteral("quote \" backslash \\ newline \n end"),
    };
    QStringList received;
    if (transport == QLatin1String("websocket")) {
        WebSocketClient ws;
        QVERIFY(ws.openSession(ports.http, "/000/node/websocket"));
        for (const QString &message : sent)
            ws.send({message});
        QVERIFY(ws.waitForMessages(sent.size()));
        received = ws.messages();
        QVERIFY(ws.closeAndWait());
    } else {
        const HttpClient::Response open = HttpClient::request(ports.http, "POST", "/000/node/xhr");
        QCOMPARE(open.status, 200);
        QCOMPARE(open.body, QByteArray("o\n"));
        const HttpClient::Response send =
            HttpClient::request(ports.http, "POST", "/000/node/xhr_send", sockJsMessages(sent));
        QCOMPARE(send.status, 204);
        const QDeadlineTimer deadline(kDefaultWaitMs);
        while (received.size() < sent.size() && !deadline.hasExpired()) {
            const HttpClient::Response poll = HttpClient::request(ports.http, "POST", "/000/node/xhr");
            QCOMPARE(poll.status, 200);
            QList<QByteArray> frames = poll.body.split('\n');
            frames.removeAll(QByteArray());
            received += decodedMessages(frames);
        }
        QCOMPARE(HttpClient::request(ports.http, "POST", "/000/node/xhr_send", "[\"x\"]").status, 204);
    }
    QCOMPARE(received, sent);
    // The backend saw the session open and every message.
    QVERIFY(waitForLinesStartingWith(backend, "connect ", 1));
    QVERIFY(waitForLinesStartingWith(backend, "message ", sent.size()));
    if (transport == QLatin1String("websocket"))
        QVERIFY(waitForLinesStartingWith(backend, "disconnect ", 1));
    QVERIFY(!backend->hasLineContaining("warning"));
}

// CURVE from JavaScript: the proxy's public key and the backend's
// certificate from --curve-keygen; a backend with a key not allowed gets
// nothing.
void tst_NodeBackend::curve()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    ProcessGuard guard;
    QByteArray certificates[3];
    for (QByteArray &certificate : certificates) {
        Child *keygen = guard.runCli({QStringLiteral("--curve-keygen")});
        QVERIFY(keygen);
        QCOMPARE(keygen->exitCode(), 0);
        certificate = keygen->standardOutput();
    }
    QString error;
    const auto proxyPublic = CurveKeys::parseFile(certificates[0], CurveKeys::Kind::Public, &error);
    const auto proxySecret = CurveKeys::parseFile(certificates[0], CurveKeys::Kind::Secret, &error);
    const auto backendPublic = CurveKeys::parseFile(certificates[1], CurveKeys::Kind::Public, &error);
    QVERIFY(proxyPublic && proxySecret && backendPublic);
    const QString goodFile = dir.filePath(QStringLiteral("backend.key_secret"));
    const QString wrongFile = dir.filePath(QStringLiteral("wrong.key_secret"));
    for (const auto &[path, contents] : {std::pair{goodFile, certificates[1]}, std::pair{wrongFile, certificates[2]}}) {
        QFile file(path);
        QVERIFY(file.open(QIODevice::WriteOnly));
        QCOMPARE(file.write(contents), contents.size());
    }

    const Ports ports = Ports::pick();
    QVERIFY(ports.ok());
    const QByteArray config = QStringLiteral("{\"http\": {\"address\": \"127.0.0.1\", \"port\": %1}, \"services\": "
                                             "[{\"zmq\": {\"in\": \"%2\", \"out\": \"%3\", \"curve\": "
                                             "{\"secret_key\": \"%4\", \"allowed_keys\": [\"%5\"]}}}]}")
                                  .arg(ports.http)
                                  .arg(ports.inEndpoint(), ports.outEndpoint(), QString::fromLatin1(*proxySecret),
                                       QString::fromLatin1(*backendPublic))
                                  .toUtf8();
    const QString configPath = dir.filePath(QStringLiteral("proxy.json"));
    {
        QFile file(configPath);
        QVERIFY(file.open(QIODevice::WriteOnly));
        QCOMPARE(file.write(config), config.size());
    }
    QVERIFY(guard.startProxy({QStringLiteral("--config"), configPath}, ports.http));
    const QStringList curveArgs{QStringLiteral("--curve-server-key"), QString::fromLatin1(*proxyPublic)};
    Child *refused =
        startNodeBackend(guard, ports.pythonArgs() << curveArgs << QStringLiteral("--curve-key-file") << wrongFile);
    QVERIFY(refused);
    Child *good = startNodeBackend(guard, ports.pythonArgs() << QStringLiteral("-v") << curveArgs
                                                             << QStringLiteral("--curve-key-file") << goodFile);
    QVERIFY(good);

    WebSocketClient ws;
    QVERIFY(ws.openSession(ports.http, "/000/curve/websocket"));
    const QStringList sent{QStringLiteral("one"), QStringLiteral("two"), QStringLiteral("three")};
    for (const QString &message : sent)
        ws.send({message});
    QVERIFY(ws.waitForMessages(sent.size()));
    QCOMPARE(ws.messages(), sent);

    refused->sendSignal(SIGTERM);
    QVERIFY(waitForExit(refused));
    QVERIFY2(refused->hasLineContaining("echo-sjp.mjs: stopped after 0 messages received"),
             refused->output().constData());
    good->sendSignal(SIGTERM);
    QVERIFY(waitForExit(good));
    // connect and three messages.
    QVERIFY2(good->hasLineContaining("echo-sjp.mjs: stopped after 4 messages received"), good->output().constData());
}

QTEST_GUILESS_MAIN(tst_NodeBackend)
#include "tst_nodebackend.moc"
