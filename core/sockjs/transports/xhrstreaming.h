#pragma once

#include "transport.h"
#include "transportinfo.h"

namespace SockJsProxy {

// POST {session}/xhr_streaming: a prelude of 2048 'h' and "\n" (browsers
// buffer the first bytes of a response), then one frame + "\n" per chunk.
class XhrStreamingTransport : public HttpReceiver
{
    Q_OBJECT

public:
    XhrStreamingTransport(Connection *connection, const HttpResponse &head, qint64 responseLimit)
        : HttpReceiver(connection, head, Mode::Streaming, responseLimit)
    {}
    // URL name, method, content type, factory, ...: listed by registry.h.
    static const TransportInfo info;
    QByteArray transportName() const override { return info.displayNameBytes(); }

protected:
    QByteArray prelude() const override;
    QByteArray wrap(const QByteArray &frame) const override { return frame + '\n'; }
};

} // namespace SockJsProxy
