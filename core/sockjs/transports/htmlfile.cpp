#include "htmlfile.h"

#include "sockjs/jsoncodec.h"

namespace SockJsProxy {

namespace {
HttpReceiver *create(Connection *connection, const HttpResponse &head, qint64 responseLimit, const QByteArray &callback)
{
    return new HtmlFileTransport(connection, head, responseLimit, callback);
}
} // namespace

const TransportInfo HtmlFileTransport::info =
    TransportInfo::receiving("htmlfile", "GET", "text/html;charset=UTF-8", "htmlfile", &create).needsCallback();

QByteArray HtmlFileTransport::prelude() const
{
    QByteArray page = QByteArrayLiteral("<!doctype html>\n"
                                        "<html><head>\n"
                                        "  <meta http-equiv=\"X-UA-Compatible\" content=\"IE=edge\" />\n"
                                        "  <meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\" />\n"
                                        "</head><body><h2>Don't panic!</h2>\n"
                                        "  <script>\n"
                                        "    document.domain = document.domain;\n"
                                        "    var c = parent.");
    page += m_callback;
    page += QByteArrayLiteral(";\n"
                              "    c.start();\n"
                              "    function p(d) {c.message(d);};\n"
                              "    window.onload = function() {c.stop();};\n"
                              "  </script>");
    // Some browsers render nothing of a stream before its first KiB.
    page += QByteArray(qMax<qsizetype>(0, 1025 - page.size()), ' ');
    page += "\r\n\r\n";
    return page;
}

QByteArray HtmlFileTransport::wrap(const QByteArray &frame) const
{
    QByteArray script;
    script.reserve(frame.size() + 40);
    script += "<script>\np(";
    JsonCodec::appendQuoted(script, frame, JsonCodec::EscapeHtml);
    script += ");\n</script>\r\n";
    return script;
}

} // namespace SockJsProxy
