#include "config/config.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QtTest>

using namespace SockJsProxy;

namespace {

const QString kBaseDir = QStringLiteral("/srv/proxy");

// A valid configuration that uses every key, so that each error row below
// breaks exactly one thing.
const char kBase[] = R"({
  "http": {"address": "127.0.0.1", "port": 0},
  "shutdown_timeout_ms": 500,
  "static": [{"url": "/s", "path": "s", "follow_symlinks": false}],
  "limits": {"max_request_line": 1024, "max_header_bytes": 4096, "max_header_count": 20,
             "max_body_bytes": 2048, "request_timeout_ms": 1000, "keepalive_timeout_ms": 2000,
             "max_open_files": 4096, "max_connections": 1000, "max_connections_per_address": 10},
  "services": [
    {"prefix": "/a", "zmq": {"in": "inproc://a-in", "out": "inproc://a-out", "queue_limit": 10},
     "websocket": true, "cookie_needed": false, "heartbeat_delay_ms": 1000, "disconnect_delay_ms": 1000,
     "response_limit": 4096, "sockjs_url": "/sockjs.js", "max_message_bytes": 1024,
     "max_queued_messages": 10, "max_queued_bytes": 4096},
    {"prefix": "/b", "zmq": {"in": "inproc://b-in", "out": "inproc://b-out"}}
  ]
})";

QJsonObject baseObject() { return QJsonDocument::fromJson(kBase).object(); }

// One JSON value from its text ("1", "\"x\"", "[]").
QJsonValue jsonValue(const QByteArray &text)
{
    QJsonParseError error;
    const QJsonDocument document = QJsonDocument::fromJson("[" + text + "]", &error);
    if (error.error != QJsonParseError::NoError)
        qFatal("bad test value %s", text.constData());
    return document.array().at(0);
}

// Sets (or, with an undefined value, removes) the value at a key path such
// as "services[0].zmq.in".
QJsonValue setAt(const QJsonValue &node, QStringList path, const QJsonValue &value)
{
    if (path.isEmpty())
        return value;
    const QString segment = path.takeFirst();
    static const QRegularExpression indexed(QStringLiteral(R"(^(\w+)\[(\d+)\]$)"));
    const QRegularExpressionMatch match = indexed.match(segment);
    const QString key = match.hasMatch() ? match.captured(1) : segment;
    QJsonObject object = node.toObject();
    if (match.hasMatch()) {
        QJsonArray array = object.value(key).toArray();
        const int index = match.captured(2).toInt();
        while (array.size() <= index)
            array.append(QJsonObject());
        array[index] = setAt(array.at(index), path, value);
        object[key] = array;
    } else if (path.isEmpty() && value.isUndefined()) {
        object.remove(key);
    } else {
        object[key] = setAt(object.value(key), path, value);
    }
    return object;
}

QByteArray baseWith(const QString &keyPath, const QByteArray &valueText)
{
    const QJsonValue value = valueText.isNull() ? QJsonValue(QJsonValue::Undefined) : jsonValue(valueText);
    const QJsonValue root = setAt(baseObject(), keyPath.split(QLatin1Char('.')), value);
    return QJsonDocument(root.toObject()).toJson(QJsonDocument::Compact);
}

} // namespace

class tst_Config : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void readmeExample();
    void everyKey();
    void defaults();
    void staticPaths_data();
    void staticPaths();
    void accepted_data();
    void accepted();
    void errors_data();
    void errors();
    void invalidDocument_data();
    void invalidDocument();
    void validate_data();
    void validate();
    void firstErrorIsReported();
    void serviceLimits();
    void serviceLimitsDefaultToBuiltIns();
    void zmqCurve();
    void connectInfo();
    void connectInfoErrors_data();
    void connectInfoErrors();
    void requireAccept();
    void requireAcceptErrors_data();
    void requireAcceptErrors();
    void zmqCurveErrors_data();
    void zmqCurveErrors();
    void httpTls();
    void httpTlsErrors_data();
    void httpTlsErrors();
};

void tst_Config::readmeExample()
{
    const QByteArray json = R"({"http": {"address": "0.0.0.0", "port": 8080},
 "shutdown_timeout_ms": 2000,
 "static": [{"url": "/samples", "path": "samples"}],
 "services": [
   {"prefix": "/echo",
    "zmq": {"in": "tcp://*:9241", "out": "tcp://*:9242"},
    "websocket": true, "cookie_needed": false,
    "heartbeat_delay_ms": 25000, "disconnect_delay_ms": 5000,
    "response_limit": 131072,
    "sockjs_url": "/sockjs-client/sockjs.min.js"}]})";
    QString error;
    const auto config = Config::fromJson(json, QStringLiteral("/etc/sockjsproxy"), &error);
    QVERIFY2(config, qPrintable(error));
    QVERIFY(error.isEmpty());

    QCOMPARE(config->httpAddress, QStringLiteral("0.0.0.0"));
    QCOMPARE(config->httpPort, quint16(8080));
    QVERIFY(!config->tls);
    QCOMPARE(config->shutdownTimeoutMs, 2000);
    QCOMPARE(config->statics.size(), 1);
    QCOMPARE(config->statics.at(0).url, QStringLiteral("/samples"));
    QCOMPARE(config->statics.at(0).path, QStringLiteral("/etc/sockjsproxy/samples"));
    QCOMPARE(config->statics.at(0).followSymlinks, false);
    QCOMPARE(config->services.size(), 1);
    const ServiceConfig &service = config->services.at(0);
    QCOMPARE(service.prefix, QStringLiteral("/echo"));
    QCOMPARE(service.zmqIn, QStringLiteral("tcp://*:9241"));
    QCOMPARE(service.zmqOut, QStringLiteral("tcp://*:9242"));
    QCOMPARE(service.websocket, true);
    QCOMPARE(service.cookieNeeded, false);
    QCOMPARE(service.heartbeatDelayMs, 25000);
    QCOMPARE(service.disconnectDelayMs, 5000);
    QCOMPARE(service.responseLimit, qint64(131072));
    QCOMPARE(service.sockjsUrl, QStringLiteral("/sockjs-client/sockjs.min.js"));
}

