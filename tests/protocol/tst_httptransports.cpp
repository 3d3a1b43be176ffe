// The HTTP transports (xhr, xhr_send, xhr_streaming, eventsource, htmlfile,
// jsonp, jsonp_send) and the session lifecycle, spoken as raw HTTP to a
// TestServer with in-process ZeroMQ backends. Bytes are compared exactly
// where /work/shared/SOCKJS-PROTOCOL.md fixes them; each test is named after
// the rule it checks. Rules shared between transports run once per
// transport through _data() rows. No sleeps: every wait runs the event loop
// until a condition holds or a timeout fails the test.

#include "httpclient.h"
#include "testbackend.h"
#include "testserver.h"

#include "sockjs/service.h"
#include "sockjs/session.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>
#include <QLoggingCategory>
#include <QRegularExpression>
#include <QTest>
#include <QUuid>

#include <algorithm>
#include <memory>
#include <optional>

using namespace SockJsProxy;
using namespace SockJsProxy::Test;

namespace {

using Headers = QList<QPair<QByteArray, QByteArray>>;
using Response = HttpClient::Response;

constexpr int kWaitMs = 3000;

const QByteArray kNoCache = QByteArrayLiteral("no-store, no-cache, no-transform, must-revalidate, max-age=0");
const QByteArray kJavaScript = QByteArrayLiteral("application/javascript;charset=UTF-8");
const QByteArray kHtml = QByteArrayLiteral("text/html;charset=UTF-8");
const QByteArray kPlain = QByteArrayLiteral("text/plain;charset=UTF-8");
const QByteArray kEventStream = QByteArrayLiteral("text/event-stream");
const QByteArray kFormEncoded = QByteArrayLiteral("application/x-www-form-urlencoded");

const QByteArray kGoAway = QByteArrayLiteral("c[3000,\"Go away!\"]");
const QByteArray kAnotherConnection = QByteArrayLiteral("c[2010,\"Another connection still open\"]");
const QByteArray kInterrupted = QByteArrayLiteral("c[1002,\"Connection interrupted\"]");
const QByteArray kCallback = QByteArrayLiteral("callback");

const QList<QByteArray> kReceivingTransports = {"xhr", "xhr_streaming", "eventsource", "htmlfile", "jsonp"};
const QList<QByteArray> kStreamingTransports = {"xhr_streaming", "eventsource", "htmlfile"};
const QList<QByteArray> kPollingTransports = {"xhr", "jsonp"};

QByteArray newSessionId() { return QUuid::createUuid().toByteArray(QUuid::WithoutBraces); }

bool isStreaming(const QByteArray &transport) { return kStreamingTransports.contains(transport); }

QByteArray methodOf(const QByteArray &endpoint)
{
    return (endpoint == "eventsource" || endpoint == "htmlfile" || endpoint == "jsonp") ? QByteArray("GET")
                                                                                        : QByteArray("POST");
}

// Content types of §12.1.
QByteArray contentTypeOf(const QByteArray &endpoint)
{
    if (endpoint == "xhr" || endpoint == "xhr_streaming" || endpoint == "jsonp")
        return kJavaScript;
    if (endpoint == "eventsource")
        return kEventStream;
    if (endpoint == "htmlfile")
        return kHtml;
    return kPlain; // xhr_send, jsonp_send
}

QByteArray sessionPath(const QByteArray &prefix, const QByteArray &sessionId, const QByteArray &endpoint)
{
    QByteArray path = prefix + "/000/" + sessionId + '/' + endpoint;
    if (endpoint == "htmlfile" || endpoint == "jsonp")
        path += "?c=" + kCallback;
    return path;
}

// A JSON string holding ASCII text, as the proxy writes it ('"' and '\\'
// escaped; the frames quoted with it in these tests need nothing else).
QByteArray quoteAscii(const QByteArray &text)
{
    QByteArray out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\')
            out += '\\';
        out += c;
    }
    return out + '"';
}

// A frame as each receiving transport carries it (§8-§11).
QByteArray wrap(const QByteArray &transport, const QByteArray &frame)
{
    if (transport == "xhr" || transport == "xhr_streaming")
        return frame + '\n';
    if (transport == "eventsource")
        return "data: " + frame + "\r\n\r\n";
    if (transport == "htmlfile")
        return "<script>\np(" + quoteAscii(frame) + ");\n</script>\r\n";
    if (transport == "jsonp")
        return "/**/" + kCallback + '(' + quoteAscii(frame) + ");\r\n";
    return QByteArray();
}

// The htmlfile page of §11.1 without its padding.
QByteArray htmlFilePage(const QByteArray &callback)
{
    return "<!doctype html>\n"
           "<html><head>\n"
           "  <meta http-equiv=\"X-UA-Compatible\" content=\"IE=edge\" />\n"
           "  <meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\" />\n"
           "</head><body><h2>Don't panic!</h2>\n"
           "  <script>\n"
           "    document.domain = document.domain;\n"
           "    var c = parent."
           + callback
           + ";\n"
             "    c.start();\n"
             "    function p(d) {c.message(d);};\n"
             "    window.onload = function() {c.stop();};\n"
             "  </script>";
}

bool isValidPrelude(const QByteArray &transport, const QByteArray &prelude, const QByteArray &callback = kCallback)
{
    if (transport == "xhr_streaming")
        return prelude == QByteArray(2048, 'h') + '\n';
    if (transport == "eventsource")
        return prelude == "\r\n";
    if (transport == "htmlfile")
        return prelude.size() > 1024 && prelude.trimmed() == htmlFilePage(callback);
    return false;
}

// The value of one JSON string literal, as UTF-8; null when it is not one.
QByteArray jsonStringValue(const QByteArray &literal)
{
    QJsonParseError error;
    const QJsonDocument document = QJsonDocument::fromJson('[' + literal + ']', &error);
    if (error.error != QJsonParseError::NoError || !document.isArray() || document.array().size() != 1
        || !document.array().at(0).isString())
        return QByteArray();
    return document.array().at(0).toString().toUtf8();
}

// The frame inside one wrapped frame; null when the bytes are not exactly one.
QByteArray unwrap(const QByteArray &transport, const QByteArray &wrapped)
{
    const auto strip = [&wrapped](const QByteArray &before, const QByteArray &after) {
        if (wrapped.size() < before.size() + after.size() || !wrapped.startsWith(before) || !wrapped.endsWith(after))
            return QByteArray();
        return wrapped.mid(before.size(), wrapped.size() - before.size() - after.size());
    };
    if (transport == "xhr" || transport == "xhr_streaming")
        return strip("", "\n");
    if (transport == "eventsource")
        return strip("data: ", "\r\n\r\n");
    const QByteArray literal = transport == "htmlfile" ? strip("<script>\np(", ");\n</script>\r\n")
                                                       : strip("/**/" + kCallback + '(', ");\r\n");
    return literal.isNull() ? QByteArray() : jsonStringValue(literal);
}

// The messages of an a[...] frame, as UTF-8; nullopt when it is not one.
std::optional<QList<QByteArray>> messagesOf(const QByteArray &frame)
{
    if (!frame.startsWith('a'))
        return std::nullopt;
    QJsonParseError error;
    const QJsonDocument document = QJsonDocument::fromJson(frame.mid(1), &error);
    if (error.error != QJsonParseError::NoError || !document.isArray() || document.array().isEmpty())
        return std::nullopt;
    QList<QByteArray> messages;
    for (const QJsonValue &value : document.array()) {
        if (!value.isString())
            return std::nullopt;
        messages.append(value.toString().toUtf8());
    }
    return messages;
}

// Comma-separated header tokens, trimmed and upper-cased.
QList<QByteArray> tokens(const QByteArray &value)
{
    QList<QByteArray> result;
    for (const QByteArray &token : value.split(',')) {
        if (!token.trimmed().isEmpty())
            result.append(token.trimmed().toUpper());
    }
    return result;
}

// One client of one session over one receiving transport. Polling: every
// receive is a new request (possibly left pending as a long poll). Streaming:
// one request kept open; its head and prelude are checked when it opens.
class SessionClient
{
public:
    SessionClient(quint16 port, const QByteArray &prefix, const QByteArray &transport,
                  const QByteArray &sessionId = newSessionId())
        : m_port(port), m_prefix(prefix), m_transport(transport), m_sessionId(sessionId)
    {}

    QByteArray sessionId() const { return m_sessionId; }
    // Head of the current stream or of the last poll.
    const Response &head() const { return m_head; }
    void setHeaders(const Headers &headers) { m_headers = headers; }

    // Starts a receiving request without waiting for a frame: a pending
    // long poll, or a stream whose head and prelude have been read.
    bool startReceive()
    {
        if (isStreaming(m_transport))
            return m_stream ? true : openStream();
        if (m_poll)
            return true;
        m_poll = connected();
        if (!m_poll)
            return false;
        m_poll->sendRequest(methodOf(m_transport), sessionPath(m_prefix, m_sessionId, m_transport), QByteArray(),
                            m_headers);
        return true;
    }

