#include "sockjs/jsoncodec.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>
#include <QRandomGenerator>
#include <QtTest>

#include <cstddef>
#include <initializer_list>
#include <iterator>
#include <vector>

namespace SockJsProxy {
namespace JsonCodec {

// Lets QCOMPARE print the result by name (found by argument-dependent lookup).
char *toString(DecodeResult result)
{
    switch (result) {
    case DecodeResult::Ok:
        return qstrdup("Ok");
    case DecodeResult::Empty:
        return qstrdup("Empty");
    case DecodeResult::Broken:
        return qstrdup("Broken");
    }
    return qstrdup("?");
}

} // namespace JsonCodec
} // namespace SockJsProxy

using namespace SockJsProxy;

namespace {

// A literal with its exact length, so embedded NUL bytes count.
template<std::size_t N>
QByteArray bytes(const char (&text)[N])
{
    return QByteArray(text, qsizetype(N - 1));
}

// UTF-8 of code points, through Qt's encoder: an oracle independent of the codec.
QByteArray utf8(const std::vector<char32_t> &codePoints)
{
    return QString::fromUcs4(codePoints.data(), qsizetype(codePoints.size())).toUtf8();
}

QByteArray utf8(char32_t codePoint) { return utf8(std::vector<char32_t>{codePoint}); }

QByteArray jsonString(const QByteArray &inner) { return '"' + inner + '"'; }

// "\u" + 4 lower-case hex digits.
QByteArray lowerEscape(char32_t unit) { return "\\u" + QByteArray::number(uint(unit), 16).rightJustified(4, '0'); }

QByteArray upperEscape(char32_t unit)
{
    return "\\u" + QByteArray::number(uint(unit), 16).toUpper().rightJustified(4, '0');
}

const QByteArray kFffd = bytes("\xEF\xBF\xBD");

struct Range
{
    char32_t first;
    char32_t last;
};

// The code points SockJS clients expect escaped (protocol §13).
const Range kEscapedRanges[] = {
    {0x200C, 0x200F},
    {0x2028, 0x202F},
    {0x2060, 0x206F},
    {0xFFF0, 0xFFFF},
};

std::vector<char32_t> escapedCodePoints()
{
    std::vector<char32_t> result;
    for (const Range &range : kEscapedRanges) {
        for (char32_t cp = range.first; cp <= range.last; ++cp)
            result.push_back(cp);
    }
    return result;
}

} // namespace

class tst_JsonCodec : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void encode_data();
    void encode();
    void encodeSockJsCheck();
    void encodeAppendsAndReserves();

    void isValidUtf8_data();
    void isValidUtf8();

    void decode_data();
    void decode();
    void decodeEmpty_data();
    void decodeEmpty();
    void decodeBroken_data();
    void decodeBroken();
    void decodeSockJsCheck();

    void roundTrip_data();
    void roundTrip();
    void specialBytesAtEveryPosition();
};

// ---------------------------------------------------------------------------
// Encoding

