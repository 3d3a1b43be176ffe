// End to end: connect_info, require_accept and close codes with a real
// Python backend. The real sockjsproxy-cli runs samples/chat/chat.json with
// this test's ports; samples/chat/chat-sjp.py reads the nickname cookie and
// the client's address from the connect data, accepts or refuses with its
// own close code, and sends to the room one message per member. With the
// backend gone, a session is closed when accept_timeout_ms has passed.

#include "ports.h"
#include "processguard.h"
#include "testpaths.h"
#include "waituntil.h"
#include "websocketclient.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>

using namespace SockJsProxy;
using namespace SockJsProxy::Test;

namespace {

// A chat message the backend sent, as JSON.
QJsonObject chatEvent(const QString &message) { return QJsonDocument::fromJson(message.toUtf8()).object(); }

WebSocketClient::Headers nickCookie(const QByteArray &nick) { return {{"Cookie", "theme=dark; chat_nick=" + nick}}; }

} // namespace

class tst_ChatSample : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();
    void acceptedWithConnectInfo();
    void refusedWithItsCloseCode();
    void timeoutWithoutBackend();

private:
    QTemporaryDir m_dir;
    Ports m_ports;
    std::unique_ptr<ProcessGuard> m_guard;
    Child *m_proxy = nullptr;
    Child *m_backend = nullptr;
};

void tst_ChatSample::initTestCase()
{
    QVERIFY(m_dir.isValid());
    QVERIFY2(QFile::exists(cliPath()), qPrintable(cliPath()));
}

// The sample's own configuration, with this test's ports and a short
// accept timeout.
void tst_ChatSample::init()
{
    m_ports = Ports::pick();
    QVERIFY(m_ports.ok());
    QFile sample(sourceDir() + QStringLiteral("/samples/chat/chat.json"));
    QVERIFY(sample.open(QIODevice::ReadOnly));
    QJsonObject config = QJsonDocument::fromJson(sample.readAll()).object();
    QJsonObject service = config.value("services").toArray().at(0).toObject();
    QCOMPARE(service.value("connect_info").toObject().value("cookies").toBool(), true);
    QCOMPARE(service.value("require_accept").toBool(), true);
    service.insert("zmq", QJsonObject{{"in", m_ports.inEndpoint()}, {"out", m_ports.outEndpoint()}});
    service.insert("accept_timeout_ms", 300);
    service.remove("origins"); // the test's clients send no Origin
    config.insert("services", QJsonArray{service});
    config.insert("http", QJsonObject{{"address", "127.0.0.1"}, {"port", m_ports.http}});
    config.remove("static");
    QFile file(m_dir.filePath(QStringLiteral("chat.json")));
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write(QJsonDocument(config).toJson());
    file.close();

    m_guard = std::make_unique<ProcessGuard>();
    m_proxy = m_guard->startProxy({QStringLiteral("--config"), file.fileName()}, m_ports.http, "/chat");
    QVERIFY(m_proxy);
    m_backend =
        m_guard->startPythonBackend(QStringLiteral("chat/chat-sjp.py"), m_ports.pythonArgs() << QStringLiteral("-v"));
    QVERIFY(m_backend);
}

void tst_ChatSample::cleanup()
{
    m_guard.reset();
    m_proxy = m_backend = nullptr;
}

// The backend reads the nickname cookie and the address from connect_info,
// accepts, and the session opens; a message reaches every member.
void tst_ChatSample::acceptedWithConnectInfo()
{
    WebSocketClient alice;
    QVERIFY(alice.openSession(m_ports.http, "/chat/000/a/websocket", nickCookie("alice")));
    QVERIFY(alice.waitForMessages(2));
    const QJsonObject welcome = chatEvent(alice.messages().at(0));
    QCOMPARE(welcome.value("type").toString(), QStringLiteral("welcome"));
    QCOMPARE(welcome.value("nick").toString(), QStringLiteral("alice"));
    QCOMPARE(welcome.value("address").toString(), QStringLiteral("127.0.0.1"));
    QCOMPARE(chatEvent(alice.messages().at(1)).value("type").toString(), QStringLiteral("joined"));
    QVERIFY(waitForLine(m_backend, "joined as alice from 127.0.0.1 over websocket"));

    WebSocketClient bob;
    QVERIFY(bob.openSession(m_ports.http, "/chat/000/b/websocket", nickCookie("bob")));
    QVERIFY(alice.waitForMessages(3)); // bob joined
    bob.send({QStringLiteral("hi all")});
    QVERIFY(alice.waitForMessages(4));
    QVERIFY(bob.waitForMessages(3)); // welcome, joined, the message
    const QJsonObject expected{{"type", "message"}, {"nick", "bob"}, {"text", "hi all"}};
    QCOMPARE(chatEvent(alice.messages().at(3)), expected);
    QCOMPARE(chatEvent(bob.messages().at(2)), expected);
}

// A taken or malformed nickname: the client gets the backend's close code
// and reason, and never an open frame.
void tst_ChatSample::refusedWithItsCloseCode()
{
    WebSocketClient alice;
    QVERIFY(alice.openSession(m_ports.http, "/chat/000/a/websocket", nickCookie("alice")));

    WebSocketClient taken;
    QVERIFY(taken.connectTo(m_ports.http, "/chat/000/t/websocket", nickCookie("alice")));
    QVERIFY(taken.waitForDisconnect());
    QCOMPARE(taken.frames(), (QList<QByteArray>{"c[4002,\"Nickname taken\"]"}));
    QCOMPARE(taken.closeCode(), 4002);
    QCOMPARE(taken.closeReason(), QStringLiteral("Nickname taken"));

    WebSocketClient bad;
    QVERIFY(bad.connectTo(m_ports.http, "/chat/000/x/websocket", nickCookie("no%20spaces")));
    QVERIFY(bad.waitForDisconnect());
    QCOMPARE(bad.frames(), (QList<QByteArray>{"c[4001,\"Bad nickname\"]"}));
    QVERIFY(waitForLine(m_backend, "4001 Bad nickname"));
    QVERIFY(!alice.isDisconnected());
}

// No backend to accept: after accept_timeout_ms (300 here) the session
// closes with 3008, and the client never saw it open.
void tst_ChatSample::timeoutWithoutBackend()
{
    m_backend->sendSignal(SIGTERM);
    QVERIFY(waitForExit(m_backend));
    WebSocketClient late;
    QVERIFY(late.connectTo(m_ports.http, "/chat/000/l/websocket", nickCookie("late")));
    QVERIFY(late.waitForDisconnect());
    QCOMPARE(late.frames(), (QList<QByteArray>{"c[3008,\"Backend did not accept\"]"}));
    QCOMPARE(late.closeCode(), 3008);
    QVERIFY(waitForLine(m_proxy, "not accepted by the backend within 300 ms"));
}

QTEST_GUILESS_MAIN(tst_ChatSample)
#include "tst_chatsample.moc"
