#include "sessiontablemodel.h"

#include <QBrush>
#include <QColor>
#include <QLocale>
#include <QSet>

#include <algorithm>

namespace SockJsProxy {

SessionTableModel::SessionTableModel(QObject *parent) : QAbstractTableModel(parent) {}

int SessionTableModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_sessions.size());
}

int SessionTableModel::columnCount(const QModelIndex &parent) const { return parent.isValid() ? 0 : ColumnCount; }

QString SessionTableModel::formatBytes(quint64 bytes)
{
    if (bytes < 1024)
        return QStringLiteral("%1 B").arg(bytes);
    const double kb = double(bytes) / 1024.0;
    if (kb < 1024.0)
        return QStringLiteral("%1 KiB").arg(kb, 0, 'f', 1);
    const double mb = kb / 1024.0;
    if (mb < 1024.0)
        return QStringLiteral("%1 MiB").arg(mb, 0, 'f', 1);
    return QStringLiteral("%1 GiB").arg(mb / 1024.0, 0, 'f', 2);
}

namespace {
QString formatTime(const QDateTime &time)
{
    return time.isValid() ? time.toLocalTime().toString(QStringLiteral("HH:mm:ss")) : QString();
}
} // namespace

QVariant SessionTableModel::displayData(const SessionInfo &s, int column) const
{
    switch (column) {
    case IdColumn:
        return QString::fromLatin1(s.id);
    case ServiceColumn:
        return s.service;
    case TransportColumn:
        return QString::fromLatin1(s.transport);
    case RemoteColumn: {
        if (s.remoteAddress.isEmpty())
            return QString();
        // IPv6 addresses in brackets, so the port stays readable; no port
        // when a load balancer did not pass it on, and the balancer after.
        QString text = s.remotePort == 0 ? s.remoteAddress
                       : s.remoteAddress.contains(QLatin1Char(':'))
                           ? QStringLiteral("[%1]:%2").arg(s.remoteAddress).arg(s.remotePort)
                           : QStringLiteral("%1:%2").arg(s.remoteAddress).arg(s.remotePort);
        if (!s.via.isEmpty())
            text += tr(" via %1").arg(s.via);
        return text;
    }
    case OriginColumn:
        return s.origin;
    case UserAgentColumn:
        return s.userAgent;
    case StateColumn:
        return s.state;
    case OpenedAtColumn:
        return formatTime(s.openedAt);
    case LastActivityColumn:
        return formatTime(s.lastActivity);
    case MessagesInColumn:
        return QLocale().toString(s.messagesIn);
    case MessagesOutColumn:
        return QLocale().toString(s.messagesOut);
    case BytesInColumn:
        return formatBytes(s.bytesIn);
    case BytesOutColumn:
        return formatBytes(s.bytesOut);
    case QueuedColumn:
        return QLocale().toString(qlonglong(s.queued));
    default:
        return QVariant();
    }
}

QVariant SessionTableModel::sortData(const SessionInfo &s, int column) const
{
    switch (column) {
    case RemoteColumn:
        return QStringLiteral("%1:%2").arg(s.remoteAddress).arg(s.remotePort, 5, 10, QLatin1Char('0'));
    case OpenedAtColumn:
        return s.openedAt;
    case LastActivityColumn:
        return s.lastActivity;
    case MessagesInColumn:
        return qulonglong(s.messagesIn);
    case MessagesOutColumn:
        return qulonglong(s.messagesOut);
    case BytesInColumn:
        return qulonglong(s.bytesIn);
    case BytesOutColumn:
        return qulonglong(s.bytesOut);
    case QueuedColumn:
        return qlonglong(s.queued);
    default:
        return displayData(s, column);
    }
}

QVariant SessionTableModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return QVariant();
    const SessionInfo &s = m_sessions.at(index.row());
    const int column = index.column();
    switch (role) {
    case Qt::DisplayRole:
        return displayData(s, column);
    case SortRole:
        return sortData(s, column);
    case IdRole:
        return s.id;
    case Qt::ToolTipRole:
        if (column == UserAgentColumn || column == OriginColumn)
            return displayData(s, column);
        if (column == OpenedAtColumn || column == LastActivityColumn) {
            const QDateTime &time = column == OpenedAtColumn ? s.openedAt : s.lastActivity;
            return time.isValid() ? time.toLocalTime().toString(Qt::ISODateWithMs) : QString();
        }
        if (column == BytesInColumn || column == BytesOutColumn)
            return QLocale().toString(column == BytesInColumn ? s.bytesIn : s.bytesOut) + QStringLiteral(" bytes");
        return QVariant();
    case Qt::TextAlignmentRole:
        if (column >= MessagesInColumn && column <= QueuedColumn)
            return QVariant(Qt::AlignRight | Qt::AlignVCenter);
        return QVariant();
    case Qt::ForegroundRole:
        if (column == StateColumn) {
            if (s.state == QLatin1String("open"))
                return QBrush(QColor(0x1a, 0x7f, 0x37));
            if (s.state == QLatin1String("closed"))
                return QBrush(QColor(0xb0, 0x30, 0x30));
            return QBrush(QColor(0x80, 0x80, 0x80));
        }
        if (column == QueuedColumn && s.queued > 0)
            return QBrush(QColor(0xb0, 0x60, 0x00));
        return QVariant();
    default:
        return QVariant();
    }
}

