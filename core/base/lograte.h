#pragma once

#include <QBasicTimer>
#include <QLoggingCategory>
#include <QObject>
#include <QString>

namespace SockJsProxy {

// Keeps log lines of one kind (a service's session opens, closes and
// refusals) to at most limit() a second. The caller asks admit() before it
// writes a line; beyond the limit the line is not written but counted, and
// once that second is over one info line of the category says how many
// were left out: "1234 more session events of /echo (opens, closes,
// refusals) not logged (at most 20 a second are)". With the category's
// debug output on (--verbose) every line is admitted.
//
// admit(nowMs) and flush(nowMs) take the time, so tests use fake time; the
// plain admit() reads the clock and a timer writes the summary.
class LogRateLimiter : public QObject
{
    Q_OBJECT

public:
    using Category = const QLoggingCategory &(*)();
    static constexpr int kDefaultPerSecond = 20;

    // what: the summary's words for the lines, "session events of /echo (opens, closes, refusals)".
    LogRateLimiter(Category category, const QString &what, int perSecond = kDefaultPerSecond,
                   QObject *parent = nullptr);

    bool admit();
    bool admit(qint64 nowMs);
    // Writes the summary of the window that ended before nowMs, if any line was left out.
    void flush(qint64 nowMs);

    int limit() const { return m_limit; }
    quint64 suppressedTotal() const { return m_suppressedTotal; } // ever, for tests and counters

protected:
    void timerEvent(QTimerEvent *event) override;

private:
    Category m_category;
    QString m_what;
    int m_limit;
    qint64 m_windowStartMs = 0;
    int m_admitted = 0;
    quint64 m_suppressed = 0; // in the current window
    quint64 m_suppressedTotal = 0;
    QBasicTimer m_timer;
};

} // namespace SockJsProxy
