#include "mainwindow.h"

#include "attachdialog.h"
#include "backendpanel.h"
#include "control/clustermonitor.h"
#include "control/controlserver.h"
#include "control/remotemonitor.h"
#include "inspectorwidget.h"
#include "logpane.h"
#include "metrics/logcapture.h"
#include "metrics/monitor.h"
#include "proxy/proxyinstance.h"
#include "ratechart.h"
#include "server/server.h"
#include "sessionfiltermodel.h"
#include "sessiontablemodel.h"
#include "sockjs/service.h"
#include "sockjs/transports/registry.h"
#include "sockjsproxy_version.h"
#include "startproxydialog.h"
#include "updatedlabel.h"

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QClipboard>
#include <QCloseEvent>
#include <QComboBox>
#include <QDockWidget>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QImageReader>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QPushButton>
#include <QStatusBar>
#include <QTableView>
#include <QToolBar>
#include <QVBoxLayout>

namespace SockJsProxy {

MainWindow::MainWindow(QWidget *parent) : QMainWindow(parent)
{
    setObjectName(QStringLiteral("monitorWindow"));
    setWindowIcon(appIcon());
    createViews();
    createActions();
    updateStatus();
    onSelectionChanged();
}

MainWindow::~MainWindow()
{
    // Views first let go of the source (un-inspecting), then the sources go.
    unwatch();
    for (const auto &pending : m_pendingNodes)
        pending->disconnect(this);
    m_pendingNodes.clear();
    m_remote.reset();
    m_proxy.reset();
    m_retiring.reset();
}

Server *MainWindow::localServer() const { return m_proxy ? m_proxy->server() : nullptr; }

QIcon MainWindow::appIcon()
{
    QIcon icon;
    if (QImageReader::supportedImageFormats().contains("svg"))
        icon.addFile(QStringLiteral(":/icons/sockjsproxy.svg"));
    for (const int size : {32, 64, 128, 256})
        icon.addFile(QStringLiteral(":/icons/sockjsproxy-%1.png").arg(size), QSize(size, size));
    return icon;
}

void MainWindow::createViews()
{
    // Sessions: filter bar over the table.
    m_sessionModel = new SessionTableModel(this);
    m_sessionFilter = new SessionFilterModel(this);
    m_sessionFilter->setSourceModel(m_sessionModel);

    m_serviceCombo = new QComboBox;
    m_serviceCombo->setObjectName(QStringLiteral("serviceFilterCombo"));
    m_serviceCombo->addItem(tr("All services"), QString());
    m_serviceCombo->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    connect(m_serviceCombo, &QComboBox::currentIndexChanged, this,
            [this] { m_sessionFilter->setServiceFilter(m_serviceCombo->currentData().toString()); });

    m_transportCombo = new QComboBox;
    m_transportCombo->setObjectName(QStringLiteral("transportFilterCombo"));
    m_transportCombo->addItem(tr("All transports"), QString());
    for (const QString &transport : TransportRegistry::displayNames())
        m_transportCombo->addItem(transport, transport);
    connect(m_transportCombo, &QComboBox::currentIndexChanged, this,
            [this] { m_sessionFilter->setTransportFilter(m_transportCombo->currentData().toString()); });

    m_filterEdit = new QLineEdit;
    m_filterEdit->setObjectName(QStringLiteral("sessionFilterEdit"));
    m_filterEdit->setPlaceholderText(tr("Filter: id, address, origin, user agent, \u2026"));
    m_filterEdit->setClearButtonEnabled(true);
    connect(m_filterEdit, &QLineEdit::textChanged, m_sessionFilter, &SessionFilterModel::setTextFilter);

    m_sessionsView = new QTableView;
    m_sessionsView->setObjectName(QStringLiteral("sessionsView"));
    m_sessionsView->setModel(m_sessionFilter);
    m_sessionsView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_sessionsView->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_sessionsView->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_sessionsView->setAlternatingRowColors(true);
    m_sessionsView->setWordWrap(false);
    m_sessionsView->setContextMenuPolicy(Qt::CustomContextMenu);
    m_sessionsView->verticalHeader()->hide();
    // Fixed row heights and no ResizeToContents: thousands of rows stay cheap.
    m_sessionsView->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    m_sessionsView->verticalHeader()->setDefaultSectionSize(m_sessionsView->fontMetrics().height() + 6);
    QHeaderView *header = m_sessionsView->horizontalHeader();
    header->setSectionResizeMode(QHeaderView::Interactive);
    header->setHighlightSections(false);
    // Widths from sample texts: average character widths underestimate digits.
    const QFontMetrics metrics = m_sessionsView->fontMetrics();
    const struct
    {
        int column;
        const char *sample;
    } widths[] = {
        {SessionTableModel::IdColumn, "00000-00"},
        {SessionTableModel::ServiceColumn, "/service"},
        {SessionTableModel::TransportColumn, "xhr-streaming"},
        {SessionTableModel::RemoteColumn, "127.000.000.1:00000"},
        {SessionTableModel::StateColumn, "waiting for poll"},
        {SessionTableModel::MessagesInColumn, "Msgs in"},
        {SessionTableModel::MessagesOutColumn, "Msgs out"},
        {SessionTableModel::BytesInColumn, "000.0 KiB"},
        {SessionTableModel::BytesOutColumn, "000.0 KiB"},
        {SessionTableModel::QueuedColumn, "Queued"},
        {SessionTableModel::AgeColumn, "00 min 00 s"},
        {SessionTableModel::IdleColumn, "00 min 00 s"},
        {SessionTableModel::OpenedAtColumn, "00:00:00"},
        {SessionTableModel::LastActivityColumn, "Last activity"},
        {SessionTableModel::OriginColumn, "http://localhost:0000"},
        {SessionTableModel::UserAgentColumn, "Mozilla/5.0 (X11; Linux x86_64)"},
    };
    for (const auto &width : widths)
        m_sessionsView->setColumnWidth(width.column, metrics.horizontalAdvance(QLatin1String(width.sample)) + 20);
    m_sessionsView->setSortingEnabled(true);
    m_sessionsView->sortByColumn(SessionTableModel::OpenedAtColumn, Qt::AscendingOrder);
    connect(m_sessionsView->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            &MainWindow::onSelectionChanged);
    connect(m_sessionsView->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            &MainWindow::onSelectionChanged);
    connect(m_sessionsView, &QWidget::customContextMenuRequested, this, &MainWindow::onSessionsContextMenu);
    for (const auto signal : {&QAbstractItemModel::rowsInserted, &QAbstractItemModel::rowsRemoved})
        connect(m_sessionFilter, signal, this, &MainWindow::updateCountLabel);
    connect(m_sessionFilter, &QAbstractItemModel::modelReset, this, &MainWindow::updateCountLabel);
    connect(m_sessionFilter, &QAbstractItemModel::layoutChanged, this, &MainWindow::updateCountLabel);

    m_sessionsUpdated = new UpdatedLabel;
    m_sessionsUpdated->setObjectName(QStringLiteral("sessionsUpdatedLabel"));

    auto *filterBar = new QHBoxLayout;
    filterBar->addWidget(m_serviceCombo);
    filterBar->addWidget(m_transportCombo);
    filterBar->addWidget(m_filterEdit, 1);
    filterBar->addWidget(m_sessionsUpdated);

    auto *central = new QWidget;
    auto *centralLayout = new QVBoxLayout(central);
    centralLayout->setContentsMargins(4, 4, 4, 0);
    centralLayout->addLayout(filterBar);
    centralLayout->addWidget(m_sessionsView, 1);
    setCentralWidget(central);

    // Rates: service combo over the chart.
    m_rateChart = new RateChart;
    m_rateChart->setObjectName(QStringLiteral("rateChart"));
    m_chartServiceCombo = new QComboBox;
    m_chartServiceCombo->setObjectName(QStringLiteral("chartServiceCombo"));
    m_chartServiceCombo->addItem(tr("All services"), QString());
    connect(m_chartServiceCombo, &QComboBox::currentIndexChanged, this,
            [this] { m_rateChart->setService(m_chartServiceCombo->currentData().toString()); });
    auto *ratesWidget = new QWidget;
    auto *ratesLayout = new QVBoxLayout(ratesWidget);
    ratesLayout->setContentsMargins(4, 4, 4, 4);
    auto *ratesBar = new QHBoxLayout;
    auto *windowCombo = new QComboBox;
    windowCombo->setObjectName(QStringLiteral("chartWindowCombo"));
    windowCombo->addItem(tr("Last minute of"), qint64(60000));
    windowCombo->addItem(tr("Last 5 minutes of"), qint64(RateChart::kWindowMs));
    windowCombo->addItem(tr("Last hour of"), qint64(RateChart::kMaxWindowMs));
    windowCombo->setCurrentIndex(1);
    connect(windowCombo, &QComboBox::currentIndexChanged, this,
            [this, windowCombo] { m_rateChart->setWindow(windowCombo->currentData().toLongLong()); });
    // Messages or bytes per second on the left axis (the hover shows both).
    auto *unitCombo = new QComboBox;
    unitCombo->setObjectName(QStringLiteral("chartUnitCombo"));
    unitCombo->addItem(tr("messages/s"), int(RateChart::Unit::Messages));
    unitCombo->addItem(tr("bytes/s"), int(RateChart::Unit::Bytes));
    connect(unitCombo, &QComboBox::currentIndexChanged, this,
            [this, unitCombo] { m_rateChart->setUnit(RateChart::Unit(unitCombo->currentData().toInt())); });
    m_chartUpdated = new UpdatedLabel;
    m_chartUpdated->setObjectName(QStringLiteral("chartUpdatedLabel"));
    ratesBar->addWidget(windowCombo);
    ratesBar->addWidget(m_chartServiceCombo);
    ratesBar->addWidget(unitCombo);
    ratesBar->addStretch(1);
    ratesBar->addWidget(m_chartUpdated);
    ratesLayout->addLayout(ratesBar);
    ratesLayout->addWidget(m_rateChart, 1);

    m_backendPanel = new BackendPanel;
    m_inspector = new InspectorWidget;
    m_logPane = new LogPane;

    auto dock = [this](const QString &title, const QString &name, QWidget *widget, Qt::DockWidgetArea area) {
        auto *d = new QDockWidget(title, this);
        d->setObjectName(name);
        d->setWidget(widget);
        d->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable
                       | QDockWidget::DockWidgetClosable);
        addDockWidget(area, d);
        return d;
    };
    setCorner(Qt::BottomRightCorner, Qt::RightDockWidgetArea);
    setCorner(Qt::TopRightCorner, Qt::RightDockWidgetArea);
    QDockWidget *ratesDock = dock(tr("Rates"), QStringLiteral("ratesDock"), ratesWidget, Qt::RightDockWidgetArea);
    QDockWidget *backendsDock =
        dock(tr("Backends and counters"), QStringLiteral("backendsDock"), m_backendPanel, Qt::RightDockWidgetArea);
    QDockWidget *logDock = dock(tr("Log"), QStringLiteral("logDock"), m_logPane, Qt::RightDockWidgetArea);
    QDockWidget *inspectorDock = dock(tr("Messages of the selected session"), QStringLiteral("inspectorDock"),
                                      m_inspector, Qt::BottomDockWidgetArea);
    splitDockWidget(ratesDock, backendsDock, Qt::Vertical);
    splitDockWidget(backendsDock, logDock, Qt::Vertical);
    resizeDocks({ratesDock}, {540}, Qt::Horizontal);
    resizeDocks({ratesDock, backendsDock, logDock}, {250, 230, 300}, Qt::Vertical);
    resizeDocks({inspectorDock}, {280}, Qt::Vertical);

