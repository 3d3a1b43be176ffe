// sockjsproxy-cli: SockJS for browsers on one side, ZeroMQ for backends on
// the other. Options -> Config -> Server; clean exit on SIGINT/SIGTERM.

#include "config/commandline.h"
#include "control/controlserver.h"
#ifdef SOCKJSPROXY_EPOLL_DISPATCHER
#include "eventloop/epolldispatcher.h"
#endif
#include "base/logging.h"
#include "base/openfiles.h"
#include "metrics/monitor.h"
#include "server/server.h"
#include "signalwatcher.h"
#include "sockjs/service.h"
#include "sockjsproxy_version.h"
#include "zmq/zmqbridge.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QLoggingCategory>
#include <QTimer>

#include <cstdio>
#include <functional>
#include <memory>

#ifdef Q_OS_WIN
#include "windowsservice.h"

#include <csignal>
#endif

using namespace SockJsProxy;

namespace {

// Bounded wait for the "disconnect" messages of the shutdown to leave.
constexpr int kShutdownFlushMs = 2000;

void drainAndQuit(Server *server)
{
    QElapsedTimer elapsed;
    elapsed.start();
    auto *poll = new QTimer(server);
    QObject::connect(poll, &QTimer::timeout, server, [server, poll, elapsed] {
        qsizetype queued = 0;
        for (const Service *service : server->services())
            queued += service->bridge()->queuedToBackend();
        if (queued == 0 || elapsed.elapsed() > kShutdownFlushMs) {
            if (queued > 0)
                qCWarning(lcZmq) << queued << "messages to backends not delivered at exit (no backend connected)";
            poll->stop();
            QCoreApplication::quit();
        }
    });
    poll->start(20);
}

// Even the UNIX dispatcher polls every socket notifier on each loop
// iteration: O(sessions) per iteration, which dominated with thousands of
// sessions. The epoll dispatcher costs O(ready descriptors).
// SOCKJSPROXY_EVENT_DISPATCHER=qt keeps Qt's own. Before QCoreApplication.
void installEventDispatcher()
{
#ifdef SOCKJSPROXY_EPOLL_DISPATCHER
    if (qEnvironmentVariable("SOCKJSPROXY_EVENT_DISPATCHER") == QLatin1String("qt"))
        return;
    auto dispatcher = std::make_unique<EpollDispatcher>();
    if (dispatcher->isValid())
        QCoreApplication::setEventDispatcher(dispatcher.release()); // the application owns it
#endif
}

// What running as the Windows service changes in the program body.
struct ServiceHooks
{
    std::function<void()> serving; // the server listens: the service runs
};

// The program: options -> Config -> Server, then the event loop until
// SIGINT/SIGTERM or the service's stop. Returns the exit status (0, 1 or
// 2, see README.md). service is null when run from a console.
int runProgram(int argc, char *argv[], const ServiceHooks *service)
{
    // Qt's glib event dispatcher adds and removes a socket notifier in O(n)
    // of the notifiers registered, and QTcpSocket toggles its write notifier
    // around nearly every write: with thousands of connections that alone
    // ate a large share of the CPU. The plain UNIX dispatcher keeps them in
    // a hash. (The environment still wins where QT_NO_GLIB is set.)
    if (!qEnvironmentVariableIsSet("QT_NO_GLIB"))
        qputenv("QT_NO_GLIB", "1");
    installEventDispatcher();
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("sockjsproxy-cli"));
    QCoreApplication::setApplicationVersion(QStringLiteral(SOCKJSPROXY_VERSION));
    if (qEnvironmentVariableIsEmpty("QT_MESSAGE_PATTERN"))
        qSetMessagePattern(
            QStringLiteral("%{time yyyy-MM-dd hh:mm:ss.zzz} %{if-debug}debug%{endif}%{if-info}info%{endif}"
                           "%{if-warning}warning%{endif}%{if-critical}error%{endif}%{if-fatal}fatal%{endif} "
                           "%{category}: %{message}"));
    // A service has no console: its errors go to the log like the rest.
    const auto fail = [service](const QString &error, int status) {
        if (service)
            qCCritical(lcServer).noquote() << "cannot start:" << error;
        else
            std::fprintf(stderr, "sockjsproxy-cli: %s\n", qPrintable(error));
        return status;
    };
    if (service)
        qCInfo(lcServer).noquote() << "sockjsproxy-cli" << SOCKJSPROXY_VERSION << "starting as a service";

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Proxy messages between SockJS clients and ZeroMQ backends."));
    parser.addHelpOption();
    // Not addVersionOption(): it would take -v, which is --verbose here as in the original.
    const QCommandLineOption versionOption(QStringLiteral("version"), QStringLiteral("Show the version and exit."));
    parser.addOption(versionOption);
    CommandLine::addOptions(parser);
    // process() prints to the console and exits on a bad option or --help;
    // the service must report its stop instead.
    if (!service)
        parser.process(app);
    else if (!parser.parse(QCoreApplication::arguments()))
        return fail(parser.errorText(), 2);
    if (parser.isSet(versionOption)) {
        std::printf("sockjsproxy-cli %s (sockjs-client %s)\n", SOCKJSPROXY_VERSION, SOCKJSPROXY_SOCKJS_CLIENT_VERSION);
        return 0;
    }

