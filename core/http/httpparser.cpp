#include "httpparser.h"

#include "base/logging.h"
#include "httpchars.h"

#include <limits>
#include <utility>

namespace SockJsProxy {

using namespace HttpChars;

namespace {

// Consumed bytes are dropped from the front of the buffer once there are at
// least this many and they make up at least half of it, so compaction is
// amortised linear and small pipelined requests do not move memory each time.
constexpr qsizetype kCompactThreshold = 4096;
// A fully consumed buffer keeps its allocation for the next request unless a
// large body made it grow past this.
constexpr qsizetype kKeepCapacity = 64 * 1024;
// Chunk extensions are ignored, but a size line must not grow unboundedly.
constexpr qsizetype kMaxChunkSizeLine = 4096;

bool startsWithNoCase(QByteArrayView s, QByteArrayView prefix)
{
    return s.size() >= prefix.size() && s.first(prefix.size()).compare(prefix, Qt::CaseInsensitive) == 0;
}

// Digits only: no sign, no spaces, no list ("5, 5"). False on overflow too,
// so a huge value can never wrap around into a small one.
bool parseDecimal(QByteArrayView s, qint64 *value)
{
    if (s.isEmpty())
        return false;
    qint64 v = 0;
    for (const char c : s) {
        if (!isDigit(c))
            return false;
        const int digit = c - '0';
        if (v > (std::numeric_limits<qint64>::max() - digit) / 10)
            return false;
        v = v * 10 + digit;
    }
    *value = v;
    return true;
}

QByteArray toByteArray(QByteArrayView s)
{
    // Non-null even when empty: a present-but-empty header is not an absent one.
    return s.isEmpty() ? QByteArray("") : s.toByteArray();
}

} // namespace

void HttpParser::feed(const QByteArray &data)
{
    // After an error nothing more is parsed, so nothing more is kept either.
    if (m_state == State::Failed || data.isEmpty())
        return;
    compact();
    m_buffer.append(data);
}

void HttpParser::compact()
{
    if (m_pos == 0)
        return;
    if (m_pos == m_buffer.size()) {
        if (m_buffer.capacity() > kKeepCapacity)
            m_buffer = QByteArray();
        else
            m_buffer.resize(0);
    } else if (m_pos >= kCompactThreshold && m_pos >= m_buffer.size() / 2) {
        m_buffer.remove(0, m_pos);
    } else {
        return;
    }
    m_scanPos = qMax<qsizetype>(m_scanPos - m_pos, 0);
    m_pos = 0;
}

HttpParser::Status HttpParser::fail(int status, const char *reason)
{
    qCDebug(lcHttp) << "rejecting request:" << status << reason;
    m_state = State::Failed;
    m_errorStatus = status;
    m_errorReason = reason;
    m_request = HttpRequest();
    m_buffer = QByteArray();
    m_pos = 0;
    m_scanPos = 0;
    return Status::Error;
}

// Finds the next complete line from m_pos. The search resumes where the
// previous unsuccessful one stopped, so byte-by-byte feeding stays linear.
// The line excludes its terminator (LF or CRLF); rawLength includes it.
bool HttpParser::findLine(QByteArrayView *line, qsizetype *rawLength)
{
    const qsizetype from = qMax(m_scanPos, m_pos);
    const qsizetype lf = m_buffer.indexOf('\n', from);
    if (lf < 0) {
        m_scanPos = m_buffer.size();
        return false;
    }
    qsizetype end = lf;
    if (end > m_pos && m_buffer.at(end - 1) == '\r')
        --end;
    *line = QByteArrayView(m_buffer).sliced(m_pos, end - m_pos);
    *rawLength = lf + 1 - m_pos;
    m_pos = lf + 1;
    m_scanPos = m_pos;
    return true;
}

HttpParser::Status HttpParser::next()
{
    for (;;) {
        QByteArrayView line;
        qsizetype rawLength = 0;

        switch (m_state) {
        case State::Failed:
            return Status::Error;
        case State::Done:
            return Status::Complete;

        case State::RequestLine:
            if (!findLine(&line, &rawLength)) {
                // Decide on the length while the line is still arriving. A
                // trailing CR may be the first half of the CRLF, so it does
                // not count yet.
                const qsizetype pending = bufferedBytes();
                const qsizetype content = pending - (m_buffer.endsWith('\r') ? 1 : 0);
                if (content > m_limits.maxRequestLine)
                    return fail(414, "request line too long");
                return Status::NeedMore;
            }
            if (line.isEmpty())
                continue; // RFC 9112 2.2: tolerate empty lines before a request
            if (line.size() > m_limits.maxRequestLine)
                return fail(414, "request line too long");
            if (!parseRequestLine(line))
                return Status::Error;
            m_requestLimits = m_limitsLookup ? m_limitsLookup(m_request.path) : m_limits;
            m_state = State::Headers;
            continue;

        case State::Headers:
        case State::Trailers:
            if (!findLine(&line, &rawLength)) {
                // An unfinished field line will count at least its pending
                // bytes plus the LF. A lone CR may begin the empty line that
                // ends the section, which does not count.
                const qsizetype pending = bufferedBytes();
                const bool maybeEnd = pending == 1 && m_buffer.at(m_pos) == '\r';
                if (pending > 0 && !maybeEnd && m_headerBytes + pending + 1 > m_requestLimits.maxHeaderBytes)
                    return fail(431, "header section too large");
                return Status::NeedMore;
            }
            if (line.isEmpty()) {
                if (m_state == State::Trailers)
                    m_state = State::Done;
                else if (!parseFraming())
                    return Status::Error;
                continue;
            }
            // Limits before syntax, so that the status does not depend on
            // how the bytes were sliced (the early check above cannot see syntax).
            m_headerBytes += rawLength;
            if (m_headerBytes > m_requestLimits.maxHeaderBytes)
                return fail(431, "header section too large");
            if (++m_headerCount > m_requestLimits.maxHeaderCount)
                return fail(431, "too many header fields");
            // Trailer fields are checked like headers but discarded.
            if (!parseFieldLine(line, m_state == State::Headers))
                return Status::Error;
            continue;

        case State::Body:
            consumeBody(State::Done);
            if (m_state == State::Body)
                return Status::NeedMore;
            continue;

        case State::ChunkSize:
            if (!findLine(&line, &rawLength)) {
                // Same early decision as below; +1 leaves room for a CR.
                if (bufferedBytes() > kMaxChunkSizeLine + 1)
                    return fail(400, "chunk size line too long");
                return Status::NeedMore;
            }
            if (!parseChunkSize(line))
                return Status::Error;
            continue;

        case State::ChunkData:
            consumeBody(State::ChunkDataEnd);
            if (m_state == State::ChunkData)
                return Status::NeedMore;
            continue;

        case State::ChunkDataEnd: {
            // Chunk data must be followed by CRLF (or a bare LF).
            const qsizetype pending = bufferedBytes();
            if (pending == 0)
                return Status::NeedMore;
            const char c = m_buffer.at(m_pos);
            if (c == '\n') {
                m_pos += 1;
            } else if (c != '\r') {
                return fail(400, "missing CRLF after chunk data");
            } else if (pending < 2) {
                return Status::NeedMore;
            } else if (m_buffer.at(m_pos + 1) != '\n') {
                return fail(400, "missing CRLF after chunk data");
            } else {
                m_pos += 2;
            }
            m_state = State::ChunkSize;
            continue;
        }
        }
    }
}

HttpRequest HttpParser::takeRequest()
{
    if (m_state != State::Done)
        return HttpRequest();
    HttpRequest request = std::move(m_request);
    m_request = HttpRequest();
    m_state = State::RequestLine;
    m_headerBytes = 0;
    m_headerCount = 0;
    m_bodyRemaining = 0;
    // Nothing of the next request yet: give the buffer back now rather than
    // at the next feed(), which on a long poll or a stream may never come.
    if (m_pos == m_buffer.size()) {
        m_buffer = QByteArray();
        m_pos = 0;
        m_scanPos = 0;
    }
    return request;
}

bool HttpParser::isMidRequest() const
{
    switch (m_state) {
    case State::Failed:
        return false;
    case State::RequestLine:
    case State::Done:
        // Only bytes after the last complete request matter, and empty lines
        // before a request line are tolerated noise, not a request.
        for (qsizetype i = m_pos; i < m_buffer.size(); ++i) {
            const char c = m_buffer.at(i);
            if (c != '\r' && c != '\n')
                return true;
        }
        return false;
    default:
        return true;
    }
}

bool HttpParser::parseHead(const QByteArray &data, HttpRequest *request, const Limits &limits,
                           const LimitsLookup &lookup)
{
    return peekHead(data, request, limits, lookup) == Status::Complete;
}

HttpParser::Status HttpParser::peekHead(const QByteArray &data, HttpRequest *request, const Limits &limits,
                                        const LimitsLookup &lookup)
{
    HttpParser parser(limits);
    parser.m_limitsLookup = lookup;
    parser.m_headOnly = true;
    parser.feed(data);
    const Status status = parser.next();
    if (status == Status::Complete && request)
        *request = parser.takeRequest();
    return status;
}

void HttpParser::consumeBody(State whenDone)
{
    const qsizetype n = qsizetype(qMin<qint64>(bufferedBytes(), m_bodyRemaining));
    m_request.body.append(m_buffer.constData() + m_pos, n);
    m_pos += n;
    m_bodyRemaining -= n;
    if (m_bodyRemaining == 0)
        m_state = whenDone;
}

bool HttpParser::parseRequestLine(QByteArrayView line)
{
    // Exactly three parts separated by single spaces.
    const qsizetype sp1 = line.indexOf(' ');
    const qsizetype sp2 = sp1 < 0 ? -1 : line.indexOf(' ', sp1 + 1);
    if (sp2 < 0 || line.indexOf(' ', sp2 + 1) >= 0) {
        fail(400, "malformed request line");
        return false;
    }
    const QByteArrayView method = line.first(sp1);
    const QByteArrayView target = line.sliced(sp1 + 1, sp2 - sp1 - 1);
    const QByteArrayView version = line.sliced(sp2 + 1);

    if (!isToken(method)) {
        fail(400, "invalid method");
        return false;
    }

    // HTTP-version = "HTTP/" DIGIT "." DIGIT. A well-formed version we do not
    // speak (HTTP/0.9, HTTP/1.2, HTTP/2.0) is 505; anything else is 400.
    if (version.size() != 8 || !version.startsWith("HTTP/") || !isDigit(version.at(5)) || version.at(6) != '.'
        || !isDigit(version.at(7))) {
        fail(400, "malformed HTTP version");
        return false;
    }
    const int major = version.at(5) - '0';
    const int minor = version.at(7) - '0';
    if (major != 1 || minor > 1) {
        fail(505, "HTTP version not supported");
        return false;
    }

    if (target.isEmpty()) {
        fail(400, "empty request target");
        return false;
    }
    for (const char c : target) {
        if (uchar(c) <= 0x20 || uchar(c) == 0x7f) {
            fail(400, "invalid character in request target");
            return false;
        }
    }

    QByteArrayView pathAndQuery;
    if (target == "*") {
        if (method != "OPTIONS") {
            fail(400, "'*' target is only valid for OPTIONS");
            return false;
        }
        pathAndQuery = target;
    } else if (target.startsWith('/')) {
        pathAndQuery = target;
    } else {
        // absolute-form: scheme "://" authority [path-abempty] ["?" query]
        qsizetype schemeLength = 0;
        if (startsWithNoCase(target, "http://"))
            schemeLength = 7;
        else if (startsWithNoCase(target, "https://"))
            schemeLength = 8;
        if (schemeLength == 0) {
            fail(400, "invalid request target");
            return false;
        }
        const QByteArrayView rest = target.sliced(schemeLength);
        qsizetype authorityEnd = 0;
        while (authorityEnd < rest.size() && rest.at(authorityEnd) != '/' && rest.at(authorityEnd) != '?')
            ++authorityEnd;
        if (authorityEnd == 0) {
            fail(400, "absolute-form target without host");
            return false;
        }
        pathAndQuery = rest.sliced(authorityEnd);
    }

    const qsizetype question = pathAndQuery.indexOf('?');
    QByteArrayView path = question < 0 ? pathAndQuery : pathAndQuery.first(question);
    m_request.method = method.toByteArray();
    m_request.target = target.toByteArray();
    m_request.path = path.isEmpty() ? QByteArray("/") : path.toByteArray(); // "http://h?q"
    m_request.query = question < 0 ? QByteArray() : pathAndQuery.sliced(question + 1).toByteArray();
    m_request.versionMajor = major;
    m_request.versionMinor = minor;
    return true;
}

bool HttpParser::parseFieldLine(QByteArrayView line, bool store)
{
    if (isOws(line.front())) {
        // RFC 9112 5.2: obs-fold is deprecated; a server may reject it.
        fail(400, "obsolete line folding");
        return false;
    }
    const qsizetype colon = line.indexOf(':');
    if (colon < 0) {
        fail(400, "header field without colon");
        return false;
    }
    const QByteArrayView name = line.first(colon);
    if (name.isEmpty()) {
        fail(400, "empty header name");
        return false;
    }
    if (isOws(name.back())) {
        // RFC 9112 5.1: proxies disagree on "Name : value", a smuggling vector.
        fail(400, "whitespace between header name and colon");
        return false;
    }
    if (!isToken(name)) {
        fail(400, "invalid header name");
        return false;
    }
    const QByteArrayView value = trimOws(line.sliced(colon + 1));
    for (const char c : value) {
        if (c == '\0' || c == '\r' || c == '\n') {
            fail(400, "invalid character in header value");
            return false;
        }
    }
    if (store)
        m_request.headers.append({name.toByteArray(), toByteArray(value)});
    return true;
}

// Decides how the body is delimited once all headers are in (RFC 9112 6.3).
bool HttpParser::parseFraming()
{
    QByteArray contentLength;
    bool hasContentLength = false;
    QList<QByteArrayView> codings;
    bool hasTransferEncoding = false;

    for (const auto &h : std::as_const(m_request.headers)) {
        if (h.first.compare("Content-Length", Qt::CaseInsensitive) == 0) {
            if (hasContentLength && h.second != contentLength) {
                fail(400, "conflicting Content-Length headers");
                return false;
            }
            hasContentLength = true;
            contentLength = h.second;
        } else if (h.first.compare("Transfer-Encoding", Qt::CaseInsensitive) == 0) {
            hasTransferEncoding = true;
            codings += listElements(h.second); // empty list elements are allowed and ignored
        }
    }

    if (hasTransferEncoding) {
        // Two framings that intermediaries may resolve differently.
        if (hasContentLength) {
            fail(400, "both Transfer-Encoding and Content-Length");
            return false;
        }
        // RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 message means the
        // framing cannot be trusted.
        if (m_request.isHttp10()) {
            fail(400, "Transfer-Encoding in an HTTP/1.0 request");
            return false;
        }
        if (codings.isEmpty()) {
            fail(400, "empty Transfer-Encoding");
            return false;
        }
        // chunked must be last (else the body length is unknown: 400) and may
        // appear only once; any other coding we cannot decode: 501.
        for (qsizetype i = 0; i < codings.size() - 1; ++i) {
            if (codings.at(i).compare("chunked", Qt::CaseInsensitive) == 0) {
                fail(400, "chunked is not the final transfer coding");
                return false;
            }
        }
        if (codings.size() > 1 || codings.back().compare("chunked", Qt::CaseInsensitive) != 0) {
            fail(501, "unsupported transfer coding");
            return false;
        }
        m_state = m_headOnly ? State::Done : State::ChunkSize;
        return true;
    }

    if (hasContentLength) {
        qint64 length = 0;
        if (!parseDecimal(contentLength, &length)) {
            fail(400, "invalid Content-Length");
            return false;
        }
        // Decided here, before any body byte has to be buffered.
        if (length > m_requestLimits.maxBodyBytes) {
            fail(413, "body too large");
            return false;
        }
        m_bodyRemaining = length;
        m_state = (length == 0 || m_headOnly) ? State::Done : State::Body;
        return true;
    }

    // A request without either has no body, whatever its version.
    m_state = State::Done;
    return true;
}

bool HttpParser::parseChunkSize(QByteArrayView line)
{
    if (line.size() > kMaxChunkSizeLine) {
        fail(400, "chunk size line too long");
        return false;
    }
    // chunk-size [ BWS ";" chunk-ext ]
    qint64 size = 0;
    qsizetype i = 0;
    for (; i < line.size() && hexValue(line.at(i)) >= 0; ++i) {
        if (size > (std::numeric_limits<qint64>::max() >> 4)) {
            fail(400, "chunk size overflow");
            return false;
        }
        size = size * 16 + hexValue(line.at(i));
    }
    if (i == 0) {
        fail(400, "invalid chunk size");
        return false;
    }
    const qsizetype digitsEnd = i;
    while (i < line.size() && isOws(line.at(i)))
        ++i;
    // Whitespace is only allowed before a ';' (BWS), not trailing on its own.
    if (i == line.size() ? i != digitsEnd : line.at(i) != ';') {
        fail(400, "invalid chunk size");
        return false;
    }
    // Extensions are ignored, but control bytes in them are not let through.
    for (; i < line.size(); ++i) {
        const uchar c = uchar(line.at(i));
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            fail(400, "invalid chunk extension");
            return false;
        }
    }

    if (size == 0) {
        m_state = State::Trailers;
        return true;
    }
    // Announcing a chunk that would exceed the limit is enough to refuse.
    if (size > m_requestLimits.maxBodyBytes - m_request.body.size()) {
        fail(413, "body too large");
        return false;
    }
    m_bodyRemaining = size;
    m_state = State::ChunkData;
    return true;
}

} // namespace SockJsProxy
