// ZmqSocket: a ZeroMQ socket on the Qt event loop. Real sockets (inproc and
// tcp on 127.0.0.1), no sleeps: every wait runs the event loop until a
// condition holds or a timeout fails the test.

#include "zmq/zmqsocket.h"

#include <QPointer>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QSocketNotifier>
#include <QTest>
#include <QTimer>

#include <zmq.hpp>

#include <algorithm>
#include <memory>
#include <utility>

using namespace SockJsProxy;

namespace {

constexpr qsizetype kBurst = 10000;
constexpr int kSlowWaitMs = 15000; // generous under ASan; passing runs take far less

QString inprocEndpoint(const char *tag)
{
    static int counter = 0;
    return QStringLiteral("inproc://tst-zmqsocket-%1-%2").arg(QLatin1String(tag)).arg(++counter);
}

const QString kTcpAny = QStringLiteral("tcp://127.0.0.1:*");

// Message i of a stream: type, id, data. Data cycles through an empty frame,
// binary with embedded NULs, a large all-one-byte block (all NULs when
// i % 256 == 0) and text.
ZmqMessage makeMessage(qsizetype i)
{
    QByteArray data;
    switch (i % 4) {
    case 0:
        break;
    case 1:
        data = QByteArray("\0bin\0ary\0", 9) + QByteArray::number(i);
        break;
    case 2:
        data = QByteArray(200 + i % 57, char(i % 256));
        break;
    default:
        data = "payload " + QByteArray::number(i);
        break;
    }
    return {i % 2 ? QByteArrayLiteral("message") : QByteArrayLiteral("close"), QByteArray::number(i), data};
}

// Index of the first message that is not makeMessage(first + index), or -1.
qsizetype firstMismatch(const QList<ZmqMessage> &got, qsizetype first = 0)
{
    for (qsizetype i = 0; i < got.size(); ++i) {
        if (got.at(i) != makeMessage(first + i))
            return i;
    }
    return -1;
}

void collect(ZmqSocket *socket, QList<ZmqMessage> *into)
{
    QObject::connect(socket, &ZmqSocket::messageReceived, socket,
                     [into](const ZmqMessage &message) { into->append(message); });
}

int activeTimers(const QObject &object)
{
    int active = 0;
    const QList<QTimer *> timers = object.findChildren<QTimer *>();
    for (const QTimer *timer : timers)
        active += timer->isActive() ? 1 : 0;
    return active;
}

int zmqIntOption(const ZmqSocket &socket, int option)
{
    int value = -1;
    size_t size = sizeof value;
    if (zmq_getsockopt(socket.handle(), option, &value, &size) != 0)
        return -1;
    return value;
}

// Runs the event loop for a while (no sleep: timers and notifiers keep firing).
void spinEventLoop(int ms)
{
    QTimer timer;
    timer.setSingleShot(true);
    QSignalSpy fired(&timer, &QTimer::timeout);
    timer.start(ms);
    QVERIFY(fired.wait(ms + 5000));
}

// Counts and swallows the outbox-full warnings; everything else goes on to
// Qt Test's handler.
class DropWarningCounter
{
public:
    DropWarningCounter()
    {
        s_count = 0;
        s_previous = qInstallMessageHandler(&DropWarningCounter::handler);
    }
    ~DropWarningCounter() { qInstallMessageHandler(s_previous); }
    int count() const { return s_count; }

private:
    static void handler(QtMsgType type, const QMessageLogContext &context, const QString &text)
    {
        if (type == QtWarningMsg && text.contains(QLatin1String("outbox full"))) {
            ++s_count;
            return;
        }
        s_previous(type, context, text);
    }
    static inline int s_count = 0;
    static inline QtMessageHandler s_previous = nullptr;
};

} // namespace

class tst_ZmqSocket : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void burst_data();
    void burst();
    void drainsMessagesQueuedBeforeWakeUp_data();
    void drainsMessagesQueuedBeforeWakeUp();
    void queuesUntilPeerConnects();
    void echoOverSocketsThatSendAndReceive();
    void replyAndRequestTakeTurns();
    void nestedEventLoopInSlot();
    void peerRestart();
    void budgetYieldsToEventLoop_data();
    void budgetYieldsToEventLoop();
    void bindFailure();
    void deleteFromSlot_data();
    void deleteFromSlot();
    void deleteFromSlotInsideSend();
    void counters();
    void sendFromSlotDoesNotRecurse();
    void sendErrorIsReportedAndDropped();
    void subscribeFilters();
    void options();
};

