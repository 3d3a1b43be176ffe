#pragma once

#include "monitortypes.h"

namespace SockJsProxy {

// Turns cumulative counters sampled at known times into per-second rates.
// Time is passed in, so tests use fake time.
class RateTracker
{
public:
    // Rates since the previous sample (zero for the first one, or when time
    // did not advance).
    Rates sample(qint64 nowMs, const Counters &counters);
    void reset() { m_hasSample = false; }

private:
    bool m_hasSample = false;
    qint64 m_lastMs = 0;
    Counters m_last;
};

} // namespace SockJsProxy
