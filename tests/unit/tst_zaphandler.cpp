// ZapHandler: the ZAP (RFC 27) handler of the process's ZeroMQ context. A
// Req ZmqSocket plays libzmq's part and sends requests to
// inproc://zeromq.zap.01; every reply is compared frame by frame.

#include "zmq/zaphandler.h"

#include <QSignalSpy>
#include <QTest>

#include <zmq.h>

#include <memory>

using namespace SockJsProxy;

namespace {

constexpr int kWaitMs = 5000;

// A 32-byte key and its Z85 text.
QByteArray binaryKey()
{
    QByteArray key(32, '\0');
    for (int i = 0; i < 32; ++i)
        key[i] = char(i * 7 + 1);
    return key;
}

QByteArray z85(const QByteArray &binary)
{
    char text[41] = {};
    zmq_z85_encode(text, reinterpret_cast<const uint8_t *>(binary.constData()), size_t(binary.size()));
    return QByteArray(text);
}

ZmqMessage curveRequest(const QByteArray &id, const QByteArray &domain, const QByteArray &key = binaryKey())
{
    return {"1.0", id, domain, "127.0.0.1", "", "CURVE", key};
}

// Sends one request the way libzmq does and waits for its reply.
class Requester
{
public:
    Requester() : m_socket(ZmqSocket::Type::Req)
    {
        QObject::connect(&m_socket, &ZmqSocket::messageReceived, &m_socket,
                         [this](const ZmqMessage &reply) { m_replies.append(reply); });
        m_socket.connectTo(QStringLiteral("inproc://zeromq.zap.01"));
    }
    ZmqMessage ask(const ZmqMessage &request)
    {
        const qsizetype before = m_replies.size();
        m_socket.send(request);
        if (!QTest::qWaitFor([&] { return m_replies.size() > before; }, kWaitMs))
            return {};
        return m_replies.last();
    }

private:
    ZmqSocket m_socket;
    QList<ZmqMessage> m_replies;
};

} // namespace

class tst_ZapHandler : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void sharedWhileHeld();
    void domains();
    void replies();
    void policyOfDeletedContextRefuses();
};

void tst_ZapHandler::sharedWhileHeld()
{
    QString error;
    std::shared_ptr<ZapHandler> first = ZapHandler::shared(&error);
    QVERIFY2(first, qPrintable(error));
    QCOMPARE(ZapHandler::shared(&error), first);
    // Released by everyone: the next one binds the address again.
    first.reset();
    std::shared_ptr<ZapHandler> second = ZapHandler::shared(&error);
    QVERIFY2(second, qPrintable(error));
}

void tst_ZapHandler::domains()
{
    QString error;
    const std::shared_ptr<ZapHandler> handler = ZapHandler::shared(&error);
    QVERIFY2(handler, qPrintable(error));
    QObject context;
    const auto yes = [](const ZapHandler::Request &) { return true; };
    QCOMPARE(handler->addDomain("svc", &context, yes), QByteArray("svc"));
    QCOMPARE(handler->addDomain("svc", &context, yes), QByteArray("svc#2"));
    QCOMPARE(handler->addDomain("svc", &context, yes), QByteArray("svc#3"));
    handler->removeDomain("svc#2");
    QCOMPARE(handler->addDomain("svc", &context, yes), QByteArray("svc#2"));
    for (const char *domain : {"svc", "svc#2", "svc#3"})
        handler->removeDomain(domain);
}

