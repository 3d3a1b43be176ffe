#include "eventloop/epolldispatcher.h"

#include "base/logging.h"

#include <QCoreApplication>
#include <QSocketNotifier>
#include <QThread>
#include <QTimerEvent>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace SockJsProxy {

namespace {

// Events taken from epoll per wait. Level-triggered descriptors left over
// are reported again by the next wait, after the ones epoll queued meanwhile.
constexpr int kMaxEvents = 512;

// What each notifier type watches, and what activates it: poll()'s
// POLLHUP/POLLERR activate every notifier of the descriptor under Qt's
// own dispatcher, so EPOLLHUP/EPOLLERR do here.
constexpr quint32 kWatch[3] = {EPOLLIN, EPOLLOUT, EPOLLPRI};
constexpr quint32 kActivate[3] = {EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR, EPOLLOUT | EPOLLHUP | EPOLLERR,
                                  EPOLLPRI | EPOLLHUP | EPOLLERR};

const char *typeName(int type)
{
    static const char *const names[3] = {"Read", "Write", "Exception"};
    return type >= 0 && type < 3 ? names[type] : "unknown";
}

} // namespace

EpollDispatcher::EpollDispatcher(QObject *parent)
    : QAbstractEventDispatcher(parent), m_ownThread(QThread::currentThreadId())
{
    m_epoll = epoll_create1(EPOLL_CLOEXEC);
    if (m_epoll < 0) {
        qCCritical(lcEventLoop) << "epoll_create1 failed:" << std::strerror(errno);
        return;
    }
    m_wakeFd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (m_wakeFd < 0) {
        qCCritical(lcEventLoop) << "eventfd failed:" << std::strerror(errno);
        return;
    }
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = m_wakeFd;
    if (epoll_ctl(m_epoll, EPOLL_CTL_ADD, m_wakeFd, &event) < 0) {
        qCCritical(lcEventLoop) << "cannot watch the wake-up eventfd:" << std::strerror(errno);
        ::close(m_wakeFd);
        m_wakeFd = -1;
    }
}

EpollDispatcher::~EpollDispatcher()
{
    if (m_wakeFd >= 0)
        ::close(m_wakeFd);
    if (m_epoll >= 0)
        ::close(m_epoll);
}

bool EpollDispatcher::isValid() const { return m_epoll >= 0 && m_wakeFd >= 0; }

bool EpollDispatcher::processEvents(QEventLoop::ProcessEventsFlags flags)
{
    // As Qt's dispatchers: an interrupt() before this call is answered by
    // the event loop's own exit flag, one during it ends the wait.
    m_interrupted.storeRelaxed(0);

    // Events posted from here on make the wait below return at once: from
    // another thread through the eventfd (postEvent() calls wakeUp()), from
    // this one through m_postedInThread.
    m_postedInThread = false;
    QCoreApplication::sendPostedEvents();

    const bool includeTimers = !(flags & QEventLoop::X11ExcludeTimers);
    const bool includeNotifiers = !(flags & QEventLoop::ExcludeSocketNotifiers);
    int timeout = 0;
    if ((flags & QEventLoop::WaitForMoreEvents) && !m_interrupted.loadRelaxed()) {
        timeout = includeTimers ? timeoutMs(Clock::now()) : -1;
        if (includeNotifiers && !m_refused.empty())
            timeout = 0;
    }
    const bool blocking = timeout != 0;
    if (blocking)
        Q_EMIT aboutToBlock();
    if (m_interrupted.loadRelaxed())
        return false;

    int activated = 0;
    if (includeNotifiers) {
        std::vector<pollfd> writable = flushInterest();
        if (!writable.empty() || m_postedInThread)
            timeout = 0;
        epoll_event events[kMaxEvents];
        const int ready = epoll_wait(m_epoll, events, kMaxEvents, timeout);
        if (blocking)
            Q_EMIT awake();
        if (ready < 0 && errno != EINTR) {
            static bool warned = false;
            if (!warned) {
                warned = true;
                qCWarning(lcEventLoop) << "epoll_wait failed:" << std::strerror(errno);
            }
        }
        // A notifier registered after the wait (or registered again: a new
        // serial) did not take part in it.
        const quint64 waitSerial = m_nextSerial;
        for (int i = 0; i < ready; ++i) {
            const int fd = events[i].data.fd;
            if (fd == m_wakeFd)
                activated += drainWakeUp();
            else
                activated += activate(fd, events[i].events, waitSerial, KernelWatched);
        }
        for (const pollfd &probe : writable) {
            const quint32 events = ((probe.revents & POLLOUT) ? quint32(EPOLLOUT) : 0u)
                                   | ((probe.revents & POLLERR) ? quint32(EPOLLERR) : 0u)
                                   | ((probe.revents & POLLHUP) ? quint32(EPOLLHUP) : 0u);
            activated += activate(probe.fd, events, waitSerial, WriteOnly);
        }
        if (!m_refused.empty()) {
            const std::vector<int> refused = m_refused; // activations may change it
            for (const int fd : refused)
                activated += activate(fd, EPOLLIN | EPOLLOUT, waitSerial, AllTypes);
        }
    } else {
        pollfd wake{m_wakeFd, POLLIN, 0};
        const int ready = ::poll(&wake, 1, m_postedInThread ? 0 : timeout);
        if (blocking)
            Q_EMIT awake();
        if (ready > 0 && (wake.revents & POLLIN))
            activated += drainWakeUp();
    }

    if (includeTimers)
        activated += activateTimers();
    return activated > 0;
}

