// The monitor window on a real in-process proxy: a TestServer (services
// /echo, /close, ... with in-process echo backends), a Monitor on it and a
// MainWindow on the Monitor, offscreen. Real clients (WebSocketClient and a raw
// xhr-streaming request) show up in the table with their transports; the
// inspector shows the selected session's messages; Disconnect closes the
// session through the core (client: c[3000,"Go away!"], backend: "disconnect").

#include "backendpanel.h"
#include "control/controlserver.h"
#include "control/remotemonitor.h"
#include "httpclient.h"
#include "inspectorwidget.h"
#include "logmodel.h"
#include "logpane.h"
#include "mainwindow.h"
#include "metrics/monitor.h"
#include "ratechart.h"
#include "sessionfiltermodel.h"
#include "sessiontablemodel.h"
#include "sockjs/transports/registry.h"
#include "testbackend.h"
#include "testserver.h"
#include "trafficmodel.h"
#include "updatedlabel.h"
#include "websocketclient.h"

#include <QAbstractItemModelTester>

#include <QAction>
#include <QApplication>
#include <QComboBox>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMessageBox>
#include <QPushButton>
#include <QSignalSpy>
#include <QTableView>
#include <QTableWidget>
#include <QTcpServer>
#include <QTest>
#include <QTimer>

#include <memory>

using namespace SockJsProxy;
using namespace SockJsProxy::Test;

namespace {

constexpr int kWaitMs = 10000; // generous under ASan

// Source row of the session with this transport, or -1.
int rowOfTransport(const SessionTableModel *model, const QByteArray &transport)
{
    for (int row = 0; row < model->rowCount(); ++row) {
        if (model->sessionAt(row).transport == transport)
            return row;
    }
    return -1;
}

bool inspectorShows(const InspectorWidget *inspector, TrafficEvent::Direction direction, const QString &text)
{
    const TrafficModel *model = inspector->model();
    for (int row = 0; row < model->rowCount(); ++row) {
        if (model->eventAt(row).direction == direction
            && model->index(row, TrafficModel::TextColumn).data().toString() == text)
            return true;
    }
    return false;
}

// A local proxy's options as the command line would build them: HTTP on
// 127.0.0.1 port 0, one service /local on these ZeroMQ endpoints.
CommandLine::Result localProxyOptions(const QString &zmqIn, const QString &zmqOut)
{
    CommandLine::Result options;
    options.config.httpAddress = QStringLiteral("127.0.0.1");
    options.config.httpPort = 0;
    ServiceConfig service;
    service.prefix = QStringLiteral("/local");
    service.zmqIn = zmqIn;
    service.zmqOut = zmqOut;
    options.config.services = {service};
    return options;
}

// Answers the next "Stop the local proxy?" box: stop or cancel. *seen gets
// the box's text once it showed.
void answerConfirmation(QObject *context, bool stop, QString *seen)
{
    auto *timer = new QTimer(context);
    timer->setInterval(10);
    QObject::connect(timer, &QTimer::timeout, context, [timer, stop, seen] {
        auto *box = qobject_cast<QMessageBox *>(QApplication::activeModalWidget());
        if (!box || box->objectName() != QLatin1String("stopProxyConfirmation"))
            return;
        *seen = box->text();
        timer->stop(); // deleted later, maybe not before the next box
        timer->deleteLater();
        if (stop)
            box->findChild<QPushButton *>(QStringLiteral("stopProxyButton"))->click();
        else
            box->button(QMessageBox::Cancel)->click();
    });
    timer->start();
}

bool logShows(const LogPane *pane, const QString &part)
{
    const LogModel *model = pane->model();
    for (int row = 0; row < model->rowCount(); ++row) {
        if (model->entryAt(row).text.contains(part))
            return true;
    }
    return false;
}

// A source whose updates the test sends.
class FakeSource : public MonitorSource
{
public:
    QList<SessionInfo> sessions() const override { return {}; }
    MonitorStats stats() const override { return {}; }
    void disconnectSessions(const QList<QByteArray> &) override {}
    void sendToSession(const QByteArray &, const QByteArray &) override {}
    void clearCounters() override {}
    void setInspected(const QByteArray &, bool) override {}
    void sendStats(const QDateTime &time)
    {
        MonitorStats stats;
        stats.time = time;
        stats.sessionsOpen = 1;
        ServiceStats service;
        service.prefix = QStringLiteral("/echo");
        service.sessionsOpen = 1;
        stats.services = {service};
        Q_EMIT statsUpdated(stats);
    }
    void sendSession(const QByteArray &id, quint64 messagesIn)
    {
        SessionInfo info;
        info.id = id;
        info.service = QStringLiteral("/echo");
        info.transport = "websocket";
        info.state = QStringLiteral("open");
        info.openedAt = QDateTime::currentDateTimeUtc();
        info.messagesIn = messagesIn;
        Q_EMIT sessionsChanged({info}, {});
    }
    void lose() { Q_EMIT connectionChanged(false, QStringLiteral("connection lost")); }
};

quint16 unusedPort()
{
    QTcpServer probe;
    probe.listen(QHostAddress::LocalHost, 0);
    return probe.serverPort(); // closed again on return
}

} // namespace

