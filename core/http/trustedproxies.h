#pragma once

#include <QHostAddress>
#include <QList>
#include <QPair>
#include <QString>
#include <QStringList>

#include <optional>

namespace SockJsProxy {

// The peers whose word on the client's address is taken (http.trusted_proxies):
// addresses and CIDR ranges, IPv4 and IPv6.
//   "10.0.0.7"       one address (a /32)
//   "10.0.0.0/8"     a range; host bits after the prefix are ignored
//   "::1", "fd00::/8"
//   "::ffff:10.0.0.0/104"  an IPv4-mapped range is the IPv4 range 10.0.0.0/8
// An IPv4-mapped IPv6 peer (::ffff:10.1.2.3, as a socket listening on :: sees
// IPv4 clients) is matched as the IPv4 address it maps. Empty: trust nobody.
class TrustedProxies
{
public:
    TrustedProxies() = default;

    // Parses every entry; on the first bad one returns nullopt and *error
    // names it ("\"10.0.0.0/33\": not an IP address or CIDR range").
    static std::optional<TrustedProxies> parse(const QStringList &entries, QString *error);

    bool isEmpty() const { return m_ranges.isEmpty(); }
    bool contains(const QHostAddress &address) const;
    // The entries as given, for the configuration's round trip and the logs.
    QStringList entries() const { return m_entries; }

    bool operator==(const TrustedProxies &other) const { return m_entries == other.m_entries; }

private:
    QStringList m_entries;
    QList<QPair<QHostAddress, int>> m_ranges; // IPv4-mapped ranges stored as IPv4
};

} // namespace SockJsProxy
