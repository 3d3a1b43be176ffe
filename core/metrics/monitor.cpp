#include "monitor.h"

#include "base/queuebudget.h"
#include "cluster/cluster.h"
#include "logcapture.h"
#include "server/server.h"
#include "sockjs/frames.h"
#include "sockjs/jsoncodec.h"
#include "sockjs/service.h"
#include "zmq/zmqbridge.h"

#include <QCoreApplication>
#include <QMetaMethod>
#include <QRandomGenerator>
#include <QTimerEvent>

#include <algorithm>

namespace SockJsProxy {

namespace {

enum class ShownState { Connecting, Open, Waiting, Closed };

ShownState shownState(const Session *session)
{
    switch (session->state()) {
    case Session::State::Connecting:
        return ShownState::Connecting;
    case Session::State::Open:
        // An HTTP session between two requests of its client.
        return session->lifetime() == Session::Lifetime::Requests && !session->hasReceiver() ? ShownState::Waiting
                                                                                             : ShownState::Open;
    case Session::State::Closed:
        return ShownState::Closed;
    }
    return ShownState::Closed;
}

QString stateName(ShownState state)
{
    switch (state) {
    case ShownState::Connecting:
        return QStringLiteral("connecting");
    case ShownState::Open:
        return QStringLiteral("open");
    case ShownState::Waiting:
        return QStringLiteral("waiting");
    case ShownState::Closed:
        return QStringLiteral("closed");
    }
    return QString();
}

TrafficEvent::Frame frameOf(const SessionTraffic &traffic)
{
    switch (traffic.kind) {
    case SessionTraffic::Kind::Message:
        return JsonCodec::isValidUtf8(traffic.data) ? TrafficEvent::Frame::Text : TrafficEvent::Frame::Binary;
    case SessionTraffic::Kind::Open:
        return TrafficEvent::Frame::Open;
    case SessionTraffic::Kind::Heartbeat:
        return TrafficEvent::Frame::Heartbeat;
    case SessionTraffic::Kind::Close:
        return TrafficEvent::Frame::Close;
    }
    return TrafficEvent::Frame::Text;
}

TrafficEvent::Source sourceOf(SessionTraffic::Source source)
{
    switch (source) {
    case SessionTraffic::Source::Client:
        return TrafficEvent::Source::Client;
    case SessionTraffic::Source::Backend:
        return TrafficEvent::Source::Backend;
    case SessionTraffic::Source::Monitor:
        return TrafficEvent::Source::Monitor;
    case SessionTraffic::Source::Proxy:
        return TrafficEvent::Source::Proxy;
    }
    return TrafficEvent::Source::Proxy;
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

QString Monitor::closeOriginName(Session::CloseOrigin origin)
{
    switch (origin) {
    case Session::CloseOrigin::None:
        return QString();
    case Session::CloseOrigin::Client:
        return QStringLiteral("client");
    case Session::CloseOrigin::Backend:
        return QStringLiteral("backend");
    case Session::CloseOrigin::Monitor:
        return QStringLiteral("monitor");
    case Session::CloseOrigin::Timeout:
        return QStringLiteral("timeout");
    case Session::CloseOrigin::Limit:
        return QStringLiteral("limit");
    case Session::CloseOrigin::Shutdown:
        return QStringLiteral("shutdown");
    case Session::CloseOrigin::Proxy:
        return QStringLiteral("proxy");
    }
    return QString();
}

Monitor::Monitor(Server *server, QObject *parent)
    : MonitorSource(parent), m_server(server),
      m_instance(QByteArray::number(QRandomGenerator::system()->generate64(), 16).rightJustified(16, '0')),
      m_startedAt(QDateTime::currentDateTimeUtc())
{
    qRegisterMetaType<SockJsProxy::SessionInfo>();
    qRegisterMetaType<SockJsProxy::MonitorStats>();
    qRegisterMetaType<SockJsProxy::TrafficEvent>();
    qRegisterMetaType<SockJsProxy::LogLine>();
    for (Service *service : server->services()) {
        connect(service, &Service::traffic, this, &Monitor::onTraffic);
        connect(service, &Service::sessionCreated, this, &Monitor::onSessionCreated);
        connect(service, &Service::sessionRemoved, this,
                [this, service](Session *session) { onSessionRemoved(service, session); });
    }
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
    info.state = stateName(shownState(session));
    info.openedAt = session->openedAt();
    const Session::Stats &stats = session->stats();
    if (stats.lastActivityMs > 0)
        info.lastActivity = QDateTime::fromMSecsSinceEpoch(stats.lastActivityMs, Qt::UTC);
    info.messagesIn = stats.messagesIn;
    info.messagesOut = stats.messagesOut;
    info.bytesIn = stats.bytesIn;
    info.bytesOut = stats.bytesOut;
    info.queued = session->queuedMessages();
    if (session->state() == Session::State::Closed) {
        info.closeCode = session->closeCode();
        info.closeReason = QString::fromUtf8(session->closeReason());
        info.closedBy = closeOriginName(session->closedBy());
        info.closedAt = session->closedAt();
    }
    return info;
}

void Monitor::sampleStats(qint64 nowMs)
{
    if (!m_server)
        return;
    MonitorStats stats;
    stats.time = QDateTime::fromMSecsSinceEpoch(nowMs, Qt::UTC);
    stats.instance = m_instance;
    stats.startedAt = m_startedAt;
    stats.pid = QCoreApplication::applicationPid();
    stats.capture = m_capture;
    if (const Cluster *cluster = m_server->cluster()) {
        stats.node = cluster->name();
        for (const Cluster::PeerStatus &peer : cluster->peers())
            stats.peers.append({peer.endpoint, peer.node, peer.up});
    }
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
            Seen now{stats.messagesIn,          stats.messagesOut,        stats.lastActivityMs,
                     session->queuedMessages(), int(shownState(session)), session->transportName()};
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
    // Sessions that ended since the last scan: as they were when they ended
    // (closed, with code and reason), then removed. Those that came and went
    // between two scans too.
    for (auto it = m_ended.cbegin(); it != m_ended.cend(); ++it) {
        upserted.append(it.value());
        if (!removed.contains(it.key()))
            removed.append(it.key());
    }
    m_ended.clear();
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
            session->close(CloseReason::GoAwayCode, CloseReason::goAway(), Session::CloseOrigin::Monitor);
    }
}

void Monitor::sendToSession(const QByteArray &id, const QByteArray &message)
{
    Service *service = nullptr;
    if (Session *session = findSession(id, &service))
        service->deliverToSession(session, message, SessionTraffic::Source::Monitor);
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
    Session *session = findSession(id);
    if (!session)
        return;
    if (inspected)
        m_inspected.insert(id);
    else
        m_inspected.remove(id);
    // The capture keeps every session reporting.
    session->setInspected(inspected || m_capture.perSession > 0);
}

void Monitor::onSessionCreated(Session *session)
{
    if (m_capture.perSession > 0)
        session->setInspected(true);
}

void Monitor::onSessionRemoved(const Service *service, Session *session)
{
    m_inspected.remove(session->backendId());
    // Only while someone listens, and never without bound: a listener
    // publishes a few times a second.
    constexpr qsizetype kMaxEnded = 10'000;
    if (m_ended.size() < kMaxEnded && isSignalConnected(QMetaMethod::fromSignal(&MonitorSource::sessionsChanged)))
        m_ended.insert(session->backendId(), sessionInfo(service, session));
}

void Monitor::onTraffic(const QByteArray &sessionId, const SessionTraffic &traffic)
{
    TrafficEvent event;
    event.sessionId = sessionId;
    event.direction = traffic.outgoing ? TrafficEvent::Direction::Out : TrafficEvent::Direction::In;
    event.time = QDateTime::currentDateTimeUtc();
    event.data = traffic.data;
    event.frame = frameOf(traffic);
    event.source = sourceOf(traffic.source);
    event.seq = ++m_trafficSeq;
    if (m_capture.perSession > 0)
        keep(event);
    if (m_inspected.contains(sessionId))
        Q_EMIT this->traffic(event);
}

void Monitor::setCapture(int messagesPerSession)
{
    messagesPerSession = qBound(0, messagesPerSession, kMaxCapturePerSession);
    if (messagesPerSession == m_capture.perSession)
        return;
    const bool wasOn = m_capture.perSession > 0;
    if (messagesPerSession == 0) {
        m_captured.clear();
        m_captureOrder.clear();
        m_capture = CaptureStats();
    } else {
        m_capture.perSession = messagesPerSession;
        // A smaller bound applies to what is kept already.
        for (auto it = m_captured.begin(); it != m_captured.end(); ++it) {
            while (it->size() > size_t(messagesPerSession)) {
                m_capture.bytes -= it->front().data.size();
                --m_capture.messages;
                ++m_capture.evicted;
                it->pop_front();
            }
        }
    }
    const bool on = m_capture.perSession > 0;
    if (on != wasOn && m_server) {
        for (Service *service : m_server->services()) {
            const auto sessions = service->sessions();
            for (Session *session : sessions)
                session->setInspected(on || m_inspected.contains(session->backendId()));
        }
    }
}

void Monitor::keep(const TrafficEvent &event)
{
    TrafficEvent kept = event;
    if (kept.data.size() > kCaptureMessageBytes) {
        kept.size = kept.data.size();
        kept.data.truncate(kCaptureMessageBytes);
    }
    std::deque<TrafficEvent> &events = m_captured[event.sessionId];
    m_capture.bytes += kept.data.size();
    ++m_capture.messages;
    m_captureOrder.emplace_back(event.sessionId, event.seq);
    events.push_back(std::move(kept));
    if (events.size() > size_t(m_capture.perSession)) {
        m_capture.bytes -= events.front().data.size();
        --m_capture.messages;
        ++m_capture.evicted;
        events.pop_front(); // its entry in m_captureOrder is skipped when reached
    }
    while (m_capture.messages > kCaptureMessages || m_capture.bytes > kCaptureBytes)
        evictOldest();
    // Entries of events already pushed out by the per-session bound pile up
    // in the order queue: rebuild it from what is held when they dominate.
    if (m_captureOrder.size() > size_t(2 * m_capture.messages + 1024)) {
        m_captureOrder.clear();
        for (auto it = m_captured.cbegin(); it != m_captured.cend(); ++it) {
            for (const TrafficEvent &held : it.value())
                m_captureOrder.emplace_back(it.key(), held.seq);
        }
        std::sort(m_captureOrder.begin(), m_captureOrder.end(),
                  [](const auto &a, const auto &b) { return a.second < b.second; });
    }
}

void Monitor::evictOldest()
{
    while (!m_captureOrder.empty()) {
        const auto [id, seq] = m_captureOrder.front();
        m_captureOrder.pop_front();
        const auto it = m_captured.find(id);
        if (it == m_captured.end() || it->empty() || it->front().seq != seq)
            continue; // already gone
        m_capture.bytes -= it->front().data.size();
        --m_capture.messages;
        ++m_capture.evicted;
        it->pop_front();
        if (it->empty())
            m_captured.erase(it);
        return;
    }
}

QList<TrafficEvent> Monitor::history(const QByteArray &id) const
{
    const auto it = m_captured.constFind(id);
    if (it == m_captured.cend())
        return {};
    return QList<TrafficEvent>(it->cbegin(), it->cend());
}

void Monitor::requestHistory(const QByteArray &id) { Q_EMIT historyReady(id, history(id)); }

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
