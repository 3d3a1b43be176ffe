#include "trafficmodel.h"

#include <QBrush>
#include <QColor>

#include <algorithm>
#include <numeric>

namespace SockJsProxy {

TrafficModel::TrafficModel(QObject *parent) : QAbstractTableModel(parent) {}

int TrafficModel::rowCount(const QModelIndex &parent) const { return parent.isValid() ? 0 : int(m_events.size()); }

int TrafficModel::columnCount(const QModelIndex &parent) const { return parent.isValid() ? 0 : ColumnCount; }

namespace {
QString directionText(TrafficEvent::Direction direction)
{
    return direction == TrafficEvent::Direction::In ? QStringLiteral("in \u2192") : QStringLiteral("\u2190 out");
}
QString timeText(const QDateTime &time)
{
    return time.isValid() ? time.toLocalTime().toString(QStringLiteral("HH:mm:ss.zzz")) : QString();
}
} // namespace

QVariant TrafficModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return QVariant();
    const TrafficEvent &event = m_events.at(index.row());
    switch (role) {
    case Qt::DisplayRole:
        switch (index.column()) {
        case TimeColumn:
            return timeText(event.time);
        case DirectionColumn:
            return directionText(event.direction);
        case SizeColumn:
            return int(event.data.size());
        case TextColumn: {
            // Painting a megabyte per row would stall the view.
            QString text = QString::fromUtf8(event.data.left(kDisplayChars * 4));
            if (text.size() > kDisplayChars || event.data.size() > kDisplayChars * 4)
                text = text.left(kDisplayChars) + QStringLiteral("\u2026");
            return text;
        }
        default:
            return QVariant();
        }
    case FullTextRole:
        return QString::fromUtf8(event.data);
    case Qt::ToolTipRole:
        if (index.column() == TextColumn)
            return toolTipText(event.data);
        if (index.column() == DirectionColumn)
            return event.direction == TrafficEvent::Direction::In ? tr("client to backend") : tr("backend to client");
        return QVariant();
    case Qt::ForegroundRole:
        if (index.column() == DirectionColumn)
            return QBrush(event.direction == TrafficEvent::Direction::In ? QColor(0x1f, 0x5f, 0xbf)
                                                                         : QColor(0xb3, 0x5c, 0x00));
        return QVariant();
    case Qt::TextAlignmentRole:
        if (index.column() == SizeColumn)
            return QVariant(Qt::AlignRight | Qt::AlignVCenter);
        return QVariant();
    default:
        return QVariant();
    }
}

// Qt shows a plain tooltip as lines as long as the text's: a long message
// in one line would run off the screen. Broken into short lines instead,
// the start of it; the detail pane has the whole message.
QString TrafficModel::toolTipText(const QByteArray &data)
{
    const QString text = QString::fromUtf8(data.left(kTipLineChars * kTipLines * 4));
    QStringList lines;
    for (const QString &line : text.split(QLatin1Char('\n'))) {
        for (qsizetype at = 0; at < line.size() || (at == 0 && line.isEmpty()); at += kTipLineChars) {
            if (lines.size() == kTipLines)
                break;
            lines.append(line.mid(at, kTipLineChars));
            if (line.isEmpty())
                break;
        }
        if (lines.size() == kTipLines)
            break;
    }
    const qsizetype shown = std::accumulate(lines.cbegin(), lines.cend(), qsizetype(0),
                                            [](qsizetype sum, const QString &line) { return sum + line.size(); });
    if (shown + lines.size() - 1 < text.size() || data.size() > kTipLineChars * kTipLines * 4)
        lines.append(tr("\u2026 (%1 bytes in all: the detail pane shows the whole message)").arg(data.size()));
    return lines.join(QLatin1Char('\n'));
}

QVariant TrafficModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case TimeColumn:
        return tr("Time");
    case DirectionColumn:
        return tr("Direction");
    case SizeColumn:
        return tr("Size");
    case TextColumn:
        return tr("Message");
    default:
        return QVariant();
    }
}

void TrafficModel::trimTo(int rows)
{
    const int excess = int(m_events.size()) - rows;
    if (excess <= 0)
        return;
    beginRemoveRows(QModelIndex(), 0, excess - 1);
    m_events.remove(0, excess);
    endRemoveRows();
}

void TrafficModel::append(const QList<TrafficEvent> &events)
{
    if (events.isEmpty() || m_capacity <= 0)
        return;
    // Only the newest capacity() of the batch can survive.
    const qsizetype skip = qMax<qsizetype>(0, events.size() - m_capacity);
    const int count = int(events.size() - skip);
    trimTo(m_capacity - count);
    const int first = int(m_events.size());
    beginInsertRows(QModelIndex(), first, first + count - 1);
    m_events.append(events.mid(skip));
    endInsertRows();
}

void TrafficModel::clear()
{
    if (m_events.isEmpty())
        return;
    beginResetModel();
    m_events.clear();
    endResetModel();
}

void TrafficModel::setCapacity(int capacity)
{
    m_capacity = qMax(0, capacity);
    trimTo(m_capacity);
}

QString TrafficModel::toText(const QList<int> &rows) const
{
    QStringList lines;
    for (const int row : rows) {
        if (row < 0 || row >= m_events.size())
            continue;
        const TrafficEvent &event = m_events.at(row);
        lines.append(
            QStringList{timeText(event.time),
                        event.direction == TrafficEvent::Direction::In ? QStringLiteral("in") : QStringLiteral("out"),
                        QString::number(event.data.size()), QString::fromUtf8(event.data)}
                .join(QLatin1Char('\t')));
    }
    return lines.join(QLatin1Char('\n'));
}

} // namespace SockJsProxy