QVariant SessionTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case IdColumn:
        return tr("Id");
    case ServiceColumn:
        return tr("Service");
    case TransportColumn:
        return tr("Transport");
    case RemoteColumn:
        return tr("Remote address");
    case OriginColumn:
        return tr("Origin");
    case UserAgentColumn:
        return tr("User agent");
    case StateColumn:
        return tr("State");
    case OpenedAtColumn:
        return tr("Opened");
    case LastActivityColumn:
        return tr("Last activity");
    case MessagesInColumn:
        return tr("Msgs in");
    case MessagesOutColumn:
        return tr("Msgs out");
    case BytesInColumn:
        return tr("Bytes in");
    case BytesOutColumn:
        return tr("Bytes out");
    case QueuedColumn:
        return tr("Queued");
    default:
        return QVariant();
    }
}

void SessionTableModel::setSessions(const QList<SessionInfo> &sessions)
{
    beginResetModel();
    m_sessions.clear();
    m_rowById.clear();
    for (const SessionInfo &session : sessions) {
        if (m_rowById.contains(session.id))
            continue;
        m_rowById.insert(session.id, int(m_sessions.size()));
        m_sessions.append(session);
    }
    endResetModel();
}

void SessionTableModel::clear() { setSessions({}); }

void SessionTableModel::reindexFrom(int row)
{
    for (int i = row; i < m_sessions.size(); ++i)
        m_rowById[m_sessions.at(i).id] = i;
}

void SessionTableModel::applyChanges(const QList<SessionInfo> &upserted, const QList<QByteArray> &removed)
{
    // 1. Updates in place: only rows whose values differ are announced, one
    // dataChanged per run of adjacent changed rows (a busy proxy changes most).
    QList<SessionInfo> added;
    QList<int> changed;
    for (const SessionInfo &session : upserted) {
        const int row = m_rowById.value(session.id, -1);
        if (row < 0) {
            added.append(session);
            continue;
        }
        if (m_sessions.at(row) == session)
            continue;
        m_sessions[row] = session;
        changed.append(row);
    }
    if (!changed.isEmpty()) {
        std::sort(changed.begin(), changed.end());
        qsizetype start = 0;
        for (qsizetype i = 1; i <= changed.size(); ++i) {
            if (i < changed.size() && changed.at(i) <= changed.at(i - 1) + 1)
                continue;
            Q_EMIT dataChanged(index(changed.at(start), 0), index(changed.at(i - 1), ColumnCount - 1));
            start = i;
        }
    }

    // 2. Removals, as contiguous ranges from the bottom up so the rows above
    // keep their numbers while we go.
    QList<int> rows;
    rows.reserve(removed.size());
    for (const QByteArray &id : removed) {
        const int row = m_rowById.value(id, -1);
        if (row >= 0)
            rows.append(row);
    }
    if (!rows.isEmpty()) {
        std::sort(rows.begin(), rows.end());
        rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
        for (const int row : std::as_const(rows))
            m_rowById.remove(m_sessions.at(row).id);
        int end = int(rows.size()) - 1;
        while (end >= 0) {
            int start = end;
            while (start > 0 && rows.at(start - 1) == rows.at(start) - 1)
                --start;
            const int first = rows.at(start);
            const int last = rows.at(end);
            beginRemoveRows(QModelIndex(), first, last);
            m_sessions.remove(first, last - first + 1);
            endRemoveRows();
            end = start - 1;
        }
        reindexFrom(rows.first());
    }

    // 3. Insertions at the end, in one block.
    QList<SessionInfo> fresh;
    QSet<QByteArray> freshIds;
    for (const SessionInfo &session : std::as_const(added)) {
        if (m_rowById.contains(session.id) || freshIds.contains(session.id))
            continue; // twice in one batch
        freshIds.insert(session.id);
        fresh.append(session);
    }
    if (!fresh.isEmpty()) {
        const int first = int(m_sessions.size());
        beginInsertRows(QModelIndex(), first, first + int(fresh.size()) - 1);
        m_sessions.append(fresh);
        reindexFrom(first);
        endInsertRows();
    }
}

} // namespace SockJsProxy
