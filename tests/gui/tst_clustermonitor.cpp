// ClusterMonitor: several control streams as one MonitorSource. Each node is
// a fake control endpoint in this process (a QWebSocketServer speaking the
// stream's JSON: snapshot, sessions, stats), so the test decides exactly
// what every node says and sees every command it gets. The session table
// model is fed from the aggregate under QAbstractItemModelTester.

#include "control/clustermonitor.h"
#include "control/remotemonitor.h"
#include "sessiontablemodel.h"

#include <QAbstractItemModelTester>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPointer>
#include <QSignalSpy>
#include <QTest>
#include <QWebSocket>
#include <QWebSocketServer>

#include <memory>

using namespace SockJsProxy;

namespace {

constexpr int kWaitMs = 5000;

SessionInfo session(const QByteArray &id, const QString &service = QStringLiteral("/echo"))
{
    SessionInfo info;
    info.id = id;
    info.service = service;
    info.transport = "websocket";
    info.state = QStringLiteral("open");
    info.openedAt = QDateTime::fromMSecsSinceEpoch(1714564800000, Qt::UTC);
    return info;
}

MonitorStats nodeStats(const QByteArray &node, const QList<std::pair<QString, int>> &services, quint64 messagesIn)
{
    MonitorStats stats;
    stats.time = QDateTime::currentDateTimeUtc();
    stats.instance = "instance-" + node;
    stats.node = node;
    for (const auto &[prefix, open] : services) {
        ServiceStats service;
        service.prefix = prefix;
        service.sessionsOpen = open;
        service.counters[Counter::MessagesIn] = messagesIn;
        service.rates.messagesIn = 1.5;
        service.backend.inPeers = 1;
        service.backend.outPeers = 1;
        service.backend.queued = 2;
        stats.services.append(service);
        stats.sessionsOpen += open;
        stats.counters += service.counters;
        stats.rates.messagesIn += 1.5;
    }
    return stats;
}

// One control endpoint: sends a snapshot on connect, then what the test says.
class FakeNode : public QObject
{
public:
    FakeNode() : m_server(QStringLiteral("fake"), QWebSocketServer::NonSecureMode)
    {
        m_server.listen(QHostAddress::LocalHost, 0);
        connect(&m_server, &QWebSocketServer::newConnection, this, [this] {
            m_socket = m_server.nextPendingConnection();
            m_socket->setParent(this);
            connect(m_socket, &QWebSocket::textMessageReceived, this, [this](const QString &text) {
                m_commands.append(QJsonDocument::fromJson(text.toUtf8()).object());
            });
            QJsonArray array;
            for (const SessionInfo &info : std::as_const(m_sessions))
                array.append(info.toJson());
            send({{QStringLiteral("type"), QStringLiteral("snapshot")},
                  {QStringLiteral("sessions"), array},
                  {QStringLiteral("stats"), m_stats.toJson()}});
        });
    }

    QString endpoint() const { return QStringLiteral("127.0.0.1:%1").arg(m_server.serverPort()); }
    bool isOpen() const { return m_socket && m_socket->state() == QAbstractSocket::ConnectedState; }
    void setSnapshot(const QList<SessionInfo> &sessions, const MonitorStats &stats)
    {
        m_sessions = sessions;
        m_stats = stats;
    }
    void sendSessions(const QList<SessionInfo> &upserted, const QList<QByteArray> &removed)
    {
        QJsonArray up;
        for (const SessionInfo &info : upserted)
            up.append(info.toJson());
        QJsonArray gone;
        for (const QByteArray &id : removed)
            gone.append(QString::fromLatin1(id));
        send({{QStringLiteral("type"), QStringLiteral("sessions")},
              {QStringLiteral("upserted"), up},
              {QStringLiteral("removed"), gone}});
    }
    void sendStats(const MonitorStats &stats)
    {
        send({{QStringLiteral("type"), QStringLiteral("stats")}, {QStringLiteral("stats"), stats.toJson()}});
    }
    // The proxy goes away: the stream ends, nothing listens any more.
    void kill()
    {
        m_server.close();
        if (m_socket)
            m_socket->abort();
    }
    // Commands received, by name ("disconnect", "send", ...).
    QList<QJsonObject> commands(const QString &name) const
    {
        QList<QJsonObject> result;
        for (const QJsonObject &command : m_commands) {
            if (command.value(QStringLiteral("command")).toString() == name)
                result.append(command);
        }
        return result;
    }

private:
    void send(const QJsonObject &event)
    {
        if (m_socket)
            m_socket->sendTextMessage(QString::fromUtf8(QJsonDocument(event).toJson(QJsonDocument::Compact)));
    }

