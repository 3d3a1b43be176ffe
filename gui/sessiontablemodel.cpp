#include "sessiontablemodel.h"

#include <QBrush>
#include <QColor>
#include <QDateTime>
#include <QLocale>
#include <QSet>
#include <QTimerEvent>

#include <algorithm>

namespace SockJsProxy {

SessionTableModel::SessionTableModel(QObject *parent) : QAbstractTableModel(parent) { m_tick.start(1000, this); }

QString SessionTableModel::formatDuration(qint64 ms)
{
    if (ms < 0)
        return QString();
    const qint64 seconds = ms / 1000;
    if (seconds < 60)
        return QStringLiteral("%1 s").arg(seconds);
    if (seconds < 3600)
        return QStringLiteral("%1 min %2 s").arg(seconds / 60).arg(seconds % 60, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1 h %2 min").arg(seconds / 3600).arg((seconds / 60) % 60, 2, 10, QLatin1Char('0'));
}

QString SessionTableModel::naturalKey(const QString &text)
{
    // Each run of digits padded to 20, so text order is number order.
    QString key;
    key.reserve(text.size() + 20);
    qsizetype i = 0;
    while (i < text.size()) {
        if (!text.at(i).isDigit()) {
            key.append(text.at(i++));
            continue;
        }
        qsizetype end = i;
        while (end < text.size() && text.at(end).isDigit())
            ++end;
        const QString digits = text.mid(i, end - i);
        key.append(QString(qMax<qsizetype>(0, 20 - digits.size()), QLatin1Char('0')) + digits);
        i = end;
    }
    return key;
}

qint64 SessionTableModel::ageMs(const SessionInfo &s) const
{
    if (!s.openedAt.isValid())
        return -1;
    const QDateTime end = s.closedAt.isValid() ? s.closedAt : QDateTime::currentDateTimeUtc();
    return qMax<qint64>(0, s.openedAt.msecsTo(end));
}

qint64 SessionTableModel::idleMs(const SessionInfo &s) const
{
    if (s.state == QLatin1String("closed"))
        return -1;
    const QDateTime &since = s.lastActivity.isValid() ? s.lastActivity : s.openedAt;
    return since.isValid() ? qMax<qint64>(0, since.msecsTo(QDateTime::currentDateTimeUtc())) : -1;
}

void SessionTableModel::timerEvent(QTimerEvent *event)
{
    if (event->timerId() != m_tick.timerId())
        return QAbstractTableModel::timerEvent(event);
    tick(QDateTime::currentMSecsSinceEpoch());
}

void SessionTableModel::tick(qint64 nowMs)
{
    QList<int> expired;
    for (auto it = m_removeAt.cbegin(); it != m_removeAt.cend(); ++it) {
        if (it.value() <= nowMs)
            expired.append(m_rowById.value(it.key(), -1));
    }
    expired.removeAll(-1);
    if (!expired.isEmpty())
        dropRows(expired);
    if (!m_sessions.isEmpty())
        Q_EMIT dataChanged(index(0, AgeColumn), index(rowCount() - 1, IdleColumn), {Qt::DisplayRole, SortRole});
}

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
    case NodeColumn:
        return s.node;
    case StateColumn:
        if (s.state == QLatin1String("waiting"))
            return tr("waiting for poll");
        if (s.state == QLatin1String("closed") && !s.closedBy.isEmpty())
            return tr("closed %1 \"%2\" by %3").arg(s.closeCode).arg(s.closeReason, s.closedBy);
        return s.state;
    case AgeColumn:
        return formatDuration(ageMs(s));
    case IdleColumn:
        return formatDuration(idleMs(s));
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
    case IdColumn:
        return naturalKey(QString::fromLatin1(s.id));
    case AgeColumn:
        return ageMs(s);
    case IdleColumn:
        return idleMs(s);
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
        if (column == StateColumn && s.state == QLatin1String("closed") && !s.closedBy.isEmpty())
            return tr("closed at %1 by %2 with %3 \"%4\"")
                .arg(s.closedAt.toLocalTime().toString(QStringLiteral("HH:mm:ss.zzz")), s.closedBy)
                .arg(s.closeCode)
                .arg(s.closeReason);
        if (column == StateColumn && s.state == QLatin1String("waiting"))
            return tr("an HTTP session between two requests of its client; it closes if none comes back in time");
        if (column == BytesInColumn || column == BytesOutColumn)
            return QLocale().toString(column == BytesInColumn ? s.bytesIn : s.bytesOut) + QStringLiteral(" bytes");
        return QVariant();
    case Qt::TextAlignmentRole:
        if (column >= MessagesInColumn && column <= IdleColumn)
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
        if (s.state == QLatin1String("closed"))
            return QBrush(QColor(0x90, 0x90, 0x90)); // a closed session kept a while: greyed
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
    case NodeColumn:
        return tr("Node");
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
    case AgeColumn:
        return tr("Age");
    case IdleColumn:
        return tr("Idle");
    default:
        return QVariant();
    }
}

void SessionTableModel::setSessions(const QList<SessionInfo> &sessions)
{
    beginResetModel();
    m_sessions.clear();
    m_rowById.clear();
    m_removeAt.clear();
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

    // 2. Removals; closed sessions stay a while.
    const qint64 removeAt = QDateTime::currentMSecsSinceEpoch() + m_lingerMs;
    QSet<QByteArray> removedIds;
    QList<int> rows;
    rows.reserve(removed.size());
    for (const QByteArray &id : removed) {
        removedIds.insert(id);
        const int row = m_rowById.value(id, -1);
        if (row < 0)
            continue;
        if (m_lingerMs > 0 && m_sessions.at(row).state == QLatin1String("closed")) {
            if (!m_removeAt.contains(id))
                m_removeAt.insert(id, removeAt);
            continue;
        }
        rows.append(row);
    }
    dropRows(rows);

    // 3. Insertions at the end, in one block; a session that came and went
    // between two updates only when it lingers.
    QList<SessionInfo> fresh;
    QSet<QByteArray> freshIds;
    for (const SessionInfo &session : std::as_const(added)) {
        if (m_rowById.contains(session.id) || freshIds.contains(session.id))
            continue; // twice in one batch
        if (removedIds.contains(session.id)) {
            if (m_lingerMs == 0 || session.state != QLatin1String("closed"))
                continue;
            m_removeAt.insert(session.id, removeAt);
        }
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

// As contiguous ranges from the bottom up so the rows above keep their
// numbers while we go.
void SessionTableModel::dropRows(QList<int> rows)
{
    if (!rows.isEmpty()) {
        std::sort(rows.begin(), rows.end());
        rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
        for (const int row : std::as_const(rows)) {
            m_rowById.remove(m_sessions.at(row).id);
            m_removeAt.remove(m_sessions.at(row).id);
        }
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
}

} // namespace SockJsProxy
