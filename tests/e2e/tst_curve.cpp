// End to end: zmq.curve. The real sockjsproxy-cli with a CURVE
// configuration, samples/echo-sjp.py as backends with the right key, a key
// that is not allowed, another server key and no CURVE at all, and the
// refusals seen where an operator sees them: in /metrics (--control) and the
// log. Keys come from `sockjsproxy-cli --curve-keygen`.
//
// What may not happen is checked with counts: a refused backend prints how
// many messages it received when it stops ("stopped after 0 messages
// received"), and every event the proxy sent is accounted for by the echoes
// of the backend that was let in.

#include "httpclient.h"
#include "ports.h"
#include "processguard.h"
#include "testpaths.h"
#include "waituntil.h"
#include "websocketclient.h"
#include "zmq/curvekeys.h"

#include <QDir>
#include <QFile>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>
#include <memory>
#include <vector>

using namespace SockJsProxy;
using namespace SockJsProxy::Test;

namespace {

constexpr int kStartMs = 20000;

struct KeyPair
{
    QByteArray publicKey;
    QByteArray secretKey;
    QByteArray certificate; // what --curve-keygen printed
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

bool writeFile(const QString &path, const QByteArray &contents)
{
    QFile file(path);
    return file.open(QIODevice::WriteOnly) && file.write(contents) == contents.size();
}

// The value of one line of /metrics ("name{labels} value"); -1 when absent.
qint64 metric(quint16 controlPort, const QByteArray &nameAndLabels)
{
    const HttpClient::Response response = HttpClient::request(controlPort, "GET", "/metrics");
    if (!response.ok || response.status != 200)
        return -1;
    for (const QByteArray &line : response.body.split('\n')) {
        if (line.startsWith(nameAndLabels + ' '))
            return line.mid(nameAndLabels.size() + 1).toLongLong();
    }
    return -1;
}

const QByteArray kRefusedKey =
    QByteArrayLiteral(R"(sockjsproxy_backend_refused_total{service="/",reason="key_not_allowed"})");
const QByteArray kRefusedHandshake =
    QByteArrayLiteral(R"(sockjsproxy_backend_refused_total{service="/",reason="handshake_failed"})");
const QByteArray kSentConnect = QByteArrayLiteral(R"(sockjsproxy_backend_sent_total{service="/",type="connect"})");

} // namespace

class tst_Curve : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void keygen();
    void badKeyMaterial_data();
    void badKeyMaterial();
    void onlyAllowedBackendsGetEvents();
    void sighupReloadsAllowedKeys();

private:
    // Runs --curve-keygen and reads its certificate.
    bool makeKeyPair(KeyPair *pair);
    // A config file: one service at "/" on ports, with zmq.curve = curve (JSON).
    QString writeConfig(const QString &name, const Ports &ports, const QByteArray &curve);
    // echo-sjp.py with CURVE: serverKey and the backend's certificate file.
    Child *startCurveBackend(ProcessGuard &guard, const Ports &ports, const QByteArray &serverKey,
                             const QString &certificate);
    // SIGTERM, then the count the backend printed on its way out (-1: none).
    static int stopAndCount(Child *backend);

    QTemporaryDir m_dir;
    KeyPair m_proxy;
    KeyPair m_good;
    KeyPair m_wrong;
    QString m_proxyFile;
    QString m_goodFile;
    QString m_wrongFile;
};

bool tst_Curve::makeKeyPair(KeyPair *pair)
{
    ProcessGuard guard;
    Child *cli = guard.runCli({QStringLiteral("--curve-keygen")});
    if (!cli || cli->exitStatus() != QProcess::NormalExit || cli->exitCode() != 0 || !cli->standardError().isEmpty())
        return false;
    QString error;
    const auto publicKey = CurveKeys::parseFile(cli->standardOutput(), CurveKeys::Kind::Public, &error);
    const auto secretKey = CurveKeys::parseFile(cli->standardOutput(), CurveKeys::Kind::Secret, &error);
    if (!publicKey || !secretKey)
        return false;
    *pair = {*publicKey, *secretKey, cli->standardOutput()};
    return true;
}