    // The next frame as the transport wraps it. Streaming: the next chunk,
    // the empty (non-null) array for the terminating chunk. Null on a
    // timeout, a status other than 200 or a bad prelude.
    QByteArray nextWrapped()
    {
        if (!startReceive())
            return QByteArray();
        if (isStreaming(m_transport)) {
            const QByteArray chunk = m_stream->readChunk();
            if (chunk.isEmpty())
                m_stream.reset();
            return chunk;
        }
        const std::unique_ptr<HttpClient> poll = std::move(m_poll);
        m_head = poll->readResponse();
        if (!m_head.ok || m_head.status != 200 || m_head.header("Content-Length").isNull()) {
            qWarning("poll %s: ok %d, status %d", m_transport.constData(), m_head.ok, m_head.status);
            return QByteArray();
        }
        return m_head.body;
    }

    QByteArray nextFrame() { return unwrap(m_transport, nextWrapped()); }

    // Streaming: true when the next thing on the stream is its terminating
    // chunk. Polling responses are complete by construction: true.
    bool ended()
    {
        if (!isStreaming(m_transport))
            return true;
        if (!m_stream)
            return false;
        const QByteArray chunk = m_stream->readChunk();
        m_stream.reset();
        return !chunk.isNull() && chunk.isEmpty();
    }

    // Drops the receiving request's connection at once (a client going away).
    void abort()
    {
        for (auto *client : {&m_stream, &m_poll}) {
            if (*client) {
                (*client)->socket().abort();
                client->reset();
            }
        }
    }

private:
    std::unique_ptr<HttpClient> connected() const
    {
        auto client = std::make_unique<HttpClient>(m_port, kWaitMs);
        if (!client->connectToServer())
            return nullptr;
        return client;
    }

    bool openStream()
    {
        m_stream = connected();
        if (!m_stream)
            return false;
        m_stream->sendRequest(methodOf(m_transport), sessionPath(m_prefix, m_sessionId, m_transport), QByteArray(),
                              m_headers);
        m_head = m_stream->readHead();
        if (!m_head.ok || m_head.status != 200 || m_head.header("Transfer-Encoding").toLower() != "chunked"
            || m_head.hasHeader("Content-Length")) {
            qWarning("stream %s: bad head (ok %d, status %d)", m_transport.constData(), m_head.ok, m_head.status);
            m_stream.reset();
            return false;
        }
        const QByteArray prelude = m_stream->readChunk();
        if (!isValidPrelude(m_transport, prelude)) {
            qWarning("stream %s: bad prelude of %d bytes: %s", m_transport.constData(), int(prelude.size()),
                     prelude.left(80).toPercentEncoding(" ").constData());
            m_stream.reset();
            return false;
        }
        return true;
    }

    quint16 m_port;
    QByteArray m_prefix;
    QByteArray m_transport;
    QByteArray m_sessionId;
    Headers m_headers;
    Response m_head;
    std::unique_ptr<HttpClient> m_stream;
    std::unique_ptr<HttpClient> m_poll;
};

// The code points of the suite's client_killer_string (JSONEncoding.
// test_xhr_server_decodes): 1093 characters browsers may mangle, sent as
// \uXXXX escapes.
QString clientKillerString()
{
    static const char16_t ranges[][2] = {
        {0x0000, 0x001f}, {0x0022, 0x0022}, {0x007f, 0x009f}, {0x00ad, 0x00ad}, {0x0300, 0x0333}, {0x033d, 0x0346},
        {0x034a, 0x034c}, {0x0350, 0x0352}, {0x0357, 0x0358}, {0x035c, 0x0362}, {0x0374, 0x0374}, {0x037e, 0x037e},
        {0x0387, 0x0387}, {0x0591, 0x05af}, {0x05c4, 0x05c4}, {0x0600, 0x0604}, {0x0610, 0x0617}, {0x0653, 0x0654},
        {0x0657, 0x065b}, {0x065d, 0x065e}, {0x06df, 0x06e2}, {0x06eb, 0x06ec}, {0x070f, 0x070f}, {0x0730, 0x0730},
        {0x0732, 0x0733}, {0x0735, 0x0736}, {0x073a, 0x073a}, {0x073d, 0x073d}, {0x073f, 0x0741}, {0x0743, 0x0743},
        {0x0745, 0x0745}, {0x0747, 0x0747}, {0x07eb, 0x07f1}, {0x0951, 0x0951}, {0x0958, 0x095f}, {0x09dc, 0x09dd},
        {0x09df, 0x09df}, {0x0a33, 0x0a33}, {0x0a36, 0x0a36}, {0x0a59, 0x0a5b}, {0x0a5e, 0x0a5e}, {0x0b5c, 0x0b5d},
        {0x0e38, 0x0e39}, {0x0f43, 0x0f43}, {0x0f4d, 0x0f4d}, {0x0f52, 0x0f52}, {0x0f57, 0x0f57}, {0x0f5c, 0x0f5c},
        {0x0f69, 0x0f69}, {0x0f72, 0x0f76}, {0x0f78, 0x0f78}, {0x0f80, 0x0f83}, {0x0f93, 0x0f93}, {0x0f9d, 0x0f9d},
        {0x0fa2, 0x0fa2}, {0x0fa7, 0x0fa7}, {0x0fac, 0x0fac}, {0x0fb9, 0x0fb9}, {0x17b4, 0x17b5}, {0x1939, 0x193a},
        {0x1a17, 0x1a17}, {0x1b6b, 0x1b6b}, {0x1cda, 0x1cdb}, {0x1dc0, 0x1dcf}, {0x1dfc, 0x1dfc}, {0x1dfe, 0x1dfe},
        {0x1f71, 0x1f71}, {0x1f73, 0x1f73}, {0x1f75, 0x1f75}, {0x1f77, 0x1f77}, {0x1f79, 0x1f79}, {0x1f7b, 0x1f7b},
        {0x1f7d, 0x1f7d}, {0x1fbb, 0x1fbb}, {0x1fbe, 0x1fbe}, {0x1fc9, 0x1fc9}, {0x1fcb, 0x1fcb}, {0x1fd3, 0x1fd3},
        {0x1fdb, 0x1fdb}, {0x1fe3, 0x1fe3}, {0x1feb, 0x1feb}, {0x1fee, 0x1fef}, {0x1ff9, 0x1ff9}, {0x1ffb, 0x1ffb},
        {0x1ffd, 0x1ffd}, {0x2000, 0x20ff}, {0x2126, 0x2126}, {0x212a, 0x212b}, {0x2329, 0x232a}, {0x2adc, 0x2adc},
        {0x302b, 0x302c}, {0xaab2, 0xaab3}, {0xf900, 0xfa0d}, {0xfa10, 0xfa10}, {0xfa12, 0xfa12}, {0xfa15, 0xfa1e},
        {0xfa20, 0xfa20}, {0xfa22, 0xfa22}, {0xfa25, 0xfa26}, {0xfa2a, 0xfa2d}, {0xfa30, 0xfa6d}, {0xfa70, 0xfad9},
        {0xfb1d, 0xfb1d}, {0xfb1f, 0xfb1f}, {0xfb2a, 0xfb36}, {0xfb38, 0xfb3c}, {0xfb3e, 0xfb3e}, {0xfb40, 0xfb41},
        {0xfb43, 0xfb44}, {0xfb46, 0xfb4e}, {0xfeff, 0xfeff}, {0xfff0, 0xffff},
    };
    QString text;
    for (const auto &range : ranges) {
        for (char32_t c = range[0]; c <= range[1]; ++c)
            text += QChar(char16_t(c));
    }
    return text;
}

QByteArray escapedAsJson(const QString &text)
{
    QByteArray out = "\"";
    for (QChar c : text)
        out += "\\u" + QByteArray::number(uint(c.unicode()), 16).rightJustified(4, '0');
    return out + '"';
}

} // namespace

