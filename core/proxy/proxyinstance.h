#pragma once

#include "config/commandline.h"

#include <QBasicTimer>
#include <QElapsedTimer>
#include <QObject>

#include <memory>

namespace SockJsProxy {

class ControlServer;
class Monitor;
class Server;

// One proxy from start to stop: what sockjsproxy-cli runs, and what the
// monitor window runs in its own process. Owns the Server and, when asked
// for, the Monitor over it and the ControlServer (--control).
//
// start() binds everything or nothing. shutdown() stops the control
// endpoint and the monitor, closes every session (clients get a close
// frame, backends "disconnect"), then waits until every service's bridge has
// handed what it queued to a backend, or Config::shutdownTimeoutMs passed,
// and emits stopped(). A second shutdown() while waiting stops waiting:
// stopped() is emitted before it returns. The Server stays (its sockets
// closed) until the instance is deleted; delete it after stopped(), not
// from a slot connected to stopped() (deleteLater() there).
class ProxyInstance : public QObject
{
    Q_OBJECT

public:
    enum class State { Idle, Running, Draining, Stopped };
    // Whether a Monitor exists without a control endpoint too.
    enum class Monitoring { WithControl, Always };

    explicit ProxyInstance(Monitoring monitoring = Monitoring::WithControl, QObject *parent = nullptr);
    ~ProxyInstance() override;

    // Why the last start() failed: bad key material (zmq.curve, http.tls,
    // --control-tls-*) is a
    // configuration error, which sockjsproxy-cli exits 2 for; anything else
    // (a port in use, say) is Bind, exit 1.
    enum class Failure { None, Configuration, Bind };

    // Once, from Idle. On failure *error is one line naming what failed
    // ("HTTP 0.0.0.0:8080: ...", "--control 9999: ..."), nothing stays bound
    // and the state stays Idle.
    bool start(const CommandLine::Result &options, QString *error);
    Failure startFailure() const { return m_startFailure; }
    // Running: starts the drain; Draining: ends it at once; otherwise nothing.
    void shutdown();
    // Running: re-reads what may change while running (SIGHUP): each
    // service's allowed backend keys and the TLS certificates and keys
    // (Server::reloadKeys(), ControlServer::reloadTls()). Otherwise nothing.
    void reload();

    State state() const { return m_state; }
    Server *server() const { return m_server.get(); }    // null until started
    Monitor *monitor() const { return m_monitor.get(); } // null when none, and from shutdown() on
    ControlServer *control() const { return m_control.get(); }
    // Events waiting for a backend, over every service.
    qsizetype queuedToBackends() const;

Q_SIGNALS:
    // The drain is over; undelivered events were still queued (and are dropped).
    void stopped(qsizetype undelivered);

protected:
    void timerEvent(QTimerEvent *event) override;

private:
    void logStarted() const;
    void finish();

    Monitoring m_monitoring;
    State m_state = State::Idle;
    QString m_openFilesNote; // what applyOpenFilesLimit() did, logged once started
    Failure m_startFailure = Failure::None;
    // Destroyed control first, server last: each uses the one below it.
    std::unique_ptr<Server> m_server;
    std::unique_ptr<Monitor> m_monitor;
    std::unique_ptr<ControlServer> m_control;
    QBasicTimer m_drainTimer;
    QElapsedTimer m_drainElapsed;
};

} // namespace SockJsProxy
