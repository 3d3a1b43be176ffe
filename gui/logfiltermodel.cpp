#include "logfiltermodel.h"

namespace SockJsProxy {

LogFilterModel::LogFilterModel(QObject *parent) : QSortFilterProxyModel(parent) { setDynamicSortFilter(true); }

void LogFilterModel::setMinimumLevel(LogModel::Level level)
{
    if (level == m_minimum)
        return;
    m_minimum = level;
    invalidateRowsFilter();
}

void LogFilterModel::setTextFilter(const QString &text)
{
    if (text == m_text)
        return;
    m_text = text;
    invalidateRowsFilter();
}

bool LogFilterModel::filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const
{
    const QModelIndex index = sourceModel()->index(sourceRow, LogModel::TextColumn, sourceParent);
    if (index.data(LogModel::LevelRole).toInt() < int(m_minimum))
        return false;
    if (m_text.isEmpty())
        return true;
    return index.data().toString().contains(m_text, Qt::CaseInsensitive)
           || sourceModel()
                  ->index(sourceRow, LogModel::CategoryColumn, sourceParent)
                  .data()
                  .toString()
                  .contains(m_text, Qt::CaseInsensitive);
}

} // namespace SockJsProxy