class tst_MonitorWindow : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();
    void showsSessionsInspectsAndDisconnects();
    void filtersByTransport();
    void detachAndStartLocalProxy();
    void secondQuitEndsTheDrain();
    void stoppingALiveProxyAsksFirst();
    void failedStartOrAttachKeepsWhatIsWatched();
    void wrongTokenSaysSoAndWaits();
    void goneProxyLeavesNoLiveFigure();
    void lastUpdatedLabels();
    void captureFromTheViewMenu();

private:
    std::unique_ptr<TestServer> m_server;
    std::unique_ptr<Monitor> m_monitor;
    std::unique_ptr<MainWindow> m_window;
};

void tst_MonitorWindow::init()
{
    m_server = std::make_unique<TestServer>();
    QVERIFY(m_server->start());
    m_monitor = std::make_unique<Monitor>(m_server->server());
    m_monitor->start(50, 200); // faster than the default, for a quick test
    m_window = std::make_unique<MainWindow>();
    m_window->setSource(m_monitor.get(), QStringLiteral("test proxy"));
    m_window->resize(1200, 800);
    m_window->show();
}

void tst_MonitorWindow::cleanup()
{
    // Window, then monitor, then server: the monitor must not outlive the server.
    m_window.reset();
    m_monitor.reset();
    m_server.reset();
}

