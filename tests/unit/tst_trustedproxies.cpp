#include "http/trustedproxies.h"

#include <QTest>

using namespace SockJsProxy;

class tst_TrustedProxies : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void parse_data();
    void parse();
    void contains_data();
    void contains();
    void emptyTrustsNobody();
};

void tst_TrustedProxies::parse_data()
{
    QTest::addColumn<QStringList>("entries");
    QTest::addColumn<QString>("error"); // empty: accepted

    QTest::newRow("none") << QStringList() << "";
    QTest::newRow("ipv4 address") << QStringList{"10.0.0.7"} << "";
    QTest::newRow("ipv4 range") << QStringList{"10.0.0.0/8"} << "";
    QTest::newRow("ipv4 /0") << QStringList{"0.0.0.0/0"} << "";
    QTest::newRow("ipv4 /32") << QStringList{"192.0.2.1/32"} << "";
    QTest::newRow("host bits set") << QStringList{"10.1.2.3/8"} << "";
    QTest::newRow("ipv6 address") << QStringList{"::1"} << "";
    QTest::newRow("ipv6 range") << QStringList{"fd00::/8"} << "";
    QTest::newRow("ipv6 /128") << QStringList{"2001:db8::1/128"} << "";
    QTest::newRow("mapped range") << QStringList{"::ffff:10.0.0.0/104"} << "";
    QTest::newRow("several") << QStringList{"10.0.0.0/8", "::1", "192.0.2.7"} << "";
    QTest::newRow("ipv4 /33") << QStringList{"10.0.0.0/33"} << "\"10.0.0.0/33\"";
    QTest::newRow("ipv6 /129") << QStringList{"::/129"} << "\"::/129\"";
    QTest::newRow("netmask form") << QStringList{"10.0.0.0/255.0.0.0"} << "\"10.0.0.0/255.0.0.0\"";
    QTest::newRow("partial ipv4") << QStringList{"10.0"} << "\"10.0\"";
    QTest::newRow("empty prefix") << QStringList{"10.0.0.0/"} << "\"10.0.0.0/\"";
    QTest::newRow("negative prefix") << QStringList{"10.0.0.0/-1"} << "\"10.0.0.0/-1\"";
    QTest::newRow("host name") << QStringList{"balancer.local"} << "\"balancer.local\"";
    QTest::newRow("zone") << QStringList{"fe80::1%eth0"} << "\"fe80::1%eth0\"";
    QTest::newRow("space") << QStringList{" 10.0.0.1"} << "\" 10.0.0.1\"";
    QTest::newRow("empty entry") << QStringList{""} << "\"\"";
    QTest::newRow("second bad") << QStringList{"10.0.0.1", "nope"} << "\"nope\"";
    QTest::newRow("non-latin1") << QStringList{QString::fromUtf8("10.0.0.\xe2\x80\x8b" "1")} << "\"10.0.0.";
}

void tst_TrustedProxies::parse()
{
    QFETCH(QStringList, entries);
    QFETCH(QString, error);
    QString actual;
    const auto proxies = TrustedProxies::parse(entries, &actual);
    QCOMPARE(proxies.has_value(), error.isEmpty());
    if (proxies) {
        QCOMPARE(proxies->entries(), entries);
        QCOMPARE(proxies->isEmpty(), entries.isEmpty());
    } else {
        QVERIFY2(actual.startsWith(error), qPrintable(actual));
        QVERIFY2(actual.contains(QStringLiteral("not an IP address or CIDR range")), qPrintable(actual));
    }
}

void tst_TrustedProxies::contains_data()
{
    QTest::addColumn<QStringList>("entries");
    QTest::addColumn<QString>("address");
    QTest::addColumn<bool>("expected");

    const QStringList v4{"10.0.0.0/8", "192.0.2.7"};
    QTest::newRow("in range") << v4 << "10.200.3.4" << true;
    QTest::newRow("range start") << v4 << "10.0.0.0" << true;
    QTest::newRow("range end") << v4 << "10.255.255.255" << true;
    QTest::newRow("just outside") << v4 << "11.0.0.0" << false;
    QTest::newRow("single address") << v4 << "192.0.2.7" << true;
    QTest::newRow("next to single") << v4 << "192.0.2.8" << false;
    QTest::newRow("mapped peer in ipv4 range") << v4 << "::ffff:10.1.2.3" << true;
    QTest::newRow("mapped peer, single") << v4 << "::ffff:192.0.2.7" << true;
    QTest::newRow("mapped peer outside") << v4 << "::ffff:11.1.2.3" << false;
    QTest::newRow("ipv6 peer, ipv4 ranges") << v4 << "2001:db8::1" << false;
    QTest::newRow("compatible is not mapped") << v4 << "::10.1.2.3" << false;
    QTest::newRow("null address") << v4 << "" << false;
    QTest::newRow("host bits ignored") << QStringList{"10.1.2.3/8"} << "10.9.9.9" << true;

    const QStringList v6{"2001:db8:ff::/48", "::1"};
    QTest::newRow("ipv6 in range") << v6 << "2001:db8:ff:1::5" << true;
    QTest::newRow("ipv6 outside") << v6 << "2001:db8:fe::5" << false;
    QTest::newRow("ipv6 single") << v6 << "::1" << true;
    QTest::newRow("ipv4 peer, ipv6 ranges") << v6 << "127.0.0.1" << false;
    QTest::newRow("ipv6 upper-case entry") << QStringList{"2001:DB8::/32"} << "2001:db8::9" << true;

    const QStringList mapped{"::ffff:10.0.0.0/104"};
    QTest::newRow("mapped range, ipv4 peer") << mapped << "10.3.3.3" << true;
    QTest::newRow("mapped range, mapped peer") << mapped << "::ffff:10.3.3.3" << true;
    QTest::newRow("mapped range, outside") << mapped << "11.3.3.3" << false;

    QTest::newRow("ipv6 /0, mapped peer") << QStringList{"::/0"} << "::ffff:10.3.3.3" << true;
    QTest::newRow("ipv6 /0, ipv4 peer") << QStringList{"::/0"} << "10.3.3.3" << false;
    QTest::newRow("ipv4 /0, any ipv4") << QStringList{"0.0.0.0/0"} << "203.0.113.9" << true;
    QTest::newRow("ipv4 /0, ipv6") << QStringList{"0.0.0.0/0"} << "2001:db8::1" << false;
    QTest::newRow("loopback /8") << QStringList{"127.0.0.0/8"} << "127.0.0.2" << true;
}

void tst_TrustedProxies::contains()
{
    QFETCH(QStringList, entries);
    QFETCH(QString, address);
    QFETCH(bool, expected);
    QString error;
    const auto proxies = TrustedProxies::parse(entries, &error);
    QVERIFY2(proxies, qPrintable(error));
    QCOMPARE(proxies->contains(QHostAddress(address)), expected);
}

void tst_TrustedProxies::emptyTrustsNobody()
{
    const TrustedProxies none;
    QVERIFY(none.isEmpty());
    for (const char *address : {"127.0.0.1", "::1", "0.0.0.0", "::", "10.0.0.1"})
        QVERIFY2(!none.contains(QHostAddress(QString::fromLatin1(address))), address);
}

QTEST_GUILESS_MAIN(tst_TrustedProxies)
#include "tst_trustedproxies.moc"
