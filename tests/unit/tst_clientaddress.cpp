// ClientAddress and the forwarding headers (ForwardedHeaders::resolve,
// resolveClientAddress): which address a request from a (trusted or not)
// peer is attributed to.

#include "http/clientaddress.h"
#include "http/httprequest.h"

#include <QTest>

using namespace SockJsProxy;

using Headers = QList<QPair<QByteArray, QByteArray>>;

namespace {
// Our balancers: 10/8, 2001:db8:ffff::/48 and 127.0.0.1.
TrustedProxies trusted()
{
    QString error;
    return *TrustedProxies::parse({"10.0.0.0/8", "2001:db8:ffff::/48", "127.0.0.1"}, &error);
}

ClientAddress hop(const QString &address, quint16 port, const QString &via = QString(), quint16 viaPort = 0)
{
    ClientAddress client = ClientAddress::direct(QHostAddress(address), port);
    if (!via.isEmpty()) {
        client.via = QHostAddress(via);
        client.viaPort = viaPort;
    }
    return client;
}
} // namespace

class tst_ClientAddress : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void resolve_data();
    void resolve();
    void malformedReason_data();
    void malformedReason();
    void toString_data();
    void toString();
};

void tst_ClientAddress::resolve_data()
{
    QTest::addColumn<QString>("hopAddress"); // the TCP peer, or a PROXY header's source
    QTest::addColumn<QString>("hopVia");     // the TCP peer when hop came from a PROXY header
    QTest::addColumn<Headers>("headers");
    QTest::addColumn<QString>("address");
    QTest::addColumn<int>("port");
    QTest::addColumn<QString>("via");
    QTest::addColumn<QByteArray>("scheme");
    QTest::addColumn<bool>("malformed");

    const QString lb = QStringLiteral("10.0.0.1");
    const QString untrusted = QStringLiteral("203.0.113.9");
    const QString client = QStringLiteral("198.51.100.7");
    const QByteArray http("http");
    const QByteArray https("https");

    // Nothing forwarded.
    QTest::newRow("no headers, trusted peer") << lb << "" << Headers() << lb << 4000 << "" << http << false;
    QTest::newRow("no headers, untrusted peer")
        << untrusted << "" << Headers() << untrusted << 4000 << "" << http << false;
    QTest::newRow("other headers") << lb << "" << Headers{{"Host", "x"}, {"X-Forwarded-Host", "y"}} << lb << 4000 << ""
                                   << http << false;

    // An untrusted peer's forwarding headers are ignored, even broken ones.
    QTest::newRow("untrusted, forged xff")
        << untrusted << "" << Headers{{"X-Forwarded-For", "1.2.3.4"}} << untrusted << 4000 << "" << http << false;
    QTest::newRow("untrusted, forged forwarded") << untrusted << "" << Headers{{"Forwarded", "for=1.2.3.4;proto=https"}}
                                                 << untrusted << 4000 << "" << http << false;
    QTest::newRow("untrusted, forged x-real-ip")
        << untrusted << "" << Headers{{"X-Real-IP", "1.2.3.4"}} << untrusted << 4000 << "" << http << false;
    QTest::newRow("untrusted, forged proto")
        << untrusted << "" << Headers{{"X-Forwarded-Proto", "https"}} << untrusted << 4000 << "" << http << false;
    QTest::newRow("untrusted, malformed")
        << untrusted << "" << Headers{{"Forwarded", "for=\""}} << untrusted << 4000 << "" << http << false;

    // X-Forwarded-For.
    QTest::newRow("xff one") << lb << "" << Headers{{"X-Forwarded-For", "198.51.100.7"}} << client << 0 << lb << http
                             << false;
    QTest::newRow("xff chain of trusted hops")
        << lb << "" << Headers{{"X-Forwarded-For", "198.51.100.7, 10.0.0.5, 10.0.0.6"}} << client << 0 << lb << http
        << false;
    QTest::newRow("xff forged on the left")
        << lb << "" << Headers{{"X-Forwarded-For", "6.6.6.6, 198.51.100.7"}} << client << 0 << lb << http << false;
    QTest::newRow("xff forged, hops") << lb << "" << Headers{{"X-Forwarded-For", "6.6.6.6,198.51.100.7,10.0.0.5"}}
                                      << client << 0 << lb << http << false;
    QTest::newRow("xff garbage left of the client")
        << lb << "" << Headers{{"X-Forwarded-For", "garbage, \"x, 198.51.100.7"}} << client << 0 << lb << http << false;
    QTest::newRow("xff every hop trusted: leftmost")
        << lb << "" << Headers{{"X-Forwarded-For", "10.0.0.9, 10.0.0.5"}} << "10.0.0.9" << 0 << lb << http << false;
    QTest::newRow("xff names the peer itself")
        << "127.0.0.1"
        << "" << Headers{{"X-Forwarded-For", "127.0.0.1"}} << "127.0.0.1" << 0 << "" << http << false;
    QTest::newRow("xff two lines are one list")
        << lb << "" << Headers{{"X-Forwarded-For", "6.6.6.6, 198.51.100.7"}, {"x-forwarded-for", "10.0.0.5"}} << client
        << 0 << lb << http << false;
    QTest::newRow("xff client's broken line before ours")
        << lb << "" << Headers{{"X-Forwarded-For", "bad\", [::"}, {"X-Forwarded-For", "198.51.100.7"}} << client << 0
        << lb << http << false;
    QTest::newRow("xff lines, client in the first")
        << lb << "" << Headers{{"X-Forwarded-For", "198.51.100.7"}, {"X-Forwarded-For", "10.0.0.5, 10.0.0.6"}} << client
        << 0 << lb << http << false;
    QTest::newRow("xff empty elements") << lb << "" << Headers{{"X-Forwarded-For", ", 198.51.100.7 ,,"}} << client << 0
                                        << lb << http << false;
    QTest::newRow("xff tabs") << lb << "" << Headers{{"X-Forwarded-For", "\t198.51.100.7\t,\t10.0.0.5"}} << client << 0
                              << lb << http << false;
    QTest::newRow("xff with port") << lb << "" << Headers{{"X-Forwarded-For", "198.51.100.7:4711"}} << client << 4711
                                   << lb << http << false;
    QTest::newRow("xff ipv6 bare") << lb << "" << Headers{{"X-Forwarded-For", "2001:db8::7"}} << "2001:db8::7" << 0
                                   << lb << http << false;
    QTest::newRow("xff ipv6 brackets") << lb << "" << Headers{{"X-Forwarded-For", "[2001:db8::7]"}} << "2001:db8::7"
                                       << 0 << lb << http << false;
    QTest::newRow("xff ipv6 brackets and port")
        << lb << "" << Headers{{"X-Forwarded-For", "[2001:db8::7]:443"}} << "2001:db8::7" << 443 << lb << http << false;
    QTest::newRow("xff ipv6 trusted hop") << lb << "" << Headers{{"X-Forwarded-For", "2001:db8::7, 2001:db8:ffff::1"}}
                                          << "2001:db8::7" << 0 << lb << http << false;
    QTest::newRow("xff mapped trusted hop") << lb << "" << Headers{{"X-Forwarded-For", "198.51.100.7, ::ffff:10.0.0.5"}}
                                            << client << 0 << lb << http << false;
    QTest::newRow("xff ipv6 peer") << "2001:db8:ffff::2"
                                   << "" << Headers{{"X-Forwarded-For", "198.51.100.7"}} << client << 0
                                   << "2001:db8:ffff::2" << http << false;
    QTest::newRow("xff mapped peer") << "::ffff:10.0.0.1"
                                     << "" << Headers{{"X-Forwarded-For", "198.51.100.7"}} << client << 0
                                     << "::ffff:10.0.0.1" << http << false;
    QTest::newRow("xff malformed last") << lb << "" << Headers{{"X-Forwarded-For", "198.51.100.7, nonsense"}} << lb
                                        << 4000 << "" << http << true;
    QTest::newRow("xff malformed after trusted hop")
        << lb << "" << Headers{{"X-Forwarded-For", "nonsense, 10.0.0.5"}} << lb << 4000 << "" << http << true;
    QTest::newRow("xff empty") << lb << "" << Headers{{"X-Forwarded-For", ""}} << lb << 4000 << "" << http << true;
    QTest::newRow("xff only commas") << lb << "" << Headers{{"X-Forwarded-For", " , ,"}} << lb << 4000 << "" << http
                                     << true;
    QTest::newRow("xff unknown") << lb << "" << Headers{{"X-Forwarded-For", "unknown"}} << lb << 4000 << "" << http
                                 << true;
    QTest::newRow("xff leading zero") << lb << "" << Headers{{"X-Forwarded-For", "198.51.100.07"}} << lb << 4000 << ""
                                      << http << true;
    QTest::newRow("xff zone") << lb << "" << Headers{{"X-Forwarded-For", "fe80::1%eth0"}} << lb << 4000 << "" << http
                              << true;
    QTest::newRow("xff bad port") << lb << "" << Headers{{"X-Forwarded-For", "198.51.100.7:70000"}} << lb << 4000 << ""
                                  << http << true;
    QTest::newRow("xff empty port") << lb << "" << Headers{{"X-Forwarded-For", "198.51.100.7:"}} << lb << 4000 << ""
                                    << http << true;
    QTest::newRow("xff unclosed bracket")
        << lb << "" << Headers{{"X-Forwarded-For", "[2001:db8::7"}} << lb << 4000 << "" << http << true;
    QTest::newRow("xff ipv4 in brackets")
        << lb << "" << Headers{{"X-Forwarded-For", "[198.51.100.7]"}} << lb << 4000 << "" << http << true;
    QTest::newRow("xff host name") << lb << "" << Headers{{"X-Forwarded-For", "client.example"}} << lb << 4000 << ""
                                   << http << true;
    QTest::newRow("xff space inside") << lb << "" << Headers{{"X-Forwarded-For", "198.51.100.7 10.0.0.5"}} << lb << 4000
                                      << "" << http << true;

    // Forwarded (RFC 7239).
    QTest::newRow("forwarded") << lb << "" << Headers{{"Forwarded", "for=198.51.100.7"}} << client << 0 << lb << http
                               << false;
    QTest::newRow("forwarded quoted") << lb << "" << Headers{{"Forwarded", "for=\"198.51.100.7\""}} << client << 0 << lb
                                      << http << false;
    QTest::newRow("forwarded quoted with port")
        << lb << "" << Headers{{"Forwarded", "for=\"198.51.100.7:4711\""}} << client << 4711 << lb << http << false;
    QTest::newRow("forwarded ipv6") << lb << "" << Headers{{"Forwarded", "for=\"[2001:db8:cafe::17]\""}}
                                    << "2001:db8:cafe::17" << 0 << lb << http << false;
    QTest::newRow("forwarded ipv6 port proto")
        << lb << "" << Headers{{"Forwarded", "for=\"[2001:db8:cafe::17]:4711\";proto=https"}} << "2001:db8:cafe::17"
        << 4711 << lb << https << false;
    QTest::newRow("forwarded ipv6 unquoted")
        << lb << "" << Headers{{"Forwarded", "for=[2001:db8::7]"}} << lb << 4000 << "" << http << true;
    QTest::newRow("forwarded ipv6 without brackets")
        << lb << "" << Headers{{"Forwarded", "for=\"2001:db8::7\""}} << lb << 4000 << "" << http << true;
    QTest::newRow("forwarded chain") << lb << ""
                                     << Headers{{"Forwarded", "for=198.51.100.7;proto=https, for=10.0.0.5;proto=http"}}
                                     << client << 0 << lb << https << false;
    QTest::newRow("forwarded forged on the left")
        << lb << "" << Headers{{"Forwarded", "for=6.6.6.6;proto=ftp, for=198.51.100.7"}} << client << 0 << lb << http
        << false;
    QTest::newRow("forwarded case-insensitive names")
        << lb << "" << Headers{{"forwarded", "For=198.51.100.7;PROTO=HTTPS"}} << client << 0 << lb << https << false;
    QTest::newRow("forwarded other parameters")
        << lb << "" << Headers{{"Forwarded", "by=10.0.0.1;for=198.51.100.7;host=\"example.com:8080\""}} << client << 0
        << lb << http << false;
    QTest::newRow("forwarded every hop trusted")
        << lb << "" << Headers{{"Forwarded", "for=10.0.0.9;proto=https, for=10.0.0.5"}} << "10.0.0.9" << 0 << lb
        << https << false;
    QTest::newRow("forwarded two lines") << lb << ""
                                         << Headers{{"Forwarded", "for=6.6.6.6"}, {"Forwarded", "for=198.51.100.7"}}
                                         << client << 0 << lb << http << false;
    QTest::newRow("forwarded client's broken line before ours")
        << lb << "" << Headers{{"Forwarded", "for=\"oops"}, {"Forwarded", "for=198.51.100.7"}} << client << 0 << lb
        << http << false;
    QTest::newRow("forwarded spaces around separators")
        << lb << "" << Headers{{"Forwarded", "for=198.51.100.7 ; proto=https , for=10.0.0.5"}} << client << 0 << lb
        << https << false;
    QTest::newRow("forwarded empty elements")
        << lb << "" << Headers{{"Forwarded", ",for=198.51.100.7,,"}} << client << 0 << lb << http << false;
    QTest::newRow("forwarded comma in quotes")
        << lb << "" << Headers{{"Forwarded", "for=198.51.100.7;host=\"a,b\", for=10.0.0.5"}} << client << 0 << lb
        << http << false;
    QTest::newRow("forwarded quoted pair")
        << lb << "" << Headers{{"Forwarded", "for=\"198.51.100.\\7\""}} << client << 0 << lb << http << false;
    QTest::newRow("forwarded obfuscated port")
        << lb << "" << Headers{{"Forwarded", "for=\"198.51.100.7:_a1\""}} << client << 0 << lb << http << false;
    QTest::newRow("forwarded obfuscated left of the client")
        << lb << "" << Headers{{"Forwarded", "for=_hidden, for=198.51.100.7"}} << client << 0 << lb << http << false;
    QTest::newRow("forwarded unknown left of the client")
        << lb << "" << Headers{{"Forwarded", "for=unknown, for=198.51.100.7"}} << client << 0 << lb << http << false;
    QTest::newRow("forwarded wins over xff")
        << lb << "" << Headers{{"X-Forwarded-For", "6.6.6.6"}, {"Forwarded", "for=198.51.100.7"}} << client << 0 << lb
        << http << false;
    QTest::newRow("forwarded proto only from forwarded")
        << lb << "" << Headers{{"Forwarded", "for=198.51.100.7"}, {"X-Forwarded-Proto", "https"}} << client << 0 << lb
        << http << false;
    QTest::newRow("forwarded unknown") << lb << "" << Headers{{"Forwarded", "for=unknown"}} << lb << 4000 << "" << http
                                       << true;
    QTest::newRow("forwarded UNKNOWN") << lb << "" << Headers{{"Forwarded", "for=\"UNKNOWN\""}} << lb << 4000 << ""
                                       << http << true;
    QTest::newRow("forwarded obfuscated")
        << lb << "" << Headers{{"Forwarded", "for=_hidden"}} << lb << 4000 << "" << http << true;
    QTest::newRow("forwarded obfuscated after a hop")
        << lb << "" << Headers{{"Forwarded", "for=198.51.100.7, for=_proxy2"}} << lb << 4000 << "" << http << true;
    QTest::newRow("forwarded without for")
        << lb << "" << Headers{{"Forwarded", "proto=https;by=10.0.0.1"}} << lb << 4000 << "" << http << true;
    QTest::newRow("forwarded parameter twice")
        << lb << "" << Headers{{"Forwarded", "for=198.51.100.7;for=198.51.100.8"}} << lb << 4000 << "" << http << true;
    QTest::newRow("forwarded unterminated quote")
        << lb << "" << Headers{{"Forwarded", "for=\"198.51.100.7"}} << lb << 4000 << "" << http << true;
    QTest::newRow("forwarded trailing backslash")
        << lb << "" << Headers{{"Forwarded", "for=\"198.51.100.7\\"}} << lb << 4000 << "" << http << true;
    QTest::newRow("forwarded no value") << lb << "" << Headers{{"Forwarded", "for="}} << lb << 4000 << "" << http
                                        << true;
    QTest::newRow("forwarded no equals") << lb << "" << Headers{{"Forwarded", "for"}} << lb << 4000 << "" << http
                                         << true;
    QTest::newRow("forwarded space before equals")
        << lb << "" << Headers{{"Forwarded", "for =198.51.100.7"}} << lb << 4000 << "" << http << true;
    QTest::newRow("forwarded empty") << lb << "" << Headers{{"Forwarded", ""}} << lb << 4000 << "" << http << true;
    QTest::newRow("forwarded only separators")
        << lb << "" << Headers{{"Forwarded", ", ;,"}} << lb << 4000 << "" << http << true;
    QTest::newRow("forwarded bad proto") << lb << "" << Headers{{"Forwarded", "for=198.51.100.7;proto=\"1http\""}} << lb
                                         << 4000 << "" << http << true;
    QTest::newRow("forwarded malformed, no fallback to xff")
        << lb << "" << Headers{{"Forwarded", "for=unknown"}, {"X-Forwarded-For", "198.51.100.7"}} << lb << 4000 << ""
        << http << true;
    QTest::newRow("forwarded control character")
        << lb << "" << Headers{{"Forwarded", "for=\"198.51.100.7\x01\""}} << lb << 4000 << "" << http << true;

    // X-Real-IP: one address, when neither of the above is there.
    QTest::newRow("x-real-ip") << lb << "" << Headers{{"X-Real-IP", "198.51.100.7"}} << client << 0 << lb << http
                               << false;
    QTest::newRow("x-real-ip ipv6") << lb << "" << Headers{{"X-Real-IP", "2001:db8::7"}} << "2001:db8::7" << 0 << lb
                                    << http << false;
    QTest::newRow("x-real-ip trusted address")
        << lb << "" << Headers{{"X-Real-IP", "10.0.0.9"}} << "10.0.0.9" << 0 << lb << http << false;
    QTest::newRow("xff wins over x-real-ip")
        << lb << "" << Headers{{"X-Real-IP", "6.6.6.6"}, {"X-Forwarded-For", "198.51.100.7"}} << client << 0 << lb
        << http << false;
    QTest::newRow("x-real-ip two lines") << lb << ""
                                         << Headers{{"X-Real-IP", "198.51.100.7"}, {"X-Real-IP", "198.51.100.8"}} << lb
                                         << 4000 << "" << http << true;
    QTest::newRow("x-real-ip list") << lb << "" << Headers{{"X-Real-IP", "198.51.100.7, 10.0.0.5"}} << lb << 4000 << ""
                                    << http << true;
    QTest::newRow("x-real-ip garbage") << lb << "" << Headers{{"X-Real-IP", "client"}} << lb << 4000 << "" << http
                                       << true;

    // The scheme.
    QTest::newRow("xfp with xff") << lb << ""
                                  << Headers{{"X-Forwarded-For", "198.51.100.7"}, {"X-Forwarded-Proto", "https"}}
                                  << client << 0 << lb << https << false;
    QTest::newRow("xfp alone") << lb << "" << Headers{{"X-Forwarded-Proto", "HTTPS"}} << lb << 4000 << "" << https
                               << false;
    QTest::newRow("xfp list: leftmost") << lb << "" << Headers{{"X-Forwarded-Proto", "https, http"}} << lb << 4000 << ""
                                        << https << false;
    QTest::newRow("xfp invalid") << lb << ""
                                 << Headers{{"X-Forwarded-For", "198.51.100.7"}, {"X-Forwarded-Proto", "ht tp"}} << lb
                                 << 4000 << "" << http << true;
    QTest::newRow("xfp empty") << lb << "" << Headers{{"X-Forwarded-Proto", ""}} << lb << 4000 << "" << http << true;

    // A PROXY header's source as the hop: its forwarding headers count only
    // when that source is itself trusted; the TCP peer stays the via.
    QTest::newRow("proxy source untrusted, xff ignored")
        << client << lb << Headers{{"X-Forwarded-For", "6.6.6.6"}} << client << 4000 << lb << http << false;
    QTest::newRow("proxy source untrusted, malformed ignored")
        << client << lb << Headers{{"Forwarded", "for=unknown"}} << client << 4000 << lb << http << false;
    QTest::newRow("proxy source trusted, xff used")
        << "10.0.0.2" << lb << Headers{{"X-Forwarded-For", "198.51.100.7"}} << client << 0 << lb << http << false;
    QTest::newRow("proxy source trusted, malformed")
        << "10.0.0.2" << lb << Headers{{"X-Forwarded-For", "x"}} << "10.0.0.2" << 4000 << lb << http << true;
    QTest::newRow("proxy source trusted, xff names the balancer")
        << "10.0.0.2" << lb << Headers{{"X-Forwarded-For", "10.0.0.1"}} << lb << 0 << "" << http << false;
}

