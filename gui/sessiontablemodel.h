#pragma once

#include "metrics/monitortypes.h"

#include <QAbstractTableModel>
#include <QHash>
#include <QList>

namespace SockJsProxy {

// The session table: one row per session, in arrival order (sorting is the
// proxy model's job). Fed by MonitorSource::sessionsChanged through
// applyChanges(), which updates rows in place (dataChanged only for rows that
// differ), inserts new ones at the end and removes gone ones; the model is
// reset only by setSessions() (a new source). Keeps an id -> row index.
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
        OpenedAtColumn,
        LastActivityColumn,
        OriginColumn,
        UserAgentColumn,
        ColumnCount
    };
    enum Role {
        SortRole = Qt::UserRole + 1, // numbers and times as such, text otherwise
        IdRole,                      // QByteArray session id (any column)
    };

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

    int rowOf(const QByteArray &id) const { return m_rowById.value(id, -1); }
    const SessionInfo &sessionAt(int row) const { return m_sessions.at(row); }
    QByteArray idAt(int row) const { return m_sessions.at(row).id; }

    static QString formatBytes(quint64 bytes);

private:
    QVariant displayData(const SessionInfo &session, int column) const;
    QVariant sortData(const SessionInfo &session, int column) const;
    void reindexFrom(int row);

    QList<SessionInfo> m_sessions;
    QHash<QByteArray, int> m_rowById;
};

} // namespace SockJsProxy
