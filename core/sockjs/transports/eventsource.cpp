#include "eventsource.h"

namespace SockJsProxy {

namespace {
HttpReceiver *create(Connection *connection, const HttpResponse &head, qint64 responseLimit, const QByteArray &)
{
    return new EventSourceTransport(connection, head, responseLimit);
}
} // namespace

const TransportInfo EventSourceTransport::info =
    TransportInfo::receiving("eventsource", "GET", "text/event-stream", "eventsource", &create);

QByteArray EventSourceTransport::wrap(const QByteArray &frame) const
{
    QByteArray event;
    event.reserve(frame.size() + 10);
    event += "data: ";
    // sockjs-client runs decodeURI() over every event's data (as sockjs-node
    // escapes '%', CR, LF and NUL there): a bare '%' in a message would throw
    // "URI malformed" or be decoded. JSON frames hold no raw CR/LF/NUL.
    for (const char c : frame) {
        if (c == '%')
            event += "%25";
        else
            event += c;
    }
    event += "\r\n\r\n";
    return event;
}

} // namespace SockJsProxy
