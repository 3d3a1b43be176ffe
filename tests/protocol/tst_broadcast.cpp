// The backend message "broadcast" (README "Backend protocol"): frames
// broadcast, target, data. An empty target reaches every open session of the
// service, a target of space-separated session ids those sessions; against
// an in-process Server with TestBackends.

#include "httpclient.h"
#include "testbackend.h"
#include "testserver.h"
#include "websocketclient.h"

#include "server/server.h"
#include "sockjs/service.h"
#include "zmq/zmqbridge.h"

#include <QTest>

#include <memory>
#include <vector>

using namespace SockJsProxy;
using namespace SockJsProxy::Test;

namespace {

constexpr int kWaitMs = 5000;

Service *serviceOf(const Server *server, const QString &prefix)
{
    for (Service *service : server->services()) {
        if (service->prefix() == prefix)
            return service;
    }
    return nullptr;
}

} // namespace

class tst_Broadcast : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void everySession();
    void listedSessions();
    void unknownAndRepeatedIds();
    void targetOfSpacesOnly();

private:
    // Opens count WebSocket sessions on /echo and learns their backend ids.
    void openSessions(int count);

    std::unique_ptr<TestServer> m_server;
    std::vector<std::unique_ptr<WebSocketClient>> m_clients;
    QList<QByteArray> m_ids; // m_ids[i] is m_clients[i]'s session
};

void tst_Broadcast::init()
{
    m_server = std::make_unique<TestServer>();
    QVERIFY(m_server->start());
}

void tst_Broadcast::cleanup()
{
    m_clients.clear();
    m_ids.clear();
    m_server.reset();
}

void tst_Broadcast::openSessions(int count)
{
    TestBackend *backend = m_server->backend(QStringLiteral("/echo"));
    for (int i = 0; i < count; ++i) {
        auto client = std::make_unique<WebSocketClient>();
        QVERIFY(client->openSession(m_server->port(), "/echo/000/s" + QByteArray::number(i) + "/websocket"));
        QTRY_COMPARE_WITH_TIMEOUT(backend->sessionIds("connect").size(), i + 1, kWaitMs);
        m_ids.append(backend->sessionIds("connect").last());
        m_clients.push_back(std::move(client));
    }
}

