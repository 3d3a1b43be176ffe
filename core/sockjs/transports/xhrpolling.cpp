#include "xhrpolling.h"

namespace SockJsProxy {

namespace {
HttpReceiver *create(Connection *connection, const HttpResponse &head, qint64, const QByteArray &)
{
    return new XhrPollingTransport(connection, head);
}
} // namespace

const TransportInfo XhrPollingTransport::info =
    TransportInfo::receiving("xhr", "POST", "application/javascript;charset=UTF-8", "xhr-polling", &create)
        .answersPreflight();

} // namespace SockJsProxy