void tst_ZmqSocket::burst_data()
{
    QTest::addColumn<bool>("tcp");
    QTest::addColumn<bool>("pushBinds");
    QTest::newRow("inproc, PUSH binds") << false << true;
    QTest::newRow("tcp, PUSH binds") << true << true;
    QTest::newRow("inproc, PULL binds") << false << false;
    QTest::newRow("tcp, PULL binds") << true << false;
}

// Thousands of three-frame messages arrive complete, in order, byte-exact,
// through the default high-water marks (so the outbox and the POLLOUT
// wake-ups are exercised too).
void tst_ZmqSocket::burst()
{
    QFETCH(bool, tcp);
    QFETCH(bool, pushBinds);

    ZmqSocket push(ZmqSocket::Type::Push);
    ZmqSocket pull(ZmqSocket::Type::Pull);
    QSignalSpy pushErrors(&push, &ZmqSocket::error);
    QSignalSpy pullErrors(&pull, &ZmqSocket::error);
    QList<ZmqMessage> received;
    collect(&pull, &received);

    ZmqSocket &binder = pushBinds ? push : pull;
    ZmqSocket &connector = pushBinds ? pull : push;
    QString error;
    QVERIFY2(binder.bind(tcp ? kTcpAny : inprocEndpoint("burst"), &error), qPrintable(error));
    const QString endpoint = binder.lastEndpoint();
    QVERIFY(!endpoint.isEmpty());
    QVERIFY2(!endpoint.endsWith(QLatin1Char('*')), qPrintable(endpoint));
    QVERIFY2(connector.connectTo(endpoint, &error), qPrintable(error));

    for (qsizetype i = 0; i < kBurst; ++i)
        QVERIFY(push.send(makeMessage(i)));

    QTRY_COMPARE_WITH_TIMEOUT(received.size(), kBurst, kSlowWaitMs);
    const qsizetype bad = firstMismatch(received);
    if (bad >= 0)
        QCOMPARE(received.at(bad), makeMessage(bad));

    QCOMPARE(push.sentCount(), quint64(kBurst));
    QCOMPARE(pull.receivedCount(), quint64(kBurst));
    QCOMPARE(push.outboxSize(), qsizetype(0));
    QCOMPARE(push.droppedCount(), quint64(0));
    QCOMPARE(pushErrors.count(), 0);
    QCOMPARE(pullErrors.count(), 0);

    // Idle: no retry timer left running on either side, and nothing more arrives.
    QCOMPARE(activeTimers(push), 0);
    QCOMPARE(activeTimers(pull), 0);
    spinEventLoop(50);
    QCOMPARE(received.size(), kBurst);
}

void tst_ZmqSocket::drainsMessagesQueuedBeforeWakeUp_data()
{
    QTest::addColumn<bool>("tcp");
    QTest::newRow("inproc, ZmqSocket peer") << false;
    QTest::newRow("tcp, plain libzmq peer in its own context") << true;
}