void tst_JsonCodec::encode_data()
{
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<int>("flags");
    QTest::addColumn<QByteArray>("expected"); // without the surrounding quotes
    QTest::addColumn<bool>("expectedValid");

    const int none = JsonCodec::NoFlags;
    const int html = JsonCodec::EscapeHtml;

    QTest::newRow("empty") << QByteArray() << none << QByteArray() << true;
    QTest::newRow("ascii") << QByteArray("hello world") << none << QByteArray("hello world") << true;

    // The 44 code points SockJS wants escaped, one per row.
    for (char32_t cp : escapedCodePoints()) {
        QTest::addRow("escaped U+%04X", uint(cp)) << utf8(cp) << none << lowerEscape(cp) << true;
    }
    // Their neighbours just outside each range stay raw.
    for (char32_t cp : {0x200B, 0x2010, 0x2027, 0x2030, 0x205F, 0x2070, 0xFFEF}) {
        QTest::addRow("raw U+%04X", uint(cp)) << utf8(cp) << none << utf8(cp) << true;
    }
    // Other multi-byte characters near the escaped ones' bytes stay raw too.
    QTest::newRow("raw U+00E9") << utf8(0xE9) << none << utf8(0xE9) << true;
    QTest::newRow("raw U+2000") << utf8(0x2000) << none << utf8(0x2000) << true;
    QTest::newRow("raw U+20AC") << utf8(0x20AC) << none << utf8(0x20AC) << true;
    QTest::newRow("raw U+E000") << utf8(0xE000) << none << utf8(0xE000) << true;
    QTest::newRow("raw U+FEFF") << utf8(0xFEFF) << none << utf8(0xFEFF) << true;

    // Every C0 control character, with JSON.stringify's short forms.
    for (int c = 0; c < 0x20; ++c) {
        QByteArray expected;
        switch (c) {
        case '\b':
            expected = "\\b";
            break;
        case '\t':
            expected = "\\t";
            break;
        case '\n':
            expected = "\\n";
            break;
        case '\f':
            expected = "\\f";
            break;
        case '\r':
            expected = "\\r";
            break;
        default:
            expected = lowerEscape(char32_t(c));
            break;
        }
        QTest::addRow("control 0x%02X", c) << QByteArray(1, char(c)) << none << expected << true;
    }
    // Spelled out, so the lower-case rule does not rest on the helper alone.
    QTest::newRow("0x1F literal") << bytes("\x1f") << none << QByteArray("\\u001f") << true;
    QTest::newRow("NUL inside text") << bytes("a\0b") << none << QByteArray("a\\u0000b") << true;
    QTest::newRow("eventsource sample") << bytes("  \0\n\r ") << none << QByteArray("  \\u0000\\n\\r ") << true;

    QTest::newRow("quote") << QByteArray("\"") << none << QByteArray("\\\"") << true;
    QTest::newRow("backslash") << QByteArray("\\") << none << QByteArray("\\\\") << true;
    QTest::newRow("slash") << QByteArray("/") << none << QByteArray("/") << true;
    QTest::newRow("DEL") << bytes("\x7f") << none << bytes("\x7f") << true;
    QTest::newRow("mixed") << QByteArray("say \"hi\"\\n\tnow") << none << QByteArray("say \\\"hi\\\"\\\\n\\tnow")
                           << true;

    // Astral characters are written as they are, not as surrogate escapes.
    QTest::newRow("emoji U+1F600") << utf8(0x1F600) << none << bytes("\xF0\x9F\x98\x80") << true;
    QTest::newRow("U+10000") << utf8(0x10000) << none << bytes("\xF0\x90\x80\x80") << true;
    QTest::newRow("U+10FFFF") << utf8(0x10FFFF) << none << bytes("\xF4\x8F\xBF\xBF") << true;
    QTest::newRow("emoji sequence") << utf8({0x1F468, 0x200D, 0x1F469}) << none
                                    << bytes("\xF0\x9F\x91\xA8") + "\\u200d" + bytes("\xF0\x9F\x91\xA9") << true;
    // A real U+FFFD is in U+FFF0-FFFF, so it is escaped like its neighbours.
    QTest::newRow("U+FFFD input") << kFffd << none << QByteArray("\\ufffd") << true;

    // EscapeHtml.
    QTest::newRow("script end, no flag") << QByteArray("</script>") << none << QByteArray("</script>") << true;
    QTest::newRow("script end, html") << QByteArray("</script>") << html << QByteArray("\\u003c/script\\u003e") << true;
    QTest::newRow("comment open, html") << QByteArray("<!--") << html << QByteArray("\\u003c!--") << true;
    QTest::newRow("comment open, no flag") << QByteArray("<!--") << none << QByteArray("<!--") << true;
    QTest::newRow("html with other escapes")
        << bytes("<a href=\"/x\">\n") << html << QByteArray("\\u003ca href=\\\"/x\\\"\\u003e\\n") << true;
    QTest::newRow("html keeps &") << QByteArray("a & b") << html << QByteArray("a & b") << true;

    // Invalid UTF-8: each maximal subpart becomes one U+FFFD.
    QTest::newRow("truncated 2-byte at end") << bytes("a\xC3") << none << "a" + kFffd << false;
    QTest::newRow("truncated 2-byte before ASCII") << bytes("\xC3"
                                                            "b")
                                                   << none << kFffd + "b" << false;
    QTest::newRow("truncated 3-byte at end") << bytes("\xE2\x82") << none << kFffd << false;
    QTest::newRow("truncated 3-byte before ASCII") << bytes("\xE2\x82"
                                                            "z")
                                                   << none << kFffd + "z" << false;
    QTest::newRow("truncated 4-byte at end") << bytes("\xF0\x9F\x98") << none << kFffd << false;
    QTest::newRow("truncated 4-byte before ASCII") << bytes("\xF0\x9F\x98"
                                                            "!")
                                                   << none << kFffd + "!" << false;
    QTest::newRow("truncated before an escaped char")
        << bytes("\xE2\x80\xE2\x80\xA8") << none << kFffd + "\\u2028" << false;
    QTest::newRow("overlong C0 80") << bytes("\xC0\x80") << none << kFffd + kFffd << false;
    QTest::newRow("overlong C1 BF") << bytes("\xC1\xBF") << none << kFffd + kFffd << false;
    QTest::newRow("overlong E0 80 80") << bytes("\xE0\x80\x80") << none << kFffd + kFffd + kFffd << false;
    QTest::newRow("overlong F0 80 80 80")
        << bytes("\xF0\x80\x80\x80") << none << kFffd + kFffd + kFffd + kFffd << false;
    QTest::newRow("surrogate ED A0 80") << bytes("\xED\xA0\x80") << none << kFffd + kFffd + kFffd << false;
    QTest::newRow("surrogate ED BF BF") << bytes("\xED\xBF\xBF") << none << kFffd + kFffd + kFffd << false;
    QTest::newRow("above U+10FFFF F4 90 80 80")
        << bytes("\xF4\x90\x80\x80") << none << kFffd + kFffd + kFffd + kFffd << false;
    QTest::newRow("F5 80 80 80") << bytes("\xF5\x80\x80\x80") << none << kFffd + kFffd + kFffd + kFffd << false;
    QTest::newRow("lone 80") << bytes("\x80") << none << kFffd << false;
    QTest::newRow("lone BF between ASCII") << bytes("a\xBF"
                                                    "c")
                                           << none << "a" + kFffd + "c" << false;
    QTest::newRow("two continuation bytes") << bytes("\x80\x80") << none << kFffd + kFffd << false;
    QTest::newRow("FE") << bytes("\xFE") << none << kFffd << false;
    QTest::newRow("FF") << bytes("\xFF") << none << kFffd << false;
    QTest::newRow("FF then newline") << bytes("\xFF\n") << none << kFffd + "\\n" << false;
    // The Unicode Standard's own example (section 3.9, "U+FFFD Substitution of Maximal Subparts").
    QTest::newRow("unicode example") << bytes("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64") << none
                                     << "a" + kFffd + kFffd + kFffd + "b" + kFffd + "c" + kFffd + kFffd + "d" << false;
    QTest::newRow("invalid keeps valid neighbours")
        << utf8(0x1F600) + bytes("\xC0") + utf8(0xE9) << none << utf8(0x1F600) + kFffd + utf8(0xE9) << false;
}

