#pragma once

#include "transport.h"
#include "transportinfo.h"

namespace SockJsProxy {

// GET {session}/htmlfile?c=CALLBACK: a "forever iframe". A page of over 1 KiB
// that calls parent.CALLBACK, then one <script>p("<frame>");</script> per
// frame. '<' and '>' inside the frame are written as \u003c/\u003e so a
// message containing "</script>" cannot end the script element.
class HtmlFileTransport : public HttpReceiver
{
    Q_OBJECT

public:
    HtmlFileTransport(Connection *connection, const HttpResponse &head, qint64 responseLimit,
                      const QByteArray &callback)
        : HttpReceiver(connection, head, Mode::Streaming, responseLimit), m_callback(callback)
    {}
    // URL name, method, content type, factory, ...: listed by registry.h.
    static const TransportInfo info;
    QByteArray transportName() const override { return info.displayNameBytes(); }

protected:
    QByteArray prelude() const override;
    QByteArray wrap(const QByteArray &frame) const override;

private:
    QByteArray m_callback;
};

} // namespace SockJsProxy
