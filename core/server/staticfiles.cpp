#include "staticfiles.h"

#include "base/logging.h"
#include "http/connection.h"

#include <QFile>
#include <QFileInfo>
#include <QMimeDatabase>

namespace SockJsProxy {

namespace {
constexpr qint64 kMaxFileBytes = 64 * 1024 * 1024;

// path's real location (links resolved) when it lies inside root's real
// location, else empty. Both are resolved now, so a mount directory that
// is itself a link, or is replaced, is followed.
QString realPathInside(const QString &path, const QString &root)
{
    const QString realRoot = QFileInfo(root).canonicalFilePath();
    const QString realPath = QFileInfo(path).canonicalFilePath();
    if (realRoot.isEmpty() || realPath.isEmpty())
        return QString();
    const QString rootSlash = realRoot.endsWith(QLatin1Char('/')) ? realRoot : realRoot + QLatin1Char('/');
    return realPath == realRoot || realPath.startsWith(rootSlash) ? realPath : QString();
}
} // namespace

StaticFiles::StaticFiles(const QString &urlPrefix, const QString &directory, bool followSymlinks)
    : m_prefix(urlPrefix.endsWith(QLatin1Char('/')) && urlPrefix.size() > 1 ? urlPrefix.chopped(1) : urlPrefix),
      m_directory(directory),
      // Qt resources have no links.
      m_followSymlinks(followSymlinks || directory.startsWith(QLatin1Char(':')))
{
    m_prefixBytes = m_prefix.toUtf8();
}

bool StaticFiles::matches(QByteArrayView path) const { return pathUnderPrefix(path, m_prefixBytes); }

void StaticFiles::serve(Connection *connection) const
{
    const HttpRequest &request = connection->request();
    if (request.method != "GET" && request.method != "HEAD") {
        HttpResponse response(405);
        response.setHeader("Allow", "GET, HEAD");
        return connection->respond(response);
    }

    const QByteArray rest = request.path.mid(m_prefixBytes == "/" ? 0 : m_prefixBytes.size());
    const QByteArray decoded = QByteArray::fromPercentEncoding(rest);
    // Refuse anything that could step outside the directory.
    const QList<QByteArray> segments = decoded.split('/');
    for (const QByteArray &segment : segments) {
        if (segment == ".." || segment == "." || segment.contains('\\') || segment.contains('\0'))
            return connection->respond(HttpResponse::text(404, "Not found"));
    }

    QString filePath = m_directory + QString::fromUtf8(decoded);
    QFileInfo info(filePath);
    if (info.isDir()) {
        // A link in the directory may lead anywhere: checked before the
        // redirect, which would tell that a directory exists out there.
        if (!m_followSymlinks && realPathInside(filePath, m_directory).isEmpty())
            return connection->respond(HttpResponse::text(404, "Not found"));
        if (!decoded.endsWith('/')) {
            HttpResponse redirect = HttpResponse::text(301, "Moved");
            redirect.setHeader("Location", request.path + '/');
            return connection->respond(redirect);
        }
        filePath += QStringLiteral("index.html");
        info.setFile(filePath);
    }
    if (!info.isFile())
        return connection->respond(HttpResponse::text(404, "Not found"));
    if (!m_followSymlinks) {
        // The file, or a directory on the way, may be a link. Open the
        // resolved path, so that a link swapped after this check is not
        // followed.
        filePath = realPathInside(filePath, m_directory);
        if (filePath.isEmpty())
            return connection->respond(HttpResponse::text(404, "Not found"));
    }
    if (info.size() > kMaxFileBytes)
        return connection->respond(HttpResponse::text(403, "File too large to serve"));

    const QByteArray etag = '"' + QByteArray::number(info.size(), 16) + '-'
                            + QByteArray::number(info.lastModified().toMSecsSinceEpoch(), 16) + '"';
    if (request.header("If-None-Match") == etag) {
        HttpResponse notModified(304);
        notModified.setHeader("ETag", etag);
        return connection->respond(notModified);
    }

    QFile file(filePath);
    if (!file.open(QIODevice::ReadOnly)) {
        qCWarning(lcServer).noquote() << "cannot read" << filePath << ":" << file.errorString();
        return connection->respond(HttpResponse::text(403, "Forbidden"));
    }
    static const QMimeDatabase mimeDatabase;
    const QMimeType mime = mimeDatabase.mimeTypeForFile(info, QMimeDatabase::MatchExtension);
    QByteArray contentType = mime.name().toLatin1();
    if (mime.inherits(QStringLiteral("text/plain")) || mime.name() == QLatin1String("application/javascript")
        || mime.name() == QLatin1String("application/json"))
        contentType += ";charset=UTF-8";

    HttpResponse response(200);
    response.setHeader("Content-Type", contentType);
    response.setHeader("Cache-Control", "no-cache");
    response.setHeader("ETag", etag);
    response.body = file.readAll();
    connection->respond(response);
}

} // namespace SockJsProxy