void tst_JsonCodec::encode()
{
    QFETCH(QByteArray, input);
    QFETCH(int, flags);
    QFETCH(QByteArray, expected);
    QFETCH(bool, expectedValid);

    QCOMPARE(JsonCodec::quoted(input, flags), jsonString(expected));

    QByteArray out("a[");
    QCOMPARE(JsonCodec::appendQuoted(out, input, flags), expectedValid);
    QCOMPARE(out, "a[" + jsonString(expected));
    QCOMPARE(JsonCodec::isValidUtf8(input), expectedValid);
}

// JSONEncoding.test_xhr_server_encodes: the 44 code points sent raw must come
// back byte for byte as these escapes.
void tst_JsonCodec::encodeSockJsCheck()
{
    const QByteArray expected = "\"\\u200c\\u200d\\u200e\\u200f"
                                "\\u2028\\u2029\\u202a\\u202b\\u202c\\u202d\\u202e\\u202f"
                                "\\u2060\\u2061\\u2062\\u2063\\u2064\\u2065\\u2066\\u2067"
                                "\\u2068\\u2069\\u206a\\u206b\\u206c\\u206d\\u206e\\u206f"
                                "\\ufff0\\ufff1\\ufff2\\ufff3\\ufff4\\ufff5\\ufff6\\ufff7"
                                "\\ufff8\\ufff9\\ufffa\\ufffb\\ufffc\\ufffd\\ufffe\\uffff\"";
    const QByteArray input = utf8(escapedCodePoints());
    QCOMPARE(input.size(), 44 * 3);

    QByteArray out;
    QVERIFY(JsonCodec::appendQuoted(out, input));
    QCOMPARE(out, expected);
}

void tst_JsonCodec::encodeAppendsAndReserves()
{
    // Many strings appended back to back (nothing else appended in between,
    // which would grow the buffer by itself): the content must be exact and the
    // capacity must grow geometrically rather than by one string at a time.
    QByteArray frame("a[");
    QByteArray expected("a[");
    int capacityChanges = 0;
    qsizetype capacity = frame.capacity();
    for (int i = 0; i < 2000; ++i) {
        const QByteArray message = "message " + QByteArray::number(i);
        QVERIFY(JsonCodec::appendQuoted(frame, message));
        expected += '"' + message + '"';
        if (frame.capacity() != capacity) {
            ++capacityChanges;
            capacity = frame.capacity();
        }
    }
    QCOMPARE(frame, expected);
    QVERIFY2(capacityChanges < 100, QByteArray::number(capacityChanges).constData());

    // A shared copy is not modified.
    const QByteArray before = frame;
    QByteArray copy = frame;
    JsonCodec::appendQuoted(copy, "x");
    QCOMPARE(frame, before);
    QCOMPARE(copy, before + "\"x\"");
}

// ---------------------------------------------------------------------------
// Validation

