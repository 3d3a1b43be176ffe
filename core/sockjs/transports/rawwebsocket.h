#pragma once

#include "transportinfo.h"
#include "websocket.h"

namespace SockJsProxy {

// {prefix}/websocket: a plain WebSocket, no SockJS framing. Every message
// either way is one WebSocket message; text the backend sends that is not
// UTF-8 goes out as a binary message.
class RawWebSocketTransport : public WebSocketReceiver
{
    Q_OBJECT

public:
    using WebSocketReceiver::WebSocketReceiver;

    // URL name, method, content type, factory, ...: listed by registry.h.
    static const TransportInfo info;
    QByteArray transportName() const override { return info.displayNameBytes(); }
    void sendOpen() override {}
    void sendHeartbeat() override {}
    void sendMessages(const QList<QByteArray> &messages) override;
    void sendClose(int code, const QByteArray &reason) override;

protected:
    void onText(const QString &text) override;
    void onBinary(const QByteArray &data) override;
};

} // namespace SockJsProxy
