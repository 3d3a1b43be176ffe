#include "ratetracker.h"

namespace SockJsProxy {

namespace {
double perSecond(quint64 now, quint64 before, double seconds)
{
    // Counters may have been reset underneath (a restarted proxy): no negative rates.
    return now >= before ? double(now - before) / seconds : 0.0;
}
} // namespace

Rates RateTracker::sample(qint64 nowMs, const Counters &counters)
{
    Rates rates;
    if (m_hasSample && nowMs > m_lastMs) {
        const double seconds = double(nowMs - m_lastMs) / 1000.0;
        rates.sessionsOpened = perSecond(counters.sessionsOpened, m_last.sessionsOpened, seconds);
        rates.sessionsClosed = perSecond(counters.sessionsClosed, m_last.sessionsClosed, seconds);
        rates.messagesIn = perSecond(counters.messagesIn, m_last.messagesIn, seconds);
        rates.messagesOut = perSecond(counters.messagesOut, m_last.messagesOut, seconds);
        rates.bytesIn = perSecond(counters.bytesIn, m_last.bytesIn, seconds);
        rates.bytesOut = perSecond(counters.bytesOut, m_last.bytesOut, seconds);
    }
    if (!m_hasSample || nowMs > m_lastMs) {
        m_hasSample = true;
        m_lastMs = nowMs;
        m_last = counters;
    }
    return rates;
}

} // namespace SockJsProxy
