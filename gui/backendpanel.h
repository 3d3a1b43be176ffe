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
        ColumnCount
    };

    explicit BackendPanel(QWidget *parent = nullptr);

    void setStats(const SockJsProxy::MonitorStats &stats);
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

    QTableWidget *m_services;
    QHash<QString, QLabel *> m_counters;
    UpdatedLabel *m_updated;
    bool m_stale = false;
};

} // namespace SockJsProxy
