// HTTPS and WSS on the HTTP port (http.tls): every transport family over
// TLS, handshakes that fail or never finish, and a certificate reload that
// keeps open sessions while new connections get the new certificate;
// behind a balancer, the PROXY protocol header before the TLS handshake.

#include "http/tlsacceptor.h"
#include "httpclient.h"
#include "sockjs/service.h"
#include "sockjs/session.h"
#include "testcertificates.h"
#include "testserver.h"
#include "websocketclient.h"

#include <QFile>
#include <QRegularExpression>
#include <QSslSocket>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

#include <memory>

using namespace SockJsProxy;
using namespace SockJsProxy::Test;

namespace {

constexpr int kWaitMs = 5000;
constexpr int kRequestTimeoutMs = 400;

QByteArray be16(int value) { return QByteArray(1, char((value >> 8) & 0xff)) + char(value & 0xff); }

// A PROXY v2 header (PROXY, TCP over IPv4) from source to 127.0.0.1.
QByteArray proxyV2(const QHostAddress &source, quint16 sourcePort, quint16 destinationPort)
{
    const quint32 ip = source.toIPv4Address();
    const char addresses[] = {char(ip >> 24), char(ip >> 16), char(ip >> 8), char(ip), '\x7f', '\0', '\0', '\x01'};
    const QByteArray block = QByteArray(addresses, 8) + be16(sourcePort) + be16(destinationPort);
    return QByteArray("\r\n\r\n\0\r\nQUIT\n", 12) + char(0x21) + char(0x11) + be16(int(block.size())) + block;
}

const QHostAddress kClient(QStringLiteral("198.51.100.7"));

bool copyFile(const QString &from, const QString &to)
{
    QFile::remove(to);
    return QFile::copy(from, to);
}

} // namespace

class tst_Tls : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    void httpTransports_data();
    void httpTransports();
    void webSocket();
    void rawWebSocket();
    void protocolVersion();
    void plainHttpOnTlsPort();
    void silentClientTimesOut_data();
    void silentClientTimesOut();
    void reloadKeepsSessions();
    void badReloadKeepsPair();

    // http.proxy_protocol: the PROXY header comes before the ClientHello.
    void proxyHeaderThenTls_data();
    void proxyHeaderThenTls();
    void proxyHeaderThenWss();
    void tlsWithoutProxyHeader();
    void proxyHeaderThenSilence();

private:
    bool startWithProxyProtocol();
    const Session *session(const QByteArray &urlId) const;
    quint16 port() const { return m_server->port(); }
    std::unique_ptr<HttpClient> client(int timeoutMs = kWaitMs) const;
    quint64 counter(Counter id) const { return m_server->server()->counters()[id]; }

    QTemporaryDir m_dir;
    TlsFiles m_first;  // generated once
    TlsFiles m_second; // another pair, for reloads
    TlsFiles m_live;   // the paths the server reads (copies of either)
    std::unique_ptr<TestServer> m_server;
};

void tst_Tls::initTestCase()
{
    QVERIFY(m_dir.isValid());
    QString error;
    QVERIFY2(makeSelfSigned(m_dir.path(), QStringLiteral("first"), &m_first, &error), qPrintable(error));
    QVERIFY2(makeSelfSigned(m_dir.path(), QStringLiteral("second"), &m_second, &error), qPrintable(error));
    m_live = {m_dir.filePath(QStringLiteral("live.crt")), m_dir.filePath(QStringLiteral("live.key"))};
}

void tst_Tls::init()
{
    QVERIFY(copyFile(m_first.certificate, m_live.certificate));
    QVERIFY(copyFile(m_first.key, m_live.key));
    Config config = TestServer::protocolConfig(QString());
    config.tls = m_live;
    config.http.requestTimeoutMs = kRequestTimeoutMs;
    m_server = std::make_unique<TestServer>();
    QVERIFY(m_server->start(config));
    QVERIFY(m_server->server()->tls());
}

void tst_Tls::cleanup() { m_server.reset(); }

std::unique_ptr<HttpClient> tst_Tls::client(int timeoutMs) const
{
    auto client = std::make_unique<HttpClient>(port(), timeoutMs);
    client->useTls({certificateOf(m_first), certificateOf(m_second)});
    return client;
}