void tst_MonitorWindow::showsSessionsInspectsAndDisconnects()
{
    MainWindow &window = *m_window;
    const quint16 port = m_server->port();
    QVERIFY(window.windowTitle().contains(QLatin1String("test proxy")));
    QVERIFY(window.windowTitle().contains(QLatin1String("connected")));
    QVERIFY(window.findChild<QLabel *>(QStringLiteral("connectionLabel"))->text().contains(QLatin1String("connected")));
    // The icon comes from the library's resources.
    QVERIFY(QFile::exists(QStringLiteral(":/icons/sockjsproxy.svg")));
    QVERIFY(!window.windowIcon().pixmap(QSize(32, 32)).isNull());

    // A WebSocket session...
    WebSocketClient ws;
    ws.open(port, "/echo/000/aaa/websocket");
    QTRY_COMPARE_WITH_TIMEOUT(ws.texts(), QStringList{QStringLiteral("o")}, kWaitMs);

    // ...and an xhr-streaming one.
    HttpClient http(port, kWaitMs);
    QVERIFY(http.connectToServer());
    http.sendRequest("POST", "/echo/000/bbb/xhr_streaming");
    const HttpClient::Response head = http.readHead();
    QVERIFY(head.ok);
    QCOMPARE(head.status, 200);
    QCOMPARE(http.readChunk(), QByteArray(2048, 'h') + '\n'); // prelude
    QCOMPARE(http.readChunk(), QByteArray("o\n"));

    // Both in the table, with their transports.
    SessionTableModel *model = window.sessionModel();
    QTRY_COMPARE_WITH_TIMEOUT(model->rowCount(), 2, kWaitMs);
    const int wsRow = rowOfTransport(model, "websocket");
    const int xhrRow = rowOfTransport(model, "xhr-streaming");
    QVERIFY(wsRow >= 0);
    QVERIFY(xhrRow >= 0);
    const QByteArray wsId = model->idAt(wsRow);
    const QByteArray xhrId = model->idAt(xhrRow);
    QCOMPARE(model->sessionAt(wsRow).service, QStringLiteral("/echo"));
    QVERIFY(
        model->index(wsRow, SessionTableModel::RemoteColumn).data().toString().startsWith(QLatin1String("127.0.0.1:")));
    QTRY_COMPARE_WITH_TIMEOUT(model->sessionAt(model->rowOf(wsId)).state, QStringLiteral("open"), kWaitMs);
    QCOMPARE(window.sessionFilter()->rowCount(), 2);

    // The counters follow (stats every 200 ms here).
    QTRY_COMPARE_WITH_TIMEOUT(window.backendPanel()->counterLabel(QStringLiteral("sessionsOpen"))->text(),
                              QStringLiteral("2"), kWaitMs);
    QTRY_VERIFY_WITH_TIMEOUT(window.rateChart()->sampleCount() > 0, kWaitMs);
    // The chart's window: a minute, five (the default) or an hour.
    auto *windowCombo = window.findChild<QComboBox *>(QStringLiteral("chartWindowCombo"));
    QVERIFY(windowCombo);
    QCOMPARE(window.rateChart()->window(), RateChart::kWindowMs);
    windowCombo->setCurrentIndex(2);
    QCOMPARE(window.rateChart()->window(), qint64(60 * 60 * 1000));
    QVERIFY(!window.rateChart()->grab().isNull()); // painted over an hour
    windowCombo->setCurrentIndex(0);
    QCOMPARE(window.rateChart()->window(), qint64(60 * 1000));
    QVERIFY(!window.rateChart()->grab().isNull());
    windowCombo->setCurrentIndex(1);

    // Select the WebSocket session: the inspector follows it.
    QTableView *view = window.sessionsView();
    const QModelIndex wsIndex = window.sessionFilter()->mapFromSource(model->index(model->rowOf(wsId), 0));
    QVERIFY(wsIndex.isValid());
    view->selectionModel()->setCurrentIndex(wsIndex, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    QCOMPARE(window.selectedSessionIds(), QList<QByteArray>{wsId});
    QCOMPARE(window.inspector()->session(), wsId);
    QVERIFY(window.disconnectAction()->isEnabled());
    QVERIFY(window.sendAction()->isEnabled());

    // A message from the client: in the inspector, both ways (the backend echoes).
    ws.sendText(QStringLiteral("[\"hello monitor\"]"));
    QTRY_VERIFY_WITH_TIMEOUT(ws.texts().contains(QStringLiteral("a[\"hello monitor\"]")), kWaitMs);
    QTRY_VERIFY_WITH_TIMEOUT(
        inspectorShows(window.inspector(), TrafficEvent::Direction::In, QStringLiteral("hello monitor")), kWaitMs);
    QTRY_VERIFY_WITH_TIMEOUT(
        inspectorShows(window.inspector(), TrafficEvent::Direction::Out, QStringLiteral("hello monitor")), kWaitMs);
    // The table's counters follow too.
    QTRY_COMPARE_WITH_TIMEOUT(model->sessionAt(model->rowOf(wsId)).messagesIn, quint64(1), kWaitMs);

    // Disconnect: the core closes the session with a close frame; the
    // backend hears "disconnect" for that id; the other session stays.
    TestBackend *backend = m_server->backend(QStringLiteral("/echo"));
    QVERIFY(backend);
    window.disconnectAction()->trigger();
    QTRY_VERIFY_WITH_TIMEOUT(ws.texts().contains(QStringLiteral("c[3000,\"Go away!\"]")), kWaitMs);
    QTRY_VERIFY_WITH_TIMEOUT(ws.isDisconnected(), kWaitMs);
    QCOMPARE(int(ws.closeCode()), 3000);
    QCOMPARE(ws.closeReason(), QStringLiteral("Go away!"));
    QTRY_VERIFY_WITH_TIMEOUT(backend->sessionIds("disconnect").contains(wsId), kWaitMs);
    QVERIFY(!backend->sessionIds("disconnect").contains(xhrId));
    // The closed session stays a while, greyed, saying how it ended.
    QTRY_VERIFY_WITH_TIMEOUT(model->isLingering(wsId), kWaitMs);
    const SessionInfo closed = model->sessionAt(model->rowOf(wsId));
    QCOMPARE(closed.state, QStringLiteral("closed"));
    QCOMPARE(closed.closeCode, 3000);
    QCOMPARE(closed.closeReason, QStringLiteral("Go away!"));
    QCOMPARE(closed.closedBy, QStringLiteral("monitor"));
    QCOMPARE(model->rowCount(), 2);
    // Until its time is over.
    model->tick(QDateTime::currentMSecsSinceEpoch() + SessionTableModel::kDefaultClosedLingerMs + 1);
    QCOMPARE(model->rowOf(wsId), -1);
    QCOMPARE(model->rowCount(), 1);
    QCOMPARE(model->idAt(0), xhrId);
}

void tst_MonitorWindow::filtersByTransport()
{
    MainWindow &window = *m_window;
    const quint16 port = m_server->port();
    WebSocketClient ws;
    QSignalSpy connected(&ws.socket(), &QWebSocket::connected);
    ws.open(port, "/echo/000/ccc/websocket");
    QTRY_VERIFY_WITH_TIMEOUT(connected.count() > 0, kWaitMs);
    HttpClient http(port, kWaitMs);
    QVERIFY(http.connectToServer());
    http.sendRequest("POST", "/echo/000/ddd/xhr_streaming");
    QVERIFY(http.readHead().ok);
    QTRY_COMPARE_WITH_TIMEOUT(window.sessionModel()->rowCount(), 2, kWaitMs);

    QComboBox *transport = window.transportFilterCombo();
    // "All transports", then every transport of the registry.
    const QStringList names = TransportRegistry::displayNames();
    QCOMPARE(transport->count(), names.size() + 1);
    for (int i = 0; i < names.size(); ++i)
        QCOMPARE(transport->itemData(i + 1).toString(), names.at(i));
    transport->setCurrentIndex(transport->findData(QStringLiteral("xhr-streaming")));
    QCOMPARE(window.sessionFilter()->rowCount(), 1);
    QCOMPARE(window.sessionFilter()->index(0, SessionTableModel::TransportColumn).data().toString(),
             QStringLiteral("xhr-streaming"));
    transport->setCurrentIndex(0);
    QCOMPARE(window.sessionFilter()->rowCount(), 2);

    // The service combo learns the prefixes from the stats.
    QComboBox *service = window.serviceFilterCombo();
    QTRY_VERIFY_WITH_TIMEOUT(service->findData(QStringLiteral("/close")) > 0, kWaitMs);
    service->setCurrentIndex(service->findData(QStringLiteral("/close")));
    QCOMPARE(window.sessionFilter()->rowCount(), 0);
    service->setCurrentIndex(service->findData(QStringLiteral("/echo")));
    QCOMPARE(window.sessionFilter()->rowCount(), 2);

    window.textFilterEdit()->setText(QStringLiteral("websocket"));
    QCOMPARE(window.sessionFilter()->rowCount(), 1);

    // Delete in the table disconnects the selection (and only there).
    QTableView *view = window.sessionsView();
    window.activateWindow();
    QVERIFY(QTest::qWaitForWindowActive(&window));
    view->setFocus();
    view->selectRow(0);
    const QByteArray wsId = window.selectedSessionIds().value(0);
    QVERIFY(!wsId.isEmpty());
    QTest::keyClick(view, Qt::Key_Delete);
    QTRY_VERIFY_WITH_TIMEOUT(ws.isDisconnected(), kWaitMs);
    QCOMPARE(int(ws.closeCode()), 3000);
    QTRY_VERIFY_WITH_TIMEOUT(m_server->backend(QStringLiteral("/echo"))->sessionIds("disconnect").contains(wsId),
                             kWaitMs);

    window.textFilterEdit()->clear();
    QTRY_VERIFY_WITH_TIMEOUT(window.sessionModel()->isLingering(wsId), kWaitMs); // closed, shown a while
    QCOMPARE(window.sessionFilter()->rowCount(), 2);
    window.sessionModel()->tick(QDateTime::currentMSecsSinceEpoch() + SessionTableModel::kDefaultClosedLingerMs + 1);
    QCOMPARE(window.sessionFilter()->rowCount(), 1);
}

void tst_MonitorWindow::detachAndStartLocalProxy()
{
    MainWindow &window = *m_window;
    window.detach();
    QVERIFY(!window.source());
    QCOMPARE(window.sessionModel()->rowCount(), 0);
    QVERIFY(window.windowTitle().contains(QLatin1String("not watching")));
    QVERIFY(!window.disconnectAction()->isEnabled());

    // A proxy started by the window itself, from CLI-style options.
    CommandLine::Result options = localProxyOptions(QStringLiteral("inproc://monitorwindow-local-in"),
                                                    QStringLiteral("inproc://monitorwindow-local-out"));
    QString error;
    QVERIFY2(window.startLocalProxy(options, &error), qPrintable(error));
    QVERIFY(window.localServer());
    QVERIFY(window.source());
    QVERIFY(window.isConnected());
    const quint16 port = window.localServer()->httpPort();
    QVERIFY(port != 0);
    QVERIFY(window.windowTitle().contains(QLatin1String("local proxy")));

    WebSocketClient ws;
    ws.open(port, "/local/000/eee/websocket");
    QTRY_COMPARE_WITH_TIMEOUT(window.sessionModel()->rowCount(), 1, kWaitMs);

    // Detaching shuts the local proxy down: the client gets a close frame.
    window.detach();
    QVERIFY(!window.localServer());
    QTRY_VERIFY_WITH_TIMEOUT(ws.isDisconnected(), kWaitMs);
    QVERIFY(ws.texts().last().startsWith(QLatin1Char('c')));

    // Another local proxy can follow. (Not on the same endpoints at once:
    // ZeroMQ releases them asynchronously after the old sockets close.)
    options.config.services[0].zmqIn = QStringLiteral("inproc://monitorwindow-local-in-2");
    options.config.services[0].zmqOut = QStringLiteral("inproc://monitorwindow-local-out-2");
    QVERIFY2(window.startLocalProxy(options, &error), qPrintable(error));
    QVERIFY(window.isConnected());
    window.detach();
}

// Quitting with a local proxy waits for its events to reach backends (none
// here, and a timeout the test never waits for); quitting again ends that.
void tst_MonitorWindow::secondQuitEndsTheDrain()
{
    MainWindow &window = *m_window;
    CommandLine::Result options =
        localProxyOptions(QStringLiteral("tcp://127.0.0.1:*"), QStringLiteral("tcp://127.0.0.1:*"));
    options.config.shutdownTimeoutMs = 60000;
    QString error;
    QVERIFY2(window.startLocalProxy(options, &error), qPrintable(error));
    const quint16 port = window.localServer()->httpPort();
    QCOMPARE(HttpClient::request(port, "POST", "/local/000/quit/xhr").body, QByteArray("o\n"));

    QString asked;
    answerConfirmation(this, true, &asked);
    QVERIFY(!window.close()); // the session's "connect" and "disconnect" wait
    QVERIFY(asked.contains(QLatin1String("1 live session")));
    QVERIFY(window.isVisible());
    QVERIFY(!window.localServer());
    QVERIFY(window.windowTitle().contains(QLatin1String("not watching")));

    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("^2 messages to backends not delivered")));
    QVERIFY(window.close());
    QVERIFY(!window.isVisible());
}

