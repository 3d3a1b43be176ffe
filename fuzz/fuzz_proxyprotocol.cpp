// libFuzzer target: ProxyProtocolDecoder (PROXY protocol v1 and v2) on
// arbitrary bytes.
//
// Each input is decoded three ways: fed whole, fed in slices cut at
// positions derived from its first bytes (sometimes byte by byte), and fed
// only what bytesWanted() asks for, as a connection does. All three must
// agree, since the decoder promises that its result does not depend on how
// the bytes arrive. A header that was accepted must be what its bytes say:
// v1 re-encoded from the decoded fields decodes to the same header; v2's
// length is the one in its fixed part and its address block holds the
// decoded addresses. Final results stay final whatever is fed next.

#include "http/proxyprotocol.h"

#include <QtGlobal>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

using SockJsProxy::ProxyProtocolDecoder;
using Status = ProxyProtocolDecoder::Status;

namespace {

#define FUZZ_CHECK(condition)                                                                                          \
    do {                                                                                                               \
        if (!(condition))                                                                                              \
            __builtin_trap();                                                                                          \
    } while (false)

const QByteArray kV1Signature("PROXY ");
const QByteArray kV2Signature("\r\n\r\n\0\r\nQUIT\n", 12);

struct Outcome
{
    Status status = Status::NeedMore;
    qsizetype consumed = 0;
    qsizetype fed = 0;
    ProxyProtocolDecoder::Header header;
    bool missing = false;
    QByteArray reason;
};

bool sameOutcome(const Outcome &a, const Outcome &b)
{
    return a.status == b.status && a.consumed == b.consumed && a.missing == b.missing && a.reason == b.reason
           && a.header.version == b.header.version && a.header.local == b.header.local
           && a.header.hasAddresses == b.header.hasAddresses && a.header.source == b.header.source
           && a.header.sourcePort == b.header.sourcePort && a.header.destination == b.header.destination
           && a.header.destinationPort == b.header.destinationPort;
}

quint32 fnv1a(const uint8_t *data, size_t size)
{
    quint32 hash = 2166136261u;
    for (size_t i = 0; i < size; ++i) {
        hash ^= data[i];
        hash *= 16777619u;
    }
    return hash;
}

Outcome finish(ProxyProtocolDecoder &decoder, Status status, qsizetype fed)
{
    Outcome outcome;
    outcome.status = status;
    outcome.fed = fed;
    outcome.consumed = decoder.consumed();
    outcome.header = decoder.header();
    outcome.missing = decoder.isMissing();
    outcome.reason = decoder.errorReason();
    FUZZ_CHECK(decoder.next() == status); // cheap to ask again
    if (status != Status::NeedMore) {
        FUZZ_CHECK(decoder.bytesWanted() == 0);
        // Final, whatever comes next.
        decoder.feed(QByteArrayLiteral("PROXY UNKNOWN\r\n"));
        FUZZ_CHECK(decoder.next() == status);
        FUZZ_CHECK(decoder.consumed() == outcome.consumed);
    } else {
        FUZZ_CHECK(decoder.bytesWanted() >= 1);
    }
    return outcome;
}

// Feeds the slices [cuts[i], cuts[i + 1]); the status moves at most once,
// from NeedMore to a final one.
Outcome decodeInSlices(const QByteArray &input, const std::vector<qsizetype> &cuts)
{
    ProxyProtocolDecoder decoder;
    Status status = decoder.next();
    FUZZ_CHECK(status == Status::NeedMore);
    for (size_t i = 0; i + 1 < cuts.size(); ++i) {
        decoder.feed(QByteArrayView(input).sliced(cuts[i], cuts[i + 1] - cuts[i]));
        const Status next = decoder.next();
        FUZZ_CHECK(status == Status::NeedMore || next == status);
        status = next;
    }
    return finish(decoder, status, input.size());
}

// As a connection peeks: never more than bytesWanted() at a time.
Outcome decodeAsWanted(const QByteArray &input)
{
    ProxyProtocolDecoder decoder;
    qsizetype fed = 0;
    Status status = decoder.next();
    while (status == Status::NeedMore && fed < input.size()) {
        const qsizetype take = qMin(decoder.bytesWanted(), input.size() - fed);
        FUZZ_CHECK(take >= 1);
        decoder.feed(QByteArrayView(input).sliced(fed, take));
        fed += take;
        status = decoder.next();
    }
    return finish(decoder, status, fed);
}

quint16 bigEndian16(const QByteArray &data, qsizetype at)
{
    return quint16(quint16(uchar(data.at(at))) << 8 | uchar(data.at(at + 1)));
}

void checkAccepted(const QByteArray &input, const Outcome &outcome)
{
    const ProxyProtocolDecoder::Header &header = outcome.header;
    FUZZ_CHECK(outcome.reason.isEmpty() && !outcome.missing);
    FUZZ_CHECK(outcome.consumed <= input.size());
    FUZZ_CHECK(!header.local || (header.version == 2 && !header.hasAddresses));
    if (!header.hasAddresses) {
        FUZZ_CHECK(header.source.isNull() && header.destination.isNull());
        FUZZ_CHECK(header.sourcePort == 0 && header.destinationPort == 0);
    } else {
        FUZZ_CHECK(header.source.protocol() == header.destination.protocol());
        FUZZ_CHECK(header.source.protocol() == QAbstractSocket::IPv4Protocol
                   || header.source.protocol() == QAbstractSocket::IPv6Protocol);
        FUZZ_CHECK(header.source.scopeId().isEmpty() && header.destination.scopeId().isEmpty());
    }

    if (header.version == 1) {
        FUZZ_CHECK(input.startsWith(kV1Signature));
        FUZZ_CHECK(outcome.consumed >= 15 && outcome.consumed <= ProxyProtocolDecoder::kV1MaxBytes);
        FUZZ_CHECK(input.at(outcome.consumed - 2) == '\r' && input.at(outcome.consumed - 1) == '\n');
        FUZZ_CHECK(!input.first(outcome.consumed - 1).contains('\n'));
        const QByteArray line = input.first(outcome.consumed);
        FUZZ_CHECK(line.startsWith("PROXY UNKNOWN") != header.hasAddresses);
        if (header.hasAddresses) {
            // The fields written back the way HAProxy writes them decode to the same header.
            const bool v4 = header.source.protocol() == QAbstractSocket::IPv4Protocol;
            FUZZ_CHECK(line.startsWith(v4 ? "PROXY TCP4 " : "PROXY TCP6 "));
            const QByteArray again = "PROXY " + QByteArray(v4 ? "TCP4 " : "TCP6 ") + header.source.toString().toLatin1()
                                     + ' ' + header.destination.toString().toLatin1() + ' '
                                     + QByteArray::number(header.sourcePort) + ' '
                                     + QByteArray::number(header.destinationPort) + "\r\n";
            FUZZ_CHECK(again.size() <= ProxyProtocolDecoder::kV1MaxBytes);
            ProxyProtocolDecoder decoder;
            decoder.feed(again);
            FUZZ_CHECK(decoder.next() == Status::Done);
            FUZZ_CHECK(decoder.consumed() == again.size());
            FUZZ_CHECK(decoder.header().source == header.source);
            FUZZ_CHECK(decoder.header().destination == header.destination);
            FUZZ_CHECK(decoder.header().sourcePort == header.sourcePort);
            FUZZ_CHECK(decoder.header().destinationPort == header.destinationPort);
        }
        return;
    }

    FUZZ_CHECK(header.version == 2);
    FUZZ_CHECK(input.startsWith(kV2Signature));
    FUZZ_CHECK((uchar(input.at(12)) >> 4) == 2);
    FUZZ_CHECK(outcome.consumed == ProxyProtocolDecoder::kV2FixedBytes + bigEndian16(input, 14));
    FUZZ_CHECK(header.local == ((uchar(input.at(12)) & 0xf) == 0));
    if (header.hasAddresses) {
        const QByteArray block = input.sliced(ProxyProtocolDecoder::kV2FixedBytes);
        if (header.source.protocol() == QAbstractSocket::IPv4Protocol) {
            FUZZ_CHECK(uchar(input.at(13)) == 0x11);
            const auto ipv4 = [&block](qsizetype at) {
                return quint32(uchar(block.at(at))) << 24 | quint32(uchar(block.at(at + 1))) << 16
                       | quint32(uchar(block.at(at + 2))) << 8 | uchar(block.at(at + 3));
            };
            FUZZ_CHECK(header.source.toIPv4Address() == ipv4(0));
            FUZZ_CHECK(header.destination.toIPv4Address() == ipv4(4));
            FUZZ_CHECK(header.sourcePort == bigEndian16(block, 8));
            FUZZ_CHECK(header.destinationPort == bigEndian16(block, 10));
        } else {
            FUZZ_CHECK(uchar(input.at(13)) == 0x21);
            const Q_IPV6ADDR source = header.source.toIPv6Address();
            const Q_IPV6ADDR destination = header.destination.toIPv6Address();
            FUZZ_CHECK(QByteArrayView(reinterpret_cast<const char *>(source.c), 16) == block.first(16));
            FUZZ_CHECK(QByteArrayView(reinterpret_cast<const char *>(destination.c), 16) == block.sliced(16, 16));
            FUZZ_CHECK(header.sourcePort == bigEndian16(block, 32));
            FUZZ_CHECK(header.destinationPort == bigEndian16(block, 34));
        }
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray input(reinterpret_cast<const char *>(data), qsizetype(size));
    const qsizetype n = input.size();
    const quint32 hash = fnv1a(data, qMin<size_t>(size, 4));

    const Outcome whole = decodeInSlices(input, {0, n});

    std::vector<qsizetype> cuts{0};
    if ((hash & 7) == 0 && n <= 4096) {
        for (qsizetype i = 1; i <= n; ++i)
            cuts.push_back(i);
    } else {
        std::vector<qsizetype> points;
        for (size_t i = 0; i < 3 && i < size; ++i)
            points.push_back(
                n == 0 ? 0 : qsizetype((quint32(data[i]) * 2654435761u + quint32(i) * 40503u) % quint32(n + 1)));
        std::sort(points.begin(), points.end());
        for (const qsizetype point : points)
            cuts.push_back(point);
        cuts.push_back(n);
    }
    FUZZ_CHECK(sameOutcome(decodeInSlices(input, cuts), whole));

    const Outcome wanted = decodeAsWanted(input);
    FUZZ_CHECK(sameOutcome(wanted, whole));

    switch (whole.status) {
    case Status::Done:
        checkAccepted(input, whole);
        // What a connection reads is the header and, for v2, nothing more.
        FUZZ_CHECK(wanted.fed >= whole.consumed);
        if (whole.header.version == 2)
            FUZZ_CHECK(wanted.fed == whole.consumed);
        else
            FUZZ_CHECK(wanted.fed <= ProxyProtocolDecoder::kV1MaxBytes);
        break;
    case Status::Error: {
        FUZZ_CHECK(!whole.reason.isEmpty());
        FUZZ_CHECK(whole.consumed == 0 && whole.header.version == 0);
        // "Missing" exactly when the first bytes are no signature's.
        const qsizetype v1 = qMin(n, kV1Signature.size());
        const qsizetype v2 = qMin(n, kV2Signature.size());
        const bool startsLikeOne =
            input.first(v1) == kV1Signature.first(v1) || input.first(v2) == kV2Signature.first(v2);
        FUZZ_CHECK(whole.missing == !startsLikeOne);
        break;
    }
    case Status::NeedMore:
        // Incomplete, never longer than the longest header.
        FUZZ_CHECK(n < ProxyProtocolDecoder::kMaxBytes);
        if (input.startsWith('P'))
            FUZZ_CHECK(n < ProxyProtocolDecoder::kV1MaxBytes);
        FUZZ_CHECK(wanted.fed == n);
        break;
    }
    return 0;
}
