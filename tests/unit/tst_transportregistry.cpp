// TransportRegistry: every transport as its own file declares it, found by
// URL name and kind of path; the properties the Service answers from (the
// method, preflight, content type, callback, reply) as the SockJS protocol
// wants them; the names the monitor lists; each factory makes a receiver
// whose transportName() is the declared display name.

#include "http/connection.h"
#include "http/httpresponse.h"
#include "sockjs/transports/registry.h"
#include "sockjs/transports/transport.h"
#include "sockjs/transports/websocket.h"

#include <QSet>
#include <QTcpSocket>
#include <QTest>
#include <QWebSocket>

using namespace SockJsProxy;

Q_DECLARE_METATYPE(TransportInfo::Kind)

class tst_TransportRegistry : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void sessionTransports_data();
    void sessionTransports();
    void rawWebSocket();
    void unknownNames();
    void everyEntryComplete();
    void displayNames();
    void factoriesMakeTheirTransport();
};

void tst_TransportRegistry::sessionTransports_data()
{
    QTest::addColumn<QByteArray>("urlName");
    QTest::addColumn<TransportInfo::Kind>("kind");
    QTest::addColumn<QByteArray>("allow");
    QTest::addColumn<QByteArray>("contentType");
    QTest::addColumn<QByteArray>("displayName");
    QTest::addColumn<bool>("callback");

    using Kind = TransportInfo::Kind;
    const QByteArray js = "application/javascript;charset=UTF-8";
    const QByteArray text = "text/plain;charset=UTF-8";
    QTest::newRow("xhr") << QByteArray("xhr") << Kind::Receiving << QByteArray("OPTIONS, POST") << js
                         << QByteArray("xhr-polling") << false;
    QTest::newRow("xhr_streaming") << QByteArray("xhr_streaming") << Kind::Receiving << QByteArray("OPTIONS, POST")
                                   << js << QByteArray("xhr-streaming") << false;
    QTest::newRow("xhr_send") << QByteArray("xhr_send") << Kind::Sending << QByteArray("OPTIONS, POST") << text
                              << QByteArray() << false;
    QTest::newRow("eventsource") << QByteArray("eventsource") << Kind::Receiving << QByteArray("GET")
                                 << QByteArray("text/event-stream") << QByteArray("eventsource") << false;
    QTest::newRow("htmlfile") << QByteArray("htmlfile") << Kind::Receiving << QByteArray("GET")
                              << QByteArray("text/html;charset=UTF-8") << QByteArray("htmlfile") << true;
    QTest::newRow("jsonp") << QByteArray("jsonp") << Kind::Receiving << QByteArray("GET") << js
                           << QByteArray("jsonp-polling") << true;
    QTest::newRow("jsonp_send") << QByteArray("jsonp_send") << Kind::Sending << QByteArray("POST") << text
                                << QByteArray() << false;
    QTest::newRow("websocket") << QByteArray("websocket") << Kind::WebSocket << QByteArray("GET") << QByteArray()
                               << QByteArray("websocket") << false;
}

void tst_TransportRegistry::sessionTransports()
{
    QFETCH(QByteArray, urlName);
    QFETCH(TransportInfo::Kind, kind);
    QFETCH(QByteArray, allow);
    QFETCH(QByteArray, contentType);
    QFETCH(QByteArray, displayName);
    QFETCH(bool, callback);

    const TransportInfo *transport = TransportRegistry::find(urlName, TransportInfo::Path::Session);
    QVERIFY(transport);
    QCOMPARE(QByteArray(transport->urlName), urlName);
    QCOMPARE(transport->kind, kind);
    QCOMPARE(transport->allow(), allow);
    QCOMPARE(QByteArray(transport->contentType), contentType);
    QCOMPARE(QByteArray(transport->displayName), displayName);
    QCOMPARE(transport->callback, callback);
    // Only jsonp_send reads a form and answers 200 "ok"; xhr_send answers 204.
    QCOMPARE(transport->formEncoded, urlName == "jsonp_send");
    QCOMPARE(QByteArray(transport->reply), urlName == "jsonp_send" ? QByteArray("ok") : QByteArray());
}

