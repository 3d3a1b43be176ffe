#include "httprequest.h"

#include "httpchars.h"

namespace SockJsProxy {

using namespace HttpChars;

namespace {

// application/x-www-form-urlencoded decoding: '+' is a space, %XX a byte.
// A '%' not followed by two hex digits is kept literally (Qt's
// QByteArray::fromPercentEncoding would turn it into garbage). The result is
// never null, so an empty-but-present value stays distinguishable from absent.
QByteArray formDecode(QByteArrayView s)
{
    QByteArray out(""); // non-null even when it stays empty
    out.reserve(s.size());
    for (qsizetype i = 0; i < s.size(); ++i) {
        const char c = s.at(i);
        if (c == '+') {
            out.append(' ');
        } else if (c == '%' && i + 2 < s.size() && hexValue(s.at(i + 1)) >= 0 && hexValue(s.at(i + 2)) >= 0) {
            out.append(char(hexValue(s.at(i + 1)) * 16 + hexValue(s.at(i + 2))));
            i += 2;
        } else {
            out.append(c);
        }
    }
    return out;
}

} // namespace

QByteArray HttpRequest::header(const QByteArray &name) const
{
    for (const auto &h : headers) {
        if (h.first.compare(name, Qt::CaseInsensitive) == 0)
            return h.second.isNull() ? QByteArray("") : h.second;
    }
    return QByteArray();
}

bool HttpRequest::hasHeader(const QByteArray &name) const
{
    for (const auto &h : headers) {
        if (h.first.compare(name, Qt::CaseInsensitive) == 0)
            return true;
    }
    return false;
}

bool HttpRequest::headerHasToken(const QByteArray &name, const QByteArray &token) const
{
    // Every field line of that name counts: "Connection: keep-alive" and
    // "Connection: Upgrade" on two lines mean the same as one combined line.
    for (const auto &h : headers) {
        if (h.first.compare(name, Qt::CaseInsensitive) != 0)
            continue;
        for (const QByteArrayView element : listElements(h.second)) {
            if (element.compare(token, Qt::CaseInsensitive) == 0)
                return true;
        }
    }
    return false;
}

bool HttpRequest::keepAlive() const
{
    if (headerHasToken("Connection", "close"))
        return false;
    if (versionMajor == 1 && versionMinor >= 1)
        return true;
    // HTTP/1.0 (and anything older) closes unless the client asked otherwise.
    return headerHasToken("Connection", "keep-alive");
}

QByteArray HttpRequest::queryItem(const QByteArray &name) const
{
    const QByteArrayView q(query);
    qsizetype start = 0;
    while (start < q.size()) {
        qsizetype amp = q.indexOf('&', start);
        if (amp < 0)
            amp = q.size();
        const QByteArrayView pair = q.sliced(start, amp - start);
        start = amp + 1;
        if (pair.isEmpty())
            continue;
        const qsizetype eq = pair.indexOf('=');
        const QByteArrayView rawName = eq < 0 ? pair : pair.first(eq);
        if (formDecode(rawName) != name)
            continue;
        // "name" without '=' is present with an empty value.
        return eq < 0 ? QByteArray("") : formDecode(pair.sliced(eq + 1));
    }
    return QByteArray();
}

bool pathUnderPrefix(QByteArrayView path, QByteArrayView prefix)
{
    if (prefix == "/")
        return true;
    return path.startsWith(prefix) && (path.size() == prefix.size() || path.at(prefix.size()) == '/');
}

} // namespace SockJsProxy
