#pragma once

#include "transport.h"
#include "transportinfo.h"

namespace SockJsProxy {

// GET {session}/eventsource: Server-Sent Events, "data: <frame>\r\n\r\n".
// Frames are JSON, so they never contain a raw CR or LF.
class EventSourceTransport : public HttpReceiver
{
    Q_OBJECT

public:
    EventSourceTransport(Connection *connection, const HttpResponse &head, qint64 responseLimit)
        : HttpReceiver(connection, head, Mode::Streaming, responseLimit)
    {}
    // URL name, method, content type, factory, ...: listed by registry.h.
    static const TransportInfo info;
    QByteArray transportName() const override { return info.displayNameBytes(); }

protected:
    QByteArray prelude() const override { return QByteArrayLiteral("\r\n"); }
    QByteArray wrap(const QByteArray &frame) const override;
};

} // namespace SockJsProxy
