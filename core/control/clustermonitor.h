#pragma once

#include "metrics/monitorsource.h"

#include <QBasicTimer>
#include <QHash>
#include <QList>
#include <QSet>

#include <memory>

namespace SockJsProxy {

class RemoteMonitor;

// A MonitorSource over several proxies at once, typically the nodes of a
// cluster (README "Several proxies"): one RemoteMonitor per control
// endpoint, owned here, each attaching, retrying and giving up on a refused
// token (401) on its own.
//
// Sessions: those of every node, each with SessionInfo::node set to the
// name of the node that holds it (the cluster node name its stats report,
// or its endpoint until they do or when it is no cluster node). Session ids
// are taken to be unique across the nodes, as the cluster itself takes them
// (it routes a backend's messages by session id alone). A node going away
// takes its sessions with it (removed, as RemoteMonitor does); the others
// stay.
//
// Stats: the sum over the connected nodes (services matched by prefix;
// sessions, counters, rates, backend queues and drops added up), emitted
// once every connected node has sent its stats since the last emission, or
// 1.5 s after the first did, so the chart gets one sample per interval. With
// a single node, its stats and signals pass through unchanged.
//
// Commands go to the node that holds the session (disconnectSessions,
// sendToSession, setInspected, requestHistory; ids of no known node are
// dropped), or to every node (clearCounters, setCapture, also sent to nodes
// added later). connectionChanged says whether any node is attached;
// nodeConnectionChanged says it per node.
class ClusterMonitor : public MonitorSource
{
    Q_OBJECT

public:
    static constexpr int kCoalesceMs = 1500;

    explicit ClusterMonitor(QObject *parent = nullptr);
    ~ClusterMonitor() override;

    // Attaches to one more node ("HOST:PORT" or "PORT"); false (and nothing
    // done) when that endpoint is watched already.
    bool addNode(const QString &endpoint, const QByteArray &token);
    // Takes an attached RemoteMonitor (connected or not) as one more node;
    // its sessions and stats so far are taken over. False (and it is
    // deleted) when its endpoint is watched already.
    bool adoptNode(std::unique_ptr<RemoteMonitor> remote);
    // Stops watching a node: its sessions go, the totals no longer count it.
    void removeNode(const QString &endpoint);

    int nodeCount() const { return int(m_nodes.size()); }
    RemoteMonitor *node(int index) const { return m_nodes.at(index); }
    RemoteMonitor *nodeAt(const QString &endpoint) const;
    // The cluster node name a node reports, else its endpoint.
    QString nodeName(const RemoteMonitor *node) const;
    // The node holding a session (nullptr: none known).
    RemoteMonitor *nodeOf(const QByteArray &sessionId) const { return m_owner.value(sessionId); }

    // Any node attached.
    bool isConnected() const;
    // A node was refused its token and waits for reconnect() (or a new attachment).
    bool isUnauthorized() const;
    // A node not attached plans another attempt; the soonest, in ms at most.
    bool isRetryPending() const;
    int currentRetryDelayMs() const;
    // Every node not attached tries again now.
    void reconnect();

    QList<SessionInfo> sessions() const override;
    MonitorStats stats() const override { return m_stats; }
    void disconnectSessions(const QList<QByteArray> &ids) override;
    void sendToSession(const QByteArray &id, const QByteArray &message) override;
    void clearCounters() override;
    void setInspected(const QByteArray &id, bool inspected) override;
    void setCapture(int messagesPerSession) override;
    void requestHistory(const QByteArray &id) override;

    // The sum of the given nodes' stats (services by prefix). One node's
    // stats come back as they are.
    static MonitorStats sum(const QList<MonitorStats> &nodes);

Q_SIGNALS:
    // A node attached or not (detail as RemoteMonitor::connectionChanged says it).
    void nodeConnectionChanged(const QString &endpoint, bool connected, const QString &detail);
    // The set of nodes changed (addNode, adoptNode, removeNode).
    void nodesChanged();

protected:
    void timerEvent(QTimerEvent *event) override;

private:
    bool take(RemoteMonitor *remote);
    void onNodeSessions(RemoteMonitor *remote, const QList<SessionInfo> &upserted, const QList<QByteArray> &removed);
    void onNodeStats(RemoteMonitor *remote);
    void onNodeConnection(RemoteMonitor *remote, bool connected, const QString &detail);
    void emitStats();
    SessionInfo labelled(SessionInfo info, const QString &name) const;

    QList<RemoteMonitor *> m_nodes; // children
    QHash<QByteArray, RemoteMonitor *> m_owner;
    QHash<const RemoteMonitor *, QString> m_labels; // the name its sessions were last given
    QSet<const RemoteMonitor *> m_fresh;            // sent stats since the last emission
    QBasicTimer m_coalesce;
    MonitorStats m_stats;
    int m_capture = 0;
    bool m_anyConnected = false;
};

} // namespace SockJsProxy