int EpollDispatcher::activate(int fd, quint32 events, quint64 waitSerial, Source source)
{
    int activated = 0;
    for (int type = 0; type < 3; ++type) {
        // Re-read every time: an activation may unregister, delete or add
        // notifiers, and growing m_descriptors moves it.
        if (fd < 0 || size_t(fd) >= m_descriptors.size())
            break;
        const Descriptor &descriptor = m_descriptors[size_t(fd)];
        QSocketNotifier *notifier = descriptor.notifiers[type];
        if (!notifier || descriptor.serials[type] > waitSerial || !(events & kActivate[type]))
            continue;
        // A write notifier epoll does not watch was probed by poll(): its
        // answer is the one that counts, once.
        const bool isWrite = type == int(QSocketNotifier::Write);
        if (source == WriteOnly && !isWrite)
            continue;
        if (source == KernelWatched && isWrite && !(descriptor.inKernel & EPOLLOUT))
            continue;
        QEvent event(QEvent::SockAct);
        QCoreApplication::sendEvent(notifier, &event);
        ++activated;
    }
    return activated;
}

int EpollDispatcher::drainWakeUp()
{
    quint64 count = 0;
    while (::read(m_wakeFd, &count, sizeof count) < 0 && errno == EINTR) {}
    // Posted after this point: written again. Posted between the read and
    // here: sent by the next processEvents(), which starts with them.
    m_wakeUpPending.storeRelease(0);
    return 1;
}

void EpollDispatcher::wakeUp()
{
    // The own thread posts while it runs, never while it waits: a posted
    // call or deleteLater() in a slot, once per message on the busiest
    // paths. Writing the eventfd for it would cost a write now and a read
    // and an extra epoll_wait() return later.
    if (QThread::currentThreadId() == m_ownThread) {
        m_postedInThread = true;
        return;
    }
    if (!m_wakeUpPending.testAndSetAcquire(0, 1))
        return; // a write is already pending
    m_wakeUpWrites.fetchAndAddRelaxed(1);
    const quint64 one = 1;
    while (::write(m_wakeFd, &one, sizeof one) < 0 && errno == EINTR) {}
}

void EpollDispatcher::interrupt()
{
    m_interrupted.storeRelaxed(1);
    wakeUp();
}

// --- socket notifiers --------------------------------------------------------