// Detach and Quit with live sessions in a local proxy ask first; a refusal
// keeps the proxy and its clients.
void tst_MonitorWindow::stoppingALiveProxyAsksFirst()
{
    MainWindow &window = *m_window;
    window.detach();
    CommandLine::Result options = localProxyOptions(QStringLiteral("inproc://monitorwindow-ask-in"),
                                                    QStringLiteral("inproc://monitorwindow-ask-out"));
    QString error;
    QVERIFY2(window.startLocalProxy(options, &error), qPrintable(error));
    QVERIFY(window.confirmStopLocalProxy(QStringLiteral("Nothing"))); // no session: nothing to ask
    WebSocketClient one;
    one.open(window.localServer()->httpPort(), "/local/000/one/websocket");
    WebSocketClient two;
    two.open(window.localServer()->httpPort(), "/local/000/two/websocket");
    QTRY_COMPARE_WITH_TIMEOUT(window.localSessionCount(), qsizetype(2), kWaitMs);

    QString asked;
    answerConfirmation(this, false, &asked);
    window.detachAction()->trigger();
    QVERIFY(asked.startsWith(QLatin1String("Detaching")));
    QVERIFY(asked.contains(QLatin1String("2 live sessions")));
    QVERIFY(window.localServer());
    QVERIFY(window.isConnected());

    asked.clear();
    answerConfirmation(this, false, &asked);
    QVERIFY(!window.close());
    QVERIFY(asked.startsWith(QLatin1String("Quitting")));
    QVERIFY(window.localServer());
    QVERIFY(window.isVisible());
    QCOMPARE(one.texts(), QStringList{QStringLiteral("o")});
    QVERIFY(!one.isDisconnected());

    asked.clear();
    answerConfirmation(this, true, &asked);
    window.detachAction()->trigger();
    QVERIFY(!asked.isEmpty());
    QVERIFY(!window.localServer());
    QTRY_VERIFY_WITH_TIMEOUT(one.isDisconnected() && two.isDisconnected(), kWaitMs);
    QCOMPARE(one.texts().last(), QStringLiteral("c[1001,\"Server is shutting down\"]"));
}

