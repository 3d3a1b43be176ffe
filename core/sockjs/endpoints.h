#pragma once

#include "http/httpresponse.h"

#include <QByteArray>
#include <QStringList>

#include <optional>

namespace SockJsProxy {

struct HttpRequest;
struct ServiceConfig;

// The fixed endpoints of a SockJS service, and the header sets every
// endpoint shares. Answers only: routing, origin checks and counting stay
// with the Service. Immutable after construction (the iframe page and its
// ETag are made once from the service's sockjs_url).
class Endpoints
{
public:
    explicit Endpoints(const ServiceConfig &config);

    // {prefix} and {prefix}/: the greeting (GET, HEAD; others 405).
    HttpResponse greeting(const HttpRequest &request) const;
    // {prefix}/info before the origin check: the preflight for OPTIONS, 405
    // for methods other than GET and HEAD; nothing for those two, which get
    // info() once the origin passed the service's check.
    static std::optional<HttpResponse> infoBeforeOriginCheck(const HttpRequest &request);
    HttpResponse info(const HttpRequest &request, const QStringList &originPatterns) const;
    // {prefix}/iframe*.html: the page, or 304 for its ETag.
    HttpResponse iframe(const HttpRequest &request) const;

    // Header sets.
    static void addNoCache(HttpResponse &response);
    static void addCacheForever(HttpResponse &response);
    static void addCors(HttpResponse &response, const HttpRequest &request);
    // JSESSIONID, when the service sets cookie_needed.
    void addCookie(HttpResponse &response, const HttpRequest &request) const;
    // 204 to an OPTIONS request: CORS, methods, cached for a year.
    static HttpResponse preflight(const HttpRequest &request, const QByteArray &methods);
    static HttpResponse methodNotAllowed(const QByteArray &allow);

private:
    bool m_websocket;
    bool m_cookieNeeded;
    QByteArray m_iframePage;
    QByteArray m_iframeEtag;
};

} // namespace SockJsProxy