void tst_ClientAddress::resolve()
{
    QFETCH(QString, hopAddress);
    QFETCH(QString, hopVia);
    QFETCH(Headers, headers);
    QFETCH(QString, address);
    QFETCH(int, port);
    QFETCH(QString, via);
    QFETCH(QByteArray, scheme);
    QFETCH(bool, malformed);

    HttpRequest request;
    request.method = "GET";
    request.target = request.path = "/";
    request.headers = headers;
    QByteArray reason = "stale";
    const ClientAddress client = resolveClientAddress(hop(hopAddress, 4000, hopVia, 4001), request, trusted(), &reason);
    QCOMPARE(client.address.toString(), address);
    QCOMPARE(int(client.port), port);
    QCOMPARE(client.via.toString(), via);
    // The via is the TCP peer: the hop itself (port 4000) or the hop's via (4001).
    QCOMPARE(int(client.viaPort), via.isEmpty() ? 0 : hopVia.isEmpty() ? 4000 : 4001);
    QCOMPARE(client.isForwarded(), !via.isEmpty());
    QCOMPARE(client.scheme, scheme);
    QCOMPARE(!reason.isEmpty(), malformed);

    // Nobody trusted: the hop, whatever the headers.
    const ClientAddress untrusted = resolveClientAddress(hop(hopAddress, 4000), request, TrustedProxies(), &reason);
    QCOMPARE(untrusted.address.toString(), hopAddress);
    QCOMPARE(int(untrusted.port), 4000);
    QVERIFY(!untrusted.isForwarded());
    QCOMPARE(untrusted.scheme, QByteArray("http"));
    QVERIFY(reason.isEmpty());
}

