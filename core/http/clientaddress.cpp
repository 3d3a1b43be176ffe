#include "clientaddress.h"

#include "httpchars.h"
#include "httprequest.h"
#include "ipaddress.h"

#include <QList>

namespace SockJsProxy {

namespace {

using Lines = QList<QByteArrayView>;

using HttpChars::isOws;
using HttpChars::trimOws;

// A value as it may appear in a log line: printable ASCII, at most 64 bytes.
QByteArray quotedForLog(QByteArrayView value)
{
    QByteArray out("\"");
    for (const char c : value.first(qMin<qsizetype>(value.size(), 64)))
        out += (c >= 0x20 && c < 0x7f) ? c : '?';
    out += value.size() > 64 ? "...\"" : "\"";
    return out;
}

Lines linesOf(const HttpRequest &request, QByteArrayView name)
{
    Lines lines;
    for (const auto &header : request.headers) {
        if (QByteArrayView(header.first).compare(name, Qt::CaseInsensitive) == 0)
            lines.append(header.second);
    }
    return lines;
}

// Elements of a comma-separated list, trimmed; empty ones are dropped (RFC 9110 5.6.1).
QList<QByteArrayView> listElements(QByteArrayView line)
{
    QList<QByteArrayView> elements;
    qsizetype start = 0;
    while (start <= line.size()) {
        qsizetype comma = line.indexOf(',', start);
        if (comma < 0)
            comma = line.size();
        const QByteArrayView element = trimOws(line.sliced(start, comma - start));
        if (!element.isEmpty())
            elements.append(element);
        start = comma + 1;
    }
    return elements;
}

struct Node
{
    QHostAddress address;
    quint16 port = 0;
};

// "192.0.2.1", "192.0.2.1:80", "[2001:db8::1]", "[2001:db8::1]:80"; with
// bareIpv6 also "2001:db8::1". An obfuscated port ("_x", RFC 7239 6.3) is
// taken as no port.
bool parseNode(QByteArrayView text, bool bareIpv6, Node *node)
{
    QByteArrayView host = text;
    QByteArrayView port;
    if (text.startsWith('[')) {
        const qsizetype close = text.indexOf(']');
        if (close < 0)
            return false;
        host = text.sliced(1, close - 1);
        const QByteArrayView rest = text.sliced(close + 1);
        if (!rest.isEmpty()) {
            if (rest.front() != ':')
                return false;
            port = rest.sliced(1);
            if (port.isEmpty())
                return false;
        }
        if (!IpAddress::parseIpv6(host, &node->address))
            return false;
    } else if (bareIpv6 && text.count(':') > 1) {
        if (!IpAddress::parseIpv6(text, &node->address))
            return false;
    } else {
        const qsizetype colon = text.indexOf(':');
        if (colon >= 0) {
            host = text.first(colon);
            port = text.sliced(colon + 1);
            if (port.isEmpty())
                return false;
        }
        if (!IpAddress::parseIpv4(host, &node->address))
            return false;
    }
    node->port = 0;
    if (port.isEmpty())
        return true;
    if (port.front() != '_')
        return IpAddress::parsePort(port, &node->port);
    // obfport = "_" 1*(ALPHA / DIGIT / "." / "_" / "-")
    for (const char c : port) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.'
                        || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return port.size() > 1;
}

// RFC 3986 scheme, lower-cased; empty when it is not one.
QByteArray schemeOf(QByteArrayView text)
{
    if (text.isEmpty()
        || !((text.front() >= 'a' && text.front() <= 'z') || (text.front() >= 'A' && text.front() <= 'Z')))
        return QByteArray();
    for (const char c : text) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+'
                        || c == '-' || c == '.';
        if (!ok)
            return QByteArray();
    }
    return text.toByteArray().toLower();
}

// One forwarded-element of RFC 7239: its pairs, names lower-cased, values unquoted.
using Element = QList<QPair<QByteArray, QByteArray>>;

// Parses one Forwarded field line into its elements; false on a syntax error
// (*error says where).
bool parseForwardedLine(QByteArrayView line, QList<Element> *elements, QByteArray *error)
{
    qsizetype i = 0;
    const qsizetype n = line.size();
    const auto skipOws = [&] {
        while (i < n && isOws(line.at(i)))
            ++i;
    };
    Element element;
    for (;;) {
        skipOws();
        if (i < n && line.at(i) != ',' && line.at(i) != ';') {
            // forwarded-pair = token "=" value
            const qsizetype nameStart = i;
            while (i < n && HttpChars::isTchar(line.at(i)))
                ++i;
            if (i == nameStart || i >= n || line.at(i) != '=') {
                *error = "expected name=value at " + quotedForLog(line.sliced(nameStart));
                return false;
            }
            const QByteArray name = line.sliced(nameStart, i - nameStart).toByteArray().toLower();
            ++i;
            QByteArray value;
            if (i < n && line.at(i) == '"') {
                ++i;
                bool closed = false;
                while (i < n) {
                    const char c = line.at(i++);
                    if (c == '"') {
                        closed = true;
                        break;
                    }
                    if (c == '\\') {
                        if (i >= n)
                            break;
                        value += line.at(i++);
                    } else {
                        value += c;
                    }
                }
                if (!closed) {
                    *error = "unterminated quoted string in " + quotedForLog(line);
                    return false;
                }
                for (const char c : std::as_const(value)) {
                    if ((uchar(c) < 0x20 && c != '\t') || c == 0x7f) {
                        *error = "control character in " + quotedForLog(line);
                        return false;
                    }
                }
            } else {
                const qsizetype valueStart = i;
                while (i < n && HttpChars::isTchar(line.at(i)))
                    ++i;
                if (i == valueStart) {
                    *error = "expected a token or quoted string after " + name + "= in " + quotedForLog(line);
                    return false;
                }
                value = line.sliced(valueStart, i - valueStart).toByteArray();
            }
            for (const auto &pair : std::as_const(element)) {
                if (pair.first == name) {
                    *error = "parameter " + name + " twice in one element of " + quotedForLog(line);
                    return false;
                }
            }
            element.append({name, value});
            skipOws();
        }
        if (i >= n) {
            if (!element.isEmpty())
                elements->append(element);
            return true;
        }
        const char separator = line.at(i++);
        if (separator == ',') {
            if (!element.isEmpty())
                elements->append(element);
            element.clear();
        } else if (separator != ';') {
            *error = "unexpected character in " + quotedForLog(line);
            return false;
        }
    }
}

QByteArray valueOf(const Element &element, const QByteArray &name)
{
    for (const auto &pair : element) {
        if (pair.first == name)
            return pair.second;
    }
    return QByteArray();
}

ForwardedHeaders::Result malformed(const char *header, const QByteArray &why)
{
    ForwardedHeaders::Result result;
    result.malformed = true;
    result.header = header;
    result.error = QByteArray(header) + ": " + why;
    return result;
}

ForwardedHeaders::Result fromForwarded(const Lines &lines, const TrustedProxies &trusted)
{
    ForwardedHeaders::Result result;
    result.header = "Forwarded";
    bool any = false;
    for (qsizetype l = lines.size() - 1; l >= 0; --l) {
        QList<Element> elements;
        QByteArray error;
        if (!parseForwardedLine(lines.at(l), &elements, &error))
            return malformed("Forwarded", error);
        for (qsizetype e = elements.size() - 1; e >= 0; --e) {
            const Element &element = elements.at(e);
            const QByteArray forValue = valueOf(element, "for");
            if (forValue.isNull())
                return malformed("Forwarded", "an element without for=");
            if (forValue.compare("unknown", Qt::CaseInsensitive) == 0)
                return malformed("Forwarded", "for=unknown");
            if (forValue.startsWith('_'))
                return malformed("Forwarded", "obfuscated for=" + quotedForLog(forValue));
            Node node;
            if (!parseNode(forValue, false, &node))
                return malformed("Forwarded", "for=" + quotedForLog(forValue) + " is not an IP address");
            const QByteArray proto = valueOf(element, "proto");
            QByteArray scheme;
            if (!proto.isNull() && (scheme = schemeOf(proto)).isEmpty())
                return malformed("Forwarded", "proto=" + quotedForLog(proto) + " is not a URI scheme");
            any = true;
            result.hasAddress = true;
            result.address = node.address;
            result.port = node.port;
            result.scheme = scheme;
            if (!trusted.contains(node.address))
                return result;
        }
    }
    if (!any)
        return malformed("Forwarded", "no element");
    return result; // every hop trusted: the leftmost
}

// X-Forwarded-For walked from the right; X-Real-IP (walk = false) must be one address.
ForwardedHeaders::Result fromAddressList(const char *header, const Lines &lines, const TrustedProxies &trusted,
                                         bool walk)
{
    ForwardedHeaders::Result result;
    result.header = header;
    bool any = false;
    if (!walk) {
        QList<QByteArrayView> all;
        for (const QByteArrayView line : lines)
            all += listElements(line);
        if (all.size() > 1)
            return malformed(header, "more than one address");
    }
    for (qsizetype l = lines.size() - 1; l >= 0; --l) {
        const QList<QByteArrayView> elements = listElements(lines.at(l));
        for (qsizetype e = elements.size() - 1; e >= 0; --e) {
            Node node;
            if (!parseNode(elements.at(e), true, &node))
                return malformed(header, quotedForLog(elements.at(e)) + " is not an IP address");
            any = true;
            result.hasAddress = true;
            result.address = node.address;
            result.port = node.port;
            if (!trusted.contains(node.address))
                return result;
        }
    }
    if (!any)
        return malformed(header, "no address");
    return result;
}

} // namespace

