#pragma once

#include "transportinfo.h"

namespace SockJsProxy {

// POST {session}/xhr_send: a JSON array of messages as the body; 204 once
// the session took them. The messages go to the session, no receiver.
extern const TransportInfo kXhrSendTransport;

} // namespace SockJsProxy
