#include "lograte.h"

#include <QDateTime>
#include <QTimerEvent>

#include <utility>

namespace SockJsProxy {

namespace {
constexpr qint64 kWindowMs = 1000;
}

LogRateLimiter::LogRateLimiter(Category category, const QString &what, int perSecond, QObject *parent)
    : QObject(parent), m_category(category), m_what(what), m_limit(qMax(1, perSecond))
{}

bool LogRateLimiter::admit() { return admit(QDateTime::currentMSecsSinceEpoch()); }

bool LogRateLimiter::admit(qint64 nowMs)
{
    if (m_category().isDebugEnabled())
        return true;
    if (nowMs >= m_windowStartMs + kWindowMs) {
        flush(nowMs);
        m_windowStartMs = nowMs;
        m_admitted = 0;
    }
    if (m_admitted < m_limit) {
        ++m_admitted;
        return true;
    }
    ++m_suppressed;
    ++m_suppressedTotal;
    // Said when the window is over, even if nothing else comes.
    if (!m_timer.isActive())
        m_timer.start(int(qMax<qint64>(1, m_windowStartMs + kWindowMs - nowMs)), this);
    return false;
}

void LogRateLimiter::flush(qint64 nowMs)
{
    if (m_suppressed == 0 || nowMs < m_windowStartMs + kWindowMs)
        return;
    m_timer.stop();
    const quint64 count = std::exchange(m_suppressed, 0);
    qCInfo(m_category).noquote()
        << QStringLiteral("%1 more %2 not logged (at most %3 a second are)").arg(count).arg(m_what).arg(m_limit);
}

void LogRateLimiter::timerEvent(QTimerEvent *event)
{
    if (event->timerId() != m_timer.timerId())
        return QObject::timerEvent(event);
    m_timer.stop();
    flush(QDateTime::currentMSecsSinceEpoch());
}

} // namespace SockJsProxy
