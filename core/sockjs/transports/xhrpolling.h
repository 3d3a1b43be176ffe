#pragma once

#include "transport.h"

namespace SockJsProxy {

// POST {session}/xhr: long polling, one frame + "\n" per response.
class XhrPollingTransport : public HttpReceiver
{
    Q_OBJECT

public:
    XhrPollingTransport(Connection *connection, const HttpResponse &head)
        : HttpReceiver(connection, head, Mode::Polling, 0)
    {}
    QByteArray transportName() const override { return QByteArrayLiteral("xhr-polling"); }

protected:
    QByteArray wrap(const QByteArray &frame) const override { return frame + '\n'; }
};

} // namespace SockJsProxy