    QString error;
    const auto options = CommandLine::toConfig(parser, &error);
    if (!options)
        return fail(error, 2);
    if (options->verbose)
        QLoggingCategory::setFilterRules(QStringLiteral("sockjsproxy.*.debug=true"));

    // Before anything opens a descriptor it keeps: the server derives
    // max_connections from the limit set here.
    applyOpenFilesLimit(options->config.resources.maxOpenFiles);
    Server server(options->config);
    if (!server.start(&error))
        return fail(error, 1);
    // The monitoring layer and control endpoint exist only when asked for.
    std::unique_ptr<Monitor> monitor;
    std::unique_ptr<ControlServer> control;
    if (!options->controlEndpoint.isEmpty()) {
        monitor = std::make_unique<Monitor>(&server);
        control = std::make_unique<ControlServer>(monitor.get());
        control->setToken(options->controlToken);
        if (!control->listen(options->controlEndpoint, &error))
            return fail(error, 1);
        monitor->start();
    }
    for (const StaticMount &mount : options->config.statics)
        qCInfo(lcServer).noquote() << "static" << mount.url << "->" << mount.path;

    SignalWatcher signals;
    QObject::connect(&signals, &SignalWatcher::terminationRequested, &server, [&server](int signal) {
        qCInfo(lcServer) << "signal" << signal << "- closing sessions and exiting";
        server.shutdown();
        drainAndQuit(&server);
    });
    // The service's stop goes through the watcher too (requestStop()
    // below), so it must exist before the service accepts stop requests.
    if (service)
        service->serving();
    return app.exec();
}

#ifdef Q_OS_WIN
void writeToServiceLog(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    WindowsService::writeLogLine(qFormatLogMessage(type, context, message).toStdString());
}

// sockjsproxy-service.exe, the service the MSI installs: the same program,
// logging to %ProgramData%\SockJSProxy\sockjsproxy.log, and the Service
// Control Manager's stop in place of SIGTERM.
class ServiceProgram final : public WindowsService::Program
{
public:
    ServiceProgram(int argc, char *argv[]) : m_argc(argc), m_argv(argv) {}

    int run() override
    {
        WindowsService::openLogFile(WindowsService::defaultLogPath());
        qInstallMessageHandler(writeToServiceLog);
        const ServiceHooks hooks{[] { serving(); }};
        const int status = runProgram(m_argc, m_argv, &hooks);
        qCInfo(lcServer) << "service stopped, exit status" << status;
        return status;
    }

    void requestStop() override
    {
        qCInfo(lcServer) << "stop requested by the Service Control Manager";
        SignalWatcher::requestTermination(SIGTERM);
    }

private:
    int m_argc;
    char **m_argv;
};
#endif

} // namespace

int main(int argc, char *argv[])
{
#ifdef Q_OS_WIN
    // Before any Qt code: the service's thread must be the first to use Qt,
    // so that its QCoreApplication is on Qt's main thread.
    ServiceProgram service(argc, argv);
    int status = 0;
    if (WindowsService::runIfStartedAsService(service, &status))
        return status;
#endif
    return runProgram(argc, argv, nullptr);
}
