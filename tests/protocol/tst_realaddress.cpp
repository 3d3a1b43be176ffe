// The client's real address behind load balancers (README "Behind a load
// balancer"): http.trusted_proxies with Forwarded / X-Forwarded-For /
// X-Real-IP, and http.proxy_protocol (PROXY v1 and v2). Every test asserts
// the address the proxy attributes a session to (Session::clientInfo(), the
// Monitor, /api/snapshot), the limits that depend on it (per-address cap,
// check_address) and the counters.
//
// A Server on 127.0.0.1, port 0, with in-process echo TestBackends
// (TestServer). Several real client addresses come from loopback aliases:
// Linux routes all of 127/8 to lo, so a client socket bound to 127.0.0.2 is
// a second machine as far as the proxy can tell. Clients are raw HTTP
// (HttpClient), raw WebSocket over the same sockets (for PROXY headers in
// front of a handshake) and QWebSocket (for handshakes with extra headers).

#include "control/controlserver.h"
#include "httpclient.h"
#include "metrics/monitor.h"
#include "sockjs/service.h"
#include "sockjs/session.h"
#include "testbackend.h"
#include "testserver.h"

#include <QHostAddress>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkRequest>
#include <QSignalSpy>
#include <QTest>
#include <QWebSocket>

#include <functional>
#include <memory>

#ifdef Q_OS_LINUX
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

using namespace SockJsProxy;
using namespace SockJsProxy::Test;

namespace {

constexpr int kWaitMs = 10000;
using Headers = QList<QPair<QByteArray, QByteArray>>;
using Response = HttpClient::Response;

const QHostAddress kLocal(QStringLiteral("127.0.0.1"));
const QHostAddress kBalancer(QStringLiteral("127.0.0.2")); // trusted in most tests
const QHostAddress kStranger(QStringLiteral("127.0.0.3")); // never trusted

QByteArray be16(int value) { return QByteArray(1, char((value >> 8) & 0xff)) + char(value & 0xff); }

QByteArray proxyV1(const QByteArray &source, quint16 sourcePort, quint16 destinationPort)
{
    const bool v6 = source.contains(':');
    return "PROXY " + QByteArray(v6 ? "TCP6 " : "TCP4 ") + source + (v6 ? " ::1 " : " 127.0.0.1 ")
           + QByteArray::number(sourcePort) + ' ' + QByteArray::number(destinationPort) + "\r\n";
}

// A v2 PROXY header (command PROXY, TCP), with a TLV to skip.
QByteArray proxyV2(const QString &source, quint16 sourcePort, quint16 destinationPort)
{
    const QHostAddress address(source);
    QByteArray block;
    quint8 family = 0x11;
    if (address.protocol() == QAbstractSocket::IPv6Protocol) {
        family = 0x21;
        const Q_IPV6ADDR ip = address.toIPv6Address();
        const Q_IPV6ADDR loopback = QHostAddress(QHostAddress::LocalHostIPv6).toIPv6Address();
        block = QByteArray(reinterpret_cast<const char *>(ip.c), 16)
                + QByteArray(reinterpret_cast<const char *>(loopback.c), 16);
    } else {
        const quint32 ip = address.toIPv4Address();
        const char bytes[] = {char(ip >> 24), char(ip >> 16), char(ip >> 8), char(ip), '\x7f', '\0', '\0', '\x01'};
        block = QByteArray(bytes, 8);
    }
    block += be16(sourcePort) + be16(destinationPort);
    block += char(0x01) + be16(8) + QByteArray("http/1.1"); // PP2_TYPE_ALPN
    return QByteArray("\r\n\r\n\0\r\nQUIT\n", 12) + char(0x21) + char(family) + be16(int(block.size())) + block;
}

const QByteArray kProxyV2Local = QByteArray("\r\n\r\n\0\r\nQUIT\n", 12) + char(0x20) + char(0x00) + be16(0);

QByteArray upgradeRequest(quint16 port, const QByteArray &path, const Headers &extra = {})
{
    QByteArray request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + QByteArray::number(port)
                         + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\nSec-WebSocket-Version: 13\r\n";
    for (const auto &header : extra)
        request += header.first + ": " + header.second + "\r\n";
    return request + "\r\n";
}

QByteArray maskedText(const QByteArray &payload)
{
    QByteArray frame;
    frame += char(0x81);
    frame += char(0x80 | payload.size()); // short payloads only
    const QByteArray mask("\x11\x22\x33\x44", 4);
    frame += mask;
    for (qsizetype i = 0; i < payload.size(); ++i)
        frame += char(payload.at(i) ^ mask.at(i % 4));
    return frame;
}

// A server text frame of a short payload.
QByteArray serverText(const QByteArray &payload) { return QByteArray(1, char(0x81)) + char(payload.size()) + payload; }

Service *echoService(const Server *server) { return server->services().value(0); }

Session *sessionWithUrlId(const Service *service, const QByteArray &urlId)
{
    for (Session *session : service->sessions()) {
        if (session->urlId() == urlId)
            return session;
    }
    return nullptr;
}

} // namespace

