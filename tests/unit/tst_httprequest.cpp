#include "http/httprequest.h"

#include <QTest>

using namespace SockJsProxy;

using Headers = QList<QPair<QByteArray, QByteArray>>;

class tst_HttpRequest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void header_data();
    void header();
    void headerHasToken_data();
    void headerHasToken();
    void keepAlive_data();
    void keepAlive();
    void queryItem_data();
    void queryItem();
};

void tst_HttpRequest::header_data()
{
    QTest::addColumn<Headers>("headers");
    QTest::addColumn<QByteArray>("name");
    QTest::addColumn<bool>("present");
    QTest::addColumn<QByteArray>("value");

    const Headers headers = {{"Host", "example.com"}, {"X-Empty", ""}, {"Set-Thing", "first"}, {"set-thing", "second"}};
    QTest::newRow("same case") << headers << QByteArray("Host") << true << QByteArray("example.com");
    QTest::newRow("lower case") << headers << QByteArray("host") << true << QByteArray("example.com");
    QTest::newRow("upper case") << headers << QByteArray("HOST") << true << QByteArray("example.com");
    QTest::newRow("first of repeated") << headers << QByteArray("SET-THING") << true << QByteArray("first");
    QTest::newRow("present but empty") << headers << QByteArray("x-empty") << true << QByteArray("");
    QTest::newRow("absent") << headers << QByteArray("Accept") << false << QByteArray();
    QTest::newRow("prefix is not a match") << headers << QByteArray("Hos") << false << QByteArray();
    QTest::newRow("longer is not a match") << headers << QByteArray("Hosts") << false << QByteArray();
    QTest::newRow("no headers") << Headers() << QByteArray("Host") << false << QByteArray();
}

void tst_HttpRequest::header()
{
    QFETCH(Headers, headers);
    QFETCH(QByteArray, name);
    QFETCH(bool, present);
    QFETCH(QByteArray, value);

    HttpRequest request;
    request.headers = headers;
    QCOMPARE(request.hasHeader(name), present);
    const QByteArray actual = request.header(name);
    QCOMPARE(actual.isNull(), !present); // empty-but-present is not null
    QCOMPARE(actual, value);
}

void tst_HttpRequest::headerHasToken_data()
{
    QTest::addColumn<Headers>("headers");
    QTest::addColumn<QByteArray>("name");
    QTest::addColumn<QByteArray>("token");
    QTest::addColumn<bool>("expected");

    const Headers ws = {{"Connection", "keep-alive, Upgrade"}};
    QTest::newRow("list, other case") << ws << QByteArray("Connection") << QByteArray("upgrade") << true;
    QTest::newRow("list, first element") << ws << QByteArray("Connection") << QByteArray("KEEP-ALIVE") << true;
    QTest::newRow("header name case-insensitive") << ws << QByteArray("connection") << QByteArray("Upgrade") << true;
    QTest::newRow("no partial match") << ws << QByteArray("Connection") << QByteArray("keep") << false;
    QTest::newRow("no superstring match")
        << Headers{{"Connection", "closed"}} << QByteArray("Connection") << QByteArray("close") << false;
    QTest::newRow("spaces and tabs trimmed")
        << Headers{{"Connection", " \tclose\t , x"}} << QByteArray("Connection") << QByteArray("close") << true;
    QTest::newRow("empty elements") << Headers{{"Connection", ",, close ,"}} << QByteArray("Connection")
                                    << QByteArray("close") << true;
    QTest::newRow("empty token never matches")
        << Headers{{"Connection", ",,"}} << QByteArray("Connection") << QByteArray() << false;
    QTest::newRow("second field line") << Headers{{"Connection", "keep-alive"}, {"connection", "Upgrade"}}
                                       << QByteArray("Connection") << QByteArray("upgrade") << true;
    QTest::newRow("other header not considered")
        << Headers{{"Upgrade", "close"}} << QByteArray("Connection") << QByteArray("close") << false;
    QTest::newRow("absent") << Headers() << QByteArray("Connection") << QByteArray("close") << false;
    QTest::newRow("Upgrade: websocket") << Headers{{"Upgrade", "WebSocket"}} << QByteArray("Upgrade")
                                        << QByteArray("websocket") << true;
}

void tst_HttpRequest::headerHasToken()
{
    QFETCH(Headers, headers);
    QFETCH(QByteArray, name);
    QFETCH(QByteArray, token);
    QFETCH(bool, expected);

    HttpRequest request;
    request.headers = headers;
    QCOMPARE(request.headerHasToken(name, token), expected);
}

