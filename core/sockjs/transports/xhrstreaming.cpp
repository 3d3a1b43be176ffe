#include "xhrstreaming.h"

namespace SockJsProxy {

namespace {
HttpReceiver *create(Connection *connection, const HttpResponse &head, qint64 responseLimit, const QByteArray &)
{
    return new XhrStreamingTransport(connection, head, responseLimit);
}
} // namespace

const TransportInfo XhrStreamingTransport::info =
    TransportInfo::receiving("xhr_streaming", "POST", "application/javascript;charset=UTF-8", "xhr-streaming", &create)
        .answersPreflight();

QByteArray XhrStreamingTransport::prelude() const
{
    static const QByteArray prelude = QByteArray(2048, 'h') + '\n';
    return prelude;
}

} // namespace SockJsProxy
