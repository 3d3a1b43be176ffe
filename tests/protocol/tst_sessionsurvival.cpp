// One session, one minute, its receiver changing transport with every
// request: xhr, xhr_streaming, eventsource, htmlfile, jsonp, round and
// round, while the client sends through xhr_send and jsonp_send and the
// backend both echoes and sends messages of its own. Nothing may be lost,
// duplicated or reordered in either direction, and the backend must see
// one connect and no disconnect.
//
// SOCKJSPROXY_SURVIVAL_SECONDS shortens or lengthens the run (default 60).

#include "httpclient.h"
#include "testbackend.h"
#include "testserver.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QTest>

using namespace SockJsProxy;
using namespace SockJsProxy::Test;

namespace {

// The JSON string literal str (with quotes) decoded.
QString jsonString(const QByteArray &literal)
{
    const QJsonDocument document = QJsonDocument::fromJson('[' + literal + ']');
    return document.array().at(0).toString();
}

// The SockJS frame inside one chunk (streaming) or body (polling).
QByteArray unwrap(const QByteArray &transport, const QByteArray &data)
{
    if (transport == "xhr" || transport == "xhr_streaming")
        return data.chopped(1); // frame + "\n"
    if (transport == "eventsource")
        return data.mid(6).chopped(4); // "data: " + frame + "\r\n\r\n"
    if (transport == "htmlfile") {
        const qsizetype start = data.indexOf("p(") + 2;
        const qsizetype end = data.lastIndexOf(");\n</script>");
        return jsonString(data.mid(start, end - start)).toUtf8();
    }
    // jsonp: "/**/callback(" + string + ");\r\n"
    const qsizetype start = data.indexOf('(') + 1;
    return jsonString(data.mid(start, data.size() - start - 4)).toUtf8();
}

} // namespace

class tst_SessionSurvival : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void receiverChangesTransportForAMinute();

private:
    // Reads frames from one receiving request until its response ends.
    void takeFrames(const QByteArray &transport, HttpClient &client, const HttpClient::Response &head);
    void handleFrame(const QByteArray &frame);
    void send(int round);

    TestServer m_server;
    QByteArray m_session = "survivor";
    QList<QString> m_received; // every message the client got, in order
    int m_sent = 0;
    int m_opens = 0;
};

void tst_SessionSurvival::initTestCase()
{
    Config config = TestServer::protocolConfig(QString());
    config.services.resize(1);
    config.services[0].prefix = QStringLiteral("/echo");
    config.services[0].responseLimit = 300; // streaming responses end after a few frames
    QVERIFY(m_server.start(config));
}

void tst_SessionSurvival::handleFrame(const QByteArray &frame)
{
    if (frame == "o") {
        ++m_opens;
    } else if (frame.startsWith("a[")) {
        const QJsonArray messages = QJsonDocument::fromJson(frame.mid(1)).array();
        QVERIFY2(!messages.isEmpty(), frame.constData());
        for (const QJsonValue &message : messages)
            m_received.append(message.toString());
    } else {
        QVERIFY2(frame == "h", frame.constData()); // a heartbeat is fine; a close is not
    }
}

void tst_SessionSurvival::send(int round)
{
    // Alternate the sending endpoint too; the backend echoes "c-N" and adds "b-N".
    const QByteArray message = "c-" + QByteArray::number(m_sent);
    HttpClient client(m_server.port());
    QVERIFY(client.connectToServer());
    if (round % 2 == 0) {
        client.sendRequest("POST", "/echo/000/" + m_session + "/xhr_send", "[\"" + message + "\"]");
        QCOMPARE(client.readResponse().status, 204);
    } else {
        client.sendRequest("POST", "/echo/000/" + m_session + "/jsonp_send",
                           "d=" + QByteArray("[\"" + message + "\"]").toPercentEncoding(),
                           {{"Content-Type", "application/x-www-form-urlencoded"}});
        const HttpClient::Response response = client.readResponse();
        QCOMPARE(response.status, 200);
        QCOMPARE(response.body, QByteArray("ok"));
    }
    m_server.backend(QStringLiteral("/echo"))
        ->sendMessage(m_server.backend(QStringLiteral("/echo"))->sessionIds("connect").value(0),
                      "b-" + QByteArray::number(m_sent));
    ++m_sent;
}

