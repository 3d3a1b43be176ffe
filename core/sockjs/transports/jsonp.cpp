#include "jsonp.h"

#include "sockjs/jsoncodec.h"

namespace SockJsProxy {

namespace {
HttpReceiver *create(Connection *connection, const HttpResponse &head, qint64, const QByteArray &callback)
{
    return new JsonpTransport(connection, head, callback);
}
} // namespace

const TransportInfo JsonpTransport::info =
    TransportInfo::receiving("jsonp", "GET", "application/javascript;charset=UTF-8", "jsonp-polling", &create)
        .needsCallback();

QByteArray JsonpTransport::wrap(const QByteArray &frame) const
{
    QByteArray call;
    call.reserve(frame.size() + m_callback.size() + 16);
    call += "/**/";
    call += m_callback;
    call += '(';
    JsonCodec::appendQuoted(call, frame);
    call += ");\r\n";
    return call;
}

} // namespace SockJsProxy