class tst_RealAddress : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup();

    // http.trusted_proxies
    void defaultsIgnoreForwardingHeaders();
    void untrustedPeerChangesNothing_data();
    void untrustedPeerChangesNothing();
    void trustedPeer_data();
    void trustedPeer();
    void eachRequestOnAKeptAliveConnection();
    void perAddressCapOnRealAddress();
    void checkAddressOnRealAddress();
    void webSocket_data();
    void webSocket();
    void malformedOnUpgradeCountedOnce();
    void snapshotAndMonitor();
    void malformedLogIsRateLimited();

    // http.proxy_protocol
    void proxyThenHttp_data();
    void proxyThenHttp();
    void proxyHeaderInPieces();
    void proxyThenWebSocket_data();
    void proxyThenWebSocket();
    void proxyWithoutAddresses_data();
    void proxyWithoutAddresses();
    void proxyFromUntrustedPeerClosed();
    void proxyMissingClosed();
    void proxyMalformedClosed();
    void proxyIncompleteTimesOut();
    void proxyPeerLeavesSilently();
    void proxyPeerResetBeforeAccept();
    void proxySourceAndForwardingHeaders();
    void proxyPerAddressCap();

private:
    // A server with one echo service "/echo"; adjust() may change the config.
    bool start(const QStringList &trusted, bool proxyProtocol = false,
               const std::function<void(Config &)> &adjust = {});
    // One request on a fresh connection from `from`, after `prefix` bytes.
    Response request(const QByteArray &method, const QByteArray &path, const Headers &headers = {},
                     const QHostAddress &from = kLocal, const QByteArray &prefix = QByteArray(),
                     const QByteArray &body = QByteArray());
    // Opens an xhr session with urlId and returns it (null on failure).
    Session *openSession(const QByteArray &urlId, const Headers &headers = {}, const QHostAddress &from = kLocal,
                         const QByteArray &prefix = QByteArray());
    const Counters &counters() const { return m_server->server()->counters(); }

    std::unique_ptr<TestServer> m_server;
    std::unique_ptr<Monitor> m_monitor;
    std::unique_ptr<ControlServer> m_control;
};

bool tst_RealAddress::start(const QStringList &trusted, bool proxyProtocol, const std::function<void(Config &)> &adjust)
{
    Config config;
    config.httpAddress = QStringLiteral("127.0.0.1");
    config.httpPort = 0;
    ServiceConfig echo;
    echo.prefix = QStringLiteral("/echo");
    echo.disconnectDelayMs = 600000; // sessions between polls outlive the test
    config.services = {echo};
    QString error;
    const auto proxies = TrustedProxies::parse(trusted, &error);
    if (!proxies) {
        qWarning("%s", qPrintable(error));
        return false;
    }
    config.http.trustedProxies = *proxies;
    config.http.proxyProtocol = proxyProtocol;
    if (adjust)
        adjust(config);
    m_server = std::make_unique<TestServer>();
    if (!m_server->start(config))
        return false;
    m_monitor = std::make_unique<Monitor>(m_server->server());
    return true;
}

void tst_RealAddress::cleanup()
{
    m_control.reset();
    m_monitor.reset();
    m_server.reset();
}

Response tst_RealAddress::request(const QByteArray &method, const QByteArray &path, const Headers &headers,
                                  const QHostAddress &from, const QByteArray &prefix, const QByteArray &body)
{
    HttpClient client(m_server->port(), kWaitMs);
    if (!client.socket().bind(from) || !client.connectToServer())
        return Response();
    client.write(prefix);
    client.sendRequest(method, path, body, headers);
    return client.readResponse();
}

Session *tst_RealAddress::openSession(const QByteArray &urlId, const Headers &headers, const QHostAddress &from,
                                      const QByteArray &prefix)
{
    const Response response = request("POST", "/echo/000/" + urlId + "/xhr", headers, from, prefix);
    if (response.status != 200 || response.body != "o\n")
        return nullptr;
    return sessionWithUrlId(echoService(m_server->server()), urlId);
}

// --- http.trusted_proxies -------------------------------------------------------

void tst_RealAddress::defaultsIgnoreForwardingHeaders()
{
    QVERIFY(start({}));
    const Headers forged{
        {"X-Forwarded-For", "203.0.113.7"}, {"Forwarded", "for=203.0.113.8;proto=https"}, {"X-Real-IP", "203.0.113.9"}};
    Session *session = openSession("a", forged, kBalancer);
    QVERIFY(session);
    QCOMPARE(session->clientInfo().address, QStringLiteral("127.0.0.2"));
    QVERIFY(session->clientInfo().port != 0);
    QCOMPARE(session->clientInfo().via, QString());
    QCOMPARE(counters()[Counter::ForwardedMalformed], quint64(0));
}

void tst_RealAddress::untrustedPeerChangesNothing_data()
{
    QTest::addColumn<Headers>("headers");
    QTest::newRow("x-forwarded-for") << Headers{{"X-Forwarded-For", "203.0.113.7"}};
    QTest::newRow("forwarded") << Headers{{"Forwarded", "for=\"[2001:db8::7]:4711\";proto=https"}};
    QTest::newRow("x-real-ip") << Headers{{"X-Real-IP", "203.0.113.7"}};
    QTest::newRow("chain naming the balancer") << Headers{{"X-Forwarded-For", "203.0.113.7, 127.0.0.2"}};
    QTest::newRow("malformed") << Headers{{"X-Forwarded-For", "garbage"}, {"Forwarded", "for=unknown"}};
}