    m_statusLabel = new QLabel;
    m_statusLabel->setObjectName(QStringLiteral("connectionLabel"));
    m_statusLabel->setTextFormat(Qt::RichText);
    m_countLabel = new QLabel;
    m_countLabel->setObjectName(QStringLiteral("sessionCountLabel"));
    statusBar()->addWidget(m_statusLabel, 1);
    statusBar()->addPermanentWidget(m_countLabel);
    updateCountLabel();

    // Kept for the View menu.
    for (QDockWidget *d : {ratesDock, backendsDock, inspectorDock, logDock})
        d->toggleViewAction()->setObjectName(d->objectName() + QStringLiteral("Toggle"));
}

void MainWindow::addChoiceMenu(QMenu *parent, const QString &title, const QString &objectName,
                               const QList<Choice> &choices, int current, const std::function<void(int)> &onChosen)
{
    QMenu *menu = parent->addMenu(title);
    menu->setObjectName(objectName);
    auto *group = new QActionGroup(menu);
    for (const Choice &choice : choices) {
        QAction *action = menu->addAction(tr(choice.text));
        action->setCheckable(true);
        action->setChecked(choice.value == current);
        action->setData(choice.value);
        group->addAction(action);
        connect(action, &QAction::triggered, this, [onChosen, value = choice.value] { onChosen(value); });
    }
}

