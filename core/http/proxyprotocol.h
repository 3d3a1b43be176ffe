#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QHostAddress>

namespace SockJsProxy {

// Incremental decoder of the PROXY protocol header, versions 1 (text, HAProxy
// send-proxy) and 2 (binary, send-proxy-v2), that a load balancer writes at
// the start of a connection: bytes in, result out, never a socket.
//
// Usage: feed() bytes as they arrive and call next(): NeedMore while the
// header is incomplete (and nothing wrong yet), Done once it is complete
// (consumed() bytes of the input are the header, header() says what it
// holds; the bytes after it are the application's), Error as soon as the
// bytes cannot be a valid header (isMissing() when they do not even start
// like one; errorReason() says why). Done and Error are final. The result
// never depends on how the bytes were cut.
//
// Accepted:
//  - v1: "PROXY TCP4|TCP6 <src> <dst> <srcport> <dstport>\r\n" with single
//    spaces, addresses as inet_ntop writes them, ports 0-65535 without leading
//    zeros; "PROXY UNKNOWN ...\r\n" (the rest ignored); at most 107 bytes.
//  - v2: the 12-byte signature, version 2, command LOCAL (the balancer's own
//    connection, e.g. a health check: no addresses) or PROXY; families
//    AF_INET and AF_INET6 over STREAM carry addresses, AF_UNSPEC and AF_UNIX
//    (stream) are accepted without; DGRAM and unknown families are errors.
//    The address block must fit the length, whose rest must be well-formed
//    TLVs (type, 16-bit length, value): they are skipped.
class ProxyProtocolDecoder
{
public:
    enum class Status { NeedMore, Done, Error };

    struct Header
    {
        int version = 0;           // 1 or 2
        bool local = false;        // v2 LOCAL
        bool hasAddresses = false; // false: LOCAL, v1 UNKNOWN, v2 AF_UNSPEC or AF_UNIX
        QHostAddress source;       // the client, as the balancer saw it
        quint16 sourcePort = 0;
        QHostAddress destination; // the address the client connected to
        quint16 destinationPort = 0;
    };

    static constexpr qsizetype kV1MaxBytes = 107;
    static constexpr qsizetype kV2FixedBytes = 16;
    static constexpr qsizetype kMaxBytes = kV2FixedBytes + 65535;

    // Bytes beyond the longest possible header are not kept.
    void feed(QByteArrayView data);
    Status next();

    qsizetype consumed() const { return m_status == Status::Done ? m_length : 0; }
    const Header &header() const { return m_header; }
    bool isMissing() const { return m_missing; }
    QByteArray errorReason() const { return m_errorReason; }
    // How many bytes next() may still need (at least 1 while NeedMore): feed
    // no more than this to leave everything after the header unread.
    qsizetype bytesWanted() const;

private:
    Status fail(const char *reason, bool missing = false);
    Status nextV1();
    Status nextV2();

    QByteArray m_buffer;
    Status m_status = Status::NeedMore;
    qsizetype m_length = 0; // of the header, once known
    Header m_header;
    bool m_missing = false;
    QByteArray m_errorReason;
};

} // namespace SockJsProxy
