// Several proxies sharing one pool of backends (README "Several proxies"):
// real sockjsproxy-cli nodes as child processes, and one echo backend in the
// test process connected to all of them the way ZeroMQ invites (its PULL to
// every node's "in", its PUSH to every node's "out"), knowing nothing of the
// cluster. Its replies are dealt round-robin over the nodes, so most reach a
// node that does not hold the session: the nodes forward them.

#include "httpclient.h"
#include "ports.h"
#include "processguard.h"
#include "testbackend.h"
#include "testcluster.h"
#include "testpaths.h"
#include "waituntil.h"
#include "websocketclient.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>
#include <memory>
#include <vector>

using namespace SockJsProxy;
using namespace SockJsProxy::Test;

namespace {

constexpr int kWaitMs = 15000;

} // namespace

class tst_ClusterNodes : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    // Every reply of a backend connected to every node reaches its client
    // exactly once, in order.
    void echoExactlyOnce();
    // A broadcast reaches every session on every node exactly once.
    void broadcastEveryNode();
    // A SIGKILLed node's sessions get one "disconnect" each, from one node.
    void deadNodeDisconnects();
    // A node stopped with SIGTERM disconnects its own; nobody repeats them.
    void stoppedNodeNotRepeated();
    // require_accept: an accept, and a disconnect's close code and reason,
    // that reach the node not holding the session work as if sent to its own.
    void acceptAndCloseDataForwarded();

private:
    // Starts count nodes (a, b, c, ...) that know each other, and the shared
    // backend; waits until every node sees every other. service: more keys
    // of the one service, /echo.
    bool startCluster(int count, const QJsonObject &serviceKeys = {});
    Child *nodeProcess(int i) const { return m_cluster->process(i); }
    const TestCluster::Node &nodeAt(int i) const { return m_cluster->node(i); }
    // Opens count WebSocket sessions, the i-th on node i % nodes with the
    // session id tag + i, and waits for the backend's connect of each.
    bool openClients(std::vector<std::unique_ptr<WebSocketClient>> &clients, int count, int nodes,
                     const QByteArray &tag);
    TestBackend *backend() const { return m_cluster->backend(); }

    QTemporaryDir m_dir;
    std::unique_ptr<ProcessGuard> m_guard;
    std::unique_ptr<TestCluster> m_cluster;
};

void tst_ClusterNodes::initTestCase()
{
    QVERIFY(m_dir.isValid());
    QVERIFY2(QFile::exists(cliPath()), qPrintable(cliPath()));
}

void tst_ClusterNodes::init() { m_guard = std::make_unique<ProcessGuard>(); }

void tst_ClusterNodes::cleanup()
{
    m_cluster.reset();
    m_guard.reset();
}

bool tst_ClusterNodes::startCluster(int count, const QJsonObject &serviceKeys)
{
    m_cluster = std::make_unique<TestCluster>(*m_guard, m_dir.path());
    return m_cluster->start(count, TestCluster::Control::FirstNode, serviceKeys);
}

bool tst_ClusterNodes::openClients(std::vector<std::unique_ptr<WebSocketClient>> &clients, int count, int nodes,
                                   const QByteArray &tag)
{
    const qsizetype before = backend()->sessionIds("connect").size();
    for (int i = 0; i < count; ++i) {
        auto client = std::make_unique<WebSocketClient>();
        if (!client->openSession(nodeAt(i % nodes).ports.http,
                                 "/echo/000/" + tag + QByteArray::number(i) + "/websocket"))
            return false;
        clients.push_back(std::move(client));
    }
    return waitUntil([&] { return backend()->sessionIds("connect").size() == before + count; }, kWaitMs);
}