// A start on a taken port, an endpoint where nobody listens and a wrong
// token all fail without dropping the proxy watched; a good attachment
// replaces it once connected.
void tst_MonitorWindow::failedStartOrAttachKeepsWhatIsWatched()
{
    MainWindow &window = *m_window;
    CommandLine::Result options = localProxyOptions(QStringLiteral("inproc://monitorwindow-busy-in"),
                                                    QStringLiteral("inproc://monitorwindow-busy-out"));
    options.config.httpPort = m_server->port(); // taken by the test proxy
    QString error;
    QVERIFY(!window.startLocalProxy(options, &error));
    QVERIFY(!error.isEmpty());
    QCOMPARE(window.source(), m_monitor.get());
    QVERIFY(window.isConnected());
    QVERIFY(window.windowTitle().contains(QLatin1String("test proxy")));

    window.attach(QStringLiteral("127.0.0.1:%1").arg(unusedPort()), QByteArray());
    QVERIFY(window.pendingAttachment());
    QTRY_VERIFY_WITH_TIMEOUT(!window.pendingAttachment(), kWaitMs);
    QCOMPARE(window.source(), m_monitor.get());
    QTRY_VERIFY_WITH_TIMEOUT(logShows(window.logPane(), QStringLiteral("still watching test proxy")), kWaitMs);

    ControlServer control(m_monitor.get());
    control.setToken("right");
    QVERIFY(control.listen(QStringLiteral("127.0.0.1:0"), &error));
    const QString endpoint = QStringLiteral("127.0.0.1:%1").arg(control.port());
    window.attach(endpoint, "wrong");
    QTRY_VERIFY_WITH_TIMEOUT(!window.pendingAttachment(), kWaitMs);
    QCOMPARE(window.source(), m_monitor.get());
    QTRY_VERIFY_WITH_TIMEOUT(logShows(window.logPane(), QStringLiteral("wrong or missing control token")), kWaitMs);

    window.attach(endpoint, "right");
    QTRY_VERIFY_WITH_TIMEOUT(window.source() == window.remoteMonitor() && window.remoteMonitor(), kWaitMs);
    QVERIFY(!window.pendingAttachment());
    QVERIFY(window.isConnected());
    QVERIFY(window.windowTitle().contains(endpoint));
    window.detach();
}

