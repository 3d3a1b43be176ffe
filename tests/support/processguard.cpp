#include "processguard.h"

#include "httpclient.h"
#include "ports.h"
#include "testpaths.h"

#include <QTest>

#include <algorithm>

#ifdef Q_OS_UNIX
#include <csignal>
#include <sys/types.h>
#include <unistd.h>
#endif
#ifdef Q_OS_LINUX
#include <sys/prctl.h>
#include <sys/resource.h>
#endif

namespace SockJsProxy::Test {

namespace {
const QByteArray kGreeting = QByteArrayLiteral("Welcome to SockJS!\n");
}

Child::Child(const QString &name) : m_name(name)
{
    connect(this, &QProcess::readyReadStandardOutput, this, [this] {
        const QByteArray bytes = readAllStandardOutput();
        m_stdout += bytes;
        m_all += bytes;
    });
    connect(this, &QProcess::readyReadStandardError, this, [this] {
        const QByteArray bytes = readAllStandardError();
        m_stderr += bytes;
        m_all += bytes;
    });
    connect(this, &QProcess::finished, this, [this] {
        if (m_signalled.isValid())
            m_exitMs = m_signalled.elapsed();
    });
}

QList<QByteArray> Child::lines() const
{
    QList<QByteArray> result = m_all.split('\n');
    if (!result.isEmpty() && result.constLast().isEmpty())
        result.removeLast();
    return result;
}

bool Child::hasLineContaining(const QByteArray &text) const
{
    const QList<QByteArray> all = lines();
    return std::any_of(all.cbegin(), all.cend(), [&](const QByteArray &line) { return line.contains(text); });
}

QList<QByteArray> Child::linesStartingWith(const QByteArray &prefix) const
{
    QList<QByteArray> result;
    for (const QByteArray &line : lines()) {
        if (line.startsWith(prefix))
            result.append(line);
    }
    return result;
}

void Child::sendSignal(int signal)
{
    if (!m_signalled.isValid())
        m_signalled.start();
#ifdef Q_OS_UNIX
    ::kill(pid_t(processId()), signal);
#else
    Q_UNUSED(signal)
    kill();
#endif
}

bool waitForLine(Child *child, const QByteArray &text, int timeoutMs)
{
    waitUntil([&] { return child->hasLineContaining(text) || !child->isRunning(); }, timeoutMs);
    return child->hasLineContaining(text);
}

bool waitForLinesStartingWith(Child *child, const QByteArray &prefix, int count, int timeoutMs)
{
    waitUntil([&] { return child->linesStartingWith(prefix).size() >= count || !child->isRunning(); }, timeoutMs);
    return child->linesStartingWith(prefix).size() >= count;
}

bool waitForExit(Child *child, int timeoutMs)
{
    return waitUntil([&] { return !child->isRunning(); }, timeoutMs);
}

bool waitForPort(Child *child, quint16 port, int timeoutMs)
{
    bool accepted = false;
    waitUntil(
        [&] {
            accepted = acceptsConnections(port);
            return accepted || !child->isRunning();
        },
        timeoutMs);
    return accepted && child->isRunning();
}

ProcessGuard::~ProcessGuard()
{
    for (const auto &child : m_children) {
#ifdef Q_OS_UNIX
        // The group, whether or not its leader is still there: what it
        // forked may outlive it.
        if (child->startedPid() > 0)
            ::kill(-pid_t(child->startedPid()), SIGKILL);
#endif
        if (child->isRunning()) {
            child->kill();
            child->waitForFinished(5000); // also reads what is left in the pipes
        }
    }
    // A sanitizer report from a child fails the test even if every check passed.
    for (const auto &child : m_children) {
        const QByteArray output = child->output();
        if (!QTest::currentTestFailed()
            && (output.contains("ERROR: AddressSanitizer") || output.contains("ERROR: LeakSanitizer")
                || output.contains("runtime error:"))) {
            QTest::qFail(qPrintable(QStringLiteral("sanitizer report from %1").arg(child->name())), __FILE__, __LINE__);
        }
    }
    if (!QTest::currentTestFailed())
        return;
    for (const auto &child : m_children) {
        qInfo().noquote() << "---- output of" << child->name() << child->arguments().join(QLatin1Char(' '))
                          << "----\n" + QString::fromUtf8(child->output());
    }
}

Child *ProcessGuard::start(const QString &name, const QString &program, const QStringList &args,
                           const QProcessEnvironment &environment)
{
    auto child = std::make_unique<Child>(name);
    child->setProgram(program);
    child->setArguments(args);
    QProcessEnvironment childEnvironment = QProcessEnvironment::systemEnvironment();
    childEnvironment.insert(QStringLiteral("PYTHONUNBUFFERED"), QStringLiteral("1"));
    childEnvironment.remove(QStringLiteral("SOCKJSPROXY_SAMPLES_DIR"));   // --samples must find them by itself
    childEnvironment.remove(QStringLiteral("SOCKJSPROXY_CONTROL_TOKEN")); // only what the arguments say
    childEnvironment.remove(QStringLiteral("QT_LOGGING_RULES"));
    childEnvironment.remove(QStringLiteral("QT_MESSAGE_PATTERN"));
    childEnvironment.insert(environment);
    child->setProcessEnvironment(childEnvironment);
#ifdef Q_OS_LINUX
    const rlim_t openFiles = m_openFilesLimit;
    child->setChildProcessModifier([openFiles] {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        ::setpgid(0, 0);
        if (openFiles > 0) {
            const rlimit limit{openFiles, openFiles};
            ::setrlimit(RLIMIT_NOFILE, &limit);
        }
    });
#endif
    child->start();
    Child *raw = child.get();
    m_children.push_back(std::move(child));
    if (!raw->waitForStarted(kProcessStartMs)) {
        qWarning().noquote() << "cannot start" << program << ":" << raw->errorString();
        return nullptr;
    }
    raw->noteStarted();
    return raw;
}

Child *ProcessGuard::startProxy(const QStringList &args, quint16 httpPort, const QByteArray &greetingPath)
{
    Child *proxy = start(QStringLiteral("sockjsproxy-cli"), cliPath(), args);
    if (!proxy)
        return nullptr;
    bool greeted = false;
    waitUntil(
        [&] {
            if (!proxy->isRunning())
                return true;
            const HttpClient::Response response = HttpClient::request(httpPort, "GET", greetingPath);
            greeted = response.ok && response.status == 200 && response.body == kGreeting;
            return greeted;
        },
        kProcessStartMs);
    if (!greeted || !proxy->isRunning()) {
        qWarning().noquote() << "the proxy did not come up:\n" + QString::fromUtf8(proxy->output());
        return nullptr;
    }
    return proxy;
}

Child *ProcessGuard::startPythonBackend(const QString &script, const QStringList &args)
{
    const QStringList arguments = QStringList{sourceDir() + QStringLiteral("/samples/") + script} + args;
    Child *backend = start(script, pythonPath(), arguments);
    if (!backend)
        return nullptr;
    if (!waitForLine(backend, "pulling from", kProcessStartMs)) {
        qWarning().noquote() << script << "did not start:\n" + QString::fromUtf8(backend->output());
        return nullptr;
    }
    return backend;
}

Child *ProcessGuard::startCppBackend(const QStringList &args)
{
    Child *backend = start(QStringLiteral("sockjsproxy-echo-backend"), echoBackendPath(), args);
    if (!backend)
        return nullptr;
    if (!waitForLine(backend, "pulling from", kProcessStartMs)) {
        qWarning().noquote() << "the echo backend did not start:\n" + QString::fromUtf8(backend->output());
        return nullptr;
    }
    return backend;
}

Child *ProcessGuard::runCli(const QStringList &args)
{
    Child *cli = start(QStringLiteral("sockjsproxy-cli"), cliPath(), args);
    if (!cli || !waitForExit(cli)) {
        qWarning() << "sockjsproxy-cli" << args << "did not exit";
        return nullptr;
    }
    return cli;
}

} // namespace SockJsProxy::Test
