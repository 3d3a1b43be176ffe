#include "sockjs/frames.h"
#include "sockjs/session.h"

#include <QElapsedTimer>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QtTest>

#include <cstddef>
#include <memory>

namespace SockJsProxy {

// Lets QCOMPARE print states by name (found by argument-dependent lookup).
char *toString(Session::State state)
{
    switch (state) {
    case Session::State::Connecting:
        return qstrdup("Connecting");
    case Session::State::Open:
        return qstrdup("Open");
    case Session::State::Closed:
        return qstrdup("Closed");
    }
    return qstrdup("?");
}

} // namespace SockJsProxy

using namespace SockJsProxy;

namespace {

using Frames_ = QList<QByteArray>;

// A literal with its exact length, so embedded NUL bytes count.
template<std::size_t N>
QByteArray bytes(const char (&text)[N])
{
    return QByteArray(text, qsizetype(N - 1));
}

const QByteArray kGoAway = Frames::close(3000, "Go away!");
const QByteArray kAnother = Frames::close(2010, "Another connection still open");
const QByteArray kInterrupted = Frames::close(1002, "Connection interrupted");
const QByteArray kQueueFull = Frames::close(1013, "Outgoing queue full");

// Records every call a Session makes on its host. With autoFlush, a
// scheduleFlush() is answered by a queued flush(), as the Service does, so a
// burst of enqueue() calls is coalesced into one frame.
class FakeHost : public SessionHost
{
public:
    void sessionOpened(Session *session) override { record("opened", session); }
    void sessionMessages(Session *session, const QList<QByteArray> &messages) override
    {
        record("messages", session);
        received.append(messages);
    }
    void sessionClosed(Session *session) override
    {
        record("closed", session);
        closeCodeWhenClosed = session->closeCode();
        stateWhenClosed = session->state();
    }
    void sessionExpired(Session *session) override { record("expired", session); }
    void scheduleFlush(Session *session) override
    {
        record("scheduleFlush", session);
        if (!autoFlush)
            return;
        QMetaObject::invokeMethod(
            session,
            [this, session] {
                ++flushesRun;
                session->flush();
            },
            Qt::QueuedConnection);
    }

    int count(const char *what) const { return int(log.count(QString::fromLatin1(what))); }
    // The log without scheduleFlush entries (their number depends on bursts).
    QStringList lifecycle() const
    {
        QStringList result;
        for (const QString &entry : log) {
            if (entry != QLatin1String("scheduleFlush"))
                result.append(entry);
        }
        return result;
    }

    Session *expected = nullptr; // calls for any other session are counted as wrong
    bool autoFlush = true;
    QStringList log;
    QList<QList<QByteArray>> received;
    int flushesRun = 0;
    int wrongSession = 0;
    int callsAfterExpired = 0;
    int closeCodeWhenClosed = 0;
    Session::State stateWhenClosed = Session::State::Connecting;

private:
    void record(const char *what, Session *session)
    {
        if (session != expected)
            ++wrongSession;
        if (log.contains(QLatin1String("expired")))
            ++callsAfterExpired;
        log.append(QString::fromLatin1(what));
    }
};

// A receiver that records the frames it was given. Polling finishes after
// one frame (like xhr); streaming only on sendClose() or when the test ends
// it (response_limit) or aborts it (client gone).
class FakeReceiver : public Receiver
{
    Q_OBJECT

public:
    enum class Mode { Polling, Streaming };

    explicit FakeReceiver(Mode mode, QObject *parent = nullptr) : Receiver(parent), m_mode(mode) {}

    QByteArray transportName() const override
    {
        return m_mode == Mode::Polling ? QByteArrayLiteral("fake-polling") : QByteArrayLiteral("fake-streaming");
    }

    void sendOpen() override
    {
        write(Frames::open());
        endIfPolling();
    }
    void sendHeartbeat() override
    {
        if (!m_writable)
            ++writesWhileBlocked;
        ++heartbeats;
        write(Frames::heartbeat());
        endIfPolling();
    }
    void sendMessages(const QList<QByteArray> &messages) override
    {
        batches.append(messages);
        write(Frames::messages(messages));
        endIfPolling();
    }
    void sendClose(int code, const QByteArray &reason) override
    {
        ++closes;
        write(Frames::close(code, reason));
        finish(false);
    }
    bool canWrite() const override { return m_writable; }

    void setWritable(bool writable)
    {
        m_writable = writable;
        if (writable)
            Q_EMIT this->writable();
    }
    void end() { finish(false); }  // response over (e.g. response_limit)
    void abort() { finish(true); } // client went away
    void clientSends(const QList<QByteArray> &messages) { Q_EMIT messagesReceived(messages); }

