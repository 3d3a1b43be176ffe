#pragma once

#include <QLoggingCategory>

// Logging categories of the core; enable with QT_LOGGING_RULES or --verbose.
Q_DECLARE_LOGGING_CATEGORY(lcHttp)      // sockjsproxy.http: requests, parse errors
Q_DECLARE_LOGGING_CATEGORY(lcServer)    // sockjsproxy.server: listening, routing, static files
Q_DECLARE_LOGGING_CATEGORY(lcSession)   // sockjsproxy.session: session lifecycle
Q_DECLARE_LOGGING_CATEGORY(lcZmq)       // sockjsproxy.zmq: sockets, backend traffic
Q_DECLARE_LOGGING_CATEGORY(lcTraffic)   // sockjsproxy.traffic: every message (--verbose)
Q_DECLARE_LOGGING_CATEGORY(lcEventLoop) // sockjsproxy.eventloop: the epoll dispatcher's errors
Q_DECLARE_LOGGING_CATEGORY(lcCluster)   // sockjsproxy.cluster: peers, forwarding, dead-node disconnects