    QWebSocketServer m_server;
    QPointer<QWebSocket> m_socket;
    QList<SessionInfo> m_sessions;
    MonitorStats m_stats;
    QList<QJsonObject> m_commands;
};

QStringList ids(const QJsonArray &array)
{
    QStringList result;
    for (const QJsonValue &value : array)
        result.append(value.toString());
    return result;
}

} // namespace

class tst_ClusterMonitor : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();
    // Sessions of every node in one table, each with its node's name.
    void sessionsOfEveryNode();
    // Stats summed per service and in total, one emission per round.
    void statsSummed();
    // Each command reaches the node holding the session; global ones every node.
    void commandsRouted();
    // A node gone takes its sessions and figures; the others stay.
    void nodeGone();
    // One node: its stats and connection pass through unchanged.
    void singleNodePassesThrough();
    // A node added to a running set (adoptNode): its sessions join.
    void adoptNode();

private:
    bool attachAll();

    std::unique_ptr<FakeNode> m_n1;
    std::unique_ptr<FakeNode> m_n2;
    std::unique_ptr<ClusterMonitor> m_cluster;
    std::unique_ptr<SessionTableModel> m_model;
    std::unique_ptr<QAbstractItemModelTester> m_tester;
};

void tst_ClusterMonitor::init()
{
    m_n1 = std::make_unique<FakeNode>();
    m_n2 = std::make_unique<FakeNode>();
    m_n1->setSnapshot({session("a-1")}, nodeStats("n1", {{QStringLiteral("/echo"), 1}}, 5));
    m_n2->setSnapshot({session("b-1"), session("b-2", QStringLiteral("/chat"))},
                      nodeStats("n2", {{QStringLiteral("/echo"), 1}, {QStringLiteral("/chat"), 1}}, 7));
    m_cluster = std::make_unique<ClusterMonitor>();
    m_model = std::make_unique<SessionTableModel>();
    m_model->setClosedLinger(0);
    m_tester = std::make_unique<QAbstractItemModelTester>(m_model.get(),
                                                          QAbstractItemModelTester::FailureReportingMode::QtTest);
    connect(m_cluster.get(), &MonitorSource::sessionsChanged, m_model.get(), &SessionTableModel::applyChanges);
}

void tst_ClusterMonitor::cleanup()
{
    m_tester.reset();
    m_cluster.reset();
    m_model.reset();
    m_n1.reset();
    m_n2.reset();
}

bool tst_ClusterMonitor::attachAll()
{
    if (!m_cluster->addNode(m_n1->endpoint(), QByteArray()) || !m_cluster->addNode(m_n2->endpoint(), QByteArray()))
        return false;
    return QTest::qWaitFor([this] { return m_model->rowCount() == 3; }, kWaitMs);
}

QString nodeAt(const SessionTableModel &model, const QByteArray &id)
{
    const int row = model.rowOf(id);
    return row < 0 ? QString() : model.index(row, SessionTableModel::NodeColumn).data().toString();
}