void tst_Tls::httpTransports_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QByteArray>("receive"); // the endpoint and its query
    QTest::addColumn<bool>("streaming");
    QTest::addColumn<QByteArray>("openFrame");
    QTest::addColumn<QByteArray>("messageFrame"); // of the message "tls"
    QTest::addColumn<QByteArray>("send");         // xhr_send or jsonp_send

    QTest::newRow("xhr") << QByteArray("POST") << QByteArray("xhr") << false << QByteArray("o\n")
                         << QByteArray("a[\"tls\"]\n") << QByteArray("xhr_send");
    QTest::newRow("xhr_streaming") << QByteArray("POST") << QByteArray("xhr_streaming") << true << QByteArray("o\n")
                                   << QByteArray("a[\"tls\"]\n") << QByteArray("xhr_send");
    QTest::newRow("eventsource") << QByteArray("GET") << QByteArray("eventsource") << true
                                 << QByteArray("data: o\r\n\r\n") << QByteArray("data: a[\"tls\"]\r\n\r\n")
                                 << QByteArray("xhr_send");
    QTest::newRow("htmlfile") << QByteArray("GET") << QByteArray("htmlfile?c=cb") << true
                              << QByteArray("<script>\np(\"o\");\n</script>\r\n")
                              << QByteArray("<script>\np(\"a[\\\"tls\\\"]\");\n</script>\r\n")
                              << QByteArray("xhr_send");
    QTest::newRow("jsonp") << QByteArray("GET") << QByteArray("jsonp?c=cb") << false << QByteArray("/**/cb(\"o\");\r\n")
                           << QByteArray("/**/cb(\"a[\\\"tls\\\"]\");\r\n") << QByteArray("jsonp_send");
}

void tst_Tls::httpTransports()
{
    QFETCH(QByteArray, method);
    QFETCH(QByteArray, receive);
    QFETCH(bool, streaming);
    QFETCH(QByteArray, openFrame);
    QFETCH(QByteArray, messageFrame);
    QFETCH(QByteArray, send);
    const QByteArray session = "/echo/000/" + QByteArray(QTest::currentDataTag()) + '/';

    auto receiver = client();
    QVERIFY(receiver->connectToServer());
    QVERIFY(receiver->sslSocket().isEncrypted());
    receiver->sendRequest(method, session + receive);
    QByteArray received;
    if (streaming) {
        const HttpClient::Response head = receiver->readHead();
        QCOMPARE(head.status, 200);
        QVERIFY(receiver->readChunksUntil(&received, openFrame));
        QVERIFY(received.endsWith(openFrame));
    } else {
        const HttpClient::Response response = receiver->readResponse();
        QCOMPARE(response.status, 200);
        QCOMPARE(response.body, openFrame);
    }

    auto sender = client();
    QVERIFY(sender->connectToServer());
    if (send == "jsonp_send") {
        sender->sendRequest("POST", session + send, "d=%5B%22tls%22%5D",
                            {{"Content-Type", "application/x-www-form-urlencoded"}});
        const HttpClient::Response sent = sender->readResponse();
        QCOMPARE(sent.status, 200);
        QCOMPARE(sent.body, QByteArray("ok"));
    } else {
        sender->sendRequest("POST", session + send, "[\"tls\"]");
        QCOMPARE(sender->readResponse().status, 204);
    }

    if (streaming) {
        received.clear();
        QVERIFY(receiver->readChunksUntil(&received, messageFrame));
        QCOMPARE(received, messageFrame);
    } else {
        receiver->sendRequest(method, session + receive);
        const HttpClient::Response response = receiver->readResponse();
        QCOMPARE(response.status, 200);
        QCOMPARE(response.body, messageFrame);
    }
    QCOMPARE(counter(Counter::TlsHandshakeFailures), quint64(0));
    QCOMPARE(counter(Counter::TlsHandshakeTimeouts), quint64(0));
}

