#pragma once

#include "base/counters.h"
#include "config/config.h"
#include "sockjs/backendrouter.h"
#include "zmq/zmqsocket.h"

#include <QByteArray>
#include <QElapsedTimer>
#include <QHash>
#include <QList>
#include <QObject>
#include <QSet>
#include <QTimer>

#include <functional>
#include <memory>
#include <vector>

namespace SockJsProxy {

class Service;

// One node of a cluster of proxies (README "Several proxies"): the
// BackendRouter of every service of the process.
//
// Transport: a PULL bound at cluster.bind takes what peers send; one PUSH
// connected to each endpoint of cluster.peers (the node's own bind skipped)
// sends to that peer. Every internal message starts with the frame
// "sockjsproxy-cluster/1", then a kind, the sender's node name and its
// incarnation (a random tag per process: a node that comes back under the
// same name is a new node):
//   hb    [bind, aliases]  every heartbeat_ms to every peer; "aliases" are
//                          the endpoints the senders of heartbeats received
//                          used for this node (space-separated), which is
//                          how a peer learns which of its PUSH sockets
//                          leads to which node, whatever bind says (*)
//   sync  [prefix, ids]    every open session of a service, to a peer that
//                          appeared (came up, new incarnation)
//   open  [prefix, ids]    sessions opened since the last open/close
//   close [prefix, ids]    sessions closed since
//   msg   [prefix, id, data]      a backend "message" for the peer's session
//   disc  [prefix, id, data]      a backend "disconnect" with its close data
//                                 (empty or a JSON close code); a disc of
//                                 two frames has empty data
//   acc   [prefix, id]            a backend "accept" (require_accept)
//   bcast [prefix, ids, data]     a backend "broadcast"; ids empty: all
//   claim [node, incarnation]     the sender will send the disconnects of
//                                 that dead incarnation's sessions
// Forwarded messages are handled by the receiver only, never sent on.
//
// Liveness: a peer not heard from for dead_after_ms is dead; so is an
// incarnation replaced by a new one. For a dead incarnation exactly one
// live node sends the backends a "disconnect" for every session it held:
// the one with the lowest name among the live ones in its view, which first
// sends a claim to the others and waits claim_grace_ms; a claim from a
// node with a lower name makes it stand down. Disconnects are sent within
// dead_after_ms + claim_grace_ms + 2 x heartbeat_ms of the last heartbeat.
//
// Counters (per peer, by node name; "unknown" for a name never heard of)
// move in the Counters given to the constructor (the Server's). Time comes
// from a clock that tests may replace, and the timer only calls tick().
class Cluster : public QObject, public BackendRouter
{
    Q_OBJECT

public:
    using Clock = std::function<qint64()>; // milliseconds, monotonic

    // name: this node's name (Node::localName()); incarnation: its tag.
    Cluster(const ClusterConfig &config, const QByteArray &name, const QByteArray &incarnation, Counters *counters,
            QObject *parent = nullptr);
    ~Cluster() override;

    // Routes for service (a router is set on it); before start().
    void addService(Service *service);
    // Binds, connects to the peers, starts the heartbeat timer (unless
    // withTimer is false: then the caller calls tick()).
    bool start(QString *error, bool withTimer = true);
    void setClock(Clock clock) { m_clock = std::move(clock); }
    // Heartbeats, liveness, claims. Called by the timer every heartbeat_ms.
    void tick();
    // The proxy stops: sends what the peers must know of the sessions just
    // closed, and lets closing the links spend up to lingerMs delivering it.
    void shutdown(int lingerMs);

    QByteArray name() const { return m_name; }
    QString boundEndpoint() const;
    struct PeerStatus
    {
        QString endpoint;
        QByteArray node; // empty until heard from
        bool up = false;
    };
    QList<PeerStatus> peers() const;
    // The sessions of node a peer told us about, per service prefix.
    qsizetype knownSessionsOf(const QByteArray &node) const;