void tst_Curve::initTestCase()
{
    QVERIFY(m_dir.isValid());
    QVERIFY2(QFile::exists(cliPath()), qPrintable(cliPath()));
    QVERIFY(CurveKeys::available());
    QVERIFY(makeKeyPair(&m_proxy));
    QVERIFY(makeKeyPair(&m_good));
    QVERIFY(makeKeyPair(&m_wrong));
    m_proxyFile = m_dir.filePath(QStringLiteral("proxy.key_secret"));
    m_goodFile = m_dir.filePath(QStringLiteral("good.key_secret"));
    m_wrongFile = m_dir.filePath(QStringLiteral("wrong.key_secret"));
    QVERIFY(writeFile(m_proxyFile, m_proxy.certificate));
    QVERIFY(writeFile(m_goodFile, m_good.certificate));
    QVERIFY(writeFile(m_wrongFile, m_wrong.certificate));
}

QString tst_Curve::writeConfig(const QString &name, const Ports &ports, const QByteArray &curve)
{
    const QByteArray config = QStringLiteral("{\"http\": {\"address\": \"127.0.0.1\", \"port\": %1},\n"
                                             " \"services\": [{\"prefix\": \"/\", \"zmq\": {\"in\": \"%2\", "
                                             "\"out\": \"%3\", \"curve\": ")
                                  .arg(ports.http)
                                  .arg(ports.inEndpoint(), ports.outEndpoint())
                                  .toUtf8()
                              + curve + "}}]}\n";
    const QString path = m_dir.filePath(name);
    return writeFile(path, config) ? path : QString();
}

Child *tst_Curve::startCurveBackend(ProcessGuard &guard, const Ports &ports, const QByteArray &serverKey,
                                    const QString &certificate)
{
    return guard.startPythonBackend(QStringLiteral("echo-sjp.py"),
                                    ports.pythonArgs() << QStringLiteral("-v") << QStringLiteral("--curve-server-key")
                                                       << QString::fromLatin1(serverKey)
                                                       << QStringLiteral("--curve-key-file") << certificate);
}

int tst_Curve::stopAndCount(Child *backend)
{
    backend->sendSignal(SIGTERM);
    if (!waitForExit(backend))
        return -1;
    static const QRegularExpression stopped(QStringLiteral("^echo-sjp: stopped after (\\d+) messages received$"));
    for (const QByteArray &line : backend->lines()) {
        const QRegularExpressionMatch match = stopped.match(QString::fromUtf8(line).trimmed());
        if (match.hasMatch())
            return match.captured(1).toInt();
    }
    return -1;
}

void tst_Curve::keygen()
{
    // Two runs, two different pairs; the public key is the secret key's.
    QVERIFY(m_proxy.publicKey != m_good.publicKey);
    QVERIFY(m_proxy.secretKey != m_good.secretKey);
    QString error;
    for (const KeyPair *pair : {&m_proxy, &m_good, &m_wrong}) {
        QCOMPARE(pair->publicKey.size(), qsizetype(40));
        QCOMPARE(CurveKeys::publicKeyOf(pair->secretKey, &error), std::optional<QByteArray>(pair->publicKey));
        // A ZeroMQ certificate, as pyzmq's load_certificate reads it.
        QVERIFY(pair->certificate.contains("\ncurve\n    public-key = \"" + pair->publicKey + "\"\n    secret-key = \""
                                           + pair->secretKey + "\"\n"));
    }
}

