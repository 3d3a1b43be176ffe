// EpollDispatcher installed as the dispatcher of this test's own
// application: real sockets, timers, threads and nested loops.

#include "eventloop/epolldispatcher.h"

#include <QBasicTimer>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QPointer>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QSocketNotifier>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>
#include <QThread>
#include <QTimer>
#include <QWebSocket>
#include <QWebSocketServer>

#include <functional>
#include <memory>
#include <vector>

#include <sys/socket.h>
#include <unistd.h>

using namespace SockJsProxy;

namespace {

// Records the order of posted events and timer events.
class Recorder : public QObject
{
public:
    static constexpr QEvent::Type kPosted = QEvent::Type(QEvent::User + 1);
    QStringList log;

protected:
    bool event(QEvent *event) override
    {
        if (event->type() == kPosted) {
            log << QStringLiteral("posted");
            return true;
        }
        return QObject::event(event);
    }
};

// Two QBasicTimers; the first one's timerEvent() acts on the second.
class TimerPair : public QObject
{
public:
    enum class Action { Stop, Restart, RestartSelf };
    QBasicTimer first;
    QBasicTimer second;
    Action action = Action::Stop;
    int firstFired = 0;
    int secondFired = 0;

protected:
    void timerEvent(QTimerEvent *event) override
    {
        if (event->timerId() == first.timerId()) {
            ++firstFired;
            switch (action) {
            case Action::Stop:
                second.stop();
                break;
            case Action::Restart:
                second.start(60000, this);
                break;
            case Action::RestartSelf:
                first.start(60000, this);
                break;
            }
        } else if (event->timerId() == second.timerId()) {
            ++secondFired;
        }
    }
};

struct SocketPair
{
    int fds[2] = {-1, -1};
    SocketPair() { ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds); }
    ~SocketPair()
    {
        for (const int fd : fds) {
            if (fd >= 0)
                ::close(fd);
        }
    }
    SocketPair(const SocketPair &) = delete;
    SocketPair &operator=(const SocketPair &) = delete;
};

} // namespace

class tst_EpollDispatcher : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void installed();
    void tcpEchoManyConnections();
    void singleShotTimer();
    void repeatingTimer();
    void zeroIntervalAfterPostedEvents();
    void zeroIntervalDoesNotBlock();
    void basicTimerStoppedByAnother();
    void basicTimerRestartedByAnother();
    void basicTimerRestartsItself();
    void remainingTime();
    void registeredTimers();
    void notifierDeletedByAnother();
    void readAndWriteOnOneDescriptor();
    void writeNotifierOnFullSocket();
    void hangUpActivatesRead();
    void badDescriptorWarnsOnce();
    void wakeUpFromThread();
    void postFromOwnThreadWritesNothing();
    void postWhileAboutToBlockDoesNotBlock();
    void interruptFromThread();
    void nestedEventLoop();
    void webSocketEcho();
};

void tst_EpollDispatcher::installed()
{
    QVERIFY(qobject_cast<EpollDispatcher *>(QAbstractEventDispatcher::instance()));
}

void tst_EpollDispatcher::tcpEchoManyConnections()
{
    constexpr int kConnections = 200;
    constexpr int kMessages = 50;
    const QByteArray message("0123456789abcdef0123456789abcdef\n");

    QTcpServer server;
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));
    connect(&server, &QTcpServer::newConnection, &server, [&server] {
        while (QTcpSocket *peer = server.nextPendingConnection()) {
            connect(peer, &QTcpSocket::readyRead, peer, [peer] { peer->write(peer->readAll()); });
            connect(peer, &QTcpSocket::disconnected, peer, &QObject::deleteLater);
        }
    });

    std::vector<std::unique_ptr<QTcpSocket>> clients;
    std::vector<int> received(kConnections, 0);
    int complete = 0;
    for (int i = 0; i < kConnections; ++i) {
        auto client = std::make_unique<QTcpSocket>();
        QTcpSocket *socket = client.get();
        connect(socket, &QTcpSocket::connected, socket, [socket, message] {
            for (int m = 0; m < kMessages; ++m)
                socket->write(message);
        });
        connect(socket, &QTcpSocket::readyRead, socket, [socket, &received, &complete, i, message] {
            received[size_t(i)] += int(socket->readAll().size());
            if (received[size_t(i)] == kMessages * message.size())
                ++complete;
        });
        socket->connectToHost(QHostAddress::LocalHost, server.serverPort());
        clients.push_back(std::move(client));
    }
    QTRY_COMPARE_WITH_TIMEOUT(complete, kConnections, 30000);
    for (int i = 0; i < kConnections; ++i)
        QCOMPARE(received[size_t(i)], kMessages * message.size());
}

