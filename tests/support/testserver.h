#pragma once

#include "config/config.h"
#include "server/server.h"
#include "testbackend.h"

#include <memory>
#include <vector>

namespace SockJsProxy::Test {

// A Server on 127.0.0.1, port 0, with one in-process TestBackend per
// service over inproc:// endpoints unique to this instance.
//
// Default services are the four of the SockJS protocol notes:
//   /echo (response_limit 4096), /disabled_websocket_echo (websocket off),
//   /cookie_needed_echo (cookie_needed), /close (backend closes every
//   session on connect).
class TestServer
{
public:
    TestServer();
    ~TestServer();

    static Config protocolConfig(const QString &tag);

    // Starts with protocolConfig() or the given config (whose zmq endpoints
    // are replaced by inproc ones). Backends for services named "/close"
    // close on connect, others echo.
    bool start();
    bool start(Config config);

    Server *server() const { return m_server.get(); }
    quint16 port() const { return m_server ? m_server->httpPort() : 0; }
    TestBackend *backend(const QString &prefix) const;
    QByteArray baseUrl(const QString &prefix) const; // "/echo"

private:
    std::unique_ptr<Server> m_server;
    std::vector<std::pair<QString, std::unique_ptr<TestBackend>>> m_backends;
};

} // namespace SockJsProxy::Test