void tst_ClusterNodes::echoExactlyOnce()
{
    QVERIFY(startCluster(2));
    constexpr int kClients = 20;
    constexpr int kMessages = 10;
    std::vector<std::unique_ptr<WebSocketClient>> clients;
    QVERIFY(openClients(clients, kClients, 2, "c"));
    // Session ids name their node.
    int onA = 0;
    for (const QByteArray &id : backend()->sessionIds("connect"))
        onA += id.startsWith("a-") ? 1 : 0;
    QCOMPARE(onA, kClients / 2);

    // In rounds: one message per client in flight. Replies that take
    // different paths (direct, or forwarded by a peer) are not ordered
    // among themselves (README: a backend that needs order routes by node).
    QStringList expected[kClients];
    for (int round = 0; round < kMessages; ++round) {
        for (int i = 0; i < kClients; ++i) {
            const QString text = QStringLiteral("c%1 m%2").arg(i).arg(round);
            clients.at(std::size_t(i))->send({text});
            expected[i].append(text);
        }
        for (int i = 0; i < kClients; ++i) {
            QVERIFY2(clients.at(std::size_t(i))->waitForMessages(round + 1, kWaitMs), qPrintable(QString::number(i)));
            QCOMPARE(clients.at(std::size_t(i))->messages(), expected[i]);
        }
    }
    QCOMPARE(backend()->eventsOfType("message").size(), kClients * kMessages);
    // Nothing more comes: a last message per client is its next one.
    for (int i = 0; i < kClients; ++i)
        clients.at(std::size_t(i))->send({QStringLiteral("last")});
    for (int i = 0; i < kClients; ++i) {
        QVERIFY(clients.at(std::size_t(i))->waitForMessages(kMessages + 1, kWaitMs));
        QCOMPARE(clients.at(std::size_t(i))->messages().size(), kMessages + 1);
        QCOMPARE(clients.at(std::size_t(i))->messages().last(), QStringLiteral("last"));
    }
    for (int i = 0; i < 2; ++i)
        QVERIFY(!nodeProcess(i)->hasLineContaining("unknown session"));

    // a's /metrics: b is up, and a forwarded to it (about half the replies
    // for b's sessions landed on a) and received from it.
    const HttpClient::Response metrics = HttpClient::request(nodeAt(0).controlPort, "GET", "/metrics");
    QCOMPARE(metrics.status, 200);
    QVERIFY(metrics.body.contains("\nsockjsproxy_cluster_peer_up{peer=\"b\"} 1\n"));
    QVERIFY(metrics.body.contains("\nsockjsproxy_cluster_forwarded_total{peer=\"b\"} "));
    QVERIFY(metrics.body.contains("\nsockjsproxy_cluster_received_total{peer=\"b\"} "));
    QVERIFY(!metrics.body.contains("sockjsproxy_cluster_dropped_total{"));
}

void tst_ClusterNodes::broadcastEveryNode()
{
    QVERIFY(startCluster(3));
    constexpr int kClients = 9;
    std::vector<std::unique_ptr<WebSocketClient>> clients;
    QVERIFY(openClients(clients, kClients, 3, "b"));
    const QList<QByteArray> ids = backend()->sessionIds("connect");

    // Three broadcasts to everybody: ZeroMQ hands each to one node, which
    // delivers locally and forwards to the others.
    for (int n = 0; n < 3; ++n)
        backend()->sendRaw({"broadcast", "", "all " + QByteArray::number(n)});
    for (const auto &client : clients) {
        QVERIFY(client->waitForMessages(3, kWaitMs));
    }
    // A listed broadcast: one session of each node.
    QList<QByteArray> listed;
    QSet<QByteArray> listedNodes;
    for (const QByteArray &id : ids) {
        const QByteArray node = id.left(1);
        if (!listedNodes.contains(node)) {
            listedNodes.insert(node);
            listed.append(id);
        }
    }
    QCOMPARE(listed.size(), 3);
    backend()->sendRaw({"broadcast", listed.join(' '), "listed"});
    // Then one message to each, through the ordinary path, marks the end.
    for (const QByteArray &id : ids)
        backend()->sendMessage(id, "end");
    for (int i = 0; i < kClients; ++i) {
        WebSocketClient *client = clients.at(std::size_t(i)).get();
        QVERIFY(client->waitForMessage(QStringLiteral("end"), kWaitMs));
    }
    for (int i = 0; i < kClients; ++i) {
        WebSocketClient *client = clients.at(std::size_t(i)).get();
        QStringList got = client->messages();
        QCOMPARE(got.removeAll(QStringLiteral("end")), 1);
        QVERIFY(got.removeAll(QStringLiteral("listed")) <= 1);
        // Each broadcast once; their order may differ (they came through different nodes).
        got.sort();
        QCOMPARE(got, (QStringList{QStringLiteral("all 0"), QStringLiteral("all 1"), QStringLiteral("all 2")}));
    }
    int listedCount = 0;
    for (const auto &client : clients)
        listedCount += int(client->messages().count(QStringLiteral("listed")));
    QCOMPARE(listedCount, 3);
}