void tst_EpollDispatcher::singleShotTimer()
{
    QElapsedTimer elapsed;
    elapsed.start();
    QTimer timer;
    timer.setSingleShot(true);
    timer.setTimerType(Qt::PreciseTimer);
    QSignalSpy spy(&timer, &QTimer::timeout);
    timer.start(50);
    QVERIFY(spy.wait(5000));
    QVERIFY2(elapsed.elapsed() >= 50, qPrintable(QString::number(elapsed.elapsed())));
    QTest::qWait(100);
    QCOMPARE(spy.count(), 1);
}

void tst_EpollDispatcher::repeatingTimer()
{
    QElapsedTimer elapsed;
    elapsed.start();
    QTimer timer;
    timer.setTimerType(Qt::PreciseTimer);
    int fired = 0;
    connect(&timer, &QTimer::timeout, this, [&] {
        if (++fired == 5)
            timer.stop();
    });
    timer.start(10);
    QTRY_COMPARE(fired, 5);
    QVERIFY2(elapsed.elapsed() >= 50, qPrintable(QString::number(elapsed.elapsed())));
    QVERIFY(!timer.isActive());
}

void tst_EpollDispatcher::zeroIntervalAfterPostedEvents()
{
    Recorder recorder;
    QTimer zero;
    zero.setSingleShot(true);
    connect(&zero, &QTimer::timeout, &recorder, [&recorder] { recorder.log << QStringLiteral("timer"); });
    QCoreApplication::postEvent(&recorder, new QEvent(Recorder::kPosted));
    zero.start(0);
    // QTimer::singleShot(0) is a queued call: ordered with the posted events.
    QTimer::singleShot(0, &recorder, [&recorder] { recorder.log << QStringLiteral("singleShot"); });
    QTRY_COMPARE(recorder.log.size(), 3);
    QCOMPARE(recorder.log,
             QStringList({QStringLiteral("posted"), QStringLiteral("singleShot"), QStringLiteral("timer")}));
}

void tst_EpollDispatcher::zeroIntervalDoesNotBlock()
{
    // A repeating zero timer fires on every iteration and lets posted
    // events through; a blocking processEvents() returns for it.
    Recorder recorder;
    QTimer zero;
    int fired = 0;
    connect(&zero, &QTimer::timeout, &recorder, [&] {
        if (++fired == 3)
            QCoreApplication::postEvent(&recorder, new QEvent(Recorder::kPosted));
    });
    zero.start(0);
    QAbstractEventDispatcher *dispatcher = QAbstractEventDispatcher::instance();
    for (int i = 0; i < 10; ++i)
        dispatcher->processEvents(QEventLoop::WaitForMoreEvents);
    zero.stop();
    QVERIFY2(fired >= 9, qPrintable(QString::number(fired)));
    QCOMPARE(recorder.log, QStringList(QStringLiteral("posted")));
}

void tst_EpollDispatcher::basicTimerStoppedByAnother()
{
    TimerPair pair;
    pair.action = TimerPair::Action::Stop;
    pair.first.start(10, Qt::PreciseTimer, &pair);
    pair.second.start(10, Qt::PreciseTimer, &pair);
    // Both due in one iteration: the first stops the second before it fires.
    QThread::msleep(30);
    QTRY_VERIFY(pair.firstFired >= 1);
    QTest::qWait(50);
    QCOMPARE(pair.secondFired, 0);
    QVERIFY(!pair.second.isActive());
    QVERIFY(pair.firstFired > 1);
}

