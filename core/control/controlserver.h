#pragma once

#include <QHash>
#include <QHostAddress>
#include <QObject>
#include <QSet>

class QTcpSocket;
class QWebSocket;
class QWebSocketServer;

namespace SockJsProxy {

class Connection;
class Listener;
class Monitor;
class TlsAcceptor;
struct TlsFiles;
struct HttpRequest;

// The control endpoint of a headless proxy (off by default; --control).
// HTTP/JSON and one WebSocket stream, documented in the README so other
// tools can use it:
//   GET  /api/snapshot            {"version", "stats", "sessions"}
//   GET  /metrics                 Prometheus text format
//   POST /api/sessions/disconnect {"ids": [...]}
//   POST /api/sessions/send       {"id": "...", "message": "..."}
//   POST /api/sessions/inspect    {"id": "...", "inspect": true}
//   POST /api/counters/clear
//   POST /api/capture             {"messages": N}  (0: off)
//   POST /api/sessions/history    {"id": "..."}    captured messages
//   GET  /api/stream (WebSocket)  snapshot, log_history, then sessions/stats/
//                                 traffic/log events; accepts the same
//                                 commands as JSON
// When a token is set, every request must carry it ("Authorization: Bearer
// TOKEN" or "?token=TOKEN"); listening beyond loopback requires one.
//
// Its port keeps accepting sanely when the process runs out of descriptors
// (Listener), counted in the monitored Server's whole-process counters
// under listener="control"; it has no connection limits of its own.
class ControlServer : public QObject
{
    Q_OBJECT

public:
    ControlServer(Monitor *monitor, QObject *parent = nullptr);
    ~ControlServer() override;

    void setToken(const QByteArray &token) { m_token = token; }
    // HTTPS and WSS (--control-tls-cert/--control-tls-key): reads and
    // checks the files; call before listen(). On failure *error names them.
    // The TLS handshake must complete within 30 s (the request timeout).
    bool setTls(const TlsFiles &files, QString *error);
    bool isTls() const { return m_tls != nullptr; }
    // On SIGHUP: the certificate and key again, for new connections. Logs
    // what it did; on failure the pair in use stays.
    bool reloadTls();
    bool hasToken() const { return !m_token.isEmpty(); }
    // "PORT", "HOST:PORT" or "[V6]:PORT"; HOST defaults to 127.0.0.1. On
    // failure *error names the endpoint ("--control ..."). Logs nothing.
    bool listen(const QString &endpoint, QString *error);
    quint16 port() const;
    QHostAddress address() const;

private:
    void onNewConnection(QTcpSocket *socket);
    void addConnection(QTcpSocket *socket);
    void onRequest(Connection *connection);
    bool onUpgrade(Connection *connection, const HttpRequest &head);
    void onNewWebSocket();
    bool authorized(const HttpRequest &request) const;
    QByteArray snapshotJson() const;
    // Runs a command object; returns the JSON answer or sets *error.
    QJsonObject runCommand(const QString &command, const QJsonObject &arguments, QWebSocket *client, QString *error);
    void setInspected(QWebSocket *client, const QByteArray &id, bool inspected);
    void broadcast(const QJsonObject &event);
    void dropClient(QWebSocket *client);

    Monitor *m_monitor;
    Listener *m_listener; // accepts QSslSockets with setTls()
    TlsAcceptor *m_tls = nullptr;
    QWebSocketServer *m_webSocketServer;
    QByteArray m_token;
    QList<QWebSocket *> m_clients;
    QHash<QWebSocket *, QSet<QByteArray>> m_inspectedBy; // per client
    QHash<QByteArray, int> m_inspectCount;               // per session, over clients
};

} // namespace SockJsProxy