void tst_MonitorWindow::wrongTokenSaysSoAndWaits()
{
    MainWindow &window = *m_window;
    ControlServer control(m_monitor.get());
    control.setToken("right");
    QString error;
    QVERIFY(control.listen(QStringLiteral("127.0.0.1:0"), &error));
    window.detach();
    window.attach(QStringLiteral("127.0.0.1:%1").arg(control.port()), "wrong");
    const QLabel *status = window.statusLabel();
    QTRY_VERIFY_WITH_TIMEOUT(status->text().contains(QLatin1String("wrong or missing control token")), kWaitMs);
    QVERIFY(!status->text().contains(QLatin1String("QWebSocket")));
    QVERIFY(window.remoteMonitor()->isUnauthorized());
    QVERIFY(!window.remoteMonitor()->isRetryPending());
    QVERIFY(window.reconnectAction()->isEnabled());
    QTRY_VERIFY_WITH_TIMEOUT(logShows(window.logPane(), QStringLiteral("wrong or missing control token")), kWaitMs);
    // One line, not one every two seconds.
    window.logPane()->flush();
    int lines = 0;
    for (int row = 0; row < window.logPane()->model()->rowCount(); ++row)
        lines += window.logPane()->model()->entryAt(row).text.contains(QLatin1String("control token")) ? 1 : 0;
    QCOMPARE(lines, 1);
    window.detach();
}