void tst_RealAddress::untrustedPeerChangesNothing()
{
    QFETCH(Headers, headers);
    QVERIFY(start({QStringLiteral("127.0.0.2")}));
    Session *session = openSession("a", headers, kStranger);
    QVERIFY(session);
    QCOMPARE(session->clientInfo().address, QStringLiteral("127.0.0.3"));
    QVERIFY(session->clientInfo().port != 0);
    QCOMPARE(session->clientInfo().via, QString());
    QCOMPARE(counters()[Counter::ForwardedMalformed], quint64(0));
}

void tst_RealAddress::trustedPeer_data()
{
    QTest::addColumn<Headers>("headers");
    QTest::addColumn<QString>("address");
    QTest::addColumn<int>("port"); // -1: the TCP peer's
    QTest::addColumn<QString>("via");
    QTest::addColumn<int>("malformed");

    QTest::newRow("no headers") << Headers() << "127.0.0.2" << -1 << "" << 0;
    QTest::newRow("x-forwarded-for") << Headers{{"X-Forwarded-For", "203.0.113.7"}} << "203.0.113.7" << 0 << "127.0.0.2"
                                     << 0;
    QTest::newRow("x-forwarded-for chain") << Headers{{"X-Forwarded-For", "198.51.100.1, 203.0.113.7, 127.0.0.4"}}
                                           << "203.0.113.7" << 0 << "127.0.0.2" << 0;
    QTest::newRow("x-forwarded-for two lines")
        << Headers{{"X-Forwarded-For", "198.51.100.1, 203.0.113.7"}, {"X-Forwarded-For", "127.0.0.4"}} << "203.0.113.7"
        << 0 << "127.0.0.2" << 0;
    QTest::newRow("x-forwarded-for ipv6")
        << Headers{{"X-Forwarded-For", "2001:db8::7"}} << "2001:db8::7" << 0 << "127.0.0.2" << 0;
    QTest::newRow("forwarded ipv6 with port")
        << Headers{{"Forwarded", "for=\"[2001:db8::7]:4711\";proto=https, for=127.0.0.4"}} << "2001:db8::7" << 4711
        << "127.0.0.2" << 0;
    QTest::newRow("x-real-ip") << Headers{{"X-Real-IP", "203.0.113.7"}} << "203.0.113.7" << 0 << "127.0.0.2" << 0;
    QTest::newRow("malformed x-forwarded-for")
        << Headers{{"X-Forwarded-For", "203.0.113.7, nonsense"}} << "127.0.0.2" << -1 << "" << 1;
    QTest::newRow("forwarded unknown") << Headers{{"Forwarded", "for=unknown"}} << "127.0.0.2" << -1 << "" << 1;
}

void tst_RealAddress::trustedPeer()
{
    QFETCH(Headers, headers);
    QFETCH(QString, address);
    QFETCH(int, port);
    QFETCH(QString, via);
    QFETCH(int, malformed);

    QVERIFY(start({QStringLiteral("127.0.0.2"), QStringLiteral("127.0.0.4")}));
    Session *session = openSession("a", headers, kBalancer);
    QVERIFY(session);
    QCOMPARE(session->clientInfo().address, address);
    if (port >= 0)
        QCOMPARE(int(session->clientInfo().port), port);
    else
        QVERIFY(session->clientInfo().port != 0);
    QCOMPARE(session->clientInfo().via, via);
    QCOMPARE(counters()[Counter::ForwardedMalformed], quint64(malformed));

    const QList<SessionInfo> sessions = m_monitor->sessions();
    QCOMPARE(sessions.size(), 1);
    QCOMPARE(sessions.first().remoteAddress, address);
    QCOMPARE(sessions.first().via, via);
    QCOMPARE(sessions.first().remotePort, session->clientInfo().port);
}

// nginx keeps upstream connections alive and sends requests of different
// clients over one: each request is attributed on its own.
void tst_RealAddress::eachRequestOnAKeptAliveConnection()
{
    QVERIFY(start({QStringLiteral("127.0.0.2")}, false,
                  [](Config &config) { config.services[0].maxSessionsPerAddress = 1; }));
    HttpClient client(m_server->port(), kWaitMs);
    QVERIFY(client.socket().bind(kBalancer) && client.connectToServer());
    const QList<QByteArray> clients{"203.0.113.1", "203.0.113.2", "203.0.113.3"};
    const auto urlId = [](const QByteArray &address) { return QByteArray(address).replace('.', '-'); };
    for (const QByteArray &address : clients) {
        client.sendRequest("POST", "/echo/000/" + urlId(address) + "/xhr", QByteArray(),
                           {{"X-Forwarded-For", address}});
        const Response response = client.readResponse();
        QCOMPARE(response.status, 200);
        QCOMPARE(response.header("Connection"), QByteArray());
    }
    // A fourth from the first client is over its cap of 1; a request without
    // the header is the balancer's own.
    client.sendRequest("POST", "/echo/000/again/xhr", QByteArray(), {{"X-Forwarded-For", "203.0.113.1"}});
    QCOMPARE(client.readResponse().status, 503);
    client.sendRequest("POST", "/echo/000/own/xhr");
    QCOMPARE(client.readResponse().status, 200);

    const Service *service = echoService(m_server->server());
    for (const QByteArray &address : clients)
        QCOMPARE(sessionWithUrlId(service, urlId(address))->clientInfo().address, QString::fromLatin1(address));
    QCOMPARE(sessionWithUrlId(service, "own")->clientInfo().address, QStringLiteral("127.0.0.2"));
    QCOMPARE(service->counters()[Counter::RefusedSessionsPerAddress], quint64(1));
}

