#include "signalwatcher.h"

#include <QMetaObject>
#include <QPointer>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>

#ifdef Q_OS_WIN
#include <QMutex>

#include <windows.h>
#else
#include <QSocketNotifier>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

namespace SockJsProxy {

namespace {
std::atomic<int> g_signalCount{0};
std::atomic<int> g_lastSignal{0};
SignalWatcher *g_watcher = nullptr;

#ifdef Q_OS_WIN
// The console handler and the service's stop run on threads of their own:
// this keeps g_watcher alive while they post to it.
QMutex g_watcherMutex;

void notify(int signal)
{
    const QMutexLocker lock(&g_watcherMutex);
    if (!g_watcher)
        return;
    g_lastSignal = signal;
    QMetaObject::invokeMethod(g_watcher, "onNotified", Qt::QueuedConnection);
}

BOOL WINAPI consoleHandler(DWORD type)
{
    if (g_signalCount.fetch_add(1) > 0)
        std::_Exit(130);
    notify(type == CTRL_C_EVENT ? SIGINT : SIGTERM);
    return TRUE;
}
#else
int g_pipe[2] = {-1, -1};
// What a byte on the pipe asks for.
constexpr char kTerminate = 1;
constexpr char kReload = 2;

void posixHandler(int signal)
{
    // Only async-signal-safe calls here: the event loop reads the pipe.
    const int savedErrno = errno;
    if (signal == SIGHUP) {
        const char byte = kReload;
        [[maybe_unused]] const auto written = ::write(g_pipe[1], &byte, 1);
        errno = savedErrno;
        return;
    }
    if (g_signalCount.fetch_add(1) > 0)
        std::_Exit(128 + signal);
    g_lastSignal = signal;
    const char byte = kTerminate;
    [[maybe_unused]] const auto written = ::write(g_pipe[1], &byte, 1);
    errno = savedErrno;
}
#endif
} // namespace

SignalWatcher::SignalWatcher(QObject *parent) : QObject(parent)
{
#ifdef Q_OS_WIN
    {
        const QMutexLocker lock(&g_watcherMutex);
        g_watcher = this;
    }
    SetConsoleCtrlHandler(consoleHandler, TRUE);
#else
    g_watcher = this;
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, g_pipe) == 0) {
        // A storm of SIGHUPs must not block the handler on a full buffer:
        // a byte that does not fit is a reload already asked for.
        ::fcntl(g_pipe[1], F_SETFL, ::fcntl(g_pipe[1], F_GETFL) | O_NONBLOCK);
        auto *notifier = new QSocketNotifier(g_pipe[0], QSocketNotifier::Read, this);
        connect(notifier, &QSocketNotifier::activated, this, [this] {
            char byte = 0;
            if (::read(g_pipe[0], &byte, 1) != 1)
                return;
            if (byte == kReload)
                Q_EMIT reloadRequested();
            else
                onNotified();
        });
        struct sigaction action = {};
        action.sa_handler = posixHandler;
        sigemptyset(&action.sa_mask);
        action.sa_flags = SA_RESTART;
        sigaction(SIGINT, &action, nullptr);
        sigaction(SIGTERM, &action, nullptr);
        sigaction(SIGHUP, &action, nullptr);
    }
#endif
}

SignalWatcher::~SignalWatcher()
{
#ifdef Q_OS_WIN
    const QMutexLocker lock(&g_watcherMutex);
#endif
    g_watcher = nullptr;
}

#ifdef Q_OS_WIN
void SignalWatcher::requestTermination(int signal) { notify(signal); }
#endif

void SignalWatcher::onNotified() { Q_EMIT terminationRequested(g_lastSignal.load()); }

} // namespace SockJsProxy
