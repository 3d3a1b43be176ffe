#include "acceptbackoff.h"

namespace SockJsProxy {

qint64 AcceptBackoff::failed(qint64 nowMs)
{
    if (m_runStartMs < 0) {
        m_runStartMs = nowMs;
        m_periodsInRun = 0;
        m_refusedInRun = 0;
        m_pauseMs = kFirstPauseMs;
    } else {
        m_pauseMs = qMin(m_pauseMs * 2, kMaxPauseMs);
    }
    m_lastFailureMs = nowMs;
    ++m_periodsInRun;
    ++m_periods;
    m_refusedInPeriod = 0;
    return m_pauseMs;
}

qint64 AcceptBackoff::succeeded(qint64 nowMs)
{
    if (m_runStartMs < 0 || nowMs - m_lastFailureMs < kSettleMs)
        return -1;
    const qint64 length = nowMs - m_runStartMs;
    m_runStartMs = -1;
    m_pauseMs = 0;
    m_refusedInPeriod = 0;
    return length;
}

} // namespace SockJsProxy