void tst_Tls::webSocket()
{
    WebSocketClient ws;
    ws.useTls({certificateOf(m_first)});
    QVERIFY(ws.openSession(port(), "/echo/000/wss/websocket"));
    QCOMPARE(ws.socket().sslConfiguration().peerCertificate(), certificateOf(m_first));
    ws.send({QStringLiteral("over wss")});
    QVERIFY(ws.waitForMessage(QStringLiteral("over wss")));
    QCOMPARE(ws.significantFrames(), (QList<QByteArray>{"o", "a[\"over wss\"]"}));
    QVERIFY(ws.closeAndWait());
    QCOMPARE(m_server->server()->counters()[Counter::WebSocketUpgrades], quint64(1));
}

void tst_Tls::rawWebSocket()
{
    WebSocketClient ws;
    ws.useTls({certificateOf(m_first)});
    QVERIFY(ws.connectTo(port(), "/echo/websocket"));
    ws.sendText(QStringLiteral("raw over wss"));
    QVERIFY(ws.waitForFrames(1));
    QCOMPARE(ws.texts(), QStringList{QStringLiteral("raw over wss")});
    QVERIFY(ws.closeAndWait());
}

void tst_Tls::protocolVersion()
{
    // TLS 1.3 where both sides have it; a client that offers only 1.2 is served too.
    auto any = client();
    QVERIFY(any->connectToServer());
    QCOMPARE(any->sslSocket().sessionProtocol(), QSsl::TlsV1_3);
    auto tls12 = client();
    QSslConfiguration configuration = tls12->sslSocket().sslConfiguration();
    configuration.setProtocol(QSsl::TlsV1_2);
    tls12->sslSocket().setSslConfiguration(configuration);
    QVERIFY(tls12->connectToServer());
    QCOMPARE(tls12->sslSocket().sessionProtocol(), QSsl::TlsV1_2);
    tls12->sendRequest("GET", "/echo/info");
    QCOMPARE(tls12->readResponse().status, 200);
}

void tst_Tls::plainHttpOnTlsPort()
{
    // Not a ClientHello: the handshake fails at once and the connection is closed.
    HttpClient plain(port());
    QVERIFY(plain.connectToServer());
    plain.sendRequest("GET", "/echo/info");
    QVERIFY(plain.waitForClose());
    QCOMPARE(plain.unread(), QByteArray());
    QTRY_COMPARE(counter(Counter::TlsHandshakeFailures), quint64(1));
    QCOMPARE(counter(Counter::TlsHandshakeTimeouts), quint64(0));
    QCOMPARE(counter(Counter::HttpRequests), quint64(0));
}