class tst_HttpTransports : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    // §2 SessionURLs
    void sessionUrls_anyValue_data();
    void sessionUrls_anyValue();
    void sessionUrls_invalidPaths_data();
    void sessionUrls_invalidPaths();
    void sessionUrls_ignoringServerId();

    // §5 Protocol, HandlingClose
    void protocol_openFrame_data();
    void protocol_openFrame();
    void protocol_sendToUnknownSession_data();
    void protocol_sendToUnknownSession();
    void protocol_messageFrame_data();
    void protocol_messageFrame();
    void protocol_anotherConnectionStillOpen_data();
    void protocol_anotherConnectionStillOpen();
    void protocol_closeSession_data();
    void protocol_closeSession();
    void protocol_backendMessagesQueuedInOneFrame_data();
    void protocol_backendMessagesQueuedInOneFrame();

    // §8 XhrPolling
    void xhrPolling_invalidJson();
    void xhrPolling_sendingEmptyFrame();
    void xhrPolling_contentTypesIgnored();
    void xhrPolling_withoutContentLength();

    // §9, §10, §11 response_limit and framing
    void xhrStreaming_responseLimit();
    void streaming_responseLimitSingleFrame_data();
    void streaming_responseLimitSingleFrame();
    void eventSource_controlCharactersEscaped();
    void htmlFile_transport();
    void htmlFile_scriptEndTagArrivesIntact();
    void callback_required_data();
    void callback_required();
    void callback_invalid_data();
    void callback_invalid();
    void jsonPolling_transport();
    void jsonPolling_contentTypes();
    void jsonPolling_invalidJson_data();
    void jsonPolling_invalidJson();
    void jsonPolling_sendingEmptyFrame();

    // §12 headers
    void headers_sessionEndpoints_data();
    void headers_sessionEndpoints();
    void headers_preflight_data();
    void headers_preflight();
    void jsessionid_sessionUrls_data();
    void jsessionid_sessionUrls();

    // §13 JSONEncoding
    void jsonEncoding_serverEncodes();
    void jsonEncoding_serverDecodes();
    void jsonEncoding_nulAndNoncharacters();

    // §14 Http10, Http11
    void http10_streaming_data();
    void http10_streaming();
    void http11_streaming_data();
    void http11_streaming();

    // §16 backends, §17 timing and errors
    void backend_sessionLifecycle_data();
    void backend_sessionLifecycle();
    void heartbeat_attachedReceiver_data();
    void heartbeat_attachedReceiver();
    void sessionExpiry_afterDisconnectDelay_data();
    void sessionExpiry_afterDisconnectDelay();
    void abort_receivingRequest_data();
    void abort_receivingRequest();
    void wrongMethod_405_data();
    void wrongMethod_405();

private:
    static void addReceivingRows();
    static void addStreamingRows();
    bool restart(int heartbeatMs, int disconnectMs);
    quint16 port() const { return m_server->port(); }
    TestBackend *backend(const QByteArray &prefix) const { return m_server->backend(QString::fromUtf8(prefix)); }
    Service *service(const QByteArray &prefix) const;
    Session *session(const QByteArray &prefix, const QByteArray &sessionId) const;
    QByteArray backendId(const QByteArray &prefix, const QByteArray &sessionId) const;
    QList<QByteArray> eventTypes(const QByteArray &prefix, const QByteArray &backendId) const;
    qsizetype eventCount(const QByteArray &prefix, const QByteArray &type, const QByteArray &backendId) const;
    QList<QByteArray> messagesFromClient(const QByteArray &prefix, const QByteArray &backendId) const;
    Response xhrSend(const QByteArray &prefix, const QByteArray &sessionId, const QByteArray &body,
                     const Headers &headers = {}) const;
    Response jsonpSend(const QByteArray &prefix, const QByteArray &sessionId, const QByteArray &body,
                       const QByteArray &contentType = kFormEncoded) const;
    Response request(const QByteArray &method, const QByteArray &path, const QByteArray &body = QByteArray(),
                     const Headers &headers = {}) const;

    std::unique_ptr<TestServer> m_server;
};

// --- Fixture -------------------------------------------------------------------

void tst_HttpTransports::initTestCase()
{
    // Every test starts a server; its start-up lines would drown the results.
    QLoggingCategory::setFilterRules(QStringLiteral("sockjsproxy.*.info=false"));
}

void tst_HttpTransports::init()
{
    m_server = std::make_unique<TestServer>();
    QVERIFY(m_server->start());
}

void tst_HttpTransports::cleanup() { m_server.reset(); }

void tst_HttpTransports::addReceivingRows()
{
    QTest::addColumn<QByteArray>("transport");
    for (const QByteArray &transport : kReceivingTransports)
        QTest::newRow(transport.constData()) << transport;
}

void tst_HttpTransports::addStreamingRows()
{
    QTest::addColumn<QByteArray>("transport");
    for (const QByteArray &transport : kStreamingTransports)
        QTest::newRow(transport.constData()) << transport;
}

// A fresh server whose services use these timings.
bool tst_HttpTransports::restart(int heartbeatMs, int disconnectMs)
{
    m_server.reset();
    Config config = TestServer::protocolConfig(QString());
    for (ServiceConfig &service : config.services) {
        service.heartbeatDelayMs = heartbeatMs;
        service.disconnectDelayMs = disconnectMs;
    }
    m_server = std::make_unique<TestServer>();
    return m_server->start(config);
}

Service *tst_HttpTransports::service(const QByteArray &prefix) const
{
    for (Service *candidate : m_server->server()->services()) {
        if (candidate->prefix().toUtf8() == prefix)
            return candidate;
    }
    return nullptr;
}

Session *tst_HttpTransports::session(const QByteArray &prefix, const QByteArray &sessionId) const
{
    Service *owner = service(prefix);
    if (!owner)
        return nullptr;
    for (Session *candidate : owner->sessions()) {
        if (candidate->urlId() == sessionId)
            return candidate;
    }
    return nullptr;
}

QByteArray tst_HttpTransports::backendId(const QByteArray &prefix, const QByteArray &sessionId) const
{
    Session *found = session(prefix, sessionId);
    return found ? found->backendId() : QByteArray();
}

QList<QByteArray> tst_HttpTransports::eventTypes(const QByteArray &prefix, const QByteArray &backendId) const
{
    QList<QByteArray> types;
    for (const TestBackend::Event &event : backend(prefix)->events()) {
        if (event.sessionId == backendId)
            types.append(event.type);
    }
    return types;
}

qsizetype tst_HttpTransports::eventCount(const QByteArray &prefix, const QByteArray &type,
                                         const QByteArray &backendId) const
{
    return eventTypes(prefix, backendId).count(type);
}

QList<QByteArray> tst_HttpTransports::messagesFromClient(const QByteArray &prefix, const QByteArray &backendId) const
{
    QList<QByteArray> messages;
    for (const TestBackend::Event &event : backend(prefix)->eventsOfType("message")) {
        if (event.sessionId == backendId)
            messages.append(event.data);
    }
    return messages;
}

Response tst_HttpTransports::request(const QByteArray &method, const QByteArray &path, const QByteArray &body,
                                     const Headers &headers) const
{
    return HttpClient::request(port(), method, path, body, headers);
}

Response tst_HttpTransports::xhrSend(const QByteArray &prefix, const QByteArray &sessionId, const QByteArray &body,
                                     const Headers &headers) const
{
    return request("POST", sessionPath(prefix, sessionId, "xhr_send"), body, headers);
}

Response tst_HttpTransports::jsonpSend(const QByteArray &prefix, const QByteArray &sessionId, const QByteArray &body,
                                       const QByteArray &contentType) const
{
    return request("POST", sessionPath(prefix, sessionId, "jsonp_send"), body, {{"Content-Type", contentType}});
}

// --- §2 SessionURLs -------------------------------------------------------------

void tst_HttpTransports::sessionUrls_anyValue_data()
{
    QTest::addColumn<QByteArray>("ids");
    QTest::newRow("letters") << QByteArray("/a/a123");
    QTest::newRow("underscores") << QByteArray("/_/_123");
    QTest::newRow("digits") << QByteArray("/1/123");
    QTest::newRow("percent escapes") << QByteArray("/abcdefgh_i-j%20/abcdefg_i-j%20123");
}

void tst_HttpTransports::sessionUrls_anyValue()
{
    QFETCH(QByteArray, ids);
    const Response response = request("POST", "/echo" + ids + "/xhr");
    QVERIFY(response.ok);
    QCOMPARE(response.status, 200);
    QCOMPARE(response.body, QByteArray("o\n"));
}

void tst_HttpTransports::sessionUrls_invalidPaths_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QByteArray>("path");
    for (const char *method : {"GET", "POST"}) {
        for (const char *path : {"//xhr", "/a./a/xhr", "/a/a./xhr", "/././xhr", "///xhr", "////xhr"})
            QTest::addRow("%s %s", method, path) << QByteArray(method) << QByteArray(path);
    }
}

void tst_HttpTransports::sessionUrls_invalidPaths()
{
    QFETCH(QByteArray, method);
    QFETCH(QByteArray, path);
    const Response response = request(method, "/echo" + path);
    QVERIFY(response.ok); // framed: Content-Length, chunked or close
    QCOMPARE(response.status, 404);
    QCOMPARE(backend("/echo")->eventsOfType("connect").size(), 0);
}

void tst_HttpTransports::sessionUrls_ignoringServerId()
{
    const QByteArray sid = newSessionId();
    Response response = request("POST", "/echo/000/" + sid + "/xhr");
    QCOMPARE(response.status, 200);
    QCOMPARE(response.body, QByteArray("o\n"));

    response = request("POST", "/echo/000/" + sid + "/xhr_send", "[\"a\"]");
    QCOMPARE(response.status, 204);
    QCOMPARE(response.body, QByteArray(""));

    response = request("POST", "/echo/999/" + sid + "/xhr");
    QCOMPARE(response.status, 200);
    QCOMPARE(response.body, QByteArray("a[\"a\"]\n"));
    QCOMPARE(backend("/echo")->eventsOfType("connect").size(), 1);
}

// --- §5 Protocol, HandlingClose ------------------------------------------------------

void tst_HttpTransports::protocol_openFrame_data() { addReceivingRows(); }