// 1,000 users behind one balancer are not one address; each real one keeps its own cap.
void tst_RealAddress::perAddressCapOnRealAddress()
{
    QVERIFY(start({QStringLiteral("127.0.0.1")}, false,
                  [](Config &config) { config.services[0].maxSessionsPerAddress = 2; }));
    const Service *service = echoService(m_server->server());
    const Headers clientA{{"X-Forwarded-For", "203.0.113.1"}};
    const Headers clientB{{"Forwarded", "for=\"[2001:db8::b]\""}};
    QVERIFY(openSession("a1", clientA));
    QVERIFY(openSession("a2", clientA));
    QCOMPARE(request("POST", "/echo/000/a3/xhr", clientA).status, 503);
    QCOMPARE(service->counters()[Counter::RefusedSessionsPerAddress], quint64(1));
    // Another client through the same balancer, and the balancer itself, are not affected.
    QVERIFY(openSession("b1", clientB));
    QVERIFY(openSession("b2", clientB));
    QVERIFY(openSession("own1"));
    QVERIFY(openSession("own2"));
    QCOMPARE(request("POST", "/echo/000/b3/xhr", clientB).status, 503);
    QCOMPARE(request("POST", "/echo/000/own3/xhr").status, 503);
    QCOMPARE(service->counters()[Counter::RefusedSessionsPerAddress], quint64(3));

    // A WebSocket of client A counts against A's cap too: closed with 1013
    // (by hand: Qt's client does not accept that code).
    HttpClient socket(m_server->port(), kWaitMs);
    QVERIFY(socket.connectToServer());
    socket.write(upgradeRequest(m_server->port(), "/echo/000/a4/websocket", clientA));
    QCOMPARE(socket.readHead().status, 101);
    const QByteArray close = QByteArray("\x03\xf5", 2) + "Too many sessions";
    QCOMPARE(socket.readBytes(2 + close.size()), QByteArray(1, char(0x88)) + char(close.size()) + close);
    QCOMPARE(service->counters()[Counter::RefusedSessionsPerAddress], quint64(4));
    QCOMPARE(service->sessionCount(), 6);
}

void tst_RealAddress::checkAddressOnRealAddress()
{
    QVERIFY(
        start({QStringLiteral("127.0.0.2")}, false, [](Config &config) { config.services[0].checkAddress = true; }));
    const Service *service = echoService(m_server->server());
    const Headers clientA{{"X-Forwarded-For", "203.0.113.1"}};
    QVERIFY(openSession("s", clientA, kBalancer));
    // The same client through the balancer: accepted, whichever connection.
    QCOMPARE(request("POST", "/echo/000/s/xhr_send", clientA, kBalancer, QByteArray(), "[\"x\"]").status, 204);
    const Response poll = request("POST", "/echo/000/s/xhr", clientA, kBalancer);
    QCOMPARE(poll.status, 200);
    QCOMPARE(poll.body, QByteArray("a[\"x\"]\n"));
    // Another client through the same balancer, the balancer itself, and the
    // client's address sent directly by someone untrusted: refused.
    QCOMPARE(request("POST", "/echo/000/s/xhr_send", {{"X-Forwarded-For", "203.0.113.2"}}, kBalancer, QByteArray(),
                     "[\"x\"]")
                 .status,
             403);
    QCOMPARE(request("POST", "/echo/000/s/xhr_send", {}, kBalancer, QByteArray(), "[\"x\"]").status, 403);
    QCOMPARE(request("POST", "/echo/000/s/xhr", clientA, kStranger).status, 403);
    QCOMPARE(service->counters()[Counter::AddressMismatches], quint64(3));
}

void tst_RealAddress::webSocket_data()
{
    QTest::addColumn<QByteArray>("path");
    QTest::newRow("sockjs") << QByteArray("/echo/000/w/websocket");
    QTest::newRow("raw") << QByteArray("/echo/websocket");
}

void tst_RealAddress::webSocket()
{
    QFETCH(QByteArray, path);
    QVERIFY(start({QStringLiteral("127.0.0.1")}));
    QWebSocket socket;
    QSignalSpy messages(&socket, &QWebSocket::textMessageReceived);
    QNetworkRequest upgrade(
        QUrl(QStringLiteral("ws://127.0.0.1:%1").arg(m_server->port()) + QString::fromLatin1(path)));
    upgrade.setRawHeader("X-Forwarded-For", "198.51.100.1, 2001:db8::7");
    socket.open(upgrade);
    const Service *service = echoService(m_server->server());
    QTRY_COMPARE_WITH_TIMEOUT(service->sessionCount(), 1, kWaitMs);
    const Session *session = service->sessions().first();
    QCOMPARE(session->clientInfo().address, QStringLiteral("2001:db8::7"));
    QCOMPARE(session->clientInfo().port, quint16(0));
    QCOMPARE(session->clientInfo().via, QStringLiteral("127.0.0.1"));
    QCOMPARE(m_monitor->sessions().first().remoteAddress, QStringLiteral("2001:db8::7"));
    QCOMPARE(m_monitor->sessions().first().via, QStringLiteral("127.0.0.1"));
    socket.close();
    QTRY_COMPARE_WITH_TIMEOUT(service->sessionCount(), 0, kWaitMs);
    QCOMPARE(counters()[Counter::ForwardedMalformed], quint64(0));

    // A WebSocket without forwarding headers from the trusted peer is its own.
    QWebSocket direct;
    direct.open(QUrl(QStringLiteral("ws://127.0.0.1:%1").arg(m_server->port()) + QString::fromLatin1(path)));
    QTRY_COMPARE_WITH_TIMEOUT(service->sessionCount(), 1, kWaitMs);
    QCOMPARE(service->sessions().first()->clientInfo().address, QStringLiteral("127.0.0.1"));
    QCOMPARE(service->sessions().first()->clientInfo().port, direct.localPort());
    QCOMPARE(service->sessions().first()->clientInfo().via, QString());
}