void tst_Tls::silentClientTimesOut_data()
{
    QTest::addColumn<QByteArray>("sent");
    QTest::newRow("nothing") << QByteArray();
    // A handshake record header announcing 512 bytes, and the first few of
    // a ClientHello: half a handshake.
    QTest::newRow("half a ClientHello") << QByteArray("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
}

void tst_Tls::silentClientTimesOut()
{
    QFETCH(QByteArray, sent);
    QTcpSocket socket;
    socket.connectToHost(QStringLiteral("127.0.0.1"), port());
    QVERIFY(socket.waitForConnected(kWaitMs));
    if (!sent.isEmpty()) {
        socket.write(sent);
        socket.flush();
    }
    QElapsedTimer elapsed;
    elapsed.start();
    QTRY_COMPARE_WITH_TIMEOUT(m_server->server()->tls()->pending(), 1, kWaitMs);
    QTRY_VERIFY_WITH_TIMEOUT(socket.state() == QAbstractSocket::UnconnectedState || socket.waitForDisconnected(50),
                             kWaitMs);
    // Held for the request timeout, not closed before it.
    QVERIFY2(elapsed.elapsed() >= kRequestTimeoutMs - 50, qPrintable(QString::number(elapsed.elapsed())));
    QCOMPARE(socket.readAll(), QByteArray());
    QCOMPARE(counter(Counter::TlsHandshakeTimeouts), quint64(1));
    QCOMPARE(counter(Counter::TlsHandshakeFailures), quint64(0));
    QCOMPARE(m_server->server()->tls()->pending(), 0);
}

void tst_Tls::reloadKeepsSessions()
{
    WebSocketClient ws;
    ws.useTls({certificateOf(m_first)});
    QVERIFY(ws.openSession(port(), "/echo/000/reload/websocket"));

    QVERIFY(copyFile(m_second.certificate, m_live.certificate));
    QVERIFY(copyFile(m_second.key, m_live.key));
    QVERIFY(m_server->server()->reloadKeys());
    QCOMPARE(m_server->server()->tls()->credentials().chain().first(), certificateOf(m_second));

    // The open session goes on over the connection it has.
    ws.send({QStringLiteral("after reload")});
    QVERIFY(ws.waitForMessage(QStringLiteral("after reload")));
    QVERIFY(!ws.isDisconnected());
    QCOMPARE(ws.socket().sslConfiguration().peerCertificate(), certificateOf(m_first));

    // New connections get the new certificate.
    auto fresh = client();
    QVERIFY(fresh->connectToServer());
    QCOMPARE(fresh->sslSocket().peerCertificate(), certificateOf(m_second));
    fresh->sendRequest("GET", "/echo/info");
    QCOMPARE(fresh->readResponse().status, 200);
    WebSocketClient second;
    second.useTls({certificateOf(m_second)});
    QVERIFY(second.openSession(port(), "/echo/000/reload2/websocket"));
    QCOMPARE(second.socket().sslConfiguration().peerCertificate(), certificateOf(m_second));
    QVERIFY(ws.closeAndWait());
    QVERIFY(second.closeAndWait());
}

void tst_Tls::badReloadKeepsPair()
{
    // The new certificate is in place but the key is still the old one: a
    // mismatched pair, as when a renewal is caught half-copied.
    QVERIFY(copyFile(m_second.certificate, m_live.certificate));
    QTest::ignoreMessage(
        QtWarningMsg, qPrintable(QStringLiteral("http.tls: not reloaded, the certificate and key in use stay: key %1 "
                                                "does not belong to the certificate in %2")
                                     .arg(m_live.key, m_live.certificate)));
    QVERIFY(!m_server->server()->reloadKeys());
    QCOMPARE(m_server->server()->tls()->credentials().chain().first(), certificateOf(m_first));
    auto fresh = client();
    QVERIFY(fresh->connectToServer());
    QCOMPARE(fresh->sslSocket().peerCertificate(), certificateOf(m_first));

    // A missing file the same.
    QVERIFY(QFile::remove(m_live.key));
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("^http.tls: not reloaded, .*No such file")));
    QVERIFY(!m_server->server()->reloadKeys());
    auto again = client();
    QVERIFY(again->connectToServer());
    QCOMPARE(again->sslSocket().peerCertificate(), certificateOf(m_first));
}

bool tst_Tls::startWithProxyProtocol()
{
    m_server.reset();
    Config config = TestServer::protocolConfig(QString());
    config.tls = m_live;
    config.http.requestTimeoutMs = kRequestTimeoutMs;
    QString error;
    config.http.trustedProxies = *TrustedProxies::parse({QStringLiteral("127.0.0.1")}, &error);
    config.http.proxyProtocol = true;
    m_server = std::make_unique<TestServer>();
    return m_server->start(config) && m_server->server()->tls() && m_server->server()->tls()->proxyProtocol();
}

const Session *tst_Tls::session(const QByteArray &urlId) const
{
    for (const Service *service : m_server->server()->services()) {
        if (service->prefix() != QLatin1String("/echo"))
            continue;
        for (const Session *session : service->sessions()) {
            if (session->urlId() == urlId)
                return session;
        }
    }
    return nullptr;
}

void tst_Tls::proxyHeaderThenTls_data()
{
    QTest::addColumn<QByteArray>("header");
    QTest::newRow("v2") << proxyV2(kClient, 5555, 443);
    QTest::newRow("v1") << QByteArray("PROXY TCP4 198.51.100.7 127.0.0.1 5555 443\r\n");
}