void MainWindow::createActions()
{
    m_startAction = new QAction(tr("&Start local proxy\u2026"), this);
    m_startAction->setObjectName(QStringLiteral("startAction"));
    m_startAction->setShortcut(QKeySequence::New);
    connect(m_startAction, &QAction::triggered, this, &MainWindow::showStartDialog);

    m_attachAction = new QAction(tr("&Attach\u2026"), this);
    m_attachAction->setObjectName(QStringLiteral("attachAction"));
    m_attachAction->setShortcut(QKeySequence::Open);
    connect(m_attachAction, &QAction::triggered, this, &MainWindow::showAttachDialog);

    m_detachAction = new QAction(tr("&Detach"), this);
    m_detachAction->setObjectName(QStringLiteral("detachAction"));
    m_detachAction->setToolTip(tr("Stop watching (a proxy started here is shut down)"));
    connect(m_detachAction, &QAction::triggered, this, [this] {
        if (confirmStopLocalProxy(tr("Detaching")))
            detach();
    });

    m_reconnectAction = new QAction(tr("&Reconnect"), this);
    m_reconnectAction->setObjectName(QStringLiteral("reconnectAction"));
    m_reconnectAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_R));
    m_reconnectAction->setToolTip(tr("Try the attached endpoint again now"));
    connect(m_reconnectAction, &QAction::triggered, this, [this] {
        if (!m_remote)
            return;
        m_remote->reconnect(); // the nodes not attached
        m_detail = tr("connecting\u2026");
        updateStatus();
    });

    m_quitAction = new QAction(tr("&Quit"), this);
    m_quitAction->setObjectName(QStringLiteral("quitAction"));
    m_quitAction->setShortcut(QKeySequence::Quit);
    m_quitAction->setMenuRole(QAction::QuitRole);
    connect(m_quitAction, &QAction::triggered, this, &QWidget::close);

    m_disconnectAction = new QAction(tr("&Disconnect"), this);
    m_disconnectAction->setObjectName(QStringLiteral("disconnectAction"));
    m_disconnectAction->setToolTip(tr("Close the selected sessions (clients get c[3000,\"Go away!\"]) [Delete]"));
    m_disconnectAction->setShortcut(QKeySequence::Delete);
    // Delete only means "disconnect" in the table, not in the filter box.
    m_disconnectAction->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    m_sessionsView->addAction(m_disconnectAction);
    connect(m_disconnectAction, &QAction::triggered, this, &MainWindow::disconnectSelected);

    m_sendAction = new QAction(tr("&Send message\u2026"), this);
    m_sendAction->setObjectName(QStringLiteral("sendAction"));
    m_sendAction->setToolTip(tr("Send a message to the selected session, as its backend would"));
    connect(m_sendAction, &QAction::triggered, this, &MainWindow::sendToSelected);

    m_clearCountersAction = new QAction(tr("&Clear counters"), this);
    m_clearCountersAction->setObjectName(QStringLiteral("clearCountersAction"));
    m_clearCountersAction->setToolTip(tr("Count from zero from now on (the proxy's own totals are kept)"));
    connect(m_clearCountersAction, &QAction::triggered, this, &MainWindow::clearCounters);

    m_copyIdAction = new QAction(tr("Copy &id"), this);
    m_copyIdAction->setObjectName(QStringLiteral("copyIdAction"));
    connect(m_copyIdAction, &QAction::triggered, this, [this] {
        QStringList ids;
        for (const QByteArray &id : selectedSessionIds())
            ids.append(QString::fromLatin1(id));
        QApplication::clipboard()->setText(ids.join(QLatin1Char('\n')));
    });

    QMenu *file = menuBar()->addMenu(tr("&File"));
    file->addAction(m_startAction);
    file->addAction(m_attachAction);
    file->addAction(m_reconnectAction);
    file->addAction(m_detachAction);
    file->addSeparator();
    file->addAction(m_quitAction);

    QMenu *sessions = menuBar()->addMenu(tr("&Sessions"));
    sessions->addAction(m_disconnectAction);
    sessions->addAction(m_sendAction);
    sessions->addAction(m_copyIdAction);
    sessions->addSeparator();
    sessions->addAction(m_clearCountersAction);

    QMenu *view = menuBar()->addMenu(tr("&View"));
    const auto docks = findChildren<QDockWidget *>();
    for (QDockWidget *d : docks)
        view->addAction(d->toggleViewAction());
    view->addSeparator();
    // How long a closed session stays in the table, greyed.
    addChoiceMenu(view, tr("&Keep closed sessions"), QStringLiteral("keepClosedMenu"),
                  {{0, QT_TR_NOOP("No")},
                   {10000, QT_TR_NOOP("10 seconds")},
                   {30000, QT_TR_NOOP("30 seconds")},
                   {120000, QT_TR_NOOP("2 minutes")},
                   {600000, QT_TR_NOOP("10 minutes")}},
                  m_sessionModel->closedLinger(), [this](int ms) { m_sessionModel->setClosedLinger(ms); });

    // The bounded capture of every session's last messages (off by default:
    // it costs memory in the proxy; README, POST /api/capture), so that a
    // session's history is there when it is selected. Kept across
    // attachments: each new source gets it.
    addChoiceMenu(view, tr("&Capture every session's messages"), QStringLiteral("captureMenu"),
                  {{0, QT_TR_NOOP("Off (only the inspected session's)")},
                   {100, QT_TR_NOOP("The last 100 of each")},
                   {1000, QT_TR_NOOP("The last 1,000 of each")}},
                  m_capture, [this](int messages) {
                      m_capture = messages;
                      if (m_source)
                          m_source->setCapture(messages);
                  });

    // Ctrl+F: to the session filter.
    auto *find = new QAction(tr("&Find session"), this);
    find->setObjectName(QStringLiteral("findAction"));
    find->setShortcut(QKeySequence::Find);
    connect(find, &QAction::triggered, this, [this] {
        m_filterEdit->setFocus(Qt::ShortcutFocusReason);
        m_filterEdit->selectAll();
    });
    addAction(find);
    view->addAction(find);

    QMenu *help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About"), this, [this] {
        QMessageBox::about(this, tr("About SockJSProxy Monitor"),
                           tr("<b>sockjsproxy-monitor</b> %1<br>Watches a SockJSProxy: sessions, rates, "
                              "backends, messages and log.")
                               .arg(QStringLiteral(SOCKJSPROXY_VERSION)));
    });

    QToolBar *toolbar = addToolBar(tr("Actions"));
    toolbar->setObjectName(QStringLiteral("actionsToolBar"));
    toolbar->setMovable(false);
    toolbar->setToolButtonStyle(Qt::ToolButtonTextOnly);
    toolbar->addAction(m_disconnectAction);
    toolbar->addAction(m_sendAction);
    toolbar->addSeparator();
    toolbar->addAction(m_clearCountersAction);
}

