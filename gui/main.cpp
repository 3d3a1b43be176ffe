// sockjsproxy-monitor: the Qt Widgets monitor. With the CLI's flags (or
// none) it starts a proxy in this process and watches it; with --attach
// [HOST:]PORT it watches a running `sockjsproxy-cli --control` instead;
// --attach repeated watches several (the nodes of a cluster) at once.

#include "config/commandline.h"
#include "inspectorwidget.h"
#include "mainwindow.h"
#include "ratechart.h"
#include "sessionfiltermodel.h"
#include "sessiontablemodel.h"
#include "sockjsproxy_version.h"
#include "trafficmodel.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QLoggingCategory>
#include <QTableView>
#include <QTimer>

#include <cstdio>

using namespace SockJsProxy;

namespace {

// For --screenshot-inspect: selects the session of that transport with the most messages.
void selectBusiestSession(MainWindow *window, const QByteArray &transport)
{
    const SessionTableModel *model = window->sessionModel();
    int best = -1;
    for (int row = 0; row < model->rowCount(); ++row) {
        const SessionInfo &session = model->sessionAt(row);
        if (session.transport == transport
            && (best < 0
                || session.messagesIn + session.messagesOut
                       > model->sessionAt(best).messagesIn + model->sessionAt(best).messagesOut))
            best = row;
    }
    if (best < 0)
        return;
    const QModelIndex index = window->sessionFilter()->mapFromSource(model->index(best, 0));
    window->sessionsView()->selectionModel()->setCurrentIndex(index, QItemSelectionModel::ClearAndSelect
                                                                         | QItemSelectionModel::Rows);
    window->sessionsView()->scrollTo(index);
}

} // namespace

