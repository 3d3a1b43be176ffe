// libFuzzer target: HttpParser on arbitrary bytes.
//
// Each input is parsed twice with the same limits: fed whole, and fed in
// slices cut at positions derived from its first bytes (sometimes byte by
// byte). Both runs must yield the same requests and end the same way, since
// the parser promises that its results do not depend on how bytes arrive.
// Every request must respect the limits; after an error the parser stays in
// error. parseHead() must agree with the first request of the full parse.
// Half of the inputs run with tiny limits so that 413/414/431 are reached.
// Half choose limits per request by path, as a server does per service,
// from the input's hash and the path: each request must respect its own,
// and the lookup is asked once per request line.

#include "http/httpparser.h"

#include <QtGlobal>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

using SockJsProxy::HttpParser;
using SockJsProxy::HttpRequest;

namespace {

#define FUZZ_CHECK(condition)                                                                                          \
    do {                                                                                                               \
        if (!(condition))                                                                                              \
            __builtin_trap();                                                                                          \
    } while (false)

struct Outcome
{
    std::vector<HttpRequest> requests;
    HttpParser::Status last = HttpParser::Status::NeedMore;
    int errorStatus = 0;
    bool midRequest = false;
};

quint32 fnv1a(const uint8_t *data, size_t size)
{
    quint32 hash = 2166136261u;
    for (size_t i = 0; i < size; ++i) {
        hash ^= data[i];
        hash *= 16777619u;
    }
    return hash;
}

// The limits a request gets: the lookup's for its path when there is one,
// with the parser's own request-line limit.
HttpParser::Limits effectiveLimits(const HttpRequest &request, const HttpParser::Limits &limits,
                                   const HttpParser::LimitsLookup &lookup)
{
    if (!lookup)
        return limits;
    HttpParser::Limits own = lookup(request.path);
    own.maxRequestLine = limits.maxRequestLine;
    return own;
}

bool isOws(char c) { return c == ' ' || c == '\t'; }

bool sameHead(const HttpRequest &a, const HttpRequest &b)
{
    return a.method == b.method && a.target == b.target && a.path == b.path && a.query == b.query
           && a.versionMajor == b.versionMajor && a.versionMinor == b.versionMinor && a.headers == b.headers;
}

void checkRequest(const HttpRequest &request, const HttpParser::Limits &limits)
{
    FUZZ_CHECK(request.body.size() <= limits.maxBodyBytes);
    FUZZ_CHECK(request.headers.size() <= limits.maxHeaderCount);
    FUZZ_CHECK(!request.method.isEmpty());
    FUZZ_CHECK(!request.target.isEmpty());
    // The request line holds method, target and version, so the target is shorter.
    FUZZ_CHECK(request.target.size() <= limits.maxRequestLine);
    FUZZ_CHECK(request.versionMajor == 1 && (request.versionMinor == 0 || request.versionMinor == 1));
    FUZZ_CHECK(request.path.startsWith('/') || request.path == "*");
    FUZZ_CHECK(!request.path.contains('?'));
    qsizetype headerBytes = 0;
    for (const auto &header : request.headers) {
        FUZZ_CHECK(!header.first.isEmpty());
        FUZZ_CHECK(!header.second.isNull()); // present, even when empty
        FUZZ_CHECK(!header.first.contains(':'));
        for (const char c : header.second)
            FUZZ_CHECK(c != '\0' && c != '\r' && c != '\n');
        if (!header.second.isEmpty())
            FUZZ_CHECK(!isOws(header.second.front()) && !isOws(header.second.back()));
        // Each field line is at least "name:value\n".
        headerBytes += header.first.size() + header.second.size() + 2;
    }
    FUZZ_CHECK(headerBytes <= limits.maxHeaderBytes);
}

bool isKnownErrorStatus(int status)
{
    return status == 400 || status == 413 || status == 414 || status == 431 || status == 501 || status == 505;
}

// Feeds data in the slices [cuts[i], cuts[i+1]) and drains the parser after each.
Outcome parse(const QByteArray &data, const std::vector<qsizetype> &cuts, const HttpParser::Limits &limits,
              const HttpParser::LimitsLookup &lookup)
{
    HttpParser parser(limits);
    size_t lookups = 0;
    if (lookup) {
        parser.setLimitsLookup([&lookups, &lookup](QByteArrayView path) {
            ++lookups;
            FUZZ_CHECK(path.startsWith('/') || path == "*");
            return lookup(path);
        });
    }
    Outcome outcome;
    qsizetype fed = 0;
    qsizetype bodyBytes = 0;
    for (size_t i = 0; i + 1 < cuts.size(); ++i) {
        const QByteArray slice = data.mid(cuts[i], cuts[i + 1] - cuts[i]);
        parser.feed(slice);
        fed += slice.size();
        for (;;) {
            const HttpParser::Status status = parser.next();
            outcome.last = status;
            if (status != HttpParser::Status::Complete)
                break;
            // Cheap to call repeatedly: still complete until taken.
            FUZZ_CHECK(parser.next() == HttpParser::Status::Complete);
            HttpRequest request = parser.takeRequest();
            checkRequest(request, effectiveLimits(request, limits, lookup));
            bodyBytes += request.body.size();
            FUZZ_CHECK(bodyBytes <= fed);
            outcome.requests.push_back(std::move(request));
            // Every request takes at least "M / HTTP/1.x\n\n" (14 bytes) of the input.
            FUZZ_CHECK(qsizetype(outcome.requests.size()) * 14 <= fed);
        }
        FUZZ_CHECK(parser.bufferedBytes() >= 0 && parser.bufferedBytes() <= fed);
        if (outcome.last == HttpParser::Status::Error)
            break;
    }

    // Once per request line accepted: every request taken, plus perhaps the
    // one in progress or refused after its request line.
    if (lookup) {
        FUZZ_CHECK(lookups >= outcome.requests.size());
        FUZZ_CHECK(lookups <= outcome.requests.size() + 1);
    }

    if (outcome.last == HttpParser::Status::Error) {
        outcome.errorStatus = parser.errorStatus();
        FUZZ_CHECK(isKnownErrorStatus(outcome.errorStatus));
        FUZZ_CHECK(!parser.errorReason().isEmpty());
        FUZZ_CHECK(parser.bufferedBytes() == 0);
        FUZZ_CHECK(!parser.isMidRequest());
        // The parser stays in error, whatever comes next.
        FUZZ_CHECK(parser.next() == HttpParser::Status::Error);
        parser.feed(QByteArrayLiteral("GET / HTTP/1.1\r\n\r\n"));
        FUZZ_CHECK(parser.next() == HttpParser::Status::Error);
        FUZZ_CHECK(parser.errorStatus() == outcome.errorStatus);
        FUZZ_CHECK(parser.bufferedBytes() == 0);
        // takeRequest() outside Complete gives an empty request.
        FUZZ_CHECK(parser.takeRequest().method.isEmpty());
    } else {
        FUZZ_CHECK(outcome.last == HttpParser::Status::NeedMore);
        FUZZ_CHECK(parser.errorStatus() == 0);
        outcome.midRequest = parser.isMidRequest();
        FUZZ_CHECK(parser.takeRequest().method.isEmpty());
    }
    return outcome;
}

HttpParser::Limits limitsFor(quint32 hash)
{
    HttpParser::Limits limits;
    if (hash & 1) {
        // Tiny limits, so every limit path is within reach of short inputs.
        limits.maxRequestLine = qsizetype((hash >> 1) % 48);
        limits.maxHeaderBytes = qsizetype((hash >> 7) % 96);
        limits.maxHeaderCount = int((hash >> 14) % 6);
        limits.maxBodyBytes = qsizetype((hash >> 18) % 48);
    }
    return limits;
}

// Every other input gets per-path limits; the request-line limit it returns
// is nonsense on purpose, since the parser must ignore it.
HttpParser::LimitsLookup lookupFor(quint32 hash)
{
    if ((hash >> 27) & 1)
        return {};
    return [hash](QByteArrayView path) {
        HttpParser::Limits limits =
            limitsFor(hash ^ fnv1a(reinterpret_cast<const uint8_t *>(path.data()), size_t(path.size())));
        limits.maxRequestLine = 0;
        return limits;
    };
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray input(reinterpret_cast<const char *>(data), qsizetype(size));
    const qsizetype n = input.size();
    const quint32 hash = fnv1a(data, qMin<size_t>(size, 4));
    const HttpParser::Limits limits = limitsFor(hash);
    const HttpParser::LimitsLookup lookup = lookupFor(hash);

    const Outcome whole = parse(input, {0, n}, limits, lookup);

    std::vector<qsizetype> cuts{0};
    if (((hash >> 24) & 7) == 0 && n <= 4096) {
        for (qsizetype i = 1; i <= n; ++i)
            cuts.push_back(i);
    } else {
        // Up to three cut points from the first bytes, in order, plus the end.
        std::vector<qsizetype> points;
        for (size_t i = 0; i < 3 && i < size; ++i)
            points.push_back(
                n == 0 ? 0 : qsizetype((quint32(data[i]) * 2654435761u + quint32(i) * 40503u) % quint32(n + 1)));
        std::sort(points.begin(), points.end());
        for (const qsizetype point : points)
            cuts.push_back(point);
        cuts.push_back(n);
    }
    const Outcome sliced = parse(input, cuts, limits, lookup);

    FUZZ_CHECK(whole.last == sliced.last);
    FUZZ_CHECK(whole.errorStatus == sliced.errorStatus);
    FUZZ_CHECK(whole.midRequest == sliced.midRequest);
    FUZZ_CHECK(whole.requests.size() == sliced.requests.size());
    for (size_t i = 0; i < whole.requests.size(); ++i) {
        FUZZ_CHECK(sameHead(whole.requests[i], sliced.requests[i]));
        FUZZ_CHECK(whole.requests[i].body == sliced.requests[i].body);
    }

    // The head alone: whenever a full request came out first, parseHead sees
    // the same head; parseHead never accepts what the full parse rejects in
    // the head.
    HttpRequest head;
    const bool headOk = HttpParser::parseHead(input, &head, limits, lookup);
    if (!whole.requests.empty()) {
        FUZZ_CHECK(headOk);
        FUZZ_CHECK(sameHead(head, whole.requests.front()));
        FUZZ_CHECK(head.body.isEmpty());
    }
    if (headOk)
        checkRequest(head, effectiveLimits(head, limits, lookup));
    // parseHead also copes without a request to fill.
    FUZZ_CHECK(HttpParser::parseHead(input, nullptr, limits, lookup) == headOk);
    // peekHead agrees with parseHead, and on a prefix of a head that parses
    // it never reports an error: a peeked handshake is refused only when the
    // parser would refuse it.
    const HttpParser::Status peeked = HttpParser::peekHead(input, nullptr, limits, lookup);
    FUZZ_CHECK((peeked == HttpParser::Status::Complete) == headOk);
    if (headOk && n > 0)
        FUZZ_CHECK(HttpParser::peekHead(input.first(n - 1), nullptr, limits, lookup) != HttpParser::Status::Error);
    return 0;
}