void tst_ClientAddress::malformedReason_data()
{
    QTest::addColumn<Headers>("headers");
    QTest::addColumn<QByteArray>("reason");

    QTest::newRow("xff") << Headers{{"X-Forwarded-For", "nonsense"}}
                         << QByteArray("X-Forwarded-For: \"nonsense\" is not an IP address");
    QTest::newRow("xff long value cut") << Headers{{"X-Forwarded-For", QByteArray(100, 'a')}}
                                        << QByteArray("X-Forwarded-For: \"" + QByteArray(64, 'a')
                                                      + "...\" is not an IP address");
    QTest::newRow("xff control characters")
        << Headers{{"X-Forwarded-For", "a\x01\x7f"}} << QByteArray("X-Forwarded-For: \"a??\" is not an IP address");
    QTest::newRow("xff empty") << Headers{{"X-Forwarded-For", ""}} << QByteArray("X-Forwarded-For: no address");
    QTest::newRow("forwarded unknown") << Headers{{"Forwarded", "for=unknown"}} << QByteArray("Forwarded: for=unknown");
    QTest::newRow("forwarded obfuscated")
        << Headers{{"Forwarded", "for=_x"}} << QByteArray("Forwarded: obfuscated for=\"_x\"");
    QTest::newRow("forwarded no for") << Headers{{"Forwarded", "proto=http"}}
                                      << QByteArray("Forwarded: an element without for=");
    QTest::newRow("forwarded syntax") << Headers{{"Forwarded", "for=[::1]"}}
                                      << QByteArray("Forwarded: expected a token or quoted string after for= in "
                                                    "\"for=[::1]\"");
    QTest::newRow("forwarded twice") << Headers{{"Forwarded", "for=1.2.3.4;For=1.2.3.4"}}
                                     << QByteArray("Forwarded: parameter for twice in one element of "
                                                   "\"for=1.2.3.4;For=1.2.3.4\"");
    QTest::newRow("forwarded bad address")
        << Headers{{"Forwarded", "for=\"1.2.3\""}} << QByteArray("Forwarded: for=\"1.2.3\" is not an IP address");
    QTest::newRow("forwarded proto") << Headers{{"Forwarded", "for=1.2.3.4;proto=\"a b\""}}
                                     << QByteArray("Forwarded: proto=\"a b\" is not a URI scheme");
    QTest::newRow("x-real-ip") << Headers{{"X-Real-IP", "1.2.3.4, 5.6.7.8"}}
                               << QByteArray("X-Real-IP: more than one address");
    QTest::newRow("xfp") << Headers{{"X-Forwarded-Proto", "1x"}}
                         << QByteArray("X-Forwarded-Proto: \"1x\" is not a URI scheme");
}