void tst_Curve::badKeyMaterial_data()
{
    QTest::addColumn<QByteArray>("curve");     // zmq.curve
    QTest::addColumn<QStringList>("expected"); // what the error line must contain

    const QString dir = m_dir.path();
    QVERIFY(QDir(dir).mkpath(QStringLiteral("good-dir")));
    QVERIFY(QDir(dir).mkpath(QStringLiteral("bad-dir")));
    QVERIFY(writeFile(m_dir.filePath(QStringLiteral("good-dir/good.key")), m_good.publicKey + "\n"));
    QVERIFY(writeFile(m_dir.filePath(QStringLiteral("bad-dir/fine.key")), m_good.publicKey + "\n"));
    QVERIFY(writeFile(m_dir.filePath(QStringLiteral("bad-dir/broken.key")), "curve\n    public-key = \"abc\"\n"));
    QVERIFY(writeFile(m_dir.filePath(QStringLiteral("public-only.key")),
                      "curve\n    public-key = \"" + m_proxy.publicKey + "\"\n"));
    QVERIFY(writeFile(m_dir.filePath(QStringLiteral("short.key")), m_proxy.secretKey.left(39) + "\n"));

    const QByteArray goodDir = R"("allowed_keys_dir": "good-dir")";
    const QByteArray secretFile = R"("secret_key_file": "proxy.key_secret")";
    QTest::newRow("secret key file missing")
        << QByteArray(R"({"secret_key_file": "missing.key", )" + goodDir + "}")
        << QStringList{QStringLiteral("zmq.curve.secret_key_file"), m_dir.filePath(QStringLiteral("missing.key")),
                       QStringLiteral("cannot read")};
    QTest::newRow("secret key file too short")
        << QByteArray(R"({"secret_key_file": "short.key", )" + goodDir + "}")
        << QStringList{QStringLiteral("zmq.curve.secret_key_file"), m_dir.filePath(QStringLiteral("short.key")),
                       QStringLiteral("39 characters, expected 40")};
    QTest::newRow("secret key file is a public certificate")
        << QByteArray(R"({"secret_key_file": "public-only.key", )" + goodDir + "}")
        << QStringList{QStringLiteral("zmq.curve.secret_key_file"), m_dir.filePath(QStringLiteral("public-only.key")),
                       QStringLiteral("without a secret-key line")};
    QTest::newRow("secret key text too long")
        << QByteArray(R"({"secret_key": ")" + m_proxy.secretKey + R"(x", )" + goodDir + "}")
        << QStringList{QStringLiteral("zmq.curve.secret_key:"), QStringLiteral("41 characters, expected 40")};
    QTest::newRow("secret key text not Z85")
        << QByteArray(R"({"secret_key": ")" + QByteArray(m_proxy.secretKey).replace(5, 1, ",") + R"(", )" + goodDir
                      + "}")
        << QStringList{QStringLiteral("zmq.curve.secret_key:"), QStringLiteral("character 6 is not Z85")};
    QTest::newRow("allowed key not Z85") << QByteArray("{" + secretFile + R"(, "allowed_keys": [")" + m_good.publicKey
                                                       + R"(", "not a key"]})")
                                         << QStringList{QStringLiteral("zmq.curve.allowed_keys[1]"),
                                                        QStringLiteral("\"not a key\""),
                                                        QStringLiteral("9 characters, expected 40")};
    QTest::newRow("allowed directory missing")
        << QByteArray("{" + secretFile + R"(, "allowed_keys_dir": "no-such-dir"})")
        << QStringList{QStringLiteral("zmq.curve.allowed_keys_dir"), m_dir.filePath(QStringLiteral("no-such-dir")),
                       QStringLiteral("no such directory")};
    QTest::newRow("allowed directory with a bad key file")
        << QByteArray("{" + secretFile + R"(, "allowed_keys_dir": "bad-dir"})")
        << QStringList{QStringLiteral("zmq.curve.allowed_keys_dir"),
                       m_dir.filePath(QStringLiteral("bad-dir/broken.key")),
                       QStringLiteral("3 characters, expected 40")};
}

// Bad key material is a configuration error: one line on stderr that names
// the key and the file, exit status 2, nothing bound.
void tst_Curve::badKeyMaterial()
{
    QFETCH(QByteArray, curve);
    QFETCH(QStringList, expected);
    const Ports ports = Ports::pick();
    QVERIFY(ports.ok());
    const QString config = writeConfig(QStringLiteral("bad.json"), ports, curve);
    QVERIFY(!config.isEmpty());

    ProcessGuard guard;
    Child *cli = guard.runCli({QStringLiteral("--config"), config});
    QVERIFY(cli);
    QCOMPARE(cli->exitStatus(), QProcess::NormalExit);
    QCOMPARE(cli->exitCode(), 2);
    QVERIFY2(cli->standardOutput().isEmpty(), cli->standardOutput().constData());
    const QList<QByteArray> errors = errorLines(cli->standardError());
    QVERIFY2(errors.size() == 1, cli->standardError().constData());
    const QString line = QString::fromUtf8(errors.first());
    QVERIFY2(line.startsWith(QStringLiteral("sockjsproxy-cli: service /: zmq.curve")), qPrintable(line));
    for (const QString &part : expected)
        QVERIFY2(line.contains(part), qPrintable(part + QStringLiteral(" not in: ") + line));
    // Never a secret key in an error message.
    QVERIFY2(!line.contains(QString::fromLatin1(m_proxy.secretKey.left(20))), qPrintable(line));
    QVERIFY(!acceptsConnections(ports.http, 100));
}