    Frames_ frames;
    QList<QList<QByteArray>> batches;
    int heartbeats = 0;
    int closes = 0;
    int writesAfterFinish = 0;
    int writesWhileBlocked = 0;

private:
    void write(const QByteArray &frame)
    {
        if (isFinished())
            ++writesAfterFinish;
        frames.append(frame);
    }
    void endIfPolling()
    {
        if (m_mode == Mode::Polling)
            finish(false);
    }

    Mode m_mode;
    bool m_writable = true;
};

using Mode = FakeReceiver::Mode;

Session::Options slowTimers()
{
    Session::Options options;
    options.heartbeatDelayMs = 60000;
    options.disconnectDelayMs = 60000;
    return options;
}

Session::State stateAt(const QSignalSpy &spy, int index) { return qvariant_cast<Session::State>(spy.at(index).at(0)); }

} // namespace

Q_DECLARE_METATYPE(FakeReceiver::Mode)

class tst_Session : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void identity();
    void openOnce_data();
    void openOnce();
    void queuedWhileDetachedGoOutInOneFrame_data();
    void queuedWhileDetachedGoOutInOneFrame();
    void burstWhileAttachedIsCoalesced();
    void largeBacklogGoesOutInSlices_data();
    void largeBacklogGoesOutInSlices();
    void secondReceiverGets2010_data();
    void secondReceiverGets2010();
    void closeDeliversQueuedThenClose_data();
    void closeDeliversQueuedThenClose();
    void closedSessionExpiresAfterDisconnectDelay();
    void abortedReceiverInterrupts_data();
    void abortedReceiverInterrupts();
    void endedReceiverKeepsSessionOpen();
    void connectionLifetimeEndsWithReceiver_data();
    void connectionLifetimeEndsWithReceiver();
    void requestsSessionExpiresAfterDisconnectDelay();
    void noExpiryWhileAttached();
    void heartbeatsOnlyWhileAttached_data();
    void heartbeatsOnlyWhileAttached();
    void enqueueOnClosedSessionReturnsFalse();
    void outboxBoundClosesWith1013_data();
    void outboxBoundClosesWith1013();
    void outboxBoundCountsOnlyUnsent();
    void notWritableHoldsMessagesUntilWritable();
    void receiveForwardsOnlyWhileOpen();
    void destroyedWithReceiverAttached();

private:
    std::unique_ptr<Session> makeSession(Session::Lifetime lifetime = Session::Lifetime::Requests,
                                         const Session::Options &options = slowTimers());
    // Opens the session with a polling receiver (it gets "o" and detaches).
    void openWithPoll(Session *session);

    std::unique_ptr<FakeHost> m_host;
};

void tst_Session::init() { m_host = std::make_unique<FakeHost>(); }

void tst_Session::cleanup()
{
    // Invariants of every scenario.
    QCOMPARE(m_host->wrongSession, 0);
    QCOMPARE(m_host->callsAfterExpired, 0);
    QVERIFY(m_host->count("opened") <= 1);
    QVERIFY(m_host->count("closed") <= 1);
    QVERIFY(m_host->count("expired") <= 1);
    if (m_host->count("closed") == 1) {
        // "disconnect" to the backend only for a session it was told about.
        QVERIFY(m_host->log.indexOf(QLatin1String("opened")) < m_host->log.indexOf(QLatin1String("closed")));
        QCOMPARE(m_host->stateWhenClosed, Session::State::Closed);
    }
    m_host.reset();
}

std::unique_ptr<Session> tst_Session::makeSession(Session::Lifetime lifetime, const Session::Options &options)
{
    auto session = std::make_unique<Session>(m_host.get(), "url-id", "backend-7", lifetime, options);
    m_host->expected = session.get();
    return session;
}

void tst_Session::openWithPoll(Session *session)
{
    FakeReceiver poll(Mode::Polling);
    session->attach(&poll);
    QCOMPARE(poll.frames, Frames_{"o"});
    QVERIFY(poll.isFinished());
    QVERIFY(!session->hasReceiver());
    QCOMPARE(session->state(), Session::State::Open);
}

void tst_Session::identity()
{
    auto session = makeSession(Session::Lifetime::Connection);
    QCOMPARE(session->urlId(), QByteArray("url-id"));
    QCOMPARE(session->backendId(), QByteArray("backend-7"));
    QCOMPARE(session->lifetime(), Session::Lifetime::Connection);
    QCOMPARE(session->state(), Session::State::Connecting);
    QVERIFY(!session->hasReceiver());
    QCOMPARE(session->queuedMessages(), 0);
    QVERIFY(!session->openedAt().isValid());
    QVERIFY(m_host->log.isEmpty());
}

void tst_Session::openOnce_data()
{
    QTest::addColumn<Mode>("mode");
    QTest::newRow("polling") << Mode::Polling;
    QTest::newRow("streaming") << Mode::Streaming;
}