// The upgrade head is looked at before the socket is handed over; a
// malformed header there is counted once, not again by the parser.
void tst_RealAddress::malformedOnUpgradeCountedOnce()
{
    QVERIFY(start({QStringLiteral("127.0.0.1")}));
    QWebSocket socket;
    QNetworkRequest upgrade(QUrl(QStringLiteral("ws://127.0.0.1:%1/echo/000/w/websocket").arg(m_server->port())));
    upgrade.setRawHeader("Forwarded", "for=_obfuscated");
    socket.open(upgrade);
    const Service *service = echoService(m_server->server());
    QTRY_COMPARE_WITH_TIMEOUT(service->sessionCount(), 1, kWaitMs);
    QCOMPARE(service->sessions().first()->clientInfo().address, QStringLiteral("127.0.0.1"));
    QCOMPARE(service->sessions().first()->clientInfo().via, QString());
    QCOMPARE(counters()[Counter::ForwardedMalformed], quint64(1));
    QCOMPARE(counters()[Counter::WebSocketUpgrades], quint64(1));
}

void tst_RealAddress::snapshotAndMonitor()
{
    QVERIFY(start({QStringLiteral("127.0.0.2")}));
    m_control = std::make_unique<ControlServer>(m_monitor.get());
    QString error;
    QVERIFY2(m_control->listen(QStringLiteral("127.0.0.1:0"), &error), qPrintable(error));
    QVERIFY(openSession("forwarded", {{"X-Forwarded-For", "203.0.113.7:5555"}}, kBalancer));
    QVERIFY(openSession("direct", {}, kStranger));

    const Response snapshot = HttpClient::request(m_control->port(), "GET", "/api/snapshot");
    QCOMPARE(snapshot.status, 200);
    const QJsonArray sessions =
        QJsonDocument::fromJson(snapshot.body).object().value(QStringLiteral("sessions")).toArray();
    QCOMPARE(sessions.size(), 2);
    int seen = 0;
    for (const QJsonValue &value : sessions) {
        const QJsonObject session = value.toObject();
        if (session.value(QStringLiteral("remote_address")) == QStringLiteral("203.0.113.7")) {
            QCOMPARE(session.value(QStringLiteral("remote_port")).toInt(), 5555);
            QCOMPARE(session.value(QStringLiteral("via")).toString(), QStringLiteral("127.0.0.2"));
            seen |= 1;
        } else {
            // A direct client's object is as before: no "via" key.
            QCOMPARE(session.value(QStringLiteral("remote_address")).toString(), QStringLiteral("127.0.0.3"));
            QVERIFY(!session.contains(QStringLiteral("via")));
            seen |= 2;
        }
    }
    QCOMPARE(seen, 3);
}

void tst_RealAddress::malformedLogIsRateLimited()
{
    QVERIFY(start({QStringLiteral("127.0.0.2")}));
    static QStringList lines;
    lines.clear();
    const QtMessageHandler previous =
        qInstallMessageHandler([](QtMsgType, const QMessageLogContext &, const QString &text) {
            if (text.contains(QStringLiteral("served as from the proxy")))
                lines.append(text);
        });
    for (int i = 0; i < 3; ++i)
        QCOMPARE(request("GET", "/echo/info", {{"X-Forwarded-For", "nonsense"}}, kBalancer).status, 200);
    qInstallMessageHandler(previous);
    QCOMPARE(counters()[Counter::ForwardedMalformed], quint64(3));
    QCOMPARE(lines.size(), 1);
    QVERIFY2(lines.first().contains(QStringLiteral("127.0.0.2")), qPrintable(lines.first()));
    QVERIFY2(lines.first().contains(QStringLiteral("X-Forwarded-For: \"nonsense\" is not an IP address")),
             qPrintable(lines.first()));
}

// --- http.proxy_protocol ------------------------------------------------------------

void tst_RealAddress::proxyThenHttp_data()
{
    QTest::addColumn<QByteArray>("header");
    QTest::addColumn<QString>("address");
    QTest::addColumn<int>("port");

    QTest::newRow("v1 ipv4") << proxyV1("198.51.100.7", 5555, 443) << "198.51.100.7" << 5555;
    QTest::newRow("v1 ipv6") << proxyV1("2001:db8::7", 6666, 443) << "2001:db8::7" << 6666;
    QTest::newRow("v2 ipv4") << proxyV2(QStringLiteral("198.51.100.7"), 5555, 443) << "198.51.100.7" << 5555;
    QTest::newRow("v2 ipv6") << proxyV2(QStringLiteral("2001:db8::7"), 6666, 443) << "2001:db8::7" << 6666;
}