// A receiving request for an unknown session creates it and gets the open
// frame at once; a polling response ends right after it.
void tst_HttpTransports::protocol_openFrame()
{
    QFETCH(QByteArray, transport);
    SessionClient client(port(), "/echo", transport);
    QCOMPARE(client.nextWrapped(), wrap(transport, "o"));
    QCOMPARE(client.head().status, 200);
    if (!isStreaming(transport))
        QCOMPARE(client.head().header("Content-Length"), QByteArray::number(wrap(transport, "o").size()));

    const QByteArray id = backendId("/echo", client.sessionId());
    QVERIFY(!id.isEmpty());
    QTRY_COMPARE(eventTypes("/echo", id), QList<QByteArray>{"connect"});
    QCOMPARE(backend("/echo")->eventsOfType("connect").first().data, QByteArray(""));
}

void tst_HttpTransports::protocol_sendToUnknownSession_data()
{
    QTest::addColumn<QByteArray>("endpoint");
    QTest::newRow("xhr_send") << QByteArray("xhr_send");
    QTest::newRow("jsonp_send") << QByteArray("jsonp_send");
}

void tst_HttpTransports::protocol_sendToUnknownSession()
{
    QFETCH(QByteArray, endpoint);
    for (int attempt = 0; attempt < 2; ++attempt) { // the first must not have created it
        const Response response = endpoint == "xhr_send" ? xhrSend("/echo", "bad_session", "[\"a\"]")
                                                         : jsonpSend("/echo", "bad_session", "d=%5B%22a%22%5D");
        QVERIFY(response.ok);
        QCOMPARE(response.status, 404);
    }
    QCOMPARE(backend("/echo")->events().size(), 0);
    QVERIFY(!session("/echo", "bad_session"));
}

void tst_HttpTransports::protocol_messageFrame_data() { addReceivingRows(); }

void tst_HttpTransports::protocol_messageFrame()
{
    QFETCH(QByteArray, transport);
    SessionClient client(port(), "/echo", transport);
    QCOMPARE(client.nextWrapped(), wrap(transport, "o"));
    QCOMPARE(xhrSend("/echo", client.sessionId(), "[\"x\"]").status, 204);
    QCOMPARE(client.nextWrapped(), wrap(transport, "a[\"x\"]"));
    QCOMPARE(xhrSend("/echo", client.sessionId(), "[\"say \\\"hi\\\" \\\\o/\"]").status, 204);
    QCOMPARE(client.nextWrapped(), wrap(transport, "a[\"say \\\"hi\\\" \\\\o/\"]"));
}

void tst_HttpTransports::protocol_anotherConnectionStillOpen_data() { addReceivingRows(); }

// A second receiver while one is attached gets c[2010,...] and ends; the
// first stays attached and still gets the next frame.
void tst_HttpTransports::protocol_anotherConnectionStillOpen()
{
    QFETCH(QByteArray, transport);
    SessionClient first(port(), "/echo", transport);
    QCOMPARE(first.nextWrapped(), wrap(transport, "o"));
    QVERIFY(first.startReceive()); // polling: a pending long poll
    QTRY_VERIFY(session("/echo", first.sessionId()) && session("/echo", first.sessionId())->hasReceiver());

    SessionClient second(port(), "/echo", transport, first.sessionId());
    QCOMPARE(second.nextWrapped(), wrap(transport, kAnotherConnection));
    QCOMPARE(second.head().status, 200);
    QVERIFY(second.ended());

    QVERIFY(session("/echo", first.sessionId())->hasReceiver());
    QCOMPARE(xhrSend("/echo", first.sessionId(), "[\"x\"]").status, 204);
    QCOMPARE(first.nextWrapped(), wrap(transport, "a[\"x\"]"));
    const QByteArray id = backendId("/echo", first.sessionId());
    QTRY_COMPARE(eventTypes("/echo", id), (QList<QByteArray>{"connect", "message"}));
}

void tst_HttpTransports::protocol_closeSession_data() { addReceivingRows(); }

// /close: o, then c[3000,"Go away!"] — and the same close frame again for
// every later receiving request; streaming responses end after it.
void tst_HttpTransports::protocol_closeSession()
{
    QFETCH(QByteArray, transport);
    SessionClient client(port(), "/close", transport);
    QCOMPARE(client.nextWrapped(), wrap(transport, "o"));
    const QByteArray id = backendId("/close", client.sessionId());
    QVERIFY(!id.isEmpty());
    QCOMPARE(client.nextWrapped(), wrap(transport, kGoAway));
    QVERIFY(client.ended());
    QCOMPARE(client.nextWrapped(), wrap(transport, kGoAway));
    QVERIFY(client.ended());

    // The backend said disconnect; the proxy says it back, once.
    QTRY_COMPARE(eventTypes("/close", id), (QList<QByteArray>{"connect", "disconnect"}));
    QCOMPARE(client.nextWrapped(), wrap(transport, kGoAway));
    QCOMPARE(eventTypes("/close", id), (QList<QByteArray>{"connect", "disconnect"}));
}

void tst_HttpTransports::protocol_backendMessagesQueuedInOneFrame_data() { addReceivingRows(); }

// Messages the backend sends while no receiver is attached go out in one
// a[...] frame, in order, to the next receiving request.
void tst_HttpTransports::protocol_backendMessagesQueuedInOneFrame()
{
    QFETCH(QByteArray, transport);
    SessionClient opener(port(), "/echo", "xhr");
    QCOMPARE(opener.nextWrapped(), QByteArray("o\n"));
    Session *target = session("/echo", opener.sessionId());
    QVERIFY(target);
    const QByteArray id = target->backendId();

    const QList<QByteArray> messages = {"first", "sec\"ond", "third\\", "", "fifth"};
    for (const QByteArray &message : messages)
        backend("/echo")->sendMessage(id, message);
    QTRY_COMPARE(target->queuedMessages(), messages.size());

    SessionClient client(port(), "/echo", transport, opener.sessionId());
    QCOMPARE(client.nextWrapped(), wrap(transport, "a[\"first\",\"sec\\\"ond\",\"third\\\\\",\"\",\"fifth\"]"));
    QCOMPARE(target->queuedMessages(), 0);
}

// --- §8 XhrPolling -------------------------------------------------------------------

void tst_HttpTransports::xhrPolling_invalidJson()
{
    SessionClient client(port(), "/echo", "xhr");
    QCOMPARE(client.nextWrapped(), QByteArray("o\n"));

    Response response = xhrSend("/echo", client.sessionId(), "[\"x");
    QCOMPARE(response.status, 500);
    QVERIFY2(response.body.contains("Broken JSON encoding."), response.body.constData());

    response = xhrSend("/echo", client.sessionId(), QByteArray());
    QCOMPARE(response.status, 500);
    QVERIFY2(response.body.contains("Payload expected."), response.body.constData());

    // Neither closed nor damaged the session.
    QCOMPARE(xhrSend("/echo", client.sessionId(), "[\"a\"]").status, 204);
    QCOMPARE(client.nextWrapped(), QByteArray("a[\"a\"]\n"));
    QCOMPARE(messagesFromClient("/echo", backendId("/echo", client.sessionId())), QList<QByteArray>{"a"});
}

void tst_HttpTransports::xhrPolling_sendingEmptyFrame()
{
    SessionClient client(port(), "/echo", "xhr");
    QCOMPARE(client.nextWrapped(), QByteArray("o\n"));
    const QByteArray id = backendId("/echo", client.sessionId());

    const Response response = xhrSend("/echo", client.sessionId(), "[]");
    QCOMPARE(response.status, 204);
    QCOMPARE(response.body, QByteArray(""));
    QCOMPARE(xhrSend("/echo", client.sessionId(), "[\"b\"]").status, 204);
    QCOMPARE(client.nextWrapped(), QByteArray("a[\"b\"]\n"));
    QCOMPARE(messagesFromClient("/echo", id), QList<QByteArray>{"b"});
}

// The request's Content-Type is ignored; 8 sends come back in one frame.
void tst_HttpTransports::xhrPolling_contentTypesIgnored()
{
    SessionClient client(port(), "/echo", "xhr");
    QCOMPARE(client.nextWrapped(), QByteArray("o\n"));
    Session *target = session("/echo", client.sessionId());
    QVERIFY(target);

    const QList<QByteArray> types = {"text/plain",
                                     "T",
                                     "application/json",
                                     "application/xml",
                                     "",
                                     "application/json; charset=utf-8",
                                     "text/xml; charset=utf-8",
                                     "text/xml"};
    for (const QByteArray &type : types) {
        const Response response = xhrSend("/echo", client.sessionId(), "[\"a\"]", {{"Content-Type", type}});
        QVERIFY2(response.status == 204, type.constData());
        QCOMPARE(response.body, QByteArray(""));
    }
    QTRY_COMPARE(target->queuedMessages(), types.size());
    QCOMPARE(client.nextWrapped(), QByteArray("a[\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\"]\n"));
}

