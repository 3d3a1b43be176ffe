#pragma once

#include <QSortFilterProxyModel>

namespace SockJsProxy {

// Sorting and filtering of the session table: by service and transport
// (exact, empty = all) and by free text found in any column (address:port
// included), case-insensitive. Sorts by SessionTableModel::SortRole, so
// counters sort as numbers and times as times.
class SessionFilterModel : public QSortFilterProxyModel
{
    Q_OBJECT

public:
    explicit SessionFilterModel(QObject *parent = nullptr);

    void setServiceFilter(const QString &service);
    void setTransportFilter(const QString &transport);
    void setTextFilter(const QString &text);
    QString serviceFilter() const { return m_service; }
    QString transportFilter() const { return m_transport; }
    QString textFilter() const { return m_text; }

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const override;

private:
    QString m_service;
    QString m_transport;
    QString m_text;
};

} // namespace SockJsProxy