void MainWindow::setSource(MonitorSource *source, const QString &description)
{
    detach();
    if (source)
        watch(source, description, true);
}

qsizetype MainWindow::localSessionCount() const
{
    qsizetype count = 0;
    if (const Server *server = localServer()) {
        for (const Service *service : server->services())
            count += service->sessionCount();
    }
    return count;
}

bool MainWindow::confirmStopLocalProxy(const QString &action)
{
    const qsizetype sessions = localSessionCount();
    if (sessions == 0)
        return true;
    const QString count = sessions == 1 ? tr("1 live session") : tr("%1 live sessions").arg(sessions);
    QMessageBox box(QMessageBox::Warning, tr("Stop the local proxy?"),
                    tr("%1 stops the proxy running in this window and closes its %2: clients get 1001 "
                       "\"Server is shutting down\", backends \"disconnect\".")
                        .arg(action, count),
                    QMessageBox::NoButton, this);
    box.setObjectName(QStringLiteral("stopProxyConfirmation"));
    QPushButton *stop = box.addButton(tr("Stop the proxy, close %1").arg(count), QMessageBox::DestructiveRole);
    stop->setObjectName(QStringLiteral("stopProxyButton"));
    box.setDefaultButton(box.addButton(QMessageBox::Cancel));
    box.exec();
    return box.clickedButton() == stop;
}

bool MainWindow::startLocalProxy(const CommandLine::Result &options, QString *error)
{
    // Capture from now on: the startup lines (listening on ..., bound ...)
    // are delivered queued, once the Monitor listens.
    LogCapture::instance();
    // The new proxy first: what is watched now stays if it cannot start.
    auto proxy = std::make_unique<ProxyInstance>(ProxyInstance::Monitoring::Always);
    if (!proxy->start(options, error)) {
        if (m_proxy)
            *error += tr(" (the proxy already running here keeps its ports; File > Detach stops it)");
        m_logPane->addLine(QStringLiteral("critical"), QStringLiteral("monitor"), *error);
        if (!m_source)
            m_detail = *error;
        updateStatus();
        return false;
    }
    m_pendingRemote.reset();
    m_pendingNodes.clear();
    if (m_proxy) {
        stopLocalProxy();
    } else {
        unwatch();
        m_remote.reset();
    }
    m_proxy = std::move(proxy);
    QString description =
        tr("local proxy, HTTP %1:%2").arg(options.config.httpAddress).arg(m_proxy->server()->httpPort());
    if (const ControlServer *control = m_proxy->control())
        description += tr(", control %1:%2").arg(control->address().toString()).arg(control->port());
    watch(m_proxy->monitor(), description, true);
    return true;
}

void MainWindow::attach(const QString &endpoint, const QByteArray &token) { attach(QStringList{endpoint}, token); }

