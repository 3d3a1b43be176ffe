#include "inspectorwidget.h"

#include "metrics/monitorsource.h"
#include "trafficmodel.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QFile>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonDocument>
#include <QJsonParseError>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QScrollBar>
#include <QSplitter>
#include <QTableView>
#include <QTimerEvent>
#include <QToolButton>
#include <QVBoxLayout>

#include <QFontDatabase>

#include <algorithm>
#include <utility>

namespace SockJsProxy {

InspectorWidget::InspectorWidget(QWidget *parent)
    : QWidget(parent), m_model(new TrafficModel(this)), m_view(new QTableView(this)), m_header(new QLabel(this)),
      m_pauseButton(new QToolButton(this)), m_detail(new QPlainTextEdit(this)), m_search(new QLineEdit(this))
{
    m_search->setObjectName(QStringLiteral("inspectorSearch"));
    m_search->setPlaceholderText(tr("Search messages (Enter: next)"));
    m_search->setClearButtonEnabled(true);
    connect(m_search, &QLineEdit::returnPressed, this, [this] { findNext(m_search->text()); });
    m_detail->setObjectName(QStringLiteral("inspectorDetail"));
    m_detail->setReadOnly(true);
    m_detail->setLineWrapMode(QPlainTextEdit::WidgetWidth);
    m_detail->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_detail->setPlaceholderText(tr("Select a message to see it in full"));
    m_view->setObjectName(QStringLiteral("inspectorView"));
    m_view->setModel(m_model);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_view->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_view->setWordWrap(false);
    m_view->setTextElideMode(Qt::ElideRight);
    m_view->verticalHeader()->hide();
    m_view->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    m_view->verticalHeader()->setDefaultSectionSize(m_view->fontMetrics().height() + 4);
    m_view->horizontalHeader()->setStretchLastSection(true);
    const QFontMetrics metrics = m_view->fontMetrics();
    m_view->setColumnWidth(TrafficModel::TimeColumn, metrics.horizontalAdvance(QStringLiteral("00:00:00.000")) + 20);
    m_view->setColumnWidth(TrafficModel::DirectionColumn, metrics.horizontalAdvance(QStringLiteral("Direction")) + 20);
    m_view->setColumnWidth(TrafficModel::SizeColumn, metrics.horizontalAdvance(QStringLiteral("000000")) + 20);

    auto *copyAction = new QAction(tr("&Copy"), m_view);
    copyAction->setShortcut(QKeySequence::Copy);
    copyAction->setShortcutContext(Qt::WidgetShortcut);
    connect(copyAction, &QAction::triggered, this, &InspectorWidget::copySelection);
    m_view->addAction(copyAction);

    m_header->setObjectName(QStringLiteral("inspectorHeader"));
    m_header->setTextInteractionFlags(Qt::TextSelectableByMouse);

    m_pauseButton->setObjectName(QStringLiteral("pauseButton"));
    m_pauseButton->setText(tr("Pause"));
    m_pauseButton->setCheckable(true);
    m_pauseButton->setToolTip(tr("Stop appending messages (what arrives meanwhile is not kept)"));
    connect(m_pauseButton, &QToolButton::toggled, this, &InspectorWidget::setPaused);

    auto *clearButton = new QToolButton(this);
    clearButton->setObjectName(QStringLiteral("clearButton"));
    clearButton->setText(tr("Clear"));
    connect(clearButton, &QToolButton::clicked, this, &InspectorWidget::clear);

    auto *copyButton = new QToolButton(this);
    copyButton->setObjectName(QStringLiteral("copyButton"));
    copyButton->setText(tr("Copy"));
    copyButton->setToolTip(tr("Copy the selected messages (tab-separated)"));
    connect(copyButton, &QToolButton::clicked, this, &InspectorWidget::copySelection);

    auto *exportButton = new QToolButton(this);
    exportButton->setObjectName(QStringLiteral("exportButton"));
    exportButton->setText(tr("Export\u2026"));
    exportButton->setToolTip(tr("Save the session's messages as JSON lines"));
    connect(exportButton, &QToolButton::clicked, this, &InspectorWidget::exportToFile);

    auto *bar = new QHBoxLayout;
    bar->addWidget(m_header, 1);
    bar->addWidget(m_search);
    bar->addWidget(m_pauseButton);
    bar->addWidget(clearButton);
    bar->addWidget(copyButton);
    bar->addWidget(exportButton);

    auto *splitter = new QSplitter(Qt::Horizontal, this);
    splitter->addWidget(m_view);
    splitter->addWidget(m_detail);
    splitter->setStretchFactor(0, 3);
    splitter->setStretchFactor(1, 2);
    connect(m_view->selectionModel(), &QItemSelectionModel::currentRowChanged, this, &InspectorWidget::showDetail);
    connect(m_view, &QAbstractItemView::doubleClicked, this, [this] { m_detail->setFocus(); });

    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(bar);
    layout->addWidget(splitter, 1);
    updateHeader();
}

InspectorWidget::~InspectorWidget()
{
    if (m_source && !m_session.isEmpty())
        m_source->setInspected(m_session, false);
}

void InspectorWidget::setSource(MonitorSource *source)
{
    if (m_source) {
        if (!m_session.isEmpty())
            m_source->setInspected(m_session, false);
        m_source->disconnect(this);
    }
    m_source = source;
    m_session.clear();
    m_description.clear();
    m_pending.clear();
    m_model->clear();
    if (m_source)
        connect(m_source, &MonitorSource::traffic, this, &InspectorWidget::onTraffic);
    updateHeader();
}

void InspectorWidget::setSession(const QByteArray &id, const QString &description)
{
    if (id == m_session) {
        if (!description.isEmpty() && description != m_description) {
            m_description = description;
            updateHeader();
        }
        return;
    }
    if (m_source && !m_session.isEmpty())
        m_source->setInspected(m_session, false);
    m_session = id;
    m_description = description;
    m_closed = false;
    m_pending.clear();
    m_model->clear();
    if (m_source && !m_session.isEmpty())
        m_source->setInspected(m_session, true);
    updateHeader();
}

void InspectorWidget::reinspect()
{
    if (m_source && !m_session.isEmpty() && !m_closed)
        m_source->setInspected(m_session, true);
}

void InspectorWidget::markClosed()
{
    if (m_closed || m_session.isEmpty())
        return;
    m_closed = true;
    updateHeader();
}

void InspectorWidget::updateHeader()
{
    if (m_session.isEmpty()) {
        m_header->setText(tr("Select a session to see its messages."));
        return;
    }
    QString text = tr("Session <b>%1</b>").arg(QString::fromLatin1(m_session).toHtmlEscaped());
    if (!m_description.isEmpty())
        text += QStringLiteral(" \u2014 ") + m_description.toHtmlEscaped();
    if (m_closed)
        text += tr(" <i>(closed)</i>");
    if (m_paused)
        text += tr(" <i>(paused)</i>");
    m_header->setText(text);
}

void InspectorWidget::setPaused(bool paused)
{
    if (paused == m_paused)
        return;
    m_paused = paused;
    if (m_pauseButton->isChecked() != paused)
        m_pauseButton->setChecked(paused);
    if (paused) {
        flush(); // what arrived before the click is shown
        m_flushTimer.stop();
    }
    updateHeader();
}

void InspectorWidget::clear()
{
    m_pending.clear();
    m_model->clear();
    m_detail->clear();
}

void InspectorWidget::copySelection()
{
    QList<int> rows;
    const QModelIndexList selected = m_view->selectionModel()->selectedRows();
    for (const QModelIndex &index : selected)
        rows.append(index.row());
    std::sort(rows.begin(), rows.end());
    if (rows.isEmpty())
        return;
    QApplication::clipboard()->setText(m_model->toText(rows));
}

void InspectorWidget::onTraffic(const TrafficEvent &event)
{
    if (m_paused || event.sessionId != m_session || m_session.isEmpty())
        return;
    m_pending.append(event);
    // Never hold more than the model would keep.
    if (m_pending.size() > 2 * m_model->capacity())
        m_pending.remove(0, m_pending.size() - m_model->capacity());
    if (!m_flushTimer.isActive())
        m_flushTimer.start(kFlushMs, this);
}

void InspectorWidget::flush()
{
    m_flushTimer.stop();
    if (m_pending.isEmpty())
        return;
    // Follow the newest message only when the user is already at the bottom.
    QScrollBar *scroll = m_view->verticalScrollBar();
    const bool atBottom = scroll->value() >= scroll->maximum() - 2;
    const QList<TrafficEvent> batch = std::exchange(m_pending, {});
    m_model->append(batch);
    if (atBottom)
        m_view->scrollToBottom();
}

void InspectorWidget::timerEvent(QTimerEvent *event)
{
    if (event->timerId() == m_flushTimer.timerId())
        flush();
    else
        QWidget::timerEvent(event);
}

QString InspectorWidget::hexDump(const QByteArray &data, qsizetype maxBytes)
{
    QString out;
    const qsizetype size = qMin(data.size(), maxBytes);
    for (qsizetype line = 0; line < size; line += 16) {
        QString hex;
        QString ascii;
        for (qsizetype i = line; i < line + 16; ++i) {
            if (i < size) {
                const auto byte = uchar(data.at(i));
                hex += QStringLiteral("%1 ").arg(byte, 2, 16, QLatin1Char('0'));
                ascii += byte >= 0x20 && byte < 0x7f ? QLatin1Char(char(byte)) : QLatin1Char('.');
            } else {
                hex += QStringLiteral("   ");
            }
            if (i == line + 7)
                hex += QLatin1Char(' ');
        }
        out += QStringLiteral("%1  %2 |%3|\n").arg(line, 8, 16, QLatin1Char('0')).arg(hex, ascii);
    }
    if (size < data.size())
        out += tr("\u2026 %1 more bytes\n").arg(data.size() - size);
    return out;
}

QString InspectorWidget::describe(const TrafficEvent &event)
{
    const bool in = event.direction == TrafficEvent::Direction::In;
    QString frame = TrafficEvent::frameName(event.frame);
    switch (event.frame) {
    case TrafficEvent::Frame::Open:
        frame += QStringLiteral(" (SockJS \"o\")");
        break;
    case TrafficEvent::Frame::Heartbeat:
        frame += QStringLiteral(" (SockJS \"h\")");
        break;
    case TrafficEvent::Frame::Close:
        frame += QStringLiteral(" (SockJS \"c\")");
        break;
    case TrafficEvent::Frame::Text:
    case TrafficEvent::Frame::Binary:
        frame += in ? tr(" message (from a SockJS send)") : tr(" message (in a SockJS \"a\" frame)");
        break;
    }
    QString text;
    text += tr("Direction: %1\n").arg(in ? tr("in (client \u2192 backend)") : tr("out (to the client)"));
    text += tr("Source:    %1\n").arg(TrafficEvent::sourceName(event.source));
    text += tr("Frame:     %1\n").arg(frame);
    text += tr("Size:      %1 bytes").arg(event.fullSize());
    if (event.isTruncated())
        text += tr(" (the first %1 kept)").arg(event.data.size());
    text += QLatin1Char('\n');
    text += tr("Time:      %1\n\n").arg(event.time.toLocalTime().toString(Qt::ISODateWithMs));

    bool controlBytes = false;
    for (const char c : event.data) {
        const auto byte = uchar(c);
        if ((byte < 0x20 && c != '\n' && c != '\r' && c != '\t') || byte == 0x7f)
            controlBytes = true;
    }
    if (event.frame != TrafficEvent::Frame::Binary) {
        QJsonParseError error;
        const QJsonDocument json = QJsonDocument::fromJson(event.data, &error);
        if (error.error == QJsonParseError::NoError && !event.data.trimmed().isEmpty()
            && (event.data.trimmed().startsWith('{') || event.data.trimmed().startsWith('['))) {
            text += tr("JSON:\n") + QString::fromUtf8(json.toJson(QJsonDocument::Indented)) + QLatin1Char('\n');
        } else {
            text += tr("Text:\n") + QString::fromUtf8(event.data) + QStringLiteral("\n\n");
        }
    }
    if (event.frame == TrafficEvent::Frame::Binary || controlBytes)
        text += tr("Hex:\n") + hexDump(event.data);
    return text;
}

void InspectorWidget::showDetail()
{
    const QModelIndex current = m_view->selectionModel()->currentIndex();
    if (!current.isValid() || current.row() >= m_model->rowCount()) {
        m_detail->clear();
        return;
    }
    m_detail->setPlainText(describe(m_model->eventAt(current.row())));
}

bool InspectorWidget::findNext(const QString &text)
{
    const int rows = m_model->rowCount();
    if (text.isEmpty() || rows == 0)
        return false;
    const QModelIndex current = m_view->selectionModel()->currentIndex();
    const int start = current.isValid() ? current.row() + 1 : 0;
    for (int i = 0; i < rows; ++i) {
        const int row = (start + i) % rows;
        if (QString::fromUtf8(m_model->eventAt(row).data).contains(text, Qt::CaseInsensitive)) {
            const QModelIndex index = m_model->index(row, 0);
            m_view->selectionModel()->setCurrentIndex(index,
                                                      QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
            m_view->scrollTo(index);
            return true;
        }
    }
    return false;
}

int InspectorWidget::exportTo(QIODevice *device) const
{
    int written = 0;
    for (int row = 0; row < m_model->rowCount(); ++row) {
        if (device->write(QJsonDocument(m_model->eventAt(row).toJson()).toJson(QJsonDocument::Compact) + '\n') < 0)
            break;
        ++written;
    }
    return written;
}

void InspectorWidget::exportToFile()
{
    const QString name = QFileDialog::getSaveFileName(
        this, tr("Export messages"), QStringLiteral("session-%1.jsonl").arg(QString::fromLatin1(m_session)),
        tr("JSON lines (*.jsonl);;All files (*)"));
    if (name.isEmpty())
        return;
    QFile file(name);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate)) {
        QMessageBox::warning(this, tr("Export messages"), tr("Cannot write %1: %2").arg(name, file.errorString()));
        return;
    }
    exportTo(&file);
}

} // namespace SockJsProxy
