#pragma once

#include <QObject>

namespace SockJsProxy {

// The bytes waiting in every outgoing queue of the process, against
// limits.max_queued_bytes_total: the sessions' queues towards their clients
// (Session) and the events queued for absent or slow backends (ZmqSocket's
// outbox). Each queue adds what it takes in and removes what leaves it, so
// the total is always the sum of what they hold.
//
// When the total passes the limit, overLimit() is emitted once; the owner
// (Server) then closes the sessions holding the largest queues until the
// total is back at the low-water mark. It is emitted again only after the
// total went back to the low-water mark: a total that stays over it (a
// backend queue that no session close can shrink) does not call for the
// same work at every message.
//
// One thread. No limit (0): counts, never emits.
class QueueBudget : public QObject
{
    Q_OBJECT

public:
    static constexpr qint64 kDefaultLimit = qint64(512) * 1024 * 1024;

    explicit QueueBudget(qint64 limit = 0, QObject *parent = nullptr) : QObject(parent), m_limit(limit) {}

    void setLimit(qint64 limit) { m_limit = limit; }
    qint64 limit() const { return m_limit; }
    // Seven eighths of the limit: where closing stops.
    qint64 lowWater() const { return lowWaterFor(m_limit); }
    static qint64 lowWaterFor(qint64 limit) { return limit - limit / 8; }
    qint64 total() const { return m_total; }

    void add(qint64 bytes)
    {
        m_total += bytes;
        if (m_limit > 0 && m_total > m_limit && !m_signalled) {
            m_signalled = true;
            Q_EMIT overLimit();
        }
    }
    void remove(qint64 bytes)
    {
        m_total -= bytes;
        if (m_signalled && m_total <= lowWater())
            m_signalled = false;
    }

Q_SIGNALS:
    // The total passed the limit. Connect it queued: it fires from inside
    // the queue that grew.
    void overLimit();

private:
    qint64 m_limit = 0;
    qint64 m_total = 0;
    bool m_signalled = false;
};

} // namespace SockJsProxy
