#include "ports.h"

#include <QDeadlineTimer>
#include <QEventLoop>
#include <QHostAddress>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>

#include <memory>
#include <vector>

namespace SockJsProxy::Test {

QList<quint16> freePorts(int count)
{
    std::vector<std::unique_ptr<QTcpServer>> servers;
    QList<quint16> ports;
    for (int i = 0; i < count; ++i) {
        auto server = std::make_unique<QTcpServer>();
        if (!server->listen(QHostAddress::LocalHost, 0))
            return {};
        ports.append(server->serverPort());
        servers.push_back(std::move(server));
    }
    return ports;
}

bool acceptsConnections(quint16 port, int timeoutMs)
{
    QTcpSocket socket;
    QEventLoop loop;
    QObject::connect(&socket, &QTcpSocket::connected, &loop, &QEventLoop::quit);
    QObject::connect(&socket, &QTcpSocket::errorOccurred, &loop, &QEventLoop::quit);
    QTimer::singleShot(timeoutMs, &loop, &QEventLoop::quit);
    socket.connectToHost(QHostAddress::LocalHost, port);
    if (socket.state() != QAbstractSocket::UnconnectedState)
        loop.exec();
    const bool accepted = socket.state() == QAbstractSocket::ConnectedState;
    socket.abort();
    return accepted;
}

Ports Ports::pick()
{
    const QList<quint16> ports = freePorts(3);
    Ports result;
    if (ports.size() == 3) {
        result.http = ports.at(0);
        result.in = ports.at(1);
        result.out = ports.at(2);
    }
    return result;
}

QStringList Ports::proxyArgs() const
{
    return {QStringLiteral("--http-address"),
            QStringLiteral("127.0.0.1"),
            QStringLiteral("-p"),
            QString::number(http),
            QStringLiteral("-a"),
            QStringLiteral("127.0.0.1"),
            QStringLiteral("-i"),
            QString::number(in),
            QStringLiteral("-o"),
            QString::number(out)};
}

QStringList Ports::pythonArgs() const
{
    return {QStringLiteral("-a"), QStringLiteral("127.0.0.1"), QStringLiteral("-i"),
            QString::number(in),  QStringLiteral("-o"),        QString::number(out)};
}

QStringList Ports::cppArgs() const
{
    return {QStringLiteral("--in"), inEndpoint(), QStringLiteral("--out"), outEndpoint()};
}

QString Ports::inEndpoint() const { return QStringLiteral("tcp://127.0.0.1:%1").arg(in); }

QString Ports::outEndpoint() const { return QStringLiteral("tcp://127.0.0.1:%1").arg(out); }

} // namespace SockJsProxy::Test
