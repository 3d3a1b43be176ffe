// sockjsproxy-cli: SockJS for browsers on one side, ZeroMQ for backends on
// the other. Options -> Config -> Server; clean exit on SIGINT/SIGTERM.

#include "config/commandline.h"
#include "control/controlserver.h"
#include "logging.h"
#include "metrics/monitor.h"
#include "server/server.h"
#include "signalwatcher.h"
#include "sockjsproxy_version.h"
#include "sockjs/service.h"
#include "zmq/zmqbridge.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QLoggingCategory>
#include <QTimer>

#include <cstdio>
#include <memory>

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

} // namespace

int main(int argc, char *argv[])
{
    // Qt's glib event dispatcher adds and removes a socket notifier in O(n)
    // of the notifiers registered, and QTcpSocket toggles its write notifier
    // around nearly every write: with thousands of connections that alone
    // ate a large share of the CPU. The plain UNIX dispatcher keeps them in
    // a hash. (The environment still wins where QT_NO_GLIB is set.)
    if (!qEnvironmentVariableIsSet("QT_NO_GLIB"))
        qputenv("QT_NO_GLIB", "1");
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("sockjsproxy-cli"));
    QCoreApplication::setApplicationVersion(QStringLiteral(SOCKJSPROXY_VERSION));
    if (qEnvironmentVariableIsEmpty("QT_MESSAGE_PATTERN"))
        qSetMessagePattern(QStringLiteral("%{time yyyy-MM-dd hh:mm:ss.zzz} %{if-debug}debug%{endif}%{if-info}info%{endif}"
                                          "%{if-warning}warning%{endif}%{if-critical}error%{endif}%{if-fatal}fatal%{endif} "
                                          "%{category}: %{message}"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Proxy messages between SockJS clients and ZeroMQ backends."));
    parser.addHelpOption();
    // Not addVersionOption(): it would take -v, which is --verbose here as in the original.
    const QCommandLineOption versionOption(QStringLiteral("version"), QStringLiteral("Show the version and exit."));
    parser.addOption(versionOption);
    CommandLine::addOptions(parser);
    parser.process(app);
    if (parser.isSet(versionOption)) {
        std::printf("sockjsproxy-cli %s (sockjs-client %s)\n", SOCKJSPROXY_VERSION, SOCKJSPROXY_SOCKJS_CLIENT_VERSION);
        return 0;
    }

    QString error;
    const auto options = CommandLine::toConfig(parser, &error);
    if (!options) {
        std::fprintf(stderr, "sockjsproxy-cli: %s\n", qPrintable(error));
        return 2;
    }
    if (options->verbose)
        QLoggingCategory::setFilterRules(QStringLiteral("sockjsproxy.*.debug=true"));

    Server server(options->config);
    if (!server.start(&error)) {
        std::fprintf(stderr, "sockjsproxy-cli: %s\n", qPrintable(error));
        return 1;
    }
    // The monitoring layer and control endpoint exist only when asked for.
    std::unique_ptr<Monitor> monitor;
    std::unique_ptr<ControlServer> control;
    if (!options->controlEndpoint.isEmpty()) {
        monitor = std::make_unique<Monitor>(&server);
        control = std::make_unique<ControlServer>(monitor.get());
        control->setToken(options->controlToken);
        if (!control->listen(options->controlEndpoint, &error)) {
            std::fprintf(stderr, "sockjsproxy-cli: %s\n", qPrintable(error));
            return 1;
        }
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
    return app.exec();
}
