#include "ipaddress.h"

#include <QString>

namespace SockJsProxy::IpAddress {

namespace {
bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isHexDigit(char c) { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// A decimal number without leading zeros, at most max.
bool parseDecimal(QByteArrayView text, quint32 max, quint32 *value)
{
    if (text.isEmpty() || text.size() > 5 || (text.size() > 1 && text.front() == '0'))
        return false;
    quint32 result = 0;
    for (const char c : text) {
        if (!isDigit(c))
            return false;
        result = result * 10 + quint32(c - '0');
    }
    if (result > max)
        return false;
    *value = result;
    return true;
}
} // namespace

bool parseIpv4(QByteArrayView text, QHostAddress *address)
{
    quint32 ip = 0;
    int parts = 0;
    qsizetype start = 0;
    for (;;) {
        qsizetype dot = text.indexOf('.', start);
        const bool last = dot < 0;
        if (last)
            dot = text.size();
        quint32 octet = 0;
        if (++parts > 4 || !parseDecimal(text.sliced(start, dot - start), 255, &octet))
            return false;
        ip = (ip << 8) | octet;
        if (last)
            break;
        start = dot + 1;
    }
    if (parts != 4)
        return false;
    if (address)
        address->setAddress(ip);
    return true;
}

bool parseIpv6(QByteArrayView text, QHostAddress *address)
{
    // The longest form: eight groups of four hex digits, or six and a dotted quad.
    if (text.size() < 2 || text.size() > 45 || !text.contains(':'))
        return false;
    for (const char c : text) {
        if (!isHexDigit(c) && c != ':' && c != '.')
            return false;
    }
    QHostAddress parsed;
    if (!parsed.setAddress(QString::fromLatin1(text)) || parsed.protocol() != QAbstractSocket::IPv6Protocol)
        return false;
    if (address)
        *address = parsed;
    return true;
}

bool parse(QByteArrayView text, QHostAddress *address)
{
    return text.contains(':') ? parseIpv6(text, address) : parseIpv4(text, address);
}

bool parsePort(QByteArrayView text, quint16 *port)
{
    quint32 value = 0;
    if (!parseDecimal(text, 65535, &value))
        return false;
    if (port)
        *port = quint16(value);
    return true;
}

QHostAddress unmapped(const QHostAddress &address)
{
    if (address.protocol() != QAbstractSocket::IPv6Protocol)
        return address;
    const Q_IPV6ADDR bytes = address.toIPv6Address();
    for (int i = 0; i < 10; ++i) {
        if (bytes[i] != 0)
            return address;
    }
    if (bytes[10] != 0xff || bytes[11] != 0xff)
        return address;
    return QHostAddress(quint32(bytes[12]) << 24 | quint32(bytes[13]) << 16 | quint32(bytes[14]) << 8 | bytes[15]);
}

} // namespace SockJsProxy::IpAddress
