#pragma once

#include <QtGlobal>

namespace SockJsProxy {

// How long a listener stops accepting after accept() failed for lack of
// file descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM): a pause
// that starts short and doubles while the failures go on, up to a bound.
//
// A run is the time from the first failure until a connection is accepted
// with no failure in the kSettleMs before it; each pause is one period.
// Near the limit, with clients coming and going, descriptors free up and
// run out again every moment: a connection accepted between two failures
// does not end the run, so the pauses stay long and the listener logs
// about once a second rather than at every connection.
//
// Pure arithmetic on a clock passed in (milliseconds of a monotonic clock;
// tests use fake time). The Listener does the pausing.
class AcceptBackoff
{
public:
    static constexpr qint64 kFirstPauseMs = 100;
    static constexpr qint64 kMaxPauseMs = 1000;
    static constexpr qint64 kSettleMs = 2000;

    // accept() failed at nowMs: returns how long to pause.
    qint64 failed(qint64 nowMs);
    // Connection attempts refused during the current period (taken with a
    // reserve descriptor and closed at once).
    void refused(quint64 attempts)
    {
        m_refusedInPeriod += attempts;
        m_refusedInRun += attempts;
    }
    // accept() gave a connection at nowMs. Returns the length of the run
    // this ends in milliseconds, or -1 when it ends none (there was none,
    // or the last failure is less than kSettleMs ago).
    qint64 succeeded(qint64 nowMs);

    bool inRun() const { return m_runStartMs >= 0; }
    // The pause the last failed() returned.
    qint64 pauseMs() const { return m_pauseMs; }
    // Periods (pauses) of the current run, and all of them.
    quint64 periodsInRun() const { return m_periodsInRun; }
    quint64 periods() const { return m_periods; }
    // Attempts refused since the last failed() (the current period), and
    // in the current (or, after it ended, the last) run.
    quint64 refusedInPeriod() const { return m_refusedInPeriod; }
    quint64 refusedInRun() const { return m_refusedInRun; }

private:
    qint64 m_runStartMs = -1;
    qint64 m_lastFailureMs = -1;
    qint64 m_pauseMs = 0;
    quint64 m_periodsInRun = 0;
    quint64 m_periods = 0;
    quint64 m_refusedInPeriod = 0;
    quint64 m_refusedInRun = 0;
};

} // namespace SockJsProxy