void tst_EpollDispatcher::basicTimerRestartedByAnother()
{
    TimerPair pair;
    pair.action = TimerPair::Action::Restart;
    pair.first.start(10, Qt::PreciseTimer, &pair);
    pair.second.start(10, Qt::PreciseTimer, &pair);
    QThread::msleep(30);
    QTRY_VERIFY(pair.firstFired >= 1);
    QTest::qWait(50);
    QCOMPARE(pair.secondFired, 0); // restarted for a minute, again and again
    QVERIFY(pair.second.isActive());
    QVERIFY(QAbstractEventDispatcher::instance()->remainingTime(pair.second.timerId()) > 50000);
}

void tst_EpollDispatcher::basicTimerRestartsItself()
{
    TimerPair pair;
    pair.action = TimerPair::Action::RestartSelf;
    pair.first.start(5, Qt::PreciseTimer, &pair);
    QTRY_COMPARE(pair.firstFired, 1);
    QTest::qWait(50);
    QCOMPARE(pair.firstFired, 1);
    QVERIFY(pair.first.isActive());
}

void tst_EpollDispatcher::remainingTime()
{
    QTimer timer;
    timer.setTimerType(Qt::PreciseTimer);
    timer.start(500);
    const int left = timer.remainingTime();
    QVERIFY2(left > 400 && left <= 500, qPrintable(QString::number(left)));
    timer.stop();
    QCOMPARE(timer.remainingTime(), -1);
    QCOMPARE(QAbstractEventDispatcher::instance()->remainingTime(123456), -1);
}

void tst_EpollDispatcher::registeredTimers()
{
    QObject object;
    const int a = object.startTimer(1000, Qt::PreciseTimer);
    const int b = object.startTimer(2000, Qt::CoarseTimer);
    QAbstractEventDispatcher *dispatcher = QAbstractEventDispatcher::instance();
    auto timers = dispatcher->registeredTimers(&object);
    QCOMPARE(timers.size(), 2);
    for (const auto &info : timers) {
        QVERIFY(info.timerId == a || info.timerId == b);
        QCOMPARE(info.interval, info.timerId == a ? 1000 : 2000);
        QCOMPARE(info.timerType, info.timerId == a ? Qt::PreciseTimer : Qt::CoarseTimer);
    }
    object.killTimer(a);
    QCOMPARE(dispatcher->registeredTimers(&object).size(), 1);
    QVERIFY(dispatcher->unregisterTimers(&object));
    QVERIFY(dispatcher->registeredTimers(&object).isEmpty());
    QVERIFY(!dispatcher->unregisterTimer(b));
}

void tst_EpollDispatcher::notifierDeletedByAnother()
{
    SocketPair first;
    SocketPair second;
    QVERIFY(first.fds[0] >= 0 && second.fds[0] >= 0);
    QCOMPARE(int(::write(first.fds[1], "x", 1)), 1);
    QCOMPARE(int(::write(second.fds[1], "x", 1)), 1);

    std::unique_ptr<QSocketNotifier> a = std::make_unique<QSocketNotifier>(first.fds[0], QSocketNotifier::Read);
    std::unique_ptr<QSocketNotifier> b = std::make_unique<QSocketNotifier>(second.fds[0], QSocketNotifier::Read);
    int activations = 0;
    // Whichever comes first deletes the other, still pending in this iteration.
    connect(a.get(), &QSocketNotifier::activated, this, [&] {
        ++activations;
        b.reset();
    });
    connect(b.get(), &QSocketNotifier::activated, this, [&] {
        ++activations;
        a.reset();
    });
    QAbstractEventDispatcher::instance()->processEvents(QEventLoop::AllEvents);
    QCOMPARE(activations, 1);
    QVERIFY(!a || !b);
}

