#pragma once

#include "ports.h"

#include <QByteArray>
#include <QJsonObject>
#include <QString>

#include <memory>
#include <vector>

namespace SockJsProxy::Test {

class Child;
class ProcessGuard;
class TestBackend;

// The nodes a, b, c, ... of one cluster: each a sockjsproxy-cli of its own
// with the one service /echo, everything on free loopback ports, started
// by a ProcessGuard; and an echo TestBackend connected to every node's in
// and out with ZMQ_IMMEDIATE, as the README advises for a backend of
// several nodes (a node that dies then takes no share of the replies).
class TestCluster
{
public:
    struct Node
    {
        QByteArray name;
        Ports ports;
        quint16 clusterPort = 0;
        quint16 controlPort = 0; // 0: no --control
        Child *process = nullptr;
        QString clusterEndpoint() const { return QStringLiteral("tcp://127.0.0.1:%1").arg(clusterPort); }
        QString controlEndpoint() const { return QStringLiteral("127.0.0.1:%1").arg(controlPort); }
    };

    enum class Control { FirstNode, EveryNode };

    // Writes the nodes' configurations into directory.
    TestCluster(ProcessGuard &guard, const QString &directory);
    ~TestCluster();

    // Starts count nodes that know each other, and the backend; true once
    // every node has reached every other (forwarding works from then on)
    // and the backend is connected to each. serviceKeys: more keys of the
    // service.
    bool start(int count, Control control = Control::FirstNode, const QJsonObject &serviceKeys = {});

    const std::vector<Node> &nodes() const { return m_nodes; }
    const Node &node(int i) const { return m_nodes.at(std::size_t(i)); }
    Child *process(int i) const { return node(i).process; }
    TestBackend *backend() const { return m_backend.get(); }

private:
    ProcessGuard &m_guard;
    QString m_directory;
    std::vector<Node> m_nodes;
    std::unique_ptr<TestBackend> m_backend;
};

} // namespace SockJsProxy::Test