void tst_Session::openOnce()
{
    QFETCH(Mode, mode);
    auto session = makeSession();
    QSignalSpy stateSpy(session.get(), &Session::stateChanged);

    FakeReceiver first(mode);
    session->attach(&first);
    QCOMPARE(first.frames, Frames_{"o"});
    QCOMPARE(m_host->log, QStringList{"opened"});
    QCOMPARE(session->state(), Session::State::Open);
    QVERIFY(session->openedAt().isValid());
    QCOMPARE(session->transportName(), first.transportName());
    QCOMPARE(stateSpy.count(), 1);
    QCOMPARE(stateAt(stateSpy, 0), Session::State::Open);

    if (mode == Mode::Polling) {
        QVERIFY(first.isFinished());
        QVERIFY(!session->hasReceiver());
    } else {
        QVERIFY(!first.isFinished());
        QCOMPARE(session->receiver(), &first);
        first.end();
        QVERIFY(!session->hasReceiver());
    }

    // Later receivers continue the session: no second open, no second connect.
    for (int i = 0; i < 3; ++i) {
        FakeReceiver next(mode);
        session->attach(&next);
        QVERIFY(next.frames.isEmpty());
        QVERIFY(!next.isFinished()); // a poll waits for something to send
        QCOMPARE(session->receiver(), &next);
        next.end();
        QVERIFY(!session->hasReceiver());
    }
    QCOMPARE(m_host->log, QStringList{"opened"});
    QCOMPARE(stateSpy.count(), 1);
    QCOMPARE(session->state(), Session::State::Open);
}

void tst_Session::queuedWhileDetachedGoOutInOneFrame_data()
{
    QTest::addColumn<Mode>("mode");
    QTest::newRow("polling") << Mode::Polling;
    QTest::newRow("streaming") << Mode::Streaming;
}

void tst_Session::queuedWhileDetachedGoOutInOneFrame()
{
    QFETCH(Mode, mode);
    auto session = makeSession();
    openWithPoll(session.get());

    const QList<QByteArray> messages{"a", "", bytes("b\0c"), "\xc3\xbc", "a", "a", "a", "a"};
    for (const QByteArray &message : messages)
        QVERIFY(session->enqueue(message));
    QCOMPARE(session->queuedMessages(), messages.size());
    QCOMPARE(m_host->count("scheduleFlush"), 0); // nobody to flush to

    FakeReceiver receiver(mode);
    session->attach(&receiver);
    QCOMPARE(receiver.batches.size(), 1);
    QCOMPARE(receiver.batches.at(0), messages);
    QCOMPARE(receiver.frames, Frames_{Frames::messages(messages)});
    QCOMPARE(session->queuedMessages(), 0);
    QCOMPARE(receiver.isFinished(), mode == Mode::Polling);
    QCOMPARE(session->hasReceiver(), mode == Mode::Streaming);

    // Nothing is delivered twice.
    FakeReceiver next(Mode::Polling);
    if (mode == Mode::Streaming)
        receiver.end();
    session->attach(&next);
    QVERIFY(next.frames.isEmpty());
    QCOMPARE(m_host->lifecycle(), QStringList{"opened"});
    QCOMPARE(receiver.writesAfterFinish, 0);
}

void tst_Session::burstWhileAttachedIsCoalesced()
{
    auto session = makeSession();
    openWithPoll(session.get());
    FakeReceiver receiver(Mode::Streaming);
    session->attach(&receiver);
    QVERIFY(receiver.frames.isEmpty());

    QVERIFY(session->enqueue("1"));
    QVERIFY(session->enqueue("2"));
    QVERIFY(session->enqueue("3"));
    QCOMPARE(m_host->count("scheduleFlush"), 3);
    QVERIFY(receiver.frames.isEmpty()); // the host decides when to flush
    QTRY_COMPARE(m_host->flushesRun, 3);
    QCOMPARE(receiver.batches, (QList<QList<QByteArray>>{{"1", "2", "3"}}));

    QVERIFY(session->enqueue("4"));
    QTRY_COMPARE(m_host->flushesRun, 4);
    QCOMPARE(receiver.batches, (QList<QList<QByteArray>>{{"1", "2", "3"}, {"4"}}));
    QCOMPARE(session->queuedMessages(), 0);
    QCOMPARE(m_host->lifecycle(), QStringList{"opened"});
}

void tst_Session::largeBacklogGoesOutInSlices_data()
{
    QTest::addColumn<Mode>("mode");
    QTest::newRow("polling") << Mode::Polling;
    QTest::newRow("streaming") << Mode::Streaming;
}

