#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QString>

namespace SockJsProxy {

class Connection;

// Serves the files of one directory (or Qt resource directory) under a URL
// prefix: GET and HEAD, index.html for directories, ETag revalidation, no
// listings, nothing outside the directory: no "..", and unless
// followSymlinks, no file whose real path (symbolic links resolved) is
// outside it. What is refused is 404, as if it did not exist.
class StaticFiles
{
public:
    StaticFiles(const QString &urlPrefix, const QString &directory, bool followSymlinks = false);

    QString urlPrefix() const { return m_prefix; }
    QString directory() const { return m_directory; }

    // Whether path (not decoded) lies under the prefix.
    bool matches(QByteArrayView path) const;
    void serve(Connection *connection) const;

private:
    QByteArray m_prefixBytes;
    QString m_prefix;
    QString m_directory;
    bool m_followSymlinks = false;
};

} // namespace SockJsProxy
