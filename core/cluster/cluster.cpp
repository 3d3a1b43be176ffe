#include "cluster.h"

#include "base/logging.h"
#include "sockjs/node.h"
#include "sockjs/service.h"

#include <algorithm>

namespace SockJsProxy {

namespace {
const QByteArray kVersion = QByteArrayLiteral("sockjsproxy-cluster/1");
const QByteArray kHeartbeat = QByteArrayLiteral("hb");
const QByteArray kSync = QByteArrayLiteral("sync");
const QByteArray kOpen = QByteArrayLiteral("open");
const QByteArray kClose = QByteArrayLiteral("close");
const QByteArray kMessage = QByteArrayLiteral("msg");
const QByteArray kDisconnect = QByteArrayLiteral("disc");
const QByteArray kBroadcast = QByteArrayLiteral("bcast");
const QByteArray kAccept = QByteArrayLiteral("acc");
const QByteArray kClaim = QByteArrayLiteral("claim");
constexpr qsizetype kHeaderFrames = 4; // version, kind, node, incarnation
constexpr qsizetype kLinkOutbox = 100000;
constexpr qint64 kDropLogIntervalMs = 1000;
const QString kUnknownPeer = QStringLiteral("unknown");
const char *const kDown = "that node is down or unknown";

QByteArray joinIds(const QList<QByteArray> &ids) { return ids.join(' '); }

QList<QByteArray> splitIds(const QByteArray &ids)
{
    QList<QByteArray> list = ids.split(' ');
    list.removeAll(QByteArray());
    return list;
}
} // namespace

Cluster::Cluster(const ClusterConfig &config, const QByteArray &name, const QByteArray &incarnation, Counters *counters,
                 QObject *parent)
    : QObject(parent), m_config(config), m_name(name), m_incarnation(incarnation), m_counters(counters)
{
    m_elapsed.start();
    m_timer.setInterval(m_config.heartbeatMs);
    connect(&m_timer, &QTimer::timeout, this, &Cluster::tick);
}

Cluster::~Cluster()
{
    for (Service *service : std::as_const(m_services))
        service->setRouter(nullptr);
}

qint64 Cluster::now() const { return m_clock ? m_clock() : m_elapsed.elapsed(); }

void Cluster::addService(Service *service)
{
    m_services.append(service);
    service->setRouter(this);
}

Service *Cluster::serviceFor(const QString &prefix) const
{
    for (Service *service : m_services) {
        if (service->prefix() == prefix)
            return service;
    }
    return nullptr;
}

bool Cluster::start(QString *error, bool withTimer)
{
    m_pull = new ZmqSocket(ZmqSocket::Type::Pull, this);
    m_pull->setBudget(256);
    connect(m_pull, &ZmqSocket::messageReceived, this, &Cluster::onPeerMessage);
    QString bindError;
    if (!m_pull->bind(m_config.bind, &bindError)) {
        *error = QStringLiteral("cluster.bind %1: %2").arg(m_config.bind, bindError);
        return false;
    }
    for (const QString &endpoint : std::as_const(m_config.peers)) {
        if (endpoint == m_config.bind || endpoint == m_pull->lastEndpoint())
            continue; // the same peer list on every node: its own is among them
        Link link;
        link.endpoint = endpoint;
        link.socket = new ZmqSocket(ZmqSocket::Type::Push, this);
        // Only on a live connection: what a down peer cannot take waits in
        // the (bounded) outbox, never inside ZeroMQ for ever.
        link.socket->setImmediate(true);
        link.socket->setOutboxLimit(kLinkOutbox);
        link.socket->setDropWarnings(false);
        QString connectError;
        if (!link.socket->connectTo(endpoint, &connectError)) {
            *error = QStringLiteral("cluster.peers %1: %2").arg(endpoint, connectError);
            return false;
        }
        m_links.push_back(link);
    }
    qCInfo(lcCluster).noquote() << "cluster node" << QString::fromLatin1(m_name) << "incarnation"
                                << QString::fromLatin1(m_incarnation) << "bound at" << m_pull->lastEndpoint() << "with"
                                << m_links.size() << "peer(s)";
    if (withTimer)
        m_timer.start();
    tick();
    return true;
}

QString Cluster::boundEndpoint() const { return m_pull ? m_pull->lastEndpoint() : QString(); }

QList<Cluster::PeerStatus> Cluster::peers() const
{
    QList<PeerStatus> list;
    for (const Link &link : m_links) {
        const auto peer = m_peers.constFind(link.node);
        list.append({link.endpoint, link.node, peer != m_peers.cend() && peer->up});
    }
    return list;
}

qsizetype Cluster::knownSessionsOf(const QByteArray &node) const
{
    qsizetype count = 0;
    const auto peer = m_peers.constFind(node);
    if (peer == m_peers.cend())
        return 0;
    for (const auto &ids : peer->sessions)
        count += ids.size();
    return count;
}

Cluster::Link *Cluster::linkTo(const QByteArray &node)
{
    for (Link &link : m_links) {
        if (link.node == node)
            return &link;
    }
    return nullptr;
}

bool Cluster::sendTo(Link *link, const QByteArray &kind, const QList<QByteArray> &body)
{
    ZmqMessage message;
    message.reserve(kHeaderFrames + body.size());
    message << kVersion << kind << m_name << m_incarnation;
    message += body;
    return link->socket->send(message);
}

bool Cluster::forward(Link *link, const QByteArray &kind, const QList<QByteArray> &body, quint64 count)
{
    if (sendTo(link, kind, body)) {
        m_counters->add(Counter::ClusterForwarded, QString::fromLatin1(link->node));
        return true;
    }
    // The link's outbox is full: the peer takes nothing for a long while.
    drop(link->node, count, "message", "the link to that node is full");
    return false;
}

void Cluster::shutdown(int lingerMs)
{
    // The peers hear of the sessions just closed, or they would send their
    // disconnects a second time once this node is gone.
    flushDeltas();
    for (Link &link : m_links)
        link.socket->setLinger(lingerMs);
}

void Cluster::sendToLivePeers(const QByteArray &kind, const QList<QByteArray> &body)
{
    for (Link &link : m_links) {
        const auto peer = m_peers.constFind(link.node);
        if (peer != m_peers.cend() && peer->up)
            sendTo(&link, kind, body);
    }
}

// ---- backend messages for other nodes

QString Cluster::labelFor(const QByteArray &node) const
{
    // Only names heard from become labels: ids are the backends' to choose.
    return m_peers.contains(node) ? QString::fromLatin1(node) : kUnknownPeer;
}

void Cluster::drop(const QByteArray &node, quint64 count, const char *what, const char *why)
{
    const QString label = labelFor(node);
    m_counters->add(Counter::ClusterDropped, label, count);
    const qint64 at = now();
    const auto last = m_lastDropLog.constFind(label);
    if (last != m_lastDropLog.cend() && at - last.value() < kDropLogIntervalMs)
        return;
    m_lastDropLog.insert(label, at);
    const quint64 total = m_counters->labelled(Counter::ClusterDropped).value(label);
    qCWarning(lcCluster).noquote() << QStringLiteral("backend %1 for a session of node %2 dropped: %3 (%4 dropped for "
                                                     "it in all)")
                                          .arg(QLatin1String(what), QString::fromLatin1(node.left(32)),
                                               QLatin1String(why))
                                          .arg(total);
}

bool Cluster::routeToHolder(const QByteArray &sessionId, const QByteArray &kind, const char *what,
                            const QList<QByteArray> &body)
{
    const QByteArray node = Node::nodeOf(sessionId);
    if (node == m_name)
        return false;
    Link *link = linkTo(node);
    const auto peer = m_peers.constFind(node);
    if (!link || peer == m_peers.cend() || !peer->up) {
        drop(node, 1, what, kDown);
        return true;
    }
    forward(link, kind, body, 1);
    return true;
}

bool Cluster::routeMessage(Service *service, const QByteArray &sessionId, const QByteArray &data)
{
    return routeToHolder(sessionId, kMessage, "message", {service->prefix().toUtf8(), sessionId, data});
}

bool Cluster::routeDisconnect(Service *service, const QByteArray &sessionId, const QByteArray &data)
{
    return routeToHolder(sessionId, kDisconnect, "disconnect", {service->prefix().toUtf8(), sessionId, data});
}

bool Cluster::routeAccept(Service *service, const QByteArray &sessionId)
{
    return routeToHolder(sessionId, kAccept, "accept", {service->prefix().toUtf8(), sessionId});
}

QList<QByteArray> Cluster::routeBroadcast(Service *service, const QList<QByteArray> &sessionIds, const QByteArray &data)
{
    const QByteArray prefix = service->prefix().toUtf8();
    if (sessionIds.isEmpty()) {
        for (Link &link : m_links) {
            const auto peer = m_peers.constFind(link.node);
            if (peer == m_peers.cend() || !peer->up)
                continue;
            forward(&link, kBroadcast, {prefix, QByteArray(), data}, 1);
        }
        return {};
    }
    // One forward per node, its ids in the order given.
    QList<QByteArray> mine;
    QList<QByteArray> order;
    QHash<QByteArray, QList<QByteArray>> byNode;
    for (const QByteArray &id : sessionIds) {
        const QByteArray node = Node::nodeOf(id);
        if (node == m_name) {
            mine.append(id);
            continue;
        }
        if (!byNode.contains(node))
            order.append(node);
        byNode[node].append(id);
    }
    for (const QByteArray &node : std::as_const(order)) {
        const QList<QByteArray> &ids = byNode[node];
        Link *link = linkTo(node);
        const auto peer = m_peers.constFind(node);
        if (!link || peer == m_peers.cend() || !peer->up) {
            drop(node, quint64(ids.size()), "broadcast", kDown);
            continue;
        }
        forward(link, kBroadcast, {prefix, joinIds(ids), data}, quint64(ids.size()));
    }
    return mine;
}

// ---- this node's sessions, told to the peers

void Cluster::sessionConnected(Service *service, const QByteArray &sessionId)
{
    m_pendingOpen[service->prefix()].append(sessionId);
    scheduleDeltaFlush();
}

void Cluster::sessionDisconnected(Service *service, const QByteArray &sessionId)
{
    QList<QByteArray> &opened = m_pendingOpen[service->prefix()];
    // Opened and closed before the peers heard of it: they never need to.
    if (!opened.removeOne(sessionId))
        m_pendingClose[service->prefix()].append(sessionId);
    scheduleDeltaFlush();
}

void Cluster::scheduleDeltaFlush()
{
    if (m_flushScheduled)
        return;
    m_flushScheduled = true;
    // After the current burst: one message per service for all of it.
    QMetaObject::invokeMethod(this, &Cluster::flushDeltas, Qt::QueuedConnection);
}

void Cluster::flushDeltas()
{
    m_flushScheduled = false;
    for (auto it = m_pendingOpen.cbegin(); it != m_pendingOpen.cend(); ++it) {
        if (!it.value().isEmpty())
            sendToLivePeers(kOpen, {it.key().toUtf8(), joinIds(it.value())});
    }
    for (auto it = m_pendingClose.cbegin(); it != m_pendingClose.cend(); ++it) {
        if (!it.value().isEmpty())
            sendToLivePeers(kClose, {it.key().toUtf8(), joinIds(it.value())});
    }
    m_pendingOpen.clear();
    m_pendingClose.clear();
}

void Cluster::sendSync(Link *link)
{
    for (Service *service : std::as_const(m_services))
        sendTo(link, kSync, {service->prefix().toUtf8(), joinIds(service->openSessionIds())});
}

// ---- peers

void Cluster::tick()
{
    const QByteArray aliases = joinIds(QList<QByteArray>(m_aliases.cbegin(), m_aliases.cend()));
    for (Link &link : m_links) {
        // The endpoint this link uses tells the peer how we reach it.
        sendTo(&link, kHeartbeat, {link.endpoint.toUtf8(), aliases});
    }
    const qint64 at = now();
    for (auto it = m_peers.begin(); it != m_peers.end(); ++it) {
        if (it->up && at - it->lastSeen > m_config.deadAfterMs)
            peerDied(it.key(), it.value(), "no heartbeat");
    }
    evaluateClaims();
}

Cluster::Peer &Cluster::notePeer(const QByteArray &node, const QByteArray &incarnation)
{
    Peer &peer = m_peers[node];
    if (!peer.incarnation.isEmpty() && peer.incarnation != incarnation) {
        // The same name, a new process: the old one is dead.
        if (peer.up)
            peerDied(node, peer, "restarted");
        peer.sessions.clear();
    }
    peer.incarnation = incarnation;
    peer.lastSeen = now();
    if (!peer.up) {
        peer.up = true;
        qCInfo(lcCluster).noquote() << "peer" << QString::fromLatin1(node) << "incarnation"
                                    << QString::fromLatin1(incarnation) << "is up";
        // It may be new: it learns our sessions from the start.
        if (Link *link = linkTo(node))
            sendSync(link);
        Q_EMIT peerChanged(node, true);
    }
    return peer;
}

void Cluster::peerDied(const QByteArray &node, Peer &peer, const char *why)
{
    peer.up = false;
    qsizetype count = 0;
    for (const auto &ids : std::as_const(peer.sessions))
        count += ids.size();
    qCWarning(lcCluster).noquote() << QStringLiteral("peer %1 incarnation %2 is down (%3): %4 session(s) of it to "
                                                     "disconnect")
                                          .arg(QString::fromLatin1(node), QString::fromLatin1(peer.incarnation),
                                               QLatin1String(why))
                                          .arg(count);
    Claim claim;
    claim.node = node;
    claim.incarnation = peer.incarnation;
    claim.sessions = peer.sessions;
    peer.sessions.clear();
    const QByteArray claimant = m_claimants.value(node + ' ' + peer.incarnation);
    if (!claimant.isEmpty() && claimant < m_name) {
        // Another node saw it die first and spoke for it.
        qCInfo(lcCluster).noquote() << "peer" << QString::fromLatin1(claimant) << "disconnects the sessions of"
                                    << QString::fromLatin1(node);
    } else if (count > 0) {
        m_claims.push_back(claim);
    }
    Q_EMIT peerChanged(node, false);
}

bool Cluster::isLowestLive() const
{
    for (auto it = m_peers.cbegin(); it != m_peers.cend(); ++it) {
        if (it->up && it.key() < m_name)
            return false;
    }
    return true;
}

void Cluster::evaluateClaims()
{
    const qint64 at = now();
    for (Claim &claim : m_claims) {
        if (claim.settled)
            continue;
        if (!claim.mine) {
            // Lowest among the live ones (in this node's view): claim it, and
            // wait for a lower claimant the others may see.
            if (!isLowestLive())
                continue;
            claim.mine = true;
            claim.decideAt = at + m_config.claimGraceMs;
            sendToLivePeers(kClaim, {claim.node, claim.incarnation});
            qCInfo(lcCluster).noquote() << "claimed the sessions of dead peer" << QString::fromLatin1(claim.node);
        }
        if (at >= claim.decideAt)
            settleClaim(claim);
    }
    m_claims.erase(std::remove_if(m_claims.begin(), m_claims.end(), [](const Claim &c) { return c.settled; }),
                   m_claims.end());
}

void Cluster::settleClaim(Claim &claim)
{
    claim.settled = true;
    qsizetype count = 0;
    for (auto it = claim.sessions.cbegin(); it != claim.sessions.cend(); ++it) {
        Service *service = serviceFor(it.key());
        if (!service)
            continue;
        QList<QByteArray> ids(it.value().cbegin(), it.value().cend());
        std::sort(ids.begin(), ids.end());
        for (const QByteArray &id : std::as_const(ids))
            service->sendDisconnectForLostSession(id);
        count += ids.size();
    }
    m_counters->add(Counter::ClusterDeadDisconnects, QString::fromLatin1(claim.node), quint64(count));
    qCWarning(lcCluster).noquote() << "sent backends" << count << "disconnect(s) for the sessions of dead peer"
                                   << QString::fromLatin1(claim.node);
    Q_EMIT deadSessionsDisconnected(claim.node, count);
}

void Cluster::onPeerMessage(const ZmqMessage &message)
{
    if (message.size() < kHeaderFrames || message.at(0) != kVersion) {
        qCWarning(lcCluster).noquote() << "cluster message of" << message.size()
                                       << "frame(s) not understood, dropped (another version?)";
        return;
    }
    const QByteArray &kind = message.at(1);
    const QByteArray &node = message.at(2);
    const QByteArray &incarnation = message.at(3);
    if (node == m_name) {
        if (incarnation != m_incarnation)
            qCWarning(lcCluster).noquote() << "another node calls itself" << QString::fromLatin1(node) << "too";
        return;
    }
    const QList<QByteArray> body = message.mid(kHeaderFrames);
    Peer &peer = notePeer(node, incarnation);

    if (kind == kHeartbeat && body.size() == 2) {
        m_aliases.insert(body.at(0));
        // Which of our links leads to it: the one whose endpoint it is reached by.
        const QList<QByteArray> itsNames = splitIds(body.at(1));
        for (Link &link : m_links) {
            if (link.node != node && itsNames.contains(link.endpoint.toUtf8())) {
                const bool fresh = link.node.isEmpty();
                link.node = node;
                if (fresh) {
                    // From now on its sessions' messages can be forwarded.
                    qCInfo(lcCluster).noquote() << "peer" << QString::fromLatin1(node) << "reached at" << link.endpoint;
                    sendSync(&link);
                }
            }
        }
        return;
    }
    const QString prefix = body.isEmpty() ? QString() : QString::fromUtf8(body.at(0));
    if ((kind == kSync || kind == kOpen || kind == kClose) && body.size() == 2) {
        QSet<QByteArray> &ids = peer.sessions[prefix];
        if (kind == kSync)
            ids.clear();
        for (const QByteArray &id : splitIds(body.at(1))) {
            if (kind == kClose)
                ids.remove(id);
            else
                ids.insert(id);
        }
        return;
    }
    if (kind == kClaim && body.size() == 2) {
        // Kept for a death this node has not noticed yet; the lowest claimant.
        QByteArray &claimant = m_claimants[body.at(0) + ' ' + body.at(1)];
        if (claimant.isEmpty() || node < claimant)
            claimant = node;
        for (Claim &claim : m_claims) {
            if (claim.node != body.at(0) || claim.incarnation != body.at(1))
                continue;
            // The lower name wins; a higher claimant will stand down for us.
            if (!claim.mine || node < m_name) {
                claim.settled = true;
                qCInfo(lcCluster).noquote() << "peer" << QString::fromLatin1(node) << "disconnects the sessions of"
                                            << QString::fromLatin1(claim.node);
            }
        }
        m_claims.erase(std::remove_if(m_claims.begin(), m_claims.end(), [](const Claim &c) { return c.settled; }),
                       m_claims.end());
        return;
    }
    Service *service = serviceFor(prefix);
    if (!service) {
        qCWarning(lcCluster).noquote() << "peer" << QString::fromLatin1(node) << "sent" << QString::fromLatin1(kind)
                                       << "for service" << prefix << "which this node does not have: dropped";
        return;
    }
    if (kind == kMessage && body.size() == 3) {
        m_counters->add(Counter::ClusterReceived, QString::fromLatin1(node));
        service->messageFromPeer(body.at(1), body.at(2));
    } else if (kind == kDisconnect && (body.size() == 2 || body.size() == 3)) {
        m_counters->add(Counter::ClusterReceived, QString::fromLatin1(node));
        service->disconnectFromPeer(body.at(1), body.size() == 3 ? body.at(2) : QByteArray());
    } else if (kind == kAccept && body.size() == 2) {
        m_counters->add(Counter::ClusterReceived, QString::fromLatin1(node));
        service->acceptFromPeer(body.at(1));
    } else if (kind == kBroadcast && body.size() == 3) {
        m_counters->add(Counter::ClusterReceived, QString::fromLatin1(node));
        service->broadcastFromPeer(splitIds(body.at(1)), body.at(2));
    } else {
        qCWarning(lcCluster).noquote() << "cluster message" << QString::fromLatin1(kind.left(16)) << "of"
                                       << message.size() << "frame(s) not understood, dropped";
    }
}

} // namespace SockJsProxy