// http-quirks.py: POST .../xhr without any Content-Length still opens.
void tst_HttpTransports::xhrPolling_withoutContentLength()
{
    HttpClient client(port(), kWaitMs);
    QVERIFY(client.connectToServer());
    client.write("POST /echo/000/" + newSessionId() + "/xhr HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    const Response response = client.readResponse();
    QVERIFY(response.ok);
    QCOMPARE(response.status, 200);
    QCOMPARE(response.body, QByteArray("o\n"));
}

// --- §9-§11 response_limit and framing -------------------------------------------------

// 31 messages of 128 'x' arrive one chunk each; right after the 31st the
// response ends (the prelude does not count). The session lives on.
void tst_HttpTransports::xhrStreaming_responseLimit()
{
    SessionClient client(port(), "/echo", "xhr_streaming");
    QCOMPARE(client.nextWrapped(), QByteArray("o\n"));
    const QByteArray payload(128, 'x');
    for (int i = 0; i < 31; ++i) {
        QCOMPARE(xhrSend("/echo", client.sessionId(), "[\"" + payload + "\"]").status, 204);
        const QByteArray chunk = client.nextWrapped();
        QVERIFY2(chunk == "a[\"" + payload + "\"]\n", qPrintable(QStringLiteral("message %1").arg(i + 1)));
        QCOMPARE(chunk.size(), 134);
    }
    QVERIFY(client.ended());

    // A new stream continues the same session: no second open frame.
    QCOMPARE(xhrSend("/echo", client.sessionId(), "[\"y\"]").status, 204);
    QCOMPARE(client.nextWrapped(), QByteArray("a[\"y\"]\n"));
    const QByteArray id = backendId("/echo", client.sessionId());
    QCOMPARE(eventCount("/echo", "connect", id), 1);
}

void tst_HttpTransports::streaming_responseLimitSingleFrame_data() { addStreamingRows(); }

// One message larger than the limit is delivered whole, then the response ends.
void tst_HttpTransports::streaming_responseLimitSingleFrame()
{
    QFETCH(QByteArray, transport);
    SessionClient client(port(), "/echo", transport);
    QCOMPARE(client.nextWrapped(), wrap(transport, "o"));
    const QByteArray payload(4096, 'x');
    QCOMPARE(xhrSend("/echo", client.sessionId(), "[\"" + payload + "\"]").status, 204);
    QCOMPARE(client.nextWrapped(), wrap(transport, "a[\"" + payload + "\"]"));
    QVERIFY(client.ended());
}

// Control characters are JSON-escaped inside the event, never raw.
void tst_HttpTransports::eventSource_controlCharactersEscaped()
{
    SessionClient client(port(), "/echo", "eventsource");
    QCOMPARE(client.nextWrapped(), QByteArray("data: o\r\n\r\n"));
    QCOMPARE(client.head().header("Content-Type"), kEventStream);
    QCOMPARE(xhrSend("/echo", client.sessionId(), "[\"  \\u0000\\n\\r \"]").status, 204);
    QCOMPARE(client.nextWrapped(), QByteArray("data: a[\"  \\u0000\\n\\r \"]\r\n\r\n"));
    QCOMPARE(messagesFromClient("/echo", backendId("/echo", client.sessionId())),
             QList<QByteArray>{QByteArray("  \0\n\r ", 6)});
}

void tst_HttpTransports::htmlFile_transport()
{
    HttpClient client(port(), kWaitMs);
    QVERIFY(client.connectToServer());
    const QByteArray sid = newSessionId();
    client.sendRequest("GET", "/echo/000/" + sid + "/htmlfile?c=%63allback");
    const Response head = client.readHead();
    QVERIFY(head.ok);
    QCOMPARE(head.status, 200);
    QCOMPARE(head.header("Content-Type"), kHtml);
    QCOMPARE(head.header("Cache-Control"), kNoCache);
    QCOMPARE(head.header("Transfer-Encoding"), QByteArray("chunked"));

    const QByteArray page = client.readChunk();
    QVERIFY2(page.size() > 1024, QByteArray::number(page.size()).constData());
    QCOMPARE(page.trimmed(), htmlFilePage("callback"));
    QCOMPARE(client.readChunk(), QByteArray("<script>\np(\"o\");\n</script>\r\n"));
    QCOMPARE(xhrSend("/echo", sid, "[\"x\"]").status, 204);
    QCOMPARE(client.readChunk(), QByteArray("<script>\np(\"a[\\\"x\\\"]\");\n</script>\r\n"));
}

// A message containing </script> (or <!--) must not end the script element:
// no '<' may appear inside p(...), and the string still decodes to the frame.
void tst_HttpTransports::htmlFile_scriptEndTagArrivesIntact()
{
    SessionClient client(port(), "/echo", "htmlfile");
    QCOMPARE(client.nextWrapped(), wrap("htmlfile", "o"));
    const QByteArray message = "</script><SCRIPT>alert(1)</SCRIPT><!-- x --></Script >";
    QCOMPARE(xhrSend("/echo", client.sessionId(), "[\"" + message + "\"]").status, 204);

    const QByteArray chunk = client.nextWrapped();
    const QByteArray before = "<script>\np(";
    const QByteArray after = ");\n</script>\r\n";
    QVERIFY2(chunk.startsWith(before) && chunk.endsWith(after), chunk.constData());
    const QByteArray literal = chunk.mid(before.size(), chunk.size() - before.size() - after.size());
    QVERIFY2(!literal.contains('<'), literal.constData());
    QVERIFY2(literal.contains("\\u003c/script"), literal.constData());
    const QByteArray frame = jsonStringValue(literal);
    QCOMPARE(frame, "a[\"" + message + "\"]");
    QCOMPARE(messagesOf(frame).value_or(QList<QByteArray>()), QList<QByteArray>{message});
}

void tst_HttpTransports::callback_required_data()
{
    QTest::addColumn<QByteArray>("transport");
    QTest::newRow("htmlfile") << QByteArray("htmlfile");
    QTest::newRow("jsonp") << QByteArray("jsonp");
}

void tst_HttpTransports::callback_required()
{
    QFETCH(QByteArray, transport);
    const QByteArray sid = newSessionId();
    const Response response = request("GET", "/echo/000/" + sid + '/' + transport);
    QVERIFY(response.ok);
    QCOMPARE(response.status, 500);
    QVERIFY2(response.body.contains("\"callback\" parameter required"), response.body.constData());
    // Validated before a session exists.
    QVERIFY(!session("/echo", sid));
    QCOMPARE(xhrSend("/echo", sid, "[\"a\"]").status, 404);
    QCOMPARE(backend("/echo")->events().size(), 0);
}

void tst_HttpTransports::callback_invalid_data()
{
    QTest::addColumn<QByteArray>("transport");
    QTest::addColumn<QByteArray>("callback");
    for (const char *transport : {"htmlfile", "jsonp"}) {
        for (const char *callback : {"%20", "*", "abc(", "abc%28"})
            QTest::addRow("%s c=%s", transport, callback) << QByteArray(transport) << QByteArray(callback);
    }
}

void tst_HttpTransports::callback_invalid()
{
    QFETCH(QByteArray, transport);
    QFETCH(QByteArray, callback);
    const QByteArray sid = newSessionId();
    const Response response = request("GET", "/echo/000/" + sid + '/' + transport + "?c=" + callback);
    QVERIFY(response.ok);
    QCOMPARE(response.status, 500);
    QVERIFY2(response.body.contains("invalid \"callback\" parameter"), response.body.constData());
    QVERIFY(!session("/echo", sid));
    QCOMPARE(xhrSend("/echo", sid, "[\"a\"]").status, 404);
    QCOMPARE(backend("/echo")->events().size(), 0);
}

void tst_HttpTransports::jsonPolling_transport()
{
    const QByteArray sid = newSessionId();
    Response response = request("GET", "/echo/000/" + sid + "/jsonp?c=%63allback");
    QVERIFY(response.ok);
    QCOMPARE(response.status, 200);
    QCOMPARE(response.header("Content-Type"), kJavaScript);
    QCOMPARE(response.header("Cache-Control"), kNoCache);
    QCOMPARE(response.body, QByteArray("/**/callback(\"o\");\r\n"));

    response = jsonpSend("/echo", sid, "d=%5B%22x%22%5D");
    QCOMPARE(response.status, 200);
    QCOMPARE(response.body, QByteArray("ok"));
    QCOMPARE(response.header("Content-Type"), kPlain);
    QCOMPARE(response.header("Cache-Control"), kNoCache);

    response = request("GET", "/echo/000/" + sid + "/jsonp?c=%63allback");
    QCOMPARE(response.status, 200);
    QCOMPARE(response.body, QByteArray("/**/callback(\"a[\\\"x\\\"]\");\r\n"));
}

// Form-encoded: the field d, URL-decoded. Anything else: the raw body, not
// URL-decoded.
void tst_HttpTransports::jsonPolling_contentTypes()
{
    SessionClient client(port(), "/echo", "jsonp");
    QCOMPARE(client.nextWrapped(), wrap("jsonp", "o"));
    Session *target = session("/echo", client.sessionId());
    QVERIFY(target);

    Response response = jsonpSend("/echo", client.sessionId(), "d=%5B%22abc%22%5D");
    QCOMPARE(response.status, 200);
    QCOMPARE(response.body, QByteArray("ok"));
    response = jsonpSend("/echo", client.sessionId(), "[\"%61bc\"]", "text/plain");
    QCOMPARE(response.status, 200);
    QCOMPARE(response.body, QByteArray("ok"));

    QTRY_COMPARE(target->queuedMessages(), 2);
    QCOMPARE(client.nextWrapped(), QByteArray("/**/callback(\"a[\\\"abc\\\",\\\"%61bc\\\"]\");\r\n"));
    QCOMPARE(messagesFromClient("/echo", target->backendId()), (QList<QByteArray>{"abc", "%61bc"}));
}

void tst_HttpTransports::jsonPolling_invalidJson_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QByteArray>("error");
    QTest::newRow("broken") << QByteArray("d=%5B%22x") << QByteArray("Broken JSON encoding.");
    QTest::newRow("empty body") << QByteArray("") << QByteArray("Payload expected.");
    QTest::newRow("empty d") << QByteArray("d=") << QByteArray("Payload expected.");
    QTest::newRow("no d") << QByteArray("p=p") << QByteArray("Payload expected.");
}

