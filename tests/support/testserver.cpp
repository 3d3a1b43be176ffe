#include "testserver.h"

#include <QAtomicInt>

namespace SockJsProxy::Test {

namespace {
QAtomicInt g_instances;
}

TestServer::TestServer() = default;
TestServer::~TestServer()
{
    m_server.reset();
    m_backends.clear();
}

Config TestServer::protocolConfig(const QString &tag)
{
    Q_UNUSED(tag)
    Config config;
    config.httpAddress = QStringLiteral("127.0.0.1");
    config.httpPort = 0;
    ServiceConfig echo;
    echo.prefix = QStringLiteral("/echo");
    echo.responseLimit = 4096;
    ServiceConfig disabled;
    disabled.prefix = QStringLiteral("/disabled_websocket_echo");
    disabled.websocket = false;
    ServiceConfig cookie;
    cookie.prefix = QStringLiteral("/cookie_needed_echo");
    cookie.cookieNeeded = true;
    ServiceConfig close;
    close.prefix = QStringLiteral("/close");
    config.services = {echo, disabled, cookie, close};
    return config;
}

bool TestServer::start() { return start(protocolConfig(QString())); }

bool TestServer::start(Config config)
{
    const int instance = g_instances.fetchAndAddRelaxed(1);
    for (qsizetype i = 0; i < config.services.size(); ++i) {
        ServiceConfig &service = config.services[i];
        const QString base = QStringLiteral("inproc://test-%1-%2").arg(instance).arg(i);
        service.zmqIn = base + QStringLiteral("-in");
        service.zmqOut = base + QStringLiteral("-out");
    }
    m_server = std::make_unique<Server>(config);
    QString error;
    if (!m_server->start(&error)) {
        qWarning("TestServer: %s", qPrintable(error));
        return false;
    }
    for (const ServiceConfig &service : std::as_const(config.services)) {
        const auto mode =
            service.prefix == QLatin1String("/close") ? TestBackend::Mode::CloseOnConnect : TestBackend::Mode::Echo;
        m_backends.emplace_back(service.prefix, std::make_unique<TestBackend>(service.zmqIn, service.zmqOut, mode));
    }
    return true;
}

TestBackend *TestServer::backend(const QString &prefix) const
{
    for (const auto &entry : m_backends) {
        if (entry.first == prefix)
            return entry.second.get();
    }
    return nullptr;
}

QByteArray TestServer::baseUrl(const QString &prefix) const { return prefix.toUtf8(); }

} // namespace SockJsProxy::Test
