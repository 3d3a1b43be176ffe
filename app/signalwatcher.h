#pragma once

#include <QObject>

namespace SockJsProxy {

// Turns SIGINT/SIGTERM (Ctrl-C, Ctrl-Break and console close on Windows)
// into a Qt signal delivered on the event loop. A second signal while the
// first is being handled exits the process at once.
//
// SIGHUP (POSIX only) becomes reloadRequested(), as often as it comes: the
// place for everything that re-reads files while running (CURVE keys now;
// certificates, say, later) to connect to. It does not count towards the
// termination signals.
class SignalWatcher : public QObject
{
    Q_OBJECT

public:
    explicit SignalWatcher(QObject *parent = nullptr);
    ~SignalWatcher() override;

#ifdef Q_OS_WIN
    // The Windows service's stop: the watcher, if one exists, emits
    // terminationRequested(signal) on its thread as for a console Ctrl-C.
    // Thread-safe; does not count as a first signal.
    static void requestTermination(int signal);
#endif

Q_SIGNALS:
    void terminationRequested(int signal);
    void reloadRequested();

private Q_SLOTS:
    // Invoked by name, queued, from the Windows handlers' threads.
    void onNotified();
};

} // namespace SockJsProxy
