#include "http/httpparser.h"

#include <QRandomGenerator>
#include <QTest>

#include <ctime>

using namespace SockJsProxy;

using Headers = QList<QPair<QByteArray, QByteArray>>;
using Status = HttpParser::Status;

Q_DECLARE_METATYPE(SockJsProxy::HttpParser::Limits)
Q_DECLARE_METATYPE(SockJsProxy::HttpParser::Status)

namespace {

// How run() slices its input; every good and bad row runs once per mode and
// must give the same result. LargeSlices leaves whole requests plus a partial
// one in the buffer, which makes the parser compact it.
enum FeedMode { Whole, ByteByByte, RandomSlices, LargeSlices };
const char *const feedModeNames[] = {"whole", "bytes", "slices", "large slices"};

struct Outcome
{
    QList<HttpRequest> requests;
    Status last = Status::NeedMore;
    int errorStatus = 0;
    QByteArray errorReason;
    qsizetype buffered = 0;
    bool midRequest = false;
};

// Feeds input as mode says, draining complete requests after every feed.
Outcome run(const QByteArray &input, int mode, const HttpParser::Limits &limits = {},
            const HttpParser::LimitsLookup &lookup = {})
{
    HttpParser parser(limits);
    parser.setLimitsLookup(lookup);
    QRandomGenerator random(20240611); // fixed seed: failures must reproduce
    Outcome out;
    const auto drain = [&] {
        while ((out.last = parser.next()) == Status::Complete)
            out.requests.append(parser.takeRequest());
    };
    qsizetype pos = 0;
    do {
        qsizetype n = input.size() - pos;
        if (mode == ByteByByte)
            n = qMin<qsizetype>(n, 1);
        else if (mode == RandomSlices)
            n = qMin<qsizetype>(n, random.bounded(1, 17));
        else if (mode == LargeSlices)
            n = qMin<qsizetype>(n, random.bounded(4096, 16384));
        parser.feed(input.mid(pos, n));
        pos += n;
        drain();
    } while (pos < input.size() && out.last != Status::Error);
    out.errorStatus = parser.errorStatus();
    out.errorReason = parser.errorReason();
    out.buffered = parser.bufferedBytes();
    out.midRequest = parser.isMidRequest();
    return out;
}

HttpParser::Limits smallLimits()
{
    HttpParser::Limits limits;
    limits.maxRequestLine = 32;
    limits.maxHeaderBytes = 64;
    limits.maxHeaderCount = 4;
    limits.maxBodyBytes = 10;
    return limits;
}

// "GET /aaa… HTTP/1.1" of exactly length bytes, without line end.
QByteArray requestLineOf(qsizetype length)
{
    const QByteArray fixed = "GET / HTTP/1.1";
    return "GET /" + QByteArray(length - fixed.size(), 'a') + " HTTP/1.1";
}

// "X: vvv…\r\n" of exactly length bytes including the CRLF.
QByteArray fieldLineOf(qsizetype length, char name = 'X')
{
    return QByteArray(1, name) + ": " + QByteArray(length - 5, 'v') + "\r\n";
}

QByteArray repeated(const QByteArray &s, int count)
{
    QByteArray out;
    for (int i = 0; i < count; ++i)
        out += s;
    return out;
}

// Per-path limits as a server sets them: smallLimits() under /small, the
// defaults elsewhere. The request-line limit it returns is absurdly low, to
// show that it is ignored. Records the paths it was asked about.
HttpParser::LimitsLookup smallUnderSmall(QList<QByteArray> *paths = nullptr)
{
    return [paths](QByteArrayView path) {
        if (paths)
            paths->append(path.toByteArray());
        HttpParser::Limits limits = path.startsWith("/small") ? smallLimits() : HttpParser::Limits();
        limits.maxRequestLine = 1;
        return limits;
    };
}

} // namespace

class tst_HttpParser : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void good_data();
    void good();
    void bad_data();
    void bad();
    void limits_data();
    void limits();
    void pipelining_data();
    void pipelining();
    void manyPipelined();
    void errorAfterGoodRequest();
    void errorIsSticky();
    void nextIsIdempotent();
    void bodyTooLargeBeforeBody_data();
    void bodyTooLargeBeforeBody();
    void hugeStreamRejectedEarly_data();
    void hugeStreamRejectedEarly();
    void blankLinesAreNotBuffered();
    void byteByByteIsLinear_data();
    void byteByByteIsLinear();
    void isMidRequest_data();
    void isMidRequest();
    void parseHead_data();
    void parseHead();
    void perRequestLimits_data();
    void perRequestLimits();
    void lookupLeavesRequestLine();
    void lookupGetsPath_data();
    void lookupGetsPath();
    void peekHeadWithLookup_data();
    void peekHeadWithLookup();

private:
    void checkOutcome();
};

// ---------------------------------------------------------------------------
// Good requests

