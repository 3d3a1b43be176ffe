#pragma once

#include "httprequest.h"

#include <QByteArray>
#include <QByteArrayView>

#include <functional>

namespace SockJsProxy {

// Incremental HTTP/1.x request parser: bytes in, requests out. It never
// touches sockets, so it is tested with plain QByteArrays.
//
// Usage: feed() bytes as they arrive; while next() returns Status::Complete,
// takeRequest() and handle it (pipelined requests stay buffered for the next
// call). After Status::Error the parser stays in error; errorStatus() is the
// HTTP status to answer with and errorReason() a short human text.
//
// The limits given to the constructor apply to every request unless a
// limits lookup is set: then, once a request line is in, the lookup chooses
// the header, count and body limits of that request by its path. The
// request-line limit always comes from the constructor's limits, since it is
// enforced before the path is known.
class HttpParser
{
public:
    struct Limits
    {
        qsizetype maxRequestLine = 8 * 1024;  // request line incl. target; over -> 414
        qsizetype maxHeaderBytes = 32 * 1024; // all header lines together; over -> 431
                                              // (field lines with their CRLF/LF; chunked
                                              // trailer fields count against both limits)
        int maxHeaderCount = 100;             // over -> 431
        qsizetype maxBodyBytes = 1024 * 1024; // Content-Length or de-chunked total; over -> 413
    };

    // Called once per request, with the path of its request line (as in
    // HttpRequest::path); its maxRequestLine is ignored.
    using LimitsLookup = std::function<Limits(QByteArrayView path)>;

    enum class Status {
        NeedMore, // no complete request buffered yet
        Complete, // a request is ready: takeRequest()
        Error,    // malformed or over a limit: errorStatus()/errorReason()
    };

    HttpParser() = default;
    explicit HttpParser(const Limits &limits) : m_limits(limits), m_requestLimits(limits) {}

    void setLimits(const Limits &limits) { m_limits = limits; }
    const Limits &limits() const { return m_limits; }
    // Takes effect from the next request line on.
    void setLimitsLookup(LimitsLookup lookup) { m_limitsLookup = std::move(lookup); }

    void feed(const QByteArray &data);
    // Advances the parse over buffered bytes. Cheap to call repeatedly.
    Status next();
    // Only valid right after next() returned Complete.
    HttpRequest takeRequest();

    int errorStatus() const { return m_errorStatus; } // 400, 413, 414, 431, 501, 505
    QByteArray errorReason() const { return m_errorReason; }

    // Bytes received but not yet consumed by a returned request.
    qsizetype bufferedBytes() const { return m_buffer.size() - m_pos; }
    // True while the bytes of a request have started arriving but it is not complete.
    bool isMidRequest() const;

    // Parses just the head (request line + headers) of data, which must
    // contain the terminating empty line; used to look at a request that was
    // only peeked from a socket. Returns false on malformed input.
    static bool parseHead(const QByteArray &data, HttpRequest *request, const Limits &limits,
                          const LimitsLookup &lookup = {});
    // Like parseHead() on data that may hold only the start of a head:
    // NeedMore while the head is incomplete and within the limits so far,
    // Error as soon as next() on the same bytes would fail, Complete (and
    // *request filled) once the head is in.
    static Status peekHead(const QByteArray &data, HttpRequest *request, const Limits &limits,
                           const LimitsLookup &lookup = {});

private:
    enum class State { RequestLine, Headers, Body, ChunkSize, ChunkData, ChunkDataEnd, Trailers, Done, Failed };

    Status fail(int status, const char *reason);
    bool findLine(QByteArrayView *line, qsizetype *rawLength);
    bool parseRequestLine(QByteArrayView line);
    bool parseFieldLine(QByteArrayView line, bool store);
    bool parseFraming();
    bool parseChunkSize(QByteArrayView line);
    void consumeBody(State whenDone);
    void compact();

    Limits m_limits;
    LimitsLookup m_limitsLookup;
    Limits m_requestLimits; // of the current request, chosen after its request line
    QByteArray m_buffer;
    qsizetype m_pos = 0; // consumed prefix of m_buffer
    State m_state = State::RequestLine;
    HttpRequest m_request;
    qsizetype m_headerBytes = 0;
    qsizetype m_scanPos = 0;    // no '\n' in m_buffer[m_pos, m_scanPos): resume the search here
    int m_headerCount = 0;      // header plus trailer field lines of the current request
    qint64 m_bodyRemaining = 0; // of the Content-Length body or the current chunk
    bool m_headOnly = false;    // parseHead(): stop after the head
    int m_errorStatus = 0;
    QByteArray m_errorReason;
};

} // namespace SockJsProxy
