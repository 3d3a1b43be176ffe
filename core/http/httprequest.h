#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QList>
#include <QPair>

namespace SockJsProxy {

// One parsed HTTP/1.x request. Plain value type; header names keep the case
// the client sent and are looked up case-insensitively.
struct HttpRequest
{
    QByteArray method; // "GET", "POST", ... as sent (methods are case-sensitive)
    QByteArray target; // request-target as sent, e.g. "/echo/info?t=1"
    QByteArray path;   // target up to '?', not percent-decoded
    QByteArray query;  // after '?', not percent-decoded; empty if none
    int versionMajor = 1;
    int versionMinor = 1;
    QList<QPair<QByteArray, QByteArray>> headers; // values trimmed of OWS
    QByteArray body;                              // de-chunked when the request was chunked

    // First value of the header, or a null QByteArray when absent.
    QByteArray header(const QByteArray &name) const;
    bool hasHeader(const QByteArray &name) const;
    // True when a comma-separated header (Connection, Upgrade, ...) lists
    // token, compared case-insensitively: "keep-alive, Upgrade" has "upgrade".
    bool headerHasToken(const QByteArray &name, const QByteArray &token) const;

    bool isHttp10() const { return versionMajor == 1 && versionMinor == 0; }
    // HTTP/1.1 defaults to keep-alive unless "Connection: close";
    // HTTP/1.0 only with "Connection: keep-alive".
    bool keepAlive() const;
    // Value of a query parameter, percent-decoded ('+' is a space); null when absent.
    QByteArray queryItem(const QByteArray &name) const;
};

// Whether path (not decoded) lies under a URL prefix: "/echo" covers "/echo"
// and "/echo/info" but not "/echoes"; "/" covers every path. The one prefix
// match of the routing, for static mounts and services alike.
bool pathUnderPrefix(QByteArrayView path, QByteArrayView prefix);

} // namespace SockJsProxy
