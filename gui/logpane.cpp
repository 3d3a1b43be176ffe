#include "logpane.h"

#include "logfiltermodel.h"
#include "metrics/monitorsource.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QScrollBar>
#include <QTableView>
#include <QTimerEvent>
#include <QToolButton>
#include <QVBoxLayout>

#include <utility>

namespace SockJsProxy {

LogPane::LogPane(QWidget *parent)
    : QWidget(parent), m_model(new LogModel(this)), m_filter(new LogFilterModel(this)), m_view(new QTableView(this)),
      m_level(new QComboBox(this))
{
    m_filter->setSourceModel(m_model);
    m_view->setObjectName(QStringLiteral("logView"));
    m_view->setModel(m_filter);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_view->setWordWrap(false);
    m_view->verticalHeader()->hide();
    m_view->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    m_view->verticalHeader()->setDefaultSectionSize(m_view->fontMetrics().height() + 4);
    m_view->horizontalHeader()->setStretchLastSection(true);
    const QFontMetrics metrics = m_view->fontMetrics();
    m_view->setColumnWidth(LogModel::TimeColumn, metrics.horizontalAdvance(QStringLiteral("00:00:00.000")) + 20);
    m_view->setColumnWidth(LogModel::LevelColumn, metrics.horizontalAdvance(QStringLiteral("critical")) + 20);
    m_view->setColumnWidth(LogModel::CategoryColumn,
                           metrics.horizontalAdvance(QStringLiteral("sockjsproxy.session")) + 20);

    m_level->setObjectName(QStringLiteral("logLevelCombo"));
    for (const LogModel::Level level :
         {LogModel::Level::Debug, LogModel::Level::Info, LogModel::Level::Warning, LogModel::Level::Critical})
        m_level->addItem(LogModel::levelName(level), int(level));
    m_level->setCurrentIndex(int(LogModel::Level::Info));
    m_filter->setMinimumLevel(LogModel::Level::Info);
    connect(m_level, &QComboBox::currentIndexChanged, this,
            [this] { m_filter->setMinimumLevel(LogModel::Level(m_level->currentData().toInt())); });

    auto *search = new QLineEdit(this);
    search->setPlaceholderText(tr("Filter log"));
    search->setClearButtonEnabled(true);
    connect(search, &QLineEdit::textChanged, m_filter, &LogFilterModel::setTextFilter);

    auto *clearButton = new QToolButton(this);
    clearButton->setText(tr("Clear"));
    connect(clearButton, &QToolButton::clicked, this, [this] {
        m_pending.clear();
        m_model->clear();
    });

    auto *bar = new QHBoxLayout;
    bar->addWidget(new QLabel(tr("Level at least:"), this));
    bar->addWidget(m_level);
    bar->addWidget(search, 1);
    bar->addWidget(clearButton);

    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(bar);
    layout->addWidget(m_view, 1);
}

void LogPane::setSource(MonitorSource *source)
{
    if (m_source)
        m_source->disconnect(this);
    m_source = source;
    if (m_source)
        connect(m_source, &MonitorSource::logMessage, this, &LogPane::addLine);
}

void LogPane::addLine(const QString &level, const QString &category, const QString &text, const QDateTime &time)
{
    const QDateTime when = time.isValid() ? time : QDateTime::currentDateTime();
    const LogModel::Level levelValue = LogModel::levelFromName(level);
    const auto same = [&](const LogModel::Entry &entry) {
        return entry.level == levelValue && entry.text == text && entry.category == category;
    };
    if (!m_pending.isEmpty() && same(m_pending.last())) {
        ++m_pending.last().repeats;
        m_pending.last().time = when;
        return;
    }
    if (m_pending.isEmpty() && m_model->rowCount() > 0 && same(m_model->entryAt(m_model->rowCount() - 1))) {
        m_model->repeatLast(when);
        return;
    }
    m_pending.append({when, levelValue, category, text});
    // A flood (--verbose at high rates) keeps only what the model would.
    if (m_pending.size() > 2 * m_model->capacity())
        m_pending.remove(0, m_pending.size() - m_model->capacity());
    if (!m_flushTimer.isActive())
        m_flushTimer.start(kFlushMs, this);
}

void LogPane::flush()
{
    m_flushTimer.stop();
    if (m_pending.isEmpty())
        return;
    QScrollBar *scroll = m_view->verticalScrollBar();
    const bool atBottom = scroll->value() >= scroll->maximum() - 2;
    m_model->append(std::exchange(m_pending, {}));
    if (atBottom)
        m_view->scrollToBottom();
}

void LogPane::timerEvent(QTimerEvent *event)
{
    if (event->timerId() == m_flushTimer.timerId())
        flush();
    else
        QWidget::timerEvent(event);
}

} // namespace SockJsProxy