void tst_JsonCodec::isValidUtf8_data()
{
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<bool>("valid");

    QTest::newRow("empty") << QByteArray() << true;
    QTest::newRow("ascii") << QByteArray("plain text") << true;
    QTest::newRow("NUL and controls") << bytes("\0\x01\x1f\x7f") << true;
    QTest::newRow("C2 80 (U+0080)") << bytes("\xC2\x80") << true;
    QTest::newRow("DF BF (U+07FF)") << bytes("\xDF\xBF") << true;
    QTest::newRow("E0 A0 80 (U+0800)") << bytes("\xE0\xA0\x80") << true;
    QTest::newRow("ED 9F BF (U+D7FF)") << bytes("\xED\x9F\xBF") << true;
    QTest::newRow("EE 80 80 (U+E000)") << bytes("\xEE\x80\x80") << true;
    QTest::newRow("EF BF BE (U+FFFE)") << bytes("\xEF\xBF\xBE") << true;
    QTest::newRow("EF BF BF (U+FFFF)") << bytes("\xEF\xBF\xBF") << true;
    QTest::newRow("F0 90 80 80 (U+10000)") << bytes("\xF0\x90\x80\x80") << true;
    QTest::newRow("F4 8F BF BF (U+10FFFF)") << bytes("\xF4\x8F\xBF\xBF") << true;
    QTest::newRow("long ascii then multi-byte") << QByteArray(21, 'x') + utf8(0x1F600) + QByteArray(9, 'y') << true;

    QTest::newRow("C0 80") << bytes("\xC0\x80") << false;
    QTest::newRow("C1 BF") << bytes("\xC1\xBF") << false;
    QTest::newRow("E0 9F BF") << bytes("\xE0\x9F\xBF") << false;
    QTest::newRow("ED A0 80") << bytes("\xED\xA0\x80") << false;
    QTest::newRow("ED BF BF") << bytes("\xED\xBF\xBF") << false;
    QTest::newRow("F0 8F BF BF") << bytes("\xF0\x8F\xBF\xBF") << false;
    QTest::newRow("F4 90 80 80") << bytes("\xF4\x90\x80\x80") << false;
    QTest::newRow("F5 80 80 80") << bytes("\xF5\x80\x80\x80") << false;
    QTest::newRow("lone 80") << bytes("\x80") << false;
    QTest::newRow("truncated C3") << bytes("\xC3") << false;
    QTest::newRow("truncated E2 82") << bytes("\xE2\x82") << false;
    QTest::newRow("truncated F0 9F 98") << bytes("\xF0\x9F\x98") << false;
    QTest::newRow("E2 then ASCII") << bytes("\xE2\x82"
                                            "a")
                                   << false;
    QTest::newRow("FE") << bytes("\xFE") << false;
    QTest::newRow("FF") << bytes("\xFF") << false;
    // Past the word-at-a-time ASCII skip.
    QTest::newRow("invalid after 16 ASCII") << QByteArray(16, 'x') + bytes("\xFF") << false;
    QTest::newRow("invalid at offset 7 of a word") << QByteArray(7, 'x') + bytes("\x80") + QByteArray(8, 'y') << false;
    QTest::newRow("truncated after long ASCII") << QByteArray(30, 'x') + bytes("\xF0\x9F") << false;
}

void tst_JsonCodec::isValidUtf8()
{
    QFETCH(QByteArray, input);
    QFETCH(bool, valid);
    QCOMPARE(JsonCodec::isValidUtf8(input), valid);
}

// ---------------------------------------------------------------------------
// Decoding

