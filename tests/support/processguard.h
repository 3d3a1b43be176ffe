#pragma once

#include "waituntil.h"

#include <QByteArray>
#include <QElapsedTimer>
#include <QList>
#include <QProcess>
#include <QProcessEnvironment>
#include <QString>
#include <QStringList>

#include <memory>
#include <vector>

namespace SockJsProxy::Test {

// How long a child may take to start and serve (sanitizer builds, Python
// imports); passing runs take far less.
constexpr int kProcessStartMs = 20000;

// A child process and everything it has written so far, collected as it
// arrives, so that waiting on its output never blocks the event loop.
// Created and owned by a ProcessGuard.
class Child : public QProcess
{
public:
    explicit Child(const QString &name);

    QString name() const { return m_name; }
    QByteArray standardOutput() const { return m_stdout; } // all of it so far
    QByteArray standardError() const { return m_stderr; }
    QByteArray output() const { return m_all; } // both, in the order they arrived
    bool isRunning() const { return state() != QProcess::NotRunning; }

    // The lines of output() (a last line without '\n' included).
    QList<QByteArray> lines() const;
    bool hasLineContaining(const QByteArray &text) const;
    // Lines that start with prefix ("connect " but not "disconnect ...").
    QList<QByteArray> linesStartingWith(const QByteArray &prefix) const;

    // Sends a signal (SIGTERM, SIGINT, ...) to the child and starts the clock
    // for exitMs() at the first.
    void sendSignal(int signal);
    // Milliseconds from the first sendSignal() to the exit; -1 until then.
    qint64 exitMs() const { return m_exitMs; }
    // The pid it was started with (processId() is 0 once it has exited).
    qint64 startedPid() const { return m_startedPid; }
    void noteStarted() { m_startedPid = processId(); }

private:
    QString m_name;
    QByteArray m_stdout;
    QByteArray m_stderr;
    QByteArray m_all;
    QElapsedTimer m_signalled;
    qint64 m_exitMs = -1;
    qint64 m_startedPid = 0;
};

// Waits until a line of the child's output contains text (false on timeout
// or when the child exits without writing it).
bool waitForLine(Child *child, const QByteArray &text, int timeoutMs = kDefaultWaitMs);
// Waits until count lines of the child's output start with prefix.
bool waitForLinesStartingWith(Child *child, const QByteArray &prefix, int count, int timeoutMs = kDefaultWaitMs);
bool waitForExit(Child *child, int timeoutMs = kDefaultWaitMs);
// Waits until 127.0.0.1:port accepts TCP connections (false on timeout or
// when the child exits first): a server child is ready.
bool waitForPort(Child *child, quint16 port, int timeoutMs = kProcessStartMs);

// Owns the child processes of one test function. When it goes out of scope,
// however the test ended, it kills every child still running and reaps it;
// a failed test gets every child's command line and output in its log, and a
// sanitizer report in a child's output fails the test. On Unix each child
// leads a process group of its own, and the whole group is killed: what a
// child forks goes with it (nginx's workers, even with daemon off). On Linux
// a child is also killed should the test process die first
// (PR_SET_PDEATHSIG); what it forked is not, then.
class ProcessGuard
{
public:
    ProcessGuard() = default;
    ProcessGuard(const ProcessGuard &) = delete;
    ProcessGuard &operator=(const ProcessGuard &) = delete;
    ~ProcessGuard();

    // Starts program with args; null (and a warning) when it cannot be
    // started. The child gets this process's environment without what would
    // change a proxy's behaviour or its log format (QT_LOGGING_RULES,
    // QT_MESSAGE_PATTERN, SOCKJSPROXY_SAMPLES_DIR, SOCKJSPROXY_CONTROL_TOKEN),
    // with PYTHONUNBUFFERED=1, and then with the variables of environment.
    // name is how logs call it.
    Child *start(const QString &name, const QString &program, const QStringList &args,
                 const QProcessEnvironment &environment = QProcessEnvironment());

    // Starts sockjsproxy-cli and polls GET greetingPath on httpPort until it
    // answers "Welcome to SockJS!\n". Null (and a warning) when it does not.
    Child *startProxy(const QStringList &args, quint16 httpPort, const QByteArray &greetingPath = "/");
    // Starts samples/<script> with the Python that has pyzmq and waits for
    // its start-up line (its sockets are connected by then).
    Child *startPythonBackend(const QString &script, const QStringList &args);
    // Starts sockjsproxy-echo-backend and waits for its start-up line.
    Child *startCppBackend(const QStringList &args);
    // Runs sockjsproxy-cli to its end (it must exit by itself).
    Child *runCli(const QStringList &args);

    // Children started from now on get this soft and hard RLIMIT_NOFILE (as
    // "prlimit --nofile=N:N" would); 0: this process's. Linux only.
    void setOpenFilesLimit(quint64 limit) { m_openFilesLimit = limit; }

private:
    std::vector<std::unique_ptr<Child>> m_children;
    quint64 m_openFilesLimit = 0;
};

} // namespace SockJsProxy::Test