QString ClientAddress::toString() const
{
    const auto endpoint = [](const QHostAddress &address, quint16 port) {
        const QString text = address.toString();
        if (port == 0)
            return text;
        return (address.protocol() == QAbstractSocket::IPv6Protocol ? QLatin1Char('[') + text + QLatin1Char(']') : text)
               + QLatin1Char(':') + QString::number(port);
    };
    QString text = endpoint(address, port);
    if (!via.isNull())
        text += QStringLiteral(" via ") + endpoint(via, viaPort);
    return text;
}

QHostAddress ClientAddress::nullAddress()
{
    static const QHostAddress null;
    return null;
}

ClientAddress ClientAddress::direct(const QHostAddress &peer, quint16 port)
{
    ClientAddress client;
    client.address = peer;
    client.port = port;
    return client;
}

namespace ForwardedHeaders {

Result resolve(const HttpRequest &request, const TrustedProxies &trusted)
{
    Result result;
    if (const Lines forwarded = linesOf(request, "Forwarded"); !forwarded.isEmpty())
        result = fromForwarded(forwarded, trusted);
    else if (const Lines xff = linesOf(request, "X-Forwarded-For"); !xff.isEmpty())
        result = fromAddressList("X-Forwarded-For", xff, trusted, true);
    else if (const Lines realIp = linesOf(request, "X-Real-IP"); !realIp.isEmpty())
        result = fromAddressList("X-Real-IP", realIp, trusted, false);
    if (result.malformed || !result.scheme.isEmpty() || result.header == "Forwarded")
        return result;

    const Lines proto = linesOf(request, "X-Forwarded-Proto");
    for (const QByteArrayView line : proto) {
        for (const QByteArrayView element : listElements(line)) {
            const QByteArray scheme = schemeOf(element);
            if (scheme.isEmpty())
                return malformed("X-Forwarded-Proto", quotedForLog(element) + " is not a URI scheme");
            if (result.scheme.isEmpty())
                result.scheme = scheme;
        }
    }
    if (!proto.isEmpty() && result.scheme.isEmpty())
        return malformed("X-Forwarded-Proto", "no value");
    return result;
}

} // namespace ForwardedHeaders

ClientAddress resolveClientAddress(const ClientAddress &hop, const HttpRequest &request, const TrustedProxies &trusted,
                                   QByteArray *malformed)
{
    malformed->clear();
    if (!trusted.contains(hop.address))
        return hop;
    const ForwardedHeaders::Result forwarded = ForwardedHeaders::resolve(request, trusted);
    if (forwarded.malformed) {
        *malformed = forwarded.error;
        return hop;
    }
    ClientAddress client = hop;
    if (!forwarded.scheme.isEmpty())
        client.scheme = forwarded.scheme;
    if (!forwarded.hasAddress)
        return client;
    // The TCP peer stays the hop the request came through.
    const QHostAddress peer = hop.isForwarded() ? hop.via : hop.address;
    const quint16 peerPort = hop.isForwarded() ? hop.viaPort : hop.port;
    client.address = forwarded.address;
    client.port = forwarded.port;
    client.via = client.address == peer ? QHostAddress() : peer;
    client.viaPort = client.via.isNull() ? 0 : peerPort;
    return client;
}

} // namespace SockJsProxy