// A backlog larger than one slice: a streaming receiver gets it in batches
// of at most kSliceBytes, one after another while it can write, and stops
// taking them when it cannot; a polling one gets one slice per request.
// Either way every message arrives once, in order. A message larger than a
// slice still goes out whole.
void tst_Session::largeBacklogGoesOutInSlices()
{
    QFETCH(Mode, mode);
    auto session = makeSession();
    openWithPoll(session.get());

    QList<QByteArray> messages;
    for (int i = 0; i < 100; ++i)
        messages.append(QByteArray::number(i).leftJustified(3000, 'x'));
    messages.insert(50, QByteArray(Session::kSliceBytes + 1, 'y'));
    for (const QByteArray &message : messages)
        QVERIFY(session->enqueue(message));

    QList<QByteArray> received;
    int batches = 0;
    const auto take = [&](const FakeReceiver &receiver) {
        for (const QList<QByteArray> &batch : receiver.batches) {
            qint64 bytes = 0;
            for (const QByteArray &message : batch)
                bytes += message.size();
            if (batch.size() > 1)
                QVERIFY2(bytes <= Session::kSliceBytes, QByteArray::number(bytes).constData());
            received += batch;
            ++batches;
        }
    };

    if (mode == Mode::Streaming) {
        FakeReceiver receiver(mode);
        receiver.setWritable(false);
        session->attach(&receiver);
        QVERIFY(receiver.batches.isEmpty()); // it cannot write: all stays queued
        receiver.setWritable(true);          // writable(): the whole backlog, slice by slice
        take(receiver);
        receiver.end();
    } else {
        for (int poll = 0; poll < 100 && session->queuedMessages() > 0; ++poll) {
            FakeReceiver receiver(mode);
            session->attach(&receiver);
            QCOMPARE(receiver.batches.size(), 1);
            take(receiver);
        }
    }
    QCOMPARE(received, messages);
    QCOMPARE(session->queuedMessages(), 0);
    QVERIFY2(batches >= 6, QByteArray::number(batches).constData()); // 300 kB + 64 KiB in slices of 64 KiB
}

void tst_Session::secondReceiverGets2010_data()
{
    QTest::addColumn<Mode>("firstMode");
    QTest::addColumn<Mode>("secondMode");
    QTest::newRow("poll, then poll") << Mode::Polling << Mode::Polling;
    QTest::newRow("poll, then stream") << Mode::Polling << Mode::Streaming;
    QTest::newRow("stream, then poll") << Mode::Streaming << Mode::Polling;
    QTest::newRow("stream, then stream") << Mode::Streaming << Mode::Streaming;
}

void tst_Session::secondReceiverGets2010()
{
    QFETCH(Mode, firstMode);
    QFETCH(Mode, secondMode);
    auto session = makeSession();
    openWithPoll(session.get());
    QSignalSpy stateSpy(session.get(), &Session::stateChanged);

    FakeReceiver first(firstMode);
    session->attach(&first);
    FakeReceiver second(secondMode);
    session->attach(&second);
    QCOMPARE(second.frames, Frames_{kAnother});
    QVERIFY(second.isFinished());

    QCOMPARE(session->receiver(), &first);
    QVERIFY(first.frames.isEmpty());
    QVERIFY(!first.isFinished());
    QCOMPARE(session->state(), Session::State::Open);
    QCOMPARE(stateSpy.count(), 0);

    // The rejected receiver is not wired to the session.
    second.clientSends({"ignored"});
    QCOMPARE(m_host->count("messages"), 0);

    // The first one still gets what the backend sends.
    QVERIFY(session->enqueue("x"));
    QTRY_COMPARE(first.batches, (QList<QList<QByteArray>>{{"x"}}));
    QCOMPARE(second.frames, Frames_{kAnother});
    QCOMPARE(m_host->lifecycle(), QStringList{"opened"});
}

void tst_Session::closeDeliversQueuedThenClose_data()
{
    // At close time the session has "a", "b" queued and, per row, a receiver
    // attached or not; then three polls arrive.
    QTest::addColumn<bool>("attached");
    QTest::addColumn<Mode>("mode");
    QTest::addColumn<bool>("writable");
    QTest::addColumn<Frames_>("atClose");   // what the attached receiver got
    QTest::addColumn<Frames_>("firstPoll"); // the next receiving request

    const QByteArray ab = Frames::messages({"a", "b"});
    QTest::newRow("streaming") << true << Mode::Streaming << true << Frames_{ab, kGoAway} << Frames_{kGoAway};
    QTest::newRow("streaming, not writable")
        << true << Mode::Streaming << false << Frames_{ab, kGoAway} << Frames_{kGoAway};
    QTest::newRow("polling") << true << Mode::Polling << true << Frames_{ab} << Frames_{kGoAway};
    QTest::newRow("detached") << false << Mode::Polling << true << Frames_{} << Frames_{ab};
}