void tst_ClientAddress::malformedReason()
{
    QFETCH(Headers, headers);
    QFETCH(QByteArray, reason);
    HttpRequest request;
    request.headers = headers;
    const ForwardedHeaders::Result result = ForwardedHeaders::resolve(request, trusted());
    QVERIFY(result.malformed);
    QVERIFY(!result.hasAddress);
    QCOMPARE(result.error, reason);
    QByteArray actual;
    const ClientAddress client = resolveClientAddress(hop("10.0.0.1", 4000), request, trusted(), &actual);
    QCOMPARE(actual, reason);
    QCOMPARE(client.address.toString(), QStringLiteral("10.0.0.1"));
}

void tst_ClientAddress::toString_data()
{
    QTest::addColumn<QString>("address");
    QTest::addColumn<int>("port");
    QTest::addColumn<QString>("via");
    QTest::addColumn<int>("viaPort");
    QTest::addColumn<QString>("expected");

    QTest::newRow("ipv4") << "192.0.2.1" << 5123 << "" << 0 << "192.0.2.1:5123";
    QTest::newRow("ipv6") << "2001:db8::1" << 443 << "" << 0 << "[2001:db8::1]:443";
    QTest::newRow("no port") << "192.0.2.1" << 0 << "" << 0 << "192.0.2.1";
    QTest::newRow("via") << "192.0.2.1" << 0 << "10.0.0.2" << 41000 << "192.0.2.1 via 10.0.0.2:41000";
    QTest::newRow("via ipv6") << "2001:db8::1" << 7 << "fd00::2" << 8 << "[2001:db8::1]:7 via [fd00::2]:8";
}

void tst_ClientAddress::toString()
{
    QFETCH(QString, address);
    QFETCH(int, port);
    QFETCH(QString, via);
    QFETCH(int, viaPort);
    QFETCH(QString, expected);
    ClientAddress client = ClientAddress::direct(QHostAddress(address), quint16(port));
    if (!via.isEmpty()) {
        client.via = QHostAddress(via);
        client.viaPort = quint16(viaPort);
    }
    QCOMPARE(client.toString(), expected);
}

QTEST_GUILESS_MAIN(tst_ClientAddress)
#include "tst_clientaddress.moc"
