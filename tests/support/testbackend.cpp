#include "testbackend.h"

#include <QTest>

namespace SockJsProxy::Test {

TestBackend::TestBackend(const QString &inEndpoint, const QString &outEndpoint, Mode mode, QObject *parent)
    : QObject(parent), m_pull(ZmqSocket::Type::Pull), m_push(ZmqSocket::Type::Push), m_mode(mode)
{
    connect(&m_pull, &ZmqSocket::messageReceived, this, &TestBackend::onMessage);
    QString error;
    if (!m_pull.connectTo(inEndpoint, &error) || !m_push.connectTo(outEndpoint, &error))
        qWarning("TestBackend: %s", qPrintable(error));
}

TestBackend::TestBackend(Mode mode, bool immediate, QObject *parent)
    : QObject(parent), m_pull(ZmqSocket::Type::Pull), m_push(ZmqSocket::Type::Push), m_mode(mode)
{
    connect(&m_pull, &ZmqSocket::messageReceived, this, &TestBackend::onMessage);
    m_push.setImmediate(immediate);
}

bool TestBackend::connectTo(const QString &inEndpoint, const QString &outEndpoint)
{
    QString error;
    if (m_pull.connectTo(inEndpoint, &error) && m_push.connectTo(outEndpoint, &error))
        return true;
    qWarning("TestBackend: %s", qPrintable(error));
    return false;
}

QList<TestBackend::Event> TestBackend::eventsOfType(const QByteArray &type) const
{
    QList<Event> result;
    for (const Event &event : m_events) {
        if (event.type == type)
            result.append(event);
    }
    return result;
}

QList<QByteArray> TestBackend::sessionIds(const QByteArray &type) const
{
    QList<QByteArray> result;
    for (const Event &event : m_events) {
        if (event.type == type)
            result.append(event.sessionId);
    }
    return result;
}

void TestBackend::sendMessage(const QByteArray &sessionId, const QByteArray &data)
{
    m_push.send({QByteArrayLiteral("message"), sessionId, data});
}

void TestBackend::sendDisconnect(const QByteArray &sessionId)
{
    m_push.send({QByteArrayLiteral("disconnect"), sessionId, QByteArray("")});
}

void TestBackend::sendDisconnect(const QByteArray &sessionId, const QByteArray &data)
{
    m_push.send({QByteArrayLiteral("disconnect"), sessionId, data});
}

void TestBackend::sendAccept(const QByteArray &sessionId)
{
    m_push.send({QByteArrayLiteral("accept"), sessionId, QByteArray("")});
}

void TestBackend::sendRaw(const QList<QByteArray> &frames) { m_push.send(frames); }

void TestBackend::onMessage(const ZmqMessage &message)
{
    if (message.size() != 3) {
        qWarning("TestBackend: message with %d frames", int(message.size()));
        return;
    }
    m_events.append({message.at(0), message.at(1), message.at(2)});
    if (m_mode == Mode::Echo && message.at(0) == "message")
        sendMessage(message.at(1), message.at(2));
    if (m_mode == Mode::CloseOnConnect && message.at(0) == "connect")
        sendDisconnect(message.at(1));
    Q_EMIT eventReceived(message.at(0), message.at(1), message.at(2));
}

} // namespace SockJsProxy::Test