    // BackendRouter
    bool routeMessage(Service *service, const QByteArray &sessionId, const QByteArray &data) override;
    bool routeDisconnect(Service *service, const QByteArray &sessionId, const QByteArray &data) override;
    bool routeAccept(Service *service, const QByteArray &sessionId) override;
    QList<QByteArray> routeBroadcast(Service *service, const QList<QByteArray> &sessionIds,
                                     const QByteArray &data) override;
    void sessionConnected(Service *service, const QByteArray &sessionId) override;
    void sessionDisconnected(Service *service, const QByteArray &sessionId) override;

Q_SIGNALS:
    // A peer came up or went down (dead).
    void peerChanged(const QByteArray &node, bool up);
    // This node sent the disconnects of a dead incarnation's sessions.
    void deadSessionsDisconnected(const QByteArray &node, qsizetype sessions);

private:
    struct Link // one PUSH per configured peer endpoint
    {
        QString endpoint;
        ZmqSocket *socket = nullptr;
        QByteArray node; // learned from the heartbeats
    };
    struct Peer // a node heard from
    {
        QByteArray incarnation;
        qint64 lastSeen = 0;
        bool up = false;
        QHash<QString, QSet<QByteArray>> sessions; // by service prefix
    };
    struct Claim // the sessions of a dead incarnation, waiting for their disconnects
    {
        QByteArray node;
        QByteArray incarnation;
        QHash<QString, QSet<QByteArray>> sessions;
        qint64 decideAt = 0; // mine: when the grace ends
        bool mine = false;   // this node claimed it
        bool settled = false;
    };

    qint64 now() const;
    Link *linkTo(const QByteArray &node);
    bool sendTo(Link *link, const QByteArray &kind, const QList<QByteArray> &body);
    // A backend message (count of them, for a listed broadcast) to the
    // peer of link: counted as forwarded, or as dropped when it cannot go.
    bool forward(Link *link, const QByteArray &kind, const QList<QByteArray> &body, quint64 count);
    void sendToLivePeers(const QByteArray &kind, const QList<QByteArray> &body);
    // A backend message for one session: false when this node holds it;
    // else sent to the node that does (or dropped, counted as what, when
    // that node cannot take it), and true.
    bool routeToHolder(const QByteArray &sessionId, const QByteArray &kind, const char *what,
                       const QList<QByteArray> &body);
    void onPeerMessage(const ZmqMessage &message);
    Peer &notePeer(const QByteArray &node, const QByteArray &incarnation);
    void peerDied(const QByteArray &node, Peer &peer, const char *why);
    void sendSync(Link *link);
    void flushDeltas();
    void scheduleDeltaFlush();
    void evaluateClaims();
    void settleClaim(Claim &claim);
    bool isLowestLive() const;
    // A backend message for a session of a peer that cannot take it.
    void drop(const QByteArray &node, quint64 count, const char *what, const char *why);
    QString labelFor(const QByteArray &node) const;
    Service *serviceFor(const QString &prefix) const;

    ClusterConfig m_config;
    QByteArray m_name;
    QByteArray m_incarnation;
    Counters *m_counters;
    Clock m_clock;
    QElapsedTimer m_elapsed;
    ZmqSocket *m_pull = nullptr;
    std::vector<Link> m_links;
    QHash<QByteArray, Peer> m_peers; // by node name
    QSet<QByteArray> m_aliases;      // the endpoints peers reach this node by
    QList<Service *> m_services;
    QHash<QString, QList<QByteArray>> m_pendingOpen; // by prefix
    QHash<QString, QList<QByteArray>> m_pendingClose;
    bool m_flushScheduled = false;
    std::vector<Claim> m_claims;
    QHash<QByteArray, QByteArray> m_claimants; // "node incarnation" -> the lowest node that claimed it
    QTimer m_timer;
    QHash<QString, qint64> m_lastDropLog; // by peer label: rate-limited warnings
};

} // namespace SockJsProxy
