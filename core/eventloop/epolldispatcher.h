#pragma once

#include <QAbstractEventDispatcher>
#include <QAtomicInt>

#include <chrono>
#include <map>
#include <unordered_map>
#include <utility>
#include <vector>

class QSocketNotifier;
struct pollfd;

namespace SockJsProxy {

// An event dispatcher for one thread on Linux epoll: the cost of a loop
// iteration grows with the descriptors that are ready, not with all the
// socket notifiers registered (Qt's own UNIX dispatcher rebuilds and polls
// an array of every notifier on each iteration).
//
// Install it before the application object exists:
//     QCoreApplication::setEventDispatcher(new EpollDispatcher);
// QCoreApplication then owns it.
//
// Behaves like Qt's UNIX dispatcher where the project depends on it:
// - notifiers are level-triggered; one epoll registration per descriptor
//   carries the union of its Read (EPOLLIN), Write (EPOLLOUT) and Exception
//   (EPOLLPRI) notifiers; EPOLLERR/EPOLLHUP activate all of them, as
//   POLLERR/POLLHUP do under poll();
// - a notifier unregistered or deleted by an earlier activation of the same
//   iteration is not activated;
// - timers fire after the socket notifiers of an iteration, in deadline
//   order; a timer stopped or restarted by another timer's event does not
//   fire stale, and a timer is never re-entered from a nested event loop
//   inside its own timerEvent();
// - zero-interval timers fire on every iteration without blocking.
// A write notifier just enabled is first checked with one poll() shared by
// all such descriptors of the iteration and handed to epoll only if the
// descriptor is not writable: sockets toggle their write notifier around
// nearly every write, and are nearly always writable.
// Differences: all timer types are precise to the millisecond (Coarse and
// VeryCoarse timers are not rounded or slackened); a descriptor epoll
// refuses (a regular file) is reported ready on every iteration, as poll()
// does; native event filters are not called (there are no native events).
//
// Only wakeUp() and interrupt() may be called from other threads.
class EpollDispatcher final : public QAbstractEventDispatcher
{
    Q_OBJECT

public:
    explicit EpollDispatcher(QObject *parent = nullptr);
    ~EpollDispatcher() override;

    // False when epoll or the eventfd could not be created (logged): do not
    // install it then.
    bool isValid() const;

    bool processEvents(QEventLoop::ProcessEventsFlags flags) override;

    void registerSocketNotifier(QSocketNotifier *notifier) override;
    void unregisterSocketNotifier(QSocketNotifier *notifier) override;

    void registerTimer(int timerId, qint64 interval, Qt::TimerType timerType, QObject *object) override;
    bool unregisterTimer(int timerId) override;
    bool unregisterTimers(QObject *object) override;
    QList<TimerInfo> registeredTimers(QObject *object) const override;
    int remainingTime(int timerId) override;

    void wakeUp() override;
    void interrupt() override;

    // eventfd writes so far: wake-ups from other threads (for the tests).
    quint64 wakeUpWrites() const { return m_wakeUpWrites.loadRelaxed(); }

private:
    using Clock = std::chrono::steady_clock;

    // The notifiers of one descriptor, by QSocketNotifier::Type. serial
    // tells a registration from a later one of the same pointer.
    struct Descriptor
    {
        QSocketNotifier *notifiers[3] = {nullptr, nullptr, nullptr};
        quint64 serials[3] = {0, 0, 0};
        quint32 inKernel = 0; // events epoll watches; 0: not added
        bool dirty = false;   // in m_dirty, to be told to epoll
        bool refused = false; // epoll cannot watch it: always ready
        bool warned = false;
    };

    struct PendingActivation
    {
        int fd;
        int type;
        QSocketNotifier *notifier; // compared only, never dereferenced unchecked
        quint64 serial;
    };

    struct Timer
    {
        QObject *object;
        qint64 interval;
        Qt::TimerType type;
        Clock::time_point deadline;
        quint64 key;          // position in m_queue: (deadline, key)
        quint64 registration; // tells a restarted timer from the old one
        bool firing = false;  // inside its timerEvent()
    };
    using QueueKey = std::pair<Clock::time_point, quint64>;

    static quint32 wantedEvents(const Descriptor &descriptor);
    // Which notifiers of a descriptor a readiness report may activate.
    enum Source { KernelWatched, WriteOnly, AllTypes };
    int activate(int fd, quint32 events, quint64 waitSerial, Source source);
    void updateInterest(int fd);
    void applyInterest(int fd, Descriptor &descriptor);
    std::vector<pollfd> flushInterest(); // returns the descriptors found writable
    void warnOnce(int fd, Descriptor &descriptor, const char *operation, int error);

    int timeoutMs(Clock::time_point now) const;
    void schedule(int timerId, Timer &timer, Clock::time_point deadline);
    int activateTimers();
    void forgetObjectTimer(QObject *object, int timerId);
    int drainWakeUp();

    int m_epoll = -1;
    int m_wakeFd = -1;
    QAtomicInt m_wakeUpPending;
    // The thread this dispatcher serves (the one that made it), and whether
    // it posted an event since processEvents() last sent the posted ones:
    // it cannot be waiting while it posts, so it needs no eventfd write,
    // only a wait that does not block.
    Qt::HANDLE m_ownThread = nullptr;
    bool m_postedInThread = false;
    QAtomicInteger<quint64> m_wakeUpWrites;
    QAtomicInt m_interrupted;

    std::vector<Descriptor> m_descriptors; // by descriptor number
    std::vector<int> m_dirty;              // descriptors whose interest changed
    std::vector<int> m_refused;            // descriptors epoll would not take
    quint64 m_nextSerial = 0;

    std::unordered_map<int, Timer> m_timers;
    std::map<QueueKey, int> m_queue; // (deadline, key) -> timer id
    std::unordered_multimap<QObject *, int> m_objectTimers;
    quint64 m_nextKey = 0;
};

} // namespace SockJsProxy
