#include "backendpanel.h"

#include "sessiontablemodel.h"

#include <QCoreApplication>
#include <QGridLayout>
#include <QGroupBox>
#include <QHeaderView>
#include <QLabel>
#include <QLocale>
#include <QTableWidget>
#include <QVBoxLayout>

namespace SockJsProxy {

namespace {

QString peers(int count) { return count < 0 ? QStringLiteral("?") : QString::number(count); }

// "tcp://127.0.0.1:9241" -> "127.0.0.1:9241"; other schemes stay whole.
QString shortEndpoint(const QString &endpoint)
{
    return endpoint.startsWith(QLatin1String("tcp://")) ? endpoint.mid(6) : endpoint;
}

} // namespace

BackendPanel::BackendPanel(QWidget *parent)
    : QWidget(parent), m_services(new QTableWidget(0, ColumnCount, this)), m_peers(new QTableWidget(0, 5, this)),
      m_updated(new UpdatedLabel(this))
{
    m_services->setObjectName(QStringLiteral("backendTable"));
    m_services->setHorizontalHeaderLabels({tr("Service"), tr("Backend"), tr("In (peers)"), tr("Out (peers)"),
                                           tr("Open"), tr("Queued"), tr("Dropped"), tr("Node")});
    m_services->verticalHeader()->hide();
    m_services->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_services->setSelectionMode(QAbstractItemView::NoSelection);
    m_services->setAlternatingRowColors(true);
    // Widths from sample texts, not from the contents: growing numbers must
    // not widen the dock (it never shrank back), and Dropped stays in view.
    m_services->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
    m_services->horizontalHeader()->setStretchLastSection(true);
    const QFontMetrics metrics = m_services->fontMetrics();
    const char *samples[ColumnCount] = {
        "/service", "\u25CF no backend", "127.0.0.1:00000 (0)", "127.0.0.1:00000 (0)", "00,000",
        "00,000",   "Dropped",           "127.0.0.1:00000"};
    for (int column = 0; column < ColumnCount; ++column)
        m_services->setColumnWidth(column, metrics.horizontalAdvance(QString::fromUtf8(samples[column])) + 16);
    m_services->verticalHeader()->setDefaultSectionSize(m_services->fontMetrics().height() + 6);
    // The Node column comes first, and only for several nodes.
    m_services->horizontalHeader()->moveSection(NodeColumn, 0);
    m_services->setColumnHidden(NodeColumn, true);

    // Each cluster node's peers: hidden unless a node has some.
    m_peers->setObjectName(QStringLiteral("peersTable"));
    m_peers->setHorizontalHeaderLabels({tr("Node"), tr("Peer"), tr("State"), tr("Forwarded"), tr("Dropped")});
    m_peers->verticalHeader()->hide();
    m_peers->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_peers->setSelectionMode(QAbstractItemView::NoSelection);
    m_peers->setAlternatingRowColors(true);
    m_peers->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
    m_peers->horizontalHeader()->setStretchLastSection(true);
    m_peers->verticalHeader()->setDefaultSectionSize(m_peers->fontMetrics().height() + 6);
    const char *peerSamples[] = {"127.0.0.1:00000", "127.0.0.1:00000", "\u25CF down", "000,000", "Dropped"};
    for (int column = 0; column < 5; ++column)
        m_peers->setColumnWidth(column, metrics.horizontalAdvance(QString::fromUtf8(peerSamples[column])) + 16);
    m_peers->setMaximumHeight(m_peers->fontMetrics().height() * 8);
    m_peers->hide();

    auto *countersBox = new QGroupBox(tr("Counters"), this);
    auto *grid = new QGridLayout(countersBox);
    grid->setHorizontalSpacing(12);
    grid->setVerticalSpacing(2);
    // Open sessions, every counter of the table (named by its JSON key), rates.
    QList<std::pair<QString, QString>> fields{{QStringLiteral("sessionsOpen"), tr("Sessions open")}};
    for (const CounterInfo &row : kCounterTable)
        fields.append({QLatin1String(row.key), QCoreApplication::translate("Counters", row.title)});
    fields.append({QStringLiteral("rates"), tr("Rates")});
    int i = 0;
    for (const auto &[name, title] : std::as_const(fields)) {
        const int row = i / 3;
        const int column = (i % 3) * 2;
        auto *label = new QLabel(title + QLatin1Char(':'), countersBox);
        auto *value = new QLabel(QStringLiteral("-"), countersBox);
        value->setObjectName(name);
        value->setTextInteractionFlags(Qt::TextSelectableByMouse);
        QFont bold = value->font();
        bold.setBold(true);
        value->setFont(bold);
        // Sized by a sample, never by the number shown.
        const QString sample = name == QLatin1String("rates") ? QStringLiteral("00000.0 in/s, 00000.0 out/s")
                                                              : QStringLiteral("000,000,000");
        value->setFixedWidth(QFontMetrics(bold).horizontalAdvance(sample) + 4);
        grid->addWidget(label, row, column);
        grid->addWidget(value, row, column + 1);
        m_counters.insert(name, value);
        ++i;
    }
    grid->setColumnStretch(5, 1);

    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addWidget(m_services, 1);
    layout->addWidget(m_peers);
    layout->addWidget(countersBox);
    layout->addWidget(m_updated);
}

QString BackendPanel::backendState(const BackendStatus &status)
{
    if (status.inPeers < 0 || status.outPeers < 0)
        return QStringLiteral("unknown");
    if (status.inPeers > 0 && status.outPeers > 0)
        return QStringLiteral("connected");
    if (status.inPeers > 0)
        return QStringLiteral("in only");
    if (status.outPeers > 0)
        return QStringLiteral("out only");
    return QStringLiteral("no backend");
}

void BackendPanel::setCell(int row, int column, const QString &text, const QString &toolTip)
{
    QTableWidgetItem *item = m_services->item(row, column);
    if (!item) {
        item = new QTableWidgetItem;
        m_services->setItem(row, column, item);
    }
    if (item->text() != text)
        item->setText(text);
    if (item->toolTip() != toolTip)
        item->setToolTip(toolTip);
}

void BackendPanel::fillServiceRow(int row, const ServiceStats &service)
{
    const QLocale locale;
    const BackendStatus &backend = service.backend;
    setCell(row, ServiceColumn, service.prefix);
    const QString state = backendState(backend);
    setCell(row, BackendColumn, QStringLiteral("\u25CF ") + state,
            tr("backends connected: %1 to \"in\", %2 to \"out\"").arg(peers(backend.inPeers), peers(backend.outPeers)));
    QTableWidgetItem *stateItem = m_services->item(row, BackendColumn);
    QColor color(0x80, 0x80, 0x80);
    if (state == QLatin1String("connected"))
        color = QColor(0x1a, 0x8f, 0x3c);
    else if (state == QLatin1String("no backend"))
        color = QColor(0xc0, 0x1c, 0x28);
    else if (state != QLatin1String("unknown"))
        color = QColor(0xc0, 0x7a, 0x00);
    stateItem->setForeground(color);
    QFont font = stateItem->font();
    font.setBold(true);
    stateItem->setFont(font);
    setCell(row, InColumn, QStringLiteral("%1 (%2)").arg(shortEndpoint(backend.inEndpoint), peers(backend.inPeers)),
            tr("%1: the proxy's PUSH socket; backends pull client events here (%2 connected)")
                .arg(backend.inEndpoint, peers(backend.inPeers)));
    setCell(row, OutColumn, QStringLiteral("%1 (%2)").arg(shortEndpoint(backend.outEndpoint), peers(backend.outPeers)),
            tr("%1: the proxy's PULL socket; backends push replies here (%2 connected)")
                .arg(backend.outEndpoint, peers(backend.outPeers)));
    for (int column = 0; column < ColumnCount; ++column) {
        if (QTableWidgetItem *item = m_services->item(row, column); item && column != BackendColumn)
            item->setData(Qt::ForegroundRole, QVariant());
    }
    setCell(row, SessionsColumn, locale.toString(qlonglong(service.sessionsOpen)));
    setCell(row, QueuedColumn, locale.toString(qlonglong(backend.queued)));
    setCell(row, DroppedColumn, locale.toString(backend.dropped));
    for (const int column : {SessionsColumn, QueuedColumn, DroppedColumn})
        m_services->item(row, column)->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    if (backend.queued > 0)
        m_services->item(row, QueuedColumn)->setForeground(QColor(0xc0, 0x7a, 0x00));
    else
        m_services->item(row, QueuedColumn)->setData(Qt::ForegroundRole, QVariant());
}

void BackendPanel::setStats(const MonitorStats &stats)
{
    const QLocale locale;
    m_stale = false;
    m_updated->setUpdated(stats.time);
    for (QLabel *label : std::as_const(m_counters))
        label->setStyleSheet(QString());
    if (m_nodes.isEmpty()) {
        if (m_services->rowCount() != stats.services.size())
            m_services->setRowCount(int(stats.services.size()));
        for (int row = 0; row < stats.services.size(); ++row)
            fillServiceRow(row, stats.services.at(row));
    }

    const Counters &c = stats.counters;
    auto set = [this](const char *name, const QString &text) {
        if (QLabel *label = m_counters.value(QLatin1String(name)); label && label->text() != text)
            label->setText(text);
    };
    set("sessionsOpen", locale.toString(qlonglong(stats.sessionsOpen)));
    for (const CounterInfo &row : kCounterTable) {
        const quint64 value = c[row.id];
        set(row.key, row.bytes ? SessionTableModel::formatBytes(value) : locale.toString(value));
    }
    set("rates",
        tr("%1 in/s, %2 out/s").arg(stats.rates.messagesIn, 0, 'f', 1).arg(stats.rates.messagesOut, 0, 'f', 1));
}

void BackendPanel::clear()
{
    m_nodes.clear();
    m_services->setColumnHidden(NodeColumn, true);
    m_peers->setRowCount(0);
    m_peers->hide();
    m_services->setRowCount(0);
    for (QLabel *label : std::as_const(m_counters))
        label->setText(QStringLiteral("-"));
    m_updated->clear();
    m_stale = false;
}

void BackendPanel::setStale(bool stale)
{
    if (stale == m_stale || (m_services->rowCount() == 0 && !m_updated->lastUpdate().isValid()))
        return;
    m_stale = stale;
    if (!stale)
        return; // the next setStats() fills everything in again
    const QString dash = QStringLiteral("\u2014");
    const QColor grey(0x80, 0x80, 0x80);
    for (int row = 0; row < m_services->rowCount(); ++row) {
        setCell(row, BackendColumn, dash + QLatin1Char(' ') + tr("proxy gone"),
                tr("the proxy is gone: nothing is known of its backends"));
        for (const int column : {InColumn, OutColumn}) {
            // The endpoints stay (they are configuration), the peer counts go.
            if (QTableWidgetItem *item = m_services->item(row, column)) {
                const QString text = item->text();
                const qsizetype open = text.lastIndexOf(QLatin1String(" ("));
                setCell(row, column,
                        (open < 0 ? text : text.left(open)) + QStringLiteral(" (") + dash + QLatin1Char(')'),
                        item->toolTip());
            }
        }
        for (const int column : {SessionsColumn, QueuedColumn, DroppedColumn})
            setCell(row, column, dash);
        greyRow(m_services, row);
    }
    for (int row = 0; row < m_peers->rowCount(); ++row) {
        for (const int column : {PeerStateColumn, PeerForwardedColumn, PeerDroppedColumn})
            m_peers->item(row, column)->setText(dash);
        greyRow(m_peers, row);
    }
    for (QLabel *label : std::as_const(m_counters)) {
        label->setText(dash);
        label->setStyleSheet(QStringLiteral("color: grey"));
    }
    m_updated->setStale(true);
}

void BackendPanel::greyRow(QTableWidget *table, int row)
{
    for (int column = 0; column < table->columnCount(); ++column) {
        if (QTableWidgetItem *item = table->item(row, column)) {
            item->setForeground(QColor(0x80, 0x80, 0x80));
            QFont font = item->font();
            font.setBold(false);
            item->setFont(font);
        }
    }
}

void BackendPanel::setNodes(const QList<Node> &nodes)
{
    m_nodes = nodes;
    m_services->setColumnHidden(NodeColumn, nodes.isEmpty());
    if (nodes.isEmpty()) {
        m_services->setRowCount(0);
        m_peers->setRowCount(0);
        m_peers->hide();
        return;
    }
    fillNodeRows();
}

void BackendPanel::fillNodeRows()
{
    const QString dash = QStringLiteral("\u2014");
    // Services: a row per node and service; a node without figures yet, one row.
    int rows = 0;
    for (const Node &node : std::as_const(m_nodes))
        rows += qMax(1, int(node.stats.services.size()));
    if (m_services->rowCount() != rows)
        m_services->setRowCount(rows);
    int row = 0;
    for (const Node &node : std::as_const(m_nodes)) {
        if (node.stats.services.isEmpty()) {
            for (int column = 0; column < ColumnCount; ++column)
                setCell(row, column, column == BackendColumn ? dash + QLatin1Char(' ') + tr("not attached") : dash);
            setCell(row, NodeColumn, node.name, node.detail);
            greyRow(m_services, row);
            ++row;
            continue;
        }
        for (const ServiceStats &service : node.stats.services) {
            fillServiceRow(row, service);
            setCell(row, NodeColumn, node.name, node.connected ? QString() : node.detail);
            if (!node.connected) {
                // Its last figures are no longer true: dashes, as for a gone proxy.
                setCell(row, BackendColumn, dash + QLatin1Char(' ') + tr("node gone"),
                        tr("the node is gone (%1): nothing is known of its backends").arg(node.detail));
                for (const int column : {SessionsColumn, QueuedColumn, DroppedColumn})
                    setCell(row, column, dash);
                greyRow(m_services, row);
            }
            ++row;
        }
    }

    // Peers: each cluster node's, with what it forwarded to each and dropped for it.
    const QLocale locale;
    int peerRows = 0;
    for (const Node &node : std::as_const(m_nodes))
        peerRows += int(node.stats.peers.size());
    if (m_peers->rowCount() != peerRows)
        m_peers->setRowCount(peerRows);
    m_peers->setVisible(peerRows > 0);
    row = 0;
    for (const Node &node : std::as_const(m_nodes)) {
        const Counters::LabelValues forwarded = node.stats.counters.labelled(Counter::ClusterForwarded);
        const Counters::LabelValues dropped = node.stats.counters.labelled(Counter::ClusterDropped);
        for (const ClusterPeer &peer : node.stats.peers) {
            const QString name = peer.node.isEmpty() ? peer.endpoint : QString::fromLatin1(peer.node);
            auto cell = [this, row](int column, const QString &text, const QString &toolTip = QString()) {
                QTableWidgetItem *item = m_peers->item(row, column);
                if (!item) {
                    item = new QTableWidgetItem;
                    m_peers->setItem(row, column, item);
                }
                item->setText(text);
                item->setToolTip(toolTip);
                item->setData(Qt::ForegroundRole, QVariant());
                QFont font = item->font();
                font.setBold(column == PeerStateColumn);
                item->setFont(font);
            };
            cell(PeerNodeColumn, node.name);
            cell(PeerColumn, name, peer.endpoint);
            if (!node.connected) {
                cell(PeerStateColumn, dash + QLatin1Char(' ') + tr("node gone"), node.detail);
                cell(PeerForwardedColumn, dash);
                cell(PeerDroppedColumn, dash);
                greyRow(m_peers, row);
            } else {
                cell(PeerStateColumn, QStringLiteral("\u25CF ") + (peer.up ? tr("up") : tr("down")));
                m_peers->item(row, PeerStateColumn)
                    ->setForeground(peer.up ? QColor(0x1a, 0x8f, 0x3c) : QColor(0xc0, 0x1c, 0x28));
                cell(PeerForwardedColumn, locale.toString(forwarded.value(name)),
                     tr("backend messages %1 sent on to %2").arg(node.name, name));
                cell(PeerDroppedColumn, locale.toString(dropped.value(name)),
                     tr("backend messages for sessions of %1 that %2 could not send on").arg(name, node.name));
                for (const int column : {PeerForwardedColumn, PeerDroppedColumn})
                    m_peers->item(row, column)->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
            }
            ++row;
        }
    }
}

} // namespace SockJsProxy
