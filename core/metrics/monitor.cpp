#include "monitor.h"

#include "logcapture.h"
#include "server/server.h"
#include "sockjs/frames.h"
#include "sockjs/service.h"
#include "zmq/zmqbridge.h"

#include <QMetaMethod>
#include <QTimerEvent>

namespace SockJsProxy {

namespace {

QString stateName(Session::State state)
{
    switch (state) {
    case Session::State::Connecting:
        return QStringLiteral("connecting");
    case Session::State::Open:
        return QStringLiteral("open");
    case Session::State::Closed:
        return QStringLiteral("closed");
    }
    return QString();
}

Counters minus(const Counters &a, const Counters &b)
{
    auto sub = [](quint64 x, quint64 y) { return x >= y ? x - y : 0; };
    Counters c;
    c.sessionsOpened = sub(a.sessionsOpened, b.sessionsOpened);
    c.sessionsClosed = sub(a.sessionsClosed, b.sessionsClosed);
    c.messagesIn = sub(a.messagesIn, b.messagesIn);
    c.messagesOut = sub(a.messagesOut, b.messagesOut);
    c.bytesIn = sub(a.bytesIn, b.bytesIn);
    c.bytesOut = sub(a.bytesOut, b.bytesOut);
    c.drops = sub(a.drops, b.drops);
    c.protocolErrors = sub(a.protocolErrors, b.protocolErrors);
    c.backendEvents = sub(a.backendEvents, b.backendEvents);
    c.backendErrors = sub(a.backendErrors, b.backendErrors);
    return c;
}

} // namespace

Monitor::Monitor(Server *server, QObject *parent) : MonitorSource(parent), m_server(server)
{
    qRegisterMetaType<SockJsProxy::SessionInfo>();
    qRegisterMetaType<SockJsProxy::MonitorStats>();
    qRegisterMetaType<SockJsProxy::TrafficEvent>();
    for (Service *service : server->services())
        connect(service, &Service::traffic, this, &Monitor::onTraffic);
    connect(LogCapture::instance(), &LogCapture::messageLogged, this, &MonitorSource::logMessage);
}

Monitor::~Monitor()
{
    // Leave no session reporting traffic to nobody.
    if (m_server) {
        for (Service *service : m_server->services()) {
            const auto sessions = service->sessions();
            for (Session *session : sessions)
                session->setInspected(false);
        }
    }
}

void Monitor::start(int sessionIntervalMs, int statsIntervalMs)
{
    m_sessionTimer.start(sessionIntervalMs, this);
    m_statsTimer.start(statsIntervalMs, this);
    sampleStats(QDateTime::currentMSecsSinceEpoch());
}

void Monitor::stop()
{
    m_sessionTimer.stop();
    m_statsTimer.stop();
}

void Monitor::timerEvent(QTimerEvent *event)
{
    if (event->timerId() == m_sessionTimer.timerId()) {
        // A few scans a second, and none when nobody watches.
        if (isSignalConnected(QMetaMethod::fromSignal(&MonitorSource::sessionsChanged)))
            publishSessionChanges();
    } else if (event->timerId() == m_statsTimer.timerId()) {
        sampleStats(QDateTime::currentMSecsSinceEpoch());
    } else {
        MonitorSource::timerEvent(event);
    }
}

Counters Monitor::rawCounters(const Service *service)
{
    const Service::Counters &s = service->counters();
    const ZmqBridge::Counters &b = service->bridge()->counters();
    Counters c;
    c.sessionsOpened = s.sessionsOpened;
    c.sessionsClosed = s.sessionsClosed;
    c.messagesIn = s.messagesFromClients;
    c.messagesOut = s.messagesToClients;
    c.bytesIn = s.bytesFromClients;
    c.bytesOut = s.bytesToClients;
    c.drops = s.droppedForClosedSession + service->bridge()->droppedToBackend();
    c.protocolErrors = s.protocolErrors;
    c.backendEvents = b.receivedMessage + b.receivedDisconnect;
    c.backendErrors = b.malformed + b.unknownType + s.unknownSessionFromBackend;
    return c;
}

BackendStatus Monitor::backendStatus(const Service *service)
{
    const ZmqBridge *bridge = service->bridge();
    BackendStatus status;
    status.inEndpoint = bridge->boundInEndpoint();
    status.outEndpoint = bridge->boundOutEndpoint();
    status.inPeers = bridge->inPeers();
    status.outPeers = bridge->outPeers();
    status.queued = bridge->queuedToBackend();
    status.dropped = bridge->droppedToBackend();
    return status;
}

SessionInfo Monitor::sessionInfo(const Service *service, const Session *session)
{
    SessionInfo info;
    info.id = session->backendId();
    info.service = service->prefix();
    info.transport = session->transportName();
    const Session::ClientInfo &client = session->clientInfo();
    info.remoteAddress = client.address;
    info.remotePort = client.port;
    info.origin = client.origin;
    info.userAgent = client.userAgent;
    info.state = stateName(session->state());
    info.openedAt = session->openedAt();
    const Session::Stats &stats = session->stats();
    if (stats.lastActivityMs > 0)
        info.lastActivity = QDateTime::fromMSecsSinceEpoch(stats.lastActivityMs, Qt::UTC);
    info.messagesIn = stats.messagesIn;
    info.messagesOut = stats.messagesOut;
    info.bytesIn = stats.bytesIn;
    info.bytesOut = stats.bytesOut;
    info.queued = session->queuedMessages();
    return info;
}

void Monitor::sampleStats(qint64 nowMs)
{
    if (!m_server)
        return;
    MonitorStats stats;
    stats.time = QDateTime::fromMSecsSinceEpoch(nowMs, Qt::UTC);
    Counters rawTotal;
    for (const Service *service : m_server->services()) {
        ServiceStats serviceStats;
        serviceStats.prefix = service->prefix();
        serviceStats.sessionsOpen = service->sessionCount();
        const Counters raw = rawCounters(service);
        rawTotal += raw;
        serviceStats.counters = minus(raw, m_baseline.value(service->prefix()));
        serviceStats.rates = m_trackers[service->prefix()].sample(nowMs, raw);
        serviceStats.backend = backendStatus(service);
        stats.sessionsOpen += serviceStats.sessionsOpen;
        stats.counters += serviceStats.counters;
        stats.services.append(serviceStats);
    }
    stats.rates = m_totalTracker.sample(nowMs, rawTotal);
    m_stats = stats;
    Q_EMIT statsUpdated(m_stats);
}

QList<SessionInfo> Monitor::sessions() const
{
    QList<SessionInfo> result;
    if (!m_server)
        return result;
    for (const Service *service : m_server->services()) {
        const auto sessions = service->sessions();
        for (const Session *session : sessions)
            result.append(sessionInfo(service, session));
    }
    return result;
}

void Monitor::publishSessionChanges()
{
    if (!m_server)
        return;
    QList<SessionInfo> upserted;
    QSet<QByteArray> present;
    for (const Service *service : m_server->services()) {
        const auto sessions = service->sessions();
        for (const Session *session : sessions) {
            const QByteArray &id = session->backendId();
            present.insert(id);
            const Session::Stats &stats = session->stats();
            Seen now{stats.messagesIn,          stats.messagesOut,     stats.lastActivityMs,
                     session->queuedMessages(), int(session->state()), session->transportName()};
            auto it = m_seen.find(id);
            if (it != m_seen.end() && it->messagesIn == now.messagesIn && it->messagesOut == now.messagesOut
                && it->lastActivityMs == now.lastActivityMs && it->queued == now.queued && it->state == now.state
                && it->transport == now.transport)
                continue; // unchanged: cheap fields compared before building anything
            m_seen.insert(id, now);
            upserted.append(sessionInfo(service, session));
        }
    }
    QList<QByteArray> removed;
    for (auto it = m_seen.begin(); it != m_seen.end();) {
        if (!present.contains(it.key())) {
            removed.append(it.key());
            it = m_seen.erase(it);
        } else {
            ++it;
        }
    }
    if (!upserted.isEmpty() || !removed.isEmpty())
        Q_EMIT sessionsChanged(upserted, removed);
}

Session *Monitor::findSession(const QByteArray &id, Service **serviceOut) const
{
    if (!m_server)
        return nullptr;
    for (Service *service : m_server->services()) {
        if (Session *session = service->sessionByBackendId(id)) {
            if (serviceOut)
                *serviceOut = service;
            return session;
        }
    }
    return nullptr;
}

void Monitor::disconnectSessions(const QList<QByteArray> &ids)
{
    for (const QByteArray &id : ids) {
        if (Session *session = findSession(id))
            session->close(CloseReason::GoAwayCode, CloseReason::goAway());
    }
}

void Monitor::sendToSession(const QByteArray &id, const QByteArray &message)
{
    Service *service = nullptr;
    if (Session *session = findSession(id, &service))
        service->deliverToSession(session, message);
}

void Monitor::clearCounters()
{
    if (!m_server)
        return;
    for (const Service *service : m_server->services())
        m_baseline.insert(service->prefix(), rawCounters(service));
    sampleStats(QDateTime::currentMSecsSinceEpoch());
}

void Monitor::setInspected(const QByteArray &id, bool inspected)
{
    if (Session *session = findSession(id))
        session->setInspected(inspected);
}

void Monitor::onTraffic(const QByteArray &sessionId, bool outgoing, const QByteArray &message)
{
    TrafficEvent event;
    event.sessionId = sessionId;
    event.direction = outgoing ? TrafficEvent::Direction::Out : TrafficEvent::Direction::In;
    event.time = QDateTime::currentDateTimeUtc();
    event.data = message;
    Q_EMIT traffic(event);
}

QByteArray Monitor::prometheusText() const
{
    QByteArray out;
    if (!m_server)
        return out;
    struct Metric
    {
        const char *name;
        const char *type;
        const char *help;
        quint64 (*value)(const Service *);
    };
    static const Metric metrics[] = {
        {"sockjsproxy_sessions_open", "gauge", "Sessions currently open.",
         [](const Service *s) { return quint64(s->sessionCount()); }},
        {"sockjsproxy_sessions_opened_total", "counter", "Sessions opened.",
         [](const Service *s) { return rawCounters(s).sessionsOpened; }},
        {"sockjsproxy_sessions_closed_total", "counter", "Sessions closed.",
         [](const Service *s) { return rawCounters(s).sessionsClosed; }},
        {"sockjsproxy_messages_in_total", "counter", "Messages from clients to backends.",
         [](const Service *s) { return rawCounters(s).messagesIn; }},
        {"sockjsproxy_messages_out_total", "counter", "Messages from backends to clients.",
         [](const Service *s) { return rawCounters(s).messagesOut; }},
        {"sockjsproxy_bytes_in_total", "counter", "Message bytes from clients.",
         [](const Service *s) { return rawCounters(s).bytesIn; }},
        {"sockjsproxy_bytes_out_total", "counter", "Message bytes to clients.",
         [](const Service *s) { return rawCounters(s).bytesOut; }},
        {"sockjsproxy_drops_total", "counter", "Messages dropped (closed sessions, full queues, no backend).",
         [](const Service *s) { return rawCounters(s).drops; }},
        {"sockjsproxy_protocol_errors_total", "counter", "Client protocol errors.",
         [](const Service *s) { return rawCounters(s).protocolErrors; }},
        {"sockjsproxy_backend_events_total", "counter", "Messages received from backends.",
         [](const Service *s) { return rawCounters(s).backendEvents; }},
        {"sockjsproxy_backend_errors_total", "counter", "Malformed backend messages and unknown sessions.",
         [](const Service *s) { return rawCounters(s).backendErrors; }},
        {"sockjsproxy_backend_queue", "gauge", "Events waiting for a backend.",
         [](const Service *s) { return quint64(s->bridge()->queuedToBackend()); }},
    };
    for (const Metric &metric : metrics) {
        out += QByteArray("# HELP ") + metric.name + ' ' + metric.help + '\n';
        out += QByteArray("# TYPE ") + metric.name + ' ' + metric.type + '\n';
        for (const Service *service : m_server->services()) {
            QByteArray prefix = service->prefix().toUtf8();
            prefix.replace('\\', "\\\\").replace('"', "\\\"");
            out += QByteArray(metric.name) + "{service=\"" + prefix + "\"} " + QByteArray::number(metric.value(service))
                   + '\n';
        }
    }
    const Server::Counters &server = m_server->counters();
    out += "# HELP sockjsproxy_http_requests_total HTTP requests received.\n"
           "# TYPE sockjsproxy_http_requests_total counter\n"
           "sockjsproxy_http_requests_total "
           + QByteArray::number(server.requests) + '\n';
    out += "# HELP sockjsproxy_http_rejected_total HTTP requests refused (malformed, over a limit, too slow).\n"
           "# TYPE sockjsproxy_http_rejected_total counter\n"
           "sockjsproxy_http_rejected_total "
           + QByteArray::number(server.rejectedRequests) + '\n';
    out += "# HELP sockjsproxy_connections_accepted_total TCP connections accepted.\n"
           "# TYPE sockjsproxy_connections_accepted_total counter\n"
           "sockjsproxy_connections_accepted_total "
           + QByteArray::number(server.connectionsAccepted) + '\n';
    return out;
}

} // namespace SockJsProxy
