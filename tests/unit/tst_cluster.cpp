// Cluster: routing, forwarding, liveness, claims and the disconnects of a
// dead node's sessions. Nodes are Cluster objects in this process over
// inproc:// endpoints, each with its own Service and TestBackend; time is a
// fake clock and heartbeats go out when the test calls tick().

#include "cluster/cluster.h"
#include "sockjs/service.h"
#include "testbackend.h"
#include "zmq/zmqbridge.h"

#include <QSignalSpy>
#include <QTest>

#include <memory>

using namespace SockJsProxy;
using namespace SockJsProxy::Test;

namespace {

constexpr int kWaitMs = 5000;
constexpr int kHeartbeatMs = 100;
constexpr int kDeadAfterMs = 500;
constexpr int kGraceMs = 200;

int g_run = 0;

QString endpoint(const QByteArray &node, const char *what)
{
    return QStringLiteral("inproc://tst-cluster-%1-%2-%3")
        .arg(g_run)
        .arg(QString::fromLatin1(node), QLatin1String(what));
}

// One node: its service, the backend of that service, and its Cluster.
struct TestNode
{
    // bindAs: the name of the endpoint it binds for its peers (its own by default).
    TestNode(const QByteArray &name, const QByteArray &incarnation, const QList<QByteArray> &all, qint64 *clock,
             const QByteArray &bindAs = QByteArray())
    {
        ServiceConfig serviceConfig;
        serviceConfig.prefix = QStringLiteral("/echo");
        serviceConfig.zmqIn = endpoint(name + incarnation, "in");
        serviceConfig.zmqOut = endpoint(name + incarnation, "out");
        service = std::make_unique<Service>(serviceConfig);
        QString error;
        started = service->start(&error);
        backend = std::make_unique<TestBackend>(serviceConfig.zmqIn, serviceConfig.zmqOut, TestBackend::Mode::Record);

        ClusterConfig config;
        config.enabled = true;
        config.node = QString::fromLatin1(name);
        config.bind = endpoint(bindAs.isEmpty() ? name : bindAs, "cluster");
        for (const QByteArray &other : all)
            config.peers.append(endpoint(other, "cluster"));
        config.heartbeatMs = kHeartbeatMs;
        config.deadAfterMs = kDeadAfterMs;
        config.claimGraceMs = kGraceMs;
        cluster = std::make_unique<Cluster>(config, name, incarnation, &counters);
        cluster->setClock([clock] { return *clock; });
        cluster->addService(service.get());
        started = started && cluster->start(&error, false);
        if (!started)
            qWarning("TestNode %s: %s", name.constData(), qPrintable(error));
    }
    ~TestNode() { cluster.reset(); }

    Counters counters;
    std::unique_ptr<Service> service;
    std::unique_ptr<TestBackend> backend;
    std::unique_ptr<Cluster> cluster;
    bool started = false;
};

quint64 labelled(const Counters &counters, Counter id, const char *peer)
{
    return counters.labelled(id).value(QString::fromLatin1(peer));
}

} // namespace

class tst_Cluster : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void peersFindEachOther();
    void forwardsToTheNodeOfTheId();
    void forwardedNeverForwardedAgain();
    void dropsForDownAndUnknownNodes();
    void broadcastOnePerNode();
    void deadNodeDisconnectedOnceByLowest();
    void newIncarnationIsADeadNode();
    void closedSessionsNotDisconnectedAgain();

private:
    // Nodes a, b, c (or the first count), all peers of each other.
    void startNodes(int count);
    // A heartbeat round at the current fake time, then the messages handled.
    void tickAll();
    void advance(qint64 ms);
    TestNode *node(const QByteArray &name);

    qint64 m_clock = 1000;
    QList<QByteArray> m_names;
    std::map<QByteArray, std::unique_ptr<TestNode>> m_nodes;
};

void tst_Cluster::init()
{
    ++g_run;
    m_clock = 1000;
}

void tst_Cluster::cleanup()
{
    m_nodes.clear();
    m_names.clear();
}

TestNode *tst_Cluster::node(const QByteArray &name) { return m_nodes.at(name).get(); }

void tst_Cluster::startNodes(int count)
{
    for (int i = 0; i < count; ++i)
        m_names.append(QByteArray(1, char('a' + i)));
    for (const QByteArray &name : std::as_const(m_names)) {
        m_nodes[name] = std::make_unique<TestNode>(name, name + "inc1", m_names, &m_clock);
        QVERIFY(node(name)->started);
    }
    // Heartbeats both ways: every node sees every other, and knows its link.
    for (int round = 0; round < 3; ++round)
        tickAll();
    for (const QByteArray &name : std::as_const(m_names)) {
        QTRY_VERIFY_WITH_TIMEOUT(
            [&] {
                for (const Cluster::PeerStatus &peer : node(name)->cluster->peers()) {
                    if (!peer.up || peer.node.isEmpty())
                        return false;
                }
                return true;
            }(),
            kWaitMs);
    }
}