// ZMQ_FD signals once for a whole batch: everything the peer queued before
// the event loop ran must still be received, not just one message per wake-up.
void tst_ZmqSocket::drainsMessagesQueuedBeforeWakeUp()
{
    QFETCH(bool, tcp);
    constexpr qsizetype count = 5000;

    ZmqSocket pull(ZmqSocket::Type::Pull);
    pull.setReceiveHighWaterMark(0);
    QList<ZmqMessage> received;
    collect(&pull, &received);
    auto *notifier = pull.findChild<QSocketNotifier *>();
    QVERIFY(notifier);
    int wakeUps = 0;
    connect(notifier, &QSocketNotifier::activated, &pull, [&wakeUps] { ++wakeUps; });

    QVERIFY(pull.bind(tcp ? kTcpAny : inprocEndpoint("drain")));
    const QString endpoint = pull.lastEndpoint();

    // Both peers send everything before the event loop gets a turn.
    std::unique_ptr<ZmqSocket> push;
    zmq::context_t foreignContext;
    zmq::socket_t foreignPush(foreignContext, zmq::socket_type::push);
    foreignPush.set(zmq::sockopt::linger, 0);
    if (tcp) {
        foreignPush.set(zmq::sockopt::sndhwm, 0);
        foreignPush.connect(endpoint.toStdString());
        for (qsizetype i = 0; i < count; ++i) {
            const ZmqMessage message = makeMessage(i);
            for (qsizetype f = 0; f < message.size(); ++f) {
                const QByteArray &frame = message.at(f);
                const auto sent =
                    foreignPush.send(zmq::const_buffer(frame.constData(), size_t(frame.size())),
                                     f + 1 < message.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
                QVERIFY(sent.has_value());
            }
        }
    } else {
        push = std::make_unique<ZmqSocket>(ZmqSocket::Type::Push);
        push->setSendHighWaterMark(0);
        QVERIFY(push->connectTo(endpoint));
        for (qsizetype i = 0; i < count; ++i)
            QVERIFY(push->send(makeMessage(i)));
        QCOMPARE(push->sentCount(), quint64(count)); // all in ZeroMQ's pipe already
    }
    QCOMPARE(received.size(), qsizetype(0));

    QTRY_COMPARE_WITH_TIMEOUT(received.size(), count, kSlowWaitMs);
    const qsizetype bad = firstMismatch(received);
    if (bad >= 0)
        QCOMPARE(received.at(bad), makeMessage(bad));
    // Far fewer wake-ups than messages: a one-message-per-wake-up handler
    // would have stalled.
    QVERIFY2(wakeUps < count / 10, qPrintable(QStringLiteral("%1 wake-ups for %2 messages").arg(wakeUps).arg(count)));
}

// Sockets that both send and receive (a PAIR echoing over tcp): sends from
// outside process() and from inside its emissions must not swallow the
// ZMQ_FD edge that announces incoming messages, so every echo arrives.
void tst_ZmqSocket::echoOverSocketsThatSendAndReceive()
{
    constexpr qsizetype count = 3000;
    ZmqSocket client(ZmqSocket::Type::Pair);
    ZmqSocket echo(ZmqSocket::Type::Pair);
    connect(&echo, &ZmqSocket::messageReceived, &echo, [&echo](const ZmqMessage &message) { echo.send(message); });
    QList<ZmqMessage> received;
    collect(&client, &received);
    QVERIFY(echo.bind(kTcpAny));
    QVERIFY(client.connectTo(echo.lastEndpoint()));

    // In rounds of varying size, each sent between two turns of the event
    // loop, while echoes of the previous rounds are coming in.
    qsizetype sent = 0;
    for (qsizetype round = 1; sent < count; ++round) {
        for (qsizetype i = 0; i < round % 17 && sent < count; ++i)
            QVERIFY(client.send(makeMessage(sent++)));
        QCoreApplication::processEvents();
    }
    QTRY_COMPARE_WITH_TIMEOUT(received.size(), count, kSlowWaitMs);
    const qsizetype bad = firstMismatch(received);
    if (bad >= 0)
        QCOMPARE(received.at(bad), makeMessage(bad));
    QCOMPARE(echo.receivedCount(), quint64(count));
    QCOMPARE(echo.sentCount(), quint64(count));
    QCOMPARE(client.droppedCount() + echo.droppedCount(), quint64(0));
    spinEventLoop(50);
    QCOMPARE(received.size(), count);
    QCOMPARE(activeTimers(client), 0);
    QCOMPARE(activeTimers(echo), 0);
}

// Rep receives one request, then sends its reply, then receives the next;
// Req sends one request and waits for its reply. Many requests queued at
// once on the Rep side (several clients) and several queued on one Req:
// receiving twice in a row would fail with EFSM and report an error.
void tst_ZmqSocket::replyAndRequestTakeTurns()
{
    constexpr int clients = 8;
    constexpr int requestsPerClient = 25;
    ZmqSocket server(ZmqSocket::Type::Rep);
    QSignalSpy serverErrors(&server, &ZmqSocket::error);
    // Replies from the slot, and every third one a turn of the loop later.
    int requestsSeen = 0;
    connect(&server, &ZmqSocket::messageReceived, &server, [&server, &requestsSeen](const ZmqMessage &request) {
        const ZmqMessage reply{QByteArrayLiteral("re"), request.value(0)};
        if (++requestsSeen % 3 == 0)
            QTimer::singleShot(0, &server, [&server, reply] { server.send(reply); });
        else
            server.send(reply);
    });
    const QString endpoint = inprocEndpoint("rep");
    QVERIFY(server.bind(endpoint));

    std::vector<std::unique_ptr<ZmqSocket>> requesters;
    std::vector<QList<ZmqMessage>> replies(clients);
    int errors = 0;
    for (int c = 0; c < clients; ++c) {
        requesters.push_back(std::make_unique<ZmqSocket>(ZmqSocket::Type::Req));
        ZmqSocket *requester = requesters.back().get();
        connect(requester, &ZmqSocket::error, requester, [&errors] { ++errors; });
        collect(requester, &replies[c]);
        QVERIFY(requester->connectTo(endpoint));
        // All queued at once: Req sends the next only after the last reply.
        for (int r = 0; r < requestsPerClient; ++r)
            QVERIFY(requester->send({QByteArray::number(c * 1000 + r)}));
    }
    for (int c = 0; c < clients; ++c) {
        QTRY_COMPARE_WITH_TIMEOUT(replies[c].size(), requestsPerClient, kSlowWaitMs);
        for (int r = 0; r < requestsPerClient; ++r)
            QCOMPARE(replies[c].at(r), (ZmqMessage{QByteArrayLiteral("re"), QByteArray::number(c * 1000 + r)}));
        QCOMPARE(requesters[c]->droppedCount(), quint64(0));
    }
    QCOMPARE(requestsSeen, clients * requestsPerClient);
    QCOMPARE(server.receivedCount(), quint64(clients * requestsPerClient));
    QCOMPARE(server.sentCount(), quint64(clients * requestsPerClient));
    QCOMPARE(serverErrors.count(), 0);
    QCOMPARE(errors, 0);
    QCOMPARE(activeTimers(server), 0);
}

// A slot that runs a nested event loop while the peer sends more: the
// notifier must not fire again and again on the ZMQ_FD only the suspended
// pass can clear (a busy loop), and nothing is lost or reordered.
void tst_ZmqSocket::nestedEventLoopInSlot()
{
    ZmqSocket push(ZmqSocket::Type::Push);
    ZmqSocket pull(ZmqSocket::Type::Pull);
    QVERIFY(pull.bind(inprocEndpoint("nested")));
    QVERIFY(push.connectTo(pull.lastEndpoint()));
    auto *notifier = pull.findChild<QSocketNotifier *>();
    QVERIFY(notifier);
    int wakeUps = 0;
    connect(notifier, &QSocketNotifier::activated, &pull, [&wakeUps] { ++wakeUps; });

    QList<ZmqMessage> received;
    int wakeUpsWhileNested = -1;
    connect(&pull, &ZmqSocket::messageReceived, &pull, [&](const ZmqMessage &message) {
        received.append(message);
        if (received.size() != 1)
            return;
        // The second message arrives while the first is still being handled.
        QTimer::singleShot(10, &push, [&push] { QVERIFY(push.send(makeMessage(1))); });
        const int before = wakeUps;
        spinEventLoop(200);
        wakeUpsWhileNested = wakeUps - before;
    });

    QVERIFY(push.send(makeMessage(0)));
    QTRY_COMPARE_WITH_TIMEOUT(received.size(), qsizetype(2), kSlowWaitMs);
    QCOMPARE(firstMismatch(received), qsizetype(-1));
    QVERIFY2(wakeUpsWhileNested >= 0 && wakeUpsWhileNested <= 2,
             qPrintable(QStringLiteral("%1 wake-ups in a 200 ms nested loop").arg(wakeUpsWhileNested)));
    QVERIFY(notifier->isEnabled());

    // Still awake afterwards.
    QVERIFY(push.send(makeMessage(2)));
    QTRY_COMPARE_WITH_TIMEOUT(received.size(), qsizetype(3), kSlowWaitMs);
    QCOMPARE(firstMismatch(received), qsizetype(-1));
}

// The backend connects after the proxy started: a bound PUSH with no peer
// keeps a bounded outbox, drops and counts the overflow, and delivers exactly
// what it kept once a PULL connects.
void tst_ZmqSocket::queuesUntilPeerConnects()
{
    DropWarningCounter warnings;
    ZmqSocket push(ZmqSocket::Type::Push);
    push.setOutboxLimit(10);
    QVERIFY(push.bind(kTcpAny));
    const QString endpoint = push.lastEndpoint();

    for (qsizetype i = 0; i < 10; ++i)
        QVERIFY(push.send(makeMessage(i)));
    for (qsizetype i = 10; i < 20; ++i)
        QVERIFY(!push.send(makeMessage(i)));
    QCOMPARE(push.droppedCount(), quint64(10));
    QCOMPARE(push.outboxSize(), qsizetype(10));
    QCOMPARE(push.sentCount(), quint64(0));
    QCOMPARE(warnings.count(), 1);   // rate-limited: one line for the ten drops
    QCOMPARE(activeTimers(push), 1); // the safety net, while messages wait

    std::unique_ptr<ZmqSocket> pull;
    QList<ZmqMessage> received;
    bool connected = false;
    QTimer::singleShot(150, &push, [&] {
        pull = std::make_unique<ZmqSocket>(ZmqSocket::Type::Pull);
        collect(pull.get(), &received);
        connected = pull->connectTo(endpoint);
    });
    QTRY_VERIFY(connected);
    QTRY_COMPARE_WITH_TIMEOUT(received.size(), qsizetype(10), kSlowWaitMs);
    const qsizetype bad = firstMismatch(received);
    if (bad >= 0)
        QCOMPARE(received.at(bad), makeMessage(bad));

    // Exactly those ten: the next message is the eleventh to arrive.
    const ZmqMessage marker{QByteArrayLiteral("marker")};
    QVERIFY(push.send(marker));
    QTRY_COMPARE(received.size(), qsizetype(11));
    QCOMPARE(received.last(), marker);
    QCOMPARE(push.sentCount(), quint64(11));
    QCOMPARE(push.droppedCount(), quint64(10));
    QCOMPARE(push.outboxSize(), qsizetype(0));
    QCOMPARE(activeTimers(push), 0);
    QCOMPARE(warnings.count(), 1);
}

// The backend restarts: messages sent while it is gone wait in the bounded
// outbox and reach the new instance; nothing hangs on the way.
void tst_ZmqSocket::peerRestart()
{
    DropWarningCounter warnings;
    ZmqSocket push(ZmqSocket::Type::Push);
    QVERIFY(push.bind(kTcpAny));
    const QString endpoint = push.lastEndpoint();

    auto pull = std::make_unique<ZmqSocket>(ZmqSocket::Type::Pull);
    QList<ZmqMessage> first;
    collect(pull.get(), &first);
    QVERIFY(pull->connectTo(endpoint));
    for (qsizetype i = 0; i < 100; ++i)
        QVERIFY(push.send(makeMessage(i)));
    QTRY_COMPARE_WITH_TIMEOUT(first.size(), qsizetype(100), kSlowWaitMs);
    QCOMPARE(firstMismatch(first), qsizetype(-1));

    pull.reset();
    push.setOutboxLimit(50);
    // Once the PUSH has seen the peer go, ZeroMQ takes no more messages.
    // (Reading ZMQ_EVENTS from outside is harmless here: the outbox is empty.)
    QTRY_VERIFY_WITH_TIMEOUT(!(zmqIntOption(push, ZMQ_EVENTS) & ZMQ_POLLOUT), kSlowWaitMs);

    for (qsizetype i = 100; i < 150; ++i)
        QVERIFY(push.send(makeMessage(i)));
    for (qsizetype i = 150; i < 160; ++i)
        QVERIFY(!push.send(makeMessage(i)));
    QCOMPARE(push.outboxSize(), qsizetype(50));
    QCOMPARE(push.droppedCount(), quint64(10));
    QCOMPARE(push.sentCount(), quint64(100));
    QCOMPARE(warnings.count(), 1);

    pull = std::make_unique<ZmqSocket>(ZmqSocket::Type::Pull);
    QList<ZmqMessage> second;
    collect(pull.get(), &second);
    QVERIFY(pull->connectTo(endpoint));
    QTRY_COMPARE_WITH_TIMEOUT(second.size(), qsizetype(50), kSlowWaitMs);
    const qsizetype bad = firstMismatch(second, 100);
    if (bad >= 0)
        QCOMPARE(second.at(bad), makeMessage(100 + bad));
    QCOMPARE(push.sentCount(), quint64(150));
    QCOMPARE(push.outboxSize(), qsizetype(0));
    QCOMPARE(activeTimers(push), 0);
}

void tst_ZmqSocket::budgetYieldsToEventLoop_data()
{
    QTest::addColumn<int>("budget");
    QTest::addColumn<bool>("expectYield");
    QTest::newRow("budget 64") << 64 << true;
    // Control: proves the probe below detects a drain that never yields.
    QTest::newRow("no budget (control)") << 1000000 << false;
}

// A busy peer cannot starve the event loop: a zero timer started when
// draining begins fires long before the last queued message is received.
void tst_ZmqSocket::budgetYieldsToEventLoop()
{
    QFETCH(int, budget);
    QFETCH(bool, expectYield);

    ZmqSocket pull(ZmqSocket::Type::Pull);
    pull.setReceiveHighWaterMark(0);
    pull.setBudget(budget);
    ZmqSocket push(ZmqSocket::Type::Push);
    push.setSendHighWaterMark(0);
    QVERIFY(pull.bind(inprocEndpoint("budget")));
    QVERIFY(push.connectTo(pull.lastEndpoint()));
    for (qsizetype i = 0; i < kBurst; ++i)
        QVERIFY(push.send(makeMessage(i)));
    QCOMPARE(push.sentCount(), quint64(kBurst)); // all waiting for the PULL

    qsizetype received = 0;
    qsizetype receivedWhenTimerFired = -1;
    connect(&pull, &ZmqSocket::messageReceived, &pull, [&] {
        if (++received == 1)
            QTimer::singleShot(0, &pull, [&] { receivedWhenTimerFired = received; });
    });
    QTRY_COMPARE_WITH_TIMEOUT(received, kBurst, kSlowWaitMs);
    QTRY_VERIFY(receivedWhenTimerFired > 0);
    if (expectYield) {
        QVERIFY2(receivedWhenTimerFired < kBurst,
                 qPrintable(QStringLiteral("timer fired after %1").arg(receivedWhenTimerFired)));
        QVERIFY(receivedWhenTimerFired <= 2 * budget);
    } else {
        QCOMPARE(receivedWhenTimerFired, kBurst);
    }
}

// A taken port, an unknown transport, a malformed address: false, an error
// text naming the endpoint, error() emitted once, no exception. Without an
// error pointer the failure is a warning; a caller that takes the error text
// reports it, so no warning then (it would be said twice).
void tst_ZmqSocket::bindFailure()
{
    ZmqSocket first(ZmqSocket::Type::Push);
    QVERIFY(first.bind(kTcpAny));
    const QString endpoint = first.lastEndpoint();

    ZmqSocket second(ZmqSocket::Type::Push);
    QSignalSpy errors(&second, &ZmqSocket::error);
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("bind failed: ") + endpoint));
    QVERIFY(!second.bind(endpoint));
    QCOMPARE(errors.count(), 1);

    // From here to the end of the function.
    QTest::failOnWarning(QRegularExpression(QStringLiteral("failed")));
    QString error;
    QVERIFY(!second.bind(endpoint, &error));
    QVERIFY2(error.startsWith(endpoint + QStringLiteral(": ")), qPrintable(error));
    QVERIFY(error.size() > endpoint.size() + 2);