// An attached proxy killed: no panel claims live figures; a new process
// behind the same endpoint is marked on the chart and in the log.
void tst_MonitorWindow::goneProxyLeavesNoLiveFigure()
{
    MainWindow &window = *m_window;
    auto control = std::make_unique<ControlServer>(m_monitor.get());
    QString error;
    QVERIFY(control->listen(QStringLiteral("127.0.0.1:0"), &error));
    const quint16 port = control->port();
    window.detach();
    window.attach(QString::number(port), QByteArray());
    QTRY_VERIFY_WITH_TIMEOUT(window.isConnected(), kWaitMs);
    BackendPanel *panel = window.backendPanel();
    RateChart *chart = window.rateChart();
    QTRY_VERIFY_WITH_TIMEOUT(chart->sampleCount() >= 2, kWaitMs);
    QVERIFY(panel->counterLabel(QStringLiteral("sessionsOpen"))->text() != QLatin1String("-"));
    QVERIFY(panel->updatedLabel()->text().startsWith(QLatin1String("updated")));
    QVERIFY(chart->currentText().contains(QLatin1String("in/s")));
    QCOMPARE(chart->segmentCount(), 1);
    // Each panel says when its figures came, and that changes with them.
    UpdatedLabel *chartUpdated = window.chartUpdatedLabel();
    UpdatedLabel *sessionsUpdated = window.sessionsUpdatedLabel();
    for (const UpdatedLabel *label : {chartUpdated, sessionsUpdated})
        QVERIFY2(label->text().startsWith(QLatin1String("updated ")), qPrintable(label->text()));
    const QDateTime chartFirst = chartUpdated->lastUpdate();
    const QDateTime sessionsFirst = sessionsUpdated->lastUpdate();
    QTRY_VERIFY_WITH_TIMEOUT(chartUpdated->lastUpdate() > chartFirst, kWaitMs);
    QTRY_VERIFY_WITH_TIMEOUT(sessionsUpdated->lastUpdate() > sessionsFirst, kWaitMs);

    control.reset(); // the proxy dies
    QTRY_VERIFY_WITH_TIMEOUT(!window.isConnected(), kWaitMs);
    const QString dash = QStringLiteral("\u2014");
    QVERIFY(panel->isStale());
    QCOMPARE(panel->counterLabel(QStringLiteral("sessionsOpen"))->text(), dash);
    QCOMPARE(panel->counterLabel(QStringLiteral("rates"))->text(), dash);
    QCOMPARE(panel->counterLabel(QStringLiteral("messages_in"))->text(), dash);
    const QTableWidget *table = panel->servicesTable();
    QVERIFY(table->rowCount() > 0);
    for (int row = 0; row < table->rowCount(); ++row) {
        QVERIFY(table->item(row, BackendPanel::BackendColumn)->text().contains(QLatin1String("proxy gone")));
        QCOMPARE(table->item(row, BackendPanel::SessionsColumn)->text(), dash);
        QCOMPARE(table->item(row, BackendPanel::DroppedColumn)->text(), dash);
    }
    QVERIFY(panel->updatedLabel()->text().contains(QLatin1String("proxy gone")));
    QVERIFY(chart->isStale());
    QVERIFY(chart->currentText().contains(dash));
    QVERIFY(!chart->currentText().contains(QLatin1String("in/s")));
    QVERIFY(window.statusLabel()->text().contains(QLatin1String("retrying in")));
    QCOMPARE(window.sessionModel()->rowCount(), 0);
    // Gone: the time of the last figures, and it stays put.
    QVERIFY(chartUpdated->isStale());
    QVERIFY(sessionsUpdated->isStale());
    const QString chartGone = chartUpdated->text();
    const QString sessionsGone = sessionsUpdated->text();
    const QString panelGone = panel->updatedLabel()->text();
    QCOMPARE(chartGone, QStringLiteral("proxy gone; last figures at %1")
                            .arg(chartUpdated->lastUpdate().toString(QStringLiteral("HH:mm:ss"))));
    QVERIFY2(sessionsGone.startsWith(QLatin1String("proxy gone; last figures at ")), qPrintable(sessionsGone));
    const QTime goneAt = QTime::currentTime();
    QTRY_VERIFY_WITH_TIMEOUT(QTime::currentTime().second() != goneAt.second(), kWaitMs);
    QCOMPARE(chartUpdated->text(), chartGone);
    QCOMPARE(sessionsUpdated->text(), sessionsGone);
    QCOMPARE(panel->updatedLabel()->text(), panelGone);

    // Another process (another Monitor: another instance) on the same endpoint.
    Monitor second(m_server->server());
    second.start(50, 200);
    control = std::make_unique<ControlServer>(&second);
    QVERIFY2(control->listen(QStringLiteral("127.0.0.1:%1").arg(port), &error), qPrintable(error));
    QTRY_VERIFY_WITH_TIMEOUT(window.isConnected(), kWaitMs);
    const int before = chart->sampleCount();
    QTRY_VERIFY_WITH_TIMEOUT(chart->sampleCount() > before, kWaitMs);
    QVERIFY(!panel->isStale());
    QVERIFY(!chart->isStale());
    QVERIFY(!chartUpdated->isStale());
    QVERIFY(chartUpdated->text().startsWith(QLatin1String("updated ")));
    QTRY_VERIFY_WITH_TIMEOUT(sessionsUpdated->text().startsWith(QLatin1String("updated ")), kWaitMs);
    QCOMPARE(chart->segmentCount(), 2); // a gap, not a line across the outage
    QCOMPARE(chart->markerCount(), 1);
    QVERIFY(chart->markerLabel(0).startsWith(QLatin1String("new process")));
    QTRY_VERIFY_WITH_TIMEOUT(logShows(window.logPane(), QStringLiteral("a new proxy process")), kWaitMs);
    window.detach();
    control.reset();
}

