#include "http/originpolicy.h"

#include <QTest>

using namespace SockJsProxy;

class tst_OriginPolicy : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void allows_data();
    void allows();
    void validPatterns_data();
    void validPatterns();
};

void tst_OriginPolicy::allows_data()
{
    QTest::addColumn<QStringList>("patterns");
    QTest::addColumn<QByteArray>("origin");
    QTest::addColumn<bool>("allowed");

    const QStringList any{QStringLiteral("*:*")};
    QTest::newRow("default allows all") << any << QByteArray("https://evil.example") << true;
    QTest::newRow("empty list allows all") << QStringList() << QByteArray("http://a.b") << true;
    QTest::newRow("no Origin header is not checked")
        << QStringList{QStringLiteral("https://example.com")} << QByteArray() << true;

    const QStringList exact{QStringLiteral("https://example.com")};
    QTest::newRow("exact") << exact << QByteArray("https://example.com") << true;
    QTest::newRow("exact, explicit default port") << exact << QByteArray("https://example.com:443") << true;
    QTest::newRow("exact, other port") << exact << QByteArray("https://example.com:8443") << false;
    QTest::newRow("exact, other scheme") << exact << QByteArray("http://example.com") << false;
    QTest::newRow("exact, subdomain") << exact << QByteArray("https://www.example.com") << false;
    QTest::newRow("exact, suffix trick") << exact << QByteArray("https://example.com.evil.net") << false;
    QTest::newRow("exact, case") << exact << QByteArray("HTTPS://EXAMPLE.COM") << true;

    const QStringList wildcard{QStringLiteral("https://*.example.com")};
    QTest::newRow("wildcard, subdomain") << wildcard << QByteArray("https://app.example.com") << true;
    QTest::newRow("wildcard, deep subdomain") << wildcard << QByteArray("https://a.b.example.com") << true;
    QTest::newRow("wildcard, apex not included") << wildcard << QByteArray("https://example.com") << false;
    QTest::newRow("wildcard, lookalike") << wildcard << QByteArray("https://evilexample.com") << false;
    QTest::newRow("wildcard, http") << wildcard << QByteArray("http://app.example.com") << false;

    const QStringList ports{QStringLiteral("http://localhost:8080"), QStringLiteral("http://127.0.0.1:*")};
    QTest::newRow("explicit port") << ports << QByteArray("http://localhost:8080") << true;
    QTest::newRow("explicit port, other") << ports << QByteArray("http://localhost:8081") << false;
    QTest::newRow("any port") << ports << QByteArray("http://127.0.0.1:5555") << true;

    const QStringList sockjsStyle{QStringLiteral("example.com:*")};
    QTest::newRow("host:port style, http") << sockjsStyle << QByteArray("http://example.com") << true;
    QTest::newRow("host:port style, https port") << sockjsStyle << QByteArray("https://example.com:9") << true;
    QTest::newRow("host:port style, other host") << sockjsStyle << QByteArray("https://example.org") << false;

    QTest::newRow("null refused unless listed") << exact << QByteArray("null") << false;
    QTest::newRow("null listed") << QStringList{QStringLiteral("null")} << QByteArray("null") << true;
    QTest::newRow("garbage origin") << exact << QByteArray("not a url") << false;
}

void tst_OriginPolicy::allows()
{
    QFETCH(QStringList, patterns);
    QFETCH(QByteArray, origin);
    QFETCH(bool, allowed);
    QCOMPARE(OriginPolicy(patterns).allows(origin), allowed);
}

void tst_OriginPolicy::validPatterns_data()
{
    QTest::addColumn<QString>("pattern");
    QTest::addColumn<bool>("valid");
    QTest::newRow("*:*") << QStringLiteral("*:*") << true;
    QTest::newRow("scheme host") << QStringLiteral("https://example.com") << true;
    QTest::newRow("wildcard") << QStringLiteral("https://*.example.com") << true;
    QTest::newRow("port") << QStringLiteral("http://localhost:8080") << true;
    QTest::newRow("null") << QStringLiteral("null") << true;
    QTest::newRow("bad port") << QStringLiteral("http://localhost:99999") << false;
    QTest::newRow("path") << QStringLiteral("https://example.com/app") << false;
    QTest::newRow("empty") << QString() << false;
}

void tst_OriginPolicy::validPatterns()
{
    QFETCH(QString, pattern);
    QFETCH(bool, valid);
    QString error;
    QCOMPARE(OriginPolicy::isValidPattern(pattern, &error), valid);
    QCOMPARE(error.isEmpty(), valid);
}

QTEST_GUILESS_MAIN(tst_OriginPolicy)
#include "tst_originpolicy.moc"