#ifdef Q_OS_LINUX
    QCOMPARE(error, endpoint + QStringLiteral(": Address already in use"));
#endif
    QCOMPARE(errors.count(), 2);
    QCOMPARE(errors.at(1).at(0).toString(), error);

    const QString bogus = QStringLiteral("bogus://nowhere");
    QVERIFY(!second.bind(bogus, &error));
    QVERIFY2(error.startsWith(bogus + QStringLiteral(": ")), qPrintable(error));
    QCOMPARE(errors.count(), 3);

    const QString malformed = QStringLiteral("tcp://");
    QVERIFY(!second.connectTo(malformed, &error));
    QVERIFY2(error.startsWith(malformed + QStringLiteral(": ")), qPrintable(error));
    QCOMPARE(errors.count(), 4);

    // The socket is still usable afterwards.
    QVERIFY(second.bind(kTcpAny));
    QVERIFY(second.lastEndpoint() != endpoint);
}

void tst_ZmqSocket::deleteFromSlot_data()
{
    QTest::addColumn<int>("budget");
    QTest::addColumn<int>("deleteAt");
    QTest::newRow("woken by the notifier") << 64 << 3;
    QTest::newRow("in a budget continuation") << 2 << 5;
}

// A slot may delete the socket (directly, not deleteLater) while it emits
// messageReceived: no use after free (ASan) and no further message delivered.
void tst_ZmqSocket::deleteFromSlot()
{
    QFETCH(int, budget);
    QFETCH(int, deleteAt);

    ZmqSocket push(ZmqSocket::Type::Push);
    push.setSendHighWaterMark(0);
    auto *pull = new ZmqSocket(ZmqSocket::Type::Pull);
    const QPointer<ZmqSocket> watch(pull);
    std::unique_ptr<ZmqSocket> owner(pull); // frees it if the test fails early
    pull->setReceiveHighWaterMark(0);
    pull->setBudget(budget);
    int calls = 0;
    connect(
        pull, &ZmqSocket::messageReceived, &push,
        [&](const ZmqMessage &) {
            if (++calls == deleteAt) {
                pull = nullptr;
                delete owner.release(); // directly, inside the emission
            }
        },
        Qt::DirectConnection);

    QVERIFY(pull->bind(inprocEndpoint("delete")));
    QVERIFY(push.connectTo(pull->lastEndpoint()));
    for (qsizetype i = 0; i < 100; ++i)
        QVERIFY(push.send(makeMessage(i)));
    QCOMPARE(calls, 0);

    QTRY_VERIFY(watch.isNull());
    QCOMPARE(calls, deleteAt);
    spinEventLoop(100);
    QCOMPARE(calls, deleteAt);
}