void tst_RealAddress::proxyThenHttp()
{
    QFETCH(QByteArray, header);
    QFETCH(QString, address);
    QFETCH(int, port);

    QVERIFY(start({QStringLiteral("127.0.0.2")}, true));
    HttpClient client(m_server->port(), kWaitMs);
    QVERIFY(client.socket().bind(kBalancer) && client.connectToServer());
    client.write(header);
    client.sendRequest("POST", "/echo/000/s/xhr");
    Response response = client.readResponse();
    QCOMPARE(response.status, 200);
    QCOMPARE(response.body, QByteArray("o\n"));
    // More requests on the same connection: no second header.
    client.sendRequest("POST", "/echo/000/s/xhr_send", "[\"hi\"]");
    QCOMPARE(client.readResponse().status, 204);
    client.sendRequest("POST", "/echo/000/s/xhr");
    response = client.readResponse();
    QCOMPARE(response.body, QByteArray("a[\"hi\"]\n"));

    const Session *session = sessionWithUrlId(echoService(m_server->server()), "s");
    QVERIFY(session);
    QCOMPARE(session->clientInfo().address, address);
    QCOMPARE(int(session->clientInfo().port), port);
    QCOMPARE(session->clientInfo().via, QStringLiteral("127.0.0.2"));
    QCOMPARE(m_monitor->sessions().first().remoteAddress, address);
    QCOMPARE(counters()[Counter::ProxyHeadersAccepted], quint64(1));
    QCOMPARE(counters()[Counter::HttpRequests], quint64(3));
    for (const Counter refused : {Counter::ProxyRefusedUntrustedPeer, Counter::ProxyRefusedMissing,
                                  Counter::ProxyRefusedMalformed, Counter::ProxyRefusedIncomplete})
        QCOMPARE(counters()[refused], quint64(0));
}

