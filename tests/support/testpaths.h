#pragma once

#include <QString>

namespace SockJsProxy::Test {

// Locations baked in at configure time, so tests run from any directory.
inline QString sourceDir() { return QStringLiteral(SOCKJSPROXY_SOURCE_DIR); }
inline QString pythonPath() { return QStringLiteral(SOCKJSPROXY_PYTHON); }
inline QString cliPath() { return QStringLiteral(SOCKJSPROXY_CLI_PATH); }
inline QString echoBackendPath() { return QStringLiteral(SOCKJSPROXY_ECHO_BACKEND_PATH); }

} // namespace SockJsProxy::Test