// Every key set to a value other than its default.
void tst_Config::everyKey()
{
    const QByteArray json = R"({
      "http": {"address": "127.0.0.1", "port": 9000, "trusted_proxies": ["10.0.0.0/8", "::1"],
               "proxy_protocol": true},
      "shutdown_timeout_ms": 750,
      "static": [{"url": "/one", "path": "/abs/one", "follow_symlinks": true}, {"url": "/two", "path": "rel/two"}],
      "limits": {"max_request_line": 1000, "max_header_bytes": 2000, "max_header_count": 30,
                 "max_body_bytes": 4000, "request_timeout_ms": 5000, "keepalive_timeout_ms": 6000,
                 "max_open_files": 8192, "max_connections": 5000, "max_connections_per_address": 0,
                 "max_queued_bytes_total": 1048576},
      "services": [
        {"prefix": "/echo", "zmq": {"in": "ipc:///tmp/in", "out": "ipc:///tmp/out", "queue_limit": 77,
                                    "high_water_mark": 500},
         "websocket": false, "cookie_needed": true, "heartbeat_delay_ms": 1500, "disconnect_delay_ms": 2500,
         "response_limit": 4096, "sockjs_url": "https://cdn.example/sockjs.js", "max_message_bytes": 100,
         "max_queued_messages": 50, "max_queued_bytes": 5000},
        {"prefix": "/", "zmq": {"in": "tcp://*:1", "out": "tcp://*:2"}}
      ]})";
    QString error;
    const auto config = Config::fromJson(json, QStringLiteral("/base"), &error);
    QVERIFY2(config, qPrintable(error));

    QCOMPARE(config->httpAddress, QStringLiteral("127.0.0.1"));
    QCOMPARE(config->httpPort, quint16(9000));
    QCOMPARE(config->shutdownTimeoutMs, 750);
    QCOMPARE(config->http.trustedProxies.entries(), QStringList({"10.0.0.0/8", "::1"}));
    QVERIFY(config->http.trustedProxies.contains(QHostAddress(QStringLiteral("10.1.2.3"))));
    QCOMPARE(config->http.proxyProtocol, true);
    QCOMPARE(config->statics.size(), 2);
    QCOMPARE(config->statics.at(0).url, QStringLiteral("/one"));
    QCOMPARE(config->statics.at(0).path, QStringLiteral("/abs/one"));
    QCOMPARE(config->statics.at(0).followSymlinks, true);
    QCOMPARE(config->statics.at(1).url, QStringLiteral("/two"));
    QCOMPARE(config->statics.at(1).path, QStringLiteral("/base/rel/two"));
    QCOMPARE(config->statics.at(1).followSymlinks, false);

    QCOMPARE(config->http.limits.maxRequestLine, 1000);
    QCOMPARE(config->http.limits.maxHeaderBytes, 2000);
    QCOMPARE(config->http.limits.maxHeaderCount, 30);
    QCOMPARE(config->http.limits.maxBodyBytes, 4000);
    QCOMPARE(config->http.requestTimeoutMs, 5000);
    QCOMPARE(config->http.keepAliveTimeoutMs, 6000);
    QCOMPARE(config->resources.maxOpenFiles, qint64(8192));
    QCOMPARE(config->resources.maxConnections, 5000);
    QCOMPARE(config->resources.maxConnectionsPerAddress, 0);
    QCOMPARE(config->resources.maxQueuedBytesTotal, qint64(1048576));

    QCOMPARE(config->services.size(), 2);
    const ServiceConfig &echo = config->services.at(0);
    QCOMPARE(echo.prefix, QStringLiteral("/echo"));
    QCOMPARE(echo.zmqIn, QStringLiteral("ipc:///tmp/in"));
    QCOMPARE(echo.zmqOut, QStringLiteral("ipc:///tmp/out"));
    QCOMPARE(echo.zmqQueueLimit, 77);
    QCOMPARE(echo.zmqHighWaterMark, 500);
    QCOMPARE(echo.websocket, false);
    QCOMPARE(echo.cookieNeeded, true);
    QCOMPARE(echo.heartbeatDelayMs, 1500);
    QCOMPARE(echo.disconnectDelayMs, 2500);
    QCOMPARE(echo.responseLimit, qint64(4096));
    QCOMPARE(echo.sockjsUrl, QStringLiteral("https://cdn.example/sockjs.js"));
    QCOMPARE(echo.maxMessageBytes, qint64(100));
    QCOMPARE(echo.maxQueuedMessages, 50);
    QCOMPARE(echo.maxQueuedBytes, qint64(5000));

    // The second service only set what it needed; the rest are defaults.
    const ServiceConfig &root = config->services.at(1);
    const ServiceConfig defaults;
    QCOMPARE(root.prefix, QStringLiteral("/"));
    QCOMPARE(root.zmqIn, QStringLiteral("tcp://*:1"));
    QCOMPARE(root.zmqOut, QStringLiteral("tcp://*:2"));
    QCOMPARE(root.zmqQueueLimit, defaults.zmqQueueLimit);
    QCOMPARE(root.zmqHighWaterMark, defaults.zmqHighWaterMark);
    QCOMPARE(root.websocket, true);
    QCOMPARE(root.heartbeatDelayMs, 25000);
}

void tst_Config::defaults()
{
    QString error;
    const auto config = Config::fromJson(R"({"services": [{}]})", kBaseDir, &error);
    QVERIFY2(config, qPrintable(error));

    QCOMPARE(config->httpAddress, QStringLiteral("0.0.0.0"));
    QCOMPARE(config->httpPort, quint16(8080));
    QCOMPARE(config->shutdownTimeoutMs, 2000);
    QVERIFY(config->statics.isEmpty());
    QCOMPARE(config->http.limits.maxRequestLine, 8 * 1024);
    QCOMPARE(config->http.limits.maxHeaderBytes, 32 * 1024);
    QCOMPARE(config->http.limits.maxHeaderCount, 100);
    QCOMPARE(config->http.limits.maxBodyBytes, 1024 * 1024);
    QCOMPARE(config->http.requestTimeoutMs, 30000);
    QCOMPARE(config->http.keepAliveTimeoutMs, 120000);
    QVERIFY(config->http.trustedProxies.isEmpty());
    QCOMPARE(config->http.proxyProtocol, false);
    QCOMPARE(config->resources.maxOpenFiles, qint64(0)); // the hard limit
    QCOMPARE(config->resources.maxConnections, 0);       // from the open files limit
    QCOMPARE(config->resources.maxConnectionsPerAddress, 256);
    QCOMPARE(config->resources.maxQueuedBytesTotal, qint64(512) * 1024 * 1024);

    QCOMPARE(config->services.size(), 1);
    const ServiceConfig &service = config->services.at(0);
    QCOMPARE(service.prefix, QStringLiteral("/"));
    QCOMPARE(service.zmqIn, QStringLiteral("tcp://*:9241"));
    QCOMPARE(service.zmqOut, QStringLiteral("tcp://*:9242"));
    QCOMPARE(service.zmqQueueLimit, 100000);
    QCOMPARE(service.zmqHighWaterMark, 1000);
    QCOMPARE(service.websocket, true);
    QCOMPARE(service.cookieNeeded, false);
    QCOMPARE(service.heartbeatDelayMs, 25000);
    QCOMPARE(service.disconnectDelayMs, 5000);
    QCOMPARE(service.responseLimit, qint64(131072));
    QCOMPARE(service.sockjsUrl, QStringLiteral("/sockjs-client/sockjs.min.js"));
    QCOMPARE(service.maxMessageBytes, qint64(1024 * 1024));
    QCOMPARE(service.maxQueuedMessages, 10000);
    QCOMPARE(service.maxQueuedBytes, qint64(16 * 1024 * 1024));
    QVERIFY(!service.zmqCurve);
    QVERIFY(!service.connectInfo);
    QCOMPARE(service.requireAccept, false);
    QCOMPARE(service.acceptTimeoutMs, 5000);

    // Empty sub-objects change nothing either.
    const auto empty =
        Config::fromJson(R"({"http": {}, "limits": {}, "static": [], "services": [{"zmq": {}}]})", kBaseDir, &error);
    QVERIFY2(empty, qPrintable(error));
    QCOMPARE(empty->httpPort, quint16(8080));
    QCOMPARE(empty->http.limits.maxHeaderCount, 100);
    QCOMPARE(empty->services.at(0).zmqIn, QStringLiteral("tcp://*:9241"));
}

