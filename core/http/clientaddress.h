#pragma once

#include "trustedproxies.h"

#include <QByteArray>
#include <QHostAddress>
#include <QString>

namespace SockJsProxy {

struct HttpRequest;

// Where a connection or request comes from: the client's address, which
// limits, check_address, logs and the monitor use, and the hop it came
// through when that is not the client itself (a load balancer).
//
// Without trusted proxies and the PROXY protocol, address and port are the
// TCP peer's and via is null: the proxy behaves as if none of this existed.
struct ClientAddress
{
    // QHostAddress() allocates its private part: both start as copies of
    // one shared null address instead (a connection keeps two of these).
    QHostAddress address = nullAddress(); // the client
    quint16 port = 0;                     // 0 when the forwarding information carried none
    QHostAddress via = nullAddress();     // the TCP peer, when it is not the client; else null
    quint16 viaPort = 0;
    QByteArray scheme = QByteArrayLiteral("http"); // as the client used it: http, https, ...

    bool isForwarded() const { return !via.isNull(); }
    // "203.0.113.7:5123", "[2001:db8::1]:443", "203.0.113.7 via 10.0.0.2:41000"
    // (no port when unknown): for the logs.
    QString toString() const;

    // A direct TCP peer.
    static ClientAddress direct(const QHostAddress &peer, quint16 port);

private:
    static QHostAddress nullAddress();
};

// The forwarding headers of a request (Forwarded, X-Forwarded-For,
// X-Real-IP, X-Forwarded-Proto): pure functions, no sockets.
//
// Which header: Forwarded (RFC 7239) when the request has one, else
// X-Forwarded-For, else X-Real-IP; a malformed one is not passed over for
// the next. Several field lines of one name are one list, in order.
//
// Forwarded and X-Forwarded-For are walked from the right (the hop closest
// to us) to the left: a trusted address is a proxy of ours and is skipped;
// the first untrusted one is the client; when every one is trusted, the
// leftmost is. A line is read only when the walk reaches it, so a client's
// own garbage in an earlier line cannot spoil the entry our proxy appended.
//
// Accepted addresses: IPv4 and IPv6, the latter in brackets where a port may
// follow ("[2001:db8::1]:4711"; X-Forwarded-For also takes it bare). In
// Forwarded, a for= value with ':' or '[' must be quoted, each parameter may
// occur once per element, and "unknown" or an obfuscated identifier
// ("_hidden") where the walk needs an address is malformed (the address
// cannot be limited or checked). The scheme, in lower case, must be a URI
// scheme: with Forwarded the proto= of the element the client was found in,
// otherwise the leftmost X-Forwarded-Proto value (the one the first proxy
// wrote), also without any address header.
namespace ForwardedHeaders {

struct Result
{
    bool malformed = false;
    QByteArray error; // when malformed: which header and why, for a log line
    bool hasAddress = false;
    QHostAddress address;
    quint16 port = 0;  // 0 when not given
    QByteArray scheme; // empty when not given
    QByteArray header; // the header the address came from
};

Result resolve(const HttpRequest &request, const TrustedProxies &trusted);

} // namespace ForwardedHeaders

// The client of a request that arrived over a connection from `hop` (the
// TCP peer, or the source a PROXY header named) and `peer` (the TCP peer):
// when hop is trusted, from the request's forwarding headers; otherwise, or
// when they are absent, hop itself. A malformed header leaves hop and sets
// *malformed to the reason (else it is cleared).
ClientAddress resolveClientAddress(const ClientAddress &hop, const HttpRequest &request, const TrustedProxies &trusted,
                                   QByteArray *malformed);

} // namespace SockJsProxy