void tst_Tls::proxyHeaderThenTls()
{
    QFETCH(QByteArray, header);
    QVERIFY(startWithProxyProtocol());
    // The header and the ClientHello may well arrive in one read: the
    // handshake must start exactly after the header.
    auto client = this->client();
    client->setPlainPrelude(header);
    QVERIFY(client->connectToServer());
    QVERIFY(client->sslSocket().isEncrypted());
    client->sendRequest("POST", "/echo/000/p/xhr");
    const HttpClient::Response response = client->readResponse();
    QCOMPARE(response.status, 200);
    QCOMPARE(response.body, QByteArray("o\n"));

    const Session *opened = session("p");
    QVERIFY(opened);
    QCOMPARE(opened->clientInfo().address, kClient.toString());
    QCOMPARE(int(opened->clientInfo().port), 5555);
    QCOMPARE(opened->clientInfo().via, QStringLiteral("127.0.0.1"));
    QCOMPARE(counter(Counter::ProxyHeadersAccepted), quint64(1));
    for (const Counter refused :
         {Counter::ProxyRefusedUntrustedPeer, Counter::ProxyRefusedMissing, Counter::ProxyRefusedMalformed,
          Counter::ProxyRefusedIncomplete, Counter::TlsHandshakeFailures, Counter::TlsHandshakeTimeouts})
        QCOMPARE(counter(refused), quint64(0));
}

void tst_Tls::proxyHeaderThenWss()
{
    QVERIFY(startWithProxyProtocol());
    auto client = this->client();
    client->setPlainPrelude(proxyV2(kClient, 6000, 443));
    QVERIFY(client->connectToServer());
    client->write("GET /echo/000/w/websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n");
    const HttpClient::Response head = client->readHead();
    QCOMPARE(head.status, 101);
    QCOMPARE(client->readBytes(3), QByteArray("\x81\x01o", 3)); // the open frame
    const Session *opened = session("w");
    QVERIFY(opened);
    QCOMPARE(opened->clientInfo().address, kClient.toString());
    QCOMPARE(int(opened->clientInfo().port), 6000);
    QCOMPARE(counter(Counter::ProxyHeadersAccepted), quint64(1));
    QCOMPARE(counter(Counter::WebSocketUpgrades), quint64(1));
}

void tst_Tls::tlsWithoutProxyHeader()
{
    // A ClientHello where the header should be: refused before any TLS.
    QVERIFY(startWithProxyProtocol());
    QTest::ignoreMessage(QtWarningMsg,
                         QRegularExpression(QStringLiteral("closed: PROXY protocol: no PROXY protocol header$")));
    auto client = this->client();
    QVERIFY(!client->connectToServer());
    QTRY_COMPARE(counter(Counter::ProxyRefusedMissing), quint64(1));
    QCOMPARE(counter(Counter::ProxyHeadersAccepted), quint64(0));
    QCOMPARE(counter(Counter::TlsHandshakeFailures), quint64(0));
    QCOMPARE(m_server->server()->tls()->pending(), 0);
}

void tst_Tls::proxyHeaderThenSilence()
{
    // The header and nothing more: the handshake times out in what is left
    // of the one timeout. Half a header: the header does.
    QVERIFY(startWithProxyProtocol());
    const QByteArray header = proxyV2(kClient, 7000, 443);
    QTest::ignoreMessage(
        QtWarningMsg, QRegularExpression(QStringLiteral("closed: PROXY protocol: no complete PROXY header in time$")));
    for (const QByteArray &sent : {header, header.left(10)}) {
        QTcpSocket socket;
        socket.connectToHost(QStringLiteral("127.0.0.1"), port());
        QVERIFY(socket.waitForConnected(kWaitMs));
        socket.write(sent);
        socket.flush();
        QTRY_VERIFY_WITH_TIMEOUT(socket.state() == QAbstractSocket::UnconnectedState || socket.waitForDisconnected(50),
                                 kWaitMs);
        QCOMPARE(socket.readAll(), QByteArray());
    }
    QCOMPARE(counter(Counter::TlsHandshakeTimeouts), quint64(1));
    QCOMPARE(counter(Counter::ProxyRefusedIncomplete), quint64(1));
    QCOMPARE(counter(Counter::TlsHandshakeFailures), quint64(0));
    QCOMPARE(counter(Counter::ProxyHeadersAccepted), quint64(0));
}

QTEST_GUILESS_MAIN(tst_Tls)
#include "tst_tls.moc"