void tst_EpollDispatcher::readAndWriteOnOneDescriptor()
{
    SocketPair pair;
    QVERIFY(pair.fds[0] >= 0);
    QSocketNotifier read(pair.fds[0], QSocketNotifier::Read);
    QSocketNotifier write(pair.fds[0], QSocketNotifier::Write);
    int reads = 0;
    int writes = 0;
    connect(&read, &QSocketNotifier::activated, this, [&] {
        ++reads;
        char buffer[16];
        QVERIFY(::read(pair.fds[0], buffer, sizeof buffer) > 0);
    });
    connect(&write, &QSocketNotifier::activated, this, [&] { ++writes; });

    QAbstractEventDispatcher *dispatcher = QAbstractEventDispatcher::instance();
    dispatcher->processEvents(QEventLoop::AllEvents);
    QCOMPARE(writes, 1); // writable at once
    QCOMPARE(reads, 0);

    QCOMPARE(int(::write(pair.fds[1], "x", 1)), 1);
    dispatcher->processEvents(QEventLoop::AllEvents);
    QCOMPARE(writes, 2);
    QCOMPARE(reads, 1);

    write.setEnabled(false); // the descriptor keeps its read interest
    QCOMPARE(int(::write(pair.fds[1], "y", 1)), 1);
    dispatcher->processEvents(QEventLoop::AllEvents);
    QCOMPARE(writes, 2);
    QCOMPARE(reads, 2);

    read.setEnabled(false);
    write.setEnabled(true);
    dispatcher->processEvents(QEventLoop::AllEvents);
    QCOMPARE(writes, 3);
    QCOMPARE(reads, 2);

    // Disabled and enabled again before the wait: no epoll change is lost.
    write.setEnabled(false);
    read.setEnabled(true);
    read.setEnabled(false);
    write.setEnabled(true);
    dispatcher->processEvents(QEventLoop::AllEvents);
    QCOMPARE(writes, 4);
    QCOMPARE(reads, 2);
}

void tst_EpollDispatcher::writeNotifierOnFullSocket()
{
    // Not writable when enabled: no activation until the peer drains it.
    SocketPair pair;
    const QByteArray chunk(4096, 'x');
    while (::write(pair.fds[0], chunk.constData(), size_t(chunk.size())) > 0) {}
    QSocketNotifier write(pair.fds[0], QSocketNotifier::Write);
    int writes = 0;
    connect(&write, &QSocketNotifier::activated, this, [&] { ++writes; });
    QAbstractEventDispatcher *dispatcher = QAbstractEventDispatcher::instance();
    dispatcher->processEvents(QEventLoop::AllEvents);
    dispatcher->processEvents(QEventLoop::AllEvents);
    QCOMPARE(writes, 0);
    char buffer[65536];
    while (::read(pair.fds[1], buffer, sizeof buffer) > 0) {}
    QTRY_VERIFY(writes > 0);
    write.setEnabled(false);
    const int before = writes;
    dispatcher->processEvents(QEventLoop::AllEvents);
    QCOMPARE(writes, before);
}

void tst_EpollDispatcher::hangUpActivatesRead()
{
    SocketPair pair;
    QSocketNotifier read(pair.fds[0], QSocketNotifier::Read);
    QSignalSpy spy(&read, &QSocketNotifier::activated);
    ::close(pair.fds[1]);
    pair.fds[1] = -1;
    QVERIFY(spy.wait(5000));
}

void tst_EpollDispatcher::badDescriptorWarnsOnce()
{
    // A descriptor number nothing has open.
    int fd = -1;
    {
        SocketPair pair;
        fd = pair.fds[0];
    }
    QTest::ignoreMessage(QtWarningMsg,
                         QRegularExpression(QStringLiteral("cannot watch descriptor %1 .*EPOLL_CTL_ADD").arg(fd)));
    QSocketNotifier read(fd, QSocketNotifier::Read);
    QSocketNotifier write(fd, QSocketNotifier::Write);
    QAbstractEventDispatcher *dispatcher = QAbstractEventDispatcher::instance();
    dispatcher->processEvents(QEventLoop::AllEvents);
    write.setEnabled(false); // a second failing change: no second warning
    dispatcher->processEvents(QEventLoop::AllEvents);
}

