// libFuzzer target: the forwarding headers (ForwardedHeaders::resolve,
// resolveClientAddress) on arbitrary header lines.
//
// Input: header lines separated by '\n'. The first byte of a line chooses
// its name (Forwarded, X-Forwarded-For, X-Real-IP, X-Forwarded-Proto, in
// varying case, or an unrelated header); the rest is its value, made what
// HttpParser would hand over (no CR, LF or NUL; spaces and tabs trimmed).
// The first byte of the input chooses the trusted proxies (none, a few
// ranges, or everything). Checked: a malformed result names its header and
// carries no address; an address is a plain IPv4 or IPv6 one; a scheme is
// a lower-case URI scheme; unrelated headers change nothing; an untrusted
// hop's request is its own, without a word about malformed headers; the
// client of a trusted hop is the hop or an address from the headers, with
// the TCP peer as via exactly when they differ.

#include "http/clientaddress.h"
#include "http/httprequest.h"

#include <QList>
#include <QtGlobal>

#include <cstddef>
#include <cstdint>

using namespace SockJsProxy;

namespace {

#define FUZZ_CHECK(condition)                                                                                          \
    do {                                                                                                               \
        if (!(condition))                                                                                              \
            __builtin_trap();                                                                                          \
    } while (false)

const char *const kNames[] = {"Forwarded",        "forwarded", "X-Forwarded-For",   "x-forwarded-for",
                              "X-Real-IP",        "x-real-ip", "X-Forwarded-Proto", "X-FORWARDED-PROTO",
                              "X-Forwarded-Host", "Via",       "Forwarded-For",     "X-Forwarded"};
constexpr int kNameCount = int(sizeof(kNames) / sizeof(kNames[0]));
constexpr int kForwardingNames = 8; // the first eight are forwarding headers

bool isOws(char c) { return c == ' ' || c == '\t'; }

QByteArray asParsed(QByteArray value)
{
    value.replace('\r', "").replace('\0', "");
    qsizetype begin = 0;
    qsizetype end = value.size();
    while (begin < end && isOws(value.at(begin)))
        ++begin;
    while (end > begin && isOws(value.at(end - 1)))
        --end;
    return value.sliced(begin, end - begin);
}

TrustedProxies trustedFor(uint8_t selector)
{
    QString error;
    switch (selector % 4) {
    case 0:
        return TrustedProxies();
    case 1:
        return *TrustedProxies::parse({"10.0.0.0/8", "2001:db8:ffff::/48", "127.0.0.1"}, &error);
    case 2:
        return *TrustedProxies::parse({"192.0.2.0/24", "::ffff:198.51.100.0/120", "fd00::/8"}, &error);
    default:
        return *TrustedProxies::parse({"0.0.0.0/0", "::/0"}, &error);
    }
}

bool sameClient(const ClientAddress &a, const ClientAddress &b)
{
    return a.address == b.address && a.port == b.port && a.via == b.via && a.viaPort == b.viaPort
           && a.scheme == b.scheme;
}

void checkAddress(const QHostAddress &address)
{
    FUZZ_CHECK(address.protocol() == QAbstractSocket::IPv4Protocol
               || address.protocol() == QAbstractSocket::IPv6Protocol);
    FUZZ_CHECK(address.scopeId().isEmpty());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const TrustedProxies trusted = trustedFor(data[0]);
    const QByteArray input(reinterpret_cast<const char *>(data + 1), qsizetype(size - 1));

    HttpRequest request;
    request.method = "GET";
    request.target = request.path = "/";
    HttpRequest forwardingOnly = request;
    for (const QByteArray &line : input.split('\n')) {
        if (line.isEmpty())
            continue;
        const int name = uchar(line.at(0)) % kNameCount;
        const QPair<QByteArray, QByteArray> header{kNames[name], asParsed(line.sliced(1))};
        request.headers.append(header);
        if (name < kForwardingNames)
            forwardingOnly.headers.append(header);
    }

    const ForwardedHeaders::Result result = ForwardedHeaders::resolve(request, trusted);
    if (result.malformed) {
        FUZZ_CHECK(!result.hasAddress);
        FUZZ_CHECK(result.error.startsWith(result.header + ": "));
        FUZZ_CHECK(result.error.size() > result.header.size() + 2);
        FUZZ_CHECK(result.header == "Forwarded" || result.header == "X-Forwarded-For" || result.header == "X-Real-IP"
                   || result.header == "X-Forwarded-Proto");
        FUZZ_CHECK(request.hasHeader(result.header));
    }
    if (result.hasAddress) {
        checkAddress(result.address);
        FUZZ_CHECK(request.hasHeader(result.header));
        // Forwarded is never passed over for X-Forwarded-For, nor that for X-Real-IP.
        if (result.header != "Forwarded")
            FUZZ_CHECK(!request.hasHeader("Forwarded"));
        if (result.header == "X-Real-IP")
            FUZZ_CHECK(!request.hasHeader("X-Forwarded-For"));
    }
    for (const char c : result.scheme)
        FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.');
    if (!result.scheme.isEmpty())
        FUZZ_CHECK(result.scheme.front() >= 'a' && result.scheme.front() <= 'z');

    // Unrelated headers change nothing.
    const ForwardedHeaders::Result alone = ForwardedHeaders::resolve(forwardingOnly, trusted);
    FUZZ_CHECK(alone.malformed == result.malformed && alone.error == result.error);
    FUZZ_CHECK(alone.hasAddress == result.hasAddress && alone.address == result.address);
    FUZZ_CHECK(alone.port == result.port && alone.scheme == result.scheme);

    // The whole: from an untrusted hop, the hop and nothing else.
    const ClientAddress stranger = ClientAddress::direct(QHostAddress(QStringLiteral("203.0.113.250")), 4000);
    QByteArray malformed;
    if (!trusted.contains(stranger.address)) {
        FUZZ_CHECK(sameClient(resolveClientAddress(stranger, request, trusted, &malformed), stranger));
        FUZZ_CHECK(malformed.isEmpty());
    }
    // From a trusted hop: the hop (malformed, or nothing said) or the header's address.
    const ClientAddress peer = ClientAddress::direct(QHostAddress(QStringLiteral("10.1.1.1")), 4001);
    if (trusted.contains(peer.address)) {
        const ClientAddress client = resolveClientAddress(peer, request, trusted, &malformed);
        FUZZ_CHECK(malformed == result.error);
        if (result.malformed || !result.hasAddress) {
            FUZZ_CHECK(client.address == peer.address && client.port == peer.port && client.via.isNull());
        } else {
            checkAddress(client.address);
            FUZZ_CHECK(client.address == result.address && client.port == result.port);
            FUZZ_CHECK(client.via == (client.address == peer.address ? QHostAddress() : peer.address));
            FUZZ_CHECK(client.isForwarded() == (client.address != peer.address));
        }
        FUZZ_CHECK(client.scheme == (!result.malformed && !result.scheme.isEmpty() ? result.scheme : "http"));
    }
    return 0;
}