void tst_HttpParser::good_data()
{
    QTest::addColumn<int>("mode");
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QByteArray>("target");
    QTest::addColumn<QByteArray>("path");
    QTest::addColumn<QByteArray>("query");
    QTest::addColumn<int>("minor");
    QTest::addColumn<Headers>("headers");
    QTest::addColumn<QByteArray>("body");

    const auto add = [](const char *name, const QByteArray &input, const QByteArray &method, const QByteArray &target,
                        const QByteArray &path, const QByteArray &query, int minor, const Headers &headers,
                        const QByteArray &body) {
        for (int mode : {Whole, ByteByByte, RandomSlices}) {
            QTest::addRow("%s [%s]", name, feedModeNames[mode])
                << mode << input << method << target << path << query << minor << headers << body;
        }
    };

    add("GET", "GET /echo/info?t=1 HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n", "GET", "/echo/info?t=1",
        "/echo/info", "t=1", 1, {{"Host", "localhost"}, {"Accept", "*/*"}}, "");
    add("POST with Content-Length",
        "POST /echo/000/abc/xhr_send HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n"
        "[\"a\",\"b c\"]",
        "POST", "/echo/000/abc/xhr_send", "/echo/000/abc/xhr_send", "", 1, {{"Host", "h"}, {"Content-Length", "11"}},
        "[\"a\",\"b c\"]");
    add("Content-Length 0", "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "POST", "/", "/", "", 1,
        {{"Content-Length", "0"}}, "");
    add("Content-Length with leading zeros", "POST / HTTP/1.1\r\nContent-Length: 007\r\n\r\n1234567", "POST", "/", "/",
        "", 1, {{"Content-Length", "007"}}, "1234567");
    add("identical Content-Length twice", "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
        "POST", "/", "/", "", 1, {{"Content-Length", "3"}, {"Content-Length", "3"}}, "abc");
    add("chunked with extensions and trailers",
        "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5;name=value\r\nhello\r\n6 ; a=b;c\r\n world\r\nA\r\n0123456789\r\n"
        "0;last\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n",
        "POST", "/c", "/c", "", 1, {{"Transfer-Encoding", "chunked"}}, "hello world0123456789");
    add("chunked, mixed case and bare LF",
        "POST /c HTTP/1.1\nTransfer-Encoding: ChUnKeD\n\n3\nabc\nb\nhello world\n0\n\n", "POST", "/c", "/c", "", 1,
        {{"Transfer-Encoding", "ChUnKeD"}}, "abchello world");
    add("chunked, leading zeros in size",
        "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        "00000000000000000003\r\nabc\r\n0000\r\n\r\n",
        "POST", "/c", "/c", "", 1, {{"Transfer-Encoding", "chunked"}}, "abc");
    add("chunked, empty list elements", "POST /c HTTP/1.1\r\nTransfer-Encoding: , chunked ,\r\n\r\n1\r\nx\r\n0\r\n\r\n",
        "POST", "/c", "/c", "", 1, {{"Transfer-Encoding", ", chunked ,"}}, "x");
    add("chunked, only the last chunk", "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "POST", "/c",
        "/c", "", 1, {{"Transfer-Encoding", "chunked"}}, "");
    add("HTTP/1.0 GET", "GET /a HTTP/1.0\r\n\r\n", "GET", "/a", "/a", "", 0, {}, "");
    add("HTTP/1.0 POST", "POST /a HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi", "POST", "/a", "/a", "", 0,
        {{"Content-Length", "2"}}, "hi");
    add("absolute-form", "GET http://example.com:8080/echo/info?x=1&y=2 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
        "GET", "http://example.com:8080/echo/info?x=1&y=2", "/echo/info", "x=1&y=2", 1, {{"Host", "example.com:8080"}},
        "");
    add("absolute-form without path", "GET HTTP://example.com?q HTTP/1.1\r\n\r\n", "GET", "HTTP://example.com?q", "/",
        "q", 1, {}, "");
    add("absolute-form https", "GET https://h/p HTTP/1.1\r\n\r\n", "GET", "https://h/p", "/p", "", 1, {}, "");
    add("OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", "OPTIONS", "*", "*", "", 1, {{"Host", "h"}}, "");
    add("mixed-case header names", "PUT /x HTTP/1.1\r\nhOsT: h\r\nCONTENT-length: 3\r\nx-CUSTOM-thing: v\r\n\r\nabc",
        "PUT", "/x", "/x", "", 1, {{"hOsT", "h"}, {"CONTENT-length", "3"}, {"x-CUSTOM-thing", "v"}}, "abc");
    add("leading CRLFs", "\r\n\r\nGET / HTTP/1.1\r\n\r\n", "GET", "/", "/", "", 1, {}, "");
    add("leading bare LFs", "\n\nGET / HTTP/1.1\n\n", "GET", "/", "/", "", 1, {}, "");
    add("bare LF line ends", "POST /x HTTP/1.1\nContent-Length: 2\n\nhi", "POST", "/x", "/x", "", 1,
        {{"Content-Length", "2"}}, "hi");
    add("values trimmed of spaces and tabs", "GET / HTTP/1.1\r\nX-A:   a \t b \t\r\nX-B:\r\nX-C:\t \r\nX-D:v\r\n\r\n",
        "GET", "/", "/", "", 1, {{"X-A", "a \t b"}, {"X-B", ""}, {"X-C", ""}, {"X-D", "v"}}, "");
    add("colon in value", "GET / HTTP/1.1\r\nHost: example.com:80\r\n\r\n", "GET", "/", "/", "", 1,
        {{"Host", "example.com:80"}}, "");
    add("obs-text in value", "GET / HTTP/1.1\r\nX-Name: caf\xc3\xa9\r\n\r\n", "GET", "/", "/", "", 1,
        {{"X-Name", "caf\xc3\xa9"}}, "");
    add("query split at the first '?'", "GET /p?a=1?b HTTP/1.1\r\n\r\n", "GET", "/p?a=1?b", "/p", "a=1?b", 1, {}, "");
    add("empty query", "GET /p? HTTP/1.1\r\n\r\n", "GET", "/p?", "/p", "", 1, {}, "");
    add("path not percent-decoded", "GET /a%20b/c%2F?x=%41 HTTP/1.1\r\n\r\n", "GET", "/a%20b/c%2F?x=%41", "/a%20b/c%2F",
        "x=%41", 1, {}, "");
    add("token methods are case-sensitive and kept", "m-search /x HTTP/1.1\r\n\r\n", "m-search", "/x", "/x", "", 1, {},
        "");
}

void tst_HttpParser::good()
{
    QFETCH(int, mode);
    QFETCH(QByteArray, input);
    QFETCH(QByteArray, method);
    QFETCH(QByteArray, target);
    QFETCH(QByteArray, path);
    QFETCH(QByteArray, query);
    QFETCH(int, minor);
    QFETCH(Headers, headers);
    QFETCH(QByteArray, body);

    const Outcome out = run(input, mode);
    QVERIFY2(out.last == Status::NeedMore, out.errorReason.constData());
    QCOMPARE(out.requests.size(), 1);
    QCOMPARE(out.buffered, 0);
    QVERIFY(!out.midRequest);

    const HttpRequest &r = out.requests.first();
    QCOMPARE(r.method, method);
    QCOMPARE(r.target, target);
    QCOMPARE(r.path, path);
    QCOMPARE(r.query, query);
    QCOMPARE(r.versionMajor, 1);
    QCOMPARE(r.versionMinor, minor);
    QCOMPARE(r.headers, headers);
    QCOMPARE(r.body, body);
    for (const auto &h : headers) {
        // Lookups ignore case; present-but-empty values are not null.
        QVERIFY(r.hasHeader(h.first.toUpper()));
        QVERIFY(!r.header(h.first.toLower()).isNull());
    }
}

// ---------------------------------------------------------------------------
// Bad requests and limits

