// ProxyProtocolDecoder: PROXY protocol v1 and v2 headers, fed whole, split
// at every byte and one byte at a time, and fed only what bytesWanted() asks.

#include "http/proxyprotocol.h"

#include <QTest>

using namespace SockJsProxy;

namespace {

using Status = ProxyProtocolDecoder::Status;

const QByteArray kV2Signature("\r\n\r\n\0\r\nQUIT\n", 12);
const QByteArray kPayload("GET / HTTP/1.1\r\n\r\n");

QByteArray be16(int value) { return QByteArray(1, char((value >> 8) & 0xff)) + char(value & 0xff); }

// A v2 header: signature, version/command byte, family byte, length of
// block (or the given one), block.
QByteArray v2(quint8 versionCommand, quint8 family, const QByteArray &block, int length = -1)
{
    return kV2Signature + char(versionCommand) + char(family) + be16(length < 0 ? int(block.size()) : length) + block;
}

QByteArray ipv4(quint8 a, quint8 b, quint8 c, quint8 d)
{
    const char bytes[] = {char(a), char(b), char(c), char(d)};
    return QByteArray(bytes, 4);
}

QByteArray ipv6(const char *text)
{
    const Q_IPV6ADDR address = QHostAddress(QString::fromLatin1(text)).toIPv6Address();
    return QByteArray(reinterpret_cast<const char *>(address.c), 16);
}

QByteArray tlv(quint8 type, const QByteArray &value) { return char(type) + be16(int(value.size())) + value; }

const QByteArray kTcp4Block = ipv4(192, 0, 2, 1) + ipv4(198, 51, 100, 2) + be16(56324) + be16(443);
const QByteArray kTcp6Block = ipv6("2001:db8::1") + ipv6("2001:db8::2") + be16(1) + be16(65535);

struct Outcome
{
    Status status = Status::NeedMore;
    qsizetype consumed = 0;
    ProxyProtocolDecoder::Header header;
    bool missing = false;
    QByteArray reason;
};

// Feeds the slices [cuts[i], cuts[i + 1]) calling next() after each; checks
// that the status only moves from NeedMore to a final one.
Outcome decodeInSlices(const QByteArray &input, const QList<qsizetype> &cuts)
{
    ProxyProtocolDecoder decoder;
    Outcome outcome;
    for (qsizetype i = 0; i + 1 < cuts.size(); ++i) {
        decoder.feed(QByteArrayView(input).sliced(cuts.at(i), cuts.at(i + 1) - cuts.at(i)));
        const Status status = decoder.next();
        if (outcome.status != Status::NeedMore && status != outcome.status)
            qFatal("status changed after a final one");
        outcome.status = status;
    }
    outcome.consumed = decoder.consumed();
    outcome.header = decoder.header();
    outcome.missing = decoder.isMissing();
    outcome.reason = decoder.errorReason();
    // Final results stay as they are, whatever comes next.
    if (outcome.status != Status::NeedMore) {
        decoder.feed("PROXY UNKNOWN\r\n");
        if (decoder.next() != outcome.status || decoder.consumed() != outcome.consumed)
            qFatal("result changed after more bytes");
    }
    return outcome;
}

bool sameOutcome(const Outcome &a, const Outcome &b)
{
    return a.status == b.status && a.consumed == b.consumed && a.missing == b.missing && a.reason == b.reason
           && a.header.version == b.header.version && a.header.local == b.header.local
           && a.header.hasAddresses == b.header.hasAddresses && a.header.source == b.header.source
           && a.header.sourcePort == b.header.sourcePort && a.header.destination == b.header.destination
           && a.header.destinationPort == b.header.destinationPort;
}

} // namespace

class tst_ProxyProtocol : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void decode_data();
    void decode();
    void longestHeaders();
    void bytesWantedNeverOverreads_data() { decode_data(); }
    void bytesWantedNeverOverreads();
    void keepsNoMoreThanTheLongestHeader();
};