void tst_Config::staticPaths_data()
{
    QTest::addColumn<QString>("baseDir");
    QTest::addColumn<QString>("path");
    QTest::addColumn<QString>("expected");
    QTest::newRow("relative") << "/etc/proxy"
                              << "samples"
                              << "/etc/proxy/samples";
    QTest::newRow("relative, nested") << "/etc/proxy"
                                      << "web/static"
                                      << "/etc/proxy/web/static";
    QTest::newRow("relative, dot") << "/etc/proxy"
                                   << "./www"
                                   << "/etc/proxy/www";
    QTest::newRow("absolute kept") << "/etc/proxy"
                                   << "/var/www"
                                   << "/var/www";
    QTest::newRow("other base") << "/home/u/cfg"
                                << "samples"
                                << "/home/u/cfg/samples";
}

void tst_Config::staticPaths()
{
    QFETCH(QString, baseDir);
    QFETCH(QString, path);
    QFETCH(QString, expected);
    QJsonObject root = QJsonDocument::fromJson(R"({"services": [{}]})").object();
    root[QStringLiteral("static")] = QJsonArray{QJsonObject{{"url", "/files"}, {"path", path}}};
    QString error;
    const auto config = Config::fromJson(QJsonDocument(root).toJson(), baseDir, &error);
    QVERIFY2(config, qPrintable(error));
    QCOMPARE(config->statics.size(), 1);
    QCOMPARE(config->statics.at(0).url, QStringLiteral("/files"));
    QCOMPARE(QDir::cleanPath(config->statics.at(0).path), expected);
    QVERIFY(QDir::isAbsolutePath(config->statics.at(0).path));
}

