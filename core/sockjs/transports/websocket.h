#pragma once

#include "transport.h"
#include "transportinfo.h"

class QWebSocket;

namespace SockJsProxy {

// What the WebSocket transports share: they own their QWebSocket (deleted
// with them), finish when it disconnects, and are bidirectional: what the
// client sends comes out of messagesReceived().
class WebSocketReceiver : public Receiver
{
    Q_OBJECT

public:
    // Takes ownership of socket.
    WebSocketReceiver(QWebSocket *socket, qint64 maxMessageBytes, QObject *parent = nullptr);
    ~WebSocketReceiver() override;

    QWebSocket *socket() const { return m_socket; }
    bool canWrite() const override;

    static constexpr qint64 kMaxUnsentBytes = 1024 * 1024;

Q_SIGNALS:
    // The client broke the transport's framing (the connection is closed).
    void brokenFraming();

protected:
    void writeNow();
    void closeSocket(int code, const QByteArray &reason);
    virtual void onText(const QString &text) = 0;
    virtual void onBinary(const QByteArray &data) = 0;

private:
    QWebSocket *m_socket;
    mutable QMetaObject::Connection m_drainWatch; // while canWrite() is false
};

// SockJS framing over WebSocket: one text message per frame, no newline.
// The client sends JSON arrays of strings; empty messages and [] are ignored,
// anything unparsable closes the connection.
class WebSocketTransport : public WebSocketReceiver
{
    Q_OBJECT

public:
    using WebSocketReceiver::WebSocketReceiver;

    // URL name, method, content type, factory, ...: listed by registry.h.
    static const TransportInfo info;
    QByteArray transportName() const override { return info.displayNameBytes(); }
    void sendOpen() override;
    void sendHeartbeat() override;
    void sendMessages(const QList<QByteArray> &messages) override;
    void sendClose(int code, const QByteArray &reason) override;

protected:
    void onText(const QString &text) override;
    void onBinary(const QByteArray &data) override;

private:
    void sendFrame(const QByteArray &frame);
};

} // namespace SockJsProxy
