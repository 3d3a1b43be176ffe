// The monitor window watching a cluster: three real sockjsproxy-cli nodes
// (a, b, c), each with a --control endpoint, one echo backend in this
// process connected to all of them, and a MainWindow attached to the three
// endpoints at once (as `sockjsproxy-monitor --attach A --attach B --attach C`).
// Run as an e2e test (label e2e): it starts processes.

#include "backendpanel.h"
#include "control/clustermonitor.h"
#include "control/remotemonitor.h"
#include "mainwindow.h"
#include "ports.h"
#include "processguard.h"
#include "sessionfiltermodel.h"
#include "sessiontablemodel.h"
#include "testbackend.h"
#include "testcluster.h"
#include "testpaths.h"
#include "websocketclient.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QTableView>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>
#include <memory>
#include <vector>

using namespace SockJsProxy;
using namespace SockJsProxy::Test;

namespace {

constexpr int kWaitMs = 15000;
constexpr int kNodes = 3;
const QByteArray kGoAway = QByteArrayLiteral("c[3000,\"Go away!\"]");

} // namespace

class tst_MonitorCluster : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanup();
    void watchCluster();

private:
    bool startCluster();
    // The row (in the view) of a session, -1 if none.
    int viewRowOf(const MainWindow &window, const QByteArray &id) const;

    QTemporaryDir m_dir;
    std::unique_ptr<ProcessGuard> m_guard;
    std::unique_ptr<TestCluster> m_cluster;
};

void tst_MonitorCluster::initTestCase()
{
    QVERIFY(m_dir.isValid());
    QVERIFY2(QFile::exists(cliPath()), qPrintable(cliPath()));
}

void tst_MonitorCluster::cleanup()
{
    m_cluster.reset();
    m_guard.reset();
}

bool tst_MonitorCluster::startCluster()
{
    m_guard = std::make_unique<ProcessGuard>();
    m_cluster = std::make_unique<TestCluster>(*m_guard, m_dir.path());
    return m_cluster->start(kNodes, TestCluster::Control::EveryNode);
}

int tst_MonitorCluster::viewRowOf(const MainWindow &window, const QByteArray &id) const
{
    const int row = window.sessionModel()->rowOf(id);
    return row < 0 ? -1 : window.sessionFilter()->mapFromSource(window.sessionModel()->index(row, 0)).row();
}

