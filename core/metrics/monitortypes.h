#pragma once

#include "base/counters.h"

#include <QByteArray>
#include <QDateTime>
#include <QJsonObject>
#include <QList>
#include <QMetaType>
#include <QString>

namespace SockJsProxy {

// Plain values the monitoring layer hands out: to the Widgets monitor in
// the same process, and as JSON over the control endpoint. No pointers into
// the proxy: a snapshot stays valid however the proxy changes.

struct SessionInfo
{
    QByteArray id;          // the backend session id
    QString service;        // prefix
    QByteArray transport;   // "websocket", "xhr-streaming", ...
    QString remoteAddress;  // the client's; behind a load balancer the real client's
    quint16 remotePort = 0; // 0 when the load balancer did not say
    QString via;            // the load balancer's address; empty for a direct client (and then not in JSON)
    QString origin;
    QString userAgent;
    // "connecting", "open", "waiting" (an HTTP session between two requests
    // of its client: no receiver attached; it closes when none comes back
    // within disconnect_delay_ms) or "closed".
    QString state;
    QDateTime openedAt;
    QDateTime lastActivity;
    quint64 messagesIn = 0;  // client -> backend
    quint64 messagesOut = 0; // backend -> client
    quint64 bytesIn = 0;
    quint64 bytesOut = 0;
    qsizetype queued = 0; // messages waiting for the client
    // Once closed: the close code and reason the client got, who closed
    // (closeOriginName(): "client", "backend", "monitor", "timeout",
    // "limit", "shutdown", "proxy") and when.
    int closeCode = 0;
    QString closeReason;
    QString closedBy;
    QDateTime closedAt;
    // The cluster node that holds the session, as a monitor watching several
    // nodes names it (ClusterMonitor); empty otherwise (and then not in JSON).
    QString node;

    QJsonObject toJson() const;
    static SessionInfo fromJson(const QJsonObject &object);
    bool operator==(const SessionInfo &other) const;
};

// Counters (base/counters.h) as JSON: one key per row of kCounterTable, a
// number, or for a row labelled at run time an object of label value to
// number ({"n2": 5}). A service's carry the Service and Backend rows; the
// totals every row. Keys a peer does not send read as 0 (or no values).
QJsonObject countersToJson(const Counters &counters, bool withServerScope);
Counters countersFromJson(const QJsonObject &object);

// Per-second rates over the last sampling interval.
struct Rates
{
    double sessionsOpened = 0;
    double sessionsClosed = 0;
    double messagesIn = 0;
    double messagesOut = 0;
    double bytesIn = 0;
    double bytesOut = 0;

    QJsonObject toJson() const;
    static Rates fromJson(const QJsonObject &object);
};

struct BackendStatus
{
    QString inEndpoint;
    QString outEndpoint;
    int inPeers = -1; // backends connected to "in" (-1: unknown)
    int outPeers = -1;
    qsizetype queued = 0; // events waiting for a backend
    quint64 dropped = 0;  // events dropped while none was connected

    QJsonObject toJson() const;
    static BackendStatus fromJson(const QJsonObject &object);
};

struct ServiceStats
{
    QString prefix;
    qsizetype sessionsOpen = 0;
    Counters counters;
    Rates rates;
    BackendStatus backend;

    QJsonObject toJson() const;
    static ServiceStats fromJson(const QJsonObject &object);
};

// The bounded capture of every session's last messages (Monitor::setCapture).
struct CaptureStats
{
    int perSession = 0;  // messages kept per session; 0: off
    qint64 messages = 0; // held now, over every session
    qint64 bytes = 0;    // of message data held now
    quint64 evicted = 0; // dropped to stay within the bounds, since it was turned on

    QJsonObject toJson() const;
    static CaptureStats fromJson(const QJsonObject &object);
};

// A configured peer of a cluster node (Cluster::PeerStatus).
struct ClusterPeer
{
    QString endpoint;
    QByteArray node; // empty until heard from
    bool up = false;

    QJsonObject toJson() const;
    static ClusterPeer fromJson(const QJsonObject &object);
    bool operator==(const ClusterPeer &other) const
    {
        return endpoint == other.endpoint && node == other.node && up == other.up;
    }
};

struct MonitorStats
{
    QDateTime time;
    // The proxy these figures are of: a random id for each start of a
    // proxy, its start time and process id. Another id behind the same
    // endpoint is another process (or another start).
    QByteArray instance;
    QDateTime startedAt;
    qint64 pid = 0;
    CaptureStats capture;
    // A cluster node (config "cluster"): its name and its peers; empty
    // otherwise, and then not in JSON. Per-peer counters are the Cluster
    // rows of counters, by peer name.
    QByteArray node;
    QList<ClusterPeer> peers;
    QList<ServiceStats> services;
    // Sums over services; counters also carry the Server rows.
    qsizetype sessionsOpen = 0;
    Counters counters;
    Rates rates;

    QJsonObject toJson() const;
    static MonitorStats fromJson(const QJsonObject &object);
};

// One thing that passed on an inspected session.
struct TrafficEvent
{
    enum class Direction { In, Out }; // In: client -> backend
    // Text: a message of valid UTF-8; Binary: any other (the raw WebSocket
    // carries those as binary frames); Open, Heartbeat, Close: the SockJS
    // frames "o", "h" and c[code,"reason"] (data holds the frame).
    enum class Frame { Text, Binary, Open, Heartbeat, Close };
    enum class Source { Client, Backend, Monitor, Proxy };
    QByteArray sessionId;
    Direction direction = Direction::In;
    QDateTime time;
    QByteArray data;
    Frame frame = Frame::Text;
    Source source = Source::Client;
    quint64 seq = 0;     // increases with every event of a Monitor (orders history and live events)
    qsizetype size = -1; // bytes of the whole message; data may be shortened in a capture (-1: data.size())

    qsizetype fullSize() const { return size < 0 ? data.size() : size; }
    bool isTruncated() const { return fullSize() > data.size(); }
    // JSON: text as "data"; binary (or not UTF-8) as "data_base64".
    QJsonObject toJson() const;
    static TrafficEvent fromJson(const QJsonObject &object);

    static QString frameName(Frame frame);    // "text", "binary", "open", "heartbeat", "close"
    static QString sourceName(Source source); // "client", "backend", "monitor", "proxy"
};

// A log line of the proxy (the control stream's "log" events and the
// history sent on attach).
struct LogLine
{
    QDateTime time;
    QString level; // "debug", "info", "warning", "critical"
    QString category;
    QString text;

    QJsonObject toJson() const;
    static LogLine fromJson(const QJsonObject &object);
};

} // namespace SockJsProxy

Q_DECLARE_METATYPE(SockJsProxy::SessionInfo)
Q_DECLARE_METATYPE(SockJsProxy::MonitorStats)
Q_DECLARE_METATYPE(SockJsProxy::TrafficEvent)
Q_DECLARE_METATYPE(SockJsProxy::LogLine)
