#include "xhrstreaming.h"

namespace SockJsProxy {

QByteArray XhrStreamingTransport::prelude() const
{
    static const QByteArray prelude = QByteArray(2048, 'h') + '\n';
    return prelude;
}

} // namespace SockJsProxy
