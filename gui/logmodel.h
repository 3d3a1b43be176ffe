#pragma once

#include <QAbstractTableModel>
#include <QDateTime>
#include <QList>

namespace SockJsProxy {

// The log pane's lines, oldest first, at most capacity() (older ones are
// dropped from the top). append() takes a batch: the pane coalesces
// logMessage signals on a timer.
class LogModel : public QAbstractTableModel
{
    Q_OBJECT

public:
    enum class Level { Debug, Info, Warning, Critical };
    enum Column { TimeColumn, LevelColumn, CategoryColumn, TextColumn, ColumnCount };
    enum Role {
        LevelRole = Qt::UserRole + 1, // int(Level)
    };
    static constexpr int kDefaultCapacity = 5000;

    struct Entry
    {
        QDateTime time;
        Level level = Level::Info;
        QString category;
        QString text;
        int repeats = 1; // the same line again and again: shown once, "(×N)"
    };

    explicit LogModel(QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = QModelIndex()) const override;
    int columnCount(const QModelIndex &parent = QModelIndex()) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    void append(const QList<Entry> &entries);
    // The last line came again (at time): counted, not added.
    void repeatLast(const QDateTime &time);
    void clear();
    int capacity() const { return m_capacity; }
    void setCapacity(int capacity);
    const Entry &entryAt(int row) const { return m_entries.at(row); }

    // "debug", "info", "warning", "critical" ("fatal" counts as critical; unknown as info).
    static Level levelFromName(const QString &name);
    static QString levelName(Level level);

private:
    void trimTo(int rows);

    QList<Entry> m_entries;
    int m_capacity = kDefaultCapacity;
};

} // namespace SockJsProxy
