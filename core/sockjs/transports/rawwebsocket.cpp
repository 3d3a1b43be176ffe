#include "rawwebsocket.h"

#include "sockjs/jsoncodec.h"

#include <QWebSocket>

namespace SockJsProxy {

namespace {
WebSocketReceiver *create(QWebSocket *socket, qint64 maxMessageBytes, QObject *parent)
{
    return new RawWebSocketTransport(socket, maxMessageBytes, parent);
}
} // namespace

const TransportInfo RawWebSocketTransport::info =
    TransportInfo::webSocket("websocket", "rawwebsocket", &create).atServicePath();

void RawWebSocketTransport::sendMessages(const QList<QByteArray> &messages)
{
    if (isFinished())
        return;
    for (const QByteArray &message : messages) {
        if (JsonCodec::isValidUtf8(message))
            socket()->sendTextMessage(QString::fromUtf8(message));
        else
            socket()->sendBinaryMessage(message);
    }
    writeNow();
}

void RawWebSocketTransport::sendClose(int code, const QByteArray &reason)
{
    if (!isFinished())
        closeSocket(code, reason);
}

void RawWebSocketTransport::onText(const QString &text)
{
    if (!isFinished())
        Q_EMIT messagesReceived({text.toUtf8()});
}

void RawWebSocketTransport::onBinary(const QByteArray &data)
{
    if (!isFinished())
        Q_EMIT messagesReceived({data});
}

} // namespace SockJsProxy
