#include "testcluster.h"

#include "processguard.h"
#include "testbackend.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>

namespace SockJsProxy::Test {

namespace {
constexpr int kWaitMs = 15000;
constexpr int kPortsPerNode = 5; // http, in, out, cluster, control
} // namespace

TestCluster::TestCluster(ProcessGuard &guard, const QString &directory) : m_guard(guard), m_directory(directory) {}

TestCluster::~TestCluster() = default;

bool TestCluster::start(int count, Control control, const QJsonObject &serviceKeys)
{
    // All ports at once, so that none is handed out twice.
    const QList<quint16> ports = freePorts(kPortsPerNode * count);
    if (ports.size() != kPortsPerNode * count)
        return false;
    QJsonArray peers;
    for (int i = 0; i < count; ++i) {
        Node node;
        node.name = QByteArray(1, char('a' + i));
        node.ports.http = ports.at(kPortsPerNode * i);
        node.ports.in = ports.at(kPortsPerNode * i + 1);
        node.ports.out = ports.at(kPortsPerNode * i + 2);
        node.clusterPort = ports.at(kPortsPerNode * i + 3);
        if (control == Control::EveryNode || i == 0)
            node.controlPort = ports.at(kPortsPerNode * i + 4);
        peers.append(node.clusterEndpoint());
        m_nodes.push_back(node);
    }
    for (Node &node : m_nodes) {
        // The same peer list for every node: each skips its own endpoint.
        QJsonObject service{{QStringLiteral("prefix"), QStringLiteral("/echo")},
                            {QStringLiteral("zmq"), QJsonObject{{QStringLiteral("in"), node.ports.inEndpoint()},
                                                                {QStringLiteral("out"), node.ports.outEndpoint()}}}};
        for (auto key = serviceKeys.constBegin(); key != serviceKeys.constEnd(); ++key)
            service.insert(key.key(), key.value());
        const QJsonObject config{
            {QStringLiteral("http"), QJsonObject{{QStringLiteral("address"), QStringLiteral("127.0.0.1")},
                                                 {QStringLiteral("port"), node.ports.http}}},
            {QStringLiteral("services"), QJsonArray{service}},
            {QStringLiteral("cluster"), QJsonObject{{QStringLiteral("node"), QString::fromLatin1(node.name)},
                                                    {QStringLiteral("bind"), node.clusterEndpoint()},
                                                    {QStringLiteral("peers"), peers},
                                                    {QStringLiteral("heartbeat_ms"), 100},
                                                    {QStringLiteral("dead_after_ms"), 600},
                                                    {QStringLiteral("claim_grace_ms"), 300}}},
        };
        const QString path = m_directory + QStringLiteral("/node-%1.json").arg(QString::fromLatin1(node.name));
        QFile file(path);
        if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate))
            return false;
        file.write(QJsonDocument(config).toJson());
        file.close();
        QStringList args{QStringLiteral("--config"), path};
        if (node.controlPort)
            args << QStringLiteral("--control") << QString::number(node.controlPort);
        node.process = m_guard.startProxy(args, node.ports.http, "/echo");
        if (!node.process)
            return false;
    }
    for (const Node &node : m_nodes) {
        for (const Node &other : m_nodes) {
            // Heard from, and its link known: forwarding works from then on.
            if (&other != &node && !waitForLine(node.process, "peer " + other.name + " reached at", kWaitMs))
                return false;
        }
    }
    m_backend = std::make_unique<TestBackend>(TestBackend::Mode::Echo, true);
    for (const Node &node : m_nodes) {
        if (!m_backend->connectTo(node.ports.inEndpoint(), node.ports.outEndpoint()))
            return false;
    }
    // Connected to every node before the first reply: with ZMQ_IMMEDIATE a
    // node the backend has not reached yet gets no share of them.
    for (const Node &node : m_nodes) {
        if (!waitForLine(node.process, "backend connected to out", kWaitMs))
            return false;
    }
    return true;
}

} // namespace SockJsProxy::Test