void MainWindow::attach(const QStringList &endpoints, const QByteArray &token)
{
    const QString endpoint = endpoints.join(QStringLiteral(", "));
    m_lastAttachEndpoint = endpoint;
    m_pendingRemote.reset();
    m_pendingNodes.clear();
    m_pendingFailed.clear();
    auto remote = std::make_unique<ClusterMonitor>();
    if (m_source) {
        // Watched until the new one has connected.
        m_pendingRemote = std::move(remote);
        m_pendingEndpoint = endpoint;
        connect(m_pendingRemote.get(), &MonitorSource::connectionChanged, this,
                [this](bool connected, const QString &detail) {
                    if (connected)
                        adoptPendingAttachment();
                    else if (m_pendingRemote && m_pendingRemote->nodeCount() == 1)
                        dropPendingAttachment(detail);
                });
        // Several endpoints: dropped once every one of them failed.
        connect(m_pendingRemote.get(), &ClusterMonitor::nodeConnectionChanged, this,
                [this](const QString &node, bool connected, const QString &detail) {
                    if (connected || !m_pendingRemote || m_pendingRemote->nodeCount() == 1)
                        return;
                    m_pendingFailed.insert(node);
                    if (m_pendingFailed.size() == m_pendingRemote->nodeCount())
                        dropPendingAttachment(node + QStringLiteral(": ") + detail);
                });
        statusBar()->showMessage(tr("Attaching to %1\u2026").arg(endpoint));
        for (const QString &node : endpoints)
            m_pendingRemote->addNode(node, token);
        return;
    }
    detach();
    m_remote = std::move(remote);
    for (const QString &node : endpoints)
        m_remote->addNode(node, token);
    watch(m_remote.get(), remoteDescription(), false);
    m_detail = tr("connecting\u2026");
    updateStatus();
}

void MainWindow::addNode(const QString &endpoint, const QByteArray &token)
{
    if (!m_remote || !m_source) {
        attach(endpoint, token);
        return;
    }
    m_lastAttachEndpoint = endpoint;
    if (m_remote->nodeAt(endpoint)) {
        statusBar()->showMessage(tr("%1 is watched already").arg(endpoint), 10000);
        return;
    }
    for (const auto &pending : m_pendingNodes) {
        if (pending->endpoint() == endpoint)
            return; // on its way
    }
    m_pendingNodes.push_back(std::make_unique<RemoteMonitor>());
    RemoteMonitor *remote = m_pendingNodes.back().get();
    connect(remote, &MonitorSource::connectionChanged, this, [this, remote](bool connected, const QString &detail) {
        onPendingNodeConnection(remote, connected, detail);
    });
    statusBar()->showMessage(tr("Attaching to %1\u2026").arg(endpoint));
    remote->attach(endpoint, token);
}

void MainWindow::onPendingNodeConnection(RemoteMonitor *remote, bool connected, const QString &detail)
{
    const auto it = std::find_if(m_pendingNodes.begin(), m_pendingNodes.end(),
                                 [remote](const std::unique_ptr<RemoteMonitor> &p) { return p.get() == remote; });
    if (it == m_pendingNodes.end())
        return;
    std::unique_ptr<RemoteMonitor> node = std::move(*it);
    m_pendingNodes.erase(it);
    node->disconnect(this);
    const QString endpoint = node->endpoint();
    if (connected && m_remote) {
        m_remote->adoptNode(std::move(node));
        m_logPane->addLine(QStringLiteral("info"), QStringLiteral("monitor"),
                           tr("attached to %1 as well").arg(endpoint));
        statusBar()->clearMessage();
        return;
    }
    // Called from its own signal: deleted later, with the window as owner till then.
    node->setParent(this);
    node.release()->deleteLater();
    const QString text = tr("cannot attach to %1 (%2); still watching %3").arg(endpoint, detail, m_description);
    m_logPane->addLine(QStringLiteral("warning"), QStringLiteral("monitor"), text);
    statusBar()->showMessage(text, 10000);
}

QString MainWindow::remoteDescription() const
{
    if (!m_remote || m_remote->nodeCount() == 0)
        return QString();
    if (m_remote->nodeCount() == 1)
        return tr("proxy at control endpoint %1").arg(m_remote->node(0)->endpoint());
    QStringList endpoints;
    for (int i = 0; i < m_remote->nodeCount(); ++i)
        endpoints.append(m_remote->node(i)->endpoint());
    return tr("%n nodes at control endpoints %1", nullptr, m_remote->nodeCount())
        .arg(endpoints.join(QStringLiteral(", ")));
}

void MainWindow::adoptPendingAttachment()
{
    std::unique_ptr<ClusterMonitor> remote = std::move(m_pendingRemote);
    remote->disconnect(this);
    m_pendingFailed.clear();
    // What was watched goes: a local proxy shuts down (the user agreed
    // before the attempt), an attachment ends.
    if (m_proxy) {
        stopLocalProxy();
    } else {
        unwatch();
        m_remote.reset();
    }
    m_remote = std::move(remote);
    watch(m_remote.get(), remoteDescription(), true);
    m_logPane->addLine(QStringLiteral("info"), QStringLiteral("monitor"), tr("attached to %1").arg(m_pendingEndpoint));
    statusBar()->clearMessage();
}

void MainWindow::dropPendingAttachment(const QString &detail)
{
    // Called from its own signal: deleted later, with the window as owner till then.
    ClusterMonitor *remote = m_pendingRemote.release();
    if (!remote)
        return;
    m_pendingFailed.clear();
    remote->disconnect(this);
    remote->setParent(this);
    remote->deleteLater();
    const QString text =
        tr("cannot attach to %1 (%2); still watching %3").arg(m_pendingEndpoint, detail, m_description);
    m_logPane->addLine(QStringLiteral("warning"), QStringLiteral("monitor"), text);
    statusBar()->showMessage(text, 10000);
}