void tst_HttpTransports::jsonPolling_invalidJson()
{
    QFETCH(QByteArray, body);
    QFETCH(QByteArray, error);
    SessionClient client(port(), "/echo", "jsonp");
    QCOMPARE(client.nextWrapped(), wrap("jsonp", "o"));

    Response response = jsonpSend("/echo", client.sessionId(), body);
    QCOMPARE(response.status, 500);
    QVERIFY2(response.body.contains(error), response.body.constData());

    // The session survives: a valid send is delivered.
    response = jsonpSend("/echo", client.sessionId(), "d=%5B%22x%22%5D");
    QCOMPARE(response.status, 200);
    QCOMPARE(response.body, QByteArray("ok"));
    QCOMPARE(client.nextWrapped(), wrap("jsonp", "a[\"x\"]"));
    QCOMPARE(messagesFromClient("/echo", backendId("/echo", client.sessionId())), QList<QByteArray>{"x"});
}

void tst_HttpTransports::jsonPolling_sendingEmptyFrame()
{
    SessionClient client(port(), "/echo", "jsonp");
    QCOMPARE(client.nextWrapped(), wrap("jsonp", "o"));
    Response response = jsonpSend("/echo", client.sessionId(), "d=%5B%5D");
    QCOMPARE(response.status, 200);
    QCOMPARE(response.body, QByteArray("ok"));
    QCOMPARE(jsonpSend("/echo", client.sessionId(), "d=%5B%22y%22%5D").body, QByteArray("ok"));
    QCOMPARE(client.nextWrapped(), wrap("jsonp", "a[\"y\"]"));
    QCOMPARE(messagesFromClient("/echo", backendId("/echo", client.sessionId())), QList<QByteArray>{"y"});
}

// --- §12 headers ---------------------------------------------------------------------------

namespace {
const QList<QByteArray> kSessionEndpoints = {"xhr",      "xhr_send", "xhr_streaming", "eventsource",
                                             "htmlfile", "jsonp",    "jsonp_send"};

// The head of one request to endpoint on a new session (send endpoints on a
// session opened with xhr first).
Response sessionEndpointHead(quint16 port, const QByteArray &prefix, const QByteArray &endpoint, const Headers &headers)
{
    const QByteArray sid = newSessionId();
    if (endpoint == "xhr_send" || endpoint == "jsonp_send") {
        const Response opened =
            HttpClient::request(port, "POST", sessionPath(prefix, sid, "xhr"), QByteArray(), headers);
        if (opened.body != "o\n")
            return Response();
        Headers sendHeaders = headers;
        QByteArray body = "[\"x\"]";
        if (endpoint == "jsonp_send") {
            sendHeaders.append({"Content-Type", kFormEncoded});
            body = "d=%5B%22x%22%5D";
        }
        return HttpClient::request(port, "POST", sessionPath(prefix, sid, endpoint), body, sendHeaders);
    }
    SessionClient client(port, prefix, endpoint, sid);
    client.setHeaders(headers);
    if (client.nextWrapped() != wrap(endpoint, "o"))
        return Response();
    return client.head();
}
} // namespace

void tst_HttpTransports::headers_sessionEndpoints_data()
{
    QTest::addColumn<QByteArray>("endpoint");
    QTest::addColumn<QByteArray>("origin"); // null: no Origin header
    for (const QByteArray &endpoint : kSessionEndpoints) {
        QTest::addRow("%s Origin: test", endpoint.constData()) << endpoint << QByteArray("test");
        QTest::addRow("%s Origin: null", endpoint.constData()) << endpoint << QByteArray("null");
        QTest::addRow("%s no Origin", endpoint.constData()) << endpoint << QByteArray();
    }
}

// Exact Content-Type (§12.1), never cache (§12.2), CORS echo (§12.4), and no
// cookie on a service without cookie_needed.
void tst_HttpTransports::headers_sessionEndpoints()
{
    QFETCH(QByteArray, endpoint);
    QFETCH(QByteArray, origin);
    Headers headers;
    if (!origin.isNull())
        headers.append({"Origin", origin});
    const Response response = sessionEndpointHead(port(), "/echo", endpoint, headers);
    QVERIFY(response.ok);
    QCOMPARE(response.status, endpoint == "xhr_send" ? 204 : 200);
    if (endpoint == "xhr_send")
        QCOMPARE(response.body, QByteArray(""));
    if (endpoint == "jsonp_send")
        QCOMPARE(response.body, QByteArray("ok"));

    QCOMPARE(response.header("Content-Type"), contentTypeOf(endpoint));
    QCOMPARE(response.header("Cache-Control"), kNoCache);
    QVERIFY(!response.hasHeader("Expires"));
    QVERIFY(!response.hasHeader("Last-Modified"));
    QVERIFY(!response.hasHeader("Set-Cookie"));

    if (endpoint.startsWith("xhr")) { // the endpoints the suite checks for CORS
        if (origin.isNull()) {
            QCOMPARE(response.header("Access-Control-Allow-Origin"), QByteArray("*"));
            QVERIFY(!response.hasHeader("Access-Control-Allow-Credentials"));
        } else {
            QCOMPARE(response.header("Access-Control-Allow-Origin"), origin);
            QCOMPARE(response.header("Access-Control-Allow-Credentials"), QByteArray("true"));
        }
    }
}

void tst_HttpTransports::headers_preflight_data()
{
    QTest::addColumn<QByteArray>("endpoint");
    QTest::addColumn<QByteArray>("origin");
    QTest::addColumn<QByteArray>("requestHeaders"); // null: header absent
    for (const char *endpoint : {"xhr", "xhr_send", "xhr_streaming"}) {
        for (const char *origin : {"test", "null"}) {
            QTest::addRow("%s %s asked a, b, c", endpoint, origin)
                << QByteArray(endpoint) << QByteArray(origin) << QByteArray("a, b, c");
            QTest::addRow("%s %s asked nothing", endpoint, origin)
                << QByteArray(endpoint) << QByteArray(origin) << QByteArray("");
            QTest::addRow("%s %s not asked", endpoint, origin)
                << QByteArray(endpoint) << QByteArray(origin) << QByteArray();
        }
    }
}

void tst_HttpTransports::headers_preflight()
{
    QFETCH(QByteArray, endpoint);
    QFETCH(QByteArray, origin);
    QFETCH(QByteArray, requestHeaders);
    Headers headers = {{"Origin", origin}, {"Access-Control-Request-Method", "POST"}};
    if (!requestHeaders.isNull())
        headers.append({"Access-Control-Request-Headers", requestHeaders});
    const Response response = request("OPTIONS", "/echo/abc/abc/" + endpoint, QByteArray(), headers);
    QVERIFY(response.ok);
    QVERIFY2(response.status == 200 || response.status == 204, QByteArray::number(response.status).constData());
    QCOMPARE(response.body, QByteArray(""));

    const QByteArray cacheControl = response.header("Cache-Control");
    QVERIFY2(cacheControl.contains("public"), cacheControl.constData());
    QVERIFY2(QRegularExpression(QStringLiteral("max-age=[1-9][0-9]{6,}"))
                 .match(QString::fromLatin1(cacheControl))
                 .hasMatch(),
             cacheControl.constData());
    QVERIFY(!response.header("Expires").isEmpty());
    bool isNumber = false;
    QVERIFY(response.header("Access-Control-Max-Age").toLongLong(&isNumber) > 1000000);
    QVERIFY(isNumber);
    const QList<QByteArray> methods = tokens(response.header("Access-Control-Allow-Methods"));
    QVERIFY2(methods.contains("OPTIONS") && methods.contains("POST"),
             response.header("Access-Control-Allow-Methods").constData());
    QCOMPARE(response.header("Access-Control-Allow-Origin"), origin);
    QCOMPARE(response.header("Access-Control-Allow-Credentials"), QByteArray("true"));
    if (requestHeaders.isEmpty())
        QVERIFY(response.header("Access-Control-Allow-Headers").isEmpty());
    else
        QCOMPARE(response.header("Access-Control-Allow-Headers"), requestHeaders);

    // A preflight opens nothing.
    QVERIFY(!session("/echo", "abc"));
    QCOMPARE(backend("/echo")->events().size(), 0);
}