// Edge values that are valid.
void tst_Config::accepted_data()
{
    QTest::addColumn<QString>("key");
    QTest::addColumn<QByteArray>("value");

    QTest::newRow("baseline") << QString() << QByteArray();
    QTest::newRow("port 0") << "http.port" << QByteArray("0");
    QTest::newRow("port 65535") << "http.port" << QByteArray("65535");
    QTest::newRow("shutdown_timeout_ms 0") << "shutdown_timeout_ms" << QByteArray("0");
    QTest::newRow("shutdown_timeout_ms 3600000") << "shutdown_timeout_ms" << QByteArray("3600000");
    QTest::newRow("heartbeat minimum") << "services[0].heartbeat_delay_ms" << QByteArray("100");
    QTest::newRow("disconnect maximum") << "services[0].disconnect_delay_ms" << QByteArray("86400000");
    QTest::newRow("integer written with exponent") << "services[0].response_limit" << QByteArray("1e3");
    QTest::newRow("integer written as x.0") << "services[0].response_limit" << QByteArray("4096.0");
    QTest::newRow("root prefix") << "services[0].prefix" << QByteArray(R"("/")");
    QTest::newRow("nested prefix") << "services[0].prefix" << QByteArray(R"("/a/b")");
    QTest::newRow("sockjs_url http") << "services[0].sockjs_url" << QByteArray(R"("http://x/sockjs.js")");
    QTest::newRow("sockjs_url https") << "services[0].sockjs_url" << QByteArray(R"("https://x/sockjs.js")");
    QTest::newRow("max_body_bytes 0") << "limits.max_body_bytes" << QByteArray("0");
    QTest::newRow("max_header_count 10000") << "limits.max_header_count" << QByteArray("10000");
    QTest::newRow("queue_limit 1") << "services[0].zmq.queue_limit" << QByteArray("1");
    QTest::newRow("high_water_mark 1") << "services[0].zmq.high_water_mark" << QByteArray("1");
    QTest::newRow("max_queued_bytes 1024") << "services[0].max_queued_bytes" << QByteArray("1024");
    QTest::newRow("max_message_bytes 16") << "services[0].max_message_bytes" << QByteArray("16");
    QTest::newRow("service limits empty") << "services[0].limits" << QByteArray("{}");
    QTest::newRow("service max_body_bytes 0") << "services[0].limits.max_body_bytes" << QByteArray("0");
    QTest::newRow("service max_header_count 10000") << "services[1].limits.max_header_count" << QByteArray("10000");
    QTest::newRow("service max_header_bytes 256") << "services[0].limits.max_header_bytes" << QByteArray("256");
    QTest::newRow("trusted_proxies empty") << "http.trusted_proxies" << QByteArray("[]");
    QTest::newRow("trusted_proxies everything") << "http.trusted_proxies" << QByteArray(R"(["0.0.0.0/0", "::/0"])");
    QTest::newRow("proxy_protocol false") << "http.proxy_protocol" << QByteArray("false");
    QTest::newRow("max_open_files 0") << "limits.max_open_files" << QByteArray("0");
    QTest::newRow("max_open_files 64") << "limits.max_open_files" << QByteArray("64");
    QTest::newRow("max_connections 0") << "limits.max_connections" << QByteArray("0");
    QTest::newRow("max_connections 1") << "limits.max_connections" << QByteArray("1");
    QTest::newRow("max_connections_per_address 0") << "limits.max_connections_per_address" << QByteArray("0");
    QTest::newRow("max_queued_bytes_total 0") << "limits.max_queued_bytes_total" << QByteArray("0");
}

void tst_Config::accepted()
{
    QFETCH(QString, key);
    QFETCH(QByteArray, value);
    const QByteArray json = key.isEmpty() ? QByteArray(kBase) : baseWith(key, value);
    QString error;
    const auto config = Config::fromJson(json, kBaseDir, &error);
    QVERIFY2(config, qPrintable(error));
    QVERIFY(config->validate(&error));
    if (key == QLatin1String("services[0].response_limit"))
        QCOMPARE(config->services.at(0).responseLimit, qint64(value == "1e3" ? 1000 : 4096));
    if (key == QLatin1String("http.port"))
        QCOMPARE(config->httpPort, quint16(value.toUInt()));
    if (key == QLatin1String("shutdown_timeout_ms"))
        QCOMPARE(config->shutdownTimeoutMs, value.toInt());
}

void tst_Config::errors_data()
{
    // key: the path to change (value null: remove it); value: its new JSON
    // text; expected: how the error message must start; fragment: what it
    // must say after that.
    QTest::addColumn<QString>("key");
    QTest::addColumn<QByteArray>("value");
    QTest::addColumn<QString>("expected");
    QTest::addColumn<QString>("fragment");

    const QString unknown = QStringLiteral("unknown key");
    const QString integer = QStringLiteral("expected an integer");
    const QString string = QStringLiteral("expected a string");
    const QString boolean = QStringLiteral("expected true or false");
    const QString object = QStringLiteral("expected an object");
    const QString array = QStringLiteral("expected an array");
    const QString between = QStringLiteral("must be between");

    auto row = [](const QString &key, const QByteArray &value, const QString &expected, const QString &fragment) {
        QTest::addRow("%s = %s", qPrintable(key), value.constData()) << key << value << expected << fragment;
    };
    auto same = [&row](const QString &key, const QByteArray &value, const QString &fragment) {
        row(key, value, key, fragment);
    };

    // Unknown keys at every level.
    same("bogus", "1", unknown);
    same("http.adress", "\"x\"", unknown);
    same("limits.max_body", "1", unknown);
    same("static[0].dir", "\"x\"", unknown);
    same("services[0].zmq.inn", "\"x\"", unknown);
    same("services[1].prefx", "\"/c\"", unknown);
    same("services[0].heartbeat_delay", "1000", unknown);
    same("services[0].Prefix", "\"/x\"", unknown); // keys are case-sensitive

    // Wrong types, each key.
    same("http", "[]", object);
    same("http", "\"x\"", object);
    same("http.address", "1", string);
    same("http.port", "\"8080\"", integer);
    same("http.port", "null", integer);
    same("shutdown_timeout_ms", "\"2000\"", integer);
    same("shutdown_timeout_ms", "true", integer);
    same("shutdown_timeout_ms", "null", integer);
    same("limits", "1", object);
    same("limits.max_request_line", "\"1k\"", integer);
    same("limits.max_header_bytes", "true", integer);
    same("limits.max_header_count", "[]", integer);
    same("limits.max_body_bytes", "{}", integer);
    same("limits.request_timeout_ms", "\"1000\"", integer);
    same("limits.keepalive_timeout_ms", "null", integer);
    same("limits.max_open_files", "\"1024\"", integer);
    same("limits.max_connections", "true", integer);
    same("limits.max_connections_per_address", "2.5", integer);
    same("limits.max_queued_bytes_total", "\"1G\"", integer);
    same("static", "{}", array);
    same("static", "\"s\"", array);
    same("static[0]", "\"s\"", object);
    same("static[0].url", "1", string);
    same("static[0].path", "false", string);
    same("static[0].follow_symlinks", "\"true\"", boolean);
    same("static[0].follow_symlinks", "1", boolean);
    same("services", "{}", array);
    same("services[0]", "[]", object);
    same("services[0].prefix", "1", string);
    same("services[0].zmq", "\"tcp://*:1\"", object);
    same("services[0].zmq.in", "9241", string);
    same("services[0].zmq.out", "[\"x\"]", string);
    same("services[0].zmq.queue_limit", "\"10\"", integer);
    same("services[0].websocket", "\"true\"", boolean);
    same("services[0].websocket", "1", boolean);
    same("services[0].cookie_needed", "null", boolean);
    same("services[0].heartbeat_delay_ms", "\"25000\"", integer);
    same("services[0].disconnect_delay_ms", "true", integer);
    same("services[0].response_limit", "null", integer);
    same("services[0].sockjs_url", "1", string);
    same("services[0].max_message_bytes", "\"1\"", integer);
    same("services[0].max_queued_messages", "[]", integer);
    same("services[0].max_queued_bytes", "false", integer);
    same("services[1].heartbeat_delay_ms", "\"x\"", integer);

    // Non-integer numbers.
    same("http.port", "80.5", integer);
    same("shutdown_timeout_ms", "1.5", integer);
    same("services[0].heartbeat_delay_ms", "25000.5", integer);
    same("services[0].max_queued_bytes", "4096.25", integer);
    same("limits.max_header_count", "1.5", integer);
    same("services[0].zmq.queue_limit", "0.5", integer);

    // Out of range.
    same("http.port", "-1", between);
    same("http.port", "65536", between);
    same("http.port", "1e300", between);
    same("shutdown_timeout_ms", "-1", between);
    same("shutdown_timeout_ms", "-2000", between);
    same("shutdown_timeout_ms", "3600001", between);
    same("services[0].heartbeat_delay_ms", "99", between);
    same("services[0].heartbeat_delay_ms", "86400001", between);
    same("services[0].heartbeat_delay_ms", "-25000", between);
    same("services[0].disconnect_delay_ms", "0", between);
    same("services[0].response_limit", "0", between);
    same("services[0].max_message_bytes", "15", between);
    same("services[0].max_queued_messages", "0", between);
    same("services[0].max_queued_bytes", "1023", between);
    same("services[0].zmq.queue_limit", "0", between);
    same("services[0].zmq.high_water_mark", "0", between);
    same("services[0].zmq.high_water_mark", "1000001", between);
    same("limits.max_request_line", "63", between);
    same("limits.max_header_bytes", "255", between);
    same("limits.max_header_count", "0", between);
    same("limits.max_header_count", "10001", between);
    same("limits.max_body_bytes", "-1", between);
    same("limits.request_timeout_ms", "99", between);
    same("limits.keepalive_timeout_ms", "99", between);
    same("limits.max_body_bytes", "1e20", between);
    same("limits.max_open_files", "-1", between);
    same("limits.max_open_files", "63", QStringLiteral("must be 0 (the hard limit) or at least 64"));
    same("limits.max_connections", "-1", between);
    same("limits.max_connections_per_address", "-1", between);
    same("limits.max_queued_bytes_total", "-1", between);

    // Per-service limits: the same keys, types and ranges as at the top
    // level; the per-port ones are refused by name.
    const QString perPort = QStringLiteral("per port, not per service");
    same("services[0].limits", "1", object);
    same("services[0].limits", "[]", object);
    same("services[0].limits.max_body", "1", unknown);
    same("services[1].limits.maxHeaderCount", "1", unknown);
    same("services[0].limits.max_header_bytes", "\"1k\"", integer);
    same("services[0].limits.max_header_count", "1.5", integer);
    same("services[0].limits.max_body_bytes", "null", integer);
    same("services[0].limits.max_header_bytes", "255", between);
    same("services[0].limits.max_header_bytes", "16777217", between);
    same("services[0].limits.max_header_count", "0", between);
    same("services[1].limits.max_header_count", "10001", between);
    same("services[0].limits.max_body_bytes", "-1", between);
    same("services[1].limits.max_body_bytes", "1e20", between);
    same("services[0].limits.max_request_line", "1024", perPort);
    same("services[0].limits.max_request_line", "\"x\"", perPort);
    same("services[0].limits.request_timeout_ms", "1000", perPort);
    same("services[1].limits.keepalive_timeout_ms", "1000", perPort);
    same("services[0].limits.max_request_line", "2048", QStringLiteral("set limits.max_request_line"));
    same("services[0].limits.request_timeout_ms", "2000", QStringLiteral("set limits.request_timeout_ms"));
    same("services[0].limits.keepalive_timeout_ms", "3000", QStringLiteral("set limits.keepalive_timeout_ms"));
    // So are the process-wide ones.
    const QString process = QStringLiteral("for the whole process, not per service");
    same("services[0].limits.max_open_files", "1024", process);
    same("services[0].limits.max_connections", "10", process);
    same("services[0].limits.max_queued_bytes_total", "1000000", process);
    same("services[1].limits.max_connections_per_address", "10",
         QStringLiteral("set limits.max_connections_per_address"));

    // Static mounts need both keys and a URL path.
    row("static[0].url", QByteArray(), "static[0]", "required");
    row("static[0].path", QByteArray(), "static[0]", "required");
    row("static[0].url", "\"\"", "static[0]", "required");
    row("static[0].url", "\"files\"", "static", "must start with '/'");

    // Consistency.
    row("http.address", "\"localhost\"", "http.address", "is not an IP address");
    row("http.address", "\"\"", "http.address", "is not an IP address");
    row("services[1].prefix", "\"/a\"", "services[1].prefix", "used twice");
    row("services[0].prefix", "\"echo\"", "services[0].prefix", "must start with '/'");
    row("services[0].prefix", "\"/echo/\"", "services[0].prefix", "not end with '/'");
    row("services[0].prefix", "\"\"", "services[0].prefix", "must start with '/'");
    row("services[1].prefix", "\"b\"", "services[1].prefix", "must start with '/'");
    row("services[1].zmq.in", "\"inproc://a-in\"", "services[1].zmq", "used twice");
    row("services[1].zmq.out", "\"inproc://a-in\"", "services[1].zmq", "used twice");
    row("services[0].zmq.out", "\"inproc://a-in\"", "services[0].zmq", "used twice");
    row("services[0].sockjs_url", "\"lib/sockjs.js\"", "services[0].sockjs_url", "must start with '/' or 'http'");
    row("services[0].sockjs_url", "\"ftp://x/sockjs.js\"", "services[0].sockjs_url", "must start with '/' or 'http'");
    row("services[0].sockjs_url", "\"\"", "services[0].sockjs_url", "must start with '/' or 'http'");
    same("http.trusted_proxies", "\"10.0.0.1\"", array);
    same("http.trusted_proxies", "[1]", array);
    same("http.trusted_proxies", R"(["10.0.0.0/33"])", "\"10.0.0.0/33\": not an IP address or CIDR range");
    same("http.trusted_proxies", R"(["::1", "proxy.local"])", "\"proxy.local\": not an IP address or CIDR range");
    same("http.proxy_protocol", "1", boolean);
    same("http.proxy_protocol", "true", "needs http.trusted_proxies");
    row("services", "[]", "services", "at least one");
    row("services", QByteArray(), "services", "at least one");
    row("cluster", "[]", "cluster", object);
    row("cluster", "{}", "cluster.bind", "required");
    row("cluster", R"({"bind": "nowhere"})", "cluster.bind", "not a ZeroMQ endpoint");
    row("cluster", R"({"bind": "tcp://*:9300", "node": "a-b"})", "cluster.node", "not a node name");
    row("cluster", R"({"bind": "tcp://*:9300", "peers": ["tcp://h:1", "tcp://h:1"]})", "cluster.peers[1]",
        "listed twice");
    row("cluster", R"({"bind": "tcp://*:9300", "peers": ["h:1"]})", "cluster.peers[0]", "not a ZeroMQ endpoint");
    row("cluster", R"({"bind": "tcp://*:9300", "heartbeat_ms": 500, "dead_after_ms": 900})", "cluster.dead_after_ms",
        "at least twice");
    row("cluster", R"({"bind": "tcp://*:9300", "heartbeat_ms": "x"})", "cluster.heartbeat_ms", integer);
    row("cluster", R"({"bind": "tcp://*:9300", "colour": 1})", "cluster.colour", unknown);
    row("cluster", R"({"bind": "inproc://a-in"})", "cluster.bind", "also a service's");
}

void tst_Config::errors()
{
    QFETCH(QString, key);
    QFETCH(QByteArray, value);
    QFETCH(QString, expected);
    QFETCH(QString, fragment);

    const QByteArray json = baseWith(key, value);
    QString error;
    const auto config = Config::fromJson(json, kBaseDir, &error);
    QVERIFY2(!config, json.constData());
    // The message names the key first: "services[0].zmq.in: expected a string".
    QVERIFY2(error.startsWith(expected + QLatin1Char(':')), qPrintable(error));
    QVERIFY2(error.contains(fragment), qPrintable(error));
}

void tst_Config::invalidDocument_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("fragment");
    QTest::newRow("empty") << QByteArray() << "invalid JSON";
    QTest::newRow("truncated") << QByteArray(R"({"services": [{}])") << "invalid JSON";
    QTest::newRow("trailing comma") << QByteArray(R"({"services": [{}],})") << "invalid JSON";
    QTest::newRow("comment") << QByteArray("// x\n{\"services\": [{}]}") << "invalid JSON";
    QTest::newRow("single quotes") << QByteArray("{'services': [{}]}") << "invalid JSON";
    QTest::newRow("garbage after") << QByteArray(R"({"services": [{}]} x)") << "invalid JSON";
    QTest::newRow("array") << QByteArray(R"([{"services": [{}]}])") << "must be a JSON object";
    QTest::newRow("empty object") << QByteArray("{}") << "services";
}

void tst_Config::invalidDocument()
{
    QFETCH(QByteArray, json);
    QFETCH(QString, fragment);
    QString error;
    QVERIFY(!Config::fromJson(json, kBaseDir, &error));
    QVERIFY2(error.contains(fragment), qPrintable(error));
}

// validate() on a Config built in code (as the command line does).
void tst_Config::validate_data()
{
    QTest::addColumn<QString>("prefix2");
    QTest::addColumn<QString>("in2");
    QTest::addColumn<QString>("sockjsUrl2");
    QTest::addColumn<QString>("staticUrl");
    QTest::addColumn<QString>("fragment"); // empty: valid

    QTest::newRow("valid") << "/two"
                           << "tcp://*:3"
                           << "/x.js"
                           << "/s" << QString();
    QTest::newRow("duplicate prefix") << "/"
                                      << "tcp://*:3"
                                      << "/x.js"
                                      << "/s"
                                      << "services[1].prefix";
    QTest::newRow("duplicate endpoint") << "/two"
                                        << "tcp://*:1"
                                        << "/x.js"
                                        << "/s"
                                        << "services[1].zmq";
    QTest::newRow("bad sockjs_url") << "/two"
                                    << "tcp://*:3"
                                    << "x.js"
                                    << "/s"
                                    << "services[1].sockjs_url";
    QTest::newRow("bad static url") << "/two"
                                    << "tcp://*:3"
                                    << "/x.js"
                                    << "s"
                                    << "static";
}

void tst_Config::validate()
{
    QFETCH(QString, prefix2);
    QFETCH(QString, in2);
    QFETCH(QString, sockjsUrl2);
    QFETCH(QString, staticUrl);
    QFETCH(QString, fragment);

    Config config;
    QString error;
    QVERIFY(!config.validate(&error)); // no services
    QVERIFY(error.startsWith(QLatin1String("services:")));

    ServiceConfig one;
    one.zmqIn = QStringLiteral("tcp://*:1");
    one.zmqOut = QStringLiteral("tcp://*:2");
    ServiceConfig two;
    two.prefix = prefix2;
    two.zmqIn = in2;
    two.zmqOut = QStringLiteral("tcp://*:4");
    two.sockjsUrl = sockjsUrl2;
    config.services = {one, two};
    config.statics = {{staticUrl, QStringLiteral("/tmp")}};
    error.clear();
    if (fragment.isEmpty()) {
        QVERIFY2(config.validate(&error), qPrintable(error));
    } else {
        QVERIFY(!config.validate(&error));
        QVERIFY2(error.startsWith(fragment), qPrintable(error));
    }
}

// Several problems at once: the message names the first one met, whole,
// not a later one written over it.
void tst_Config::firstErrorIsReported()
{
    const QByteArray json = R"({"services": [{"prefix": 7, "zmq": {"in": 5, "out": "tcp://*:2"},
                                               "websocket": 1, "bogus": true}]})";
    QString error;
    QVERIFY(!Config::fromJson(json, QStringLiteral("/"), &error));
    QVERIFY2(error.startsWith(QLatin1String("services[0].prefix: ")), qPrintable(error));
}

// services[].limits: what a service sets replaces the top-level value, the
// rest is inherited; the request line and the timeouts stay per port.
void tst_Config::serviceLimits()
{
    const QByteArray json = R"({
      "limits": {"max_request_line": 1000, "max_header_bytes": 2000, "max_header_count": 30,
                 "max_body_bytes": 4000, "request_timeout_ms": 5000, "keepalive_timeout_ms": 6000},
      "services": [
        {"prefix": "/all", "zmq": {"in": "inproc://1", "out": "inproc://2"},
         "limits": {"max_header_bytes": 300, "max_header_count": 3, "max_body_bytes": 0}},
        {"prefix": "/body", "zmq": {"in": "inproc://3", "out": "inproc://4"},
         "limits": {"max_body_bytes": 8000000}},
        {"prefix": "/none", "zmq": {"in": "inproc://5", "out": "inproc://6"}},
        {"prefix": "/empty", "zmq": {"in": "inproc://7", "out": "inproc://8"}, "limits": {}}
      ]})";
    QString error;
    const auto config = Config::fromJson(json, kBaseDir, &error);
    QVERIFY2(config, qPrintable(error));
    QCOMPARE(config->services.size(), 4);
    const HttpParser::Limits &top = config->http.limits;

    const ServiceConfig &all = config->services.at(0);
    QCOMPARE(all.maxHeaderBytes, std::optional<qsizetype>(300));
    QCOMPARE(all.maxHeaderCount, std::optional<int>(3));
    QCOMPARE(all.maxBodyBytes, std::optional<qsizetype>(0));
    const HttpParser::Limits allLimits = all.httpLimits(top);
    QCOMPARE(allLimits.maxRequestLine, 1000); // per port
    QCOMPARE(allLimits.maxHeaderBytes, 300);
    QCOMPARE(allLimits.maxHeaderCount, 3);
    QCOMPARE(allLimits.maxBodyBytes, 0);

    const ServiceConfig &body = config->services.at(1);
    QVERIFY(!body.maxHeaderBytes);
    QVERIFY(!body.maxHeaderCount);
    QCOMPARE(body.maxBodyBytes, std::optional<qsizetype>(8000000));
    const HttpParser::Limits bodyLimits = body.httpLimits(top);
    QCOMPARE(bodyLimits.maxRequestLine, 1000);
    QCOMPARE(bodyLimits.maxHeaderBytes, 2000);
    QCOMPARE(bodyLimits.maxHeaderCount, 30);
    QCOMPARE(bodyLimits.maxBodyBytes, 8000000);

    for (const ServiceConfig &inherits : {config->services.at(2), config->services.at(3)}) {
        QVERIFY(!inherits.maxHeaderBytes && !inherits.maxHeaderCount && !inherits.maxBodyBytes);
        const HttpParser::Limits limits = inherits.httpLimits(top);
        QCOMPARE(limits.maxRequestLine, 1000);
        QCOMPARE(limits.maxHeaderBytes, 2000);
        QCOMPARE(limits.maxHeaderCount, 30);
        QCOMPARE(limits.maxBodyBytes, 4000);
    }
    // The timeouts are the connection's, untouched by any service.
    QCOMPARE(config->http.requestTimeoutMs, 5000);
    QCOMPARE(config->http.keepAliveTimeoutMs, 6000);
}