void tst_ClusterNodes::deadNodeDisconnects()
{
    QVERIFY(startCluster(3));
    constexpr int kClients = 9;
    std::vector<std::unique_ptr<WebSocketClient>> clients;
    QVERIFY(openClients(clients, kClients, 3, "d"));
    // The session lists reach the peers with the next round trip: an echo
    // through every client shows all of them are open everywhere.
    for (const auto &client : clients)
        client->send({QStringLiteral("hi")});
    for (const auto &client : clients)
        QVERIFY(client->waitForMessages(1, kWaitMs));
    // One client of b closes normally first: its disconnect is not repeated.
    QVERIFY(clients.at(1)->closeAndWait());
    QTRY_COMPARE_WITH_TIMEOUT(backend()->sessionIds("disconnect").size(), 1, kWaitMs);

    QSet<QByteArray> ofB;
    for (const QByteArray &id : backend()->sessionIds("connect")) {
        if (id.startsWith("b-"))
            ofB.insert(id);
    }
    QCOMPARE(ofB.size(), 3);
    // Give the close a heartbeat to reach the peers, by a round trip to b.
    clients.at(4)->send({QStringLiteral("again")});
    QVERIFY(clients.at(4)->waitForMessages(2, kWaitMs));

    nodeProcess(1)->sendSignal(SIGKILL);
    QVERIFY(waitForExit(nodeProcess(1), kWaitMs));
    // b's clients see their connection end.
    QVERIFY(clients.at(4)->waitForDisconnect(kWaitMs));
    QVERIFY(clients.at(7)->waitForDisconnect(kWaitMs));

    // Every session of b gets exactly one disconnect, sent by one node (a,
    // the lowest name alive); the closed one none more.
    QTRY_COMPARE_WITH_TIMEOUT(backend()->sessionIds("disconnect").size(), 3, kWaitMs);
    QVERIFY(waitForLine(nodeProcess(0), "disconnect(s) for the sessions of dead peer b", kWaitMs));
    // c heard a's claim and stands down.
    QVERIFY(waitForLine(nodeProcess(2), "peer a disconnects the sessions of b", kWaitMs));
    const QList<QByteArray> disconnected = backend()->sessionIds("disconnect");
    QCOMPARE(disconnected.size(), 3);
    QCOMPARE(QSet<QByteArray>(disconnected.cbegin(), disconnected.cend()), ofB);
    QVERIFY(!nodeProcess(2)->hasLineContaining("disconnect(s) for the sessions of dead peer"));
    // Replies for b's sessions are dropped where they land, and said so.
    const QByteArray ofDead = *ofB.cbegin();
    for (int n = 0; n < 4; ++n)
        backend()->sendMessage(ofDead, "too late");
    QTRY_VERIFY_WITH_TIMEOUT(nodeProcess(0)->hasLineContaining("for a session of node b dropped")
                                 || nodeProcess(2)->hasLineContaining("for a session of node b dropped"),
                             kWaitMs);
    // a and c's sessions are untouched.
    for (int i : {0, 2, 3, 5, 6, 8}) {
        QVERIFY(!clients.at(std::size_t(i))->isDisconnected());
        clients.at(std::size_t(i))->send({QStringLiteral("still here")});
        QVERIFY(clients.at(std::size_t(i))->waitForMessage(QStringLiteral("still here"), kWaitMs));
    }
}

void tst_ClusterNodes::stoppedNodeNotRepeated()
{
    QVERIFY(startCluster(2));
    std::vector<std::unique_ptr<WebSocketClient>> clients;
    for (int i = 0; i < 2; ++i) {
        auto client = std::make_unique<WebSocketClient>();
        QVERIFY(client->openSession(m_cluster->nodes().at(1).ports.http,
                                    "/echo/000/t" + QByteArray::number(i) + "/websocket"));
        clients.push_back(std::move(client));
    }
    QTRY_COMPARE_WITH_TIMEOUT(backend()->sessionIds("connect").size(), 2, kWaitMs);
    // a knows them: a round trip through a broadcast it forwards.
    backend()->sendRaw({"broadcast", "", "known"});
    for (const auto &client : clients)
        QVERIFY(client->waitForMessage(QStringLiteral("known"), kWaitMs));

    nodeProcess(1)->sendSignal(SIGTERM);
    QVERIFY(waitForExit(nodeProcess(1), kWaitMs));
    QCOMPARE(nodeProcess(1)->exitCode(), 0);
    QTRY_COMPARE_WITH_TIMEOUT(backend()->sessionIds("disconnect").size(), 2, kWaitMs);
    // a sees b gone with nothing left to disconnect.
    QVERIFY(waitForLine(nodeProcess(0), "peer b incarnation", kWaitMs));
    QVERIFY(waitForLine(nodeProcess(0), "is down (no heartbeat): 0 session(s)", kWaitMs));
    QCOMPARE(backend()->sessionIds("disconnect").size(), 2);
    QVERIFY(!nodeProcess(0)->hasLineContaining("disconnect(s) for the sessions of dead peer"));
}