void tst_Broadcast::everySession()
{
    openSessions(3);
    // A session of another service hears nothing.
    TestBackend *other = m_server->backend(QStringLiteral("/cookie_needed_echo"));
    WebSocketClient bystander;
    QVERIFY(bystander.openSession(m_server->port(), "/cookie_needed_echo/000/b/websocket"));
    QTRY_COMPARE_WITH_TIMEOUT(other->sessionIds("connect").size(), 1, kWaitMs);

    TestBackend *backend = m_server->backend(QStringLiteral("/echo"));
    backend->sendRaw({"broadcast", "", "to \"all\""});
    for (const auto &client : m_clients) {
        QVERIFY(client->waitForFrames(2));
        QCOMPARE(client->frames(), (QList<QByteArray>{"o", R"(a["to \"all\""])"}));
    }
    // One more message through the ordinary path shows nothing else came.
    backend->sendMessage(m_ids.at(0), "after");
    QVERIFY(m_clients.at(0)->waitForMessage(QStringLiteral("after")));
    QCOMPARE(m_clients.at(0)->messages(), (QStringList{QStringLiteral("to \"all\""), QStringLiteral("after")}));
    QCOMPARE(m_clients.at(1)->frames().size(), 2);
    QCOMPARE(m_clients.at(2)->frames().size(), 2);
    QCOMPARE(bystander.frames(), QList<QByteArray>{"o"});

    const Service *service = serviceOf(m_server->server(), QStringLiteral("/echo"));
    QCOMPARE(service->bridge()->counters()[Counter::BackendReceivedBroadcast], quint64(1));
    QCOMPARE(service->bridge()->counters()[Counter::BackendUnknownType], quint64(0));
    QCOMPARE(service->counters()[Counter::UnknownSessionFromBackend], quint64(0));
    // The backends were told nothing about it.
    QCOMPARE(backend->eventsOfType("message").size(), 0);
}

void tst_Broadcast::listedSessions()
{
    openSessions(4);
    TestBackend *backend = m_server->backend(QStringLiteral("/echo"));
    backend->sendRaw({"broadcast", m_ids.at(3) + ' ' + m_ids.at(1), "some"});
    QVERIFY(m_clients.at(1)->waitForMessage(QStringLiteral("some")));
    QVERIFY(m_clients.at(3)->waitForMessage(QStringLiteral("some")));
    // Sessions 0 and 2 get only what is sent to them afterwards.
    backend->sendMessage(m_ids.at(0), "zero");
    backend->sendMessage(m_ids.at(2), "two");
    QVERIFY(m_clients.at(0)->waitForMessage(QStringLiteral("zero")));
    QVERIFY(m_clients.at(2)->waitForMessage(QStringLiteral("two")));
    QCOMPARE(m_clients.at(0)->messages(), QStringList{QStringLiteral("zero")});
    QCOMPARE(m_clients.at(1)->messages(), QStringList{QStringLiteral("some")});
    QCOMPARE(m_clients.at(2)->messages(), QStringList{QStringLiteral("two")});
    QCOMPARE(m_clients.at(3)->messages(), QStringList{QStringLiteral("some")});
    const Service *service = serviceOf(m_server->server(), QStringLiteral("/echo"));
    QCOMPARE(service->counters()[Counter::UnknownSessionFromBackend], quint64(0));
}

void tst_Broadcast::unknownAndRepeatedIds()
{
    openSessions(2);
    TestBackend *backend = m_server->backend(QStringLiteral("/echo"));
    // Each id once however often it is named; unknown ids are counted.
    backend->sendRaw({"broadcast", "  " + m_ids.at(0) + "  nobody-1 " + m_ids.at(0) + " nobody-2 ", "x"});
    QVERIFY(m_clients.at(0)->waitForMessage(QStringLiteral("x")));
    const Service *service = serviceOf(m_server->server(), QStringLiteral("/echo"));
    QTRY_COMPARE_WITH_TIMEOUT(service->counters()[Counter::UnknownSessionFromBackend], quint64(2), kWaitMs);
    backend->sendMessage(m_ids.at(0), "y");
    backend->sendMessage(m_ids.at(1), "y");
    QVERIFY(m_clients.at(0)->waitForMessage(QStringLiteral("y")));
    QVERIFY(m_clients.at(1)->waitForMessage(QStringLiteral("y")));
    QCOMPARE(m_clients.at(0)->messages(), (QStringList{QStringLiteral("x"), QStringLiteral("y")}));
    QCOMPARE(m_clients.at(1)->messages(), QStringList{QStringLiteral("y")});
}

void tst_Broadcast::targetOfSpacesOnly()
{
    openSessions(2);
    TestBackend *backend = m_server->backend(QStringLiteral("/echo"));
    // Names nobody: not the same as empty (everybody).
    backend->sendRaw({"broadcast", "   ", "x"});
    const Service *service = serviceOf(m_server->server(), QStringLiteral("/echo"));
    QTRY_COMPARE_WITH_TIMEOUT(service->counters()[Counter::UnknownSessionFromBackend], quint64(1), kWaitMs);
    backend->sendMessage(m_ids.at(0), "y");
    backend->sendMessage(m_ids.at(1), "y");
    QVERIFY(m_clients.at(0)->waitForMessage(QStringLiteral("y")));
    QVERIFY(m_clients.at(1)->waitForMessage(QStringLiteral("y")));
    QCOMPARE(m_clients.at(0)->messages(), QStringList{QStringLiteral("y")});
    QCOMPARE(m_clients.at(1)->messages(), QStringList{QStringLiteral("y")});
    QCOMPARE(service->bridge()->counters()[Counter::BackendReceivedBroadcast], quint64(1));
}

QTEST_GUILESS_MAIN(tst_Broadcast)
#include "tst_broadcast.moc"