// Without top-level limits a service inherits the built-in defaults, and
// inheritance is resolved against whatever the top level is when asked, so
// a top-level value set after parsing (as sockjsproxy-cli options could)
// still reaches the services that did not set their own.
void tst_Config::serviceLimitsDefaultToBuiltIns()
{
    QString error;
    const auto config = Config::fromJson(R"({"services": [{"limits": {"max_header_count": 7}}]})", kBaseDir, &error);
    QVERIFY2(config, qPrintable(error));
    const HttpParser::Limits builtIn;
    const HttpParser::Limits limits = config->services.at(0).httpLimits(config->http.limits);
    QCOMPARE(limits.maxRequestLine, builtIn.maxRequestLine);
    QCOMPARE(limits.maxHeaderBytes, builtIn.maxHeaderBytes);
    QCOMPARE(limits.maxHeaderCount, 7);
    QCOMPARE(limits.maxBodyBytes, builtIn.maxBodyBytes);

    HttpParser::Limits changed;
    changed.maxBodyBytes = 12;
    changed.maxHeaderCount = 99;
    const HttpParser::Limits later = config->services.at(0).httpLimits(changed);
    QCOMPARE(later.maxBodyBytes, 12);
    QCOMPARE(later.maxHeaderCount, 7);
}

namespace {
// A service with zmq.curve set to curveText (JSON), on tcp:// endpoints.
QByteArray withCurve(const QByteArray &curveText, const QByteArray &in = "tcp://*:9241")
{
    return R"({"services": [{"zmq": {"in": ")" + in + R"(", "out": "ipc:///run/proxy-out", "curve": )" + curveText
           + "}}]}";
}
} // namespace