void tst_JsonCodec::decode_data()
{
    QTest::addColumn<QByteArray>("payload");
    QTest::addColumn<QByteArrayList>("expected");

    QTest::newRow("[]") << QByteArray("[]") << QByteArrayList();
    QTest::newRow("[ ] with whitespace") << QByteArray(" \t[ \r\n ]\n") << QByteArrayList();
    QTest::newRow("one") << QByteArray(R"(["a"])") << QByteArrayList{"a"};
    QTest::newRow("two") << QByteArray(R"(["a","b"])") << QByteArrayList{"a", "b"};
    QTest::newRow("whitespace everywhere")
        << QByteArray(" \r\n\t[ \n\"a\" \t,\r\n \"b\"\r\n ] \t\r\n") << QByteArrayList{"a", "b"};
    QTest::newRow("empty string") << QByteArray(R"([""])") << QByteArrayList{""};
    QTest::newRow("empty strings") << QByteArray(R"(["","",""])") << QByteArrayList{"", "", ""};
    QTest::newRow("json-looking content")
        << QByteArray(R"(["[1,{\"a\":null}]"])") << QByteArrayList{R"([1,{"a":null}])"};

    QTest::newRow("every short escape") << QByteArray(R"(["\"\\\/\b\f\n\r\t"])") << QByteArrayList{"\"\\/\b\f\n\r\t"};
    QTest::newRow("escapes between text") << QByteArray(R"(["x\ny\\z"])") << QByteArrayList{"x\ny\\z"};
    QTest::newRow("\\u lower-case hex") << QByteArray(R"(["\u00e9\u20ac\uabcd"])")
                                        << QByteArrayList{utf8({0xE9, 0x20AC, 0xABCD})};
    QTest::newRow("\\u upper-case hex") << QByteArray(R"(["\u00E9\u20AC\uABCD"])")
                                        << QByteArrayList{utf8({0xE9, 0x20AC, 0xABCD})};
    QTest::newRow("\\u mixed-case hex") << QByteArray(R"(["\uAbCd"])") << QByteArrayList{utf8(0xABCD)};
    QTest::newRow("\\u ascii") << QByteArray(R"(["\u0041\u007a"])") << QByteArrayList{"Az"};
    QTest::newRow("\\u0000 in the middle") << QByteArray(R"(["a\u0000b"])") << QByteArrayList{bytes("a\0b")};
    QTest::newRow("only \\u0000") << QByteArray(R"(["\u0000\u0000"])") << QByteArrayList{bytes("\0\0")};
    QTest::newRow("eventsource sample") << QByteArray(R"(["  \u0000\n\r "])") << QByteArrayList{bytes("  \0\n\r ")};

    QTest::newRow("surrogate pair lower-case")
        << QByteArray(R"(["\ud83d\ude00"])") << QByteArrayList{bytes("\xF0\x9F\x98\x80")};
    QTest::newRow("surrogate pair upper-case")
        << QByteArray(R"(["\uD83D\uDE00"])") << QByteArrayList{bytes("\xF0\x9F\x98\x80")};
    QTest::newRow("surrogate pair U+10000")
        << QByteArray(R"(["\uD800\uDC00"])") << QByteArrayList{bytes("\xF0\x90\x80\x80")};
    QTest::newRow("surrogate pair U+10FFFF")
        << QByteArray(R"(["\uDBFF\uDFFF"])") << QByteArrayList{bytes("\xF4\x8F\xBF\xBF")};
    QTest::newRow("lone high") << QByteArray(R"(["\uD800"])") << QByteArrayList{kFffd};
    QTest::newRow("lone high then text") << QByteArray(R"(["\uD83Dab"])") << QByteArrayList{kFffd + "ab"};
    QTest::newRow("lone high then short escape") << QByteArray(R"(["\uD83D\n"])") << QByteArrayList{kFffd + "\n"};
    QTest::newRow("lone high then BMP escape") << QByteArray(R"(["\uD83D\u0041"])") << QByteArrayList{kFffd + "A"};
    QTest::newRow("high high low") << QByteArray(R"(["\uD800\uD83D\uDE00"])")
                                   << QByteArrayList{kFffd + bytes("\xF0\x9F\x98\x80")};
    QTest::newRow("lone low") << QByteArray(R"(["\uDC00"])") << QByteArrayList{kFffd};
    QTest::newRow("low then high") << QByteArray(R"(["\uDE00\uD83D"])") << QByteArrayList{kFffd + kFffd};
    QTest::newRow("lone high at end of one message")
        << QByteArray(R"(["\uD83D","\uDE00"])") << QByteArrayList{kFffd, kFffd};

    QTest::newRow("escaped noncharacters")
        << QByteArray(R"(["\uFFFE\uffff\uFDD0"])") << QByteArrayList{bytes("\xEF\xBF\xBE\xEF\xBF\xBF\xEF\xB7\x90")};
    QTest::newRow("raw noncharacters") << QByteArray("[\"\xEF\xBF\xBE\xEF\xBF\xBF\"]")
                                       << QByteArrayList{bytes("\xEF\xBF\xBE\xEF\xBF\xBF")};
    QTest::newRow("raw multi-byte") << "[\"" + utf8({0xE9, 0x20AC, 0x2028, 0x1F600, 0x10FFFF}) + "\"]"
                                    << QByteArrayList{utf8({0xE9, 0x20AC, 0x2028, 0x1F600, 0x10FFFF})};
    QTest::newRow("raw DEL") << bytes("[\"\x7f\"]") << QByteArrayList{bytes("\x7f")};
    QTest::newRow("raw slash and html") << QByteArray(R"(["</script>"])") << QByteArrayList{"</script>"};
    QTest::newRow("escaped html") << QByteArray(R"(["\u003c/script\u003E"])") << QByteArrayList{"</script>"};
    QTest::newRow("many messages") << QByteArray(R"(["1","2","3","4","5","6","7","8"])")
                                   << QByteArrayList{"1", "2", "3", "4", "5", "6", "7", "8"};
    QTest::newRow("long message") << "[\"" + QByteArray(100000, 'x') + "\"]" << QByteArrayList{QByteArray(100000, 'x')};
}

void tst_JsonCodec::decode()
{
    QFETCH(QByteArray, payload);
    QFETCH(QByteArrayList, expected);

    QByteArrayList messages{"left over"};
    QCOMPARE(JsonCodec::decodeMessages(payload, &messages), JsonCodec::DecodeResult::Ok);
    QCOMPARE(messages.size(), expected.size());
    for (qsizetype i = 0; i < messages.size(); ++i)
        QCOMPARE(messages.at(i), expected.at(i));
}

void tst_JsonCodec::decodeEmpty_data()
{
    QTest::addColumn<QByteArray>("payload");

    QTest::newRow("null") << QByteArray();
    QTest::newRow("empty") << QByteArray("");
    QTest::newRow("space") << QByteArray(" ");
    QTest::newRow("spaces") << QByteArray("    ");
    QTest::newRow("CRLF") << QByteArray("\r\n");
    QTest::newRow("all whitespace") << QByteArray(" \t\r\n \t");
}

void tst_JsonCodec::decodeEmpty()
{
    QFETCH(QByteArray, payload);

    QByteArrayList messages{"left over"};
    QCOMPARE(JsonCodec::decodeMessages(payload, &messages), JsonCodec::DecodeResult::Empty);
    QVERIFY(messages.isEmpty());
}

