#pragma once

#include <QElapsedTimer>
#include <QtGlobal>

namespace SockJsProxy {

// Rate limit for a log line that outside input can trigger at will (a
// malformed header on every request): at most one line per interval; the
// next line allowed says how many were left out meanwhile.
class LogThrottle
{
public:
    explicit LogThrottle(qint64 intervalMs = 10000) : m_intervalMs(intervalMs) {}

    // True when a line may be written now; *suppressed is then the number
    // of lines left out since the last one written.
    bool allow(quint64 *suppressed)
    {
        if (m_clock.isValid() && !m_clock.hasExpired(m_intervalMs)) {
            ++m_suppressed;
            return false;
        }
        m_clock.start();
        *suppressed = m_suppressed;
        m_suppressed = 0;
        return true;
    }

private:
    qint64 m_intervalMs;
    QElapsedTimer m_clock;
    quint64 m_suppressed = 0;
};

} // namespace SockJsProxy