void tst_Session::closeDeliversQueuedThenClose()
{
    QFETCH(bool, attached);
    QFETCH(Mode, mode);
    QFETCH(bool, writable);
    QFETCH(Frames_, atClose);
    QFETCH(Frames_, firstPoll);

    auto session = makeSession();
    openWithPoll(session.get());
    QSignalSpy stateSpy(session.get(), &Session::stateChanged);
    m_host->autoFlush = false; // keep "a" and "b" queued until the close

    FakeReceiver receiver(mode);
    receiver.setWritable(writable);
    if (attached)
        session->attach(&receiver);
    QVERIFY(session->enqueue("a"));
    QVERIFY(session->enqueue("b"));
    QCOMPARE(receiver.frames, Frames_{});

    session->close(3000, "Go away!");
    QCOMPARE(receiver.frames, atClose);
    QCOMPARE(receiver.isFinished(), attached);
    QVERIFY(!session->hasReceiver());
    QCOMPARE(session->state(), Session::State::Closed);
    QCOMPARE(session->closeCode(), 3000);
    QCOMPARE(session->closeReason(), QByteArray("Go away!"));
    QCOMPARE(m_host->lifecycle(), (QStringList{"opened", "closed"}));
    QCOMPARE(m_host->closeCodeWhenClosed, 3000);
    QCOMPARE(stateSpy.count(), 1);
    QCOMPARE(stateAt(stateSpy, 0), Session::State::Closed);

    // Idempotent: a second close changes nothing.
    session->close(1000, "Normal closure");
    QCOMPARE(session->closeCode(), 3000);
    QCOMPARE(stateSpy.count(), 1);
    QCOMPARE(m_host->count("closed"), 1);

    FakeReceiver poll(Mode::Polling);
    session->attach(&poll);
    QCOMPARE(poll.frames, firstPoll);
    QVERIFY(poll.isFinished());

    // Every later receiving request gets the same close frame (never 2010).
    for (Mode later : {Mode::Polling, Mode::Streaming, Mode::Polling}) {
        FakeReceiver again(later);
        session->attach(&again);
        QCOMPARE(again.frames, Frames_{kGoAway});
        QVERIFY(again.isFinished());
        QVERIFY(!session->hasReceiver());
    }
    QVERIFY(!session->enqueue("late"));
    QCOMPARE(m_host->lifecycle(), (QStringList{"opened", "closed"}));
    QCOMPARE(receiver.writesAfterFinish, 0);
    QCOMPARE(receiver.writesWhileBlocked, 0);
}

void tst_Session::closedSessionExpiresAfterDisconnectDelay()
{
    Session::Options options = slowTimers();
    options.disconnectDelayMs = 50;
    auto session = makeSession(Session::Lifetime::Requests, options);
    openWithPoll(session.get());
    FakeReceiver receiver(Mode::Streaming);
    session->attach(&receiver);

    session->close(3000, "Go away!");
    // Polls on the closed session answer with the close but do not keep it alive.
    FakeReceiver poll(Mode::Polling);
    session->attach(&poll);
    QCOMPARE(poll.frames, Frames_{kGoAway});
    QTRY_COMPARE(m_host->count("expired"), 1);
    QCOMPARE(m_host->lifecycle(), (QStringList{"opened", "closed", "expired"}));
    QCOMPARE(session->closeCode(), 3000); // expiry does not overwrite the close
}

void tst_Session::abortedReceiverInterrupts_data()
{
    QTest::addColumn<Mode>("mode");
    QTest::newRow("polling") << Mode::Polling;
    QTest::newRow("streaming") << Mode::Streaming;
}

void tst_Session::abortedReceiverInterrupts()
{
    QFETCH(Mode, mode);
    auto session = makeSession();
    openWithPoll(session.get());
    QSignalSpy stateSpy(session.get(), &Session::stateChanged);

    FakeReceiver receiver(mode);
    session->attach(&receiver);
    receiver.abort();
    QVERIFY(!session->hasReceiver());
    QCOMPARE(session->state(), Session::State::Closed);
    QCOMPARE(session->closeCode(), 1002);
    QCOMPARE(session->closeReason(), QByteArray("Connection interrupted"));
    QCOMPARE(m_host->lifecycle(), (QStringList{"opened", "closed"}));
    QCOMPARE(m_host->closeCodeWhenClosed, 1002);
    QCOMPARE(stateSpy.count(), 1);
    QCOMPARE(stateAt(stateSpy, 0), Session::State::Closed);
    QVERIFY(receiver.frames.isEmpty()); // nothing is written to a gone client

    // The next request learns that the session was interrupted, not 2010.
    FakeReceiver next(mode);
    session->attach(&next);
    QCOMPARE(next.frames, Frames_{kInterrupted});
    QVERIFY(next.isFinished());
    QVERIFY(!session->enqueue("late"));
    QCOMPARE(m_host->count("closed"), 1);
    QCOMPARE(m_host->count("expired"), 0); // disconnect delay not over yet
}

void tst_Session::endedReceiverKeepsSessionOpen()
{
    auto session = makeSession();
    openWithPoll(session.get());
    FakeReceiver streaming(Mode::Streaming);
    session->attach(&streaming);
    streaming.end(); // response_limit reached: the client reconnects
    QVERIFY(!session->hasReceiver());
    QCOMPARE(session->state(), Session::State::Open);

    QVERIFY(session->enqueue("x"));
    QCOMPARE(m_host->count("scheduleFlush"), 0);
    FakeReceiver next(Mode::Streaming);
    session->attach(&next);
    QCOMPARE(next.frames, Frames_{Frames::messages({"x"})});
    QCOMPARE(streaming.frames, Frames_{});
    QCOMPARE(m_host->lifecycle(), QStringList{"opened"});
}

