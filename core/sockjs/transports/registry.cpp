#include "registry.h"

#include "eventsource.h"
#include "htmlfile.h"
#include "jsonp.h"
#include "jsonpsend.h"
#include "rawwebsocket.h"
#include "websocket.h"
#include "xhrpolling.h"
#include "xhrsend.h"
#include "xhrstreaming.h"

namespace SockJsProxy {

const std::vector<const TransportInfo *> &TransportRegistry::all()
{
    static const std::vector<const TransportInfo *> transports{
        &WebSocketTransport::info,  &RawWebSocketTransport::info, &XhrStreamingTransport::info,
        &XhrPollingTransport::info, &kXhrSendTransport,           &EventSourceTransport::info,
        &HtmlFileTransport::info,   &JsonpTransport::info,        &kJsonpSendTransport,
    };
    return transports;
}

const TransportInfo *TransportRegistry::find(const QByteArray &urlName, TransportInfo::Path path)
{
    for (const TransportInfo *transport : all()) {
        if (transport->path == path && urlName == transport->urlName)
            return transport;
    }
    return nullptr;
}

QStringList TransportRegistry::displayNames()
{
    QStringList names;
    for (const TransportInfo *transport : all()) {
        if (*transport->displayName)
            names.append(QString::fromLatin1(transport->displayName));
    }
    return names;
}

} // namespace SockJsProxy
