#pragma once

#include "transportinfo.h"

#include <QByteArrayView>
#include <QStringList>

#include <vector>

namespace SockJsProxy {

// Every SockJS transport, as its own file declares it. Adding a transport:
// its file pair with a static TransportInfo, one line in registry.cpp, a row
// in the protocol tests. Routing (Service) and the monitor's transport list
// (gui/) read it from here.
namespace TransportRegistry {

// In the order the monitor lists them.
const std::vector<const TransportInfo *> &all();
// The transport at urlName (the last URL segment) for that kind of path, or null.
const TransportInfo *find(const QByteArray &urlName, TransportInfo::Path path);
// Names of the transports a session can have (Receiver::transportName()).
QStringList displayNames();

} // namespace TransportRegistry

} // namespace SockJsProxy
