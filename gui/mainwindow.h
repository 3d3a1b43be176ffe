#pragma once

#include "config/commandline.h"
#include "control/clustermonitor.h" // remoteMonitor() callers use it
#include "metrics/monitorsource.h"

#include <QHash>
#include <QMainWindow>
#include <QPointer>
#include <QSet>

#include <functional>
#include <memory>
#include <vector>

class QAction;
class QComboBox;
class QLabel;
class QLineEdit;
class QMenu;
class QTableView;

namespace SockJsProxy {

class BackendPanel;
class InspectorWidget;
class LogPane;
class ProxyInstance;
class RateChart;
class RemoteMonitor;
class Server;
class SessionFilterModel;
class SessionTableModel;
class UpdatedLabel;

// The monitor's window: sessions table (central), rates, backends and log
// (right docks), message inspector (bottom dock).
//
// It watches one MonitorSource at a time: a proxy it starts in this process
// (startLocalProxy(): owns a ProxyInstance with its Monitor), running CLIs
// it attaches to (attach(), addNode(): owns a ClusterMonitor of one
// RemoteMonitor per endpoint), or a source owned by the caller (setSource(),
// for tests).
// Several nodes (or one cluster node): the sessions table shows a Node
// column, the backends panel a row per node and service and each node's
// peers; counters and chart show the totals. A node that goes away has its
// sessions go and its rows greyed; the other nodes stay live.
// It never touches sessions: actions send ids to the source.
//
// Safety: the actions that would stop a local proxy with live sessions
// (Start, Attach, Detach, Quit) ask first, naming how many sessions close;
// a refusal keeps it running. A new start or attachment replaces what is
// watched only once it has succeeded (an attachment: once connected).
// Truth: each panel says when its figures were last updated (the sessions
// list, the chart, the backends and counters); when an attached proxy goes
// away, every panel says so (greyed, dashes, a gap in the chart, "proxy
// gone; last figures at ..."); a new process behind the endpoint is marked
// on the chart and in the log.
class MainWindow : public QMainWindow
{
    Q_OBJECT

public:
    explicit MainWindow(QWidget *parent = nullptr);
    ~MainWindow() override;

    // Watches a source the caller owns (and keeps alive while watched).
    void setSource(SockJsProxy::MonitorSource *source, const QString &description);
    // Starts a proxy in this process; on failure *error says why and nothing is watched.
    bool startLocalProxy(const CommandLine::Result &options, QString *error);
    // Attaches to a running sockjsproxy-cli --control endpoint ([HOST:]PORT).
    // While something is watched, that stays until the new endpoint has
    // connected; if it cannot, the attempt is dropped and logged.
    void attach(const QString &endpoint, const QByteArray &token);
    // Attaches to several endpoints at once (the nodes of a cluster): what
    // is watched stays until one of them has connected, and is dropped when
    // every one failed.
    void attach(const QStringList &endpoints, const QByteArray &token);
    // Watches one more node beside the attached ones, once it has connected
    // (if it cannot, the attempt is dropped and logged). Without an
    // attachment, the same as attach().
    void addNode(const QString &endpoint, const QByteArray &token);
    // The attachment waiting to replace what is watched, if any.
    ClusterMonitor *pendingAttachment() const { return m_pendingRemote.get(); }
    // Nodes waiting to join the attached ones.
    int pendingNodeCount() const { return int(m_pendingNodes.size()); }
    ClusterMonitor *remoteMonitor() const { return m_remote.get(); }
    // Live sessions of a local proxy (0 without one): what stopping it closes.
    qsizetype localSessionCount() const;
    // Asks whether to stop the local proxy (its live sessions close) before
    // action ("Starting another proxy", ...); true without one or without
    // live sessions, or when the user agrees.
    bool confirmStopLocalProxy(const QString &action);
    // Stops watching; a local proxy is shut down (sessions get a close frame).
    void detach();

    MonitorSource *source() const { return m_source; }
    Server *localServer() const;
    bool isConnected() const { return m_connected; }
    QString description() const { return m_description; }

    SessionTableModel *sessionModel() const { return m_sessionModel; }
    SessionFilterModel *sessionFilter() const { return m_sessionFilter; }
    QTableView *sessionsView() const { return m_sessionsView; }
    InspectorWidget *inspector() const { return m_inspector; }
    RateChart *rateChart() const { return m_rateChart; }
    BackendPanel *backendPanel() const { return m_backendPanel; }
    LogPane *logPane() const { return m_logPane; }
    QComboBox *serviceFilterCombo() const { return m_serviceCombo; }
    QComboBox *transportFilterCombo() const { return m_transportCombo; }
    QLineEdit *textFilterEdit() const { return m_filterEdit; }
    QAction *disconnectAction() const { return m_disconnectAction; }
    QAction *sendAction() const { return m_sendAction; }
    QAction *clearCountersAction() const { return m_clearCountersAction; }
    QAction *detachAction() const { return m_detachAction; }
    QAction *reconnectAction() const { return m_reconnectAction; }
    QLabel *statusLabel() const { return m_statusLabel; }
    // "updated 12:03:04" over the sessions list and the chart.
    UpdatedLabel *sessionsUpdatedLabel() const { return m_sessionsUpdated; }
    UpdatedLabel *chartUpdatedLabel() const { return m_chartUpdated; }

