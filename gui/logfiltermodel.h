#pragma once

#include "logmodel.h"

#include <QSortFilterProxyModel>

namespace SockJsProxy {

// Shows the log lines at or above a minimum level, optionally containing a text.
class LogFilterModel : public QSortFilterProxyModel
{
    Q_OBJECT

public:
    explicit LogFilterModel(QObject *parent = nullptr);

    void setMinimumLevel(LogModel::Level level);
    LogModel::Level minimumLevel() const { return m_minimum; }
    void setTextFilter(const QString &text);

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const override;

private:
    LogModel::Level m_minimum = LogModel::Level::Debug;
    QString m_text;
};

} // namespace SockJsProxy