// Deleted by a slot while send() is processing: send() must not touch the
// dead object on its way out.
void tst_ZmqSocket::deleteFromSlotInsideSend()
{
    ZmqSocket peer(ZmqSocket::Type::Pair);
    peer.setSendHighWaterMark(0);
    auto *socket = new ZmqSocket(ZmqSocket::Type::Pair);
    const QPointer<ZmqSocket> watch(socket);
    std::unique_ptr<ZmqSocket> owner(socket);
    socket->setReceiveHighWaterMark(0);
    QVERIFY(socket->bind(inprocEndpoint("delete-send")));
    QVERIFY(peer.connectTo(socket->lastEndpoint()));
    for (qsizetype i = 0; i < 10; ++i)
        QVERIFY(peer.send(makeMessage(i)));

    int calls = 0;
    connect(
        socket, &ZmqSocket::messageReceived, &peer,
        [&](const ZmqMessage &) {
            ++calls;
            socket = nullptr;
            delete owner.release(); // directly, inside send()'s own pass
        },
        Qt::DirectConnection);

    // The event loop has not run: the messages are found by send()'s own pass.
    QVERIFY(socket->send({QByteArrayLiteral("reply")}));
    QVERIFY(watch.isNull());
    QCOMPARE(calls, 1);
    spinEventLoop(100);
    QCOMPARE(calls, 1);
}