void tst_ClusterMonitor::sessionsOfEveryNode()
{
    QSignalSpy nodes(m_cluster.get(), &ClusterMonitor::nodeConnectionChanged);
    QVERIFY(attachAll());
    QCOMPARE(nodes.size(), 2);
    QVERIFY(m_cluster->isConnected());
    QCOMPARE(m_model->headerData(SessionTableModel::NodeColumn, Qt::Horizontal).toString(), QStringLiteral("Node"));
    // The node's cluster name, from the very first snapshot.
    QCOMPARE(nodeAt(*m_model, "a-1"), QStringLiteral("n1"));
    QCOMPARE(nodeAt(*m_model, "b-1"), QStringLiteral("n2"));
    QCOMPARE(nodeAt(*m_model, "b-2"), QStringLiteral("n2"));
    QCOMPARE(m_cluster->sessions().size(), 3);
    for (const SessionInfo &info : m_cluster->sessions())
        QCOMPARE(info.node, info.id.startsWith("a-") ? QStringLiteral("n1") : QStringLiteral("n2"));
    QCOMPARE(m_cluster->nodeName(m_cluster->nodeOf("b-2")), QStringLiteral("n2"));

    // Changes of one node leave the other's rows alone.
    SessionInfo changed = session("b-1");
    changed.messagesIn = 42;
    m_n2->sendSessions({changed, session("b-3")}, {"b-2"});
    QTRY_COMPARE_WITH_TIMEOUT(m_model->rowCount(), 3, kWaitMs);
    QTRY_VERIFY_WITH_TIMEOUT(m_model->rowOf("b-3") >= 0, kWaitMs);
    QCOMPARE(m_model->rowOf("b-2"), -1);
    QCOMPARE(m_model->sessionAt(m_model->rowOf("b-1")).messagesIn, quint64(42));
    QCOMPARE(nodeAt(*m_model, "b-3"), QStringLiteral("n2"));
    QCOMPARE(nodeAt(*m_model, "a-1"), QStringLiteral("n1"));
    m_n1->sendSessions({}, {"a-1"});
    QTRY_COMPARE_WITH_TIMEOUT(m_model->rowCount(), 2, kWaitMs);
    QCOMPARE(m_model->rowOf("a-1"), -1);
}

void tst_ClusterMonitor::statsSummed()
{
    QSignalSpy stats(m_cluster.get(), &MonitorSource::statsUpdated);
    QVERIFY(attachAll());
    // Both snapshots counted (the first node's may have come alone).
    QTRY_COMPARE_WITH_TIMEOUT(m_cluster->stats().sessionsOpen, qsizetype(3), kWaitMs);
    stats.clear();

    // A round: both nodes send; one sum comes, once the second has.
    m_n1->sendStats(nodeStats("n1", {{QStringLiteral("/echo"), 3}}, 10));
    QVERIFY(!stats.wait(300));
    m_n2->sendStats(nodeStats("n2", {{QStringLiteral("/echo"), 2}, {QStringLiteral("/chat"), 4}}, 20));
    QTRY_COMPARE_WITH_TIMEOUT(stats.size(), 1, kWaitMs);
    const MonitorStats total = stats.at(0).at(0).value<MonitorStats>();
    QCOMPARE(total.sessionsOpen, qsizetype(9));
    QCOMPARE(total.counters[Counter::MessagesIn], quint64(10 + 2 * 20));
    QCOMPARE(total.rates.messagesIn, 4.5);
    QCOMPARE(total.services.size(), 2);
    QCOMPARE(total.services.at(0).prefix, QStringLiteral("/echo"));
    QCOMPARE(total.services.at(0).sessionsOpen, qsizetype(5));
    QCOMPARE(total.services.at(0).counters[Counter::MessagesIn], quint64(30));
    QCOMPARE(total.services.at(0).backend.inPeers, 2);
    QCOMPARE(total.services.at(0).backend.queued, qsizetype(4));
    QCOMPARE(total.services.at(1).prefix, QStringLiteral("/chat"));
    QCOMPARE(total.services.at(1).sessionsOpen, qsizetype(4));
    QVERIFY(total.node.isEmpty()); // no one node's
    QVERIFY(total.instance.isEmpty());
    QCOMPARE(m_cluster->stats().sessionsOpen, qsizetype(9));

    // A node that stays silent holds the round up no longer than kCoalesceMs.
    stats.clear();
    m_n1->sendStats(nodeStats("n1", {{QStringLiteral("/echo"), 1}}, 10));
    QVERIFY(stats.wait(ClusterMonitor::kCoalesceMs + 1000));
    QCOMPARE(stats.size(), 1);
    QCOMPARE(stats.at(0).at(0).value<MonitorStats>().sessionsOpen, qsizetype(1 + 6));
}

