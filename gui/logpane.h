#pragma once

#include "logmodel.h"
#include "metrics/monitorsource.h"

#include <QBasicTimer>
#include <QPointer>
#include <QWidget>

class QComboBox;
class QTableView;

namespace SockJsProxy {

class LogFilterModel;

// The log pane: what the source reports through logMessage(), newest at
// the bottom, at most LogModel::capacity() lines, filtered by minimum level
// (and text). Lines are appended in batches every kFlushMs.
class LogPane : public QWidget
{
    Q_OBJECT

public:
    static constexpr int kFlushMs = 200;

    explicit LogPane(QWidget *parent = nullptr);

    // Not owned; may be null.
    void setSource(SockJsProxy::MonitorSource *source);
    // A line from the monitor itself (attach errors, ...).
    // A line equal to the one before (level, category, text) only counts
    // up that one's "(×N)". time: when it was logged (invalid: now).
    void addLine(const QString &level, const QString &category, const QString &text,
                 const QDateTime &time = QDateTime());
    void flush();

    LogModel *model() const { return m_model; }
    LogFilterModel *filterModel() const { return m_filter; }
    QComboBox *levelCombo() const { return m_level; }

protected:
    void timerEvent(QTimerEvent *event) override;

private:
    QPointer<MonitorSource> m_source;
    QList<LogModel::Entry> m_pending;
    QBasicTimer m_flushTimer;
    LogModel *m_model;
    LogFilterModel *m_filter;
    QTableView *m_view;
    QComboBox *m_level;
};

} // namespace SockJsProxy
