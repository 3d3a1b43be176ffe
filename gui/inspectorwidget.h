#pragma once

#include "metrics/monitorsource.h"

#include <QBasicTimer>
#include <QPointer>
#include <QWidget>

class QIODevice;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QTableView;
class QToolButton;

namespace SockJsProxy {

class TrafficModel;

// The message inspector: recent messages of one session, both directions.
// setSession() asks the source to report that session's traffic
// (setInspected(id, true)) and stops the previous one. Traffic is buffered
// and appended in batches every kFlushMs, so a busy session costs a few
// model updates a second; the model keeps the last TrafficModel::capacity()
// messages. Pause drops what arrives until it is released.
//
// Beside the list, a detail pane shows the current message in full:
// direction, source, frame type, size and time, the text (JSON
// pretty-printed) and, for binary data or text with control bytes, a hex
// dump. Export writes the session's messages as JSON lines.
class InspectorWidget : public QWidget
{
    Q_OBJECT

public:
    static constexpr int kFlushMs = 150;

    explicit InspectorWidget(QWidget *parent = nullptr);
    ~InspectorWidget() override;

    // Not owned; may be null. Resets the inspected session.
    void setSource(SockJsProxy::MonitorSource *source);
    // Inspects id (empty: none). description names it in the header.
    void setSession(const QByteArray &id, const QString &description = QString());
    QByteArray session() const { return m_session; }
    // Tells the source again (a remote source forgets after reconnecting).
    void reinspect();
    // The inspected session has gone; its messages stay visible.
    void markClosed();

    bool isPaused() const { return m_paused; }
    void setPaused(bool paused);
    void clear();
    void copySelection();
    // One JSON object a line (TrafficEvent::toJson) for every message shown.
    // Returns the number written.
    int exportTo(QIODevice *device) const;
    void exportToFile();
    // Makes the next message (after the current one, wrapping) whose text
    // contains text (any case) current; false if none does.
    bool findNext(const QString &text);
    QLineEdit *searchEdit() const { return m_search; }
    QPlainTextEdit *detailPane() const { return m_detail; }
    // What the detail pane shows for event.
    static QString describe(const SockJsProxy::TrafficEvent &event);
    // "00000000  7b 22 61 22 ...  |{"a"|", 16 bytes a line, at most maxBytes.
    static QString hexDump(const QByteArray &data, qsizetype maxBytes = 64 * 1024);
    // Messages received but not yet appended (the next flush adds them).
    int pendingCount() const { return int(m_pending.size()); }

    TrafficModel *model() const { return m_model; }
    QTableView *view() const { return m_view; }

protected:
    void timerEvent(QTimerEvent *event) override;

private:
    void onTraffic(const SockJsProxy::TrafficEvent &event);
    void flush();
    void updateHeader();
    void showDetail();

    QPointer<MonitorSource> m_source;
    QByteArray m_session;
    QString m_description;
    bool m_closed = false;
    bool m_paused = false;
    QList<TrafficEvent> m_pending;
    QBasicTimer m_flushTimer;
    TrafficModel *m_model;
    QTableView *m_view;
    QLabel *m_header;
    QToolButton *m_pauseButton;
    QPlainTextEdit *m_detail;
    QLineEdit *m_search;
};

} // namespace SockJsProxy
