#pragma once

#include "httprequest.h"

#include <QByteArray>

namespace SockJsProxy {

// Incremental HTTP/1.x request parser: bytes in, requests out. It never
// touches sockets, so it is tested with plain QByteArrays.
//
// Usage: feed() bytes as they arrive; while next() returns Status::Complete,
// takeRequest() and handle it (pipelined requests stay buffered for the next
// call). After Status::Error the parser stays in error; errorStatus() is the
// HTTP status to answer with and errorReason() a short human text.
class HttpParser
{
public:
    struct Limits
    {
        qsizetype maxRequestLine = 8 * 1024;     // request line incl. target; over -> 414
        qsizetype maxHeaderBytes = 32 * 1024;    // all header lines together; over -> 431
                                                 // (field lines with their CRLF/LF; chunked
                                                 // trailer fields count against both limits)
        int maxHeaderCount = 100;                // over -> 431
        qsizetype maxBodyBytes = 1024 * 1024;    // Content-Length or de-chunked total; over -> 413
    };

    enum class Status {
        NeedMore,  // no complete request buffered yet
        Complete,  // a request is ready: takeRequest()
        Error,     // malformed or over a limit: errorStatus()/errorReason()
    };

    HttpParser() = default;
    explicit HttpParser(const Limits &limits) : m_limits(limits) {}

    void setLimits(const Limits &limits) { m_limits = limits; }
    const Limits &limits() const { return m_limits; }

    void feed(const QByteArray &data);
    // Advances the parse over buffered bytes. Cheap to call repeatedly.
    Status next();
    // Only valid right after next() returned Complete.
    HttpRequest takeRequest();

    int errorStatus() const { return m_errorStatus; }   // 400, 413, 414, 431, 501, 505
    QByteArray errorReason() const { return m_errorReason; }

    // Bytes received but not yet consumed by a returned request.
    qsizetype bufferedBytes() const { return m_buffer.size() - m_pos; }
    // True while the bytes of a request have started arriving but it is not complete.
    bool isMidRequest() const;

    // Parses just the head (request line + headers) of data, which must
    // contain the terminating empty line; used to look at a request that was
    // only peeked from a socket. Returns false on malformed input.
    static bool parseHead(const QByteArray &data, HttpRequest *request, const Limits &limits);

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
    QByteArray m_buffer;
    qsizetype m_pos = 0;            // consumed prefix of m_buffer
    State m_state = State::RequestLine;
    HttpRequest m_request;
    qsizetype m_headerBytes = 0;
    qsizetype m_scanPos = 0;        // no '\n' in m_buffer[m_pos, m_scanPos): resume the search here
    int m_headerCount = 0;          // header plus trailer field lines of the current request
    qint64 m_bodyRemaining = 0;     // of the Content-Length body or the current chunk
    bool m_headOnly = false;        // parseHead(): stop after the head
    int m_errorStatus = 0;
    QByteArray m_errorReason;
};

} // namespace SockJsProxy
