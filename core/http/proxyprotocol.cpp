#include "proxyprotocol.h"

#include "ipaddress.h"

#include <QList>

namespace SockJsProxy {

namespace {

constexpr char kV1Signature[] = "PROXY ";
constexpr qsizetype kV1SignatureBytes = 6;
constexpr char kV2Signature[] = "\r\n\r\n\0\r\nQUIT\n";
constexpr qsizetype kV2SignatureBytes = 12;

constexpr quint8 kCommandLocal = 0x0;
constexpr quint8 kCommandProxy = 0x1;
// Family (high nibble) and transport (low nibble) of byte 14.
constexpr quint8 kUnspec = 0x00;
constexpr quint8 kTcp4 = 0x11;
constexpr quint8 kTcp6 = 0x21;
constexpr quint8 kUnixStream = 0x31;
constexpr qsizetype kTcp4Bytes = 4 + 4 + 2 + 2;
constexpr qsizetype kTcp6Bytes = 16 + 16 + 2 + 2;
constexpr qsizetype kUnixBytes = 108 + 108;

// Whether data agrees with signature over their common length.
bool matchesSoFar(const QByteArray &data, const char *signature, qsizetype signatureBytes)
{
    const qsizetype n = qMin(data.size(), signatureBytes);
    return QByteArrayView(data.constData(), n) == QByteArrayView(signature, n);
}

quint16 bigEndian16(const char *p) { return quint16(quint16(uchar(p[0])) << 8 | uchar(p[1])); }

} // namespace

void ProxyProtocolDecoder::feed(QByteArrayView data)
{
    if (m_status != Status::NeedMore)
        return;
    m_buffer.append(data.first(qMin(data.size(), kMaxBytes - m_buffer.size())));
}

qsizetype ProxyProtocolDecoder::bytesWanted() const
{
    if (m_status != Status::NeedMore)
        return 0;
    if (m_buffer.startsWith('P'))
        return kV1MaxBytes - m_buffer.size();
    if (m_buffer.size() < kV2FixedBytes)
        return kV2FixedBytes - m_buffer.size();
    return kV2FixedBytes + bigEndian16(m_buffer.constData() + 14) - m_buffer.size();
}

ProxyProtocolDecoder::Status ProxyProtocolDecoder::fail(const char *reason, bool missing)
{
    m_status = Status::Error;
    m_errorReason = reason;
    m_missing = missing;
    m_header = Header();
    m_buffer.clear();
    m_buffer.squeeze();
    return m_status;
}

ProxyProtocolDecoder::Status ProxyProtocolDecoder::next()
{
    if (m_status != Status::NeedMore || m_buffer.isEmpty())
        return m_status;
    if (matchesSoFar(m_buffer, kV1Signature, kV1SignatureBytes))
        return nextV1();
    if (matchesSoFar(m_buffer, kV2Signature, kV2SignatureBytes))
        return nextV2();
    return fail("no PROXY protocol header", true);
}

ProxyProtocolDecoder::Status ProxyProtocolDecoder::nextV1()
{
    // The line, CRLF included, is at most 107 bytes of printable ASCII;
    // a bad byte is refused as soon as it arrives, whatever follows.
    const QByteArrayView head = QByteArrayView(m_buffer).first(qMin(m_buffer.size(), kV1MaxBytes));
    const qsizetype newline = head.indexOf('\n');
    const qsizetype lineEnd = newline < 0 ? head.size() : newline;
    for (qsizetype i = 0; i < lineEnd; ++i) {
        const char c = head.at(i);
        if (c == '\r' ? i + 1 < head.size() && head.at(i + 1) != '\n' : c < 0x20 || c > 0x7e)
            return fail("v1: not a text line");
    }
    if (newline < 0) {
        if (head.size() >= kV1MaxBytes)
            return fail("v1: line longer than 107 bytes");
        return Status::NeedMore;
    }
    if (newline < kV1SignatureBytes || head.at(newline - 1) != '\r')
        return fail("v1: line not ended by CRLF");
    const QByteArrayView line = head.sliced(kV1SignatureBytes, newline - 1 - kV1SignatureBytes);

    Header header;
    header.version = 1;
    if (line == "UNKNOWN" || line.startsWith("UNKNOWN ")) {
        // The receiver must ignore whatever follows (spec 2.1).
    } else {
        const QList<QByteArray> fields = line.toByteArray().split(' ');
        if (fields.size() != 5)
            return fail("v1: expected TCP4|TCP6 and four fields separated by single spaces");
        const bool v4 = fields.at(0) == "TCP4";
        if (!v4 && fields.at(0) != "TCP6")
            return fail("v1: protocol is none of TCP4, TCP6, UNKNOWN");
        const auto parseAddress = v4 ? IpAddress::parseIpv4 : IpAddress::parseIpv6;
        if (!parseAddress(fields.at(1), &header.source) || !parseAddress(fields.at(2), &header.destination))
            return fail(v4 ? "v1: bad IPv4 address" : "v1: bad IPv6 address");
        if (!IpAddress::parsePort(fields.at(3), &header.sourcePort)
            || !IpAddress::parsePort(fields.at(4), &header.destinationPort))
            return fail("v1: bad port");
        header.hasAddresses = true;
    }
    m_header = header;
    m_length = newline + 1;
    m_buffer.clear();
    m_buffer.squeeze();
    m_status = Status::Done;
    return m_status;
}

ProxyProtocolDecoder::Status ProxyProtocolDecoder::nextV2()
{
    // What can be told from the fixed part, as soon as its bytes are in.
    if (m_buffer.size() > kV2SignatureBytes) {
        const quint8 versionCommand = quint8(m_buffer.at(12));
        if ((versionCommand >> 4) != 2)
            return fail("v2: version is not 2");
        if ((versionCommand & 0xf) != kCommandLocal && (versionCommand & 0xf) != kCommandProxy)
            return fail("v2: command is neither LOCAL nor PROXY");
    }
    if (m_buffer.size() < kV2FixedBytes)
        return Status::NeedMore;
    const bool local = (quint8(m_buffer.at(12)) & 0xf) == kCommandLocal;
    const quint8 family = quint8(m_buffer.at(13));
    const qsizetype length = bigEndian16(m_buffer.constData() + 14);
    qsizetype addressBytes = 0;
    if (!local) {
        switch (family) {
        case kUnspec:
            break;
        case kTcp4:
            addressBytes = kTcp4Bytes;
            break;
        case kTcp6:
            addressBytes = kTcp6Bytes;
            break;
        case kUnixStream:
            addressBytes = kUnixBytes;
            break;
        default:
            return fail("v2: family and transport are none of UNSPEC, TCP over IPv4 or IPv6, UNIX stream");
        }
        if (length < addressBytes)
            return fail("v2: length shorter than the address block");
    }
    if (m_buffer.size() < kV2FixedBytes + length)
        return Status::NeedMore;

    Header header;
    header.version = 2;
    header.local = local;
    const char *block = m_buffer.constData() + kV2FixedBytes;
    if (family == kTcp4 && !local) {
        const auto ipv4 = [](const char *p) {
            return QHostAddress(quint32(uchar(p[0])) << 24 | quint32(uchar(p[1])) << 16 | quint32(uchar(p[2])) << 8
                                | uchar(p[3]));
        };
        header.source = ipv4(block);
        header.destination = ipv4(block + 4);
        header.sourcePort = bigEndian16(block + 8);
        header.destinationPort = bigEndian16(block + 10);
        header.hasAddresses = true;
    } else if (family == kTcp6 && !local) {
        header.source = QHostAddress(reinterpret_cast<const quint8 *>(block));
        header.destination = QHostAddress(reinterpret_cast<const quint8 *>(block + 16));
        header.sourcePort = bigEndian16(block + 32);
        header.destinationPort = bigEndian16(block + 34);
        header.hasAddresses = true;
    }
    // TLVs after the address block (LOCAL: the whole block is skipped
    // unread, whatever family it claims).
    if (!local) {
        qsizetype at = addressBytes;
        while (at < length) {
            if (length - at < 3)
                return fail("v2: truncated TLV");
            const qsizetype valueBytes = bigEndian16(block + at + 1);
            if (length - at - 3 < valueBytes)
                return fail("v2: TLV longer than the header");
            at += 3 + valueBytes;
        }
    }
    m_header = header;
    m_length = kV2FixedBytes + length;
    m_buffer.clear();
    m_buffer.squeeze();
    m_status = Status::Done;
    return m_status;
}

} // namespace SockJsProxy