void MainWindow::detach()
{
    m_pendingRemote.reset();
    m_pendingNodes.clear();
    if (m_proxy) {
        stopLocalProxy();
    } else {
        unwatch();
        m_remote.reset();
    }
    m_description.clear();
    m_detail.clear();
    updateStatus();
}

void MainWindow::watch(MonitorSource *source, const QString &description, bool connected)
{
    unwatch();
    m_source = source;
    m_description = description;
    m_connected = connected;
    m_detail.clear();
    m_lastInstance.clear();
    connect(source, &MonitorSource::sessionsChanged, this, &MainWindow::onSessionsChanged);
    connect(source, &MonitorSource::statsUpdated, this, &MainWindow::onStatsUpdated);
    connect(source, &MonitorSource::connectionChanged, this, &MainWindow::onConnectionChanged);
    m_nodeDetails.clear();
    if (auto *cluster = qobject_cast<ClusterMonitor *>(source)) {
        connect(cluster, &ClusterMonitor::nodeConnectionChanged, this, &MainWindow::onNodeConnectionChanged);
        connect(cluster, &ClusterMonitor::nodesChanged, this, [this] {
            m_description = remoteDescription();
            updateNodeViews();
            updateStatus();
        });
    }
    if (m_capture > 0)
        source->setCapture(m_capture);
    m_sessionModel->setSessions(source->sessions());
    m_inspector->setSource(source);
    m_logPane->setSource(source);
    m_rateChart->clear();
    m_backendPanel->clear();
    m_chartUpdated->clear();
    m_sessionsUpdated->clear();
    updateNodeViews();
    const MonitorStats stats = source->stats();
    if (stats.time.isValid())
        onStatsUpdated(stats);
    updateStatus();
    onSelectionChanged();
}

void MainWindow::unwatch()
{
    if (m_source)
        m_source->disconnect(this);
    m_inspector->setSource(nullptr);
    m_logPane->setSource(nullptr);
    m_source = nullptr;
    m_connected = false;
    m_sessionModel->clear();
    m_sessionsUpdated->clear();
}

void MainWindow::stopLocalProxy()
{
    unwatch();
    if (!m_proxy)
        return;
    m_retiring.reset();
    // Clients get a close frame, backends "disconnect"; the proxy stays
    // until those left (or shutdown_timeout_ms passed), as the CLI does at exit.
    m_retiring = std::move(m_proxy);
    connect(m_retiring.get(), &ProxyInstance::stopped, this, &MainWindow::onLocalProxyStopped);
    m_retiring->shutdown();
}

void MainWindow::onLocalProxyStopped()
{
    // Not deleted inside its own signal; parented so that it goes with the
    // window should the event loop end first.
    ProxyInstance *retired = m_retiring.release();
    retired->setParent(this);
    retired->deleteLater();
    if (m_closeWhenDrained)
        close();
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    if (m_proxy && !confirmStopLocalProxy(tr("Quitting"))) {
        event->ignore();
        return;
    }
    if (m_proxy) {
        m_closeWhenDrained = true;
        stopLocalProxy();
        m_detail = tr("shutting down\u2026");
        updateStatus();
    } else if (m_retiring && m_closeWhenDrained) {
        // Asked to quit a second time: the drain ends at once.
        m_closeWhenDrained = false;
        m_retiring->shutdown(); // stopped(): m_retiring is let go
    }
    if (m_retiring) {
        m_closeWhenDrained = true;
        event->ignore();
        return;
    }
    QMainWindow::closeEvent(event);
}

void MainWindow::onSessionsChanged(const QList<SessionInfo> &upserted, const QList<QByteArray> &removed)
{
    m_sessionModel->applyChanges(upserted, removed);
    // A remote source that lost its proxy (every node of a cluster) empties
    // the list: no new figures.
    const auto *remote = qobject_cast<const RemoteMonitor *>(m_source.data());
    const auto *cluster = qobject_cast<const ClusterMonitor *>(m_source.data());
    if ((!remote || remote->isConnected()) && (!cluster || cluster->isConnected()))
        m_sessionsUpdated->setUpdated();
    const QByteArray inspected = m_inspector->session();
    if (!inspected.isEmpty()) {
        const int row = m_sessionModel->rowOf(inspected);
        if (row < 0 || m_sessionModel->sessionAt(row).state == QLatin1String("closed"))
            m_inspector->markClosed();
    }
    updateCountLabel();
}

void MainWindow::onInstanceSeen(const MonitorStats &stats)
{
    if (stats.instance.isEmpty())
        return;
    if (!m_lastInstance.isEmpty() && stats.instance != m_lastInstance) {
        // The same endpoint, another process (or another start): its
        // sessions and counters begin anew.
        const QDateTime started = stats.startedAt.isValid() ? stats.startedAt : stats.time;
        m_rateChart->addMarker(started.toMSecsSinceEpoch(),
                               stats.pid > 0 ? tr("new process (pid %1)").arg(stats.pid) : tr("new process"));
        m_logPane->addLine(QStringLiteral("warning"), QStringLiteral("monitor"),
                           tr("a new proxy process behind %1: pid %2, started %3; sessions and counters of the "
                              "previous one are gone")
                               .arg(m_description)
                               .arg(stats.pid)
                               .arg(started.toLocalTime().toString(QStringLiteral("HH:mm:ss"))));
    }
    m_lastInstance = stats.instance;
}