void tst_Cluster::tickAll()
{
    for (auto &entry : m_nodes)
        entry.second->cluster->tick();
    // inproc delivers on the next turns of the event loop.
    for (int i = 0; i < 5; ++i)
        QCoreApplication::processEvents();
}

void tst_Cluster::advance(qint64 ms) { m_clock += ms; }

void tst_Cluster::peersFindEachOther()
{
    startNodes(3);
    const QList<Cluster::PeerStatus> peers = node("a")->cluster->peers();
    QCOMPARE(peers.size(), 2); // its own endpoint skipped
    QCOMPARE(peers.at(0).node, QByteArray("b"));
    QCOMPARE(peers.at(1).node, QByteArray("c"));
    QVERIFY(peers.at(0).up && peers.at(1).up);
}

void tst_Cluster::forwardsToTheNodeOfTheId()
{
    startNodes(2);
    // A session of b, as its backend heard of it; a does not hold it.
    QVERIFY(node("a")->cluster->routeMessage(node("a")->service.get(), "b-inc1-1", "hello"));
    QCOMPARE(labelled(node("a")->counters, Counter::ClusterForwarded, "b"), quint64(1));
    QTRY_COMPARE_WITH_TIMEOUT(labelled(node("b")->counters, Counter::ClusterReceived, "a"), quint64(1), kWaitMs);
    // b does not hold it either: unknown there, as from a backend.
    QTRY_COMPARE_WITH_TIMEOUT(node("b")->service->counters()[Counter::UnknownSessionFromBackend], quint64(1), kWaitMs);
    // Its own ids are not the router's.
    QVERIFY(!node("a")->cluster->routeMessage(node("a")->service.get(), "a-inc1-9", "x"));
    QVERIFY(!node("a")->cluster->routeDisconnect(node("a")->service.get(), "a-inc1-9", QByteArray()));
    QVERIFY(node("a")->cluster->routeDisconnect(node("a")->service.get(), "b-inc1-1", QByteArray()));
    QCOMPARE(labelled(node("a")->counters, Counter::ClusterForwarded, "b"), quint64(2));
    QTRY_COMPARE_WITH_TIMEOUT(labelled(node("b")->counters, Counter::ClusterReceived, "a"), quint64(2), kWaitMs);
}

void tst_Cluster::forwardedNeverForwardedAgain()
{
    startNodes(3);
    // a forwards a message for "c-..." to c; c does not hold the session and
    // does not send it on (not even back to a, nor to b).
    QVERIFY(node("a")->cluster->routeMessage(node("a")->service.get(), "c-inc1-5", "once"));
    QTRY_COMPARE_WITH_TIMEOUT(node("c")->service->counters()[Counter::UnknownSessionFromBackend], quint64(1), kWaitMs);
    tickAll();
    QCOMPARE(node("c")->counters[Counter::ClusterForwarded], quint64(0));
    QCOMPARE(node("b")->counters[Counter::ClusterReceived], quint64(0));
    QCOMPARE(node("a")->counters[Counter::ClusterReceived], quint64(0));
}

void tst_Cluster::dropsForDownAndUnknownNodes()
{
    startNodes(2);
    QVERIFY(node("a")->cluster->routeMessage(node("a")->service.get(), "zz-1", "x"));
    QCOMPARE(labelled(node("a")->counters, Counter::ClusterDropped, "unknown"), quint64(1));
    m_nodes.erase("b");
    advance(kDeadAfterMs + 1);
    tickAll();
    QVERIFY(!node("a")->cluster->peers().first().up);
    QVERIFY(node("a")->cluster->routeMessage(node("a")->service.get(), "b-inc1-1", "x"));
    QVERIFY(node("a")->cluster->routeDisconnect(node("a")->service.get(), "b-inc1-1", QByteArray()));
    QCOMPARE(labelled(node("a")->counters, Counter::ClusterDropped, "b"), quint64(2));
    QCOMPARE(node("a")->counters[Counter::ClusterDropped], quint64(3));
    QCOMPARE(node("a")->counters[Counter::ClusterForwarded], quint64(0));
}

void tst_Cluster::broadcastOnePerNode()
{
    startNodes(3);
    // Everybody: one copy per live peer.
    QVERIFY(node("a")->cluster->routeBroadcast(node("a")->service.get(), {}, "all").isEmpty());
    QCOMPARE(labelled(node("a")->counters, Counter::ClusterForwarded, "b"), quint64(1));
    QCOMPARE(labelled(node("a")->counters, Counter::ClusterForwarded, "c"), quint64(1));
    // Listed: grouped by node, one forward per node; a's own come back.
    const QList<QByteArray> mine = node("a")->cluster->routeBroadcast(
        node("a")->service.get(), {"b-inc1-1", "a-inc1-1", "c-inc1-1", "b-inc1-2", "b-inc1-3"}, "some");
    QCOMPARE(mine, QList<QByteArray>{"a-inc1-1"});
    QCOMPARE(labelled(node("a")->counters, Counter::ClusterForwarded, "b"), quint64(2));
    QCOMPARE(labelled(node("a")->counters, Counter::ClusterForwarded, "c"), quint64(2));
    // b holds none of its three: three unknown sessions there, nothing sent on.
    QTRY_COMPARE_WITH_TIMEOUT(node("b")->service->counters()[Counter::UnknownSessionFromBackend], quint64(3), kWaitMs);
    QTRY_COMPARE_WITH_TIMEOUT(node("c")->service->counters()[Counter::UnknownSessionFromBackend], quint64(1), kWaitMs);
    QCOMPARE(node("b")->counters[Counter::ClusterForwarded], quint64(0));
}

