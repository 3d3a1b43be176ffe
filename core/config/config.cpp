#include "config.h"

#include "http/originpolicy.h"

#include <QDir>
#include <QHostAddress>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QSet>
#include <QUrl>

#include <cmath>

namespace SockJsProxy {

namespace {

// Reads one JSON object strictly: every key must be known, every value of
// the right type; the first problem is kept with the path of its key.
class ObjectReader
{
public:
    ObjectReader(const QJsonObject &object, const QString &path, QString *error)
        : m_object(object), m_path(path), m_error(error)
    {}

    bool ok() const { return m_ok; }

    void string(const char *key, QString *out)
    {
        const QJsonValue value = take(key);
        if (value.isUndefined())
            return;
        if (!value.isString())
            return fail(key, QStringLiteral("expected a string"));
        *out = value.toString();
    }

    void boolean(const char *key, bool *out)
    {
        const QJsonValue value = take(key);
        if (value.isUndefined())
            return;
        if (!value.isBool())
            return fail(key, QStringLiteral("expected true or false"));
        *out = value.toBool();
    }

    void stringList(const char *key, QStringList *out)
    {
        const QJsonValue value = take(key);
        if (value.isUndefined())
            return;
        if (!value.isArray())
            return fail(key, QStringLiteral("expected an array of strings"));
        QStringList list;
        for (const QJsonValue &item : value.toArray()) {
            if (!item.isString())
                return fail(key, QStringLiteral("expected an array of strings"));
            list.append(item.toString());
        }
        *out = list;
    }

    template<typename Int>
    void integer(const char *key, Int *out, qint64 min, qint64 max)
    {
        const QJsonValue value = take(key);
        if (value.isUndefined())
            return;
        const double number = value.toDouble();
        if (!value.isDouble() || std::floor(number) != number)
            return fail(key, QStringLiteral("expected an integer"));
        if (number < double(min) || number > double(max))
            return fail(key, QStringLiteral("must be between %1 and %2").arg(min).arg(max));
        *out = Int(number);
    }

    // An optional setting: left unset when the key is absent.
    template<typename Int>
    void integer(const char *key, std::optional<Int> *out, qint64 min, qint64 max)
    {
        if (m_object.value(QLatin1String(key)).isUndefined()) {
            take(key);
            return;
        }
        Int value = 0;
        integer(key, &value, min, max);
        if (m_ok)
            *out = value;
    }

    QJsonValue take(const char *key)
    {
        const QString name = QString::fromLatin1(key);
        m_seen.insert(name);
        return m_object.value(name);
    }

    QString keyPath(const char *key) const
    {
        return m_path.isEmpty() ? QString::fromLatin1(key) : m_path + QLatin1Char('.') + QLatin1String(key);
    }

    void fail(const char *key, const QString &what)
    {
        m_ok = false;
        if (m_error->isEmpty()) // the first problem found is the one reported
            *m_error = keyPath(key) + QStringLiteral(": ") + what;
    }