void tst_Config::zmqCurve()
{
    QString error;
    // Paths relative to the config file's directory; the keys are only text here.
    auto config = Config::fromJson(withCurve(R"({"secret_key_file": "keys/proxy.key_secret",
        "allowed_keys": ["a", "b"], "allowed_keys_dir": "backends"})"),
                                   kBaseDir, &error);
    QVERIFY2(config, qPrintable(error));
    QVERIFY(config->services.at(0).zmqCurve);
    ZmqCurveConfig curve = *config->services.at(0).zmqCurve;
    QCOMPARE(curve.secretKey, QString());
    QCOMPARE(curve.secretKeyFile, QStringLiteral("/srv/proxy/keys/proxy.key_secret"));
    QCOMPARE(curve.allowedKeys, (QStringList{QStringLiteral("a"), QStringLiteral("b")}));
    QCOMPARE(curve.allowedKeysDir, QStringLiteral("/srv/proxy/backends"));

    config = Config::fromJson(
        withCurve(R"({"secret_key": "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6", "allowed_keys_dir": "/etc/keys"})"),
        kBaseDir, &error);
    QVERIFY2(config, qPrintable(error));
    curve = *config->services.at(0).zmqCurve;
    QCOMPARE(curve.secretKey, QStringLiteral("JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"));
    QCOMPARE(curve.secretKeyFile, QString());
    QVERIFY(curve.allowedKeys.isEmpty());
    QCOMPARE(curve.allowedKeysDir, QStringLiteral("/etc/keys"));

    // An empty list is a choice (keys come from the directory alone).
    config = Config::fromJson(withCurve(R"({"secret_key": "k", "allowed_keys": []})"), kBaseDir, &error);
    QVERIFY2(config, qPrintable(error));
    QVERIFY(config->services.at(0).zmqCurve->allowedKeys.isEmpty());
}