void tst_HttpRequest::keepAlive_data()
{
    QTest::addColumn<int>("minor");
    QTest::addColumn<Headers>("headers");
    QTest::addColumn<bool>("expected");

    QTest::newRow("1.1 default") << 1 << Headers() << true;
    QTest::newRow("1.1 close") << 1 << Headers{{"Connection", "close"}} << false;
    QTest::newRow("1.1 Close") << 1 << Headers{{"connection", "Close"}} << false;
    QTest::newRow("1.1 keep-alive") << 1 << Headers{{"Connection", "keep-alive"}} << true;
    QTest::newRow("1.1 Upgrade, close") << 1 << Headers{{"Connection", "Upgrade, close"}} << false;
    QTest::newRow("1.1 close on second line")
        << 1 << Headers{{"Connection", "Upgrade"}, {"Connection", "close"}} << false;
    QTest::newRow("1.1 closed is not close") << 1 << Headers{{"Connection", "closed"}} << true;
    QTest::newRow("1.1 close in another header") << 1 << Headers{{"Proxy-Connection", "close"}} << true;
    QTest::newRow("1.0 default") << 0 << Headers() << false;
    QTest::newRow("1.0 keep-alive") << 0 << Headers{{"Connection", "keep-alive"}} << true;
    QTest::newRow("1.0 Keep-Alive") << 0 << Headers{{"CONNECTION", "Keep-Alive"}} << true;
    QTest::newRow("1.0 keep-alive in a list") << 0 << Headers{{"Connection", "Upgrade, keep-alive"}} << true;
    QTest::newRow("1.0 keep-alive on second line")
        << 0 << Headers{{"Connection", "Upgrade"}, {"Connection", "keep-alive"}} << true;
    QTest::newRow("1.0 keep-alive and close") << 0 << Headers{{"Connection", "keep-alive, close"}} << false;
    QTest::newRow("1.0 Keep-Alive header is not the token") << 0 << Headers{{"Keep-Alive", "timeout=5"}} << false;
}

void tst_HttpRequest::keepAlive()
{
    QFETCH(int, minor);
    QFETCH(Headers, headers);
    QFETCH(bool, expected);

    HttpRequest request;
    request.versionMinor = minor;
    request.headers = headers;
    QCOMPARE(request.isHttp10(), minor == 0);
    QCOMPARE(request.keepAlive(), expected);
}

void tst_HttpRequest::queryItem_data()
{
    QTest::addColumn<QByteArray>("query");
    QTest::addColumn<QByteArray>("name");
    QTest::addColumn<bool>("present");
    QTest::addColumn<QByteArray>("value");

    QTest::newRow("plain") << QByteArray("callback=cb&t=1") << QByteArray("callback") << true << QByteArray("cb");
    QTest::newRow("second item") << QByteArray("callback=cb&t=1") << QByteArray("t") << true << QByteArray("1");
    QTest::newRow("escaped name") << QByteArray("%63allback=x") << QByteArray("callback") << true << QByteArray("x");
    QTest::newRow("escaped name, upper hex")
        << QByteArray("%63%41llback=x") << QByteArray("cAllback") << true << QByteArray("x");
    QTest::newRow("plus is space") << QByteArray("c=a+b") << QByteArray("c") << true << QByteArray("a b");
    QTest::newRow("escaped plus") << QByteArray("c=a%2Bb") << QByteArray("c") << true << QByteArray("a+b");
    QTest::newRow("plus in name") << QByteArray("my+name=v") << QByteArray("my name") << true << QByteArray("v");
    QTest::newRow("escapes") << QByteArray("c=%41%42%7e%20") << QByteArray("c") << true << QByteArray("AB~ ");
    QTest::newRow("UTF-8 escapes") << QByteArray("c=%e2%82%ac") << QByteArray("c") << true
                                   << QByteArray("\xe2\x82\xac");
    QTest::newRow("escaped ampersand and equals")
        << QByteArray("c=%26%3D&d=1") << QByteArray("c") << true << QByteArray("&=");
    QTest::newRow("invalid escapes kept") << QByteArray("c=%zz%4") << QByteArray("c") << true << QByteArray("%zz%4");
    QTest::newRow("lone percent") << QByteArray("c=%") << QByteArray("c") << true << QByteArray("%");
    QTest::newRow("repeated key: first wins") << QByteArray("c=1&c=2") << QByteArray("c") << true << QByteArray("1");
    QTest::newRow("longer key is not a match") << QByteArray("cc=1&c=2") << QByteArray("c") << true << QByteArray("2");
    QTest::newRow("value with '='") << QByteArray("c=a=b") << QByteArray("c") << true << QByteArray("a=b");
    QTest::newRow("empty pairs skipped") << QByteArray("&a=1&&c=3&") << QByteArray("c") << true << QByteArray("3");
    QTest::newRow("empty value") << QByteArray("c=&d=1") << QByteArray("c") << true << QByteArray("");
    QTest::newRow("no '='") << QByteArray("x=1&c") << QByteArray("c") << true << QByteArray("");
    QTest::newRow("missing") << QByteArray("a=1&b=2") << QByteArray("c") << false << QByteArray();
    QTest::newRow("names are case-sensitive") << QByteArray("C=1") << QByteArray("c") << false << QByteArray();
    QTest::newRow("empty query") << QByteArray() << QByteArray("c") << false << QByteArray();
    QTest::newRow("value is not a name") << QByteArray("a=c") << QByteArray("c") << false << QByteArray();
}

void tst_HttpRequest::queryItem()
{
    QFETCH(QByteArray, query);
    QFETCH(QByteArray, name);
    QFETCH(bool, present);
    QFETCH(QByteArray, value);

    HttpRequest request;
    request.query = query;
    const QByteArray actual = request.queryItem(name);
    QCOMPARE(actual.isNull(), !present);
    QCOMPARE(actual, value);
}

QTEST_GUILESS_MAIN(tst_HttpRequest)
#include "tst_httprequest.moc"