void tst_HttpParser::checkOutcome()
{
    QFETCH(int, mode);
    QFETCH(QByteArray, input);
    QFETCH(HttpParser::Limits, limits);
    QFETCH(int, status);

    const Outcome out = run(input, mode, limits);
    if (status == 0) {
        QVERIFY2(out.last == Status::NeedMore, out.errorReason.constData());
        QCOMPARE(out.requests.size(), 1);
        QCOMPARE(out.buffered, 0);
        return;
    }
    QCOMPARE(out.last, Status::Error);
    QVERIFY2(out.errorStatus == status,
             qPrintable(QStringLiteral("got %1 (%2)").arg(out.errorStatus).arg(QString::fromLatin1(out.errorReason))));
    QVERIFY(!out.errorReason.isEmpty());
    QCOMPARE(out.requests.size(), 0);
    QCOMPARE(out.buffered, 0); // nothing is kept after an error
    QVERIFY(!out.midRequest);
}

static void addOutcomeColumns()
{
    QTest::addColumn<int>("mode");
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<HttpParser::Limits>("limits");
    QTest::addColumn<int>("status"); // 0: one complete request
}

static void addOutcome(const char *name, const QByteArray &input, int status, const HttpParser::Limits &limits = {})
{
    for (int mode : {Whole, ByteByByte, RandomSlices})
        QTest::addRow("%s [%s]", name, feedModeNames[mode]) << mode << input << limits << status;
}

