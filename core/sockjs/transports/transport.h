#pragma once

#include "http/httpresponse.h"

#include <QByteArray>
#include <QList>
#include <QObject>
#include <QPointer>

namespace SockJsProxy {

class Connection;

// The receiving side of a session: what carries frames to the client.
// A transport only frames: it wraps what the Session hands it, sets its
// headers and decides when its response ends. The Session never asks which
// transport it has.
//
// finished() fires once, when the receiver can take nothing more: its
// response ended (polling after one frame, streaming at response_limit, or
// after a close), or the client went away (aborted = true). The Session
// detaches on it. A Receiver is owned by what carries it (the Connection or
// the WebSocket); the Session holds it in a QPointer.
class Receiver : public QObject
{
    Q_OBJECT

public:
    using QObject::QObject;

    virtual QByteArray transportName() const = 0;

    virtual void sendOpen() = 0;
    virtual void sendHeartbeat() = 0;
    virtual void sendMessages(const QList<QByteArray> &messages) = 0;
    // Writes the close and ends the receiver (finished() follows).
    virtual void sendClose(int code, const QByteArray &reason) = 0;

    // False while the client has not taken what was already written; the
    // Session keeps messages queued until writable().
    virtual bool canWrite() const { return true; }
    bool isFinished() const { return m_finished; }

Q_SIGNALS:
    void finished(bool aborted);
    void writable();
    // Messages the client sent over this receiver (bidirectional transports).
    void messagesReceived(const QList<QByteArray> &messages);

protected:
    void finish(bool aborted);

private:
    bool m_finished = false;
};

// A receiver writing SockJS frames into an HTTP response. Polling transports
// end the response after one frame; streaming ones write the head and a
// prelude first, one chunk per frame, and end once response_limit bytes of
// frames were written (a single larger frame is still written whole).
class HttpReceiver : public Receiver
{
    Q_OBJECT

public:
    enum class Mode { Polling, Streaming };

    // head: status and headers prepared by the route (CORS, caching, cookie,
    // content type). Parented to the connection.
    HttpReceiver(Connection *connection, const HttpResponse &head, Mode mode, qint64 responseLimit);

    // Streaming: writes the head and the prelude now, before any frame, so the
    // client sees its stream open at once. Polling: nothing.
    void start();

    void sendOpen() override;
    void sendHeartbeat() override;
    void sendMessages(const QList<QByteArray> &messages) override;
    void sendClose(int code, const QByteArray &reason) override;
    bool canWrite() const override;

    // Bytes of outgoing data a streaming response may hold unsent before the
    // session waits (a slow reader).
    static constexpr qint64 kMaxUnsentBytes = 1024 * 1024;

protected:
    // Streaming: written as the first chunk (not counted against the limit).
    virtual QByteArray prelude() const { return {}; }
    // The frame as this transport carries it.
    virtual QByteArray wrap(const QByteArray &frame) const = 0;

private:
    void writeFrame(const QByteArray &frame);
    void end();

    QPointer<Connection> m_connection;
    HttpResponse m_head;
    Mode m_mode;
    qint64 m_responseLimit;
    qint64 m_written = 0;
    bool m_started = false;
};

} // namespace SockJsProxy
