#include "http/ipaddress.h"

#include <QTest>

using namespace SockJsProxy;

class tst_IpAddress : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void parse_data();
    void parse();
    void parsePort_data();
    void parsePort();
    void unmapped_data();
    void unmapped();
};

void tst_IpAddress::parse_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<QString>("expected"); // empty: refused

    QTest::newRow("ipv4") << QByteArray("192.0.2.1") << "192.0.2.1";
    QTest::newRow("ipv4 zeros") << QByteArray("0.0.0.0") << "0.0.0.0";
    QTest::newRow("ipv4 max") << QByteArray("255.255.255.255") << "255.255.255.255";
    QTest::newRow("ipv4 octet 256") << QByteArray("192.0.2.256") << "";
    QTest::newRow("ipv4 leading zero") << QByteArray("192.0.2.01") << "";
    QTest::newRow("ipv4 three parts") << QByteArray("192.0.2") << "";
    QTest::newRow("ipv4 one number") << QByteArray("10") << "";
    QTest::newRow("ipv4 five parts") << QByteArray("1.2.3.4.5") << "";
    QTest::newRow("ipv4 empty part") << QByteArray("1..3.4") << "";
    QTest::newRow("ipv4 trailing dot") << QByteArray("1.2.3.4.") << "";
    QTest::newRow("ipv4 space") << QByteArray(" 1.2.3.4") << "";
    QTest::newRow("ipv4 sign") << QByteArray("+1.2.3.4") << "";
    QTest::newRow("ipv4 hex") << QByteArray("0x1.2.3.4") << "";
    QTest::newRow("ipv6") << QByteArray("2001:db8::1") << "2001:db8::1";
    QTest::newRow("ipv6 upper case") << QByteArray("2001:DB8::1") << "2001:db8::1";
    QTest::newRow("ipv6 full") << QByteArray("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
                               << "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    QTest::newRow("ipv6 loopback") << QByteArray("::1") << "::1";
    QTest::newRow("ipv6 any") << QByteArray("::") << "::";
    QTest::newRow("ipv6 mapped") << QByteArray("::ffff:192.0.2.1") << "::ffff:192.0.2.1";
    QTest::newRow("ipv6 zone") << QByteArray("fe80::1%eth0") << "";
    QTest::newRow("ipv6 brackets") << QByteArray("[::1]") << "";
    QTest::newRow("ipv6 two ::") << QByteArray("1::2::3") << "";
    QTest::newRow("ipv6 nine groups") << QByteArray("1:2:3:4:5:6:7:8:9") << "";
    QTest::newRow("ipv6 group too long") << QByteArray("12345::1") << "";
    QTest::newRow("ipv6 space") << QByteArray("::1 ") << "";
    QTest::newRow("empty") << QByteArray() << "";
    QTest::newRow("name") << QByteArray("localhost") << "";
    QTest::newRow("nul") << QByteArray("1.2.3.4\0", 8) << "";
}

void tst_IpAddress::parse()
{
    QFETCH(QByteArray, text);
    QFETCH(QString, expected);
    QHostAddress address;
    QCOMPARE(IpAddress::parse(text, &address), !expected.isEmpty());
    QCOMPARE(IpAddress::parse(text, nullptr), !expected.isEmpty());
    if (!expected.isEmpty())
        QCOMPARE(address.toString(), expected);
    // The family-specific parsers agree.
    const bool v6 = text.contains(':');
    QCOMPARE(IpAddress::parseIpv4(text, nullptr), !expected.isEmpty() && !v6);
    QCOMPARE(IpAddress::parseIpv6(text, nullptr), !expected.isEmpty() && v6);
}

void tst_IpAddress::parsePort_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<int>("expected"); // -1: refused

    QTest::newRow("0") << QByteArray("0") << 0;
    QTest::newRow("443") << QByteArray("443") << 443;
    QTest::newRow("65535") << QByteArray("65535") << 65535;
    QTest::newRow("65536") << QByteArray("65536") << -1;
    QTest::newRow("99999") << QByteArray("99999") << -1;
    QTest::newRow("100000") << QByteArray("100000") << -1;
    QTest::newRow("leading zero") << QByteArray("080") << -1;
    QTest::newRow("00") << QByteArray("00") << -1;
    QTest::newRow("negative") << QByteArray("-1") << -1;
    QTest::newRow("plus") << QByteArray("+1") << -1;
    QTest::newRow("space") << QByteArray("1 ") << -1;
    QTest::newRow("empty") << QByteArray() << -1;
    QTest::newRow("hex") << QByteArray("0x10") << -1;
}

void tst_IpAddress::parsePort()
{
    QFETCH(QByteArray, text);
    QFETCH(int, expected);
    quint16 port = 7;
    QCOMPARE(IpAddress::parsePort(text, &port), expected >= 0);
    QCOMPARE(int(port), expected >= 0 ? expected : 7);
}

void tst_IpAddress::unmapped_data()
{
    QTest::addColumn<QString>("address");
    QTest::addColumn<QString>("expected");

    QTest::newRow("mapped") << "::ffff:192.0.2.1"
                            << "192.0.2.1";
    QTest::newRow("mapped zero") << "::ffff:0.0.0.0"
                                 << "0.0.0.0";
    QTest::newRow("ipv4") << "192.0.2.1"
                          << "192.0.2.1";
    QTest::newRow("ipv6") << "2001:db8::1"
                          << "2001:db8::1";
    QTest::newRow("any is not mapped") << "::"
                                       << "::";
    QTest::newRow("compatible is not mapped") << "::192.0.2.1"
                                              << "::192.0.2.1";
    QTest::newRow("almost mapped") << "::fffe:192.0.2.1"
                                   << "::fffe:c000:201";
    QTest::newRow("loopback") << "::1"
                              << "::1";
}

void tst_IpAddress::unmapped()
{
    QFETCH(QString, address);
    QFETCH(QString, expected);
    QCOMPARE(IpAddress::unmapped(QHostAddress(address)).toString(), expected);
}

QTEST_GUILESS_MAIN(tst_IpAddress)
#include "tst_ipaddress.moc"