    // Ids of the selected rows, in view order.
    QList<QByteArray> selectedSessionIds() const;

    // The application icon (SVG when Qt can render it, PNGs otherwise).
    static QIcon appIcon();

    // What the actions do (the source gets ids; it closes the sessions).
    void disconnectSelected();
    void sendToSelected();
    void clearCounters();

protected:
    void closeEvent(QCloseEvent *event) override;

private:
    void createActions();
    // A submenu of parent with one checkable action per choice (its text
    // untranslated, as QT_TR_NOOP marks it), the one equal to current
    // checked; choosing one calls onChosen with its value.
    struct Choice
    {
        int value;
        const char *text;
    };
    void addChoiceMenu(QMenu *parent, const QString &title, const QString &objectName, const QList<Choice> &choices,
                       int current, const std::function<void(int)> &onChosen);
    void createViews();
    void watch(MonitorSource *source, const QString &description, bool connected);
    void unwatch();
    void stopLocalProxy();
    void onLocalProxyStopped();
    void onSessionsChanged(const QList<SockJsProxy::SessionInfo> &upserted, const QList<QByteArray> &removed);
    void onStatsUpdated(const SockJsProxy::MonitorStats &stats);
    void onConnectionChanged(bool connected, const QString &detail);
    void onSelectionChanged();
    void onSessionsContextMenu(const QPoint &position);
    void updateServiceCombos(const QStringList &prefixes);
    void updateStatus();
    void updateCountLabel();
    void showStartDialog();
    void showAttachDialog();
    void adoptPendingAttachment();
    void dropPendingAttachment(const QString &detail);
    void onInstanceSeen(const SockJsProxy::MonitorStats &stats);
    void onNodeConnectionChanged(const QString &endpoint, bool connected, const QString &detail);
    void onPendingNodeConnection(RemoteMonitor *remote, bool connected, const QString &detail);
    // Several nodes (or a cluster node): Node columns and per-node panels.
    void updateNodeViews();
    QString remoteDescription() const;
    // Owned sources.
    std::unique_ptr<ProxyInstance> m_proxy;
    std::unique_ptr<ClusterMonitor> m_remote;
    // An attachment that replaces m_remote/m_proxy once connected.
    std::unique_ptr<ClusterMonitor> m_pendingRemote;
    QString m_pendingEndpoint;
    QSet<QString> m_pendingFailed; // its endpoints that failed so far
    // A node that joins m_remote once connected.
    std::vector<std::unique_ptr<RemoteMonitor>> m_pendingNodes;
    QHash<QString, QString> m_nodeDetails; // why a node is not attached, by endpoint
    QByteArray m_lastInstance;             // MonitorStats::instance of the last stats
    // A local proxy shutting down: kept until backends got their "disconnect".
    std::unique_ptr<ProxyInstance> m_retiring;
    bool m_closeWhenDrained = false;

    QPointer<MonitorSource> m_source;
    QString m_description;
    int m_capture = 0; // View > Capture: every session's last messages, 0 = off
    QString m_detail;
    bool m_connected = false;
    QStringList m_servicePrefixes;
    QString m_lastAttachEndpoint;
    QString m_lastStartArguments;

    SessionTableModel *m_sessionModel = nullptr;
    SessionFilterModel *m_sessionFilter = nullptr;
    QTableView *m_sessionsView = nullptr;
    QComboBox *m_serviceCombo = nullptr;
    QComboBox *m_transportCombo = nullptr;
    QLineEdit *m_filterEdit = nullptr;
    QComboBox *m_chartServiceCombo = nullptr;
    RateChart *m_rateChart = nullptr;
    BackendPanel *m_backendPanel = nullptr;
    InspectorWidget *m_inspector = nullptr;
    LogPane *m_logPane = nullptr;
    QLabel *m_statusLabel = nullptr;
    QLabel *m_countLabel = nullptr;
    UpdatedLabel *m_sessionsUpdated = nullptr;
    UpdatedLabel *m_chartUpdated = nullptr;

    QAction *m_startAction = nullptr;
    QAction *m_attachAction = nullptr;
    QAction *m_detachAction = nullptr;
    QAction *m_reconnectAction = nullptr;
    QAction *m_quitAction = nullptr;
    QAction *m_disconnectAction = nullptr;
    QAction *m_sendAction = nullptr;
    QAction *m_clearCountersAction = nullptr;
    QAction *m_copyIdAction = nullptr;
};

} // namespace SockJsProxy
