#pragma once

#include "transportinfo.h"

namespace SockJsProxy {

// POST {session}/jsonp_send: a JSON array of messages as the body, or as the
// form field d (application/x-www-form-urlencoded); 200 "ok" once the
// session took them.
extern const TransportInfo kJsonpSendTransport;

} // namespace SockJsProxy
