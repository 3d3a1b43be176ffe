#pragma once

#include <QByteArrayView>
#include <QHostAddress>

namespace SockJsProxy {

// Strict textual IP addresses, for values that come from configuration and
// from the wire (forwarding headers, the PROXY protocol). QHostAddress alone
// is lenient: it takes "10" for 0.0.0.10, trims spaces and accepts scope ids.
namespace IpAddress {

// Dotted decimal: four numbers 0-255, no leading zeros ("010.0.0.1" is
// refused, as inet_pton does), nothing else.
bool parseIpv4(QByteArrayView text, QHostAddress *address);
// RFC 4291 text (hex digits, ':' and an optional trailing dotted quad); no
// brackets, no zone ("%eth0"), no spaces.
bool parseIpv6(QByteArrayView text, QHostAddress *address);
// Either of the two: IPv6 when the text has a ':'.
bool parse(QByteArrayView text, QHostAddress *address);
// A decimal port 0-65535 without sign, spaces or leading zeros.
bool parsePort(QByteArrayView text, quint16 *port);

// The IPv4 address an IPv4-mapped IPv6 address (::ffff:a.b.c.d) stands for;
// any other address unchanged.
QHostAddress unmapped(const QHostAddress &address);

} // namespace IpAddress
} // namespace SockJsProxy