void tst_MonitorCluster::watchCluster()
{
    QVERIFY(startCluster());
    MainWindow window;
    window.sessionModel()->setClosedLinger(0); // closed sessions go at once
    window.resize(1400, 900);
    window.show();
    QStringList endpoints;
    for (const TestCluster::Node &node : m_cluster->nodes())
        endpoints.append(node.controlEndpoint());
    window.attach(endpoints, QByteArray());
    ClusterMonitor *cluster = window.remoteMonitor();
    QVERIFY(cluster);
    QCOMPARE(cluster->nodeCount(), kNodes);
    QTRY_VERIFY_WITH_TIMEOUT(
        cluster->node(0)->isConnected() && cluster->node(1)->isConnected() && cluster->node(2)->isConnected(), kWaitMs);
    QVERIFY(window.isConnected());
    QVERIFY(window.description().startsWith(QLatin1String("3 nodes at control endpoints")));

    // Two sessions per node.
    std::vector<std::unique_ptr<WebSocketClient>> clients;
    for (int i = 0; i < 2 * kNodes; ++i) {
        auto client = std::make_unique<WebSocketClient>();
        QVERIFY(client->openSession(m_cluster->node(i % kNodes).ports.http,
                                    "/echo/000/m" + QByteArray::number(i) + "/websocket"));
        clients.push_back(std::move(client));
    }
    QTRY_COMPARE_WITH_TIMEOUT(m_cluster->backend()->sessionIds("connect").size(), 2 * kNodes, kWaitMs);
    QTRY_COMPARE_WITH_TIMEOUT(window.sessionModel()->rowCount(), 2 * kNodes, kWaitMs);

    // The Node column, shown, names each session's node (its id starts with it).
    QVERIFY(!window.sessionsView()->isColumnHidden(SessionTableModel::NodeColumn));
    QByteArray onB;
    QByteArray onC;
    for (int row = 0; row < window.sessionModel()->rowCount(); ++row) {
        const QByteArray id = window.sessionModel()->idAt(row);
        const QString node = window.sessionModel()->index(row, SessionTableModel::NodeColumn).data().toString();
        QCOMPARE(node, QString::fromLatin1(id.left(1)));
        if (id.startsWith("b-") && onB.isEmpty())
            onB = id;
        if (id.startsWith("c-") && onC.isEmpty())
            onC = id;
    }
    QVERIFY(!onB.isEmpty() && !onC.isEmpty());

    // Totals across the nodes in the counters panel; a row per node in the backends table.
    BackendPanel *panel = window.backendPanel();
    QTRY_COMPARE_WITH_TIMEOUT(panel->counterLabel(QStringLiteral("sessionsOpen"))->text(), QStringLiteral("6"),
                              kWaitMs);
    QTRY_COMPARE_WITH_TIMEOUT(window.source()->stats().counters[Counter::SessionsOpened], quint64(6), kWaitMs);
    QVERIFY(panel->showsNodes());
    const QTableWidget *services = panel->servicesTable();
    QTRY_COMPARE_WITH_TIMEOUT(services->rowCount(), kNodes, kWaitMs);
    for (int row = 0; row < kNodes; ++row) {
        QCOMPARE(services->item(row, BackendPanel::NodeColumn)->text(), QString(QChar('a' + row)));
        QTRY_COMPARE_WITH_TIMEOUT(services->item(row, BackendPanel::BackendColumn)->text(),
                                  QStringLiteral("\u25CF connected"), kWaitMs);
        QCOMPARE(services->item(row, BackendPanel::SessionsColumn)->text(), QStringLiteral("2"));
    }
    // Each node's two peers, up.
    const QTableWidget *peers = panel->peersTable();
    QTRY_COMPARE_WITH_TIMEOUT(peers->rowCount(), kNodes * (kNodes - 1), kWaitMs);
    for (int row = 0; row < peers->rowCount(); ++row)
        QTRY_COMPARE_WITH_TIMEOUT(peers->item(row, BackendPanel::PeerStateColumn)->text(), QStringLiteral("\u25CF up"),
                                  kWaitMs);

    // Disconnect, in the window, a session of b (not the first node).
    window.sessionsView()->selectRow(viewRowOf(window, onB));
    QCOMPARE(window.selectedSessionIds(), QList<QByteArray>{onB});
    window.disconnectSelected();
    // Its client is one of b's two (ids are the node's own, not the URL's).
    WebSocketClient *clientOfB = nullptr;
    QTRY_VERIFY_WITH_TIMEOUT(clients.at(1)->isDisconnected() || clients.at(4)->isDisconnected(), kWaitMs);
    clientOfB = clients.at(1)->isDisconnected() ? clients.at(1).get() : clients.at(4).get();
    QCOMPARE(clientOfB->significantFrames().constLast(), kGoAway);
    QVERIFY(!clients.at(1)->isDisconnected() || !clients.at(4)->isDisconnected());
    QTRY_COMPARE_WITH_TIMEOUT(m_cluster->backend()->sessionIds("disconnect"), QList<QByteArray>{onB}, kWaitMs);

    // Send to a session of c through the window's source: one of c's clients gets it.
    window.source()->sendToSession(onC, "from the monitor");
    const QString sent = QStringLiteral("from the monitor");
    QTRY_VERIFY_WITH_TIMEOUT(clients.at(2)->messages().contains(sent) || clients.at(5)->messages().contains(sent),
                             kWaitMs);
    QCOMPARE(clients.at(2)->messages().count(sent) + clients.at(5)->messages().count(sent), 1);

    // c dies: its rows go and its figures say gone; a and b stay live.
    QTRY_VERIFY_WITH_TIMEOUT(window.sessionModel()->rowOf(onB) < 0, kWaitMs);
    m_cluster->process(2)->sendSignal(SIGKILL);
    QVERIFY(waitForExit(m_cluster->process(2), kWaitMs));
    QTRY_VERIFY_WITH_TIMEOUT(!cluster->node(2)->isConnected(), kWaitMs);
    QTRY_COMPARE_WITH_TIMEOUT(window.sessionModel()->rowCount(), 3, kWaitMs); // a's two, b's other one
    for (int row = 0; row < window.sessionModel()->rowCount(); ++row)
        QVERIFY(!window.sessionModel()->idAt(row).startsWith("c-"));
    QVERIFY(window.isConnected());
    QVERIFY(!panel->isStale());
    QTRY_COMPARE_WITH_TIMEOUT(services->item(2, BackendPanel::BackendColumn)->text(),
                              QStringLiteral("\u2014 node gone"), kWaitMs);
    QCOMPARE(services->item(2, BackendPanel::SessionsColumn)->text(), QStringLiteral("\u2014"));
    QCOMPARE(services->item(0, BackendPanel::BackendColumn)->text(), QStringLiteral("\u25CF connected"));
    QCOMPARE(services->item(1, BackendPanel::BackendColumn)->text(), QStringLiteral("\u25CF connected"));
    // The totals are a's and b's: 3 open; a and b see c down.
    QTRY_COMPARE_WITH_TIMEOUT(panel->counterLabel(QStringLiteral("sessionsOpen"))->text(), QStringLiteral("3"),
                              kWaitMs);
    for (int row = 0; row < peers->rowCount(); ++row) {
        const QString node = peers->item(row, BackendPanel::PeerNodeColumn)->text();
        const QString peer = peers->item(row, BackendPanel::PeerColumn)->text();
        if (node == QLatin1String("c"))
            QCOMPARE(peers->item(row, BackendPanel::PeerStateColumn)->text(), QStringLiteral("\u2014 node gone"));
        else if (peer == QLatin1String("c"))
            QTRY_COMPARE_WITH_TIMEOUT(peers->item(row, BackendPanel::PeerStateColumn)->text(),
                                      QStringLiteral("\u25CF down"), kWaitMs);
    }
    QVERIFY(window.reconnectAction()->isEnabled());
    // a's sessions still answer the monitor.
    const QByteArray onA = window.sessionModel()->idAt(0);
    QVERIFY(onA.startsWith("a-") || onA.startsWith("b-"));
    window.detach();
}

QTEST_MAIN(tst_MonitorCluster)
#include "tst_monitorcluster.moc"