// The "updated" labels of the sessions list, the chart and the backends and
// counters follow the updates of a source (exact times from its stats), and
// once it is gone say so with the time of the last figures.
void tst_MonitorWindow::lastUpdatedLabels()
{
    MainWindow &window = *m_window;
    FakeSource source;
    window.setSource(&source, QStringLiteral("fake proxy"));
    QAbstractItemModelTester tester(window.sessionModel(), QAbstractItemModelTester::FailureReportingMode::QtTest);
    UpdatedLabel *chart = window.chartUpdatedLabel();
    UpdatedLabel *sessions = window.sessionsUpdatedLabel();
    UpdatedLabel *panel = window.backendPanel()->updatedLabel();
    for (const UpdatedLabel *label : {chart, sessions, panel}) {
        QCOMPARE(label->text(), QString()); // no figures yet
        QVERIFY(label->isVisible());
    }

    const QDateTime first(QDate(2026, 3, 14), QTime(12, 3, 4));
    source.sendStats(first);
    QCOMPARE(chart->text(), QStringLiteral("updated 12:03:04"));
    QCOMPARE(panel->text(), QStringLiteral("updated 12:03:04"));
    QCOMPARE(chart->styleSheet(), QString());
    // The list's own time is when it was known current here.
    QVERIFY(sessions->text().startsWith(QLatin1String("updated ")));
    QDateTime sessionsSeen = sessions->lastUpdate();
    QVERIFY(qAbs(sessionsSeen.msecsTo(QDateTime::currentDateTime())) < 5000);

    source.sendStats(first.addSecs(1));
    QCOMPARE(chart->text(), QStringLiteral("updated 12:03:05"));
    QCOMPARE(panel->text(), QStringLiteral("updated 12:03:05"));
    QVERIFY(sessions->lastUpdate() >= sessionsSeen);
    sessionsSeen = sessions->lastUpdate();
    source.sendSession("s1", 1);
    QCOMPARE(window.sessionModel()->rowCount(), 1);
    QVERIFY(sessions->lastUpdate() >= sessionsSeen);
    QCOMPARE(sessions->text(),
             QStringLiteral("updated %1").arg(sessions->lastUpdate().toString(QStringLiteral("HH:mm:ss"))));
    source.sendSession("s1", 2);
    QCOMPARE(window.sessionModel()->rowCount(), 1);

    // Gone: the time of the last figures, in red, until new ones come.
    source.lose();
    QCOMPARE(chart->text(), QStringLiteral("proxy gone; last figures at 12:03:05"));
    QCOMPARE(panel->text(), QStringLiteral("proxy gone; last figures at 12:03:05"));
    QCOMPARE(sessions->text(), QStringLiteral("proxy gone; last figures at %1")
                                   .arg(sessions->lastUpdate().toString(QStringLiteral("HH:mm:ss"))));
    for (const UpdatedLabel *label : {chart, sessions, panel}) {
        QVERIFY(label->isStale());
        QCOMPARE(label->styleSheet(), QStringLiteral("color: #c01c28"));
    }
    source.lose(); // said again (a retry failed): nothing moves
    QCOMPARE(chart->text(), QStringLiteral("proxy gone; last figures at 12:03:05"));
    QCOMPARE(panel->text(), QStringLiteral("proxy gone; last figures at 12:03:05"));

    source.sendStats(first.addSecs(10));
    QCOMPARE(chart->text(), QStringLiteral("updated 12:03:14"));
    QCOMPARE(panel->text(), QStringLiteral("updated 12:03:14"));
    QVERIFY(sessions->text().startsWith(QLatin1String("updated ")));
    for (const UpdatedLabel *label : {chart, sessions, panel}) {
        QVERIFY(!label->isStale());
        QCOMPARE(label->styleSheet(), QString());
    }

    window.detach();
    QCOMPARE(sessions->text(), QString());
}

// View > Capture turns the proxy's capture on and off, and a proxy watched
// later gets the same setting.
void tst_MonitorWindow::captureFromTheViewMenu()
{
    MainWindow &window = *m_window;
    auto *menu = window.findChild<QMenu *>(QStringLiteral("captureMenu"));
    QVERIFY(menu);
    const QList<QAction *> actions = menu->actions();
    QCOMPARE(actions.size(), 3);
    QVERIFY(actions.at(0)->isChecked());
    QCOMPARE(m_monitor->capture(), 0);

    actions.at(1)->trigger();
    QCOMPARE(m_monitor->capture(), 100);
    QVERIFY(actions.at(1)->isChecked());

    // A message of a session nobody inspects is in its history.
    WebSocketClient ws;
    ws.open(m_server->port(), "/echo/000/cap/websocket");
    QTRY_COMPARE_WITH_TIMEOUT(ws.texts(), QStringList{QStringLiteral("o")}, kWaitMs);
    ws.send({QStringLiteral("kept")});
    QTRY_COMPARE_WITH_TIMEOUT(ws.texts().size(), 2, kWaitMs); // the echo
    QTRY_VERIFY_WITH_TIMEOUT(window.sessionModel()->rowCount() == 1, kWaitMs);
    const QByteArray id = window.sessionModel()->sessionAt(0).id;
    QTRY_VERIFY_WITH_TIMEOUT(m_monitor->history(id).size() >= 2, kWaitMs);

    // Watched again (as after a new attachment): the setting goes with it.
    window.detach();
    m_monitor->setCapture(0);
    window.setSource(m_monitor.get(), QStringLiteral("test proxy"));
    QCOMPARE(m_monitor->capture(), 100);

    actions.at(0)->trigger();
    QCOMPARE(m_monitor->capture(), 0);
}

QTEST_MAIN(tst_MonitorWindow)
#include "tst_monitorwindow.moc"