void tst_ZapHandler::replies()
{
    QString error;
    const std::shared_ptr<ZapHandler> handler = ZapHandler::shared(&error);
    QVERIFY2(handler, qPrintable(error));
    QObject context;
    QList<ZapHandler::Request> asked;
    const QByteArray allowed = z85(binaryKey());
    const QByteArray domain = handler->addDomain("replies", &context, [&](const ZapHandler::Request &request) {
        asked.append(request);
        return request.publicKey == allowed;
    });

    Requester zmq;
    // Allowed: 200, the user id is the key.
    QCOMPARE(zmq.ask(curveRequest("id-1", domain)), (ZmqMessage{"1.0", "id-1", "200", "OK", allowed, ""}));
    QCOMPARE(asked.size(), 1);
    QCOMPARE(asked.at(0).domain, domain);
    QCOMPARE(asked.at(0).address, QByteArray("127.0.0.1"));
    QCOMPARE(asked.at(0).mechanism, QByteArray("CURVE"));
    QCOMPARE(asked.at(0).publicKey, allowed);

    // Another key: 400.
    QByteArray other = binaryKey();
    other[0] = 'x';
    QCOMPARE(zmq.ask(curveRequest("id-2", domain, other)),
             (ZmqMessage{"1.0", "id-2", "400", "Key not allowed", "", ""}));
    QCOMPARE(asked.size(), 2);
    QCOMPARE(asked.at(1).publicKey, z85(other));

    // Refused without asking the policy, and logged.
    QTest::ignoreMessage(QtWarningMsg, "ZAP request for unknown domain no such domain from 127.0.0.1 refused");
    QCOMPARE(zmq.ask(curveRequest("id-3", "no such domain")),
             (ZmqMessage{"1.0", "id-3", "400", "Unknown domain", "", ""}));
    QTest::ignoreMessage(QtWarningMsg, "ZAP request of mechanism PLAIN from 127.0.0.1 refused (CURVE only)");
    QCOMPARE(zmq.ask({"1.0", "id-4", domain, "127.0.0.1", "", "PLAIN", "user", "password"}),
             (ZmqMessage{"1.0", "id-4", "400", "CURVE only", "", ""}));
    QTest::ignoreMessage(QtWarningMsg, "ZAP request of mechanism NULL from 127.0.0.1 refused (CURVE only)");
    QCOMPARE(zmq.ask({"1.0", "id-5", domain, "127.0.0.1", "", "NULL"}),
             (ZmqMessage{"1.0", "id-5", "400", "CURVE only", "", ""}));
    QTest::ignoreMessage(QtWarningMsg, "malformed CURVE ZAP request from 127.0.0.1 refused: no 32-byte key");
    QCOMPARE(zmq.ask(curveRequest("id-6", domain, binaryKey().left(31))),
             (ZmqMessage{"1.0", "id-6", "500", "Malformed request", "", ""}));
    QTest::ignoreMessage(QtWarningMsg, "malformed ZAP request refused: 7 frames");
    QCOMPARE(zmq.ask({"2.0", "id-7", domain, "127.0.0.1", "", "CURVE", binaryKey()}),
             (ZmqMessage{"1.0", "id-7", "500", "Malformed request", "", ""}));
    QTest::ignoreMessage(QtWarningMsg, "malformed ZAP request refused: 2 frames");
    QCOMPARE(zmq.ask({"1.0", "id-8"}), (ZmqMessage{"1.0", "id-8", "500", "Malformed request", "", ""}));
    QCOMPARE(asked.size(), 2);
    QVERIFY(handler->answeredCount() >= 8);
    handler->removeDomain(domain);
}

void tst_ZapHandler::policyOfDeletedContextRefuses()
{
    QString error;
    const std::shared_ptr<ZapHandler> handler = ZapHandler::shared(&error);
    QVERIFY2(handler, qPrintable(error));
    int calls = 0;
    auto context = std::make_unique<QObject>();
    const QByteArray domain = handler->addDomain("gone", context.get(), [&calls](const ZapHandler::Request &) {
        ++calls;
        return true;
    });
    context.reset();
    Requester zmq;
    QTest::ignoreMessage(QtWarningMsg, "ZAP request for unknown domain gone from 127.0.0.1 refused");
    QCOMPARE(zmq.ask(curveRequest("id", domain)), (ZmqMessage{"1.0", "id", "400", "Unknown domain", "", ""}));
    QCOMPARE(calls, 0);
    handler->removeDomain(domain);
}

QTEST_GUILESS_MAIN(tst_ZapHandler)
#include "tst_zaphandler.moc"
