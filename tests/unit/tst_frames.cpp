#include "sockjs/frames.h"

#include <QtTest>

#include <cstddef>

using namespace SockJsProxy;

namespace {

// A literal with its exact length, so embedded NUL bytes count.
template<std::size_t N>
QByteArray bytes(const char (&text)[N])
{
    return QByteArray(text, qsizetype(N - 1));
}

} // namespace

// The frames of the protocol (SOCKJS-PROTOCOL.md §5, §6, §13), byte for byte,
// before any transport wrapping.
class tst_Frames : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void fixedFrames();
    void close_data();
    void close();
    void closeReasonConstants();
    void messages_data();
    void messages();
    void repeatedMessageEncodedOnce();
};

void tst_Frames::fixedFrames()
{
    QCOMPARE(Frames::open(), QByteArray("o"));
    QCOMPARE(Frames::heartbeat(), QByteArray("h"));
}

void tst_Frames::close_data()
{
    QTest::addColumn<int>("code");
    QTest::addColumn<QByteArray>("reason");
    QTest::addColumn<QByteArray>("expected");

    QTest::newRow("go away") << 3000 << QByteArray("Go away!") << QByteArray(R"(c[3000,"Go away!"])");
    QTest::newRow("another connection") << 2010 << QByteArray("Another connection still open")
                                        << QByteArray(R"(c[2010,"Another connection still open"])");
    QTest::newRow("interrupted") << 1002 << QByteArray("Connection interrupted")
                                 << QByteArray(R"(c[1002,"Connection interrupted"])");
    QTest::newRow("queue full") << 1013 << QByteArray("Outgoing queue full")
                                << QByteArray(R"(c[1013,"Outgoing queue full"])");
    QTest::newRow("empty reason") << 1000 << QByteArray() << QByteArray(R"(c[1000,""])");
    QTest::newRow("quote and backslash escaped")
        << 4000 << QByteArray(R"(say "hi" \o/)") << QByteArray(R"(c[4000,"say \"hi\" \\o/"])");
    QTest::newRow("newline escaped") << 4001 << QByteArray("a\nb") << QByteArray(R"(c[4001,"a\nb"])");
    QTest::newRow("utf-8 verbatim") << 4002 << QByteArray("\xc3\xbc") << QByteArray("c[4002,\"\xc3\xbc\"]");
}

void tst_Frames::close()
{
    QFETCH(int, code);
    QFETCH(QByteArray, reason);
    QFETCH(QByteArray, expected);
    QCOMPARE(Frames::close(code, reason), expected);
}

void tst_Frames::closeReasonConstants()
{
    QCOMPARE(Frames::close(CloseReason::GoAwayCode, CloseReason::goAway()), QByteArray(R"(c[3000,"Go away!"])"));
    QCOMPARE(Frames::close(CloseReason::AnotherConnectionCode, CloseReason::anotherConnection()),
             QByteArray(R"(c[2010,"Another connection still open"])"));
    QCOMPARE(Frames::close(CloseReason::InterruptedCode, CloseReason::interrupted()),
             QByteArray(R"(c[1002,"Connection interrupted"])"));
}

void tst_Frames::messages_data()
{
    QTest::addColumn<QList<QByteArray>>("messages");
    QTest::addColumn<QByteArray>("expected");

    QTest::newRow("one") << QList<QByteArray>{"a"} << QByteArray(R"(a["a"])");
    QTest::newRow("two in order") << QList<QByteArray>{"a", "b"} << QByteArray(R"(a["a","b"])");
    QTest::newRow("eight") << QList<QByteArray>(8, "a") << QByteArray(R"(a["a","a","a","a","a","a","a","a"])");
    QTest::newRow("empty message") << QList<QByteArray>{""} << QByteArray(R"(a[""])");
    QTest::newRow("empty between") << QList<QByteArray>{"x", "", "y"} << QByteArray(R"(a["x","","y"])");
    QTest::newRow("quote") << QList<QByteArray>{R"(say "hi")"} << QByteArray(R"(a["say \"hi\""])");
    QTest::newRow("backslash") << QList<QByteArray>{R"(C:\dir)"} << QByteArray(R"(a["C:\\dir"])");
    QTest::newRow("slash verbatim") << QList<QByteArray>{"</script>"} << QByteArray(R"(a["</script>"])");
    QTest::newRow("control characters") << QList<QByteArray>{"\n\r\t\b\f"} << QByteArray(R"(a["\n\r\t\b\f"])");
    QTest::newRow("nul byte") << QList<QByteArray>{bytes("a\0b")} << QByteArray(R"(a["a\u0000b"])");
    QTest::newRow("other control lower-case hex")
        << QList<QByteArray>{"\x1f\x01"} << QByteArray(R"(a["\u001f\u0001"])");
    QTest::newRow("json text stays a string") << QList<QByteArray>{R"(["a"])"} << QByteArray(R"(a["[\"a\"]"])");
    QTest::newRow("utf-8 verbatim") << QList<QByteArray>{"\xc3\xbc\xe2\x82\xac"}
                                    << QByteArray("a[\"\xc3\xbc\xe2\x82\xac\"]");
    QTest::newRow("u+2028 escaped") << QList<QByteArray>{"\xe2\x80\xa8"} << QByteArray(R"(a["\u2028"])");
    QTest::newRow("u+200c escaped") << QList<QByteArray>{"\xe2\x80\x8c"} << QByteArray(R"(a["\u200c"])");
    QTest::newRow("u+ffff escaped") << QList<QByteArray>{"\xef\xbf\xbf"} << QByteArray(R"(a["\uffff"])");
    QTest::newRow("invalid utf-8 -> U+FFFD") << QList<QByteArray>{"a\xff"} << QByteArray("a[\"a\xef\xbf\xbd\"]");
    QTest::newRow("escaping inside several")
        << QList<QByteArray>{"\"", "\\", "\n"} << QByteArray(R"(a["\"","\\","\n"])");
}

void tst_Frames::messages()
{
    QFETCH(QList<QByteArray>, messages);
    QFETCH(QByteArray, expected);
    QCOMPARE(Frames::messages(messages), expected);
}

// A broadcast hands the same message to many sessions in a row: the frame is
// built once and shared, and a different message is never served from it.
void tst_Frames::repeatedMessageEncodedOnce()
{
    const QByteArray message = QByteArrayLiteral("to \"everyone\"");
    const QByteArray first = Frames::messages({message});
    const QByteArray second = Frames::messages({QByteArray(message.constData(), message.size())});
    QCOMPARE(second, QByteArray(R"(a["to \"everyone\""])"));
    QVERIFY(second.isSharedWith(first));

    // Same size, other bytes: encoded anew.
    const QByteArray other = Frames::messages({QByteArrayLiteral("to \"everyonE\"")});
    QCOMPARE(other, QByteArray(R"(a["to \"everyonE\""])"));
    QVERIFY(!other.isSharedWith(first));
    // Several messages are never taken for one.
    QCOMPARE(Frames::messages({QByteArrayLiteral("to \"everyonE\""), QByteArrayLiteral("x")}),
             QByteArray(R"(a["to \"everyonE\"","x"])"));
    QCOMPARE(Frames::messages({QByteArray()}), QByteArray(R"(a[""])"));
    QCOMPARE(Frames::messages({}), QByteArray("a[]"));
}

QTEST_GUILESS_MAIN(tst_Frames)
#include "tst_frames.moc"