void tst_HttpParser::bad_data()
{
    addOutcomeColumns();
    const QByteArray get = "GET / HTTP/1.1\r\n";
    const QByteArray post = "POST / HTTP/1.1\r\n";
    const QByteArray chunkedPost = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";

    // Request line.
    addOutcome("method not a token", "G(T / HTTP/1.1\r\n\r\n", 400);
    addOutcome("method with a colon", "GET: / HTTP/1.1\r\n\r\n", 400);
    addOutcome("empty method", " / HTTP/1.1\r\n\r\n", 400);
    addOutcome("two spaces", "GET  / HTTP/1.1\r\n\r\n", 400);
    addOutcome("tabs as separators", "GET\t/\tHTTP/1.1\r\n\r\n", 400);
    addOutcome("trailing space", "GET / HTTP/1.1 \r\n\r\n", 400);
    addOutcome("four parts", "GET / x HTTP/1.1\r\n\r\n", 400);
    addOutcome("HTTP/0.9 simple request (no version)", "GET /\r\n\r\n", 400);
    addOutcome("only garbage", "hello\r\n\r\n", 400);
    addOutcome("bare CR in request line", "GET /\r HTTP/1.1\r\n\r\n", 400);
    // Versions: well-formed but not 1.0/1.1 -> 505, malformed -> 400.
    addOutcome("HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", 505);
    addOutcome("HTTP/0.9 version", "GET / HTTP/0.9\r\n\r\n", 505);
    addOutcome("HTTP/1.2", "GET / HTTP/1.2\r\n\r\n", 505);
    addOutcome("HTTP/3.0", "GET / HTTP/3.0\r\n\r\n", 505);
    addOutcome("HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505);
    addOutcome("version HTTP/1", "GET / HTTP/1\r\n\r\n", 400);
    addOutcome("version HTTP/11", "GET / HTTP/11\r\n\r\n", 400);
    addOutcome("version HTTP/1.10", "GET / HTTP/1.10\r\n\r\n", 400);
    addOutcome("version HTTP/10.0", "GET / HTTP/10.0\r\n\r\n", 400);
    addOutcome("version HTTP/1.x", "GET / HTTP/1.x\r\n\r\n", 400);
    addOutcome("version lowercase", "GET / http/1.1\r\n\r\n", 400);
    addOutcome("version garbage", "GET / FOO/1.1\r\n\r\n", 400);
    // Targets.
    addOutcome("relative target", "GET foo HTTP/1.1\r\n\r\n", 400);
    addOutcome("'*' with GET", "GET * HTTP/1.1\r\n\r\n", 400);
    addOutcome("absolute-form without host", "GET http:///x HTTP/1.1\r\n\r\n", 400);
    addOutcome("absolute-form other scheme", "GET ftp://h/x HTTP/1.1\r\n\r\n", 400);
    addOutcome("authority-form", "CONNECT h:443 HTTP/1.1\r\n\r\n", 400);
    addOutcome("control byte in target", "GET /a\x01z HTTP/1.1\r\n\r\n", 400);
    addOutcome("DEL in target", "GET /a\x7fz HTTP/1.1\r\n\r\n", 400);

    // Header fields.
    addOutcome("header without colon", get + "Host\r\n\r\n", 400);
    addOutcome("empty header name", get + ": x\r\n\r\n", 400);
    addOutcome("space before colon", get + "Host : x\r\n\r\n", 400);
    addOutcome("tab before colon", get + "Host\t: x\r\n\r\n", 400);
    addOutcome("header name not a token", get + "X(y): z\r\n\r\n", 400);
    addOutcome("space inside header name", get + "X y: z\r\n\r\n", 400);
    addOutcome("obs-fold with space", get + "X: a\r\n b\r\n\r\n", 400);
    addOutcome("obs-fold with tab", get + "X: a\r\n\tb\r\n\r\n", 400);
    addOutcome("whitespace before first header", get + " X: a\r\n\r\n", 400);
    addOutcome("NUL in header value", get + QByteArray("X: a\0b\r\n\r\n", 10), 400);
    addOutcome("bare CR in header value", get + "X: a\rb\r\n\r\n", 400);

    // Content-Length.
    addOutcome("Content-Length not a number", post + "Content-Length: abc\r\n\r\n", 400);
    addOutcome("Content-Length negative", post + "Content-Length: -1\r\n\r\n", 400);
    addOutcome("Content-Length with plus", post + "Content-Length: +5\r\n\r\nhello", 400);
    addOutcome("Content-Length empty", post + "Content-Length:\r\n\r\n", 400);
    addOutcome("Content-Length two numbers", post + "Content-Length: 1 2\r\n\r\n", 400);
    addOutcome("Content-Length list", post + "Content-Length: 5, 5\r\n\r\nhello", 400);
    addOutcome("Content-Length hex", post + "Content-Length: 0x10\r\n\r\n", 400);
    addOutcome("Content-Length overflow", post + "Content-Length: 99999999999999999999999\r\n\r\n", 400);
    addOutcome("Content-Length conflicting", post + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400);
    addOutcome("Content-Length over limit", post + "Content-Length: 1048577\r\n\r\n", 413);
    addOutcome("Content-Length int64 max", post + "Content-Length: 9223372036854775807\r\n\r\n", 413);

    // Transfer-Encoding.
    addOutcome("Transfer-Encoding and Content-Length",
               post + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", 400);
    addOutcome("Content-Length and Transfer-Encoding",
               post + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
    addOutcome("Transfer-Encoding gzip", post + "Transfer-Encoding: gzip\r\n\r\n", 501);
    addOutcome("Transfer-Encoding identity", post + "Transfer-Encoding: identity\r\n\r\n", 501);
    addOutcome("Transfer-Encoding gzip, chunked", post + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501);
    addOutcome("Transfer-Encoding chunked, gzip", post + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400);
    addOutcome("Transfer-Encoding chunked twice", post + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400);
    addOutcome("Transfer-Encoding chunked then gzip field",
               post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", 400);
    addOutcome("Transfer-Encoding empty", post + "Transfer-Encoding:\r\n\r\n", 400);
    addOutcome("Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);

    // Chunked framing.
    addOutcome("chunk size garbage", chunkedPost + "zz\r\n", 400);
    addOutcome("chunk size empty", chunkedPost + "\r\nabc\r\n", 400);
    addOutcome("chunk size 0x prefix", chunkedPost + "0x3\r\nabc\r\n0\r\n\r\n", 400);
    addOutcome("chunk size negative", chunkedPost + "-3\r\nabc\r\n0\r\n\r\n", 400);
    addOutcome("chunk size trailing space", chunkedPost + "3 \r\nabc\r\n0\r\n\r\n", 400);
    addOutcome("chunk size leading space", chunkedPost + " 3\r\nabc\r\n0\r\n\r\n", 400);
    addOutcome("chunk size hex overflow", chunkedPost + "10000000000000000\r\n", 400);
    addOutcome("chunk size 2^63", chunkedPost + "8000000000000000\r\n", 400);
    addOutcome("chunk size int64 max", chunkedPost + "7fffffffffffffff\r\n", 413);
    addOutcome("chunk size over limit", chunkedPost + "100001\r\n", 413);
    addOutcome("chunk extension with bare CR", chunkedPost + "3;a\rb\r\nabc\r\n0\r\n\r\n", 400);
    addOutcome("chunk size line too long", chunkedPost + "3;" + QByteArray(5000, 'x') + "\r\nabc\r\n0\r\n\r\n", 400);
    addOutcome("no CRLF after chunk data", chunkedPost + "3\r\nabcX\r\n0\r\n\r\n", 400);
    addOutcome("CR without LF after chunk data", chunkedPost + "3\r\nabc\rX0\r\n\r\n", 400);
    addOutcome("chunk data longer than size", chunkedPost + "3\r\nabcdef\r\n0\r\n\r\n", 400);
    addOutcome("malformed trailer", chunkedPost + "0\r\nnot a field\r\n\r\n", 400);
    addOutcome("obs-fold in trailer", chunkedPost + "0\r\nX: a\r\n b\r\n\r\n", 400);

    // Default limits.
    addOutcome("request line over default limit", requestLineOf(8 * 1024 + 1) + "\r\n\r\n", 414);
    addOutcome("header count over default limit", get + repeated("X: y\r\n", 101) + "\r\n", 431);
    addOutcome("header bytes over default limit", get + fieldLineOf(32 * 1024 + 1) + "\r\n", 431);
}

void tst_HttpParser::bad() { checkOutcome(); }

// Each limit right at the boundary (must pass) and one byte/line past it.
void tst_HttpParser::limits_data()
{
    addOutcomeColumns();
    const HttpParser::Limits small = smallLimits();
    const QByteArray get = "GET / HTTP/1.1\r\n";
    const QByteArray chunkedPost = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    const QByteArray chunkedHead = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"; // 28 header bytes

    addOutcome("request line at limit", requestLineOf(32) + "\r\n\r\n", 0, small);
    addOutcome("request line at limit, LF", requestLineOf(32) + "\n\n", 0, small);
    addOutcome("request line over limit", requestLineOf(33) + "\r\n\r\n", 414, small);
    addOutcome("request line over limit, LF", requestLineOf(33) + "\n\n", 414, small);
    addOutcome("request line over limit, garbage", QByteArray(33, '(') + "\r\n\r\n", 414, small);
    addOutcome("request line over limit, unterminated", requestLineOf(40), 414, small);

    addOutcome("header bytes at limit", get + fieldLineOf(32, 'A') + fieldLineOf(32, 'B') + "\r\n", 0, small);
    addOutcome("header bytes at limit, LF", get + "A: " + QByteArray(60, 'v') + "\n\n", 0, small);
    addOutcome("header bytes over limit", get + fieldLineOf(32, 'A') + fieldLineOf(33, 'B') + "\r\n", 431, small);
    addOutcome("header bytes over limit, unterminated", get + fieldLineOf(32, 'A') + "B: " + QByteArray(40, 'v'), 431,
               small);
    addOutcome("header count at limit", get + repeated("X: y\r\n", 4) + "\r\n", 0, small);
    addOutcome("header count over limit", get + repeated("X: y\r\n", 5) + "\r\n", 431, small);

    addOutcome("Content-Length at limit", "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", 0, small);
    addOutcome("Content-Length over limit", "POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n0123456789X", 413, small);
    addOutcome("chunked at limit", chunkedPost + "5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n", 0, small);
    addOutcome("chunked running total over limit", chunkedPost + "5\r\n01234\r\n5\r\n56789\r\n1\r\nX\r\n0\r\n\r\n", 413,
               small);
    addOutcome("single chunk over limit", chunkedPost + "b\r\n0123456789X\r\n0\r\n\r\n", 413, small);

    // Trailer fields share the header budget: 28 bytes of Transfer-Encoding
    // leave 36, and one header line plus trailers leave room for 4 lines.
    addOutcome("trailer count at limit", chunkedHead + "H: 1\r\n\r\n0\r\nT: 1\r\nT: 2\r\n\r\n", 0, small);
    addOutcome("trailer count over limit", chunkedHead + "H: 1\r\n\r\n0\r\nT: 1\r\nT: 2\r\nT: 3\r\n\r\n", 431, small);
    addOutcome("trailer bytes at limit", chunkedPost + "0\r\n" + fieldLineOf(36, 'T') + "\r\n", 0, small);
    addOutcome("trailer bytes over limit", chunkedPost + "0\r\n" + fieldLineOf(37, 'T') + "\r\n", 431, small);
}

void tst_HttpParser::limits() { checkOutcome(); }

// ---------------------------------------------------------------------------
// Pipelining and state

void tst_HttpParser::pipelining_data()
{
    QTest::addColumn<int>("mode");
    for (int mode : {Whole, ByteByByte, RandomSlices})
        QTest::addRow("%s", feedModeNames[mode]) << mode;
}

void tst_HttpParser::pipelining()
{
    QFETCH(int, mode);
    const QByteArray partial = "GET /four HT";
    const QByteArray input = "GET /one HTTP/1.1\r\nHost: h\r\n\r\n"
                             "POST /two HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "4\r\nchun\r\n4;x=y\r\nked!\r\n0\r\nT: t\r\n\r\n"
                             "POST /three?q=3 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
                             + partial;

    const Outcome out = run(input, mode);
    QCOMPARE(out.last, Status::NeedMore);
    QCOMPARE(out.requests.size(), 3);
    QCOMPARE(out.requests.at(0).path, QByteArray("/one"));
    QCOMPARE(out.requests.at(0).body, QByteArray());
    QCOMPARE(out.requests.at(0).header("host"), QByteArray("h"));
    QCOMPARE(out.requests.at(1).path, QByteArray("/two"));
    QCOMPARE(out.requests.at(1).body, QByteArray("chunked!"));
    QCOMPARE(out.requests.at(1).headers.size(), 1); // the trailer is discarded
    QCOMPARE(out.requests.at(2).path, QByteArray("/three"));
    QCOMPARE(out.requests.at(2).query, QByteArray("q=3"));
    QCOMPARE(out.requests.at(2).body, QByteArray("abc"));
    QCOMPARE(out.buffered, partial.size());
    QVERIFY(out.midRequest);
}

// Thousands of pipelined requests: takes the buffer-compaction paths.
void tst_HttpParser::manyPipelined()
{
    QByteArray input;
    const int count = 2000;
    for (int i = 0; i < count; ++i) {
        const QByteArray body = QByteArray::number(i);
        input += "POST /r" + QByteArray::number(i) + " HTTP/1.1\r\nContent-Length: " + QByteArray::number(body.size())
                 + "\r\n\r\n" + body;
    }
    for (int mode : {Whole, RandomSlices, LargeSlices}) {
        const Outcome out = run(input, mode);
        QCOMPARE(out.last, Status::NeedMore);
        QCOMPARE(out.requests.size(), count);
        for (int i = 0; i < count; ++i) {
            QCOMPARE(out.requests.at(i).path, QByteArray("/r" + QByteArray::number(i)));
            QCOMPARE(out.requests.at(i).body, QByteArray::number(i));
        }
        QCOMPARE(out.buffered, 0);
    }
}

void tst_HttpParser::errorAfterGoodRequest()
{
    HttpParser parser;
    parser.feed("GET /ok HTTP/1.1\r\n\r\nBAD REQUEST\r\n\r\n");
    QCOMPARE(parser.next(), Status::Complete);
    QCOMPARE(parser.takeRequest().path, QByteArray("/ok"));
    QCOMPARE(parser.next(), Status::Error);
    QCOMPARE(parser.errorStatus(), 400);
}

void tst_HttpParser::errorIsSticky()
{
    HttpParser parser;
    parser.feed("GET / HTTP/2.0\r\n\r\n");
    QCOMPARE(parser.next(), Status::Error);
    QCOMPARE(parser.errorStatus(), 505);
    const QByteArray reason = parser.errorReason();

    parser.feed("GET / HTTP/1.1\r\n\r\n");
    QCOMPARE(parser.next(), Status::Error);
    QCOMPARE(parser.next(), Status::Error);
    QCOMPARE(parser.errorStatus(), 505);
    QCOMPARE(parser.errorReason(), reason);
    QCOMPARE(parser.bufferedBytes(), 0);
    QVERIFY(!parser.isMidRequest());
}

void tst_HttpParser::nextIsIdempotent()
{
    HttpParser parser;
    parser.feed("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
    QCOMPARE(parser.next(), Status::Complete);
    QCOMPARE(parser.next(), Status::Complete);
    QCOMPARE(parser.takeRequest().path, QByteArray("/a"));
    QCOMPARE(parser.next(), Status::Complete);
    QCOMPARE(parser.takeRequest().path, QByteArray("/b"));
    QCOMPARE(parser.next(), Status::NeedMore);
    QCOMPARE(parser.next(), Status::NeedMore);
    QCOMPARE(parser.bufferedBytes(), 0);
}

void tst_HttpParser::bodyTooLargeBeforeBody_data()
{
    QTest::addColumn<QByteArray>("head");
    QTest::newRow("Content-Length") << QByteArray("POST / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n");
    QTest::newRow("chunked") << QByteArray("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1e8480\r\n");
    QTest::newRow("chunked, second chunk")
        << QByteArray("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n100000\r\n");
}

// The 413 comes as soon as the size is known, before any (further) body byte.
void tst_HttpParser::bodyTooLargeBeforeBody()
{
    QFETCH(QByteArray, head);
    HttpParser parser;
    parser.feed(head);
    QCOMPARE(parser.next(), Status::Error);
    QCOMPARE(parser.errorStatus(), 413);
}

void tst_HttpParser::hugeStreamRejectedEarly_data()
{
    QTest::addColumn<QByteArray>("prefix");
    QTest::addColumn<int>("status");
    QTest::addColumn<qsizetype>("rejectAt"); // number of bytes fed when next() fails
    QTest::addColumn<qsizetype>("total");    // bytes in the stream

    const HttpParser::Limits limits;
    const qsizetype mb = 1024 * 1024;
    const QByteArray requestLine = "GET / HTTP/1.1\r\n";
    QTest::newRow("huge header value, 10 MB")
        << requestLine + "X-Huge: " << 431 << requestLine.size() + limits.maxHeaderBytes << 10 * mb;
    QTest::newRow("endless headers") << requestLine << 431 << requestLine.size() + limits.maxHeaderBytes << mb;
    QTest::newRow("huge request line") << QByteArray("GET /") << 414 << limits.maxRequestLine + 1 << mb;
    const QByteArray chunked = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;";
    QTest::newRow("huge chunk extension") << chunked << 400 << chunked.size() - 2 + 4096 + 2 << mb;
}

// A huge request fed one byte at a time: rejected at the first byte that
// proves a limit exceeded, and never buffered beyond it.
void tst_HttpParser::hugeStreamRejectedEarly()
{
    QFETCH(QByteArray, prefix);
    QFETCH(int, status);
    QFETCH(qsizetype, rejectAt);
    QFETCH(qsizetype, total);

    HttpParser parser;
    QByteArray byte(1, 'a');
    qsizetype rejectedAt = -1;
    qsizetype maxBuffered = 0;
    for (qsizetype fed = 0; fed < total; ++fed) {
        byte[0] = fed < prefix.size() ? prefix.at(fed) : 'a';
        parser.feed(byte);
        maxBuffered = qMax(maxBuffered, parser.bufferedBytes());
        if (rejectedAt < 0) {
            const Status s = parser.next();
            QVERIFY(s != Status::Complete);
            if (s == Status::Error)
                rejectedAt = fed + 1;
        }
    }
    QCOMPARE(parser.next(), Status::Error);
    QCOMPARE(parser.errorStatus(), status);
    QCOMPARE(rejectedAt, rejectAt);
    QVERIFY(maxBuffered <= rejectAt);
    QCOMPARE(parser.bufferedBytes(), 0);
}

// Tolerated empty lines are consumed, not accumulated.
void tst_HttpParser::blankLinesAreNotBuffered()
{
    HttpParser parser;
    for (int i = 0; i < 100000; ++i) {
        parser.feed("\r\n");
        QCOMPARE(parser.next(), Status::NeedMore);
        QCOMPARE(parser.bufferedBytes(), 0);
        QVERIFY(!parser.isMidRequest());
    }
    parser.feed("GET / HTTP/1.1\r\n\r\n");
    QCOMPARE(parser.next(), Status::Complete);
}

void tst_HttpParser::byteByByteIsLinear_data()
{
    QTest::addColumn<QByteArray>("prefix");
    QTest::addColumn<qsizetype>("fill");
    QTest::addColumn<QByteArray>("suffix");

    // The scanning rows are large enough that a quadratic scan cannot pass
    // even with a very fast memchr; the body rows only cover the buffer path.
    const qsizetype mb = 1024 * 1024;
    QTest::newRow("request line") << QByteArray("GET /") << 4 * mb << QByteArray(" HTTP/1.1\r\n\r\n");
    QTest::newRow("header value") << QByteArray("GET / HTTP/1.1\r\nX: ") << 4 * mb << QByteArray("\r\n\r\n");
    QTest::newRow("body") << "POST / HTTP/1.1\r\nContent-Length: " + QByteArray::number(mb) + "\r\n\r\n"
                          << mb << QByteArray();
    QTest::newRow("chunk") << "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + QByteArray::number(mb, 16)
                                  + "\r\n"
                           << mb << QByteArray("\r\n0\r\n\r\n");
}

// Megabytes fed one byte at a time with limits far above them: a parser that
// rescanned the pending line on every byte would need about 10^13 steps.
// Linear takes about a second of CPU under ASan; CPU time (not wall time)
// keeps the bound independent of machine load.
void tst_HttpParser::byteByByteIsLinear()
{
    QFETCH(QByteArray, prefix);
    QFETCH(qsizetype, fill);
    QFETCH(QByteArray, suffix);

    const QByteArray input = prefix + QByteArray(fill, 'a') + suffix;
    HttpParser::Limits limits;
    limits.maxRequestLine = 2 * fill;
    limits.maxHeaderBytes = 2 * fill;
    limits.maxBodyBytes = 2 * fill;
    HttpParser parser(limits);

    const std::clock_t start = std::clock();
    const std::clock_t budget = 10 * CLOCKS_PER_SEC;
    QByteArray byte(1, '\0');
    Status last = Status::NeedMore;
    for (qsizetype i = 0; i < input.size(); ++i) {
        QCOMPARE(last, Status::NeedMore);
        if (i % 65536 == 0 && std::clock() - start > budget)
            QFAIL(qPrintable(QStringLiteral("not linear: only %1 bytes in 10 s of CPU").arg(i)));
        byte[0] = input.at(i);
        parser.feed(byte);
        last = parser.next();
    }
    QCOMPARE(last, Status::Complete);
    const HttpRequest request = parser.takeRequest();
    QVERIFY(request.target.size() + request.header("X").size() + request.body.size() >= fill);
    QCOMPARE(parser.bufferedBytes(), 0);
    QVERIFY(std::clock() - start <= budget);
}

void tst_HttpParser::isMidRequest_data()
{
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<bool>("mid");

    const QByteArray complete = "GET / HTTP/1.1\r\n\r\n";
    QTest::newRow("nothing") << QByteArray() << false;
    QTest::newRow("CRLF") << QByteArray("\r\n") << false;
    QTest::newRow("LF") << QByteArray("\n") << false;
    QTest::newRow("blank lines and a CR") << QByteArray("\r\n\n\r\n\r") << false;
    QTest::newRow("first byte") << QByteArray("G") << true;
    QTest::newRow("blank line then bytes") << QByteArray("\r\nGET / HT") << true;
    QTest::newRow("request line") << QByteArray("GET / HTTP/1.1\r\n") << true;
    QTest::newRow("headers") << QByteArray("GET / HTTP/1.1\r\nHost: h\r\n") << true;
    QTest::newRow("final CR") << QByteArray("GET / HTTP/1.1\r\n\r") << true;
    QTest::newRow("partial body") << QByteArray("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhe") << true;
    QTest::newRow("chunked, before the last chunk")
        << QByteArray("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n") << true;
    QTest::newRow("complete request") << complete << false;
    QTest::newRow("complete request and CRLF") << complete + "\r\n" << false;
    QTest::newRow("complete request and a byte") << complete + "G" << true;
    QTest::newRow("after an error") << QByteArray("BAD\r\n\r\n") << false;
}

void tst_HttpParser::isMidRequest()
{
    QFETCH(QByteArray, input);
    QFETCH(bool, mid);
    for (int mode : {Whole, ByteByByte}) {
        const Outcome out = run(input, mode);
        QCOMPARE(out.midRequest, mid);
    }
}

void tst_HttpParser::parseHead_data()
{
    QTest::addColumn<QByteArray>("data");
    QTest::addColumn<HttpParser::Limits>("limits");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<QByteArray>("path");

    const HttpParser::Limits defaults;
    const QByteArray upgrade = "GET /echo/websocket HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                               "Connection: keep-alive, Upgrade\r\n\r\n";
    QTest::newRow("upgrade") << upgrade << defaults << true << QByteArray("/echo/websocket");
    QTest::newRow("bytes after the head")
        << upgrade + "\x81\x85garbage" << defaults << true << QByteArray("/echo/websocket");
    QTest::newRow("leading CRLF") << "\r\n" + upgrade << defaults << true << QByteArray("/echo/websocket");
    QTest::newRow("body not needed") << QByteArray("POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\n") << defaults << true
                                     << QByteArray("/x");
    QTest::newRow("chunked, body not needed")
        << QByteArray("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n") << defaults << true << QByteArray("/x");
    QTest::newRow("empty") << QByteArray() << defaults << false << QByteArray();
    QTest::newRow("no empty line") << upgrade.chopped(2) << defaults << false << QByteArray();
    QTest::newRow("malformed") << QByteArray("GET / HTTP/1.1\r\nBad Header\r\n\r\n") << defaults << false
                               << QByteArray();
    QTest::newRow("bad version") << QByteArray("GET / HTTP/2.0\r\n\r\n") << defaults << false << QByteArray();
    HttpParser::Limits twoHeaders;
    twoHeaders.maxHeaderCount = 2;
    QTest::newRow("over header count") << upgrade << twoHeaders << false << QByteArray();
    QTest::newRow("within small limits") << upgrade << smallLimits() << true << QByteArray("/echo/websocket");
    HttpParser::Limits shortLine;
    shortLine.maxRequestLine = 27; // the request line has 28 bytes
    QTest::newRow("over request line limit") << upgrade << shortLine << false << QByteArray();
    QTest::newRow("Content-Length over limit")
        << QByteArray("POST /x HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n") << defaults << false << QByteArray();
    QTest::newRow("smuggling") << QByteArray("POST /x HTTP/1.1\r\nContent-Length: 5\r\n"
                                             "Transfer-Encoding: chunked\r\n\r\n")
                               << defaults << false << QByteArray();
}

void tst_HttpParser::parseHead()
{
    QFETCH(QByteArray, data);
    QFETCH(HttpParser::Limits, limits);
    QFETCH(bool, ok);
    QFETCH(QByteArray, path);

    HttpRequest request;
    QCOMPARE(HttpParser::parseHead(data, &request, limits), ok);
    QCOMPARE(HttpParser::parseHead(data, nullptr, limits), ok);
    if (!ok)
        return;
    QCOMPARE(request.path, path);
    QVERIFY(request.body.isEmpty());
    if (request.hasHeader("Upgrade")) {
        QCOMPARE(request.header("upgrade"), QByteArray("websocket"));
        QVERIFY(request.headerHasToken("Connection", "upgrade"));
    }
}

// ---------------------------------------------------------------------------
// Limits chosen per request by a lookup

void tst_HttpParser::perRequestLimits_data()
{
    QTest::addColumn<int>("mode");
    QTest::addColumn<QByteArray>("request"); // $P is the path
    QTest::addColumn<int>("status");         // under /small; under /big it passes

    const QByteArray get = "GET $P HTTP/1.1\r\n";
    const QByteArray chunkedPost = "POST $P HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    const struct
    {
        const char *name;
        QByteArray request;
        int status;
    } rows[] = {
        {"header count", get + repeated("X: y\r\n", 5) + "\r\n", 431},
        {"header bytes", get + fieldLineOf(65) + "\r\n", 431},
        {"Content-Length", "POST $P HTTP/1.1\r\nContent-Length: 11\r\n\r\n0123456789X", 413},
        {"chunked body", chunkedPost + "6\r\n012345\r\n5\r\n6789X\r\n0\r\n\r\n", 413},
        {"trailer count", chunkedPost + "0\r\n" + repeated("T: 1\r\n", 4) + "\r\n", 431},
        {"trailer bytes", chunkedPost + "0\r\n" + fieldLineOf(37, 'T') + "\r\n", 431},
        {"within", get + repeated("X: y\r\n", 4) + "\r\n", 0},
    };
    for (const auto &row : rows) {
        for (int mode : {Whole, ByteByByte, RandomSlices})
            QTest::addRow("%s [%s]", row.name, feedModeNames[mode]) << mode << row.request << row.status;
    }
}

// Two pipelined requests on one parser, the same bytes but for two paths:
// /big passes under the default limits, /small gets the status of its own.
// Each request gets the limits of its own path, in either order.
void tst_HttpParser::perRequestLimits()
{
    QFETCH(int, mode);
    QFETCH(QByteArray, request);
    QFETCH(int, status);
    const QByteArray big = QByteArray(request).replace("$P", "/big/x");
    const QByteArray small = QByteArray(request).replace("$P", "/small/x");
    // A generous parser limit: only the lookup makes /small strict.
    const HttpParser::Limits defaults;

    QList<QByteArray> paths;
    const Outcome bigFirst = run(big + small, mode, defaults, smallUnderSmall(&paths));
    QCOMPARE(paths, (QList<QByteArray>{"/big/x", "/small/x"}));
    QCOMPARE(bigFirst.requests.size(), status == 0 ? 2 : 1);
    QCOMPARE(bigFirst.requests.first().path, QByteArray("/big/x"));
    QCOMPARE(bigFirst.last, status == 0 ? Status::NeedMore : Status::Error);
    QCOMPARE(bigFirst.errorStatus, status);

    // The strict request first: it fails alone, nothing after it is parsed.
    paths.clear();
    const Outcome smallFirst = run(small + big, mode, defaults, smallUnderSmall(&paths));
    QCOMPARE(smallFirst.errorStatus, status);
    QCOMPARE(smallFirst.requests.size(), status == 0 ? 2 : 0);
    QCOMPARE(paths.first(), QByteArray("/small/x"));

    // A /small request within its limits is followed by a /big one that
    // needs the defaults: the strict limits do not stick.
    const QByteArray smallOk = "POST /small/x HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789";
    const Outcome after = run(smallOk + big, mode, defaults, smallUnderSmall());
    QCOMPARE(after.last, Status::NeedMore);
    QCOMPARE(after.requests.size(), 2);
    QCOMPARE(after.requests.at(1).path, QByteArray("/big/x"));

    // Without a lookup the parser's own limits apply to both.
    const Outcome strict = run(big + small, mode, smallLimits());
    QCOMPARE(strict.errorStatus, status);
    QCOMPARE(strict.requests.size(), status == 0 ? 2 : 0);
}

// The request line is read before there is a path: its limit is always the
// parser's own, whatever the lookup returns.
void tst_HttpParser::lookupLeavesRequestLine()
{
    for (int mode : {Whole, ByteByByte, RandomSlices}) {
        HttpParser::Limits limits;
        limits.maxRequestLine = 32;
        QList<QByteArray> paths;
        const auto lookup = [&paths](QByteArrayView path) {
            paths.append(path.toByteArray());
            HttpParser::Limits generous;
            generous.maxRequestLine = 1 << 20;
            return generous;
        };
        // smallUnderSmall() says 1: a request line of 32 passes anyway.
        const Outcome ok = run(requestLineOf(32) + "\r\n\r\n", mode, limits, smallUnderSmall());
        QCOMPARE(ok.requests.size(), 1);
        QCOMPARE(ok.last, Status::NeedMore);
        // A generous lookup does not let a longer line through, finished or not.
        const Outcome over = run(requestLineOf(33) + "\r\n\r\n", mode, limits, lookup);
        QCOMPARE(over.errorStatus, 414);
        const Outcome unfinished = run(requestLineOf(40), mode, limits, lookup);
        QCOMPARE(unfinished.errorStatus, 414);
        QCOMPARE(paths, QList<QByteArray>()); // never asked: no request line was accepted
    }
}

void tst_HttpParser::lookupGetsPath_data()
{
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<QList<QByteArray>>("paths");

    QTest::newRow("origin-form with query")
        << QByteArray("GET /echo/info?t=1 HTTP/1.1\r\n\r\n") << QList<QByteArray>{"/echo/info"};
    QTest::newRow("absolute-form") << QByteArray("GET http://example.com:8080/a/b?x HTTP/1.1\r\n\r\n")
                                   << QList<QByteArray>{"/a/b"};
    QTest::newRow("absolute-form without path")
        << QByteArray("GET http://example.com HTTP/1.1\r\n\r\n") << QList<QByteArray>{"/"};
    QTest::newRow("asterisk") << QByteArray("OPTIONS * HTTP/1.1\r\n\r\n") << QList<QByteArray>{"*"};
    QTest::newRow("not decoded") << QByteArray("GET /a%2Fb HTTP/1.1\r\n\r\n") << QList<QByteArray>{"/a%2Fb"};
    QTest::newRow("pipelined, chunked") << QByteArray(
        "POST /one HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        "\r\nGET /two HTTP/1.1\r\nHost: h\r\n\r\nGET /three HT")
                                        << QList<QByteArray>{"/one", "/two"};
    QTest::newRow("malformed request line: not asked") << QByteArray("GET /x HTTP/9.9\r\n\r\n") << QList<QByteArray>{};
}

// Once per request, right after its request line, with HttpRequest::path;
// however the bytes are sliced.
void tst_HttpParser::lookupGetsPath()
{
    QFETCH(QByteArray, input);
    QFETCH(QList<QByteArray>, paths);
    for (int mode : {Whole, ByteByByte, RandomSlices}) {
        QList<QByteArray> asked;
        const Outcome out = run(input, mode, {}, smallUnderSmall(&asked));
        QCOMPARE(asked, paths);
        for (qsizetype i = 0; i < out.requests.size(); ++i)
            QCOMPARE(out.requests.at(i).path, paths.at(i));
    }
}

void tst_HttpParser::peekHeadWithLookup_data()
{
    QTest::addColumn<QByteArray>("data"); // $P is the service prefix
    QTest::addColumn<Status>("small");
    QTest::addColumn<Status>("big");

    const QByteArray upgrade = "GET $P/websocket HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                               "Connection: Upgrade\r\n"; // 50 header bytes, 3 fields
    QTest::newRow("complete") << upgrade + "\r\n" << Status::Complete << Status::Complete;
    QTest::newRow("incomplete") << upgrade << Status::NeedMore << Status::NeedMore;
    QTest::newRow("request line only") << QByteArray("GET $P/websocket HTTP/1.1\r\n") << Status::NeedMore
                                       << Status::NeedMore;
    QTest::newRow("request line unfinished") << QByteArray("GET $P/webso") << Status::NeedMore << Status::NeedMore;
    QTest::newRow("too many headers") << upgrade + "X: 1\r\nX: 2\r\n\r\n" << Status::Error << Status::Complete;
    QTest::newRow("too many headers, incomplete") << upgrade + "X: 1\r\nX: 2\r\n" << Status::Error << Status::NeedMore;
    QTest::newRow("header bytes, unfinished line")
        << upgrade + "X-Pad: " + QByteArray(40, 'p') << Status::Error << Status::NeedMore;
    QTest::newRow("malformed") << QByteArray("GET $P HTTP/1.1\r\nBad Header\r\n") << Status::Error << Status::Error;
}

// The head of a handshake peeked from a socket gets the same per-path limits
// as the parse: /small/... is refused as soon as it is over its limits,
// /big/... is not.
void tst_HttpParser::peekHeadWithLookup()
{
    QFETCH(QByteArray, data);
    QFETCH(Status, small);
    QFETCH(Status, big);
    const QByteArray smallHead = QByteArray(data).replace("$P", "/small");
    const QByteArray bigHead = QByteArray(data).replace("$P", "/big");
    const HttpParser::Limits defaults;

    HttpRequest request;
    QCOMPARE(HttpParser::peekHead(smallHead, &request, defaults, smallUnderSmall()), small);
    QCOMPARE(HttpParser::parseHead(smallHead, nullptr, defaults, smallUnderSmall()), small == Status::Complete);
    QCOMPARE(HttpParser::peekHead(bigHead, &request, defaults, smallUnderSmall()), big);
    if (big == Status::Complete)
        QCOMPARE(request.path, QByteArray("/big/websocket"));
    // Without the lookup the defaults apply to both.
    QCOMPARE(HttpParser::peekHead(smallHead, nullptr, defaults), big);

    // The parser itself decides the same on the same bytes.
    HttpParser parser;
    parser.setLimitsLookup(smallUnderSmall());
    parser.feed(smallHead);
    const Status parsed = parser.next();
    QCOMPARE(parsed == Status::Error, small == Status::Error);
}

QTEST_GUILESS_MAIN(tst_HttpParser)
#include "tst_httpparser.moc"
