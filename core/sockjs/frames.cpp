#include "frames.h"

#include "jsoncodec.h"

namespace SockJsProxy::Frames {

QByteArray close(int code, const QByteArray &reason)
{
    QByteArray frame = QByteArrayLiteral("c[");
    frame += QByteArray::number(code);
    frame += ',';
    JsonCodec::appendQuoted(frame, reason);
    frame += ']';
    return frame;
}

QByteArray messages(const QList<QByteArray> &messages)
{
    // A broadcast hands one message to every session it reaches, one after
    // the other: the frame of the last single message is kept, so it is
    // encoded once per broadcast instead of once per session. Compared by
    // content (a size check first), so a hit is always the right frame.
    constexpr qsizetype kKeptMessageBytes = 256 * 1024;
    thread_local QByteArray lastMessage;
    thread_local QByteArray lastFrame;
    const bool single = messages.size() == 1 && messages.first().size() <= kKeptMessageBytes;
    if (single && !lastFrame.isEmpty() && messages.first() == lastMessage)
        return lastFrame;

    qsizetype size = 3;
    for (const QByteArray &message : messages)
        size += message.size() + 3;
    QByteArray frame;
    frame.reserve(size + size / 8);
    frame += "a[";
    bool first = true;
    for (const QByteArray &message : messages) {
        if (!first)
            frame += ',';
        first = false;
        JsonCodec::appendQuoted(frame, message);
    }
    frame += ']';
    if (single) {
        lastMessage = messages.first();
        lastFrame = frame;
    }
    return frame;
}

} // namespace SockJsProxy::Frames
