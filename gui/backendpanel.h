#pragma once

#include "metrics/monitortypes.h"
#include "updatedlabel.h"

#include <QHash>
#include <QWidget>

class QLabel;
class QTableWidget;

namespace SockJsProxy {

// Backends and counters: per service the bound "in"/"out" endpoints, whether
// a backend is connected (peers on both sockets: green; on one: amber; none:
// red), events queued for a backend and drops; below, the counters of
// MonitorStats. Updated in place from statsUpdated (once a second); a line
// at the bottom says when. setStale(true) (the proxy is gone) shows every
// figure as a grey dash until the next setStats().
//
// Watching several proxies (the nodes of a cluster), setNodes() makes the
// table one row per node and service, with a Node column, and fills the
// peers table: each cluster node's peers, up or down, and the backend
// messages forwarded to each or dropped for it. A node gone has its rows
// greyed ("node gone"); the others stay live. The counters are whatever
// setStats() was given (the totals over the nodes).
class BackendPanel : public QWidget
{
    Q_OBJECT

public:
    enum Column {
        ServiceColumn,
        BackendColumn,
        InColumn,
        OutColumn,
        SessionsColumn,
        QueuedColumn,
        DroppedColumn,
        NodeColumn, // shown first, with setNodes() only
        ColumnCount
    };
    enum PeerColumn { PeerNodeColumn, PeerColumn, PeerStateColumn, PeerForwardedColumn, PeerDroppedColumn };

    // One watched proxy, for setNodes().
    struct Node
    {
        QString name; // its cluster node name, or its endpoint
        bool connected = false;
        QString detail;     // why not, when not connected
        MonitorStats stats; // its last (time invalid: none yet)
    };

    explicit BackendPanel(QWidget *parent = nullptr);

    void setStats(const SockJsProxy::MonitorStats &stats);
    // Several nodes: per-node backends and peers (empty: back to one proxy).
    void setNodes(const QList<SockJsProxy::BackendPanel::Node> &nodes);
    bool showsNodes() const { return !m_nodes.isEmpty(); }
    QTableWidget *peersTable() const { return m_peers; }
    void clear();
    void setStale(bool stale);
    bool isStale() const { return m_stale; }
    // "updated 12:00:01" or, once stale, what is known of the outage.
    UpdatedLabel *updatedLabel() const { return m_updated; }

    QTableWidget *servicesTable() const { return m_services; }
    // The value label of "sessionsOpen", "rates" or a counter (its JSON key:
    // "messages_in", ...), for tests.
    QLabel *counterLabel(const QString &name) const { return m_counters.value(name); }

    // "connected", "in only", "out only", "no backend" or "unknown".
    static QString backendState(const BackendStatus &status);

private:
    void setCell(int row, int column, const QString &text, const QString &toolTip = QString());
    void fillServiceRow(int row, const ServiceStats &service);
    void greyRow(QTableWidget *table, int row);
    void fillNodeRows();

    QTableWidget *m_services;
    QTableWidget *m_peers;
    QList<Node> m_nodes;
    QHash<QString, QLabel *> m_counters;
    UpdatedLabel *m_updated;
    bool m_stale = false;
};

} // namespace SockJsProxy
