#include "clustermonitor.h"

#include "remotemonitor.h"

#include <QTimerEvent>

namespace SockJsProxy {

ClusterMonitor::ClusterMonitor(QObject *parent) : MonitorSource(parent)
{
    qRegisterMetaType<SockJsProxy::SessionInfo>();
    qRegisterMetaType<SockJsProxy::MonitorStats>();
    qRegisterMetaType<SockJsProxy::TrafficEvent>();
}

ClusterMonitor::~ClusterMonitor()
{
    // The nodes go without telling: nobody is left to listen.
    for (RemoteMonitor *remote : std::as_const(m_nodes))
        remote->disconnect(this);
    qDeleteAll(m_nodes);
}

bool ClusterMonitor::addNode(const QString &endpoint, const QByteArray &token)
{
    if (nodeAt(endpoint))
        return false;
    auto *remote = new RemoteMonitor(this);
    take(remote);
    remote->attach(endpoint, token);
    return true;
}

bool ClusterMonitor::adoptNode(std::unique_ptr<RemoteMonitor> remote)
{
    if (!remote || nodeAt(remote->endpoint()))
        return false;
    RemoteMonitor *node = remote.release();
    node->disconnect();
    node->setParent(this);
    take(node);
    // What it knows already.
    onNodeSessions(node, node->sessions(), {});
    if (node->isConnected())
        onNodeConnection(node, true, node->endpoint());
    if (node->stats().time.isValid())
        onNodeStats(node);
    return true;
}

bool ClusterMonitor::take(RemoteMonitor *remote)
{
    m_nodes.append(remote);
    connect(remote, &MonitorSource::sessionsChanged, this,
            [this, remote](const QList<SessionInfo> &upserted, const QList<QByteArray> &removed) {
                onNodeSessions(remote, upserted, removed);
            });
    connect(remote, &MonitorSource::statsUpdated, this, [this, remote] { onNodeStats(remote); });
    connect(remote, &MonitorSource::connectionChanged, this,
            [this, remote](bool connected, const QString &detail) { onNodeConnection(remote, connected, detail); });
    connect(remote, &MonitorSource::traffic, this, &MonitorSource::traffic);
    connect(remote, &MonitorSource::historyReady, this, &MonitorSource::historyReady);
    connect(remote, &MonitorSource::logMessage, this,
            [this, remote](const QString &level, const QString &category, const QString &text, const QDateTime &time) {
                Q_EMIT logMessage(level, category,
                                  m_nodes.size() > 1 ? nodeName(remote) + QStringLiteral(": ") + text : text, time);
            });
    if (m_capture > 0)
        remote->setCapture(m_capture);
    Q_EMIT nodesChanged();
    return true;
}

void ClusterMonitor::removeNode(const QString &endpoint)
{
    RemoteMonitor *remote = nodeAt(endpoint);
    if (!remote)
        return;
    remote->disconnect(this);
    m_nodes.removeOne(remote);
    m_labels.remove(remote);
    m_fresh.remove(remote);
    QList<QByteArray> removed;
    for (auto it = m_owner.begin(); it != m_owner.end();) {
        if (it.value() == remote) {
            removed.append(it.key());
            it = m_owner.erase(it);
        } else {
            ++it;
        }
    }
    remote->setParent(nullptr);
    remote->deleteLater(); // may be inside one of its signals
    if (!removed.isEmpty())
        Q_EMIT sessionsChanged({}, removed);
    Q_EMIT nodesChanged();
    const bool any = isConnected();
    if (any != m_anyConnected) {
        m_anyConnected = any;
        Q_EMIT connectionChanged(any, any ? endpoint : QStringLiteral("detached"));
    }
    emitStats();
}

RemoteMonitor *ClusterMonitor::nodeAt(const QString &endpoint) const
{
    for (RemoteMonitor *remote : m_nodes) {
        if (remote->endpoint() == endpoint)
            return remote;
    }
    return nullptr;
}

QString ClusterMonitor::nodeName(const RemoteMonitor *node) const
{
    const QByteArray name = node->stats().node;
    return name.isEmpty() ? node->endpoint() : QString::fromLatin1(name);
}

bool ClusterMonitor::isConnected() const
{
    for (const RemoteMonitor *remote : m_nodes) {
        if (remote->isConnected())
            return true;
    }
    return false;
}

bool ClusterMonitor::isUnauthorized() const
{
    for (const RemoteMonitor *remote : m_nodes) {
        if (remote->isUnauthorized())
            return true;
    }
    return false;
}

bool ClusterMonitor::isRetryPending() const
{
    for (const RemoteMonitor *remote : m_nodes) {
        if (remote->isRetryPending())
            return true;
    }
    return false;
}

int ClusterMonitor::currentRetryDelayMs() const
{
    int soonest = 0;
    for (const RemoteMonitor *remote : m_nodes) {
        if (remote->isRetryPending() && (soonest == 0 || remote->currentRetryDelayMs() < soonest))
            soonest = remote->currentRetryDelayMs();
    }
    return soonest;
}

void ClusterMonitor::reconnect()
{
    for (RemoteMonitor *remote : std::as_const(m_nodes)) {
        if (!remote->isConnected())
            remote->reconnect();
    }
}

SessionInfo ClusterMonitor::labelled(SessionInfo info, const QString &name) const
{
    info.node = name;
    return info;
}

QList<SessionInfo> ClusterMonitor::sessions() const
{
    QList<SessionInfo> all;
    for (const RemoteMonitor *remote : m_nodes) {
        const QString name = nodeName(remote);
        for (const SessionInfo &info : remote->sessions())
            all.append(labelled(info, name));
    }
    return all;
}

void ClusterMonitor::onNodeSessions(RemoteMonitor *remote, const QList<SessionInfo> &upserted,
                                    const QList<QByteArray> &removed)
{
    // RemoteMonitor reads a snapshot's stats before it tells of its sessions:
    // the name is known from the first snapshot on.
    const QString name = nodeName(remote);
    m_labels.insert(remote, name);
    QList<SessionInfo> out;
    out.reserve(upserted.size());
    for (const SessionInfo &info : upserted) {
        m_owner.insert(info.id, remote);
        out.append(labelled(info, name));
    }
    QList<QByteArray> gone;
    for (const QByteArray &id : removed) {
        if (m_owner.value(id) == remote) {
            m_owner.remove(id);
            gone.append(id);
        }
    }
    if (!out.isEmpty() || !gone.isEmpty() || (upserted.isEmpty() && removed.isEmpty()))
        Q_EMIT sessionsChanged(out, gone);
}

void ClusterMonitor::onNodeStats(RemoteMonitor *remote)
{
    // A node renamed (restarted under another cluster name): its sessions say so.
    const QString name = nodeName(remote);
    if (m_labels.contains(remote) && m_labels.value(remote) != name) {
        m_labels.insert(remote, name);
        QList<SessionInfo> relabelled;
        for (const SessionInfo &info : remote->sessions())
            relabelled.append(labelled(info, name));
        if (!relabelled.isEmpty())
            Q_EMIT sessionsChanged(relabelled, {});
    }
    m_fresh.insert(remote);
    for (const RemoteMonitor *node : std::as_const(m_nodes)) {
        if (node->isConnected() && !m_fresh.contains(node)) {
            if (!m_coalesce.isActive())
                m_coalesce.start(kCoalesceMs, this);
            return;
        }
    }
    emitStats();
}

void ClusterMonitor::timerEvent(QTimerEvent *event)
{
    if (event->timerId() != m_coalesce.timerId())
        return MonitorSource::timerEvent(event);
    emitStats();
}

void ClusterMonitor::emitStats()
{
    m_coalesce.stop();
    m_fresh.clear();
    QList<MonitorStats> live;
    for (const RemoteMonitor *remote : std::as_const(m_nodes)) {
        if (remote->isConnected() && remote->stats().time.isValid())
            live.append(remote->stats());
    }
    if (live.isEmpty())
        return; // nothing live to sum: the last figures stay, marked gone by connectionChanged
    m_stats = sum(live);
    Q_EMIT statsUpdated(m_stats);
}

void ClusterMonitor::onNodeConnection(RemoteMonitor *remote, bool connected, const QString &detail)
{
    Q_EMIT nodeConnectionChanged(remote->endpoint(), connected, detail);
    const bool any = isConnected();
    if (m_nodes.size() == 1) {
        // One node: exactly what it says.
        m_anyConnected = any;
        Q_EMIT connectionChanged(connected, detail);
        return;
    }
    if (!connected) {
        m_fresh.remove(remote);
        // The totals no longer count it.
        emitStats();
    }
    if (any != m_anyConnected || !any) {
        m_anyConnected = any;
        Q_EMIT connectionChanged(any, any ? detail : nodeName(remote) + QStringLiteral(": ") + detail);
    }
}

MonitorStats ClusterMonitor::sum(const QList<MonitorStats> &nodes)
{
    if (nodes.size() == 1)
        return nodes.first();
    MonitorStats total;
    for (const MonitorStats &node : nodes) {
        if (!total.time.isValid() || (node.time.isValid() && node.time > total.time))
            total.time = node.time;
        total.capture.perSession = qMax(total.capture.perSession, node.capture.perSession);
        total.capture.messages += node.capture.messages;
        total.capture.bytes += node.capture.bytes;
        total.capture.evicted += node.capture.evicted;
        for (const ServiceStats &service : node.services) {
            auto it = std::find_if(total.services.begin(), total.services.end(),
                                   [&service](const ServiceStats &s) { return s.prefix == service.prefix; });
            if (it == total.services.end()) {
                total.services.append(service);
                continue;
            }
            it->sessionsOpen += service.sessionsOpen;
            it->counters += service.counters;
            it->rates.sessionsOpened += service.rates.sessionsOpened;
            it->rates.sessionsClosed += service.rates.sessionsClosed;
            it->rates.messagesIn += service.rates.messagesIn;
            it->rates.messagesOut += service.rates.messagesOut;
            it->rates.bytesIn += service.rates.bytesIn;
            it->rates.bytesOut += service.rates.bytesOut;
            BackendStatus &backend = it->backend;
            backend.inPeers =
                backend.inPeers < 0 || service.backend.inPeers < 0 ? -1 : backend.inPeers + service.backend.inPeers;
            backend.outPeers =
                backend.outPeers < 0 || service.backend.outPeers < 0 ? -1 : backend.outPeers + service.backend.outPeers;
            backend.queued += service.backend.queued;
            backend.dropped += service.backend.dropped;
        }
        total.sessionsOpen += node.sessionsOpen;
        total.counters += node.counters;
        total.rates.sessionsOpened += node.rates.sessionsOpened;
        total.rates.sessionsClosed += node.rates.sessionsClosed;
        total.rates.messagesIn += node.rates.messagesIn;
        total.rates.messagesOut += node.rates.messagesOut;
        total.rates.bytesIn += node.rates.bytesIn;
        total.rates.bytesOut += node.rates.bytesOut;
    }
    return total;
}

void ClusterMonitor::disconnectSessions(const QList<QByteArray> &ids)
{
    QHash<RemoteMonitor *, QList<QByteArray>> byNode;
    QList<RemoteMonitor *> order;
    for (const QByteArray &id : ids) {
        RemoteMonitor *remote = m_owner.value(id);
        if (!remote)
            continue;
        if (!byNode.contains(remote))
            order.append(remote);
        byNode[remote].append(id);
    }
    for (RemoteMonitor *remote : std::as_const(order))
        remote->disconnectSessions(byNode.value(remote));
}

void ClusterMonitor::sendToSession(const QByteArray &id, const QByteArray &message)
{
    if (RemoteMonitor *remote = m_owner.value(id))
        remote->sendToSession(id, message);
}

void ClusterMonitor::clearCounters()
{
    for (RemoteMonitor *remote : std::as_const(m_nodes))
        remote->clearCounters();
}

void ClusterMonitor::setInspected(const QByteArray &id, bool inspected)
{
    if (RemoteMonitor *remote = m_owner.value(id))
        remote->setInspected(id, inspected);
}

void ClusterMonitor::setCapture(int messagesPerSession)
{
    m_capture = messagesPerSession;
    for (RemoteMonitor *remote : std::as_const(m_nodes))
        remote->setCapture(messagesPerSession);
}

void ClusterMonitor::requestHistory(const QByteArray &id)
{
    if (RemoteMonitor *remote = m_owner.value(id))
        remote->requestHistory(id);
}

} // namespace SockJsProxy
