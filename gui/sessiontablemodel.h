#pragma once

#include "metrics/monitortypes.h"

#include <QAbstractTableModel>
#include <QBasicTimer>
#include <QHash>
#include <QList>

namespace SockJsProxy {

// The session table: one row per session, in arrival order (sorting is the
// proxy model's job). Fed by MonitorSource::sessionsChanged through
// applyChanges(), which updates rows in place (dataChanged only for rows that
// differ), inserts new ones at the end and removes gone ones; the model is
// reset only by setSessions() (a new source). Keeps an id -> row index.
//
// A session removed in the state "closed" stays closedLinger() ms (greyed,
// with its close code, reason and who closed) before its row goes; 0
// removes it at once. Age and Idle are counted from the clock: a timer
// refreshes them (and drops expired closed rows) every second.
class SessionTableModel : public QAbstractTableModel
{
    Q_OBJECT

public:
    // The busy columns first, so they stay in view; origin and user agent last.
    enum Column {
        IdColumn,
        ServiceColumn,
        TransportColumn,
        RemoteColumn,
        StateColumn,
        MessagesInColumn,
        MessagesOutColumn,
        BytesInColumn,
        BytesOutColumn,
        QueuedColumn,
        AgeColumn,  // since opened (until closed, for a closed one)
        IdleColumn, // since the last message either way
        OpenedAtColumn,
        LastActivityColumn,
        OriginColumn,
        UserAgentColumn,
        NodeColumn, // the cluster node holding it (SessionInfo::node); the window shows it only for several nodes
        ColumnCount
    };
    enum Role {
        SortRole = Qt::UserRole + 1, // numbers and times as such, text otherwise
        IdRole,                      // QByteArray session id (any column)
    };

    static constexpr int kDefaultClosedLingerMs = 30000;

    explicit SessionTableModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = QModelIndex()) const override;
    int columnCount(const QModelIndex &parent = QModelIndex()) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    // Replaces everything (model reset): for a new source's first snapshot.
    void setSessions(const QList<SockJsProxy::SessionInfo> &sessions);
    // Incremental update; never resets.
    void applyChanges(const QList<SockJsProxy::SessionInfo> &upserted, const QList<QByteArray> &removed);
    void clear();
    void setClosedLinger(int ms) { m_lingerMs = qMax(0, ms); }
    int closedLinger() const { return m_lingerMs; }
    // Drops closed rows whose time is over at nowMs and refreshes Age and Idle.
    void tick(qint64 nowMs);
    bool isLingering(const QByteArray &id) const { return m_removeAt.contains(id); }

    int rowOf(const QByteArray &id) const { return m_rowById.value(id, -1); }
    const SessionInfo &sessionAt(int row) const { return m_sessions.at(row); }
    QByteArray idAt(int row) const { return m_sessions.at(row).id; }

    static QString formatBytes(quint64 bytes);
    static QString formatDuration(qint64 ms); // "42 s", "3 min 04 s", "2 h 05 min"
    // Digits runs compare as numbers: "a-9" < "a-10".
    static QString naturalKey(const QString &text);

protected:
    void timerEvent(QTimerEvent *event) override;

private:
    QVariant displayData(const SessionInfo &session, int column) const;
    QVariant sortData(const SessionInfo &session, int column) const;
    void reindexFrom(int row);
    void dropRows(QList<int> rows);
    qint64 ageMs(const SessionInfo &session) const;
    qint64 idleMs(const SessionInfo &session) const;

    QList<SessionInfo> m_sessions;
    QHash<QByteArray, int> m_rowById;
    QHash<QByteArray, qint64> m_removeAt; // closed rows kept: when they go (ms since the epoch)
    int m_lingerMs = kDefaultClosedLingerMs;
    QBasicTimer m_tick;
};

} // namespace SockJsProxy
