#include "monitor.h"

#include "base/queuebudget.h"
#include "cluster/cluster.h"
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

// A Prometheus label value: backslash, quote and newline escaped.
QByteArray labelValue(const QString &text)
{
    QByteArray value = text.toUtf8();
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
    return value;
}

QByteArray sampleLine(const char *name, const QByteArray &labels, quint64 value)
{
    QByteArray line = name;
    if (!labels.isEmpty())
        line += '{' + labels + '}';
    return line + ' ' + QByteArray::number(value) + '\n';
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

Server *Monitor::server() const { return m_server.data(); }

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
    Counters counters = service->counters();
    counters += service->bridge()->counters();
    return counters.computeSums();
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
    info.via = client.via;
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
    Counters rawTotal = m_server->counters();
    stats.counters = rawTotal.since(m_serverBaseline);
    for (const Service *service : m_server->services()) {
        ServiceStats serviceStats;
        serviceStats.prefix = service->prefix();
        serviceStats.sessionsOpen = service->sessionCount();
        const Counters raw = rawCounters(service);
        rawTotal += raw;
        serviceStats.counters = raw.since(m_baseline.value(service->prefix()));
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
    m_serverBaseline = m_server->counters();
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
    const auto head = [&out](const char *name, const char *type, const char *help) {
        out += QByteArray("# HELP ") + name + ' ' + help + '\n';
        out += QByteArray("# TYPE ") + name + ' ' + type + '\n';
    };
    const QList<Service *> &services = m_server->services();
    QList<QByteArray> serviceLabels;
    QList<Counters> serviceCounters;
    for (const Service *service : services) {
        serviceLabels.append("service=\"" + labelValue(service->prefix()) + '"');
        serviceCounters.append(rawCounters(service));
    }

    head("sockjsproxy_sessions_open", "gauge", "Sessions currently open.");
    for (qsizetype i = 0; i < services.size(); ++i)
        out += sampleLine("sockjsproxy_sessions_open", serviceLabels.at(i), quint64(services.at(i)->sessionCount()));

    // Every row of the table; rows sharing a name follow each other. A row
    // labelled at run time has one line per label value, in their order.
    const Counters &server = m_server->counters();
    const auto rowLines = [&out](const CounterInfo &row, const QByteArray &scopeLabels, const Counters &counters) {
        const auto join = [&scopeLabels](const QByteArray &label) {
            return scopeLabels.isEmpty() || label.isEmpty() ? scopeLabels + label : scopeLabels + ',' + label;
        };
        if (!row.runtimeLabel) {
            out += sampleLine(row.name, join(row.label), counters[row.id]);
            return;
        }
        const Counters::LabelValues labelled = counters.labelled(row.id);
        QStringList values = labelled.keys();
        values.sort();
        for (const QString &value : std::as_const(values))
            out += sampleLine(row.name, join(row.label + QByteArray("=\"") + labelValue(value) + '"'),
                              labelled.value(value));
    };
    const char *previous = "";
    for (const CounterInfo &row : kCounterTable) {
        if (qstrcmp(row.name, previous) != 0)
            head(row.name, "counter", row.help);
        previous = row.name;
        if (row.scope == CounterScope::Server) {
            rowLines(row, QByteArray(), server);
            continue;
        }
        for (qsizetype i = 0; i < services.size(); ++i)
            rowLines(row, serviceLabels.at(i), serviceCounters.at(i));
    }

    head("sockjsproxy_backend_queue", "gauge", "Events waiting for a backend.");
    for (qsizetype i = 0; i < services.size(); ++i)
        out += sampleLine("sockjsproxy_backend_queue", serviceLabels.at(i),
                          quint64(services.at(i)->bridge()->queuedToBackend()));

    head("sockjsproxy_connections_open", "gauge", "Client connections open on the HTTP port.");
    out += sampleLine("sockjsproxy_connections_open", QByteArray(), quint64(m_server->openConnections()));
    head("sockjsproxy_connections_max", "gauge", "limits.max_connections in force.");
    out += sampleLine("sockjsproxy_connections_max", QByteArray(), quint64(m_server->maxConnections()));
    head("sockjsproxy_queued_bytes", "gauge", "Bytes in all outgoing queues (sessions and backend links).");
    out +=
        sampleLine("sockjsproxy_queued_bytes", QByteArray(), quint64(qMax<qint64>(0, m_server->queueBudget().total())));
    head("sockjsproxy_queued_bytes_max", "gauge", "limits.max_queued_bytes_total in force (0: none).");
    out += sampleLine("sockjsproxy_queued_bytes_max", QByteArray(), quint64(m_server->queueBudget().limit()));
    // A cluster node: whether each configured peer is up (by its node name,
    // or its endpoint until it was heard from).
    if (const Cluster *cluster = m_server->cluster()) {
        head("sockjsproxy_cluster_peer_up", "gauge", "Whether a cluster peer is up (1) or down (0).");
        for (const Cluster::PeerStatus &peer : cluster->peers()) {
            const QString name = peer.node.isEmpty() ? peer.endpoint : QString::fromLatin1(peer.node);
            out += sampleLine("sockjsproxy_cluster_peer_up", "peer=\"" + labelValue(name) + '"', peer.up ? 1 : 0);
        }
    }
    return out;
}

} // namespace SockJsProxy