void tst_JsonCodec::decodeBroken_data()
{
    QTest::addColumn<QByteArray>("payload");

    // Not an array of strings.
    QTest::newRow("lone string") << QByteArray(R"("a")");
    QTest::newRow("number") << QByteArray("1");
    QTest::newRow("null") << QByteArray("null");
    QTest::newRow("object") << QByteArray("{}");
    QTest::newRow("object with string") << QByteArray(R"({"a":"b"})");
    QTest::newRow("word") << QByteArray("abc");
    QTest::newRow("number element") << QByteArray("[1]");
    QTest::newRow("number after string") << QByteArray(R"(["a",1])");
    QTest::newRow("null element") << QByteArray("[null]");
    QTest::newRow("true element") << QByteArray("[true]");
    QTest::newRow("object element") << QByteArray(R"([{"a":"b"}])");
    QTest::newRow("nested array") << QByteArray(R"([["a"]])");
    QTest::newRow("nested array after string") << QByteArray(R"(["a",["b"]])");
    QTest::newRow("nested empty array") << QByteArray("[[]]");
    QTest::newRow("single quotes") << QByteArray("['a']");

    // Commas and brackets.
    QTest::newRow("trailing comma") << QByteArray(R"(["a",])");
    QTest::newRow("trailing comma, space") << QByteArray(R"(["a" , ])");
    QTest::newRow("leading comma") << QByteArray(R"([,"a"])");
    QTest::newRow("only comma") << QByteArray("[,]");
    QTest::newRow("double comma") << QByteArray(R"(["a",,"b"])");
    QTest::newRow("missing comma") << QByteArray(R"(["a" "b"])");
    QTest::newRow("colon") << QByteArray(R"(["a":"b"])");
    QTest::newRow("open bracket only") << QByteArray("[");
    QTest::newRow("open bracket, spaces") << QByteArray("[   ");
    QTest::newRow("missing close bracket") << QByteArray(R"(["a")");
    QTest::newRow("missing close after comma") << QByteArray(R"(["a",)");
    QTest::newRow("close bracket only") << QByteArray("]");

    // Trailing garbage.
    QTest::newRow("garbage after array") << QByteArray(R"(["a"]x)");
    QTest::newRow("second array") << QByteArray(R"(["a"]["b"])");
    QTest::newRow("extra close bracket") << QByteArray(R"(["a"]])");
    QTest::newRow("garbage after []") << QByteArray("[] x");
    QTest::newRow("NUL after array") << bytes("[]\0");
    QTest::newRow("garbage before") << QByteArray(R"(x["a"])");
    QTest::newRow("form feed is not whitespace") << QByteArray("\f[]");
    QTest::newRow("vertical tab is not whitespace") << QByteArray("[]\v");
    QTest::newRow("BOM") << bytes("\xEF\xBB\xBF[]");
    QTest::newRow("non-ASCII after array") << bytes("[]\xC3\xA9");

    // Strings.
    QTest::newRow("unterminated") << QByteArray(R"(["a)");
    QTest::newRow("unterminated, escaped quote") << QByteArray(R"(["a\"])");
    QTest::newRow("unterminated, backslash at end") << QByteArray(R"(["a\)");
    QTest::newRow("unterminated, empty") << QByteArray(R"([")");
    QTest::newRow("unknown escape \\x") << QByteArray(R"(["\x41"])");
    QTest::newRow("unknown escape \\a") << QByteArray(R"(["\a"])");
    QTest::newRow("unknown escape \\'") << QByteArray(R"(["\'"])");
    QTest::newRow("unknown escape \\U") << QByteArray(R"(["\U0041"])");
    QTest::newRow("unknown escape \\0") << QByteArray(R"(["\0"])");
    QTest::newRow("escaped newline byte") << QByteArray("[\"\\\n\"]");
    QTest::newRow("short \\u, 3 digits") << QByteArray(R"(["\u123"])");
    QTest::newRow("short \\u, 2 digits") << QByteArray(R"(["\u12"])");
    QTest::newRow("short \\u, none") << QByteArray(R"(["\u"])");
    QTest::newRow("short \\u at end of input") << QByteArray(R"(["\u12)");
    QTest::newRow("\\u non-hex") << QByteArray(R"(["\u12g4"])");
    QTest::newRow("\\u with sign") << QByteArray(R"(["\u+123"])");
    QTest::newRow("high surrogate, short \\u") << QByteArray(R"(["\uD83D\uDE0"])");
    QTest::newRow("high surrogate, bad hex") << QByteArray(R"(["\uD83D\uDEZ0"])");
    QTest::newRow("broken second message") << QByteArray(R"(["ok","\q"])");

    // Raw control bytes inside a string.
    for (int c = 0; c < 0x20; ++c)
        QTest::addRow("raw control 0x%02X", c) << "[\"a" + QByteArray(1, char(c)) + "b\"]";

    // Invalid UTF-8, inside strings and outside.
    const struct
    {
        const char *name;
        QByteArray data;
    } invalid[] = {
        {"overlong C0 80", bytes("\xC0\x80")},
        {"overlong C1 BF", bytes("\xC1\xBF")},
        {"overlong E0 80 AF", bytes("\xE0\x80\xAF")},
        {"overlong F0 80 80 80", bytes("\xF0\x80\x80\x80")},
        {"surrogate ED A0 80", bytes("\xED\xA0\x80")},
        {"surrogate ED BF BF", bytes("\xED\xBF\xBF")},
        {"surrogate pair as UTF-8", bytes("\xED\xA0\xBD\xED\xB8\x80")},
        {"above U+10FFFF F4 90 80 80", bytes("\xF4\x90\x80\x80")},
        {"F5 80 80 80", bytes("\xF5\x80\x80\x80")},
        {"stray 80", bytes("\x80")},
        {"stray BF", bytes("\xBF")},
        {"truncated C3", bytes("\xC3")},
        {"truncated E2 82", bytes("\xE2\x82")},
        {"truncated F0 9F 98", bytes("\xF0\x9F\x98")},
        {"FE", bytes("\xFE")},
        {"FF", bytes("\xFF")},
    };
    for (const auto &row : invalid) {
        QTest::addRow("in string: %s", row.name) << "[\"a" + row.data + "b\"]";
        QTest::addRow("at string end: %s", row.name) << "[\"a" + row.data + "\"]";
        QTest::addRow("outside string: %s", row.name) << "[\"a\"" + row.data + "]";
    }
    // A truncated sequence must not swallow the closing quote.
    QTest::newRow("truncated before quote, end") << bytes("[\"\xE2\x82\"");
}

void tst_JsonCodec::decodeBroken()
{
    QFETCH(QByteArray, payload);

    QByteArrayList messages{"left over"};
    QCOMPARE(JsonCodec::decodeMessages(payload, &messages), JsonCodec::DecodeResult::Broken);
    QVERIFY(messages.isEmpty());
}

// JSONEncoding.test_xhr_server_decodes: one message written entirely as
// \uXXXX escapes must decode to the same characters, and survive the way back.
void tst_JsonCodec::decodeSockJsCheck()
{
    const Range ranges[] = {{0x0000, 0x001F}, {0x007F, 0x009F}, {0x2000, 0x20FF}, {0xFFF0, 0xFFFF}};
    std::vector<char32_t> codePoints;
    QByteArray escaped;
    int i = 0;
    for (const Range &range : ranges) {
        for (char32_t cp = range.first; cp <= range.last; ++cp) {
            codePoints.push_back(cp);
            // Alternate the hex case: clients may write either.
            escaped += (i++ % 2) ? upperEscape(cp) : lowerEscape(cp);
        }
    }
    const QByteArray expected = utf8(codePoints);
    QVERIFY(expected.contains('\0'));

    QByteArrayList messages;
    QCOMPARE(JsonCodec::decodeMessages("[\"" + escaped + "\"]", &messages), JsonCodec::DecodeResult::Ok);
    QCOMPARE(messages.size(), 1);
    QCOMPARE(messages.first(), expected);

    QByteArray encoded;
    QVERIFY(JsonCodec::appendQuoted(encoded, messages.first()));
    QByteArrayList back;
    QCOMPARE(JsonCodec::decodeMessages('[' + encoded + ']', &back), JsonCodec::DecodeResult::Ok);
    QCOMPARE(back.size(), 1);
    QCOMPARE(back.first(), expected);
}

// ---------------------------------------------------------------------------
// Round trip

void tst_JsonCodec::roundTrip_data()
{
    QTest::addColumn<QByteArray>("text");

    // Fixed seed: a failure names its row and reproduces.
    QRandomGenerator random(20240611);
    const auto pick = [&random](char32_t first, char32_t last) {
        return char32_t(first + random.bounded(quint32(last - first + 1)));
    };
    for (int row = 0; row < 3000; ++row) {
        std::vector<char32_t> codePoints;
        const int length = int(random.bounded(48));
        for (int i = 0; i < length; ++i) {
            char32_t cp = 0;
            switch (random.bounded(9)) {
            case 0:
            case 1:
            case 2:
                cp = pick(0x20, 0x7E);
                break; // printable ASCII
            case 3:
                cp = pick(0x00, 0x1F);
                break; // C0 controls
            case 4:
                cp = pick(0x7F, 0x7FF);
                break; // 2-byte forms
            case 5:
                cp = pick(0x800, 0xD7FF);
                break; // 3-byte, below surrogates
            case 6:
                cp = pick(0xE000, 0xFFFF);
                break; // 3-byte, above them
            case 7:
                cp = pick(0x10000, 0x10FFFF);
                break; // astral
            default: {
                // Characters with a special meaning here, and the escaped ranges.
                static const char32_t special[] = {'"',    '\\',   '/',    '<',    '>',    0x7F,   0x200B, 0x200C,
                                                   0x200F, 0x2010, 0x2027, 0x2028, 0x202F, 0x2030, 0x205F, 0x2060,
                                                   0x206F, 0x2070, 0xFFEF, 0xFFF0, 0xFFFD, 0xFFFE, 0xFFFF, 0x1F600};
                cp = special[random.bounded(quint32(std::size(special)))];
                break;
            }
            }
            codePoints.push_back(cp);
        }
        QTest::addRow("random %d", row) << utf8(codePoints);
    }
}

void tst_JsonCodec::roundTrip()
{
    QFETCH(QByteArray, text);
    QVERIFY(JsonCodec::isValidUtf8(text));

    for (int flags : {int(JsonCodec::NoFlags), int(JsonCodec::EscapeHtml)}) {
        QByteArray json;
        QVERIFY(JsonCodec::appendQuoted(json, text, flags));
        QVERIFY(JsonCodec::isValidUtf8(json));
        for (char c : json)
            QVERIFY2(uchar(c) >= 0x20, "raw control character in the output");
        if (flags & JsonCodec::EscapeHtml)
            QVERIFY(!json.contains('<') && !json.contains('>'));

        QByteArrayList messages;
        QCOMPARE(JsonCodec::decodeMessages('[' + json + ']', &messages), JsonCodec::DecodeResult::Ok);
        QCOMPARE(messages.size(), 1);
        QCOMPARE(messages.first(), text);

        // An independent parser must read the same string.
        QJsonParseError error;
        const QJsonDocument document = QJsonDocument::fromJson('[' + json + ']', &error);
        QCOMPARE(error.error, QJsonParseError::NoError);
        QCOMPARE(document.array().at(0).toString().toUtf8(), text);
    }
}

// The encoder and the decoder skip plain ASCII in blocks of 16 bytes: a
// byte that needs attention must be found wherever it falls in a block, at
// its edges and in the tail after the last whole block. Encoding is per
// character, so the encoding of a string is the encodings of its pieces
// put together; decoding gives the string back; invalid UTF-8 is rejected
// by the decoder wherever it is.
void tst_JsonCodec::specialBytesAtEveryPosition()
{
    const QByteArrayList specials = {
        QByteArray("\""), QByteArray("\\"), QByteArray("\n"),   QByteArray(1, '\0'), QByteArray("\x1f"),
        QByteArray("<"),  QByteArray(">"),  QByteArray("\x7f"), QByteArray(" "),     QByteArray("~"),
        utf8(0xE9),       utf8(0x2028),     utf8(0xFFF9),       utf8(0x1F600),
    };
    const auto inner = [](const QByteArray &text, int flags) {
        QByteArray json;
        JsonCodec::appendQuoted(json, text, flags);
        return json.mid(1, json.size() - 2);
    };
    for (const int length : {15, 16, 17, 31, 32, 33, 47, 48, 49}) {
        for (int at = 0; at < length; ++at) {
            for (const QByteArray &special : specials) {
                const QByteArray prefix(at, 'a');
                const QByteArray suffix(qMax(0, length - at - 1), 'z'); // "\\z" is no JSON escape
                const QByteArray text = prefix + special + suffix;
                for (const int flags : {int(JsonCodec::NoFlags), int(JsonCodec::EscapeHtml)}) {
                    QByteArray json;
                    QVERIFY(JsonCodec::appendQuoted(json, text, flags));
                    QCOMPARE(json, '"' + prefix + inner(special, flags) + suffix + '"');
                    QByteArrayList messages;
                    QCOMPARE(JsonCodec::decodeMessages('[' + json + ']', &messages), JsonCodec::DecodeResult::Ok);
                    QCOMPARE(messages, QByteArrayList{text});
                }
                // The same bytes raw inside a JSON string: controls and
                // unescaped quotes break it, the rest decodes to itself.
                QByteArrayList messages;
                const JsonCodec::DecodeResult result = JsonCodec::decodeMessages("[\"" + text + "\"]", &messages);
                const bool breaks = special == "\"" || special == "\\" || uchar(special.at(0)) < 0x20;
                QCOMPARE(result, breaks ? JsonCodec::DecodeResult::Broken : JsonCodec::DecodeResult::Ok);
                if (!breaks)
                    QCOMPARE(messages, QByteArrayList{text});
            }
            // Invalid UTF-8 there: replaced when encoding, rejected when decoding.
            const QByteArray broken = QByteArray(at, 'a') + "\xff" + QByteArray(qMax(0, length - at - 1), 'b');
            QByteArray json;
            QVERIFY(!JsonCodec::appendQuoted(json, broken, JsonCodec::NoFlags));
            QCOMPARE(json,
                     '"' + QByteArray(at, 'a') + "\xEF\xBF\xBD" + QByteArray(qMax(0, length - at - 1), 'b') + '"');
            QByteArrayList messages;
            QCOMPARE(JsonCodec::decodeMessages("[\"" + broken + "\"]", &messages), JsonCodec::DecodeResult::Broken);
        }
    }
}

QTEST_GUILESS_MAIN(tst_JsonCodec)
#include "tst_jsoncodec.moc"
