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
        rates.sessionsOpened = perSecond(counters[Counter::SessionsOpened], m_last[Counter::SessionsOpened], seconds);
        rates.sessionsClosed = perSecond(counters[Counter::SessionsClosed], m_last[Counter::SessionsClosed], seconds);
        rates.messagesIn = perSecond(counters[Counter::MessagesIn], m_last[Counter::MessagesIn], seconds);
        rates.messagesOut = perSecond(counters[Counter::MessagesOut], m_last[Counter::MessagesOut], seconds);
        rates.bytesIn = perSecond(counters[Counter::BytesIn], m_last[Counter::BytesIn], seconds);
        rates.bytesOut = perSecond(counters[Counter::BytesOut], m_last[Counter::BytesOut], seconds);
    }
    if (!m_hasSample || nowMs > m_lastMs) {
        m_hasSample = true;
        m_lastMs = nowMs;
        m_last = counters;
    }
    return rates;
}

} // namespace SockJsProxy
