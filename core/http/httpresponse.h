#pragma once

#include <QByteArray>
#include <QList>
#include <QPair>

namespace SockJsProxy {

// Status and headers of a response (and its body when it is not streamed).
// Connection adds the framing headers (Content-Length, Transfer-Encoding,
// Connection), so handlers never set those.
struct HttpResponse
{
    HttpResponse() = default;
    explicit HttpResponse(int status) : status(status) {}

    int status = 200;
    QList<QPair<QByteArray, QByteArray>> headers;
    QByteArray body;

    HttpResponse &setHeader(const QByteArray &name, const QByteArray &value);
    QByteArray header(const QByteArray &name) const;
    bool hasHeader(const QByteArray &name) const;
    void removeHeader(const QByteArray &name);

    static QByteArray reasonPhrase(int status);
    // A short text/plain response, e.g. for errors: body is text + "\n".
    static HttpResponse text(int status, const QByteArray &text);
};

} // namespace SockJsProxy