void tst_Cluster::deadNodeDisconnectedOnceByLowest()
{
    startNodes(3);
    // b tells the others of its sessions (as its Service would).
    node("b")->cluster->sessionConnected(node("b")->service.get(), "b-inc1-1");
    node("b")->cluster->sessionConnected(node("b")->service.get(), "b-inc1-2");
    QTRY_COMPARE_WITH_TIMEOUT(node("a")->cluster->knownSessionsOf("b"), 2, kWaitMs);
    QTRY_COMPARE_WITH_TIMEOUT(node("c")->cluster->knownSessionsOf("b"), 2, kWaitMs);

    m_nodes.erase("b"); // gone without a word
    advance(kDeadAfterMs - 1);
    tickAll();
    QVERIFY(node("a")->cluster->peers().at(0).up); // not yet
    advance(2);
    QSignalSpy disconnectedA(node("a")->cluster.get(), &Cluster::deadSessionsDisconnected);
    QSignalSpy disconnectedC(node("c")->cluster.get(), &Cluster::deadSessionsDisconnected);
    tickAll(); // both see b dead; a (lowest) claims, c stands down
    QVERIFY(!node("a")->cluster->peers().at(0).up);
    QCOMPARE(disconnectedA.size(), 0); // the grace
    advance(kGraceMs);
    tickAll();
    QCOMPARE(disconnectedA.size(), 1);
    QCOMPARE(disconnectedA.first().at(1).toLongLong(), 2);
    QTRY_COMPARE_WITH_TIMEOUT(node("a")->backend->sessionIds("disconnect"), (QList<QByteArray>{"b-inc1-1", "b-inc1-2"}),
                              kWaitMs);
    QCOMPARE(labelled(node("a")->counters, Counter::ClusterDeadDisconnects, "b"), quint64(2));
    // Later rounds send nothing more, from anybody.
    for (int i = 0; i < 5; ++i) {
        advance(kDeadAfterMs);
        tickAll();
    }
    QCOMPARE(disconnectedA.size(), 1);
    QCOMPARE(disconnectedC.size(), 0);
    QCOMPARE(node("c")->backend->sessionIds("disconnect").size(), 0);
    QCOMPARE(node("a")->backend->sessionIds("disconnect").size(), 2);
}

void tst_Cluster::newIncarnationIsADeadNode()
{
    startNodes(2);
    node("b")->cluster->sessionConnected(node("b")->service.get(), "b-inc1-7");
    QTRY_COMPARE_WITH_TIMEOUT(node("a")->cluster->knownSessionsOf("b"), 1, kWaitMs);
    // b restarts at once under the same name: no heartbeat is ever missed.
    m_nodes.erase("b");
    // (It binds elsewhere: ZeroMQ frees an inproc:// name some time after
    // its socket closed. a only needs to hear from it.)
    m_nodes["b"] = std::make_unique<TestNode>("b", "inc2", m_names, &m_clock, "b2");
    QVERIFY(node("b")->started);
    QSignalSpy disconnected(node("a")->cluster.get(), &Cluster::deadSessionsDisconnected);
    tickAll();
    tickAll();
    advance(kGraceMs);
    tickAll();
    QCOMPARE(disconnected.size(), 1);
    QTRY_COMPARE_WITH_TIMEOUT(node("a")->backend->sessionIds("disconnect"), QList<QByteArray>{"b-inc1-7"}, kWaitMs);
    QVERIFY(node("a")->cluster->peers().at(0).up); // the new b
    QCOMPARE(node("a")->cluster->knownSessionsOf("b"), 0);
}

void tst_Cluster::closedSessionsNotDisconnectedAgain()
{
    startNodes(2);
    node("b")->cluster->sessionConnected(node("b")->service.get(), "b-inc1-1");
    node("b")->cluster->sessionConnected(node("b")->service.get(), "b-inc1-2");
    QTRY_COMPARE_WITH_TIMEOUT(node("a")->cluster->knownSessionsOf("b"), 2, kWaitMs);
    node("b")->cluster->sessionDisconnected(node("b")->service.get(), "b-inc1-1");
    QTRY_COMPARE_WITH_TIMEOUT(node("a")->cluster->knownSessionsOf("b"), 1, kWaitMs);
    m_nodes.erase("b");
    advance(kDeadAfterMs + 1);
    tickAll();
    advance(kGraceMs);
    tickAll();
    QTRY_COMPARE_WITH_TIMEOUT(node("a")->backend->sessionIds("disconnect"), QList<QByteArray>{"b-inc1-2"}, kWaitMs);
}

QTEST_GUILESS_MAIN(tst_Cluster)
#include "tst_cluster.moc"
