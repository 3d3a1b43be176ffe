#pragma once

#include <functional>

namespace SockJsProxy::Test {

// How long the waits of the test support last unless told otherwise:
// generous for a loaded machine and sanitizer builds; passing runs take far less.
constexpr int kDefaultWaitMs = 10000;

// Spins the event loop until predicate() holds or timeoutMs pass, checking
// again every 5 ms; the result of a last check at the deadline. What QTRY_*
// does, for helpers that return a value. Never sleeps: timers, sockets and
// child processes keep running while it waits.
bool waitUntil(const std::function<bool()> &predicate, int timeoutMs = kDefaultWaitMs);

} // namespace SockJsProxy::Test