// The backend with an allowed key gets every event and echoes it; a backend
// with a key not allowed, one with another server key and one without CURVE
// get nothing, not one event, while events flow. Each refusal is counted
// in /metrics, and the one with a key logged with the peer's address.
void tst_Curve::onlyAllowedBackendsGetEvents()
{
    const QList<quint16> free = freePorts(4);
    QCOMPARE(free.size(), 4);
    Ports ports;
    ports.http = free.at(0);
    ports.in = free.at(1);
    ports.out = free.at(2);
    const quint16 control = free.at(3);
    const QString config =
        writeConfig(QStringLiteral("allowed.json"), ports,
                    R"({"secret_key_file": "proxy.key_secret", "allowed_keys": [")" + m_good.publicKey + R"("]})");
    QVERIFY(!config.isEmpty());

    ProcessGuard guard;
    Child *proxy = guard.startProxy(
        {QStringLiteral("--config"), config, QStringLiteral("--control"), QStringLiteral("127.0.0.1:%1").arg(control)},
        ports.http);
    QVERIFY(proxy);
    // The public key it logs is what backends are given.
    QVERIFY(waitForLine(proxy, "CURVE server public key " + m_proxy.publicKey + " - 1 backend key(s) allowed"));
    QCOMPARE(metric(control, kRefusedKey), qint64(0));
    QCOMPARE(metric(control, kRefusedHandshake), qint64(0));

    // The refused ones first: were they given a pipe, PUSH would hand them
    // their share of the events below.
    Child *wrongKey = startCurveBackend(guard, ports, m_proxy.publicKey, m_wrongFile);
    QVERIFY(wrongKey);
    Child *plaintext =
        guard.startPythonBackend(QStringLiteral("echo-sjp.py"), ports.pythonArgs() << QStringLiteral("-v"));
    QVERIFY(plaintext);
    Child *otherServer = startCurveBackend(guard, ports, m_wrong.publicKey, m_goodFile);
    QVERIFY(otherServer);
    // Each of in and out refused the key once: libzmq does not retry after
    // an authentication failure. The handshake failures of the other two:
    // at least once on each socket for each.
    QVERIFY(waitUntil([&] { return metric(control, kRefusedKey) == 2; }));
    QVERIFY(waitUntil([&] { return metric(control, kRefusedHandshake) >= 4; }));
    const QByteArray address = "backend 127.0.0.1 refused on in (" + ports.inEndpoint().toLatin1()
                               + "): CURVE public key " + m_wrong.publicKey + " is not allowed (zmq.curve)";
    QVERIFY2(waitForLine(proxy, address), proxy->standardError().constData());
    QVERIFY(waitForLine(proxy, "refused on out (" + ports.outEndpoint().toLatin1() + "): CURVE public key "
                                   + m_wrong.publicKey));
    QVERIFY(waitForLine(proxy, "(a plaintext backend?)"));

    Child *good = startCurveBackend(guard, ports, m_proxy.publicKey, m_goodFile);
    QVERIFY(good);

    // Sessions and messages: every one echoed, so every event reached the
    // good backend (PUSH would have given some to any other pipe).
    constexpr int sessions = 4;
    constexpr int messagesPerSession = 6;
    std::vector<std::unique_ptr<WebSocketClient>> clients;
    for (int s = 0; s < sessions; ++s) {
        clients.push_back(std::make_unique<WebSocketClient>());
        QVERIFY(clients.back()->openSession(ports.http, "/000/s" + QByteArray::number(s) + "/websocket"));
        for (int m = 0; m < messagesPerSession; ++m)
            clients.back()->send({QStringLiteral("session %1 message %2").arg(s).arg(m)});
    }
    for (int s = 0; s < sessions; ++s) {
        QVERIFY(clients[s]->waitForMessages(messagesPerSession));
        QStringList expected;
        for (int m = 0; m < messagesPerSession; ++m)
            expected << QStringLiteral("session %1 message %2").arg(s).arg(m);
        QCOMPARE(clients[s]->messages(), expected);
    }
    QCOMPARE(metric(control, kSentConnect), qint64(sessions));

    // Counted with the sessions still open: connects and messages, no disconnect.
    QCOMPARE(stopAndCount(wrongKey), 0);
    QCOMPARE(stopAndCount(plaintext), 0);
    QCOMPARE(stopAndCount(otherServer), 0);
    QCOMPARE(stopAndCount(good), sessions * (1 + messagesPerSession));
    QCOMPARE(good->linesStartingWith("connect ").size(), sessions);
    QVERIFY(wrongKey->linesStartingWith("connect ").isEmpty());
    QVERIFY(plaintext->linesStartingWith("connect ").isEmpty());
    QVERIFY(otherServer->linesStartingWith("connect ").isEmpty());
    // Still two: the good backend was never refused.
    QCOMPARE(metric(control, kRefusedKey), qint64(2));
}

