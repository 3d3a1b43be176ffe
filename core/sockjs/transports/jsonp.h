#pragma once

#include "transport.h"
#include "transportinfo.h"

namespace SockJsProxy {

// GET {session}/jsonp?c=CALLBACK: polling, one frame per response as
// /**/CALLBACK("<frame>");\r\n (the comment defuses content sniffing).
class JsonpTransport : public HttpReceiver
{
    Q_OBJECT

public:
    JsonpTransport(Connection *connection, const HttpResponse &head, const QByteArray &callback)
        : HttpReceiver(connection, head, Mode::Polling, 0), m_callback(callback)
    {}
    // URL name, method, content type, factory, ...: listed by registry.h.
    static const TransportInfo info;
    QByteArray transportName() const override { return info.displayNameBytes(); }

protected:
    QByteArray wrap(const QByteArray &frame) const override;

private:
    QByteArray m_callback;
};

} // namespace SockJsProxy
