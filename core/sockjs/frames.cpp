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
    return frame;
}

} // namespace SockJsProxy::Frames
