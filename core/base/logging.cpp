#include "logging.h"

Q_LOGGING_CATEGORY(lcHttp, "sockjsproxy.http", QtInfoMsg)
Q_LOGGING_CATEGORY(lcServer, "sockjsproxy.server", QtInfoMsg)
Q_LOGGING_CATEGORY(lcSession, "sockjsproxy.session", QtInfoMsg)
Q_LOGGING_CATEGORY(lcZmq, "sockjsproxy.zmq", QtInfoMsg)
Q_LOGGING_CATEGORY(lcTraffic, "sockjsproxy.traffic", QtWarningMsg)
Q_LOGGING_CATEGORY(lcEventLoop, "sockjsproxy.eventloop", QtInfoMsg)
Q_LOGGING_CATEGORY(lcCluster, "sockjsproxy.cluster", QtInfoMsg)