void tst_ClusterNodes::acceptAndCloseDataForwarded()
{
    QVERIFY(startCluster(2, {{QStringLiteral("require_accept"), true}, {QStringLiteral("accept_timeout_ms"), 10000}}));
    // Three sessions on b, held until the backend accepts them.
    std::vector<std::unique_ptr<WebSocketClient>> clients;
    for (int i = 0; i < 3; ++i) {
        auto client = std::make_unique<WebSocketClient>();
        QVERIFY(client->connectTo(m_cluster->nodes().at(1).ports.http,
                                  "/echo/000/h" + QByteArray::number(i) + "/websocket"));
        clients.push_back(std::move(client));
    }
    QTRY_COMPARE_WITH_TIMEOUT(backend()->sessionIds("connect").size(), 3, kWaitMs);
    const QList<QByteArray> ids = backend()->sessionIds("connect");
    for (const QByteArray &id : ids)
        QVERIFY(id.startsWith("b-"));
    for (const auto &client : clients)
        QVERIFY(client->frames().isEmpty());

    // A backend connected to a alone: what it sends can reach b's sessions
    // only through a (its PUSH queues until connected).
    TestBackend viaA(TestBackend::Mode::Record, false);
    QVERIFY(viaA.connectTo(m_cluster->nodes().at(0).ports.inEndpoint(), m_cluster->nodes().at(0).ports.outEndpoint()));

    // Accepted through a: the open frame comes, then messages flow.
    viaA.sendAccept(ids.at(0));
    QVERIFY(clients.at(0)->waitForFrames(1, kWaitMs));
    QCOMPARE(clients.at(0)->frames().first(), QByteArray("o"));
    viaA.sendMessage(ids.at(0), "via a");
    QVERIFY(clients.at(0)->waitForMessage(QStringLiteral("via a"), kWaitMs));
    // Closed through a with a code and reason: the client gets those.
    viaA.sendDisconnect(ids.at(0), R"({"code": 4001, "reason": "Unauthorized"})");
    QVERIFY(clients.at(0)->waitForDisconnect(kWaitMs));
    QCOMPARE(clients.at(0)->frames().last(), QByteArray(R"(c[4001,"Unauthorized"])"));
    QCOMPARE(int(clients.at(0)->socket().closeCode()), 4001);

    // Refused through a while held: the client never sees it open.
    viaA.sendDisconnect(ids.at(1), R"({"code": 4002, "reason": "Taken"})");
    QVERIFY(clients.at(1)->waitForDisconnect(kWaitMs));
    QCOMPARE(clients.at(1)->frames(), (QList<QByteArray>{R"(c[4002,"Taken"])"}));

    // An empty disconnect through a is the usual "Go away!".
    viaA.sendAccept(ids.at(2));
    QVERIFY(clients.at(2)->waitForFrames(1, kWaitMs));
    viaA.sendDisconnect(ids.at(2));
    QVERIFY(clients.at(2)->waitForDisconnect(kWaitMs));
    QCOMPARE(clients.at(2)->frames().last(), QByteArray(R"(c[3000,"Go away!"])"));

    // Each went to b once; the shared backend heard each session end once.
    QTRY_COMPARE_WITH_TIMEOUT(backend()->sessionIds("disconnect").size() + viaA.sessionIds("disconnect").size(), 3,
                              kWaitMs);
    const HttpClient::Response metrics = HttpClient::request(nodeAt(0).controlPort, "GET", "/metrics");
    QCOMPARE(metrics.status, 200);
    QVERIFY2(metrics.body.contains("\nsockjsproxy_cluster_forwarded_total{peer=\"b\"} 6\n"), metrics.body.constData());
    QVERIFY(!nodeProcess(1)->hasLineContaining("unexpected accept"));
    QVERIFY(!nodeProcess(1)->hasLineContaining("unknown session"));
}

QTEST_GUILESS_MAIN(tst_ClusterNodes)
#include "tst_clusternodes.moc"