void tst_EpollDispatcher::wakeUpFromThread()
{
    bool delivered = false;
    QObject receiver;
    std::unique_ptr<QThread> thread(QThread::create([&receiver, &delivered] {
        QThread::msleep(100); // so that the main thread is blocked in the wait
        QMetaObject::invokeMethod(
            &receiver, [&delivered] { delivered = true; }, Qt::QueuedConnection);
    }));
    thread->start();
    QElapsedTimer elapsed;
    elapsed.start();
    QAbstractEventDispatcher *dispatcher = QAbstractEventDispatcher::instance();
    // No timer and no ready descriptor: only the posted call ends the wait,
    // which it does not deliver (the next iteration starts with it).
    while (!delivered) {
        dispatcher->processEvents(QEventLoop::WaitForMoreEvents);
        QCoreApplication::sendPostedEvents();
    }
    QVERIFY(delivered);
    QVERIFY(thread->wait(5000));
    QVERIFY(elapsed.elapsed() < 5000);
    // Only another thread's post writes the eventfd.
    QVERIFY(qobject_cast<EpollDispatcher *>(dispatcher)->wakeUpWrites() > 0);
}

void tst_EpollDispatcher::postFromOwnThreadWritesNothing()
{
    auto *dispatcher = qobject_cast<EpollDispatcher *>(QAbstractEventDispatcher::instance());
    QVERIFY(dispatcher);
    QCoreApplication::sendPostedEvents();
    const quint64 writesBefore = dispatcher->wakeUpWrites();

    // A chain of posted calls, each posted by the one before from inside
    // the loop (as a slot's deleteLater() or queued call is): every one is
    // delivered, and no wait blocks for them, without an eventfd write.
    int delivered = 0;
    QObject receiver;
    std::function<void()> next = [&] {
        // The 100th posts one more, so that no wait of the loop below ends
        // only through its time limit.
        if (++delivered <= 100)
            QMetaObject::invokeMethod(&receiver, next, Qt::QueuedConnection);
    };
    QMetaObject::invokeMethod(&receiver, next, Qt::QueuedConnection);
    QElapsedTimer elapsed;
    elapsed.start();
    while (delivered < 100 && elapsed.elapsed() < 5000)
        dispatcher->processEvents(QEventLoop::WaitForMoreEvents);
    QCOMPARE(delivered, 100);
    QVERIFY2(elapsed.elapsed() < 1000, qPrintable(QString::number(elapsed.elapsed())));
    QCOMPARE(dispatcher->wakeUpWrites(), writesBefore);
    QCoreApplication::sendPostedEvents();
    QCOMPARE(delivered, 101);
}

void tst_EpollDispatcher::postWhileAboutToBlockDoesNotBlock()
{
    // Posted after processEvents() sent the posted events and before it
    // waits: the wait must not block, or the call waits for the next
    // unrelated wake-up.
    QAbstractEventDispatcher *dispatcher = QAbstractEventDispatcher::instance();
    QCoreApplication::sendPostedEvents();
    bool delivered = false;
    QObject receiver;
    bool posted = false;
    const QMetaObject::Connection hook = connect(dispatcher, &QAbstractEventDispatcher::aboutToBlock, &receiver, [&] {
        if (posted)
            return;
        posted = true;
        QMetaObject::invokeMethod(
            &receiver, [&delivered] { delivered = true; }, Qt::QueuedConnection);
    });
    QElapsedTimer elapsed;
    elapsed.start();
    dispatcher->processEvents(QEventLoop::WaitForMoreEvents); // no timer, nothing ready
    disconnect(hook);
    QVERIFY(posted);
    QVERIFY2(elapsed.elapsed() < 1000, qPrintable(QString::number(elapsed.elapsed())));
    dispatcher->processEvents(QEventLoop::AllEvents);
    QVERIFY(delivered);
}

