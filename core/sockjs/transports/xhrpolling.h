#pragma once

#include "transport.h"
#include "transportinfo.h"

namespace SockJsProxy {

// POST {session}/xhr: long polling, one frame + "\n" per response.
class XhrPollingTransport : public HttpReceiver
{
    Q_OBJECT

public:
    XhrPollingTransport(Connection *connection, const HttpResponse &head)
        : HttpReceiver(connection, head, Mode::Polling, 0)
    {}
    // URL name, method, content type, factory, ...: listed by registry.h.
    static const TransportInfo info;
    QByteArray transportName() const override { return info.displayNameBytes(); }

protected:
    QByteArray wrap(const QByteArray &frame) const override { return frame + '\n'; }
};

} // namespace SockJsProxy