void tst_SessionSurvival::takeFrames(const QByteArray &transport, HttpClient &client, const HttpClient::Response &head)
{
    if (transport == "xhr" || transport == "jsonp") {
        handleFrame(unwrap(transport, head.body));
        return;
    }
    QCOMPARE(head.header("Transfer-Encoding"), QByteArray("chunked"));
    client.readChunk(); // prelude
    for (;;) {
        // Keep traffic flowing so the stream reaches its limit.
        if (m_received.size() >= 2 * m_sent)
            send(m_sent);
        const QByteArray chunk = client.readChunk();
        QVERIFY2(!chunk.isNull(), "stream stalled");
        if (chunk.isEmpty())
            return; // response_limit reached: the stream ended
        handleFrame(unwrap(transport, chunk));
        if (QTest::currentTestFailed())
            return;
    }
}

void tst_SessionSurvival::receiverChangesTransportForAMinute()
{
    const int seconds = qEnvironmentVariableIsSet("SOCKJSPROXY_SURVIVAL_SECONDS")
                            ? qEnvironmentVariableIntValue("SOCKJSPROXY_SURVIVAL_SECONDS")
                            : 60;
    const QList<QByteArray> transports{"xhr", "xhr_streaming", "eventsource", "htmlfile", "jsonp"};
    TestBackend *backend = m_server.backend(QStringLiteral("/echo"));
    QElapsedTimer elapsed;
    elapsed.start();
    int round = 0;
    while (elapsed.elapsed() < seconds * 1000 || round < int(transports.size())) {
        const QByteArray transport = transports.at(round % transports.size());
        HttpClient client(m_server.port());
        QVERIFY(client.connectToServer());
        const QByteArray path = "/echo/000/" + m_session + '/' + transport
                                + (transport == "htmlfile" || transport == "jsonp" ? "?c=callback" : "");
        client.sendRequest(transport == "xhr" || transport == "xhr_streaming" ? "POST" : "GET", path);
        if (round > 0 && (transport == "xhr" || transport == "jsonp") && m_received.size() >= 2 * m_sent)
            send(round); // a poll with nothing queued waits: give it something
        const HttpClient::Response head =
            transport == "xhr" || transport == "jsonp" ? client.readResponse() : client.readHead();
        QCOMPARE(head.status, 200);
        takeFrames(transport, client, head);
        if (QTest::currentTestFailed())
            return;
        ++round;
    }
    // Collect what is still in flight.
    while (m_received.size() < 2 * m_sent) {
        HttpClient client(m_server.port());
        QVERIFY(client.connectToServer());
        client.sendRequest("POST", "/echo/000/" + m_session + "/xhr");
        const HttpClient::Response response = client.readResponse();
        QCOMPARE(response.status, 200);
        handleFrame(unwrap("xhr", response.body));
    }

    QCOMPARE(m_opens, 1);
    // Each direction on its own is in order, exactly once.
    QStringList echoed;
    QStringList pushed;
    for (const QString &message : std::as_const(m_received))
        (message.startsWith(QLatin1String("c-")) ? echoed : pushed).append(message);
    QCOMPARE(echoed.size(), m_sent);
    QCOMPARE(pushed.size(), m_sent);
    for (int i = 0; i < m_sent; ++i) {
        QCOMPARE(echoed.at(i), QStringLiteral("c-%1").arg(i));
        QCOMPARE(pushed.at(i), QStringLiteral("b-%1").arg(i));
    }
    QList<QByteArray> fromClient;
    for (const TestBackend::Event &event : backend->eventsOfType("message"))
        fromClient.append(event.data);
    QCOMPARE(fromClient.size(), m_sent);
    for (int i = 0; i < m_sent; ++i)
        QCOMPARE(fromClient.at(i), "c-" + QByteArray::number(i));
    QCOMPARE(backend->eventsOfType("connect").size(), 1);
    QCOMPARE(backend->eventsOfType("disconnect").size(), 0);
    qInfo("%d receiving requests over %d transports, %d messages each way", round, int(transports.size()), m_sent);
}

QTEST_GUILESS_MAIN(tst_SessionSurvival)
#include "tst_sessionsurvival.moc"
