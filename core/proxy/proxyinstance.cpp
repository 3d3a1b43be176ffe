#include "proxyinstance.h"

#include "base/logging.h"
#include "base/openfiles.h"
#include "control/controlserver.h"
#include "metrics/monitor.h"
#include "server/server.h"
#include "sockjs/service.h"
#include "zmq/zmqbridge.h"

#include <QTimerEvent>

namespace SockJsProxy {

namespace {
// How often the drain looks at the queues.
constexpr int kDrainPollMs = 20;
} // namespace

ProxyInstance::ProxyInstance(Monitoring monitoring, QObject *parent) : QObject(parent), m_monitoring(monitoring) {}

ProxyInstance::~ProxyInstance() = default;

bool ProxyInstance::start(const CommandLine::Result &options, QString *error)
{
    Q_ASSERT(m_state == State::Idle);
    // Before anything opens a descriptor it keeps: the server derives
    // max_connections from the limit set here.
    applyOpenFilesLimit(options.config.resources.maxOpenFiles, &m_openFilesNote);
    // Declared in the members' order: on failure the locals go control
    // first, server last, and close what they had bound.
    auto server = std::make_unique<Server>(options.config);
    m_startFailure = Failure::Configuration;
    if (!server->loadKeys(error))
        return false;
    m_startFailure = Failure::Bind;
    if (!server->start(error))
        return false;
    std::unique_ptr<Monitor> monitor;
    if (m_monitoring == Monitoring::Always || !options.controlEndpoint.isEmpty())
        monitor = std::make_unique<Monitor>(server.get());
    std::unique_ptr<ControlServer> control;
    if (!options.controlEndpoint.isEmpty()) {
        control = std::make_unique<ControlServer>(monitor.get());
        control->setToken(options.controlToken);
        if (options.controlTls && !control->setTls(*options.controlTls, error)) {
            m_startFailure = Failure::Configuration;
            return false;
        }
        if (!control->listen(options.controlEndpoint, error))
            return false;
    }
    if (monitor)
        monitor->start();
    m_server = std::move(server);
    m_monitor = std::move(monitor);
    m_control = std::move(control);
    m_state = State::Running;
    m_startFailure = Failure::None;
    logStarted();
    return true;
}

void ProxyInstance::logStarted() const
{
    // Only now that everything is bound: a start that fails says one thing,
    // its error, and never "listening" first.
    if (!m_openFilesNote.isEmpty())
        qCInfo(lcServer).noquote() << m_openFilesNote;
    qCInfo(lcServer).noquote() << m_server->connectionLimitsNote();
    for (const Service *service : m_server->services()) {
        qCInfo(lcServer).noquote() << "SockJS service at" << service->prefix() << "- backends: PUSH (in) on"
                                   << service->bridge()->boundInEndpoint() << "- PULL (out) on"
                                   << service->bridge()->boundOutEndpoint();
        // What backends need as their server key; never the secret one.
        if (service->bridge()->hasCurve())
            qCInfo(lcZmq).noquote() << "service" << service->prefix() << "- CURVE server public key"
                                    << QString::fromLatin1(service->curvePublicKey()) << "-"
                                    << service->bridge()->allowedKeys().size() << "backend key(s) allowed";
    }
    qCInfo(lcServer).noquote() << (m_server->config().tls ? "HTTPS on" : "HTTP on")
                               << QStringLiteral("%1:%2").arg(m_server->config().httpAddress).arg(m_server->httpPort());
    for (const StaticMount &mount : m_server->config().statics)
        qCInfo(lcServer).noquote() << "static" << mount.url << "->" << mount.path;
    if (m_control) {
        qCInfo(lcServer).noquote()
            << "control endpoint on"
            << QStringLiteral("%1:%2").arg(m_control->address().toString()).arg(m_control->port())
            << QLatin1String(m_control->hasToken() ? "(token required)" : "(no token)")
                   + QLatin1String(m_control->isTls() ? " over TLS" : "");
    }
}

qsizetype ProxyInstance::queuedToBackends() const
{
    qsizetype queued = 0;
    if (m_server) {
        for (const Service *service : m_server->services())
            queued += service->bridge()->queuedToBackend();
    }
    return queued;
}

void ProxyInstance::reload()
{
    if (m_state != State::Running)
        return;
    m_server->reloadKeys();
    if (m_control)
        m_control->reloadTls();
}

void ProxyInstance::shutdown()
{
    if (m_state == State::Draining) {
        finish();
        return;
    }
    if (m_state != State::Running)
        return;
    m_state = State::Draining;
    m_control.reset();
    m_monitor.reset();
    m_server->shutdown();
    // The close frames and "disconnect"s are queued now; the queues are
    // looked at from the event loop, which is what sends them.
    m_drainElapsed.start();
    m_drainTimer.start(kDrainPollMs, this);
}

void ProxyInstance::timerEvent(QTimerEvent *event)
{
    if (event->timerId() != m_drainTimer.timerId()) {
        QObject::timerEvent(event);
        return;
    }
    if (queuedToBackends() > 0 && m_drainElapsed.elapsed() < m_server->config().shutdownTimeoutMs)
        return;
    finish();
}

void ProxyInstance::finish()
{
    m_drainTimer.stop();
    m_state = State::Stopped;
    const qsizetype undelivered = queuedToBackends();
    if (undelivered > 0)
        qCWarning(lcZmq) << undelivered << "messages to backends not delivered at exit (no backend took them)";
    // What ZeroMQ itself still holds for connected backends may leave while
    // the sockets close, in what is left of the one timeout.
    const qint64 left = qMax<qint64>(0, m_server->config().shutdownTimeoutMs - m_drainElapsed.elapsed());
    for (Service *service : m_server->services())
        service->bridge()->setShutdownLinger(int(left));
    Q_EMIT stopped(undelivered);
}

} // namespace SockJsProxy