void tst_Session::connectionLifetimeEndsWithReceiver_data()
{
    QTest::addColumn<QString>("how");
    QTest::addColumn<int>("code");
    QTest::addColumn<Frames_>("frames");
    QTest::newRow("connection closed") << "end" << 1000 << Frames_{"o"};
    QTest::newRow("connection aborted") << "abort" << 1002 << Frames_{"o"};
    QTest::newRow("backend closed") << "close" << 3000 << Frames_{"o", kGoAway};
}

void tst_Session::connectionLifetimeEndsWithReceiver()
{
    QFETCH(QString, how);
    QFETCH(int, code);
    QFETCH(Frames_, frames);

    Session::Options options = slowTimers();
    options.disconnectDelayMs = 1; // must not matter for a connection session
    auto session = makeSession(Session::Lifetime::Connection, options);
    QSignalSpy stateSpy(session.get(), &Session::stateChanged);
    FakeReceiver socket(Mode::Streaming);
    session->attach(&socket);
    QCOMPARE(session->receiver(), &socket);

    if (how == QLatin1String("end"))
        socket.end();
    else if (how == QLatin1String("abort"))
        socket.abort();
    else
        session->close(3000, "Go away!");

    // Expired at once, not after a delay.
    QCOMPARE(m_host->lifecycle(), (QStringList{"opened", "closed", "expired"}));
    QCOMPARE(session->closeCode(), code);
    QCOMPARE(m_host->closeCodeWhenClosed, code);
    QCOMPARE(socket.frames, frames);
    QVERIFY(socket.isFinished());
    QVERIFY(!session->hasReceiver());
    QCOMPARE(stateSpy.count(), 2);
    QCOMPARE(stateAt(stateSpy, 0), Session::State::Open);
    QCOMPARE(stateAt(stateSpy, 1), Session::State::Closed);
    QCOMPARE(socket.writesAfterFinish, 0);
}

void tst_Session::requestsSessionExpiresAfterDisconnectDelay()
{
    Session::Options options = slowTimers();
    options.disconnectDelayMs = 100;
    auto session = makeSession(Session::Lifetime::Requests, options);
    QElapsedTimer elapsed;
    elapsed.start();
    openWithPoll(session.get()); // detached from here on

    QCOMPARE(m_host->count("expired"), 0);
    QTRY_COMPARE_WITH_TIMEOUT(m_host->count("expired"), 1, 5000);
    // Qt's coarse timers may fire up to 5 % early.
    QVERIFY2(elapsed.elapsed() >= 90, QByteArray::number(elapsed.elapsed()));
    QCOMPARE(m_host->lifecycle(), (QStringList{"opened", "closed", "expired"}));
    QCOMPARE(session->state(), Session::State::Closed);
    QCOMPARE(session->closeCode(), 1002);
    QVERIFY(!session->enqueue("late"));
}

void tst_Session::noExpiryWhileAttached()
{
    Session::Options options;
    options.disconnectDelayMs = 50;
    options.heartbeatDelayMs = 20;
    auto session = makeSession(Session::Lifetime::Requests, options);
    openWithPoll(session.get()); // starts the disconnect timer
    FakeReceiver streaming(Mode::Streaming);
    session->attach(&streaming); // stops it

    // Six heartbeats: well over twice the disconnect delay went by.
    QTRY_VERIFY_WITH_TIMEOUT(streaming.heartbeats >= 6, 5000);
    QCOMPARE(m_host->count("expired"), 0);
    QCOMPARE(m_host->count("closed"), 0);
    QCOMPARE(session->state(), Session::State::Open);

    streaming.end();
    QTRY_COMPARE_WITH_TIMEOUT(m_host->count("expired"), 1, 5000);
    QCOMPARE(m_host->lifecycle(), (QStringList{"opened", "closed", "expired"}));
    QCOMPARE(m_host->closeCodeWhenClosed, 1002);
}

void tst_Session::heartbeatsOnlyWhileAttached_data()
{
    QTest::addColumn<Mode>("mode");
    QTest::newRow("polling") << Mode::Polling;
    QTest::newRow("streaming") << Mode::Streaming;
}