void tst_ClusterMonitor::commandsRouted()
{
    QVERIFY(attachAll());
    m_cluster->disconnectSessions({"a-1", "b-2", "unknown"});
    m_cluster->sendToSession("b-1", "hello b");
    m_cluster->setInspected("b-2", true);
    m_cluster->requestHistory("a-1");
    m_cluster->clearCounters();
    m_cluster->setCapture(50);
    QTRY_COMPARE_WITH_TIMEOUT(m_n1->commands(QStringLiteral("capture")).size(), 1, kWaitMs);
    QTRY_COMPARE_WITH_TIMEOUT(m_n2->commands(QStringLiteral("capture")).size(), 1, kWaitMs);

    QCOMPARE(m_n1->commands(QStringLiteral("disconnect")).size(), 1);
    QCOMPARE(ids(m_n1->commands(QStringLiteral("disconnect")).at(0).value(QStringLiteral("ids")).toArray()),
             QStringList{QStringLiteral("a-1")});
    QCOMPARE(m_n2->commands(QStringLiteral("disconnect")).size(), 1);
    QCOMPARE(ids(m_n2->commands(QStringLiteral("disconnect")).at(0).value(QStringLiteral("ids")).toArray()),
             QStringList{QStringLiteral("b-2")});
    QCOMPARE(m_n1->commands(QStringLiteral("send")).size(), 0);
    QCOMPARE(m_n2->commands(QStringLiteral("send")).size(), 1);
    QCOMPARE(m_n2->commands(QStringLiteral("send")).at(0).value(QStringLiteral("message")).toString(),
             QStringLiteral("hello b"));
    QCOMPARE(m_n1->commands(QStringLiteral("inspect")).size(), 0);
    QCOMPARE(m_n2->commands(QStringLiteral("inspect")).size(), 1);
    QCOMPARE(m_n1->commands(QStringLiteral("history")).size(), 1);
    QCOMPARE(m_n2->commands(QStringLiteral("history")).size(), 0);
    QCOMPARE(m_n1->commands(QStringLiteral("clear_counters")).size(), 1);
    QCOMPARE(m_n2->commands(QStringLiteral("clear_counters")).size(), 1);
    QCOMPARE(m_n1->commands(QStringLiteral("capture")).at(0).value(QStringLiteral("messages")).toInt(), 50);
}

void tst_ClusterMonitor::nodeGone()
{
    QSignalSpy nodes(m_cluster.get(), &ClusterMonitor::nodeConnectionChanged);
    QSignalSpy connection(m_cluster.get(), &MonitorSource::connectionChanged);
    QSignalSpy stats(m_cluster.get(), &MonitorSource::statsUpdated);
    QVERIFY(attachAll());
    QTRY_COMPARE_WITH_TIMEOUT(m_cluster->stats().sessionsOpen, qsizetype(3), kWaitMs);
    const QString n2 = m_n2->endpoint();
    nodes.clear();
    connection.clear();
    stats.clear();

    m_n2->kill();
    QTRY_COMPARE_WITH_TIMEOUT(nodes.size(), 1, kWaitMs);
    QCOMPARE(nodes.at(0).at(0).toString(), n2);
    QCOMPARE(nodes.at(0).at(1).toBool(), false);
    QCOMPARE(nodes.at(0).at(2).toString(), QStringLiteral("connection lost"));
    // Its sessions go; the other node's stay.
    QTRY_COMPARE_WITH_TIMEOUT(m_model->rowCount(), 1, kWaitMs);
    QCOMPARE(m_model->idAt(0), QByteArray("a-1"));
    // Still attached to the cluster as a whole: no connectionChanged(false).
    QVERIFY(m_cluster->isConnected());
    QCOMPARE(connection.size(), 0);
    // The totals are the live node's alone.
    QCOMPARE(stats.size(), 1);
    QCOMPARE(stats.at(0).at(0).value<MonitorStats>().sessionsOpen, qsizetype(1));
    QVERIFY(m_cluster->isRetryPending());
    QVERIFY(!m_cluster->nodeAt(n2)->isConnected());
    // Commands for the gone node's sessions go nowhere; the live one's still work.
    m_cluster->disconnectSessions({"b-1", "a-1"});
    QTRY_COMPARE_WITH_TIMEOUT(m_n1->commands(QStringLiteral("disconnect")).size(), 1, kWaitMs);

    // The last one gone: now the cluster as a whole is.
    m_n1->kill();
    QTRY_COMPARE_WITH_TIMEOUT(connection.size(), 1, kWaitMs);
    QCOMPARE(connection.at(0).at(0).toBool(), false);
    QVERIFY(connection.at(0).at(1).toString().startsWith(QLatin1String("n1: ")));
    QCOMPARE(m_model->rowCount(), 0);
    QVERIFY(!m_cluster->isConnected());
}

