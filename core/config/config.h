#pragma once

#include "base/queuebudget.h"
#include "http/connection.h"
#include "http/tlscredentials.h"

#include <QList>
#include <QString>
#include <QStringList>

#include <optional>

namespace SockJsProxy {

// Where the proxy serves its own copy of sockjs-client.
inline QString builtinSockJsUrl() { return QStringLiteral("/sockjs-client/sockjs.min.js"); }

// zmq.curve of a service: the proxy is the CURVE server of its backends
// (encrypted and authenticated ZeroMQ). Only the text of the configuration:
// the keys are read and checked when the service starts (zmq/curvekeys.h),
// allowedKeysDir again on SIGHUP.
struct ZmqCurveConfig
{
    QString secretKey;       // secret_key: the proxy's secret key, Z85; or
    QString secretKeyFile;   // secret_key_file: a key file (absolute)
    QStringList allowedKeys; // allowed_keys: backends' public keys, Z85
    QString allowedKeysDir;  // allowed_keys_dir: a directory of *.key files (absolute)
};

// connect_info: what the backend's "connect" tells about the client.
struct ConnectInfoConfig
{
    QList<QByteArray> headers; // request headers passed on, by name (lower case)
    bool cookies = false;      // the Cookie header, parsed
};

struct ServiceConfig
{
    QString prefix = QStringLiteral("/");
    QString zmqIn = QStringLiteral("tcp://*:9241");
    QString zmqOut = QStringLiteral("tcp://*:9242");
    qsizetype zmqQueueLimit = 100000;       // messages waiting for a backend; more are dropped
    int zmqHighWaterMark = 1000;            // messages ZeroMQ holds per backend connection, each way
    std::optional<ZmqCurveConfig> zmqCurve; // unset: plain ZeroMQ
    bool websocket = true;
    bool cookieNeeded = false;
    int heartbeatDelayMs = 25000;
    int disconnectDelayMs = 5000;
    qint64 responseLimit = 128 * 1024;
    QString sockjsUrl = builtinSockJsUrl();
    qint64 maxMessageBytes = 1024 * 1024; // one incoming WebSocket message
    qsizetype maxQueuedMessages = 10000;  // per session, towards a slow client
    qint64 maxQueuedBytes = 16 * 1024 * 1024;
    // Browser origins allowed (WebSocket upgrades, CORS); see OriginPolicy.
    QStringList origins{QStringLiteral("*:*")};
    // Polling requests of a session must come from the address that opened it.
    bool checkAddress = false;
    int maxSessions = 100000;         // open sessions of the service
    int maxSessionsPerAddress = 1000; // open sessions of one client address (0: no limit)
    // "connect" carries a JSON object about the client; unset: empty data.
    std::optional<ConnectInfoConfig> connectInfo;
    // The client's open frame waits for the backend's "accept".
    bool requireAccept = false;
    int acceptTimeoutMs = 5000;
    // HTTP limits of the requests routed to this service (services[].limits);
    // unset ones are the top-level limits. The request line and the timeouts
    // are per port only: see Config::http.
    std::optional<qsizetype> maxHeaderBytes;
    std::optional<int> maxHeaderCount;
    std::optional<qsizetype> maxBodyBytes;

    // The top-level limits with this service's own in their place.
    HttpParser::Limits httpLimits(const HttpParser::Limits &defaults) const;
};

// Limits of the process as a whole (the top-level "limits" object), so
// that running out of descriptors never takes it down.
struct ResourceLimits
{
    // The soft RLIMIT_NOFILE set at start (applyOpenFilesLimit()); 0: the
    // hard limit.
    qint64 maxOpenFiles = 0;
    // Client connections open at once on the HTTP port; 0: the open files
    // limit less a reserve (ConnectionLimits::defaultMaxConnections()).
    int maxConnections = 0;
    // ... of them from one client address; 0: no limit.
    int maxConnectionsPerAddress = 256;
    // All outgoing queues together (sessions' and backend links'): past it
    // the sessions with the largest queues are closed; 0: no limit.
    qint64 maxQueuedBytesTotal = QueueBudget::kDefaultLimit;
};

// Several proxies sharing one pool of backends (README "Several proxies").
// Absent (enabled false): a single proxy, exactly as without it.
struct ClusterConfig
{
    bool enabled = false;   // the "cluster" key was given
    QString node;           // [A-Za-z0-9_]{1,32}; empty: the random per-process tag
    QString bind;           // the endpoint this node binds for its peers (required)
    QStringList peers;      // the other nodes' endpoints (this node's own may be among them)
    int heartbeatMs = 500;  // a heartbeat to every peer this often
    int deadAfterMs = 3000; // a peer not heard from for this long is dead
    // How long the node that claims a dead peer's sessions waits for a
    // lower-named claimant before it sends their disconnects.
    int claimGraceMs = 1000;

    static bool isValidNodeName(const QString &name);
    // Node name, endpoints, timings; errors name the key ("cluster.bind: ...").
    bool validate(QString *error) const;
};

struct StaticMount
{
    QString url;  // "/samples"
    QString path; // directory on disk
    // Serve files whose real path (symbolic links resolved) lies outside
    // path. Off: such files are 404 like missing ones.
    bool followSymlinks = false;
};

struct Config
{
    QString httpAddress = QStringLiteral("0.0.0.0");
    quint16 httpPort = 8080;
    // http.tls: HTTPS and WSS on the HTTP port with this certificate chain
    // and key (absolute paths); unset: plain HTTP.
    std::optional<TlsFiles> tls;
    QList<StaticMount> statics;
    QList<ServiceConfig> services;
    // The top-level limits: the defaults of every service, and the limits of
    // requests that reach no service. The request line and the timeouts are
    // per port: they apply before a request is routed, or to a connection
    // that may carry requests for several services.
    Connection::Options http;
    // shutdown_timeout_ms: how long a shutdown waits for the "disconnect"s
    // and other events queued for backends to leave (0: not at all).
    int shutdownTimeoutMs = 2000;
    ResourceLimits resources;
    ClusterConfig cluster;

    // Parses the --config JSON. Unknown keys and wrong types are errors that
    // name the key ("services[0].heartbeat_delay_ms: expected an integer").
    // Relative static paths are taken relative to baseDir.
    static std::optional<Config> fromJson(const QByteArray &json, const QString &baseDir, QString *error);

    // Consistency: prefixes unique and well-formed, endpoints distinct, ...
    bool validate(QString *error) const;
};

} // namespace SockJsProxy
