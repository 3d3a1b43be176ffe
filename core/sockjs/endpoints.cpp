#include "endpoints.h"

#include "config/config.h"
#include "http/httprequest.h"
#include "jsoncodec.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QLocale>
#include <QRandomGenerator>

namespace SockJsProxy {

namespace {

const QByteArray kNoCache = QByteArrayLiteral("no-store, no-cache, no-transform, must-revalidate, max-age=0");
constexpr int kOneYear = 365 * 24 * 3600;

QByteArray httpDate(const QDateTime &time)
{
    return QLocale::c().toString(time.toUTC(), QStringLiteral("ddd, dd MMM yyyy hh:mm:ss 'GMT'")).toLatin1();
}

} // namespace

Endpoints::Endpoints(const ServiceConfig &config) : m_websocket(config.websocket), m_cookieNeeded(config.cookieNeeded)
{
    m_iframePage = QByteArrayLiteral("<!DOCTYPE html>\n"
                                     "<html>\n"
                                     "<head>\n"
                                     "  <meta http-equiv=\"X-UA-Compatible\" content=\"IE=edge\" />\n"
                                     "  <meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\" />\n"
                                     "  <script src=\"")
                   + config.sockjsUrl.toHtmlEscaped().toUtf8()
                   + QByteArrayLiteral("\"></script>\n"
                                       "  <script>\n"
                                       "    document.domain = document.domain;\n"
                                       "    SockJS.bootstrap_iframe();\n"
                                       "  </script>\n"
                                       "</head>\n"
                                       "<body>\n"
                                       "  <h2>Don't panic!</h2>\n"
                                       "  <p>This is a SockJS hidden iframe. It's used for cross domain magic.</p>\n"
                                       "</body>\n"
                                       "</html>");
    m_iframeEtag = '"' + QCryptographicHash::hash(m_iframePage, QCryptographicHash::Md5).toHex() + '"';
}

// --- Header sets -------------------------------------------------------------

void Endpoints::addNoCache(HttpResponse &response) { response.setHeader("Cache-Control", kNoCache); }

void Endpoints::addCacheForever(HttpResponse &response)
{
    response.setHeader("Cache-Control", "public, max-age=" + QByteArray::number(kOneYear));
    response.setHeader("Expires", httpDate(QDateTime::currentDateTimeUtc().addSecs(kOneYear)));
}

void Endpoints::addCors(HttpResponse &response, const HttpRequest &request)
{
    const QByteArray origin = request.header("Origin");
    if (origin.isNull()) {
        response.setHeader("Access-Control-Allow-Origin", "*");
        return;
    }
    // The origin as sent, "null" included: credentials forbid "*".
    response.setHeader("Access-Control-Allow-Origin", origin);
    response.setHeader("Access-Control-Allow-Credentials", "true");
    response.setHeader("Vary", "Origin");
}

void Endpoints::addCookie(HttpResponse &response, const HttpRequest &request) const
{
    if (!m_cookieNeeded)
        return;
    QByteArray value = "dummy";
    const QByteArray cookies = request.header("Cookie");
    for (const QByteArray &part : cookies.split(';')) {
        const QByteArray cookie = part.trimmed();
        if (cookie.startsWith("JSESSIONID=")) {
            value = cookie.mid(11);
            break;
        }
    }
    response.setHeader("Set-Cookie", "JSESSIONID=" + value + "; path=/");
}

HttpResponse Endpoints::preflight(const HttpRequest &request, const QByteArray &methods)
{
    HttpResponse response(204);
    addCacheForever(response);
    addCors(response, request);
    response.setHeader("Access-Control-Allow-Methods", methods);
    response.setHeader("Access-Control-Max-Age", QByteArray::number(kOneYear));
    const QByteArray requested = request.header("Access-Control-Request-Headers");
    if (!requested.isEmpty())
        response.setHeader("Access-Control-Allow-Headers", requested);
    return response;
}

HttpResponse Endpoints::methodNotAllowed(const QByteArray &allow)
{
    HttpResponse response(405);
    response.setHeader("Allow", allow);
    return response;
}

// --- Fixed endpoints -----------------------------------------------------------

HttpResponse Endpoints::greeting(const HttpRequest &request) const
{
    if (request.method != "GET" && request.method != "HEAD")
        return methodNotAllowed("GET, HEAD");
    HttpResponse response(200);
    response.setHeader("Content-Type", "text/plain;charset=UTF-8");
    response.body = QByteArrayLiteral("Welcome to SockJS!\n");
    return response;
}

std::optional<HttpResponse> Endpoints::infoBeforeOriginCheck(const HttpRequest &request)
{
    if (request.method == "OPTIONS")
        return preflight(request, "OPTIONS, GET");
    if (request.method != "GET" && request.method != "HEAD")
        return methodNotAllowed("OPTIONS, GET");
    return std::nullopt;
}

HttpResponse Endpoints::info(const HttpRequest &request, const QStringList &originPatterns) const
{
    QByteArray originsJson = "[";
    for (const QString &origin : originPatterns) {
        if (originsJson.size() > 1)
            originsJson += ',';
        JsonCodec::appendQuoted(originsJson, origin.toUtf8());
    }
    originsJson += ']';

    HttpResponse response(200);
    response.setHeader("Content-Type", "application/json;charset=UTF-8");
    addNoCache(response);
    addCors(response, request);
    response.body = QByteArrayLiteral("{\"websocket\":") + (m_websocket ? "true" : "false")
                    + QByteArrayLiteral(",\"cookie_needed\":") + (m_cookieNeeded ? "true" : "false")
                    + QByteArrayLiteral(",\"origins\":") + originsJson + QByteArrayLiteral(",\"entropy\":")
                    + QByteArray::number(QRandomGenerator::global()->generate()) + '}';
    return response;
}

HttpResponse Endpoints::iframe(const HttpRequest &request) const
{
    if (request.method != "GET" && request.method != "HEAD")
        return methodNotAllowed("GET, HEAD");
    if (request.header("If-None-Match") == m_iframeEtag) {
        HttpResponse notModified(304);
        notModified.setHeader("ETag", m_iframeEtag);
        addCacheForever(notModified);
        return notModified;
    }
    HttpResponse response(200);
    response.setHeader("Content-Type", "text/html;charset=UTF-8");
    addCacheForever(response);
    response.setHeader("ETag", m_iframeEtag);
    response.body = m_iframePage;
    return response;
}

} // namespace SockJsProxy