void tst_Config::zmqCurveErrors_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("expected"); // the error starts with it

    const QString curve = QStringLiteral("services[0].zmq.curve: ");
    QTest::newRow("not an object") << withCurve("[]") << curve + QStringLiteral("expected an object");
    QTest::newRow("empty") << withCurve("{}")
                           << curve
                                  + QStringLiteral("the proxy's secret key is required (secret_key or "
                                                   "secret_key_file)");
    QTest::newRow("no secret") << withCurve(R"({"allowed_keys": ["a"]})")
                               << curve + QStringLiteral("the proxy's secret key is required");
    QTest::newRow("both secrets") << withCurve(R"({"secret_key": "k", "secret_key_file": "f", "allowed_keys": []})")
                                  << curve + QStringLiteral("secret_key and secret_key_file exclude each other");
    QTest::newRow("nobody allowed") << withCurve(R"({"secret_key": "k"})")
                                    << curve + QStringLiteral("allowed_keys, allowed_keys_dir or both are required");
    QTest::newRow("secret_key number") << withCurve(R"({"secret_key": 5, "allowed_keys": []})")
                                       << QStringLiteral("services[0].zmq.curve.secret_key: expected a string");
    QTest::newRow("allowed_keys string") << withCurve(R"({"secret_key": "k", "allowed_keys": "a"})")
                                         << QStringLiteral(
                                                "services[0].zmq.curve.allowed_keys: expected an array of strings");
    QTest::newRow("allowed_keys numbers")
        << withCurve(R"({"secret_key": "k", "allowed_keys": [1]})")
        << QStringLiteral("services[0].zmq.curve.allowed_keys: expected an array of strings");
    QTest::newRow("allowed_keys_dir array")
        << withCurve(R"({"secret_key": "k", "allowed_keys_dir": ["d"]})")
        << QStringLiteral("services[0].zmq.curve.allowed_keys_dir: expected a string");
    QTest::newRow("unknown key") << withCurve(R"({"secret_key": "k", "allowed_keys": [], "public_key": "p"})")
                                 << QStringLiteral("services[0].zmq.curve.public_key: unknown key");
    QTest::newRow("empty secret_key_file") << withCurve(R"({"secret_key_file": "", "allowed_keys": []})")
                                           << QStringLiteral("services[0].zmq.curve.secret_key_file: empty path");
    QTest::newRow("empty allowed_keys_dir") << withCurve(R"({"secret_key": "k", "allowed_keys_dir": ""})")
                                            << QStringLiteral("services[0].zmq.curve.allowed_keys_dir: empty path");
    QTest::newRow("inproc") << withCurve(R"({"secret_key": "k", "allowed_keys": []})", "inproc://in")
                            << curve + QStringLiteral("inproc://in is not a tcp:// or ipc:// endpoint");
}

void tst_Config::zmqCurveErrors()
{
    QFETCH(QByteArray, json);
    QFETCH(QString, expected);
    QString error;
    const auto config = Config::fromJson(json, kBaseDir, &error);
    QVERIFY2(!config, json.constData());
    QVERIFY2(error.startsWith(expected), qPrintable(error));
}

