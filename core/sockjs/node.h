#pragma once

#include <QByteArray>

namespace SockJsProxy {

// The proxy node sessions live on, as backends see it. Today it is a random
// tag drawn once per process, and every session id of the process starts
// with it; this is the one place that names it, so that a configured node
// name can replace it.
namespace Node {

// Five base-36 characters, the same for the life of the process.
QByteArray localName();
// localName() + '-' + a counter in base 36: unique within the process and
// never reused, unlikely to meet one of an earlier run.
QByteArray nextSessionId();

} // namespace Node

} // namespace SockJsProxy
