#include "connectionlimits.h"

#include <limits>

namespace SockJsProxy {

int ConnectionLimits::defaultMaxConnections(qint64 openFilesLimit, int services)
{
    if (openFilesLimit <= 0)
        return kDefaultWithoutLimit;
    const qint64 afterReserve = openFilesLimit - reserve(qMax(services, 0));
    const qint64 value = qMax(afterReserve, openFilesLimit / 4);
    return int(qBound(qint64(1), value, qint64(std::numeric_limits<int>::max())));
}

ConnectionLimits::Verdict ConnectionLimits::admit(const QHostAddress &client, bool shared)
{
    if (m_maxTotal > 0 && m_total >= m_maxTotal)
        return Verdict::OverTotal;
    if (m_maxPerAddress > 0 && !shared) {
        int &count = m_perAddress[client];
        if (count >= m_maxPerAddress)
            return Verdict::OverPerAddress;
        ++count;
    } else {
        ++m_perAddress[client];
    }
    ++m_total;
    return Verdict::Admitted;
}

void ConnectionLimits::release(const QHostAddress &client)
{
    const auto it = m_perAddress.find(client);
    if (it == m_perAddress.end())
        return;
    --m_total;
    if (--it.value() <= 0)
        m_perAddress.erase(it);
}

} // namespace SockJsProxy