    // Call last: reports the first key that was never asked for.
    bool finish()
    {
        if (!m_ok || !m_error->isEmpty())
            return false;
        for (auto it = m_object.begin(); it != m_object.end(); ++it) {
            if (!m_seen.contains(it.key())) {
                m_ok = false;
                *m_error = (m_path.isEmpty() ? it.key() : m_path + QLatin1Char('.') + it.key())
                           + QStringLiteral(": unknown key");
                return false;
            }
        }
        return true;
    }

private:
    QJsonObject m_object;
    QString m_path;
    QString *m_error;
    QSet<QString> m_seen;
    bool m_ok = true;
};

bool readObject(ObjectReader &parent, const char *key, QJsonObject *out)
{
    const QJsonValue value = parent.take(key);
    if (value.isUndefined())
        return true;
    if (!value.isObject()) {
        parent.fail(key, QStringLiteral("expected an object"));
        return false;
    }
    *out = value.toObject();
    return true;
}

// The limits that may be set per service as well as at the top level: the
// same keys, units and ranges in both places.
template<typename HeaderBytes, typename HeaderCount, typename BodyBytes>
void readRequestLimits(ObjectReader &reader, HeaderBytes *maxHeaderBytes, HeaderCount *maxHeaderCount,
                       BodyBytes *maxBodyBytes)
{
    reader.integer("max_header_bytes", maxHeaderBytes, 256, 1 << 24);
    reader.integer("max_header_count", maxHeaderCount, 1, 10000);
    reader.integer("max_body_bytes", maxBodyBytes, 0, qint64(1) << 31);
}

bool readServiceLimits(ObjectReader &parent, ServiceConfig *service, QString *error)
{
    QJsonObject limits;
    if (!readObject(parent, "limits", &limits) || limits.isEmpty())
        return true;
    ObjectReader reader(limits, parent.keyPath("limits"), error);
    readRequestLimits(reader, &service->maxHeaderBytes, &service->maxHeaderCount, &service->maxBodyBytes);
    // Named rather than "unknown key": they exist, just not here.
    if (!reader.take("max_request_line").isUndefined())
        reader.fail("max_request_line", QStringLiteral("per port, not per service (the request line is read before "
                                                       "the request is routed); set limits.max_request_line"));
    for (const char *key : {"request_timeout_ms", "keepalive_timeout_ms"}) {
        if (!reader.take(key).isUndefined())
            reader.fail(key, QStringLiteral("per port, not per service (a connection may carry requests for "
                                            "several services); set limits.%1")
                                 .arg(QLatin1String(key)));
    }
    for (const char *key :
         {"max_open_files", "max_connections", "max_connections_per_address", "max_queued_bytes_total"}) {
        if (!reader.take(key).isUndefined())
            reader.fail(
                key, QStringLiteral("for the whole process, not per service; set limits.%1").arg(QLatin1String(key)));
    }
    return reader.finish();
}

// http.tls: {"cert": FILE, "key": FILE}, both required, relative to the
// configuration file. The files are read when the server starts.
bool readTls(ObjectReader &parent, const QString &baseDir, Config *config, QString *error)
{
    const QJsonValue value = parent.take("tls");
    if (value.isUndefined())
        return true;
    if (!value.isObject()) {
        parent.fail("tls", QStringLiteral("expected an object"));
        return false;
    }
    const QString path = parent.keyPath("tls");
    ObjectReader reader(value.toObject(), path, error);
    TlsFiles files;
    reader.string("cert", &files.certificate);
    reader.string("key", &files.key);
    if (!reader.finish())
        return false;
    for (const auto &[key, file] : {std::pair{"cert", &files.certificate}, std::pair{"key", &files.key}}) {
        if (file->isEmpty()) {
            *error = path + QLatin1Char('.') + QLatin1String(key) + QStringLiteral(": a file is required");
            return false;
        }
        *file = QDir(baseDir).absoluteFilePath(*file);
    }
    config->tls = files;
    return true;
}

bool readCurve(ObjectReader &parent, const QString &baseDir, ServiceConfig *service, QString *error)
{
    const QJsonValue value = parent.take("curve");
    if (value.isUndefined())
        return true;
    if (!value.isObject()) {
        parent.fail("curve", QStringLiteral("expected an object"));
        return false;
    }
    const QString path = parent.keyPath("curve");
    ObjectReader reader(value.toObject(), path, error);
    ZmqCurveConfig curve;
    reader.string("secret_key", &curve.secretKey);
    reader.string("secret_key_file", &curve.secretKeyFile);
    reader.stringList("allowed_keys", &curve.allowedKeys);
    reader.string("allowed_keys_dir", &curve.allowedKeysDir);
    if (!reader.finish())
        return false;
    const QJsonObject object = value.toObject();
    const bool hasSecret = object.contains(QLatin1String("secret_key"));
    const bool hasSecretFile = object.contains(QLatin1String("secret_key_file"));
    if (hasSecret == hasSecretFile) {
        *error = path
                 + (hasSecret ? QStringLiteral(": secret_key and secret_key_file exclude each other")
                              : QStringLiteral(": the proxy's secret key is required (secret_key or secret_key_file)"));
        return false;
    }
    if (!object.contains(QLatin1String("allowed_keys")) && !object.contains(QLatin1String("allowed_keys_dir"))) {
        *error = path
                 + QStringLiteral(": allowed_keys, allowed_keys_dir or both are required (without them no "
                                  "backend could connect)");
        return false;
    }
    for (const char *key : {"secret_key_file", "allowed_keys_dir"}) {
        if (object.contains(QLatin1String(key)) && object.value(QLatin1String(key)).toString().isEmpty()) {
            *error = path + QLatin1Char('.') + QLatin1String(key) + QStringLiteral(": empty path");
            return false;
        }
    }
    if (hasSecretFile)
        curve.secretKeyFile = QDir(baseDir).absoluteFilePath(curve.secretKeyFile);
    if (!curve.allowedKeysDir.isEmpty())
        curve.allowedKeysDir = QDir(baseDir).absoluteFilePath(curve.allowedKeysDir);
    // inproc:// connections skip ZeroMQ's security mechanisms altogether.
    for (const QString &endpoint : {service->zmqIn, service->zmqOut}) {
        if (!endpoint.startsWith(QLatin1String("tcp://")) && !endpoint.startsWith(QLatin1String("ipc://"))) {
            *error =
                path + QStringLiteral(": %1 is not a tcp:// or ipc:// endpoint (only those have CURVE)").arg(endpoint);
            return false;
        }
    }
    service->zmqCurve = curve;
    return true;
}

// A token (RFC 9110): what a header name may be made of.
bool isHeaderName(const QString &name)
{
    if (name.isEmpty())
        return false;
    for (QChar c : name) {
        const bool ok = (c >= u'a' && c <= u'z') || (c >= u'A' && c <= u'Z') || (c >= u'0' && c <= u'9')
                        || QStringView(u"!#$%&'*+-.^_`|~").contains(c);
        if (!ok)
            return false;
    }
    return true;
}

// connect_info: true (the fixed fields), false or absent (none), or an
// object that also names headers and asks for cookies.
bool readConnectInfo(ObjectReader &parent, ServiceConfig *service, QString *error)
{
    const QJsonValue value = parent.take("connect_info");
    if (value.isUndefined() || value.isNull())
        return true;
    if (value.isBool()) {
        if (value.toBool())
            service->connectInfo = ConnectInfoConfig();
        return true;
    }
    if (!value.isObject()) {
        parent.fail("connect_info", QStringLiteral("expected true, false or an object"));
        return false;
    }
    ObjectReader reader(value.toObject(), parent.keyPath("connect_info"), error);
    ConnectInfoConfig info;
    QStringList headers;
    reader.stringList("headers", &headers);
    reader.boolean("cookies", &info.cookies);
    for (const QString &name : std::as_const(headers)) {
        if (!isHeaderName(name)) {
            reader.fail("headers", QStringLiteral("\"%1\" is not a header name").arg(name));
            break;
        }
        const QByteArray lower = name.toLatin1().toLower();
        if (!info.headers.contains(lower))
            info.headers.append(lower);
    }
    if (!reader.finish())
        return false;
    service->connectInfo = info;
    return true;
}

bool readService(const QJsonObject &object, const QString &path, const QString &baseDir, ServiceConfig *service,
                 QString *error)
{
    ObjectReader reader(object, path, error);
    reader.string("prefix", &service->prefix);
    if (!readServiceLimits(reader, service, error))
        return false;
    QJsonObject zmq;
    if (readObject(reader, "zmq", &zmq) && !zmq.isEmpty()) {
        ObjectReader zmqReader(zmq, reader.keyPath("zmq"), error);
        zmqReader.string("in", &service->zmqIn);
        zmqReader.string("out", &service->zmqOut);
        zmqReader.integer("queue_limit", &service->zmqQueueLimit, 1, 100000000);
        zmqReader.integer("high_water_mark", &service->zmqHighWaterMark, 1, 1000000);
        if (!zmqReader.ok() || !readCurve(zmqReader, baseDir, service, error) || !zmqReader.finish())
            return false;
    }
    reader.boolean("websocket", &service->websocket);
    reader.boolean("cookie_needed", &service->cookieNeeded);
    reader.integer("heartbeat_delay_ms", &service->heartbeatDelayMs, 100, 24 * 3600 * 1000);
    reader.integer("disconnect_delay_ms", &service->disconnectDelayMs, 100, 24 * 3600 * 1000);
    reader.integer("response_limit", &service->responseLimit, 1, qint64(1) << 40);
    reader.string("sockjs_url", &service->sockjsUrl);
    reader.integer("max_message_bytes", &service->maxMessageBytes, 16, qint64(1) << 31);
    reader.integer("max_queued_messages", &service->maxQueuedMessages, 1, 100000000);
    reader.integer("max_queued_bytes", &service->maxQueuedBytes, 1024, qint64(1) << 40);
    reader.stringList("origins", &service->origins);
    for (const QString &origin : std::as_const(service->origins)) {
        QString originError;
        if (!OriginPolicy::isValidPattern(origin, &originError))
            reader.fail("origins", originError);
    }
    reader.boolean("check_address", &service->checkAddress);
    reader.integer("max_sessions", &service->maxSessions, 1, 10000000);
    reader.integer("max_sessions_per_address", &service->maxSessionsPerAddress, 0, 10000000);
    if (!readConnectInfo(reader, service, error))
        return false;
    reader.boolean("require_accept", &service->requireAccept);
    reader.integer("accept_timeout_ms", &service->acceptTimeoutMs, 10, 3600 * 1000);
    return reader.finish();
}

bool readCluster(ObjectReader &root, ClusterConfig *cluster, QString *error)
{
    QJsonObject object;
    const QJsonValue value = root.take("cluster");
    if (value.isUndefined())
        return true;
    if (!value.isObject()) {
        root.fail("cluster", QStringLiteral("expected an object"));
        return false;
    }
    object = value.toObject();
    cluster->enabled = true;
    ObjectReader reader(object, QStringLiteral("cluster"), error);
    reader.string("node", &cluster->node);
    reader.string("bind", &cluster->bind);
    reader.stringList("peers", &cluster->peers);
    reader.integer("heartbeat_ms", &cluster->heartbeatMs, 10, 60000);
    reader.integer("dead_after_ms", &cluster->deadAfterMs, 20, 3600 * 1000);
    reader.integer("claim_grace_ms", &cluster->claimGraceMs, 0, 60000);
    return reader.finish();
}

bool isEndpoint(const QString &endpoint)
{
    const qsizetype scheme = endpoint.indexOf(QLatin1String("://"));
    return scheme > 0 && endpoint.size() > scheme + 3;
}

} // namespace

bool ClusterConfig::isValidNodeName(const QString &name)
{
    static const QRegularExpression pattern(QStringLiteral("^[A-Za-z0-9_]{1,32}$"));
    return pattern.match(name).hasMatch();
}

bool ClusterConfig::validate(QString *error) const
{
    if (!enabled)
        return true;
    if (!node.isEmpty() && !isValidNodeName(node)) {
        *error = QStringLiteral("cluster.node: \"%1\" is not a node name (1 to 32 of A-Z, a-z, 0-9 and _)").arg(node);
        return false;
    }
    if (bind.isEmpty()) {
        *error = QStringLiteral("cluster.bind: required (the endpoint this node binds for its peers, e.g. "
                                "\"tcp://*:9300\")");
        return false;
    }
    if (!isEndpoint(bind)) {
        *error =
            QStringLiteral("cluster.bind: \"%1\" is not a ZeroMQ endpoint (tcp://HOST:PORT, ipc://PATH)").arg(bind);
        return false;
    }
    QSet<QString> seen;
    for (qsizetype i = 0; i < peers.size(); ++i) {
        const QString &peer = peers.at(i);
        if (!isEndpoint(peer)) {
            *error = QStringLiteral("cluster.peers[%1]: \"%2\" is not a ZeroMQ endpoint (tcp://HOST:PORT, ipc://PATH)")
                         .arg(i)
                         .arg(peer);
            return false;
        }
        if (seen.contains(peer)) {
            *error = QStringLiteral("cluster.peers[%1]: %2 is listed twice").arg(i).arg(peer);
            return false;
        }
        seen.insert(peer);
    }
    if (deadAfterMs < 2 * heartbeatMs) {
        *error = QStringLiteral("cluster.dead_after_ms: must be at least twice cluster.heartbeat_ms (%1 < 2 x %2)")
                     .arg(deadAfterMs)
                     .arg(heartbeatMs);
        return false;
    }
    return true;
}

HttpParser::Limits ServiceConfig::httpLimits(const HttpParser::Limits &defaults) const
{
    HttpParser::Limits limits = defaults;
    limits.maxHeaderBytes = maxHeaderBytes.value_or(defaults.maxHeaderBytes);
    limits.maxHeaderCount = maxHeaderCount.value_or(defaults.maxHeaderCount);
    limits.maxBodyBytes = maxBodyBytes.value_or(defaults.maxBodyBytes);
    return limits;
}

std::optional<Config> Config::fromJson(const QByteArray &json, const QString &baseDir, QString *error)
{
    QJsonParseError parseError;
    const QJsonDocument document = QJsonDocument::fromJson(json, &parseError);
    if (parseError.error != QJsonParseError::NoError) {
        *error = QStringLiteral("invalid JSON at offset %1: %2").arg(parseError.offset).arg(parseError.errorString());
        return std::nullopt;
    }
    if (!document.isObject()) {
        *error = QStringLiteral("the configuration must be a JSON object");
        return std::nullopt;
    }

    Config config;
    config.services.clear();
    ObjectReader root(document.object(), QString(), error);

    QJsonObject http;
    if (readObject(root, "http", &http) && !http.isEmpty()) {
        ObjectReader reader(http, QStringLiteral("http"), error);
        reader.string("address", &config.httpAddress);
        reader.integer("port", &config.httpPort, 0, 65535);
        QStringList trusted;
        reader.stringList("trusted_proxies", &trusted);
        QString trustedError;
        if (const auto proxies = TrustedProxies::parse(trusted, &trustedError))
            config.http.trustedProxies = *proxies;
        else
            reader.fail("trusted_proxies", trustedError);
        reader.boolean("proxy_protocol", &config.http.proxyProtocol);
        if (!readTls(reader, baseDir, &config, error) || !reader.finish())
            return std::nullopt;
    }

    QJsonObject limits;
    if (readObject(root, "limits", &limits) && !limits.isEmpty()) {
        ObjectReader reader(limits, QStringLiteral("limits"), error);
        HttpParser::Limits &parser = config.http.limits;
        reader.integer("max_request_line", &parser.maxRequestLine, 64, 1 << 20);
        readRequestLimits(reader, &parser.maxHeaderBytes, &parser.maxHeaderCount, &parser.maxBodyBytes);
        reader.integer("request_timeout_ms", &config.http.requestTimeoutMs, 100, 3600 * 1000);
        reader.integer("keepalive_timeout_ms", &config.http.keepAliveTimeoutMs, 100, 24 * 3600 * 1000);
        ResourceLimits &resources = config.resources;
        reader.integer("max_open_files", &resources.maxOpenFiles, 0, qint64(1) << 30);
        if (resources.maxOpenFiles != 0 && resources.maxOpenFiles < 64)
            reader.fail("max_open_files", QStringLiteral("must be 0 (the hard limit) or at least 64"));
        reader.integer("max_connections", &resources.maxConnections, 0, 100000000);
        reader.integer("max_connections_per_address", &resources.maxConnectionsPerAddress, 0, 100000000);
        reader.integer("max_queued_bytes_total", &resources.maxQueuedBytesTotal, 0, qint64(1) << 50);
        if (!reader.finish())
            return std::nullopt;
    }

    const QJsonValue statics = root.take("static");
    if (!statics.isUndefined()) {
        if (!statics.isArray()) {
            root.fail("static", QStringLiteral("expected an array"));
        } else {
            const QJsonArray array = statics.toArray();
            for (qsizetype i = 0; i < array.size(); ++i) {
                const QString path = QStringLiteral("static[%1]").arg(i);
                if (!array.at(i).isObject()) {
                    *error = path + QStringLiteral(": expected an object");
                    return std::nullopt;
                }
                StaticMount mount;
                ObjectReader reader(array.at(i).toObject(), path, error);
                reader.string("url", &mount.url);
                reader.string("path", &mount.path);
                reader.boolean("follow_symlinks", &mount.followSymlinks);
                if (!reader.finish())
                    return std::nullopt;
                if (mount.url.isEmpty() || mount.path.isEmpty()) {
                    *error = path + QStringLiteral(": both url and path are required");
                    return std::nullopt;
                }
                mount.path = QDir(baseDir).absoluteFilePath(mount.path);
                config.statics.append(mount);
            }
        }
    }

    const QJsonValue services = root.take("services");
    if (!services.isUndefined()) {
        if (!services.isArray()) {
            root.fail("services", QStringLiteral("expected an array"));
        } else {
            const QJsonArray array = services.toArray();
            for (qsizetype i = 0; i < array.size(); ++i) {
                const QString path = QStringLiteral("services[%1]").arg(i);
                if (!array.at(i).isObject()) {
                    *error = path + QStringLiteral(": expected an object");
                    return std::nullopt;
                }
                ServiceConfig service;
                if (!readService(array.at(i).toObject(), path, baseDir, &service, error))
                    return std::nullopt;
                config.services.append(service);
            }
        }
    }
    root.integer("shutdown_timeout_ms", &config.shutdownTimeoutMs, 0, 3600 * 1000);
    if (!readCluster(root, &config.cluster, error))
        return std::nullopt;
    if (!root.finish())
        return std::nullopt;
    if (!config.validate(error))
        return std::nullopt;
    return config;
}

bool Config::validate(QString *error) const
{
    if (QHostAddress(httpAddress).isNull()) {
        *error = QStringLiteral("http.address: \"%1\" is not an IP address").arg(httpAddress);
        return false;
    }
    if (http.proxyProtocol && http.trustedProxies.isEmpty()) {
        *error = QStringLiteral("http.proxy_protocol: needs http.trusted_proxies (a PROXY header is accepted only "
                                "from a trusted proxy)");
        return false;
    }
    if (services.isEmpty()) {
        *error = QStringLiteral("services: at least one service is required");
        return false;
    }
    QSet<QString> prefixes;
    QSet<QString> endpoints;
    for (qsizetype i = 0; i < services.size(); ++i) {
        const ServiceConfig &service = services.at(i);
        const QString path = QStringLiteral("services[%1]").arg(i);
        if (!service.prefix.startsWith(QLatin1Char('/'))
            || (service.prefix.size() > 1 && service.prefix.endsWith(QLatin1Char('/')))) {
            *error =
                path
                + QStringLiteral(".prefix: must start with '/' and not end with '/' (got \"%1\")").arg(service.prefix);
            return false;
        }
        if (prefixes.contains(service.prefix)) {
            *error = path + QStringLiteral(".prefix: \"%1\" is used twice").arg(service.prefix);
            return false;
        }
        prefixes.insert(service.prefix);
        for (const QString &endpoint : {service.zmqIn, service.zmqOut}) {
            if (endpoints.contains(endpoint)) {
                *error = path + QStringLiteral(".zmq: endpoint %1 is used twice").arg(endpoint);
                return false;
            }
            endpoints.insert(endpoint);
        }
        if (!service.sockjsUrl.startsWith(QLatin1Char('/')) && !service.sockjsUrl.startsWith(QLatin1String("http"))) {
            *error = path + QStringLiteral(".sockjs_url: must start with '/' or 'http'");
            return false;
        }
    }
    for (const StaticMount &mount : statics) {
        if (!mount.url.startsWith(QLatin1Char('/'))) {
            *error = QStringLiteral("static: url \"%1\" must start with '/'").arg(mount.url);
            return false;
        }
    }
    if (!cluster.validate(error))
        return false;
    if (cluster.enabled && endpoints.contains(cluster.bind)) {
        *error = QStringLiteral("cluster.bind: endpoint %1 is also a service's").arg(cluster.bind);
        return false;
    }
    return true;
}

} // namespace SockJsProxy