void tst_RealAddress::proxyHeaderInPieces()
{
    QVERIFY(start({QStringLiteral("127.0.0.1")}, true));
    const QByteArray other = proxyV1("198.51.100.9", 9, 80);
    quint64 accepted = 0;
    for (const QByteArray &header : {proxyV1("198.51.100.7", 1, 2), proxyV2(QStringLiteral("198.51.100.7"), 1, 2)}) {
        HttpClient client(m_server->port(), kWaitMs);
        QVERIFY(client.connectToServer());
        for (qsizetype at = 0; at < header.size(); at += 5) {
            client.write(header.sliced(at, qMin<qsizetype>(5, header.size() - at)));
            // A whole request on another connection: the server's one event
            // loop has seen the piece by the time it answers.
            QCOMPARE(request("GET", "/echo", {}, kLocal, other).status, 200);
            ++accepted;
        }
        client.write("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
        const Response response = client.readResponse();
        QCOMPARE(response.status, 200);
        QCOMPARE(response.body, QByteArray("Welcome to SockJS!\n"));
        ++accepted;
    }
    QCOMPARE(counters()[Counter::ProxyHeadersAccepted], accepted);
    QCOMPARE(counters()[Counter::ProxyRefusedMalformed] + counters()[Counter::ProxyRefusedMissing], quint64(0));
}

void tst_RealAddress::proxyThenWebSocket_data()
{
    QTest::addColumn<QByteArray>("header");
    QTest::addColumn<QByteArray>("path");
    QTest::newRow("v1, sockjs") << proxyV1("198.51.100.7", 5555, 443) << QByteArray("/echo/000/w/websocket");
    QTest::newRow("v2, sockjs") << proxyV2(QStringLiteral("198.51.100.7"), 5555, 443)
                                << QByteArray("/echo/000/w/websocket");
    QTest::newRow("v1, raw") << proxyV1("198.51.100.7", 5555, 443) << QByteArray("/echo/websocket");
    QTest::newRow("v2, raw") << proxyV2(QStringLiteral("198.51.100.7"), 5555, 443) << QByteArray("/echo/websocket");
}

// The header and the handshake arrive together: only the header may be read
// before the socket goes to QWebSocketServer.
void tst_RealAddress::proxyThenWebSocket()
{
    QFETCH(QByteArray, header);
    QFETCH(QByteArray, path);
    const bool raw = !path.contains("/000/");

    QVERIFY(start({QStringLiteral("127.0.0.2")}, true));
    HttpClient client(m_server->port(), kWaitMs);
    QVERIFY(client.socket().bind(kBalancer) && client.connectToServer());
    client.write(header + upgradeRequest(m_server->port(), path));
    const Response head = client.readHead();
    QCOMPARE(head.status, 101);
    if (!raw)
        QCOMPARE(client.readBytes(3), serverText("o"));
    client.write(maskedText(raw ? "hello" : "[\"hello\"]"));
    const QByteArray echo = raw ? serverText("hello") : serverText("a[\"hello\"]");
    QCOMPARE(client.readBytes(echo.size()), echo);

    const Service *service = echoService(m_server->server());
    QCOMPARE(service->sessionCount(), 1);
    const Session *session = service->sessions().first();
    QCOMPARE(session->clientInfo().address, QStringLiteral("198.51.100.7"));
    QCOMPARE(session->clientInfo().port, quint16(5555));
    QCOMPARE(session->clientInfo().via, QStringLiteral("127.0.0.2"));
    QCOMPARE(counters()[Counter::ProxyHeadersAccepted], quint64(1));
    QCOMPARE(counters()[Counter::WebSocketUpgrades], quint64(1));
}

void tst_RealAddress::proxyWithoutAddresses_data()
{
    QTest::addColumn<QByteArray>("header");
    QTest::newRow("v2 LOCAL") << kProxyV2Local;
    QTest::newRow("v1 UNKNOWN") << QByteArray("PROXY UNKNOWN\r\n");
    QTest::newRow("v2 AF_UNSPEC") << QByteArray("\r\n\r\n\0\r\nQUIT\n\x21\x00\x00\x00", 16);
    QTest::newRow("v1 naming the balancer") << proxyV1("127.0.0.2", 7, 8);
}

// A balancer's own connection (health check): the TCP peer is the client.
void tst_RealAddress::proxyWithoutAddresses()
{
    QFETCH(QByteArray, header);
    QVERIFY(start({QStringLiteral("127.0.0.2")}, true));
    HttpClient client(m_server->port(), kWaitMs);
    QVERIFY(client.socket().bind(kBalancer) && client.connectToServer());
    client.write(header);
    client.sendRequest("POST", "/echo/000/s/xhr");
    QCOMPARE(client.readResponse().body, QByteArray("o\n"));
    const Session *session = sessionWithUrlId(echoService(m_server->server()), "s");
    QVERIFY(session);
    QCOMPARE(session->clientInfo().address, QStringLiteral("127.0.0.2"));
    QCOMPARE(session->clientInfo().via, QString());
    if (header.startsWith("PROXY TCP4"))
        QCOMPARE(session->clientInfo().port, quint16(7));
    else
        QCOMPARE(session->clientInfo().port, client.socket().localPort());
    QCOMPARE(counters()[Counter::ProxyHeadersAccepted], quint64(1));
}

void tst_RealAddress::proxyFromUntrustedPeerClosed()
{
    QVERIFY(start({QStringLiteral("127.0.0.2")}, true));
    HttpClient client(m_server->port(), kWaitMs);
    QVERIFY(client.socket().bind(kStranger) && client.connectToServer());
    client.write(proxyV1("198.51.100.7", 1, 2));
    client.sendRequest("GET", "/echo");
    QVERIFY(client.waitForClose());
    QVERIFY(!client.readResponse().ok);
    QCOMPARE(counters()[Counter::ProxyRefusedUntrustedPeer], quint64(1));
    QCOMPARE(counters()[Counter::ConnectionsAccepted], quint64(1));
    QCOMPARE(counters()[Counter::ProxyHeadersAccepted], quint64(0));
    QCOMPARE(counters()[Counter::HttpRequests], quint64(0));

    // Without the PROXY protocol, the same peer is an ordinary client.
    cleanup();
    QVERIFY(start({QStringLiteral("127.0.0.2")}, false));
    QCOMPARE(request("GET", "/echo", {}, kStranger).status, 200);
}

void tst_RealAddress::proxyMissingClosed()
{
    QVERIFY(start({QStringLiteral("127.0.0.1")}, true));
    HttpClient client(m_server->port(), kWaitMs);
    QVERIFY(client.connectToServer());
    client.sendRequest("GET", "/echo");
    QVERIFY(client.waitForClose());
    QVERIFY(!client.readResponse().ok);
    QCOMPARE(counters()[Counter::ProxyRefusedMissing], quint64(1));
    QCOMPARE(counters()[Counter::HttpRequests], quint64(0));
    // A WebSocket handshake without a header is refused the same way.
    QWebSocket socket;
    QSignalSpy disconnected(&socket, &QWebSocket::disconnected);
    socket.open(QUrl(QStringLiteral("ws://127.0.0.1:%1/echo/websocket").arg(m_server->port())));
    QVERIFY(disconnected.wait(kWaitMs));
    QCOMPARE(counters()[Counter::ProxyRefusedMissing], quint64(2));
    QCOMPARE(counters()[Counter::WebSocketUpgrades], quint64(0));
    QCOMPARE(echoService(m_server->server())->sessionCount(), 0);
}

void tst_RealAddress::proxyMalformedClosed()
{
    QVERIFY(start({QStringLiteral("127.0.0.1")}, true));
    const QList<QByteArray> headers{"PROXY TCP4 198.51.100.7 127.0.0.1 99999 80\r\n",
                                    "PROXY TCP4 198.51.100.7 127.0.0.1 1 2\n",
                                    "PROXY UNKNOWN " + QByteArray(100, 'x') + "\r\n",
                                    QByteArray("\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x04"
                                               "abcd",
                                               20)};
    for (const QByteArray &header : headers) {
        HttpClient client(m_server->port(), kWaitMs);
        QVERIFY(client.connectToServer());
        client.write(header);
        client.sendRequest("GET", "/echo");
        QVERIFY(client.waitForClose());
        QVERIFY(!client.readResponse().ok);
    }
    QCOMPARE(counters()[Counter::ProxyRefusedMalformed], quint64(headers.size()));
    QCOMPARE(counters()[Counter::HttpRequests], quint64(0));
}

void tst_RealAddress::proxyIncompleteTimesOut()
{
    QVERIFY(start({QStringLiteral("127.0.0.1")}, true, [](Config &config) { config.http.requestTimeoutMs = 300; }));
    // Part of a header, then nothing; and nothing at all.
    HttpClient partial(m_server->port(), kWaitMs);
    QVERIFY(partial.connectToServer());
    partial.write("PROXY TCP4 198.51.");
    HttpClient silent(m_server->port(), kWaitMs);
    QVERIFY(silent.connectToServer());
    QVERIFY(partial.waitForClose());
    QVERIFY(silent.waitForClose());
    QVERIFY(!partial.readResponse().ok);
    QCOMPARE(counters()[Counter::ProxyRefusedIncomplete], quint64(2));
    QCOMPARE(counters()[Counter::HttpRejected], quint64(0)); // no 408: nothing is answered
}

// A balancer's TCP health check that resets its connection before the
// proxy accepted it leaves no peer address to judge: closed, and not
// counted as an untrusted peer.
void tst_RealAddress::proxyPeerResetBeforeAccept()
{
#ifndef Q_OS_LINUX
    QSKIP("needs SO_LINGER resets");
#else
    QVERIFY(start({QStringLiteral("127.0.0.1")}, true));
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    QVERIFY(fd >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(m_server->port());
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    QCOMPARE(::connect(fd, reinterpret_cast<const sockaddr *>(&address), sizeof address), 0);
    const linger reset{1, 0};
    QCOMPARE(::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset), 0);
    ::close(fd); // RST, before the event loop ran to accept it
    QCOMPARE(request("GET", "/echo", {}, kLocal, proxyV1("198.51.100.1", 1, 2)).status, 200);
    QCOMPARE(counters()[Counter::ProxyRefusedUntrustedPeer], quint64(0));
    QCOMPARE(counters()[Counter::ProxyHeadersAccepted], quint64(1));
#endif
}

void tst_RealAddress::proxyPeerLeavesSilently()
{
    QVERIFY(start({QStringLiteral("127.0.0.1")}, true));
    {
        // A plain TCP check: connect, leave. Not counted.
        HttpClient check(m_server->port(), kWaitMs);
        QVERIFY(check.connectToServer());
        check.socket().disconnectFromHost();
    }
    HttpClient gone(m_server->port(), kWaitMs);
    QVERIFY(gone.connectToServer());
    gone.write("PROXY TCP4 1");
    QTRY_VERIFY_WITH_TIMEOUT(gone.socket().bytesToWrite() == 0, kWaitMs);
    // Wait until the server has read those bytes: a second connection's
    // request is answered after them on the one event loop.
    QCOMPARE(request("GET", "/echo", {}, kLocal, proxyV1("198.51.100.1", 1, 2)).status, 200);
    gone.socket().disconnectFromHost();
    QTRY_COMPARE_WITH_TIMEOUT(counters()[Counter::ProxyRefusedIncomplete], quint64(1), kWaitMs);
    QCOMPARE(counters()[Counter::ProxyRefusedMissing], quint64(0));
    QCOMPARE(counters()[Counter::ConnectionsAccepted], quint64(3));
}

// The forwarding headers on a PROXY connection count only when the PROXY
// header's source is itself a trusted proxy.
void tst_RealAddress::proxySourceAndForwardingHeaders()
{
    QVERIFY(start({QStringLiteral("127.0.0.2"), QStringLiteral("10.0.0.0/8")}, true));
    QVERIFY(
        openSession("untrusted", {{"X-Forwarded-For", "203.0.113.66"}}, kBalancer, proxyV1("198.51.100.7", 1000, 80)));
    QVERIFY(openSession("trusted", {{"X-Forwarded-For", "203.0.113.77"}}, kBalancer, proxyV1("10.1.2.3", 1001, 80)));
    QVERIFY(openSession("trustedbad", {{"X-Forwarded-For", "bad"}}, kBalancer, proxyV1("10.1.2.4", 1002, 80)));
    const Service *service = echoService(m_server->server());
    const Session::ClientInfo untrusted = sessionWithUrlId(service, "untrusted")->clientInfo();
    QCOMPARE(untrusted.address, QStringLiteral("198.51.100.7"));
    QCOMPARE(untrusted.port, quint16(1000));
    QCOMPARE(untrusted.via, QStringLiteral("127.0.0.2"));
    const Session::ClientInfo trusted = sessionWithUrlId(service, "trusted")->clientInfo();
    QCOMPARE(trusted.address, QStringLiteral("203.0.113.77"));
    QCOMPARE(trusted.port, quint16(0));
    QCOMPARE(trusted.via, QStringLiteral("127.0.0.2"));
    const Session::ClientInfo bad = sessionWithUrlId(service, "trustedbad")->clientInfo();
    QCOMPARE(bad.address, QStringLiteral("10.1.2.4"));
    QCOMPARE(bad.via, QStringLiteral("127.0.0.2"));
    QCOMPARE(counters()[Counter::ForwardedMalformed], quint64(1));
}

void tst_RealAddress::proxyPerAddressCap()
{
    QVERIFY(start({QStringLiteral("127.0.0.2")}, true,
                  [](Config &config) { config.services[0].maxSessionsPerAddress = 1; }));
    QVERIFY(openSession("a", {}, kBalancer, proxyV2(QStringLiteral("198.51.100.7"), 1, 80)));
    QCOMPARE(request("POST", "/echo/000/b/xhr", {}, kBalancer, proxyV1("198.51.100.7", 2, 80)).status, 503);
    QVERIFY(openSession("c", {}, kBalancer, proxyV1("198.51.100.8", 3, 80)));
    QCOMPARE(echoService(m_server->server())->counters()[Counter::RefusedSessionsPerAddress], quint64(1));
}

QTEST_GUILESS_MAIN(tst_RealAddress)
#include "tst_realaddress.moc"
