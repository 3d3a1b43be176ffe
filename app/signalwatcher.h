#pragma once

#include <QObject>

namespace SockJsProxy {

// Turns SIGINT/SIGTERM (Ctrl-C, Ctrl-Break and console close on Windows)
// into a Qt signal delivered on the event loop. A second signal while the
// first is being handled exits the process at once.
class SignalWatcher : public QObject
{
    Q_OBJECT

public:
    explicit SignalWatcher(QObject *parent = nullptr);
    ~SignalWatcher() override;

Q_SIGNALS:
    void terminationRequested(int signal);

private:
    void onNotified();
};

} // namespace SockJsProxy
