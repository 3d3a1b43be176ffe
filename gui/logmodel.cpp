#include "logmodel.h"

#include <QBrush>
#include <QColor>

namespace SockJsProxy {

LogModel::LogModel(QObject *parent) : QAbstractTableModel(parent) {}

int LogModel::rowCount(const QModelIndex &parent) const { return parent.isValid() ? 0 : int(m_entries.size()); }

int LogModel::columnCount(const QModelIndex &parent) const { return parent.isValid() ? 0 : ColumnCount; }

LogModel::Level LogModel::levelFromName(const QString &name)
{
    if (name == QLatin1String("debug"))
        return Level::Debug;
    if (name == QLatin1String("warning"))
        return Level::Warning;
    if (name == QLatin1String("critical") || name == QLatin1String("fatal"))
        return Level::Critical;
    return Level::Info;
}

QString LogModel::levelName(Level level)
{
    switch (level) {
    case Level::Debug:
        return QStringLiteral("debug");
    case Level::Info:
        return QStringLiteral("info");
    case Level::Warning:
        return QStringLiteral("warning");
    case Level::Critical:
        return QStringLiteral("critical");
    }
    return QString();
}

QVariant LogModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return QVariant();
    const Entry &entry = m_entries.at(index.row());
    switch (role) {
    case Qt::DisplayRole:
        switch (index.column()) {
        case TimeColumn:
            return entry.time.toLocalTime().toString(QStringLiteral("HH:mm:ss.zzz"));
        case LevelColumn:
            return levelName(entry.level);
        case CategoryColumn:
            return entry.category;
        case TextColumn:
            return entry.repeats > 1 ? tr("%1 (\u00D7%2)").arg(entry.text).arg(entry.repeats) : entry.text;
        default:
            return QVariant();
        }
    case Qt::ToolTipRole:
        return index.column() == TextColumn ? QVariant(entry.text) : QVariant();
    case LevelRole:
        return int(entry.level);
    case Qt::ForegroundRole:
        switch (entry.level) {
        case Level::Debug:
            return QBrush(QColor(0x80, 0x80, 0x80));
        case Level::Info:
            return QVariant();
        case Level::Warning:
            return QBrush(QColor(0xb3, 0x5c, 0x00));
        case Level::Critical:
            return QBrush(QColor(0xc0, 0x1c, 0x28));
        }
        return QVariant();
    default:
        return QVariant();
    }
}

QVariant LogModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case TimeColumn:
        return tr("Time");
    case LevelColumn:
        return tr("Level");
    case CategoryColumn:
        return tr("Category");
    case TextColumn:
        return tr("Message");
    default:
        return QVariant();
    }
}

void LogModel::trimTo(int rows)
{
    const int excess = int(m_entries.size()) - rows;
    if (excess <= 0)
        return;
    beginRemoveRows(QModelIndex(), 0, excess - 1);
    m_entries.remove(0, excess);
    endRemoveRows();
}

void LogModel::append(const QList<Entry> &entries)
{
    if (entries.isEmpty() || m_capacity <= 0)
        return;
    const qsizetype skip = qMax<qsizetype>(0, entries.size() - m_capacity);
    const int count = int(entries.size() - skip);
    trimTo(m_capacity - count);
    const int first = int(m_entries.size());
    beginInsertRows(QModelIndex(), first, first + count - 1);
    m_entries.append(entries.mid(skip));
    endInsertRows();
}

void LogModel::repeatLast(const QDateTime &time)
{
    if (m_entries.isEmpty())
        return;
    Entry &last = m_entries.last();
    ++last.repeats;
    last.time = time;
    const int row = int(m_entries.size()) - 1;
    Q_EMIT dataChanged(index(row, 0), index(row, ColumnCount - 1), {Qt::DisplayRole});
}

void LogModel::clear()
{
    if (m_entries.isEmpty())
        return;
    beginResetModel();
    m_entries.clear();
    endResetModel();
}

void LogModel::setCapacity(int capacity)
{
    m_capacity = qMax(0, capacity);
    trimTo(m_capacity);
}

} // namespace SockJsProxy