void MainWindow::onStatsUpdated(const MonitorStats &stats)
{
    onInstanceSeen(stats);
    m_rateChart->addSample(stats);
    m_backendPanel->setStats(stats);
    m_chartUpdated->setUpdated(stats.time);
    // Sources publish only session changes, scanned a few times a second on
    // the proxy's event loop: a stats update says that loop is alive and the
    // list current to within a scan.
    m_sessionsUpdated->setUpdated();
    updateNodeViews();
    QStringList prefixes;
    for (const ServiceStats &service : stats.services)
        prefixes.append(service.prefix);
    if (prefixes != m_servicePrefixes)
        updateServiceCombos(prefixes);
}

void MainWindow::updateServiceCombos(const QStringList &prefixes)
{
    m_servicePrefixes = prefixes;
    for (QComboBox *combo : {m_serviceCombo, m_chartServiceCombo}) {
        const QString current = combo->currentData().toString();
        const QSignalBlocker blocker(combo);
        while (combo->count() > 1)
            combo->removeItem(1);
        for (const QString &prefix : prefixes)
            combo->addItem(prefix, prefix);
        const int index = combo->findData(current);
        combo->setCurrentIndex(index < 0 ? 0 : index);
    }
    // The combos' signals were blocked: apply what they show now.
    m_sessionFilter->setServiceFilter(m_serviceCombo->currentData().toString());
    m_rateChart->setService(m_chartServiceCombo->currentData().toString());
}

void MainWindow::onConnectionChanged(bool connected, const QString &detail)
{
    QString shown = detail;
    if (!connected) {
        // Nothing shown may claim to be live any more.
        m_backendPanel->setStale(true);
        m_rateChart->setStale(true);
        m_chartUpdated->setStale(true);
        m_sessionsUpdated->setStale(true);
        if (m_remote && m_remote->isUnauthorized())
            shown = tr("%1; not retrying: File > Attach\u2026 with the right token, or File > Reconnect").arg(detail);
        else if (m_remote && m_remote->isRetryPending())
            shown = tr("%1, retrying in %2 s").arg(detail).arg((m_remote->currentRetryDelayMs() + 999) / 1000);
    }
    if (connected != m_connected || !connected)
        m_logPane->addLine(connected ? QStringLiteral("info") : QStringLiteral("warning"), QStringLiteral("monitor"),
                           connected ? tr("attached to %1").arg(detail) : shown);
    m_connected = connected;
    m_detail = connected ? QString() : shown;
    if (connected)
        m_inspector->reinspect(); // the proxy forgets inspections with the connection
    updateStatus();
}

void MainWindow::onNodeConnectionChanged(const QString &endpoint, bool connected, const QString &detail)
{
    if (connected)
        m_nodeDetails.remove(endpoint);
    else
        m_nodeDetails.insert(endpoint, detail);
    if (m_remote && m_remote->nodeCount() > 1) {
        // The window's own line (onConnectionChanged) is for all of them.
        const RemoteMonitor *node = m_remote->nodeAt(endpoint);
        const QString name = node ? m_remote->nodeName(node) : endpoint;
        m_logPane->addLine(connected ? QStringLiteral("info") : QStringLiteral("warning"), QStringLiteral("monitor"),
                           connected ? tr("node %1 attached (%2)").arg(name, endpoint)
                                     : tr("node %1 (%2): %3").arg(name, endpoint, detail));
        if (connected)
            m_inspector->reinspect(); // that node forgot its inspections with the connection
    }
    updateNodeViews();
    updateStatus();
}

void MainWindow::updateNodeViews()
{
    const auto *cluster = qobject_cast<const ClusterMonitor *>(m_source.data());
    bool several = false;
    if (cluster)
        several = cluster->nodeCount() > 1 || (cluster->nodeCount() == 1 && !cluster->node(0)->stats().node.isEmpty());
    else if (m_source)
        several = !m_source->stats().node.isEmpty(); // a local cluster node
    m_sessionsView->setColumnHidden(SessionTableModel::NodeColumn, !several);
    if (!several || !cluster) {
        if (m_backendPanel->showsNodes())
            m_backendPanel->setNodes({});
        return;
    }
    QList<BackendPanel::Node> nodes;
    for (int i = 0; i < cluster->nodeCount(); ++i) {
        const RemoteMonitor *remote = cluster->node(i);
        BackendPanel::Node node;
        node.name = cluster->nodeName(remote);
        node.connected = remote->isConnected();
        node.detail = m_nodeDetails.value(remote->endpoint());
        node.stats = remote->stats();
        nodes.append(node);
    }
    m_backendPanel->setNodes(nodes);
}

QList<QByteArray> MainWindow::selectedSessionIds() const
{
    QList<QByteArray> ids;
    const QModelIndexList rows = m_sessionsView->selectionModel()->selectedRows();
    QList<int> viewRows;
    for (const QModelIndex &index : rows)
        viewRows.append(index.row());
    std::sort(viewRows.begin(), viewRows.end());
    for (const int row : std::as_const(viewRows))
        ids.append(m_sessionFilter->index(row, 0).data(SessionTableModel::IdRole).toByteArray());
    return ids;
}