quint32 EpollDispatcher::wantedEvents(const Descriptor &descriptor)
{
    quint32 events = 0;
    for (int type = 0; type < 3; ++type) {
        if (descriptor.notifiers[type])
            events |= kWatch[type];
    }
    return events;
}

void EpollDispatcher::registerSocketNotifier(QSocketNotifier *notifier)
{
    const qintptr socket = notifier->socket();
    const int type = int(notifier->type());
    if (socket < 0 || socket > INT_MAX || type < 0 || type > 2) {
        qCWarning(lcEventLoop) << "cannot watch invalid descriptor" << socket;
        return;
    }
    const int fd = int(socket);
    if (size_t(fd) >= m_descriptors.size())
        m_descriptors.resize(std::max(size_t(fd) + 1, m_descriptors.size() * 2));
    Descriptor &descriptor = m_descriptors[size_t(fd)];
    if (descriptor.notifiers[type] && descriptor.notifiers[type] != notifier)
        qCWarning(lcEventLoop) << "several" << typeName(type) << "socket notifiers on descriptor" << fd
                               << "- only the last one is activated";
    descriptor.notifiers[type] = notifier;
    descriptor.serials[type] = ++m_nextSerial;
    updateInterest(fd);
}

void EpollDispatcher::unregisterSocketNotifier(QSocketNotifier *notifier)
{
    const qintptr socket = notifier->socket();
    const int type = int(notifier->type());
    if (socket < 0 || size_t(socket) >= m_descriptors.size() || type < 0 || type > 2)
        return;
    const int fd = int(socket);
    Descriptor &descriptor = m_descriptors[size_t(fd)];
    if (descriptor.notifiers[type] != notifier)
        return;
    descriptor.notifiers[type] = nullptr;
    descriptor.serials[type] = 0;
    updateInterest(fd);
}

void EpollDispatcher::updateInterest(int fd)
{
    Descriptor &descriptor = m_descriptors[size_t(fd)];
    if (wantedEvents(descriptor) == 0) {
        // Removed at once: the owner usually closes the descriptor next,
        // and its number may be reused before the next wait.
        if (descriptor.inKernel && epoll_ctl(m_epoll, EPOLL_CTL_DEL, fd, nullptr) < 0 && errno != EBADF
            && errno != ENOENT) {
            // EBADF/ENOENT: closed before its notifier went, epoll dropped it.
            warnOnce(fd, descriptor, "EPOLL_CTL_DEL", errno);
        }
        if (descriptor.refused)
            m_refused.erase(std::remove(m_refused.begin(), m_refused.end(), fd), m_refused.end());
        descriptor = Descriptor{};
        return;
    }
    // Anything else waits for the next wait: QAbstractSocket enables and
    // disables its write notifier around most writes, and the changes of
    // one iteration often cancel out.
    if (!descriptor.dirty) {
        descriptor.dirty = true;
        m_dirty.push_back(fd);
    }
}

std::vector<pollfd> EpollDispatcher::flushInterest()
{
    // QAbstractSocket enables its write notifier for nearly every write and
    // disables it once the buffer is flushed, and a socket is nearly always
    // writable: registering EPOLLOUT and removing it again would cost two
    // epoll_ctl() per write. Instead the descriptors that only add write
    // interest are asked with one poll() for all of them; only those not
    // writable now are handed to epoll.
    std::vector<pollfd> probes;
    for (const int fd : m_dirty) {
        if (size_t(fd) >= m_descriptors.size())
            continue;
        Descriptor &descriptor = m_descriptors[size_t(fd)];
        if (!descriptor.dirty)
            continue;
        const quint32 wanted = wantedEvents(descriptor);
        if (!descriptor.refused && (wanted & EPOLLOUT) && (wanted & ~quint32(EPOLLOUT)) == descriptor.inKernel) {
            descriptor.dirty = false;
            probes.push_back(pollfd{fd, POLLOUT, 0});
            continue;
        }
        applyInterest(fd, descriptor);
    }
    m_dirty.clear();
    if (probes.empty())
        return probes;

    int ready = ::poll(probes.data(), nfds_t(probes.size()), 0);
    if (ready < 0)
        ready = 0; // EINTR or worse: let epoll watch them all
    std::vector<pollfd> writable;
    writable.reserve(size_t(ready));
    for (const pollfd &probe : probes) {
        Descriptor &descriptor = m_descriptors[size_t(probe.fd)];
        if (probe.revents & POLLNVAL) {
            warnOnce(probe.fd, descriptor, "poll", EBADF);
        } else if (probe.revents) {
            writable.push_back(probe);
            // Still wanted next iteration (a partial write): ask again then.
            if (!descriptor.dirty) {
                descriptor.dirty = true;
                m_dirty.push_back(probe.fd);
            }
        } else {
            applyInterest(probe.fd, descriptor);
        }
    }
    return writable;
}

