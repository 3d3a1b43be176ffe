#include "websocket.h"

#include "base/logging.h"
#include "sockjs/frames.h"
#include "sockjs/jsoncodec.h"

#include <QWebSocket>

namespace SockJsProxy {

namespace {
WebSocketReceiver *create(QWebSocket *socket, qint64 maxMessageBytes, QObject *parent)
{
    return new WebSocketTransport(socket, maxMessageBytes, parent);
}
} // namespace

const TransportInfo WebSocketTransport::info = TransportInfo::webSocket("websocket", "websocket", &create);

WebSocketReceiver::WebSocketReceiver(QWebSocket *socket, qint64 maxMessageBytes, QObject *parent)
    : Receiver(parent), m_socket(socket)
{
    m_socket->setParent(this);
    // QWebSocket's own default allows messages of about 2 GiB.
    m_socket->setMaxAllowedIncomingMessageSize(quint64(maxMessageBytes));
    m_socket->setMaxAllowedIncomingFrameSize(quint64(maxMessageBytes));
    connect(m_socket, &QWebSocket::disconnected, this, [this] { finish(true); });
    connect(m_socket, &QWebSocket::textMessageReceived, this, [this](const QString &text) { onText(text); });
    connect(m_socket, &QWebSocket::binaryMessageReceived, this, [this](const QByteArray &data) { onBinary(data); });
}

// The socket is a child, deleted by ~QObject only after it has dropped
// every connection to this object: nothing it emits while it goes can
// reach a half-destroyed receiver.
WebSocketReceiver::~WebSocketReceiver() = default;

bool WebSocketReceiver::canWrite() const
{
    if (m_socket->bytesToWrite() < kMaxUnsentBytes)
        return true;
    // The session waits for writable(): watch the socket drain only now,
    // not after every write of every session.
    if (!m_drainWatch) {
        auto *self = const_cast<WebSocketReceiver *>(this);
        m_drainWatch = connect(m_socket, &QWebSocket::bytesWritten, self, [self] {
            if (self->m_socket->bytesToWrite() >= kMaxUnsentBytes)
                return;
            disconnect(self->m_drainWatch);
            self->m_drainWatch = {};
            if (!self->isFinished())
                Q_EMIT self->writable();
        });
    }
    return false;
}

void WebSocketReceiver::writeNow()
{
    // QWebSocket leaves the frame in its QTcpSocket's buffer and enables the
    // write notifier; the bytes would go out on the next turn of the event
    // loop, after a poll over every socket. Hand them to the kernel now
    // (what it does not take still waits for the notifier).
    socket()->flush();
}

void WebSocketReceiver::closeSocket(int code, const QByteArray &reason)
{
    // SockJS close codes (3000, 2010, ...) are application codes outside Qt's enum.
    m_socket->close(static_cast<QWebSocketProtocol::CloseCode>(code), QString::fromUtf8(reason));
    finish(false);
}

namespace {

// QWebSocket takes text frames as QString. A broadcast hands the same frame,
// one shared QByteArray (Frames::messages), to every session it reaches, one
// after the other: convert it once, not once per session. The last text
// stays held until the next frame; its bytes only up to kKeptFrameBytes
// (a bigger frame is converted again if it comes again).
QString frameText(const QByteArray &frame)
{
    constexpr qsizetype kKeptFrameBytes = 64 * 1024;
    thread_local QByteArray lastFrame;
    thread_local QString lastText;
    if (frame.isEmpty() || !frame.isSharedWith(lastFrame)) {
        lastText = QString::fromUtf8(frame);
        lastFrame = frame.size() <= kKeptFrameBytes ? frame : QByteArray();
    }
    return lastText; // shared, not copied
}

} // namespace

void WebSocketTransport::sendFrame(const QByteArray &frame)
{
    if (isFinished())
        return;
    socket()->sendTextMessage(frameText(frame));
    writeNow();
}

void WebSocketTransport::sendOpen() { sendFrame(Frames::open()); }

void WebSocketTransport::sendHeartbeat() { sendFrame(Frames::heartbeat()); }

void WebSocketTransport::sendMessages(const QList<QByteArray> &messages) { sendFrame(Frames::messages(messages)); }

void WebSocketTransport::sendClose(int code, const QByteArray &reason)
{
    if (isFinished())
        return;
    sendFrame(Frames::close(code, reason));
    closeSocket(code, reason);
}

void WebSocketTransport::onText(const QString &text)
{
    if (isFinished() || text.isEmpty())
        return;
    QList<QByteArray> messages;
    switch (JsonCodec::decodeMessages(text.toUtf8(), &messages)) {
    case JsonCodec::DecodeResult::Ok:
        if (!messages.isEmpty())
            Q_EMIT messagesReceived(messages);
        return;
    case JsonCodec::DecodeResult::Empty:
        return;
    case JsonCodec::DecodeResult::Broken:
        Q_EMIT brokenFraming(); // the service logs it, with the client's address
        // The session ends with the connection: finished(true) makes it tell the backend.
        socket()->close(QWebSocketProtocol::CloseCodeProtocolError, QStringLiteral("Broken framing."));
        finish(true);
        return;
    }
}

void WebSocketTransport::onBinary(const QByteArray &data)
{
    // SockJS clients only send text; a binary frame is treated like text.
    onText(QString::fromUtf8(data));
}

} // namespace SockJsProxy