void MainWindow::onSelectionChanged()
{
    const QModelIndexList rows = m_sessionsView->selectionModel()->selectedRows();
    const bool any = !rows.isEmpty() && m_source;
    m_disconnectAction->setEnabled(any);
    m_copyIdAction->setEnabled(!rows.isEmpty());
    m_sendAction->setEnabled(rows.size() == 1 && m_source);
    m_clearCountersAction->setEnabled(m_source != nullptr);
    m_detachAction->setEnabled(m_source != nullptr || m_proxy != nullptr);
    if (rows.isEmpty())
        return; // the inspector keeps the last session

    // Inspect the current row when it is selected, else the first selected.
    QModelIndex chosen = rows.first();
    const QModelIndex current = m_sessionsView->selectionModel()->currentIndex();
    if (current.isValid() && m_sessionsView->selectionModel()->isRowSelected(current.row(), QModelIndex()))
        chosen = current.siblingAtColumn(0);
    const int sourceRow = m_sessionFilter->mapToSource(chosen).row();
    if (sourceRow < 0)
        return;
    const SessionInfo &session = m_sessionModel->sessionAt(sourceRow);
    const QString remote = m_sessionModel->index(sourceRow, SessionTableModel::RemoteColumn).data().toString();
    m_inspector->setSession(
        session.id, QStringLiteral("%1, %2, %3").arg(session.service, QString::fromLatin1(session.transport), remote));
}

void MainWindow::onSessionsContextMenu(const QPoint &position)
{
    if (!m_sessionsView->indexAt(position).isValid())
        return;
    QMenu menu(this);
    menu.addAction(m_disconnectAction);
    menu.addAction(m_sendAction);
    menu.addAction(m_copyIdAction);
    menu.exec(m_sessionsView->viewport()->mapToGlobal(position));
}

void MainWindow::disconnectSelected()
{
    const QList<QByteArray> ids = selectedSessionIds();
    if (!m_source || ids.isEmpty())
        return;
    if (ids.size() > 1) {
        QMessageBox box(QMessageBox::Question, tr("Disconnect sessions?"),
                        tr("Close the %1 selected sessions? Their clients get c[3000,\"Go away!\"].").arg(ids.size()),
                        QMessageBox::NoButton, this);
        box.setObjectName(QStringLiteral("disconnectConfirmation"));
        QPushButton *yes = box.addButton(tr("Disconnect %1 sessions").arg(ids.size()), QMessageBox::DestructiveRole);
        box.setDefaultButton(box.addButton(QMessageBox::Cancel));
        box.exec();
        if (box.clickedButton() != yes || !m_source)
            return;
    }
    m_source->disconnectSessions(ids);
    statusBar()->showMessage(tr("Disconnect sent for %n session(s)", nullptr, int(ids.size())), 4000);
}

void MainWindow::sendToSelected()
{
    const QList<QByteArray> ids = selectedSessionIds();
    if (!m_source || ids.size() != 1)
        return;
    bool ok = false;
    const QString text = QInputDialog::getText(this, tr("Send message"),
                                               tr("Message to session %1:").arg(QString::fromLatin1(ids.first())),
                                               QLineEdit::Normal, QString(), &ok);
    if (!ok || !m_source)
        return;
    m_source->sendToSession(ids.first(), text.toUtf8());
}

void MainWindow::clearCounters()
{
    if (m_source)
        m_source->clearCounters();
}

void MainWindow::updateStatus()
{
    QString color;
    QString state;
    if (!m_source) {
        color = QStringLiteral("#808080");
        state = tr("not watching any proxy");
    } else if (m_connected) {
        color = QStringLiteral("#1a8f3c");
        state = tr("connected");
    } else {
        color = QStringLiteral("#c01c28");
        state = tr("disconnected");
    }
    QString text = QStringLiteral("<span style=\"color:%1\">\u25CF</span> <b>%2</b>").arg(color, state.toHtmlEscaped());
    if (!m_description.isEmpty())
        text += QStringLiteral(" \u2014 ") + m_description.toHtmlEscaped();
    if (!m_detail.isEmpty())
        text += QStringLiteral(" (") + m_detail.toHtmlEscaped() + QLatin1Char(')');
    m_statusLabel->setText(text);

    // The platform adds the application's display name ("SockJSProxy Monitor").
    setWindowTitle(m_source ? m_description + QStringLiteral(" [") + state + QLatin1Char(']') : state);
    m_detachAction->setEnabled(m_source != nullptr || m_proxy != nullptr);
    bool allAttached = true;
    for (int i = 0; m_remote && i < m_remote->nodeCount(); ++i)
        allAttached = allAttached && m_remote->node(i)->isConnected();
    m_reconnectAction->setEnabled(m_remote != nullptr && (!m_connected || !allAttached));
}

void MainWindow::updateCountLabel()
{
    const int total = m_sessionModel->rowCount();
    const int shown = m_sessionFilter->rowCount();
    m_countLabel->setText(shown == total ? tr("%n session(s)", nullptr, total)
                                         : tr("%1 of %n session(s) shown", nullptr, total).arg(shown));
}

void MainWindow::showStartDialog()
{
    StartProxyDialog dialog(this);
    dialog.setArguments(m_lastStartArguments);
    if (dialog.exec() != QDialog::Accepted || !confirmStopLocalProxy(tr("Starting another proxy")))
        return;
    m_lastStartArguments = dialog.arguments();
    QString error;
    if (!startLocalProxy(dialog.result(), &error)) {
        QMessageBox::warning(this, tr("Cannot start the proxy"), error);
    }
}

void MainWindow::showAttachDialog()
{
    AttachDialog dialog(this);
    dialog.setEndpoint(m_lastAttachEndpoint);
    // Another node beside the attached ones, or instead of what is watched.
    dialog.setAddNodeAvailable(m_remote && m_source == m_remote.get());
    if (dialog.exec() != QDialog::Accepted)
        return;
    const QStringList endpoints = dialog.endpoints();
    if (dialog.addNode() && m_remote && m_source == m_remote.get()) {
        for (const QString &endpoint : endpoints)
            addNode(endpoint, dialog.token());
        return;
    }
    if (!confirmStopLocalProxy(tr("Attaching to another proxy")))
        return;
    attach(endpoints, dialog.token());
}

} // namespace SockJsProxy
