#include "http/httpchars.h"

#include <QTest>

using namespace SockJsProxy;

class tst_HttpChars : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void hexValue();
    void isTchar();
    void isToken_data();
    void isToken();
    void trimOws_data();
    void trimOws();
    void listElements_data();
    void listElements();
};

// Every byte value, so nothing outside the classes slips in (bytes >= 0x80 too).
void tst_HttpChars::hexValue()
{
    const QByteArray lower = "0123456789abcdef";
    const QByteArray upper = "0123456789ABCDEF";
    for (int byte = 0; byte < 256; ++byte) {
        const char c = char(byte);
        const int expected = lower.contains(c) ? int(lower.indexOf(c)) : int(upper.indexOf(c));
        QVERIFY2(HttpChars::hexValue(c) == expected, qPrintable(QString::number(byte)));
    }
    QCOMPARE(HttpChars::hexValue('0'), 0);
    QCOMPARE(HttpChars::hexValue('9'), 9);
    QCOMPARE(HttpChars::hexValue('a'), 10);
    QCOMPARE(HttpChars::hexValue('F'), 15);
    QCOMPARE(HttpChars::hexValue('g'), -1);
    QCOMPARE(HttpChars::hexValue(' '), -1);
}

void tst_HttpChars::isTchar()
{
    const QByteArray tchars = "!#$%&'*+-.^_`|~0123456789"
                              "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    int count = 0;
    for (int byte = 0; byte < 256; ++byte) {
        const char c = char(byte);
        QVERIFY2(HttpChars::isTchar(c) == tchars.contains(c), qPrintable(QString::number(byte)));
        count += HttpChars::isTchar(c) ? 1 : 0;
    }
    QCOMPARE(count, 77); // 15 symbols, 10 digits, 52 letters
}

void tst_HttpChars::isToken_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<bool>("token");
    QTest::newRow("method") << QByteArray("GET") << true;
    QTest::newRow("header name") << QByteArray("Sec-WebSocket-Key") << true;
    QTest::newRow("symbols") << QByteArray("!#$%&'*+-.^_`|~") << true;
    QTest::newRow("empty") << QByteArray("") << false;
    QTest::newRow("space") << QByteArray("GE T") << false;
    QTest::newRow("colon") << QByteArray("Host:") << false;
    QTest::newRow("separator") << QByteArray("a/b") << false;
    QTest::newRow("NUL") << QByteArray("a\0b", 3) << false;
    QTest::newRow("UTF-8") << QByteArray("caf\xc3\xa9") << false;
}

void tst_HttpChars::isToken()
{
    QFETCH(QByteArray, text);
    QFETCH(bool, token);
    QCOMPARE(HttpChars::isToken(text), token);
}

void tst_HttpChars::trimOws_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<QByteArray>("trimmed");
    QTest::newRow("nothing to trim") << QByteArray("a b") << QByteArray("a b");
    QTest::newRow("spaces and tabs") << QByteArray(" \t a b\t ") << QByteArray("a b");
    QTest::newRow("only OWS") << QByteArray(" \t ") << QByteArray("");
    QTest::newRow("empty") << QByteArray("") << QByteArray("");
    QTest::newRow("CR and LF are not OWS") << QByteArray("\r a \n") << QByteArray("\r a \n");
    QTest::newRow("VT and FF are not OWS") << QByteArray("\va\f") << QByteArray("\va\f");
}

void tst_HttpChars::trimOws()
{
    QFETCH(QByteArray, text);
    QFETCH(QByteArray, trimmed);
    QCOMPARE(HttpChars::trimOws(text).toByteArray(), trimmed);
}

void tst_HttpChars::listElements_data()
{
    QTest::addColumn<QByteArray>("value");
    QTest::addColumn<QList<QByteArray>>("elements");
    QTest::newRow("one") << QByteArray("chunked") << QList<QByteArray>{"chunked"};
    QTest::newRow("two") << QByteArray("gzip, chunked") << QList<QByteArray>{"gzip", "chunked"};
    QTest::newRow("no space") << QByteArray("keep-alive,Upgrade") << QList<QByteArray>{"keep-alive", "Upgrade"};
    QTest::newRow("OWS around") << QByteArray(" \ta \t, b ") << QList<QByteArray>{"a", "b"};
    QTest::newRow("inner space kept") << QByteArray("a b, c") << QList<QByteArray>{"a b", "c"};
    QTest::newRow("empty elements") << QByteArray(" , ,chunked,,") << QList<QByteArray>{"chunked"};
    QTest::newRow("empty") << QByteArray("") << QList<QByteArray>{};
    QTest::newRow("only commas") << QByteArray(",,") << QList<QByteArray>{};
}

void tst_HttpChars::listElements()
{
    QFETCH(QByteArray, value);
    QFETCH(QList<QByteArray>, elements);
    QList<QByteArray> result;
    for (const QByteArrayView element : HttpChars::listElements(value))
        result.append(element.toByteArray());
    QCOMPARE(result, elements);
}

QTEST_GUILESS_MAIN(tst_HttpChars)
#include "tst_httpchars.moc"