// SIGHUP re-reads allowed_keys_dir: a key added there lets its backend in
// without a restart of the proxy; one taken out keeps the next one out.
void tst_Curve::sighupReloadsAllowedKeys()
{
    const QList<quint16> free = freePorts(4);
    QCOMPARE(free.size(), 4);
    Ports ports;
    ports.http = free.at(0);
    ports.in = free.at(1);
    ports.out = free.at(2);
    const quint16 control = free.at(3);
    const QString allowed = m_dir.filePath(QStringLiteral("reload-dir"));
    QVERIFY(QDir().mkpath(allowed));
    QVERIFY(writeFile(allowed + QStringLiteral("/good.key"), m_good.publicKey + "\n"));
    const QString config =
        writeConfig(QStringLiteral("reload.json"), ports,
                    R"({"secret_key": ")" + m_proxy.secretKey + R"(", "allowed_keys_dir": "reload-dir"})");
    QVERIFY(!config.isEmpty());

    ProcessGuard guard;
    Child *proxy = guard.startProxy(
        {QStringLiteral("--config"), config, QStringLiteral("--control"), QStringLiteral("127.0.0.1:%1").arg(control)},
        ports.http);
    QVERIFY(proxy);
    Child *refused = startCurveBackend(guard, ports, m_proxy.publicKey, m_wrongFile);
    QVERIFY(refused);
    QVERIFY(waitUntil([&] { return metric(control, kRefusedKey) == 2; }));

    // The public part of its certificate, as the README says to make it.
    QByteArray publicPart;
    for (const QByteArray &line : m_wrong.certificate.split('\n')) {
        if (!line.contains("secret-key"))
            publicPart += line + '\n';
    }
    QVERIFY(writeFile(allowed + QStringLiteral("/wrong.key"), publicPart));
    proxy->sendSignal(SIGHUP);
    QVERIFY(waitForLine(proxy, "CURVE keys reloaded: 2 backend key(s) allowed, 1 added, 0 removed"));
    QVERIFY(proxy->isRunning());

    // The refused backend gave up (libzmq does not retry a refused key):
    // started again, it is let in, and it alone serves the session.
    QCOMPARE(stopAndCount(refused), 0);
    Child *admitted = startCurveBackend(guard, ports, m_proxy.publicKey, m_wrongFile);
    QVERIFY(admitted);
    WebSocketClient client;
    QVERIFY(client.openSession(ports.http, "/000/reload/websocket"));
    client.send({QStringLiteral("after SIGHUP")});
    QVERIFY(client.waitForMessage(QStringLiteral("after SIGHUP")));
    QVERIFY(waitForLine(admitted, ": after SIGHUP"));
    QCOMPARE(metric(control, kRefusedKey), qint64(2));

    // Taken out again: the next connection with it is refused.
    QVERIFY(QFile::remove(allowed + QStringLiteral("/wrong.key")));
    proxy->sendSignal(SIGHUP);
    QVERIFY(waitForLine(proxy, "CURVE keys reloaded: 1 backend key(s) allowed, 0 added, 1 removed"));
    Child *again = startCurveBackend(guard, ports, m_proxy.publicKey, m_wrongFile);
    QVERIFY(again);
    QVERIFY(waitUntil([&] { return metric(control, kRefusedKey) == 4; }));

    // A key file that breaks keeps the keys in use, and says so.
    QVERIFY(writeFile(allowed + QStringLiteral("/broken.key"), "nonsense\n"));
    proxy->sendSignal(SIGHUP);
    QVERIFY(waitForLine(proxy, "keys not reloaded, those in use stay: zmq.curve.allowed_keys_dir: " + allowed.toUtf8()
                                   + "/broken.key"));
    QVERIFY(proxy->isRunning());
    client.send({QStringLiteral("still served")});
    QVERIFY(client.waitForMessage(QStringLiteral("still served")));
    QCOMPARE(stopAndCount(again), 0);
}

QTEST_GUILESS_MAIN(tst_Curve)
#include "tst_curve.moc"
