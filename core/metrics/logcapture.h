#pragma once

#include "monitortypes.h"

#include <QList>
#include <QObject>

namespace SockJsProxy {

// Forwards every Qt log message (qDebug/qCInfo/...) to messageLogged(),
// after the previously installed handler has printed it, and keeps the last
// kHistoryLines lines of level info and above for history() (the control
// stream sends them to a monitor that attaches). Install once per process;
// the signal is delivered on the thread of LogCapture.
class LogCapture : public QObject
{
    Q_OBJECT

public:
    static constexpr int kHistoryLines = 300;

    static LogCapture *instance(); // installs the handler on first use

    // Oldest first: what was logged (and delivered) before now.
    QList<LogLine> history() const;

Q_SIGNALS:
    // time: when it was logged (local time).
    void messageLogged(const QString &level, const QString &category, const QString &text, const QDateTime &time);

private:
    LogCapture();
    Q_INVOKABLE void deliver(const QString &level, const QString &category, const QString &text, const QDateTime &time);

    QList<LogLine> m_history; // a ring of kHistoryLines
    qsizetype m_next = 0;     // where the next line goes once the ring is full
};

} // namespace SockJsProxy