int main(int argc, char *argv[])
{
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("sockjsproxy-monitor"));
    QApplication::setApplicationDisplayName(QStringLiteral("SockJSProxy Monitor"));
    QApplication::setApplicationVersion(QStringLiteral(SOCKJSPROXY_VERSION));
    QApplication::setDesktopFileName(QStringLiteral("sockjsproxy-monitor"));
    QApplication::setWindowIcon(MainWindow::appIcon());

    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("Watch a SockJSProxy: sessions, rates, backends, messages and log.\n"
                       "Starts a proxy in this process from the same flags as sockjsproxy-cli, "
                       "or attaches to a running one with --attach."));
    parser.addHelpOption();
    const QCommandLineOption versionOption(QStringLiteral("version"), QStringLiteral("Show the version and exit."));
    parser.addOption(versionOption);
    CommandLine::addOptions(parser);
    const QCommandLineOption attachOption(
        QStringLiteral("attach"),
        QStringLiteral("Watch the running sockjsproxy-cli whose --control endpoint is [HOST:]PORT "
                       "(with --control-token when it has one) instead of starting a proxy. "
                       "Repeat it to watch the nodes of a cluster together."),
        QStringLiteral("ENDPOINT"));
    parser.addOption(attachOption);
    // For docs and tests: grab the window after a delay, save it and exit.
    QCommandLineOption screenshotOption(QStringLiteral("screenshot"),
                                        QStringLiteral("Save the window to FILE and exit."), QStringLiteral("FILE"));
    screenshotOption.setFlags(QCommandLineOption::HiddenFromHelp);
    QCommandLineOption screenshotDelayOption(QStringLiteral("screenshot-delay"),
                                             QStringLiteral("Wait MS milliseconds before --screenshot."),
                                             QStringLiteral("MS"), QStringLiteral("3000"));
    screenshotDelayOption.setFlags(QCommandLineOption::HiddenFromHelp);
    QCommandLineOption screenshotInspectOption(
        QStringLiteral("screenshot-inspect"),
        QStringLiteral("Before --screenshot, select the busiest session of TRANSPORT for the inspector."),
        QStringLiteral("TRANSPORT"));
    screenshotInspectOption.setFlags(QCommandLineOption::HiddenFromHelp);
    QCommandLineOption screenshotDetailOption(
        QStringLiteral("screenshot-inspector"),
        QStringLiteral("With --screenshot: show the newest message in the inspector's detail pane and save "
                       "the inspector to FILE as well."),
        QStringLiteral("FILE"));
    screenshotDetailOption.setFlags(QCommandLineOption::HiddenFromHelp);
    parser.addOption(screenshotDetailOption);
    parser.addOption(screenshotOption);
    parser.addOption(screenshotDelayOption);
    parser.addOption(screenshotInspectOption);
    // Not process(): it exits 1 on a bad option; 2 as for sockjsproxy-cli.
    QString error;
    if (!CommandLine::parse(parser, QCoreApplication::arguments(), &error)) {
        std::fprintf(stderr, "sockjsproxy-monitor: %s\n", qPrintable(error));
        return 2;
    }
    if (parser.isSet(versionOption)) {
        std::printf("sockjsproxy-monitor %s\n", SOCKJSPROXY_VERSION);
        return 0;
    }

    MainWindow window;
    if (parser.isSet(attachOption)) {
        const QByteArray token = parser.isSet(QStringLiteral("control-token"))
                                     ? parser.value(QStringLiteral("control-token")).toUtf8()
                                     : qgetenv("SOCKJSPROXY_CONTROL_TOKEN");
        window.attach(parser.values(attachOption), token);
    } else {
        const auto options = CommandLine::toConfig(parser, &error);
        if (!options) {
            std::fprintf(stderr, "sockjsproxy-monitor: %s\n", qPrintable(error));
            return 2;
        }
        if (options->verbose)
            QLoggingCategory::setFilterRules(QStringLiteral("sockjsproxy.*.debug=true"));
        if (!window.startLocalProxy(*options, &error))
            std::fprintf(stderr, "sockjsproxy-monitor: %s\n", qPrintable(error)); // the window says so too
    }
    window.resize(1400, 900);
    window.show();

    if (parser.isSet(screenshotOption)) {
        const QString file = parser.value(screenshotOption);
        const int delay = parser.value(screenshotDelayOption).toInt();
        if (parser.isSet(screenshotInspectOption)) {
            // Halfway there, so the inspector has time to fill.
            const QByteArray transport = parser.value(screenshotInspectOption).toUtf8();
            QTimer::singleShot(delay / 2, &window, [&window, transport] { selectBusiestSession(&window, transport); });
        }
        const QString inspectorFile = parser.value(screenshotDetailOption);
        QTimer::singleShot(delay, &window, [&window, file, inspectorFile] {
            InspectorWidget *inspector = window.inspector();
            if (!inspectorFile.isEmpty() && inspector->model()->rowCount() > 0) {
                // The newest message the client sent, else the newest of all.
                int row = inspector->model()->rowCount() - 1;
                for (int i = row; i >= 0; --i) {
                    if (inspector->model()->eventAt(i).direction == TrafficEvent::Direction::In) {
                        row = i;
                        break;
                    }
                }
                inspector->setPaused(true);
                inspector->view()->setCurrentIndex(inspector->model()->index(row, 0));
            }
            // The chart's hover, as the mouse would show it, a third of the
            // way back from the newest sample (of the window, or of what the
            // chart has when that is less).
            RateChart *chart = window.rateChart();
            if (chart->sampleCount() > 1) {
                const qint64 newestMs = chart->sample(chart->sampleCount() - 1).time.toMSecsSinceEpoch();
                const qint64 oldestMs = chart->sample(0).time.toMSecsSinceEpoch();
                const qint64 backMs = qMin(chart->window(), newestMs - oldestMs) / 3;
                chart->setHoverX(qRound(chart->xForTime(newestMs - backMs)));
            }
            bool saved = window.grab().save(file);
            if (!inspectorFile.isEmpty())
                saved = inspector->grab().save(inspectorFile) && saved;
            if (!saved)
                std::fprintf(stderr, "sockjsproxy-monitor: cannot write %s\n", qPrintable(file));
            QCoreApplication::exit(saved ? 0 : 1);
        });
    }
    return app.exec();
}
