#include "connection.h"

#include "base/logging.h"

#include <QPointer>

#ifdef Q_OS_WIN
#include <winsock2.h>
#else
#include <cerrno>
#include <sys/socket.h>
#include <sys/types.h>
#endif
#include <QSslSocket>
#include <QTcpSocket>
#include <QTimerEvent>

namespace SockJsProxy {

namespace {
using Header = QPair<QByteArray, QByteArray>;

// A peer that stops reading while we close gets this long to take the rest.
constexpr int kCloseGraceMs = 5000;
// Read-buffer room beyond the largest request, so that what follows it
// (the next pipelined request, WebSocket frames) does not stall.
constexpr qint64 kReadSlack = 64 * 1024;

// The longest head within the limits: request line, header section and the
// two CRLFs that end them.
qsizetype maxHeadBytes(qsizetype maxRequestLine, qsizetype maxHeaderBytes)
{
    return maxRequestLine + maxHeaderBytes + 4;
}
} // namespace

Connection::Connection(QTcpSocket *socket, const Options &options, QObject *parent)
    : QObject(parent), m_socket(socket), m_options(options), m_parser(options.limits),
      m_maxHeadBytes(maxHeadBytes(options.limits.maxRequestLine, options.limits.maxHeaderBytes)),
      m_peerAddress(socket->peerAddress()), m_peerPort(socket->peerPort()),
      m_connectionClient(ClientAddress::direct(m_peerAddress, m_peerPort)), m_client(m_connectionClient),
      // A TLS socket's descriptor carries ciphertext: everything goes through
      // QSslSocket::write().
      m_sendsToKernel(qobject_cast<QSslSocket *>(socket) == nullptr)
{
    m_socket->setParent(this);
    m_socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
    // Bounded read buffer: while a response is in progress nothing more is
    // parsed, and TCP flow control holds the peer back instead of our memory.
    // A body larger than this (a service may allow more) still arrives: the
    // parser takes the socket's bytes as they come when no response is due.
    m_socket->setReadBufferSize(m_maxHeadBytes + m_options.limits.maxBodyBytes + kReadSlack);
    if (m_options.proxyProtocol) {
        m_proxyReader = std::make_unique<ProxyHeaderReader>();
        // The longest header must fit, since it is peeked whole.
        if (m_socket->readBufferSize() < ProxyProtocolDecoder::kMaxBytes)
            m_socket->setReadBufferSize(ProxyProtocolDecoder::kMaxBytes);
    }

    connect(m_socket, &QTcpSocket::readyRead, this, &Connection::onReadyRead);
    connect(m_socket, &QTcpSocket::disconnected, this, &Connection::onDisconnected);
    connect(m_socket, &QTcpSocket::bytesWritten, this, [this] {
        if (m_streaming)
            Q_EMIT writable();
    });
    armIdleTimer();
    if (m_socket->bytesAvailable() > 0)
        QMetaObject::invokeMethod(this, &Connection::onReadyRead, Qt::QueuedConnection);
    if (m_socket->state() != QAbstractSocket::ConnectedState)
        QMetaObject::invokeMethod(this, &Connection::onDisconnected, Qt::QueuedConnection);
}

Connection::~Connection() = default;

void Connection::setLimitsLookup(HttpParser::LimitsLookup lookup, qsizetype largestHeaderBytes)
{
    m_parser.setLimitsLookup(lookup);
    m_limitsLookup = std::move(lookup);
    // A handshake is peeked whole from the socket's read buffer, so that
    // buffer must hold the largest head any request may have.
    m_maxHeadBytes = qMax(m_maxHeadBytes, maxHeadBytes(m_options.limits.maxRequestLine, largestHeaderBytes));
    if (m_socket && m_socket->readBufferSize() < m_maxHeadBytes + kReadSlack)
        m_socket->setReadBufferSize(m_maxHeadBytes + kReadSlack);
}

// QTcpSocket::write() copies into a write buffer that is sent later from
// the event loop and then kept, 16 KiB or more for the connection's whole
// life. Sending straight to the kernel while that buffer is empty saves the
// memory, a copy and a trip through the event loop; whatever the kernel does
// not take goes to QTcpSocket as before, so the order is kept.
void Connection::send(const QByteArray &data)
{
    qint64 sent = 0;
    if (m_sendsToKernel && m_socket->bytesToWrite() == 0 && m_socket->state() == QAbstractSocket::ConnectedState) {
        const auto descriptor = m_socket->socketDescriptor();
#ifdef Q_OS_WIN
        const int n = ::send(SOCKET(descriptor), data.constData(), int(qMin<qsizetype>(data.size(), INT_MAX)), 0);
        sent = n > 0 ? n : 0;
#else
#ifdef MSG_NOSIGNAL
        const int flags = MSG_NOSIGNAL;
#else
        const int flags = 0;
#endif
        ssize_t n;
        do {
            n = ::send(int(descriptor), data.constData(), size_t(data.size()), flags);
        } while (n < 0 && errno == EINTR);
        sent = n > 0 ? n : 0; // EAGAIN or an error: QTcpSocket takes over and reports it
#endif
    }
    if (sent < data.size())
        m_socket->write(data.constData() + sent, data.size() - sent);
}

qint64 Connection::bytesToWrite() const { return m_socket ? m_socket->bytesToWrite() : 0; }

void Connection::onReadyRead()
{
    if (!m_socket || m_closing)
        return;
    if (m_proxyReader && !readProxyHeader())
        return;
    const bool atBoundary = !m_responding && m_parser.bufferedBytes() == 0;
    if (atBoundary && m_upgradeHandler && offerUpgrade())
        return;
    if (m_responding && m_parser.bufferedBytes() > 0)
        return; // already holding a pipelined request; read on when this response ends
    // Exactly what is there: readAll() would hand the parser a block of
    // 16 KiB or more that a long-lived connection then keeps.
    m_parser.feed(m_socket->read(m_socket->bytesAvailable()));
    dispatchBuffered();
}

// Looks at a request head without reading it, so that a WebSocket upgrade
// can be handed to QWebSocketServer with the handshake still in the socket.
// Returns true when the socket was taken or more of the head must arrive.
bool Connection::offerUpgrade()
{
    // Only what is there: peek(n) allocates n bytes up front, and the
    // longest head allowed is tens of KiB.
    const QByteArray peeked = m_socket->peek(qMin<qint64>(m_maxHeadBytes, m_socket->bytesAvailable()));
    if (!peeked.startsWith("GET "))
        return false;
    // The same limits as the parser, chosen by the same lookup, so that a
    // handshake is refused exactly when the request would be.
    HttpRequest head;
    switch (HttpParser::peekHead(peeked, &head, m_options.limits, m_limitsLookup)) {
    case HttpParser::Status::Error:
        // Malformed or already over a limit: the parser answers 400, 414 or
        // 431 now, not 408 when the request times out.
        return false;
    case HttpParser::Status::NeedMore:
        if (peeked.size() >= m_maxHeadBytes)
            return false; // longer than any head may be: let the parser reject it
        armIdleTimer();
        return true;
    case HttpParser::Status::Complete:
        break;
    }
    if (!head.hasHeader("Upgrade"))
        return false;
    QByteArray malformed;
    resolveClient(head, &malformed);
    if (!m_upgradeHandler(this, head))
        return false; // the parser reads the same request and resolves it again
    if (!malformed.isEmpty())
        Q_EMIT forwardingMalformed(malformed);
    return true;
}

// Only the header's own bytes are taken from the socket (ProxyHeaderReader),
// so that what follows stays in it for the parser or an upgrade.
bool Connection::readProxyHeader()
{
    const ProxyHeaderReader::Status status = m_proxyReader->read(m_socket);
    if (status == ProxyHeaderReader::Status::NeedMore)
        return false; // wait for more
    if (status == ProxyHeaderReader::Status::Error) {
        refuseProxyHeader(m_proxyReader->isMissing() ? ProxyRefusal::Missing : ProxyRefusal::Malformed,
                          m_proxyReader->errorReason());
        return false;
    }
    applyProxyHeader(m_proxyReader->header());
    m_proxyReader.reset();
    m_timingRequest = false;
    armIdleTimer();
    const QPointer<Connection> guard(this);
    Q_EMIT proxyHeaderAccepted();
    return guard && m_socket && !m_closing;
}

void Connection::applyProxyHeader(const ProxyProtocolDecoder::Header &header)
{
    // LOCAL (the balancer's own check), UNKNOWN and address families we do
    // not carry: the TCP peer is the client.
    if (header.hasAddresses && header.source != m_peerAddress) {
        m_connectionClient.address = header.source;
        m_connectionClient.port = header.sourcePort;
        m_connectionClient.via = m_peerAddress;
        m_connectionClient.viaPort = m_peerPort;
    } else if (header.hasAddresses) {
        m_connectionClient.port = header.sourcePort;
    }
    m_client = m_connectionClient;
}

void Connection::setProxyHeader(const ProxyProtocolDecoder::Header &header)
{
    Q_ASSERT(!m_proxyReader);
    applyProxyHeader(header);
}

void Connection::refuseProxyHeader(ProxyRefusal refusal, const QByteArray &reason)
{
    m_proxyReader.reset();
    qCDebug(lcHttp).noquote() << m_connectionClient.toString()
                              << "PROXY header refused:" << QString::fromLatin1(reason);
    Q_EMIT proxyHeaderRefused(refusal, reason);
    close();
}

void Connection::resolveClient(const HttpRequest &request, QByteArray *malformed)
{
    m_client = resolveClientAddress(m_connectionClient, request, m_options.trustedProxies, malformed);
}

void Connection::dispatchBuffered()
{
    if (m_dispatching)
        return; // the running loop below picks the next request up
    m_dispatching = true;
    const QPointer<Connection> guard(this);
    while (m_socket && !m_responding && !m_closing) {
        const HttpParser::Status status = m_parser.next();
        if (status == HttpParser::Status::NeedMore)
            break;
        if (status == HttpParser::Status::Error) {
            failRequest(m_parser.errorStatus(), m_parser.errorReason());
            break;
        }
        m_request = m_parser.takeRequest();
        m_responding = true;
        m_keepAlive = m_request.keepAlive();
        m_idleTimer.stop();
        m_timingRequest = false;
        QByteArray malformed;
        resolveClient(m_request, &malformed);
        if (!malformed.isEmpty()) {
            Q_EMIT forwardingMalformed(malformed);
            if (!guard)
                return;
            if (!m_socket || m_closing)
                break;
        }
        Q_EMIT requestReceived(this);
        if (!guard)
            return;
    }
    m_dispatching = false;
    if (!m_socket || m_closing)
        return;
    armIdleTimer();
    // Data may wait in the socket that was not read while responding.
    if (!m_responding && m_socket->bytesAvailable() > 0)
        QMetaObject::invokeMethod(this, &Connection::onReadyRead, Qt::QueuedConnection);
}

QByteArray Connection::statusAndHeaders(const HttpResponse &response,
                                        const QList<QPair<QByteArray, QByteArray>> &extra) const
{
    QByteArray head;
    head.reserve(256);
    head += "HTTP/1.1 ";
    head += QByteArray::number(response.status);
    head += ' ';
    head += HttpResponse::reasonPhrase(response.status);
    head += "\r\n";
    for (const auto &header : response.headers) {
        head += header.first;
        head += ": ";
        head += header.second;
        head += "\r\n";
    }
    for (const auto &header : extra) {
        head += header.first;
        head += ": ";
        head += header.second;
        head += "\r\n";
    }
    head += "\r\n";
    return head;
}

void Connection::respond(const HttpResponse &response)
{
    if (!m_socket || !m_responding || m_streaming) {
        qCWarning(lcHttp) << "respond() without a request in progress; ignored";
        return;
    }
    QList<QPair<QByteArray, QByteArray>> extra;
    const int status = response.status;
    const bool bodyless = status < 200 || status == 204 || status == 304;
    if (!bodyless)
        extra.append(Header("Content-Length", QByteArray::number(response.body.size())));
    if (!m_keepAlive)
        extra.append(Header("Connection", "close"));
    else if (m_request.isHttp10())
        extra.append(Header("Connection", "keep-alive"));

    QByteArray out = statusAndHeaders(response, extra);
    if (!bodyless && m_request.method != "HEAD")
        out += response.body;
    send(out);
    finishResponse(m_keepAlive);
}

void Connection::beginStream(const HttpResponse &head)
{
    if (!m_socket || !m_responding || m_streaming) {
        qCWarning(lcHttp) << "beginStream() without a request in progress; ignored";
        return;
    }
    m_streaming = true;
    QList<QPair<QByteArray, QByteArray>> extra;
    // HTTP/1.0 has no chunked coding: the stream is written raw and its end
    // is the end of the connection.
    m_chunked = !m_request.isHttp10();
    if (m_chunked) {
        extra.append(Header("Transfer-Encoding", "chunked"));
        if (!m_keepAlive)
            extra.append(Header("Connection", "close"));
    } else {
        m_keepAlive = false;
        extra.append(Header("Connection", "close"));
    }
    send(statusAndHeaders(head, extra));
}

bool Connection::writeChunk(const QByteArray &data)
{
    if (!m_socket || !m_streaming || m_closing)
        return false;
    if (data.isEmpty())
        return true; // an empty chunk would end the stream
    if (!m_chunked) {
        send(data);
        return true;
    }
    QByteArray chunk;
    chunk.reserve(data.size() + 12);
    chunk += QByteArray::number(data.size(), 16);
    chunk += "\r\n";
    chunk += data;
    chunk += "\r\n";
    send(chunk);
    return true;
}

void Connection::endStream()
{
    if (!m_socket || !m_streaming)
        return;
    if (m_chunked)
        send(QByteArrayLiteral("0\r\n\r\n"));
    finishResponse(m_keepAlive);
}

void Connection::finishResponse(bool keepAlive)
{
    m_responding = false;
    m_streaming = false;
    m_chunked = false;
    m_client = m_connectionClient; // the next request on a kept-alive connection may be another client's
    if (!keepAlive) {
        close();
        return;
    }
    dispatchBuffered();
}

void Connection::close()
{
    if (!m_socket || m_closing)
        return;
    m_closing = true;
    m_idleTimer.start(kCloseGraceMs, this);
    m_socket->disconnectFromHost(); // flushes what is written, then closes
}

void Connection::failRequest(int status, const QByteArray &reason)
{
    qCInfo(lcHttp).noquote() << m_connectionClient.toString() << status << QString::fromLatin1(reason);
    Q_EMIT requestRejected(status, reason);
    if (!m_socket)
        return;
    HttpResponse response = HttpResponse::text(status, reason);
    QList<QPair<QByteArray, QByteArray>> extra{{"Content-Length", QByteArray::number(response.body.size())},
                                               {"Connection", "close"}};
    send(statusAndHeaders(response, extra) + response.body);
    close();
}

void Connection::armIdleTimer()
{
    if (m_closing)
        return;
    if (m_responding) {
        m_idleTimer.stop();
        m_timingRequest = false;
        return;
    }
    if (m_proxyReader) {
        // The PROXY header is due within the request timeout of the connection.
        if (!m_timingRequest)
            m_idleTimer.start(m_options.requestTimeoutMs, this);
        m_timingRequest = true;
        return;
    }
    const bool requestStarted = m_parser.isMidRequest() || (m_socket && m_socket->bytesAvailable() > 0);
    if (requestStarted) {
        // Measured from the first byte, not reset by each trickle of bytes.
        if (!m_timingRequest)
            m_idleTimer.start(m_options.requestTimeoutMs, this);
        m_timingRequest = true;
    } else {
        m_idleTimer.start(m_options.keepAliveTimeoutMs, this);
        m_timingRequest = false;
    }
}

void Connection::timerEvent(QTimerEvent *event)
{
    if (event->timerId() != m_idleTimer.timerId())
        return QObject::timerEvent(event);
    m_idleTimer.stop();
    if (!m_socket)
        return;
    if (m_closing) {
        m_socket->abort();
        return;
    }
    if (m_responding)
        return;
    if (m_proxyReader)
        refuseProxyHeader(ProxyRefusal::Incomplete, "no complete PROXY header in time");
    else if (m_timingRequest)
        failRequest(408, "Request not completed in time");
    else
        close();
}

void Connection::onDisconnected()
{
    if (m_closedEmitted)
        return;
    m_closedEmitted = true;
    m_idleTimer.stop();
    // Gone mid-header; a peer that connects and leaves without a byte (a
    // balancer's plain TCP check) is not counted.
    if (m_proxyReader && m_proxyReader->hasStarted()) {
        m_proxyReader.reset();
        Q_EMIT proxyHeaderRefused(ProxyRefusal::Incomplete, "closed before the PROXY header was complete");
    }
    Q_EMIT closed();
    if (m_socket) {
        m_socket->disconnect(this);
        m_socket = nullptr; // deleted with this object
    }
    deleteLater();
}

QTcpSocket *Connection::detachSocket()
{
    QTcpSocket *socket = m_socket;
    if (!socket)
        return nullptr;
    socket->disconnect(this);
    m_socket = nullptr;
    m_idleTimer.stop();
    m_closedEmitted = true; // no closed(): the socket lives on elsewhere
    socket->setReadBufferSize(0);
    socket->setParent(nullptr);
    deleteLater();
    return socket;
}

} // namespace SockJsProxy