void tst_HttpTransports::jsessionid_sessionUrls_data()
{
    QTest::addColumn<QByteArray>("endpoint"); // "OPTIONS xhr": a preflight
    QTest::addColumn<QByteArray>("cookie");   // request Cookie header; null: none
    QTest::addColumn<QByteArray>("expected"); // JSESSIONID value to be set
    QList<QByteArray> endpoints = kSessionEndpoints;
    endpoints.append("OPTIONS xhr");
    for (const QByteArray &endpoint : std::as_const(endpoints)) {
        QTest::addRow("%s no cookie", endpoint.constData()) << endpoint << QByteArray() << QByteArray("dummy");
        QTest::addRow("%s JSESSIONID", endpoint.constData())
            << endpoint << QByteArray("JSESSIONID=abcdef") << QByteArray("abcdef");
        QTest::addRow("%s among cookies", endpoint.constData())
            << endpoint << QByteArray("a=b; JSESSIONID=xyz123; c=d") << QByteArray("xyz123");
    }
}

// On a cookie_needed service every session URL sets JSESSIONID (dummy, or
// the one the request carried) with path=/.
void tst_HttpTransports::jsessionid_sessionUrls()
{
    QFETCH(QByteArray, endpoint);
    QFETCH(QByteArray, cookie);
    QFETCH(QByteArray, expected);
    Headers headers;
    if (!cookie.isNull())
        headers.append({"Cookie", cookie});
    Response response;
    if (endpoint == "OPTIONS xhr") {
        headers.append({QByteArray("Origin"), QByteArray("test")});
        response = request("OPTIONS", "/cookie_needed_echo/abc/abc/xhr", QByteArray(), headers);
    } else {
        response = sessionEndpointHead(port(), "/cookie_needed_echo", endpoint, headers);
    }
    QVERIFY(response.ok);
    const QList<QByteArray> parts = response.header("Set-Cookie").split(';');
    QCOMPARE(parts.size(), 2);
    QCOMPARE(parts.at(0), "JSESSIONID=" + expected);
    QCOMPARE(parts.at(1).trimmed().toLower(), QByteArray("path=/"));
}

// --- §13 JSONEncoding ----------------------------------------------------------------------

// The 44 code points U+200C-200F, U+2028-202F, U+2060-206F, U+FFF0-FFFF,
// sent raw, come back as \u escapes with lower-case hex, byte for byte.
void tst_HttpTransports::jsonEncoding_serverEncodes()
{
    QString raw;
    QByteArray escaped;
    for (const auto &range :
         {std::pair<char16_t, char16_t>{0x200c, 0x200f}, {0x2028, 0x202f}, {0x2060, 0x206f}, {0xfff0, 0xffff}}) {
        for (char32_t c = range.first; c <= range.second; ++c) {
            raw += QChar(char16_t(c));
            escaped += "\\u" + QByteArray::number(uint(c), 16).rightJustified(4, '0');
        }
    }
    QCOMPARE(raw.size(), 44);

    SessionClient client(port(), "/echo", "xhr");
    QCOMPARE(client.nextWrapped(), QByteArray("o\n"));
    QCOMPARE(xhrSend("/echo", client.sessionId(), "[\"" + raw.toUtf8() + "\"]").status, 204);
    QCOMPARE(client.nextWrapped(), "a[\"" + escaped + "\"]\n");
    QCOMPARE(messagesFromClient("/echo", backendId("/echo", client.sessionId())), QList<QByteArray>{raw.toUtf8()});
}

// One message of 1093 characters, every one written as a \uXXXX escape,
// is decoded (the backend gets its UTF-8) and comes back as an equal string.
void tst_HttpTransports::jsonEncoding_serverDecodes()
{
    const QString expected = clientKillerString();
    QCOMPARE(expected.size(), 1093);

    SessionClient client(port(), "/echo", "xhr");
    QCOMPARE(client.nextWrapped(), QByteArray("o\n"));
    QCOMPARE(xhrSend("/echo", client.sessionId(), '[' + escapedAsJson(expected) + ']').status, 204);
    const QByteArray body = client.nextWrapped();
    QVERIFY2(body.startsWith("a[") && body.endsWith("]\n"), body.left(40).constData());

    QJsonParseError error;
    const QJsonDocument document = QJsonDocument::fromJson(body.mid(1).chopped(1), &error);
    QCOMPARE(error.error, QJsonParseError::NoError);
    QCOMPARE(document.array().size(), 1);
    QCOMPARE(document.array().at(0).toString(), expected);
    QCOMPARE(messagesFromClient("/echo", backendId("/echo", client.sessionId())), QList<QByteArray>{expected.toUtf8()});
}

// U+0000 and the noncharacters U+FFFE/U+FFFF pass through both ways,
// length-counted, never cut at a NUL.
void tst_HttpTransports::jsonEncoding_nulAndNoncharacters()
{
    SessionClient client(port(), "/echo", "xhr");
    QCOMPARE(client.nextWrapped(), QByteArray("o\n"));
    const QByteArray id = backendId("/echo", client.sessionId());

    // Client -> backend (and the echo back): \u0000 escaped, U+FFFE/U+FFFF raw.
    QCOMPARE(xhrSend("/echo", client.sessionId(), "[\"a\\u0000b\xEF\xBF\xBE\xEF\xBF\xBF\"]").status, 204);
    QCOMPARE(client.nextWrapped(), QByteArray("a[\"a\\u0000b\\ufffe\\uffff\"]\n"));
    QCOMPARE(messagesFromClient("/echo", id), QList<QByteArray>{QByteArray("a\0b\xEF\xBF\xBE\xEF\xBF\xBF", 9)});

    // Backend -> client.
    backend("/echo")->sendMessage(id, QByteArray("\0\xEF\xBF\xBFz\0", 6));
    QCOMPARE(client.nextWrapped(), QByteArray("a[\"\\u0000\\uffffz\\u0000\"]\n"));
}

// --- §14 Http10, Http11 ----------------------------------------------------------------------

void tst_HttpTransports::http10_streaming_data() { addStreamingRows(); }

// HTTP/1.0: no chunking; the stream is written raw and ended by closing.
void tst_HttpTransports::http10_streaming()
{
    QFETCH(QByteArray, transport);
    HttpClient client(port(), kWaitMs);
    QVERIFY(client.connectToServer());
    client.sendRequest(methodOf(transport), sessionPath("/close", newSessionId(), transport), QByteArray(),
                       {{"Connection", "Keep-Alive"}}, "HTTP/1.0");
    const Response response = client.readResponse(); // no framing headers: reads until the server closes
    QVERIFY(response.ok);
    QCOMPARE(response.status, 200);
    QVERIFY(!response.hasHeader("Transfer-Encoding"));
    QVERIFY(!response.hasHeader("Content-Length"));
    QVERIFY(response.header("Connection").isNull() || response.header("Connection").toLower() == "close");
    QCOMPARE(client.socket().state(), QAbstractSocket::UnconnectedState);

    const QByteArray frames = wrap(transport, "o") + wrap(transport, kGoAway);
    QVERIFY2(response.body.endsWith(frames), response.body.right(120).constData());
    QVERIFY(isValidPrelude(transport, response.body.chopped(frames.size())));
}

void tst_HttpTransports::http11_streaming_data() { addStreamingRows(); }

// HTTP/1.1: chunked, one chunk per frame (and the prelude), then the
// terminating chunk; the connection stays usable.
void tst_HttpTransports::http11_streaming()
{
    QFETCH(QByteArray, transport);
    HttpClient client(port(), kWaitMs);
    QVERIFY(client.connectToServer());
    client.sendRequest(methodOf(transport), sessionPath("/close", newSessionId(), transport), QByteArray(),
                       {{"Connection", "Keep-Alive"}});
    const Response response = client.readResponse();
    QVERIFY(response.ok); // up to the terminating chunk
    QCOMPARE(response.status, 200);
    QCOMPARE(response.header("Transfer-Encoding").toLower(), QByteArray("chunked"));
    QVERIFY(!response.hasHeader("Content-Length"));
    QCOMPARE(response.chunks.size(), 3);
    QVERIFY(isValidPrelude(transport, response.chunks.at(0)));
    QCOMPARE(response.chunks.at(1), wrap(transport, "o"));
    QCOMPARE(response.chunks.at(2), wrap(transport, kGoAway));

    client.sendRequest("POST", "/close/000/" + newSessionId() + "/xhr");
    const Response next = client.readResponse();
    QCOMPARE(next.status, 200);
    QCOMPARE(next.body, QByteArray("o\n"));
}

// --- §16 backends, §17 ----------------------------------------------------------------------

void tst_HttpTransports::backend_sessionLifecycle_data() { addReceivingRows(); }

