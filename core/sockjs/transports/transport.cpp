#include "transport.h"

#include "http/connection.h"
#include "sockjs/frames.h"

namespace SockJsProxy {

void Receiver::finish(bool aborted)
{
    if (m_finished)
        return;
    m_finished = true;
    Q_EMIT finished(aborted);
}

HttpReceiver::HttpReceiver(Connection *connection, const HttpResponse &head, Mode mode, qint64 responseLimit)
    : Receiver(connection), m_connection(connection), m_head(head), m_mode(mode), m_responseLimit(responseLimit)
{
    connect(connection, &Connection::closed, this, [this] { finish(true); });
    connect(connection, &Connection::writable, this, [this] {
        if (!isFinished() && canWrite())
            Q_EMIT writable();
    });
}

void HttpReceiver::start()
{
    if (m_mode != Mode::Streaming || m_started || !m_connection)
        return;
    m_started = true;
    m_connection->beginStream(m_head);
    m_connection->writeChunk(prelude());
}

void HttpReceiver::sendOpen() { writeFrame(Frames::open()); }

void HttpReceiver::sendHeartbeat() { writeFrame(Frames::heartbeat()); }

void HttpReceiver::sendMessages(const QList<QByteArray> &messages) { writeFrame(Frames::messages(messages)); }

void HttpReceiver::sendClose(int code, const QByteArray &reason)
{
    writeFrame(Frames::close(code, reason));
    end();
}

bool HttpReceiver::canWrite() const { return m_connection && m_connection->bytesToWrite() < kMaxUnsentBytes; }

void HttpReceiver::writeFrame(const QByteArray &frame)
{
    if (isFinished() || !m_connection)
        return;
    if (m_mode == Mode::Polling) {
        HttpResponse response = m_head;
        response.body = wrap(frame);
        // Detach from the session before the response ends: ending it may
        // start the next pipelined request, which may poll the same session.
        const QPointer<Connection> connection = m_connection;
        finish(false);
        if (connection)
            connection->respond(response);
        return;
    }
    start();
    const QByteArray wrapped = wrap(frame);
    m_connection->writeChunk(wrapped);
    m_written += wrapped.size();
    if (m_written >= m_responseLimit)
        end();
}

void HttpReceiver::end()
{
    if (isFinished())
        return;
    const QPointer<Connection> connection = m_connection;
    finish(false); // before the response ends, as in writeFrame()
    if (connection && m_mode == Mode::Streaming && m_started)
        connection->endStream();
}

} // namespace SockJsProxy
