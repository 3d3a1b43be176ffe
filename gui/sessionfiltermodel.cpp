#include "sessionfiltermodel.h"

#include "sessiontablemodel.h"

namespace SockJsProxy {

SessionFilterModel::SessionFilterModel(QObject *parent) : QSortFilterProxyModel(parent)
{
    setSortRole(SessionTableModel::SortRole);
    setDynamicSortFilter(true);
    setSortCaseSensitivity(Qt::CaseInsensitive);
}

void SessionFilterModel::setServiceFilter(const QString &service)
{
    if (service == m_service)
        return;
    m_service = service;
    invalidateRowsFilter();
}

void SessionFilterModel::setTransportFilter(const QString &transport)
{
    if (transport == m_transport)
        return;
    m_transport = transport;
    invalidateRowsFilter();
}

void SessionFilterModel::setTextFilter(const QString &text)
{
    const QString trimmed = text.trimmed();
    if (trimmed == m_text)
        return;
    m_text = trimmed;
    invalidateRowsFilter();
}

bool SessionFilterModel::filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const
{
    const QAbstractItemModel *model = sourceModel();
    auto text = [&](int column) {
        return model->index(sourceRow, column, sourceParent).data(Qt::DisplayRole).toString();
    };
    if (!m_service.isEmpty() && text(SessionTableModel::ServiceColumn) != m_service)
        return false;
    if (!m_transport.isEmpty() && text(SessionTableModel::TransportColumn) != m_transport)
        return false;
    if (m_text.isEmpty())
        return true;
    const int columns = model->columnCount(sourceParent);
    for (int column = 0; column < columns; ++column) {
        if (text(column).contains(m_text, Qt::CaseInsensitive))
            return true;
    }
    return false;
}

} // namespace SockJsProxy
