#include "originpolicy.h"

#include <QUrl>

namespace SockJsProxy {

namespace {
int defaultPort(const QString &scheme)
{
    if (scheme == QLatin1String("https") || scheme == QLatin1String("wss"))
        return 443;
    return 80;
}
} // namespace

OriginPolicy::OriginPolicy(const QStringList &patterns) : m_patterns(patterns)
{
    m_allowAll =
        patterns.isEmpty() || patterns.contains(QStringLiteral("*:*")) || patterns.contains(QStringLiteral("*"));
    for (const QString &text : patterns) {
        Pattern pattern;
        if (parse(text, &pattern))
            m_parsed.append(pattern);
    }
}

bool OriginPolicy::parse(const QString &text, Pattern *pattern)
{
    if (text == QLatin1String("null")) {
        pattern->null = true;
        return true;
    }
    QString rest = text.trimmed().toLower();
    const qsizetype schemeEnd = rest.indexOf(QLatin1String("://"));
    if (schemeEnd >= 0) {
        pattern->scheme = rest.left(schemeEnd);
        if (pattern->scheme == QLatin1String("*"))
            pattern->scheme.clear();
        rest = rest.mid(schemeEnd + 3);
    }
    if (rest.endsWith(QLatin1Char('/')))
        rest.chop(1);
    QString port;
    const qsizetype colon = rest.lastIndexOf(QLatin1Char(':'));
    if (colon >= 0 && !rest.endsWith(QLatin1Char(']'))) {
        port = rest.mid(colon + 1);
        rest = rest.left(colon);
    }
    if (rest.isEmpty() || rest.contains(QLatin1Char('/')))
        return false;
    pattern->host = rest;
    if (port.isEmpty()) {
        pattern->port = schemeEnd >= 0 && !pattern->scheme.isEmpty() ? 0 : -1;
    } else if (port == QLatin1String("*")) {
        pattern->port = -1;
    } else {
        bool ok = false;
        pattern->port = port.toInt(&ok);
        if (!ok || pattern->port <= 0 || pattern->port > 65535)
            return false;
    }
    return true;
}

bool OriginPolicy::isValidPattern(const QString &text, QString *error)
{
    Pattern pattern;
    if (text == QLatin1String("*:*") || text == QLatin1String("*") || parse(text, &pattern))
        return true;
    *error =
        QStringLiteral("\"%1\" is not an origin pattern (e.g. https://*.example.com, example.com:*, *:*)").arg(text);
    return false;
}

bool OriginPolicy::allows(const QByteArray &origin) const
{
    if (m_allowAll || origin.isNull())
        return true;
    if (origin == "null") {
        for (const Pattern &pattern : m_parsed) {
            if (pattern.null)
                return true;
        }
        return false;
    }
    const QUrl url(QString::fromUtf8(origin), QUrl::StrictMode);
    if (!url.isValid() || url.host().isEmpty())
        return false;
    const QString scheme = url.scheme().toLower();
    const QString host = url.host().toLower();
    const int port = url.port(defaultPort(scheme));
    for (const Pattern &pattern : m_parsed) {
        if (pattern.null)
            continue;
        if (!pattern.scheme.isEmpty() && pattern.scheme != scheme)
            continue;
        if (pattern.port > 0 && pattern.port != port)
            continue;
        if (pattern.port == 0 && port != defaultPort(scheme))
            continue;
        if (pattern.host == QLatin1String("*"))
            return true;
        if (pattern.host.startsWith(QLatin1String("*."))) {
            if (host.endsWith(pattern.host.mid(1)) && host.size() > pattern.host.size() - 1)
                return true;
            continue;
        }
        if (pattern.host == host)
            return true;
    }
    return false;
}

} // namespace SockJsProxy
