#pragma once

#include "http/clientaddress.h"
#include "http/httpparser.h"
#include "http/httpresponse.h"
#include "http/proxyheaderreader.h"
#include "http/trustedproxies.h"

#include <QBasicTimer>
#include <QHostAddress>
#include <QObject>

#include <functional>
#include <memory>

class QTcpSocket;

namespace SockJsProxy {

// One TCP peer speaking HTTP/1.x: reads requests with HttpParser, writes
// responses, keeps the connection alive between requests and holds
// pipelined requests back until the current response has ended.
//
// A response is either fixed (respond()) or streamed (beginStream(),
// writeChunk()..., endStream()): chunked for HTTP/1.1, raw and ended by
// closing for HTTP/1.0.
//
// The Connection owns its socket and deletes itself (deleteLater) once the
// socket is gone; closed() fires once, before that. Objects that write to a
// connection hold a QPointer to it.
//
// Behind a load balancer (Options::trustedProxies, Options::proxyProtocol)
// client() is the real client: see ClientAddress and resolveClientAddress().
// With proxyProtocol every connection must begin with a PROXY header, which
// is read (only it) from the socket before anything else, so that an
// upgrade finds the socket at the start of its request head as usual. The
// caller accepts such connections from trusted peers only.
class Connection : public QObject
{
    Q_OBJECT

public:
    struct Options
    {
        HttpParser::Limits limits;
        int requestTimeoutMs = 30000;    // a started request must complete within this (slow clients)
        int keepAliveTimeoutMs = 120000; // idle keep-alive connections are closed after this
        // Peers whose forwarding headers (and PROXY header) name the client.
        TrustedProxies trustedProxies;
        // Every connection begins with a PROXY protocol header (v1 or v2),
        // due within requestTimeoutMs of the connection.
        bool proxyProtocol = false;
    };

    // Why a connection was closed before its PROXY header was accepted.
    enum class ProxyRefusal {
        Missing,    // the first bytes are no PROXY header at all
        Malformed,  // began like one but is not valid
        Incomplete, // not complete within requestTimeoutMs, or the peer closed mid-header
    };
    Q_ENUM(ProxyRefusal)

    // Offered a request head that asks for an Upgrade before any of it is read
    // from the socket. Returns true when it took the socket (detachSocket()).
    using UpgradeHandler = std::function<bool(Connection *, const HttpRequest &)>;

    Connection(QTcpSocket *socket, const Options &options, QObject *parent = nullptr);
    ~Connection() override;

    void setUpgradeHandler(UpgradeHandler handler) { m_upgradeHandler = std::move(handler); }
    // Chooses the header, count and body limits of each request (and of a
    // peeked upgrade handshake) by its path; without one Options::limits
    // apply to all. largestHeaderBytes is the most maxHeaderBytes the lookup
    // can return, so that a handshake within its limits fits the socket's
    // read buffer. Set before the first request is read.
    void setLimitsLookup(HttpParser::LimitsLookup lookup, qsizetype largestHeaderBytes);
    // The PROXY header of this connection, read from the socket before it
    // was given (a TLS listener reads it before the handshake, which the
    // socket has done since): the client is its source. For Options
    // without proxyProtocol; call before the first request is read.
    void setProxyHeader(const ProxyProtocolDecoder::Header &header);

    // The request being answered; valid from requestReceived() until its
    // response ends.
    const HttpRequest &request() const { return m_request; }
    // The TCP peer (the load balancer, when there is one).
    QHostAddress peerAddress() const { return m_peerAddress; }
    quint16 peerPort() const { return m_peerPort; }
    // The client: of the request being answered (from requestReceived()
    // until its response ends) or of the upgrade head being offered (while
    // the upgrade handler runs); otherwise the connection's own (the PROXY
    // header's source, else the TCP peer). The one address that limits,
    // check_address, logs and the monitor use.
    const ClientAddress &client() const { return m_client; }
    bool isOpen() const { return m_socket != nullptr; }
    bool isResponding() const { return m_responding; }
    bool isStreaming() const { return m_streaming; }
    // Bytes written but not yet handed to the kernel.
    qint64 bytesToWrite() const;

    void respond(const HttpResponse &response);
    void beginStream(const HttpResponse &head);
    // One frame = one chunk. Returns false when the peer is gone.
    bool writeChunk(const QByteArray &data);
    void endStream();
    // Drops the connection at once (after what is already written).
    void close();

    // Gives up the socket for a protocol switch; the Connection then goes
    // away. Nothing of the request has been read from the socket.
    QTcpSocket *detachSocket();

Q_SIGNALS:
    void requestReceived(SockJsProxy::Connection *connection);
    // The peer can take more data (after bytesWritten while streaming).
    void writable();
    // The socket is gone: peer closed, error, or close(). Fired once.
    void closed();
    // A request was refused before it reached a handler (malformed, over a
    // limit, too slow); the connection answered status and closes.
    void requestRejected(int status, const QByteArray &reason);
    // A request from a trusted peer had malformed forwarding headers; it is
    // served with the peer's address. reason names the header and the fault.
    void forwardingMalformed(const QByteArray &reason);
    // The PROXY header was read; the requests follow.
    void proxyHeaderAccepted();
    // The connection closes without a valid PROXY header; nothing is answered.
    void proxyHeaderRefused(SockJsProxy::Connection::ProxyRefusal refusal, const QByteArray &reason);

protected:
    void timerEvent(QTimerEvent *event) override;

private:
    void onReadyRead();
    void onDisconnected();
    void dispatchBuffered();
    bool offerUpgrade();
    // Reads the PROXY header; true once it is in and the requests may follow.
    bool readProxyHeader();
    void applyProxyHeader(const ProxyProtocolDecoder::Header &header);
    void refuseProxyHeader(ProxyRefusal refusal, const QByteArray &reason);
    void resolveClient(const HttpRequest &request, QByteArray *malformed);
    void finishResponse(bool keepAlive);
    void failRequest(int status, const QByteArray &reason);
    void armIdleTimer();
    // Writes to the kernel at once when nothing is queued before it.
    void send(const QByteArray &data);
    QByteArray statusAndHeaders(const HttpResponse &response, const QList<QPair<QByteArray, QByteArray>> &extra) const;

    QTcpSocket *m_socket = nullptr;
    Options m_options;
    HttpParser m_parser;
    HttpRequest m_request;
    UpgradeHandler m_upgradeHandler;
    HttpParser::LimitsLookup m_limitsLookup;
    qsizetype m_maxHeadBytes = 0; // request line and header section with their line ends
    QHostAddress m_peerAddress;
    quint16 m_peerPort = 0;
    ClientAddress m_connectionClient;                 // the PROXY header's source, else the TCP peer
    ClientAddress m_client;                           // of the current request; see client()
    std::unique_ptr<ProxyHeaderReader> m_proxyReader; // while the PROXY header is due
    bool m_sendsToKernel = true;                      // send() may write to the descriptor itself (not on TLS)
    QBasicTimer m_idleTimer;
    bool m_responding = false;
    bool m_streaming = false;
    bool m_chunked = false;
    bool m_keepAlive = true;
    bool m_dispatching = false;
    bool m_closedEmitted = false;
    bool m_closing = false;
    bool m_timingRequest = false; // m_idleTimer measures a started request, not idleness
};

} // namespace SockJsProxy