void tst_ProxyProtocol::decode_data()
{
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<int>("status"); // Status
    QTest::addColumn<int>("consumed");
    QTest::addColumn<int>("version");
    QTest::addColumn<bool>("local");
    QTest::addColumn<QString>("source"); // empty: no addresses
    QTest::addColumn<int>("sourcePort");
    QTest::addColumn<QString>("destination");
    QTest::addColumn<int>("destinationPort");
    QTest::addColumn<bool>("missing");
    QTest::addColumn<QByteArray>("reason");

    const int done = int(Status::Done);
    const int error = int(Status::Error);
    const int more = int(Status::NeedMore);
    const auto ok1 = [&](const char *name, const QByteArray &header, const char *source, int sourcePort,
                         const char *destination, int destinationPort) {
        QTest::newRow(name) << header + kPayload << done << int(header.size()) << 1 << false << source << sourcePort
                            << destination << destinationPort << false << QByteArray();
    };
    const auto bad = [&](const char *name, const QByteArray &input, const char *reason, bool missing = false) {
        QTest::newRow(name) << input << error << 0 << 0 << false << "" << 0 << "" << 0 << missing << QByteArray(reason);
    };
    const auto partial = [&](const char *name, const QByteArray &input) {
        QTest::newRow(name) << input << more << 0 << 0 << false << "" << 0 << "" << 0 << false << QByteArray();
    };

    // v1
    ok1("v1 tcp4", "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n", "192.0.2.1", 56324, "198.51.100.2", 443);
    ok1("v1 tcp4 ports 0 and 65535", "PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n", "0.0.0.0", 0, "255.255.255.255",
        65535);
    ok1("v1 tcp6", "PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n", "2001:db8::1", 1, "2001:db8::2", 65535);
    ok1("v1 tcp6 mapped", "PROXY TCP6 ::ffff:192.0.2.1 ::1 8 9\r\n", "::ffff:192.0.2.1", 8, "::1", 9);
    QTest::newRow("v1 unknown") << QByteArray("PROXY UNKNOWN\r\n") + kPayload << done << 15 << 1 << false << "" << 0
                                << "" << 0 << false << QByteArray();
    QTest::newRow("v1 unknown with addresses") << QByteArray("PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n") << done << 35 << 1
                                               << false << "" << 0 << "" << 0 << false << QByteArray();
    QTest::newRow("v1 unknown, 107 bytes") << QByteArray("PROXY UNKNOWN ") + QByteArray(91, 'x') + "\r\n"
                                           << done << 107 << 1 << false << "" << 0 << "" << 0 << false << QByteArray();
    bad("v1 unknown, 108 bytes", QByteArray("PROXY UNKNOWN ") + QByteArray(92, 'x') + "\r\n",
        "v1: line longer than 107 bytes");
    bad("v1 no newline in 107 bytes", QByteArray("PROXY UNKNOWN ") + QByteArray(200, 'x'),
        "v1: line longer than 107 bytes");
    partial("v1 106 bytes, no newline yet", QByteArray("PROXY UNKNOWN ") + QByteArray(92, 'x'));
    partial("v1 signature only", "PROXY ");
    partial("v1 first byte", "P");
    partial("v1 up to the CR", "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r");
    partial("empty", "");
    bad("v1 LF only", "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\n", "v1: line not ended by CRLF");
    bad("v1 CR not before LF", "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\rX\r\n", "v1: not a text line");
    bad("v1 NUL", QByteArray("PROXY TCP4 192.0.2.1\0", 21), "v1: not a text line");
    bad("v1 tab", "PROXY TCP4\t192.0.2.1 198.51.100.2 1 2\r\n", "v1: not a text line");
    bad("v1 8-bit", "PROXY TCP4 192.0.2.1 198.51.100.2 1 2\xff\r\n", "v1: not a text line");
    bad("v1 empty", "PROXY \r\n", "v1: expected TCP4|TCP6 and four fields separated by single spaces");
    bad("v1 no CR", "PROXY \n", "v1: line not ended by CRLF");
    bad("v1 protocol only", "PROXY TCP4\r\n", "v1: expected TCP4|TCP6 and four fields separated by single spaces");
    bad("v1 lower-case protocol", "PROXY tcp4 192.0.2.1 198.51.100.2 1 2\r\n",
        "v1: protocol is none of TCP4, TCP6, UNKNOWN");
    bad("v1 UDP4", "PROXY UDP4 192.0.2.1 198.51.100.2 1 2\r\n", "v1: protocol is none of TCP4, TCP6, UNKNOWN");
    bad("v1 UNKNOWNX", "PROXY UNKNOWNX\r\n", "v1: expected TCP4|TCP6 and four fields separated by single spaces");
    bad("v1 double space", "PROXY TCP4  192.0.2.1 198.51.100.2 1 2\r\n",
        "v1: expected TCP4|TCP6 and four fields separated by single spaces");
    bad("v1 trailing space", "PROXY TCP4 192.0.2.1 198.51.100.2 1 2 \r\n",
        "v1: expected TCP4|TCP6 and four fields separated by single spaces");
    bad("v1 missing port", "PROXY TCP4 192.0.2.1 198.51.100.2 1\r\n",
        "v1: expected TCP4|TCP6 and four fields separated by single spaces");
    bad("v1 extra field", "PROXY TCP4 192.0.2.1 198.51.100.2 1 2 3\r\n",
        "v1: expected TCP4|TCP6 and four fields separated by single spaces");
    bad("v1 tcp4 with ipv6", "PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n", "v1: bad IPv4 address");
    bad("v1 tcp6 with ipv4", "PROXY TCP6 192.0.2.1 2001:db8::2 1 2\r\n", "v1: bad IPv6 address");
    bad("v1 ipv4 leading zero", "PROXY TCP4 192.0.2.01 198.51.100.2 1 2\r\n", "v1: bad IPv4 address");
    bad("v1 ipv4 short", "PROXY TCP4 192.0.2 198.51.100.2 1 2\r\n", "v1: bad IPv4 address");
    bad("v1 ipv4 octet 256", "PROXY TCP4 192.0.2.1 198.51.100.256 1 2\r\n", "v1: bad IPv4 address");
    bad("v1 ipv6 zone", "PROXY TCP6 fe80::1%eth0 2001:db8::2 1 2\r\n", "v1: bad IPv6 address");
    bad("v1 ipv6 brackets", "PROXY TCP6 [2001:db8::1] 2001:db8::2 1 2\r\n", "v1: bad IPv6 address");
    bad("v1 host name", "PROXY TCP4 localhost 198.51.100.2 1 2\r\n", "v1: bad IPv4 address");
    bad("v1 port 65536", "PROXY TCP4 192.0.2.1 198.51.100.2 65536 2\r\n", "v1: bad port");
    bad("v1 port leading zero", "PROXY TCP4 192.0.2.1 198.51.100.2 080 2\r\n", "v1: bad port");
    bad("v1 port negative", "PROXY TCP4 192.0.2.1 198.51.100.2 -1 2\r\n", "v1: bad port");
    bad("v1 port plus", "PROXY TCP4 192.0.2.1 198.51.100.2 1 +2\r\n", "v1: bad port");
    bad("v1 port hex", "PROXY TCP4 192.0.2.1 198.51.100.2 1 0x2\r\n", "v1: bad port");
    bad("v1 port huge", "PROXY TCP4 192.0.2.1 198.51.100.2 1 99999999999\r\n", "v1: bad port");

    // Not a PROXY header at all.
    bad("http request", "GET / HTTP/1.1\r\n\r\n", "no PROXY protocol header", true);
    bad("lower-case proxy", "proxy TCP4 192.0.2.1 198.51.100.2 1 2\r\n", "no PROXY protocol header", true);
    bad("PROXY without space", "PROXYTCP4", "no PROXY protocol header", true);
    bad("one wrong byte", "X", "no PROXY protocol header", true);
    bad("v2 signature, wrong last byte", QByteArray("\r\n\r\n\0\r\nQUIT\r", 12) + "\x21\x11" + be16(12) + kTcp4Block,
        "no PROXY protocol header", true);
    bad("v2 signature, wrong middle byte", QByteArray("\r\n\r\n\0\r\nQUIX\n", 12), "no PROXY protocol header", true);
    bad("CRLF then GET", "\r\nGET", "no PROXY protocol header", true);
    partial("v2 signature start", "\r\n\r\n");
    partial("v2 signature", kV2Signature);
    partial("v2 fixed part", kV2Signature + "\x21\x11" + be16(12));
    partial("v2 address block short", (kV2Signature + "\x21\x11" + be16(12) + kTcp4Block).chopped(1));

    // v2
    const auto ok2 = [&](const char *name, const QByteArray &header, bool local, const char *source, int sourcePort,
                         const char *destination, int destinationPort) {
        QTest::newRow(name) << header + kPayload << done << int(header.size()) << 2 << local << source << sourcePort
                            << destination << destinationPort << false << QByteArray();
    };
    ok2("v2 tcp4", v2(0x21, 0x11, kTcp4Block), false, "192.0.2.1", 56324, "198.51.100.2", 443);
    ok2("v2 tcp6", v2(0x21, 0x21, kTcp6Block), false, "2001:db8::1", 1, "2001:db8::2", 65535);
    ok2("v2 tcp6 mapped", v2(0x21, 0x21, ipv6("::ffff:192.0.2.1") + ipv6("::1") + be16(5) + be16(6)), false,
        "::ffff:192.0.2.1", 5, "::1", 6);
    ok2("v2 local", v2(0x20, 0x00, QByteArray()), true, "", 0, "", 0);
    ok2("v2 local with a tcp4 block", v2(0x20, 0x11, kTcp4Block), true, "", 0, "", 0);
    ok2("v2 local, any family and bytes", v2(0x20, 0xff, "xyz"), true, "", 0, "", 0);
    ok2("v2 local, block shorter than its family", v2(0x20, 0x21, QByteArray(3, 'x')), true, "", 0, "", 0);
    ok2("v2 unspec", v2(0x21, 0x00, QByteArray()), false, "", 0, "", 0);
    ok2("v2 unspec with a TLV", v2(0x21, 0x00, tlv(0x04, "pad")), false, "", 0, "", 0);
    ok2("v2 unix stream", v2(0x21, 0x31, QByteArray(216, '\0')), false, "", 0, "", 0);
    ok2("v2 unix stream and TLV", v2(0x21, 0x31, QByteArray(216, 'a') + tlv(0x01, "h2")), false, "", 0, "", 0);
    ok2("v2 tcp4, TLVs",
        v2(0x21, 0x11,
           kTcp4Block + tlv(0x01, "h2") + tlv(0x02, "example.com") + tlv(0x04, "") + tlv(0x05, "unique-id")
               + tlv(0x20, QByteArray(5, '\0'))),
        false, "192.0.2.1", 56324, "198.51.100.2", 443);
    ok2("v2 tcp6, TLV", v2(0x21, 0x21, kTcp6Block + tlv(0xe0, QByteArray(300, 'z'))), false, "2001:db8::1", 1,
        "2001:db8::2", 65535);
    bad("v2 tcp4 length 11", v2(0x21, 0x11, kTcp4Block.first(11)), "v2: length shorter than the address block");
    bad("v2 tcp4 length 0", v2(0x21, 0x11, QByteArray()), "v2: length shorter than the address block");
    bad("v2 tcp6 length 35", v2(0x21, 0x21, kTcp6Block.first(35)), "v2: length shorter than the address block");
    bad("v2 tcp6 with tcp4 length", v2(0x21, 0x21, kTcp4Block), "v2: length shorter than the address block");
    bad("v2 unix length 215", v2(0x21, 0x31, QByteArray(215, '\0')), "v2: length shorter than the address block");
    bad("v2 tcp4, one byte after", v2(0x21, 0x11, kTcp4Block + "x"), "v2: truncated TLV");
    bad("v2 tcp4, two bytes after", v2(0x21, 0x11, kTcp4Block + "xy"), "v2: truncated TLV");
    bad("v2 tcp4, TLV too long", v2(0x21, 0x11, kTcp4Block + char(0x01) + be16(3) + "h2"),
        "v2: TLV longer than the header");
    bad("v2 tcp4, second TLV too long", v2(0x21, 0x11, kTcp4Block + tlv(0x01, "h2") + char(0x02) + be16(1)),
        "v2: TLV longer than the header");
    bad("v2 udp4", v2(0x21, 0x12, kTcp4Block),
        "v2: family and transport are none of UNSPEC, TCP over IPv4 or IPv6, UNIX stream");
    bad("v2 udp6", v2(0x21, 0x22, kTcp6Block),
        "v2: family and transport are none of UNSPEC, TCP over IPv4 or IPv6, UNIX stream");
    bad("v2 unix dgram", v2(0x21, 0x32, QByteArray(216, '\0')),
        "v2: family and transport are none of UNSPEC, TCP over IPv4 or IPv6, UNIX stream");
    bad("v2 inet, unspec transport", v2(0x21, 0x10, kTcp4Block),
        "v2: family and transport are none of UNSPEC, TCP over IPv4 or IPv6, UNIX stream");
    bad("v2 unknown family", v2(0x21, 0x41, kTcp4Block),
        "v2: family and transport are none of UNSPEC, TCP over IPv4 or IPv6, UNIX stream");
    bad("v2 unspec family, stream", v2(0x21, 0x01, QByteArray()),
        "v2: family and transport are none of UNSPEC, TCP over IPv4 or IPv6, UNIX stream");
    bad("v2 version 1", v2(0x11, 0x11, kTcp4Block), "v2: version is not 2");
    bad("v2 version 3", v2(0x31, 0x11, kTcp4Block), "v2: version is not 2");
    bad("v2 version 0", v2(0x01, 0x11, kTcp4Block), "v2: version is not 2");
    bad("v2 command 2", v2(0x22, 0x11, kTcp4Block), "v2: command is neither LOCAL nor PROXY");
    bad("v2 command 15", v2(0x2f, 0x11, kTcp4Block), "v2: command is neither LOCAL nor PROXY");
    bad("v2 bad version, no more bytes", kV2Signature + "\x31", "v2: version is not 2");
    partial("v2 length larger than what came", v2(0x21, 0x11, kTcp4Block, 100));
}