void EpollDispatcher::applyInterest(int fd, Descriptor &descriptor)
{
    descriptor.dirty = false;
    const quint32 wanted = wantedEvents(descriptor);
    if (descriptor.refused || wanted == descriptor.inKernel)
        return;
    epoll_event event{};
    event.events = wanted;
    event.data.fd = fd;
    int op = descriptor.inKernel ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    int rc = epoll_ctl(m_epoll, op, fd, &event);
    if (rc < 0 && op == EPOLL_CTL_MOD && errno == ENOENT) {
        // Closed and reopened under the same number: epoll forgot it.
        op = EPOLL_CTL_ADD;
        rc = epoll_ctl(m_epoll, op, fd, &event);
    } else if (rc < 0 && op == EPOLL_CTL_ADD && errno == EEXIST) {
        op = EPOLL_CTL_MOD;
        rc = epoll_ctl(m_epoll, op, fd, &event);
    }
    if (rc == 0) {
        descriptor.inKernel = wanted;
        return;
    }
    if (errno == EPERM) {
        // A regular file or similar: poll() reports it always ready, and
        // so does this dispatcher.
        qCDebug(lcEventLoop) << "descriptor" << fd << "cannot be watched by epoll; treated as always ready";
        descriptor.refused = true;
        descriptor.inKernel = 0;
        m_refused.push_back(fd);
        return;
    }
    warnOnce(fd, descriptor, op == EPOLL_CTL_ADD ? "EPOLL_CTL_ADD" : "EPOLL_CTL_MOD", errno);
}

void EpollDispatcher::warnOnce(int fd, Descriptor &descriptor, const char *operation, int error)
{
    if (descriptor.warned)
        return;
    descriptor.warned = true;
    qCWarning(lcEventLoop).nospace() << "cannot watch descriptor " << fd << " (" << operation
                                     << "): " << std::strerror(error) << "; its socket notifiers stay silent";
}

// --- timers ------------------------------------------------------------------

int EpollDispatcher::timeoutMs(Clock::time_point now) const
{
    // The first timer not inside its own timerEvent(): one that is cannot
    // fire again until it returns, so it must not make a nested loop spin.
    for (const auto &[key, timerId] : m_queue) {
        const auto timer = m_timers.find(timerId);
        if (timer != m_timers.end() && timer->second.firing)
            continue;
        if (key.first <= now)
            return 0;
        // Rounded up: waking a little early would only spin.
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(key.first - now).count();
        return int(std::min<qint64>(left, INT_MAX));
    }
    return -1;
}

void EpollDispatcher::schedule(int timerId, Timer &timer, Clock::time_point deadline)
{
    if (timer.key)
        m_queue.erase(QueueKey(timer.deadline, timer.key));
    timer.deadline = deadline;
    timer.key = ++m_nextKey;
    m_queue.emplace(QueueKey(deadline, timer.key), timerId);
}

