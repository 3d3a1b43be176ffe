#pragma once

#include <QByteArray>
#include <QList>
#include <QString>
#include <QStringList>

namespace SockJsProxy {

// Which browser origins may use a service. Patterns:
//   "*:*"                       any origin (the default)
//   "https://example.com"       that scheme and host, default port
//   "https://*.example.com"     any subdomain (not example.com itself)
//   "http://localhost:8080"     an explicit port; "*" as port: any port
//   "example.com:*"             SockJS style host:port, any scheme
//   "null"                      the literal null origin (sandboxed frames, file://)
// Requests without an Origin header are not browser cross-origin requests
// and are not checked.
class OriginPolicy
{
public:
    OriginPolicy() = default;
    explicit OriginPolicy(const QStringList &patterns);

    bool allowsAll() const { return m_allowAll; }
    bool allows(const QByteArray &origin) const;
    QStringList patterns() const { return m_patterns; }

    static bool isValidPattern(const QString &pattern, QString *error);

private:
    struct Pattern
    {
        QString scheme; // empty: any
        QString host;   // "*" any; "*.x" subdomains of x
        int port = -1;  // -1 any, 0 the scheme's default
        bool null = false;
    };
    static bool parse(const QString &text, Pattern *pattern);

    QStringList m_patterns;
    QList<Pattern> m_parsed;
    bool m_allowAll = true;
};

} // namespace SockJsProxy
