#pragma once

#include "metrics/monitortypes.h"

#include <QAbstractTableModel>
#include <QList>

namespace SockJsProxy {

// The message inspector's rows: recent messages of one session, oldest
// first, at most capacity() of them (older ones are dropped from the top).
// append() takes a batch (the inspector coalesces traffic on a timer) and
// announces it with one removal and one insertion at most.
class TrafficModel : public QAbstractTableModel
{
    Q_OBJECT

public:
    enum Column { TimeColumn, DirectionColumn, SizeColumn, TextColumn, ColumnCount };
    enum Role {
        FullTextRole = Qt::UserRole + 1, // the whole message (DisplayRole may be shortened)
    };
    static constexpr int kDefaultCapacity = 1000;
    static constexpr int kDisplayChars = 500; // longer messages are shortened in the view
    // A message's tooltip: lines of at most this many characters, at most
    // this many lines (the detail pane has the whole message).
    static constexpr int kTipLineChars = 100;
    static constexpr int kTipLines = 20;

    explicit TrafficModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = QModelIndex()) const override;
    int columnCount(const QModelIndex &parent = QModelIndex()) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    // The tooltip of a message: its start in short lines (kTipLineChars,
    // kTipLines), and a last line with its size when there is more.
    static QString toolTipText(const QByteArray &data);
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    void append(const QList<SockJsProxy::TrafficEvent> &events);
    void clear();
    int capacity() const { return m_capacity; }
    void setCapacity(int capacity); // drops the oldest rows beyond it

    const TrafficEvent &eventAt(int row) const { return m_events.at(row); }
    // Tab-separated lines (time, direction, size, text) of the given rows.
    QString toText(const QList<int> &rows) const;

private:
    void trimTo(int rows);

    QList<TrafficEvent> m_events;
    int m_capacity = kDefaultCapacity;
};

} // namespace SockJsProxy
