#pragma once

#include "http/proxyprotocol.h"

class QIODevice;

namespace SockJsProxy {

// Reads a PROXY protocol header from the start of a device, taking exactly
// the header's bytes from it and not one more: it peek()s what the decoder
// may still want and, once the header is complete, skip()s the header.
// Whatever follows (an HTTP request, a WebSocket handshake, a TLS
// ClientHello) stays unread in the device.
//
// Works on any QIODevice whose peek() and skip() see the raw bytes: a
// QTcpSocket, or a QSslSocket in UnencryptedMode before
// startServerEncryption() (Qt forwards both to its plain socket there), so a
// TLS listener can take the header first and then start the handshake. A
// socket's read buffer, if limited, must hold ProxyProtocolDecoder::kMaxBytes.
//
// Call read() whenever the device has new bytes (readyRead) until it returns
// Done or Error; both are final. Holds no pointer to the device.
class ProxyHeaderReader
{
public:
    using Status = ProxyProtocolDecoder::Status;

    Status read(QIODevice *device);

    Status status() const { return m_status; }
    // Some bytes of a header have arrived (a peer that sends nothing at all
    // may be a balancer's plain TCP check).
    bool hasStarted() const { return m_fed > 0; }
    // Valid once read() returned Done.
    const ProxyProtocolDecoder::Header &header() const { return m_decoder.header(); }
    // With Error: the bytes were no PROXY header at all, and why not.
    bool isMissing() const { return m_decoder.isMissing(); }
    QByteArray errorReason() const { return m_decoder.errorReason(); }

private:
    ProxyProtocolDecoder m_decoder;
    Status m_status = Status::NeedMore;
    qsizetype m_fed = 0; // bytes peeked into m_decoder
};

} // namespace SockJsProxy