void tst_ProxyProtocol::decode()
{
    QFETCH(QByteArray, input);
    QFETCH(int, status);
    QFETCH(int, consumed);
    QFETCH(int, version);
    QFETCH(bool, local);
    QFETCH(QString, source);
    QFETCH(int, sourcePort);
    QFETCH(QString, destination);
    QFETCH(int, destinationPort);
    QFETCH(bool, missing);
    QFETCH(QByteArray, reason);

    const qsizetype n = input.size();
    const Outcome whole = decodeInSlices(input, {0, n});
    QCOMPARE(int(whole.status), status);
    QCOMPARE(int(whole.consumed), consumed);
    QCOMPARE(whole.missing, missing);
    QCOMPARE(whole.reason, reason);
    QCOMPARE(whole.header.version, version);
    QCOMPARE(whole.header.local, local);
    QCOMPARE(whole.header.hasAddresses, !source.isEmpty());
    QCOMPARE(whole.header.source.toString(), source);
    QCOMPARE(int(whole.header.sourcePort), sourcePort);
    QCOMPARE(whole.header.destination.toString(), destination);
    QCOMPARE(int(whole.header.destinationPort), destinationPort);
    if (whole.status == Status::Done)
        QCOMPARE(input.sliced(whole.consumed), input.endsWith(kPayload) ? kPayload : QByteArray());

    // The same however the bytes are cut: in two at every position...
    for (qsizetype cut = 0; cut <= n; ++cut) {
        const Outcome split = decodeInSlices(input, {0, cut, n});
        QVERIFY2(sameOutcome(split, whole), qPrintable(QStringLiteral("cut at %1").arg(cut)));
    }
    // ... and one byte at a time.
    QList<qsizetype> bytes;
    for (qsizetype i = 0; i <= n; ++i)
        bytes.append(i);
    QVERIFY(sameOutcome(decodeInSlices(input, bytes), whole));

    // A header is never complete before its last byte.
    if (whole.status == Status::Done && whole.consumed > 0)
        QVERIFY(decodeInSlices(input.first(whole.consumed - 1), {0, whole.consumed - 1}).status == Status::NeedMore);
}

