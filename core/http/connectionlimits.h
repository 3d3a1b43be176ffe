#pragma once

#include <QHash>
#include <QHostAddress>

namespace SockJsProxy {

// The client connections open on one listener, against
// limits.max_connections (in total) and limits.max_connections_per_address
// (from one client address). 0 means no limit. Pure bookkeeping: the
// Listener asks admit() for each connection it accepts and calls release()
// when it is gone.
class ConnectionLimits
{
public:
    enum class Verdict { Admitted, OverTotal, OverPerAddress };

    // Descriptors left for everything but client connections when
    // max_connections is derived from the open files limit: ZeroMQ's
    // sockets, their backends' connections and the context's own (about 10
    // per service and 2 per backend), the control endpoint and its
    // clients, served and logged files, the event loop's.
    static constexpr int kReserve = 128;
    static constexpr int kReservePerService = 16;
    // The default where the system has no descriptor limit to read (Windows).
    static constexpr int kDefaultWithoutLimit = 60000;

    // The default of limits.max_connections: the soft open files limit
    // less the reserve, and never less than a quarter of that limit (a
    // limit so low leaves more to connections than the reserve would).
    static int defaultMaxConnections(qint64 openFilesLimit, int services);
    static int reserve(int services) { return kReserve + kReservePerService * services; }

    void setLimits(int maxTotal, int maxPerAddress)
    {
        m_maxTotal = maxTotal;
        m_maxPerAddress = maxPerAddress;
    }
    int maxTotal() const { return m_maxTotal; }
    int maxPerAddress() const { return m_maxPerAddress; }

    // Counts a connection from client, or says which limit it would pass
    // (the total first). A shared client (a trusted load balancer, which
    // carries many clients' connections) is held to the total only.
    Verdict admit(const QHostAddress &client, bool shared = false);
    // A counted connection from client is gone.
    void release(const QHostAddress &client);

    int total() const { return m_total; }
    int count(const QHostAddress &client) const { return m_perAddress.value(client); }
    qsizetype addresses() const { return m_perAddress.size(); }

private:
    int m_maxTotal = 0;
    int m_maxPerAddress = 0;
    int m_total = 0;
    QHash<QHostAddress, int> m_perAddress;
};

} // namespace SockJsProxy