void tst_ZmqSocket::counters()
{
    DropWarningCounter warnings;
    ZmqSocket push(ZmqSocket::Type::Push);
    push.setOutboxLimit(5);
    QVERIFY(push.bind(inprocEndpoint("counters")));
    for (qsizetype i = 0; i < 5; ++i)
        QVERIFY(push.send(makeMessage(i)));
    QVERIFY(!push.send(makeMessage(5)));
    QCOMPARE(push.sentCount(), quint64(0)); // queued, not sent
    QCOMPARE(push.outboxSize(), qsizetype(5));
    QCOMPARE(push.droppedCount(), quint64(1));

    ZmqSocket pull(ZmqSocket::Type::Pull);
    QList<ZmqMessage> received;
    collect(&pull, &received);
    QVERIFY(pull.connectTo(push.lastEndpoint()));
    QTRY_COMPARE(pull.receivedCount(), quint64(5));
    QCOMPARE(push.sentCount(), quint64(5));
    QCOMPARE(push.outboxSize(), qsizetype(0));

    for (qsizetype i = 5; i < 8; ++i)
        QVERIFY(push.send(makeMessage(i)));
    QTRY_COMPARE(pull.receivedCount(), quint64(8));
    QCOMPARE(received.size(), qsizetype(8)); // messages, not frames
    QCOMPARE(firstMismatch(received), qsizetype(-1));
    QCOMPARE(push.sentCount(), quint64(8));
    QCOMPARE(push.droppedCount(), quint64(1));
    QCOMPARE(push.receivedCount(), quint64(0));
    QCOMPARE(pull.sentCount(), quint64(0));
    QCOMPARE(pull.droppedCount(), quint64(0));
    QCOMPARE(warnings.count(), 1);
}