void tst_TransportRegistry::rawWebSocket()
{
    const TransportInfo *raw = TransportRegistry::find("websocket", TransportInfo::Path::Service);
    QVERIFY(raw);
    QCOMPARE(raw->kind, TransportInfo::Kind::WebSocket);
    QCOMPARE(QByteArray(raw->displayName), QByteArray("rawwebsocket"));
    QCOMPARE(raw->allow(), QByteArray("GET"));
    QVERIFY(raw != TransportRegistry::find("websocket", TransportInfo::Path::Session));
}

void tst_TransportRegistry::unknownNames()
{
    for (const QByteArray &name : {QByteArray(), QByteArray("xhr_"), QByteArray("XHR"), QByteArray("info"),
                                   QByteArray("websocket/"), QByteArray("rawwebsocket"), QByteArray("xhr-polling")})
        QVERIFY2(!TransportRegistry::find(name, TransportInfo::Path::Session), name.constData());
    // Only the raw WebSocket lives at {prefix}/NAME.
    for (const TransportInfo *transport : TransportRegistry::all()) {
        if (transport->path == TransportInfo::Path::Service)
            QCOMPARE(QByteArray(transport->displayName), QByteArray("rawwebsocket"));
    }
    QVERIFY(!TransportRegistry::find("xhr", TransportInfo::Path::Service));
}

void tst_TransportRegistry::everyEntryComplete()
{
    QSet<QByteArray> seen;
    for (const TransportInfo *transport : TransportRegistry::all()) {
        const QByteArray name = transport->urlName;
        const QByteArray key = name + (transport->path == TransportInfo::Path::Service ? "@service" : "@session");
        QVERIFY2(!seen.contains(key), key.constData());
        seen.insert(key);
        QVERIFY2(QByteArray(transport->method) == "GET" || QByteArray(transport->method) == "POST", name);
        switch (transport->kind) {
        case TransportInfo::Kind::Receiving:
            QVERIFY2(transport->createHttp && !transport->createWebSocket && *transport->displayName, name);
            break;
        case TransportInfo::Kind::WebSocket:
            QVERIFY2(!transport->createHttp && transport->createWebSocket && *transport->displayName, name);
            break;
        case TransportInfo::Kind::Sending:
            QVERIFY2(!transport->createHttp && !transport->createWebSocket && !*transport->displayName, name);
            break;
        }
    }
    QCOMPARE(seen.size(), 9);
}

// The monitor's transport filter, in its order.
void tst_TransportRegistry::displayNames()
{
    QCOMPARE(TransportRegistry::displayNames(),
             QStringList({QStringLiteral("websocket"), QStringLiteral("rawwebsocket"), QStringLiteral("xhr-streaming"),
                          QStringLiteral("xhr-polling"), QStringLiteral("eventsource"), QStringLiteral("htmlfile"),
                          QStringLiteral("jsonp-polling")}));
}

void tst_TransportRegistry::factoriesMakeTheirTransport()
{
    for (const TransportInfo *transport : TransportRegistry::all()) {
        if (transport->kind == TransportInfo::Kind::Receiving) {
            Connection connection(new QTcpSocket, Connection::Options());
            HttpReceiver *receiver = transport->createHttp(&connection, HttpResponse(200), 4096, "cb");
            QVERIFY(receiver);
            QCOMPARE(receiver->parent(), &connection);
            QCOMPARE(receiver->transportName(), QByteArray(transport->displayName));
        } else if (transport->kind == TransportInfo::Kind::WebSocket) {
            QObject parent;
            WebSocketReceiver *receiver = transport->createWebSocket(new QWebSocket, 1024, &parent);
            QVERIFY(receiver);
            QCOMPARE(receiver->parent(), &parent);
            QCOMPARE(receiver->transportName(), QByteArray(transport->displayName));
        }
    }
}

QTEST_GUILESS_MAIN(tst_TransportRegistry)
#include "tst_transportregistry.moc"
