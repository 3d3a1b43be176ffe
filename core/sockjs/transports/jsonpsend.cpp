#include "jsonpsend.h"

namespace SockJsProxy {

const TransportInfo kJsonpSendTransport =
    TransportInfo::sending("jsonp_send", "text/plain;charset=UTF-8").takesForm().replies("ok");

} // namespace SockJsProxy