void tst_ProxyProtocol::longestHeaders()
{
    // The longest v1 line with addresses: 104 bytes.
    const QByteArray full("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    const QByteArray v1 = "PROXY TCP6 " + full + ' ' + full + " 65535 65535\r\n";
    QCOMPARE(v1.size(), 104);
    ProxyProtocolDecoder decoder;
    decoder.feed(v1);
    QCOMPARE(decoder.next(), Status::Done);
    QCOMPARE(decoder.consumed(), 104);

    // The longest v2 header: a length of 65535, the rest one TLV.
    const QByteArray block = kTcp4Block + char(0x04) + be16(65535 - 12 - 3) + QByteArray(65535 - 12 - 3, 'p');
    const QByteArray header = v2(0x21, 0x11, block);
    QCOMPARE(header.size(), ProxyProtocolDecoder::kMaxBytes);
    for (const qsizetype cut : {qsizetype(0), qsizetype(1), qsizetype(16), qsizetype(28), header.size() - 1}) {
        const Outcome outcome = decodeInSlices(header + kPayload, {0, cut, header.size() + kPayload.size()});
        QCOMPARE(outcome.status, Status::Done);
        QCOMPARE(outcome.consumed, header.size());
        QCOMPARE(outcome.header.source.toString(), QStringLiteral("192.0.2.1"));
    }
    QCOMPARE(decodeInSlices(header.chopped(1), {0, header.size() - 1}).status, Status::NeedMore);
}

// A connection peeks at most bytesWanted() bytes at a time: it must reach the
// same result, and for v2 (whose length is known) never read past the header.
void tst_ProxyProtocol::bytesWantedNeverOverreads()
{
    QFETCH(QByteArray, input);
    QFETCH(int, status);
    QFETCH(int, consumed);

    ProxyProtocolDecoder decoder;
    qsizetype fed = 0;
    Status result = decoder.next();
    QCOMPARE(result, Status::NeedMore);
    while (result == Status::NeedMore && fed < input.size()) {
        const qsizetype wanted = decoder.bytesWanted();
        QVERIFY(wanted >= 1);
        const qsizetype take = qMin(wanted, input.size() - fed);
        decoder.feed(QByteArrayView(input).sliced(fed, take));
        fed += take;
        result = decoder.next();
    }
    QCOMPARE(int(result), status);
    QCOMPARE(int(decoder.consumed()), consumed);
    if (result != Status::NeedMore)
        QCOMPARE(decoder.bytesWanted(), 0);
    if (result == Status::Done) {
        QVERIFY(fed >= consumed);
        if (!input.startsWith('P'))
            QCOMPARE(int(fed), consumed); // v2: exactly the header
        else
            QVERIFY(fed <= ProxyProtocolDecoder::kV1MaxBytes);
    }
}

void tst_ProxyProtocol::keepsNoMoreThanTheLongestHeader()
{
    // A v2 header announcing 65535 bytes, fed far more than that: the bytes
    // past the longest header are dropped, and the header still completes.
    ProxyProtocolDecoder decoder;
    const QByteArray header = v2(0x21, 0x00, tlv(0x04, QByteArray(65532, 'p')));
    decoder.feed(header.first(100));
    QCOMPARE(decoder.next(), Status::NeedMore);
    QCOMPARE(decoder.bytesWanted(), header.size() - 100);
    decoder.feed(header.sliced(100) + QByteArray(1 << 20, 'x'));
    QCOMPARE(decoder.next(), Status::Done);
    QCOMPARE(decoder.consumed(), header.size());
    QCOMPARE(decoder.bytesWanted(), 0);
}

QTEST_GUILESS_MAIN(tst_ProxyProtocol)
#include "tst_proxyprotocol.moc"
