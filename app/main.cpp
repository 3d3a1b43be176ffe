// sockjsproxy-cli: SockJS for browsers on one side, ZeroMQ for backends on
// the other. Options -> Config -> ProxyInstance; clean exit on SIGINT/SIGTERM.

#include "config/commandline.h"
#ifdef SOCKJSPROXY_EPOLL_DISPATCHER
#include "eventloop/epolldispatcher.h"
#endif
#include "base/allocator.h"
#include "base/logging.h"
#include "proxy/proxyinstance.h"
#include "signalwatcher.h"
#include "sockjsproxy_version.h"
#include "zmq/curvekeys.h"

#include <QCoreApplication>
#include <QLoggingCategory>

#include <cstdio>
#include <functional>
#include <memory>

#ifdef Q_OS_WIN
#include "windowsservice.h"

#include <csignal>
#endif

using namespace SockJsProxy;

namespace {

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

// The program: options -> Config -> ProxyInstance, then the event loop until
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
    tuneAllocatorForServer(); // before anything allocates much
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
    const QCommandLineOption curveKeygenOption(
        QStringLiteral("curve-keygen"),
        QStringLiteral("Print a new CURVE key pair (a ZeroMQ certificate, see zmq.curve in the README) and exit."));
    parser.addOption(curveKeygenOption);
    CommandLine::addOptions(parser);
    // Not process(): it exits 1 on a bad option, where the README says 2.
    QString error;
    if (!CommandLine::parse(parser, QCoreApplication::arguments(), &error))
        return fail(error, 2);
    if (parser.isSet(versionOption)) {
        std::printf("sockjsproxy-cli %s (sockjs-client %s)\n", SOCKJSPROXY_VERSION, SOCKJSPROXY_SOCKJS_CLIENT_VERSION);
        return 0;
    }
    if (parser.isSet(curveKeygenOption)) {
        const CurveKeys::KeyPair pair = CurveKeys::generate();
        if (pair.secretKey.isEmpty())
            return fail(QStringLiteral("--curve-keygen: this libzmq has no CURVE support (built without libsodium)"),
                        1);
        std::fputs(CurveKeys::certificate(pair).constData(), stdout);
        return 0;
    }

    const auto options = CommandLine::toConfig(parser, &error);
    if (!options)
        return fail(error, 2);
    if (options->verbose)
        QLoggingCategory::setFilterRules(QStringLiteral("sockjsproxy.*.debug=true"));

    // The monitoring layer and control endpoint exist only with --control.
    ProxyInstance proxy;
    // Bad key material is a configuration error (2), unlike a port in use (1).
    if (!proxy.start(*options, &error))
        return fail(error, proxy.startFailure() == ProxyInstance::Failure::Configuration ? 2 : 1);

    // A second signal exits at once in the watcher itself; a second request
    // that gets here (the service's stop) ends the drain at once.
    SignalWatcher signals;
    QObject::connect(&signals, &SignalWatcher::terminationRequested, &proxy, [&proxy](int signal) {
        qCInfo(lcServer) << "signal" << signal << "- closing sessions and exiting";
        proxy.shutdown();
    });
    QObject::connect(&proxy, &ProxyInstance::stopped, &app, &QCoreApplication::quit);
    QObject::connect(&signals, &SignalWatcher::reloadRequested, &proxy, [&proxy] {
        qCInfo(lcServer) << "SIGHUP - reloading keys and certificates";
        proxy.reload();
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