void tst_EpollDispatcher::interruptFromThread()
{
    QAbstractEventDispatcher *dispatcher = QAbstractEventDispatcher::instance();
    QSignalSpy aboutToBlock(dispatcher, &QAbstractEventDispatcher::aboutToBlock);
    QSignalSpy awake(dispatcher, &QAbstractEventDispatcher::awake);
    std::unique_ptr<QThread> thread(QThread::create([dispatcher] {
        QThread::msleep(100);
        dispatcher->interrupt();
    }));
    thread->start();
    dispatcher->processEvents(QEventLoop::WaitForMoreEvents);
    QVERIFY(thread->wait(5000));
    QVERIFY(aboutToBlock.count() >= 1);
    QVERIFY(awake.count() >= 1);
}

void tst_EpollDispatcher::nestedEventLoop()
{
    // An outer repeating timer whose slot runs an event loop that ends on a
    // TCP echo: sockets and timers work inside, and the outer timer does
    // not re-enter its own slot.
    QTcpServer server;
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));
    connect(&server, &QTcpServer::newConnection, &server, [&server] {
        QTcpSocket *peer = server.nextPendingConnection();
        connect(peer, &QTcpSocket::readyRead, peer, [peer] { peer->write(peer->readAll()); });
    });

    QTimer outer;
    int outerFired = 0;
    int depth = 0;
    int maxDepth = 0;
    bool echoed = false;
    bool innerTimerFired = false;
    connect(&outer, &QTimer::timeout, this, [&] {
        ++outerFired;
        maxDepth = std::max(maxDepth, ++depth);
        if (outerFired == 1) {
            QEventLoop loop;
            QTcpSocket client;
            connect(&client, &QTcpSocket::connected, &client, [&client] { client.write("ping"); });
            connect(&client, &QTcpSocket::readyRead, &loop, [&] {
                echoed = client.readAll() == "ping";
                QTimer::singleShot(20, &loop, [&] {
                    innerTimerFired = true;
                    loop.quit();
                });
            });
            client.connectToHost(QHostAddress::LocalHost, server.serverPort());
            QTimer::singleShot(10000, &loop, &QEventLoop::quit);
            loop.exec();
        }
        --depth;
    });
    outer.start(1);
    QTRY_VERIFY(outerFired >= 2);
    outer.stop();
    QVERIFY(echoed);
    QVERIFY(innerTimerFired);
    QCOMPARE(maxDepth, 1);
}

void tst_EpollDispatcher::webSocketEcho()
{
    constexpr int kClients = 50;
    constexpr int kMessages = 40;
    QWebSocketServer server(QStringLiteral("echo"), QWebSocketServer::NonSecureMode);
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));
    connect(&server, &QWebSocketServer::newConnection, &server, [&server] {
        while (QWebSocket *peer = server.nextPendingConnection()) {
            peer->setParent(&server);
            connect(peer, &QWebSocket::textMessageReceived, peer,
                    [peer](const QString &text) { peer->sendTextMessage(text); });
        }
    });

    std::vector<std::unique_ptr<QWebSocket>> clients;
    int received = 0;
    for (int i = 0; i < kClients; ++i) {
        auto client = std::make_unique<QWebSocket>();
        QWebSocket *socket = client.get();
        connect(socket, &QWebSocket::connected, socket, [socket, i] {
            for (int m = 0; m < kMessages; ++m)
                socket->sendTextMessage(QStringLiteral("client %1 message %2").arg(i).arg(m));
        });
        connect(socket, &QWebSocket::textMessageReceived, socket, [&received](const QString &text) {
            if (text.startsWith(QLatin1String("client ")))
                ++received;
        });
        socket->open(QUrl(QStringLiteral("ws://127.0.0.1:%1/").arg(server.serverPort())));
        clients.push_back(std::move(client));
    }
    QTRY_COMPARE_WITH_TIMEOUT(received, kClients * kMessages, 30000);
    for (auto &client : clients)
        client->close();
}

int main(int argc, char *argv[])
{
    // Before the application object: it then uses this dispatcher.
    QCoreApplication::setEventDispatcher(new EpollDispatcher);
    QCoreApplication app(argc, argv);
    tst_EpollDispatcher test;
    return QTest::qExec(&test, argc, argv);
}

#include "tst_epolldispatcher.moc"