// A slot that replies (send) and even calls process() must not recurse into
// another messageReceived: the running loop sends the reply.
void tst_ZmqSocket::sendFromSlotDoesNotRecurse()
{
    ZmqSocket client(ZmqSocket::Type::Pair);
    ZmqSocket server(ZmqSocket::Type::Pair);
    client.setSendHighWaterMark(0);
    server.setReceiveHighWaterMark(0);
    QVERIFY(server.bind(inprocEndpoint("reentrancy")));
    QVERIFY(client.connectTo(server.lastEndpoint()));

    int depth = 0;
    int maxDepth = 0;
    connect(&server, &ZmqSocket::messageReceived, &server, [&](const ZmqMessage &message) {
        maxDepth = std::max(maxDepth, ++depth);
        server.send({QByteArrayLiteral("reply"), message.value(1)});
        server.process();
        --depth;
    });
    QList<ZmqMessage> replies;
    collect(&client, &replies);

    constexpr qsizetype count = 20;
    for (qsizetype i = 0; i < count; ++i)
        QVERIFY(client.send(makeMessage(i))); // queued before the server runs

    QTRY_COMPARE(replies.size(), count);
    QCOMPARE(maxDepth, 1);
    for (qsizetype i = 0; i < count; ++i)
        QCOMPARE(replies.at(i), ZmqMessage({QByteArrayLiteral("reply"), QByteArray::number(i)}));
    QCOMPARE(server.sentCount(), quint64(count));
    QCOMPARE(server.outboxSize(), qsizetype(0));
}

