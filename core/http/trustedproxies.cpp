#include "trustedproxies.h"

#include "ipaddress.h"

namespace SockJsProxy {

std::optional<TrustedProxies> TrustedProxies::parse(const QStringList &entries, QString *error)
{
    TrustedProxies result;
    for (const QString &entry : entries) {
        const QByteArray text = entry.toLatin1();
        const qsizetype slash = text.indexOf('/');
        const QByteArrayView addressText = slash < 0 ? QByteArrayView(text) : QByteArrayView(text).first(slash);
        QHostAddress address;
        quint16 prefix = 0;
        const bool ok = entry == QString::fromLatin1(text) && IpAddress::parse(addressText, &address)
                        && (slash < 0 || IpAddress::parsePort(QByteArrayView(text).sliced(slash + 1), &prefix));
        const int bits = address.protocol() == QAbstractSocket::IPv4Protocol ? 32 : 128;
        if (!ok || prefix > bits) {
            *error = QStringLiteral("\"%1\": not an IP address or CIDR range (10.0.0.0/8, fd00::/8)").arg(entry);
            return std::nullopt;
        }
        // parseSubnet clears the host bits: "10.1.2.3/8" is 10.0.0.0/8.
        QPair<QHostAddress, int> range = QHostAddress::parseSubnet(address.toString() + QLatin1Char('/')
                                                                   + QString::number(slash < 0 ? bits : prefix));
        const QHostAddress v4 = IpAddress::unmapped(range.first);
        if (v4 != range.first && range.second >= 96)
            range = {v4, range.second - 96};
        result.m_entries.append(entry);
        result.m_ranges.append(range);
    }
    return result;
}

bool TrustedProxies::contains(const QHostAddress &address) const
{
    if (m_ranges.isEmpty() || address.isNull())
        return false;
    const QHostAddress v4 = IpAddress::unmapped(address);
    for (const auto &range : m_ranges) {
        if (v4.isInSubnet(range) || address.isInSubnet(range))
            return true;
    }
    return false;
}

} // namespace SockJsProxy