// connect_info: true, or an object naming headers (kept in lower case, once
// each) and cookies.
void tst_Config::connectInfo()
{
    const QByteArray json = R"({"services": [
        {"prefix": "/a", "zmq": {"in": "tcp://*:1", "out": "tcp://*:2"},
         "connect_info": {"headers": ["X-User", "x-request-id", "x-user"], "cookies": true}},
        {"prefix": "/b", "zmq": {"in": "tcp://*:3", "out": "tcp://*:4"}, "connect_info": true},
        {"prefix": "/c", "zmq": {"in": "tcp://*:5", "out": "tcp://*:6"}, "connect_info": false},
        {"prefix": "/d", "zmq": {"in": "tcp://*:7", "out": "tcp://*:8"}, "connect_info": {}}]})";
    QString error;
    const auto config = Config::fromJson(json, kBaseDir, &error);
    QVERIFY2(config, qPrintable(error));
    const ServiceConfig &a = config->services.at(0);
    QVERIFY(a.connectInfo);
    QCOMPARE(a.connectInfo->headers, (QList<QByteArray>{"x-user", "x-request-id"}));
    QCOMPARE(a.connectInfo->cookies, true);
    const ServiceConfig &b = config->services.at(1);
    QVERIFY(b.connectInfo);
    QVERIFY(b.connectInfo->headers.isEmpty());
    QCOMPARE(b.connectInfo->cookies, false);
    QVERIFY(!config->services.at(2).connectInfo);
    QVERIFY(config->services.at(3).connectInfo);
    QVERIFY(config->services.at(3).connectInfo->headers.isEmpty());
}

void tst_Config::connectInfoErrors_data()
{
    QTest::addColumn<QByteArray>("service"); // the rest of services[0]
    QTest::addColumn<QString>("expected");   // the error message
    QTest::newRow("connect_info a string")
        << QByteArray(R"("connect_info": "yes")") << "services[0].connect_info: expected true, false or an object";
    QTest::newRow("connect_info an array")
        << QByteArray(R"("connect_info": ["x-user"])") << "services[0].connect_info: expected true, false or an object";
    QTest::newRow("unknown key") << QByteArray(R"("connect_info": {"header": ["x"]})")
                                 << "services[0].connect_info.header: unknown key";
    QTest::newRow("headers a string") << QByteArray(R"("connect_info": {"headers": "x-user"})")
                                      << "services[0].connect_info.headers: expected an array of strings";
    QTest::newRow("header not a token") << QByteArray(R"("connect_info": {"headers": ["x user"]})")
                                        << "services[0].connect_info.headers: \"x user\" is not a header name";
    QTest::newRow("header empty") << QByteArray(R"("connect_info": {"headers": [""]})")
                                  << "services[0].connect_info.headers: \"\" is not a header name";
    QTest::newRow("cookies a string") << QByteArray(R"("connect_info": {"cookies": "true"})")
                                      << "services[0].connect_info.cookies: expected true or false";
}

void tst_Config::connectInfoErrors()
{
    QFETCH(QByteArray, service);
    QFETCH(QString, expected);
    QString error;
    QVERIFY(!Config::fromJson(R"({"services": [{)" + service + "}]}", kBaseDir, &error));
    QCOMPARE(error, expected);
}

void tst_Config::requireAccept()
{
    QString error;
    const auto config = Config::fromJson(R"({"services": [
        {"prefix": "/a", "zmq": {"in": "tcp://*:1", "out": "tcp://*:2"}, "require_accept": true, "accept_timeout_ms": 250},
        {"prefix": "/b", "zmq": {"in": "tcp://*:3", "out": "tcp://*:4"}, "require_accept": true},
        {"prefix": "/c", "zmq": {"in": "tcp://*:5", "out": "tcp://*:6"}, "require_accept": false}]})",
                                         kBaseDir, &error);
    QVERIFY2(config, qPrintable(error));
    QCOMPARE(config->services.at(0).requireAccept, true);
    QCOMPARE(config->services.at(0).acceptTimeoutMs, 250);
    QCOMPARE(config->services.at(1).requireAccept, true);
    QCOMPARE(config->services.at(1).acceptTimeoutMs, 5000);
    QCOMPARE(config->services.at(2).requireAccept, false);
}

void tst_Config::requireAcceptErrors_data()
{
    QTest::addColumn<QByteArray>("service"); // the rest of services[0]
    QTest::addColumn<QString>("expected");   // the error message
    QTest::newRow("require_accept 1") << QByteArray(R"("require_accept": 1)")
                                      << "services[0].require_accept: expected true or false";
    QTest::newRow("accept_timeout_ms 9") << QByteArray(R"("accept_timeout_ms": 9)")
                                         << "services[0].accept_timeout_ms: must be between 10 and 3600000";
    QTest::newRow("accept_timeout_ms text")
        << QByteArray(R"("accept_timeout_ms": "5s")") << "services[0].accept_timeout_ms: expected an integer";
}

void tst_Config::requireAcceptErrors()
{
    QFETCH(QByteArray, service);
    QFETCH(QString, expected);
    QString error;
    QVERIFY(!Config::fromJson(R"({"services": [{)" + service + "}]}", kBaseDir, &error));
    QCOMPARE(error, expected);
}

void tst_Config::httpTls()
{
    // Paths relative to the config file's directory; the files are read when the server starts.
    QString error;
    auto config = Config::fromJson(
        R"({"http": {"tls": {"cert": "tls/chain.pem", "key": "/etc/key.pem"}}, "services": [{}]})", kBaseDir, &error);
    QVERIFY2(config, qPrintable(error));
    QVERIFY(config->tls);
    QCOMPARE(config->tls->certificate, QStringLiteral("/srv/proxy/tls/chain.pem"));
    QCOMPARE(config->tls->key, QStringLiteral("/etc/key.pem"));
}

void tst_Config::httpTlsErrors_data()
{
    QTest::addColumn<QByteArray>("tls");
    QTest::addColumn<QString>("expected");
    QTest::newRow("not an object") << QByteArray(R"(true)") << QStringLiteral("http.tls: expected an object");
    QTest::newRow("no key") << QByteArray(R"({"cert": "c.pem"})") << QStringLiteral("http.tls.key: a file is required");
    QTest::newRow("no cert") << QByteArray(R"({"key": "k.pem"})")
                             << QStringLiteral("http.tls.cert: a file is required");
    QTest::newRow("empty cert") << QByteArray(R"({"cert": "", "key": "k.pem"})")
                                << QStringLiteral("http.tls.cert: a file is required");
    QTest::newRow("cert not a string") << QByteArray(R"({"cert": 1, "key": "k.pem"})")
                                       << QStringLiteral("http.tls.cert: expected a string");
    QTest::newRow("unknown key") << QByteArray(R"({"cert": "c.pem", "key": "k.pem", "ca": "x"})")
                                 << QStringLiteral("http.tls.ca: unknown key");
}

void tst_Config::httpTlsErrors()
{
    QFETCH(QByteArray, tls);
    QFETCH(QString, expected);
    QString error;
    QVERIFY(!Config::fromJson(R"({"http": {"tls": )" + tls + R"(}, "services": [{}]})", kBaseDir, &error));
    QCOMPARE(error, expected);
}

QTEST_GUILESS_MAIN(tst_Config)
#include "tst_config.moc"
