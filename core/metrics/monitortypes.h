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
    QString state; // "connecting", "open", "closed"
    QDateTime openedAt;
    QDateTime lastActivity;
    quint64 messagesIn = 0;  // client -> backend
    quint64 messagesOut = 0; // backend -> client
    quint64 bytesIn = 0;
    quint64 bytesOut = 0;
    qsizetype queued = 0; // messages waiting for the client

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

struct MonitorStats
{
    QDateTime time;
    QList<ServiceStats> services;
    // Sums over services; counters also carry the Server rows.
    qsizetype sessionsOpen = 0;
    Counters counters;
    Rates rates;

    QJsonObject toJson() const;
    static MonitorStats fromJson(const QJsonObject &object);
};

struct TrafficEvent
{
    enum class Direction { In, Out }; // In: client -> backend
    QByteArray sessionId;
    Direction direction = Direction::In;
    QDateTime time;
    QByteArray data;

    QJsonObject toJson() const;
    static TrafficEvent fromJson(const QJsonObject &object);
};

} // namespace SockJsProxy

Q_DECLARE_METATYPE(SockJsProxy::SessionInfo)
Q_DECLARE_METATYPE(SockJsProxy::MonitorStats)
Q_DECLARE_METATYPE(SockJsProxy::TrafficEvent)