void tst_Session::heartbeatsOnlyWhileAttached()
{
    QFETCH(Mode, mode);
    Session::Options options;
    options.heartbeatDelayMs = 20;
    options.disconnectDelayMs = 250;
    auto session = makeSession(Session::Lifetime::Requests, options);

    FakeReceiver opener(Mode::Polling);
    session->attach(&opener);
    FakeReceiver receiver(mode);
    QElapsedTimer elapsed;
    elapsed.start();
    session->attach(&receiver);

    if (mode == Mode::Polling) {
        // A waiting poll is answered with a heartbeat and ends.
        QTRY_VERIFY_WITH_TIMEOUT(receiver.isFinished(), 5000);
        QCOMPARE(receiver.frames, Frames_{"h"});
    } else {
        QTRY_VERIFY_WITH_TIMEOUT(receiver.heartbeats >= 3, 5000);
        QCOMPARE(receiver.frames, Frames_(receiver.heartbeats, "h"));
        receiver.end();
    }
    QVERIFY2(elapsed.elapsed() >= 15, QByteArray::number(elapsed.elapsed()));
    const Frames_ framesAtDetach = receiver.frames;

    // Detached for the whole disconnect delay (over ten heartbeat periods):
    // nothing more is written to anybody.
    QTRY_COMPARE_WITH_TIMEOUT(m_host->count("expired"), 1, 5000);
    QCOMPARE(receiver.frames, framesAtDetach);
    QCOMPARE(opener.frames, Frames_{"o"});
    QCOMPARE(receiver.writesAfterFinish, 0);
    QCOMPARE(opener.writesAfterFinish, 0);
}

void tst_Session::enqueueOnClosedSessionReturnsFalse()
{
    auto session = makeSession();
    openWithPoll(session.get());
    QVERIFY(session->enqueue("a"));
    session->close(3000, "Go away!");
    QVERIFY(!session->enqueue("b"));
    QVERIFY(!session->enqueue(""));
    QCOMPARE(session->queuedMessages(), 1);
    QCOMPARE(m_host->count("scheduleFlush"), 0);

    FakeReceiver receiver(Mode::Streaming);
    session->attach(&receiver);
    QCOMPARE(receiver.frames, (Frames_{Frames::messages({"a"}), kGoAway}));
    QCOMPARE(session->queuedMessages(), 0);
}

void tst_Session::outboxBoundClosesWith1013_data()
{
    QTest::addColumn<bool>("attached"); // a streaming receiver that cannot take more
    QTest::addColumn<int>("maxMessages");
    QTest::addColumn<int>("maxBytes");
    QTest::addColumn<QList<QByteArray>>("accepted");
    QTest::addColumn<QByteArray>("refused");

    for (bool attached : {false, true}) {
        const char *where = attached ? "slow reader" : "detached";
        QTest::addRow("%s, message count", where)
            << attached << 3 << 1024 << QList<QByteArray>{"a", "b", "c"} << QByteArray("d");
        QTest::addRow("%s, bytes", where)
            << attached << 100 << 10 << QList<QByteArray>{"12345", "12345"} << QByteArray("1");
        QTest::addRow("%s, one message over the bytes", where)
            << attached << 100 << 4 << QList<QByteArray>{} << QByteArray("12345");
    }
}

void tst_Session::outboxBoundClosesWith1013()
{
    QFETCH(bool, attached);
    QFETCH(int, maxMessages);
    QFETCH(int, maxBytes);
    QFETCH(QList<QByteArray>, accepted);
    QFETCH(QByteArray, refused);

    Session::Options options = slowTimers();
    options.maxQueuedMessages = maxMessages;
    options.maxQueuedBytes = maxBytes;
    auto session = makeSession(Session::Lifetime::Requests, options);
    openWithPoll(session.get());
    QSignalSpy stateSpy(session.get(), &Session::stateChanged);

    FakeReceiver slow(Mode::Streaming);
    slow.setWritable(false);
    if (attached)
        session->attach(&slow);

    for (const QByteArray &message : accepted)
        QVERIFY(session->enqueue(message));
    QCOMPARE(session->state(), Session::State::Open);
    QCOMPARE(m_host->count("closed"), 0);

    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("outgoing queue full")));
    QVERIFY(!session->enqueue(refused));
    QCOMPARE(session->state(), Session::State::Closed);
    QCOMPARE(session->closeCode(), 1013);
    QCOMPARE(session->closeReason(), QByteArray("Outgoing queue full"));
    QCOMPARE(m_host->lifecycle(), (QStringList{"opened", "closed"}));
    QCOMPARE(m_host->closeCodeWhenClosed, 1013);
    QCOMPARE(stateSpy.count(), 1);

    // The client gets what was accepted, then the close.
    Frames_ expected;
    if (!accepted.isEmpty())
        expected.append(Frames::messages(accepted));
    expected.append(kQueueFull);
    if (attached) {
        QCOMPARE(slow.frames, expected);
        QVERIFY(slow.isFinished());
    } else {
        FakeReceiver next(Mode::Streaming);
        session->attach(&next);
        QCOMPARE(next.frames, expected);
    }
    FakeReceiver later(Mode::Polling);
    session->attach(&later);
    QCOMPARE(later.frames, Frames_{kQueueFull});
    QVERIFY(!session->enqueue("x"));
}