void tst_ClusterMonitor::singleNodePassesThrough()
{
    QSignalSpy connection(m_cluster.get(), &MonitorSource::connectionChanged);
    QSignalSpy stats(m_cluster.get(), &MonitorSource::statsUpdated);
    QVERIFY(m_cluster->addNode(m_n2->endpoint(), QByteArray()));
    QVERIFY(!m_cluster->addNode(m_n2->endpoint(), QByteArray())); // once only
    QCOMPARE(m_cluster->nodeCount(), 1);
    QTRY_COMPARE_WITH_TIMEOUT(m_model->rowCount(), 2, kWaitMs);
    QCOMPARE(connection.size(), 1);
    QCOMPARE(connection.at(0).at(0).toBool(), true);
    QCOMPARE(connection.at(0).at(1).toString(), m_n2->endpoint());
    QTRY_COMPARE_WITH_TIMEOUT(stats.size(), 1, kWaitMs);
    const MonitorStats one = stats.at(0).at(0).value<MonitorStats>();
    QCOMPARE(one.instance, QByteArray("instance-n2"));
    QCOMPARE(one.node, QByteArray("n2"));
    QCOMPARE(one.toJson(), m_cluster->node(0)->stats().toJson());
    m_n2->kill();
    QTRY_COMPARE_WITH_TIMEOUT(connection.size(), 2, kWaitMs);
    QCOMPARE(connection.at(1).at(1).toString(), QStringLiteral("connection lost"));
}

void tst_ClusterMonitor::adoptNode()
{
    QVERIFY(m_cluster->addNode(m_n1->endpoint(), QByteArray()));
    QTRY_COMPARE_WITH_TIMEOUT(m_model->rowCount(), 1, kWaitMs);
    auto remote = std::make_unique<RemoteMonitor>();
    remote->attach(m_n2->endpoint(), QByteArray());
    QTRY_VERIFY_WITH_TIMEOUT(remote->sessions().size() == 2, kWaitMs);
    QSignalSpy changed(m_cluster.get(), &ClusterMonitor::nodesChanged);
    QVERIFY(m_cluster->adoptNode(std::move(remote)));
    QCOMPARE(changed.size(), 1);
    QCOMPARE(m_model->rowCount(), 3);
    QCOMPARE(nodeAt(*m_model, "b-2"), QStringLiteral("n2"));
    // Its later news arrive as well.
    m_n2->sendSessions({session("b-9")}, {});
    QTRY_COMPARE_WITH_TIMEOUT(m_model->rowCount(), 4, kWaitMs);
    m_cluster->removeNode(m_n2->endpoint());
    QCOMPARE(m_model->rowCount(), 1);
    QCOMPARE(m_cluster->nodeCount(), 1);
}

QTEST_MAIN(tst_ClusterMonitor)
#include "tst_clustermonitor.moc"