// A message ZeroMQ refuses (ROUTER_MANDATORY, unknown peer) is reported
// through error(), dropped and counted, and does not block the outbox.
void tst_ZmqSocket::sendErrorIsReportedAndDropped()
{
    ZmqSocket router(ZmqSocket::Type::Router);
    const int mandatory = 1;
    QCOMPARE(zmq_setsockopt(router.handle(), ZMQ_ROUTER_MANDATORY, &mandatory, sizeof mandatory), 0);
    QVERIFY(router.bind(inprocEndpoint("router")));
    // With ROUTER_MANDATORY, ZeroMQ takes messages only once some peer is there.
    ZmqSocket dealer(ZmqSocket::Type::Dealer);
    QVERIFY(dealer.connectTo(router.lastEndpoint()));
    QSignalSpy errors(&router, &ZmqSocket::error);

    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("^ROUTER inproc://")));
    QVERIFY(router.send({QByteArrayLiteral("nobody"), QByteArray(), QByteArrayLiteral("hi")}));
    QCOMPARE(errors.count(), 1);
    QVERIFY2(errors.at(0).at(0).toString().startsWith(router.lastEndpoint() + QStringLiteral(": ")),
             qPrintable(errors.at(0).at(0).toString()));
    QCOMPARE(router.droppedCount(), quint64(1));
    QCOMPARE(router.sentCount(), quint64(0));
    QCOMPARE(router.outboxSize(), qsizetype(0));
    QCOMPARE(activeTimers(router), 0);
}

void tst_ZmqSocket::subscribeFilters()
{
    ZmqSocket pub(ZmqSocket::Type::Pub);
    ZmqSocket sub(ZmqSocket::Type::Sub);
    sub.setSubscribe(QByteArrayLiteral("a"));
    QVERIFY(pub.bind(inprocEndpoint("pubsub")));
    QVERIFY(sub.connectTo(pub.lastEndpoint()));
    QList<ZmqMessage> received;
    collect(&sub, &received);

    // A subscription reaches the publisher asynchronously: publish until it has.
    QTimer ticker;
    ticker.setInterval(5);
    connect(&ticker, &QTimer::timeout, &pub, [&pub] {
        pub.send({QByteArrayLiteral("b-skipped")});
        pub.send({QByteArrayLiteral("a-taken"), QByteArray()});
    });
    ticker.start();
    QTRY_VERIFY(received.size() >= 3);
    ticker.stop();
    for (const ZmqMessage &message : std::as_const(received))
        QCOMPARE(message, ZmqMessage({QByteArrayLiteral("a-taken"), QByteArray()}));

    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("cannot send")));
    QVERIFY(!sub.send({QByteArrayLiteral("x")}));
}

void tst_ZmqSocket::options()
{
    ZmqSocket push(ZmqSocket::Type::Push);
    QVERIFY(push.handle());
    QCOMPARE(zmqIntOption(push, ZMQ_LINGER), 0);
    push.setSendHighWaterMark(7);
    push.setReceiveHighWaterMark(9);
    QCOMPARE(zmqIntOption(push, ZMQ_SNDHWM), 7);
    QCOMPARE(zmqIntOption(push, ZMQ_RCVHWM), 9);
    QCOMPARE(push.lastEndpoint(), QString());
    QCOMPARE(push.outboxLimit(), qsizetype(100000));
    push.setOutboxLimit(3);
    QCOMPARE(push.outboxLimit(), qsizetype(3));

    // A ZeroMQ error in a setter is reported, not thrown.
    QSignalSpy errors(&push, &ZmqSocket::error);
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("cannot subscribe")));
    push.setSubscribe(QByteArrayLiteral("x")); // EINVAL on a PUSH
    QCOMPARE(errors.count(), 1);
    QCOMPARE(activeTimers(push), 0);
}

QTEST_GUILESS_MAIN(tst_ZmqSocket)
#include "tst_zmqsocket.moc"
