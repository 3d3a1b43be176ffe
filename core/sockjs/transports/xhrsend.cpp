#include "xhrsend.h"

namespace SockJsProxy {

const TransportInfo kXhrSendTransport =
    TransportInfo::sending("xhr_send", "text/plain;charset=UTF-8").answersPreflight();

} // namespace SockJsProxy