void tst_Session::outboxBoundCountsOnlyUnsent()
{
    Session::Options options = slowTimers();
    options.maxQueuedMessages = 2;
    options.maxQueuedBytes = 1024;
    auto session = makeSession(Session::Lifetime::Requests, options);
    openWithPoll(session.get());
    FakeReceiver receiver(Mode::Streaming);
    session->attach(&receiver);

    for (int round = 0; round < 3; ++round) {
        QVERIFY(session->enqueue("x"));
        QVERIFY(session->enqueue("y"));
        QTRY_COMPARE(receiver.batches.size(), round + 1);
        QCOMPARE(session->queuedMessages(), 0);
    }
    // Bytes too: 600 + 600 would be over 1024 if sent bytes still counted.
    const QByteArray big(600, 'z');
    QVERIFY(session->enqueue(big));
    QTRY_COMPARE(receiver.batches.size(), 4);
    QVERIFY(session->enqueue(big));
    QTRY_COMPARE(receiver.batches.size(), 5);
    QCOMPARE(session->state(), Session::State::Open);
    QCOMPARE(m_host->lifecycle(), QStringList{"opened"});
}

void tst_Session::notWritableHoldsMessagesUntilWritable()
{
    Session::Options options = slowTimers();
    options.heartbeatDelayMs = 20;

    // A twin session with a writable receiver and the same heartbeat delay
    // measures time in heartbeats.
    FakeHost twinHost;
    Session twin(&twinHost, "twin", "backend-twin", Session::Lifetime::Requests, options);
    twinHost.expected = &twin;
    FakeReceiver twinReceiver(Mode::Streaming);

    auto session = makeSession(Session::Lifetime::Requests, options);
    openWithPoll(session.get());
    FakeReceiver slow(Mode::Streaming);
    slow.setWritable(false);
    session->attach(&slow);
    twin.attach(&twinReceiver);

    QVERIFY(session->enqueue("a"));
    QVERIFY(session->enqueue("b"));
    QTRY_COMPARE(m_host->flushesRun, 2);
    session->flush();
    QTRY_VERIFY_WITH_TIMEOUT(twinReceiver.heartbeats >= 4, 5000);
    QCOMPARE(slow.frames, Frames_{}); // neither messages nor heartbeats
    QCOMPARE(session->queuedMessages(), 2);

    slow.setWritable(true); // emits writable()
    QCOMPARE(slow.frames, Frames_{Frames::messages({"a", "b"})});
    QCOMPARE(session->queuedMessages(), 0);
    QTRY_VERIFY_WITH_TIMEOUT(slow.heartbeats >= 1, 5000); // heartbeats resume
    QCOMPARE(slow.writesWhileBlocked, 0);

    // writable() of a receiver that is no longer attached does nothing.
    slow.end();
    QVERIFY(session->enqueue("c"));
    slow.setWritable(true);
    QCOMPARE(session->queuedMessages(), 1);
    QCOMPARE(slow.writesAfterFinish, 0);
    QCOMPARE(m_host->lifecycle(), QStringList{"opened"});
    QCOMPARE(twinHost.wrongSession, 0);
}

void tst_Session::receiveForwardsOnlyWhileOpen()
{
    auto session = makeSession();
    session->receive({"before open"});
    QCOMPARE(m_host->count("messages"), 0);

    openWithPoll(session.get());
    session->receive({"a", "b"});
    session->receive({}); // nothing to forward
    QCOMPARE(m_host->received, (QList<QList<QByteArray>>{{"a", "b"}}));

    // Bidirectional receivers (WebSocket) deliver through their signal.
    FakeReceiver socket(Mode::Streaming);
    session->attach(&socket);
    socket.clientSends({"c"});
    QCOMPARE(m_host->received, (QList<QList<QByteArray>>{{"a", "b"}, {"c"}}));

    // A receiver that was rejected with 2010 delivers nothing.
    FakeReceiver rejected(Mode::Streaming);
    session->attach(&rejected);
    rejected.clientSends({"rejected"});
    QCOMPARE(m_host->count("messages"), 2);

    session->close(3000, "Go away!");
    session->receive({"after close"});
    socket.clientSends({"after close"});
    QCOMPARE(m_host->count("messages"), 2);
    QCOMPARE(m_host->lifecycle(), (QStringList{"opened", "messages", "messages", "closed"}));
}

void tst_Session::destroyedWithReceiverAttached()
{
    auto session = makeSession();
    FakeReceiver receiver(Mode::Streaming);
    session->attach(&receiver);
    session.reset();
    receiver.abort(); // no longer connected to the deleted session
    receiver.setWritable(true);
    receiver.clientSends({"x"});
    QCOMPARE(m_host->log, QStringList{"opened"});
}

QTEST_GUILESS_MAIN(tst_Session)
#include "tst_session.moc"