// The backend sees exactly one connect, each message once and in order,
// and one disconnect, whatever the transport.
void tst_HttpTransports::backend_sessionLifecycle()
{
    QFETCH(QByteArray, transport);
    SessionClient client(port(), "/echo", transport);
    QCOMPARE(client.nextWrapped(), wrap(transport, "o"));
    const QByteArray id = backendId("/echo", client.sessionId());
    QVERIFY(!id.isEmpty());

    QCOMPARE(xhrSend("/echo", client.sessionId(), "[\"m1\",\"m2\"]").status, 204);
    QCOMPARE(jsonpSend("/echo", client.sessionId(), "d=%5B%22m3%22%5D").status, 200);
    QCOMPARE(xhrSend("/echo", client.sessionId(), "[\"m4\"]").status, 204);

    // The echoes, however they are batched into frames.
    QList<QByteArray> echoed;
    while (echoed.size() < 4) {
        const QByteArray frame = client.nextFrame();
        const auto messages = messagesOf(frame);
        QVERIFY2(messages, frame.constData());
        echoed += *messages;
    }
    const QList<QByteArray> sent = {"m1", "m2", "m3", "m4"};
    QCOMPARE(echoed, sent);

    backend("/echo")->sendDisconnect(id);
    QCOMPARE(client.nextWrapped(), wrap(transport, kGoAway));
    QVERIFY(client.ended());
    QTRY_COMPARE(eventTypes("/echo", id).size(), 6);
    QCOMPARE(eventTypes("/echo", id),
             (QList<QByteArray>{"connect", "message", "message", "message", "message", "disconnect"}));
    QCOMPARE(messagesFromClient("/echo", id), sent);
    QCOMPARE(backend("/echo")->eventsOfType("connect").size(), 1);

    // Sends after the close go nowhere.
    xhrSend("/echo", client.sessionId(), "[\"late\"]");
    QCOMPARE(client.nextWrapped(), wrap(transport, kGoAway));
    QCOMPARE(eventTypes("/echo", id).size(), 6);
}

void tst_HttpTransports::heartbeat_attachedReceiver_data() { addReceivingRows(); }

// An attached receiver gets 'h' after each heartbeat delay without traffic,
// and a session with a receiver does not expire.
void tst_HttpTransports::heartbeat_attachedReceiver()
{
    QFETCH(QByteArray, transport);
    constexpr int heartbeatMs = 200;
    constexpr int disconnectMs = 500;
    QVERIFY(restart(heartbeatMs, disconnectMs));

    SessionClient client(port(), "/echo", transport);
    QCOMPARE(client.nextWrapped(), wrap(transport, "o"));
    const QByteArray id = backendId("/echo", client.sessionId());
    QElapsedTimer timer;
    timer.start();
    for (int i = 0; i < 3; ++i)
        QCOMPARE(client.nextWrapped(), wrap(transport, "h"));
    const qint64 elapsed = timer.elapsed();
    // Coarse timers may fire up to 5 % early.
    QVERIFY2(elapsed >= 3 * heartbeatMs * 9 / 10, QByteArray::number(elapsed).constData());

    // Attached for longer than the disconnect delay: still alive.
    QVERIFY(elapsed > disconnectMs);
    QVERIFY(session("/echo", client.sessionId()));
    QCOMPARE(eventTypes("/echo", id), QList<QByteArray>{"connect"});
    QCOMPARE(xhrSend("/echo", client.sessionId(), "[\"x\"]").status, 204);
    QByteArray wrapped = client.nextWrapped();
    for (int i = 0; i < 5 && wrapped == wrap(transport, "h"); ++i) // a heartbeat may come first
        wrapped = client.nextWrapped();
    QCOMPARE(wrapped, wrap(transport, "a[\"x\"]"));
}

void tst_HttpTransports::sessionExpiry_afterDisconnectDelay_data()
{
    QTest::addColumn<QByteArray>("transport");
    for (const QByteArray &transport : kPollingTransports)
        QTest::newRow(transport.constData()) << transport;
}

// No receiver for the disconnect delay: the session is forgotten, the
// backend gets disconnect, and the same id later opens a new session.
void tst_HttpTransports::sessionExpiry_afterDisconnectDelay()
{
    QFETCH(QByteArray, transport);
    constexpr int disconnectMs = 300;
    QVERIFY(restart(25000, disconnectMs));

    SessionClient client(port(), "/echo", transport);
    QElapsedTimer timer;
    timer.start();
    QCOMPARE(client.nextWrapped(), wrap(transport, "o"));
    const QByteArray id = backendId("/echo", client.sessionId());
    QVERIFY(!id.isEmpty());

    QTRY_COMPARE_WITH_TIMEOUT(eventCount("/echo", "disconnect", id), 1, 5000);
    QVERIFY2(timer.elapsed() >= disconnectMs * 9 / 10, QByteArray::number(timer.elapsed()).constData());
    QVERIFY(!session("/echo", client.sessionId()));
    QCOMPARE(xhrSend("/echo", client.sessionId(), "[\"x\"]").status, 404);

    QCOMPARE(client.nextWrapped(), wrap(transport, "o"));
    const QByteArray newId = backendId("/echo", client.sessionId());
    QVERIFY(!newId.isEmpty());
    QVERIFY(newId != id);
    QTRY_COMPARE(eventTypes("/echo", newId), QList<QByteArray>{"connect"});
    QCOMPARE(eventTypes("/echo", id), (QList<QByteArray>{"connect", "disconnect"}));
}

void tst_HttpTransports::abort_receivingRequest_data() { addReceivingRows(); }

// A client dropping its receiving request is noticed at once (not after the
// disconnect delay): the backend gets disconnect, and the next receiving
// request gets c[1002,"Connection interrupted"] or o — never 2010, never a hang.
void tst_HttpTransports::abort_receivingRequest()
{
    QFETCH(QByteArray, transport);
    QVERIFY(restart(25000, 60000)); // only the abort can explain a prompt disconnect

    SessionClient client(port(), "/echo", transport);
    QCOMPARE(client.nextWrapped(), wrap(transport, "o"));
    const QByteArray id = backendId("/echo", client.sessionId());
    QVERIFY(client.startReceive());
    QTRY_VERIFY(session("/echo", client.sessionId()) && session("/echo", client.sessionId())->hasReceiver());

    client.abort();
    QTRY_COMPARE_WITH_TIMEOUT(eventCount("/echo", "disconnect", id), 1, 2000);

    SessionClient next(port(), "/echo", transport, client.sessionId());
    const QByteArray wrapped = next.nextWrapped();
    QVERIFY2(wrapped == wrap(transport, kInterrupted) || wrapped == wrap(transport, "o"), wrapped.constData());
    if (wrapped == wrap(transport, kInterrupted))
        QVERIFY(next.ended());
    QCOMPARE(eventCount("/echo", "disconnect", id), 1);
    QCOMPARE(eventCount("/echo", "connect", id), 1);
}

void tst_HttpTransports::wrongMethod_405_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QByteArray>("endpoint");
    QTest::addColumn<QList<QByteArray>>("allowed");
    const QList<QByteArray> post = {"OPTIONS", "POST"};
    const QList<QByteArray> get = {"GET"};
    QTest::newRow("GET xhr") << QByteArray("GET") << QByteArray("xhr") << post;
    QTest::newRow("PUT xhr") << QByteArray("PUT") << QByteArray("xhr") << post;
    QTest::newRow("GET xhr_send") << QByteArray("GET") << QByteArray("xhr_send") << post;
    QTest::newRow("DELETE xhr_send") << QByteArray("DELETE") << QByteArray("xhr_send") << post;
    QTest::newRow("GET xhr_streaming") << QByteArray("GET") << QByteArray("xhr_streaming") << post;
    QTest::newRow("POST eventsource") << QByteArray("POST") << QByteArray("eventsource") << get;
    QTest::newRow("POST htmlfile") << QByteArray("POST") << QByteArray("htmlfile") << get;
    QTest::newRow("POST jsonp") << QByteArray("POST") << QByteArray("jsonp") << get;
    QTest::newRow("GET jsonp_send") << QByteArray("GET") << QByteArray("jsonp_send") << QList<QByteArray>{"POST"};
}

// Wrong methods on session URLs: 405 with Allow, no Content-Type, empty
// body, and no session opened.
void tst_HttpTransports::wrongMethod_405()
{
    QFETCH(QByteArray, method);
    QFETCH(QByteArray, endpoint);
    QFETCH(QList<QByteArray>, allowed);
    const QByteArray sid = newSessionId();
    const Response response = request(method, sessionPath("/echo", sid, endpoint));
    QVERIFY(response.ok);
    QCOMPARE(response.status, 405);
    QList<QByteArray> allow = tokens(response.header("Allow"));
    std::sort(allow.begin(), allow.end());
    QCOMPARE(allow, allowed);
    QVERIFY(!response.hasHeader("Content-Type"));
    QCOMPARE(response.body, QByteArray(""));
    QVERIFY(!session("/echo", sid));
    QCOMPARE(backend("/echo")->events().size(), 0);
}

QTEST_GUILESS_MAIN(tst_HttpTransports)
#include "tst_httptransports.moc"
