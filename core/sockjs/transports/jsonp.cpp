#include "jsonp.h"

#include "sockjs/jsoncodec.h"

namespace SockJsProxy {

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
