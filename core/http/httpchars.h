#pragma once

#include <QByteArrayView>
#include <QList>

// The character classes of HTTP/1.1 (RFC 9110, RFC 9112) that the request
// parser and HttpRequest share. Pure functions on bytes, no locale: 'A'-'Z'
// and '0'-'9' are ASCII only, whatever the environment says.
namespace SockJsProxy::HttpChars {

// OWS: optional whitespace, a space or a horizontal tab (RFC 9110 5.6.3).
// Not CR, LF, VT or FF, which QByteArray::trimmed() would also take.
constexpr bool isOws(char c) { return c == ' ' || c == '\t'; }

constexpr bool isDigit(char c) { return c >= '0' && c <= '9'; }

// The value of a hex digit (either case), -1 for anything else.
constexpr int hexValue(char c)
{
    if (isDigit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

// tchar: the characters of a token (RFC 9110 5.6.2).
constexpr bool isTchar(char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || isDigit(c))
        return true;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return true;
    default:
        return false;
    }
}

// token = 1*tchar: a method, a header name.
inline bool isToken(QByteArrayView s)
{
    if (s.isEmpty())
        return false;
    for (const char c : s) {
        if (!isTchar(c))
            return false;
    }
    return true;
}

// s without leading and trailing OWS (a view into s).
inline QByteArrayView trimOws(QByteArrayView s)
{
    qsizetype begin = 0;
    qsizetype end = s.size();
    while (begin < end && isOws(s.at(begin)))
        ++begin;
    while (end > begin && isOws(s.at(end - 1)))
        --end;
    return s.sliced(begin, end - begin);
}

// The elements of a comma-separated field value (RFC 9110 5.6.1, the #rule:
// "gzip, chunked", "keep-alive,Upgrade"), each trimmed of OWS, as views into
// value. Empty elements (" , ,chunked") are dropped, as recipients must.
inline QList<QByteArrayView> listElements(QByteArrayView value)
{
    QList<QByteArrayView> elements;
    qsizetype start = 0;
    while (start <= value.size()) {
        qsizetype comma = value.indexOf(',', start);
        if (comma < 0)
            comma = value.size();
        const QByteArrayView element = trimOws(value.sliced(start, comma - start));
        if (!element.isEmpty())
            elements.append(element);
        start = comma + 1;
    }
    return elements;
}

} // namespace SockJsProxy::HttpChars