void EpollDispatcher::registerTimer(int timerId, qint64 interval, Qt::TimerType timerType, QObject *object)
{
    if (timerId < 1 || interval < 0 || !object) {
        qCWarning(lcEventLoop) << "invalid timer" << timerId << "interval" << interval;
        return;
    }
    if (m_timers.count(timerId))
        unregisterTimer(timerId);
    Timer timer{object, interval, timerType, {}, 0, ++m_nextKey};
    Timer &stored = m_timers.emplace(timerId, timer).first->second;
    schedule(timerId, stored, Clock::now() + std::chrono::milliseconds(interval));
    m_objectTimers.emplace(object, timerId);
}

void EpollDispatcher::forgetObjectTimer(QObject *object, int timerId)
{
    auto [it, end] = m_objectTimers.equal_range(object);
    for (; it != end; ++it) {
        if (it->second == timerId) {
            m_objectTimers.erase(it);
            return;
        }
    }
}

bool EpollDispatcher::unregisterTimer(int timerId)
{
    const auto timer = m_timers.find(timerId);
    if (timer == m_timers.end())
        return false;
    m_queue.erase(QueueKey(timer->second.deadline, timer->second.key));
    forgetObjectTimer(timer->second.object, timerId);
    m_timers.erase(timer);
    return true;
}

bool EpollDispatcher::unregisterTimers(QObject *object)
{
    auto [it, end] = m_objectTimers.equal_range(object);
    if (it == end)
        return false;
    for (auto i = it; i != end; ++i) {
        const auto timer = m_timers.find(i->second);
        if (timer == m_timers.end())
            continue;
        m_queue.erase(QueueKey(timer->second.deadline, timer->second.key));
        m_timers.erase(timer);
    }
    m_objectTimers.erase(it, end);
    return true;
}

QList<QAbstractEventDispatcher::TimerInfo> EpollDispatcher::registeredTimers(QObject *object) const
{
    QList<TimerInfo> infos;
    auto [it, end] = m_objectTimers.equal_range(object);
    for (; it != end; ++it) {
        const auto timer = m_timers.find(it->second);
        if (timer != m_timers.end())
            infos.append(
                TimerInfo(it->second, int(std::min<qint64>(timer->second.interval, INT_MAX)), timer->second.type));
    }
    return infos;
}

int EpollDispatcher::remainingTime(int timerId)
{
    const auto timer = m_timers.find(timerId);
    if (timer == m_timers.end())
        return -1;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(timer->second.deadline - Clock::now());
    return int(std::clamp<qint64>(left.count(), 0, INT_MAX));
}

int EpollDispatcher::activateTimers()
{
    if (m_queue.empty())
        return 0;
    const Clock::time_point now = Clock::now();
    // The timers due now, fixed before any fires: a timer started, restarted
    // or rescheduled by a timerEvent() below waits for the next iteration.
    std::vector<std::pair<int, quint64>> due; // (timer id, queue key)
    for (auto it = m_queue.begin(); it != m_queue.end() && it->first.first <= now; ++it)
        due.emplace_back(it->second, it->first.second);

    int fired = 0;
    for (const auto &[timerId, key] : due) {
        auto timer = m_timers.find(timerId);
        // Stopped, restarted (a new key) or inside its own timerEvent() in
        // an outer loop: not now.
        if (timer == m_timers.end() || timer->second.key != key || timer->second.firing)
            continue;
        Timer &t = timer->second;
        // Keep the cadence, but never schedule into the past (a late loop
        // would otherwise fire a burst to catch up).
        const std::chrono::milliseconds interval(t.interval);
        Clock::time_point next = t.deadline + interval;
        if (next < now)
            next = now + interval;
        schedule(timerId, t, next);
        t.firing = true;
        const quint64 registration = t.registration;
        QObject *object = t.object;

        QTimerEvent event(timerId);
        QCoreApplication::sendEvent(object, &event);
        ++fired;

        // The event may have stopped this or any timer, or deleted objects.
        timer = m_timers.find(timerId);
        if (timer != m_timers.end() && timer->second.registration == registration)
            timer->second.firing = false;
    }
    return fired;
}

} // namespace SockJsProxy
