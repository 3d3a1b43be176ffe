#include "monitortypes.h"

#include <QJsonArray>

namespace SockJsProxy {

namespace {
QString isoTime(const QDateTime &time) { return time.isValid() ? time.toUTC().toString(Qt::ISODateWithMs) : QString(); }
QDateTime fromIsoTime(const QJsonValue &value) { return QDateTime::fromString(value.toString(), Qt::ISODateWithMs); }
quint64 toU64(const QJsonValue &value) { return quint64(value.toDouble()); }
} // namespace

QJsonObject SessionInfo::toJson() const
{
    QJsonObject object{
        {QStringLiteral("id"), QString::fromLatin1(id)},
        {QStringLiteral("service"), service},
        {QStringLiteral("transport"), QString::fromLatin1(transport)},
        {QStringLiteral("remote_address"), remoteAddress},
        {QStringLiteral("remote_port"), remotePort},
        {QStringLiteral("origin"), origin},
        {QStringLiteral("user_agent"), userAgent},
        {QStringLiteral("state"), state},
        {QStringLiteral("opened_at"), isoTime(openedAt)},
        {QStringLiteral("last_activity"), isoTime(lastActivity)},
        {QStringLiteral("messages_in"), double(messagesIn)},
        {QStringLiteral("messages_out"), double(messagesOut)},
        {QStringLiteral("bytes_in"), double(bytesIn)},
        {QStringLiteral("bytes_out"), double(bytesOut)},
        {QStringLiteral("queued"), double(queued)},
    };
    if (!via.isEmpty())
        object.insert(QStringLiteral("via"), via);
    return object;
}

SessionInfo SessionInfo::fromJson(const QJsonObject &o)
{
    SessionInfo info;
    info.id = o.value(QStringLiteral("id")).toString().toLatin1();
    info.service = o.value(QStringLiteral("service")).toString();
    info.transport = o.value(QStringLiteral("transport")).toString().toLatin1();
    info.remoteAddress = o.value(QStringLiteral("remote_address")).toString();
    info.remotePort = quint16(o.value(QStringLiteral("remote_port")).toInt());
    info.via = o.value(QStringLiteral("via")).toString();
    info.origin = o.value(QStringLiteral("origin")).toString();
    info.userAgent = o.value(QStringLiteral("user_agent")).toString();
    info.state = o.value(QStringLiteral("state")).toString();
    info.openedAt = fromIsoTime(o.value(QStringLiteral("opened_at")));
    info.lastActivity = fromIsoTime(o.value(QStringLiteral("last_activity")));
    info.messagesIn = toU64(o.value(QStringLiteral("messages_in")));
    info.messagesOut = toU64(o.value(QStringLiteral("messages_out")));
    info.bytesIn = toU64(o.value(QStringLiteral("bytes_in")));
    info.bytesOut = toU64(o.value(QStringLiteral("bytes_out")));
    info.queued = qsizetype(o.value(QStringLiteral("queued")).toDouble());
    return info;
}

bool SessionInfo::operator==(const SessionInfo &o) const
{
    return id == o.id && service == o.service && transport == o.transport && remoteAddress == o.remoteAddress
           && remotePort == o.remotePort && via == o.via && origin == o.origin && userAgent == o.userAgent
           && state == o.state && openedAt == o.openedAt && lastActivity == o.lastActivity && messagesIn == o.messagesIn
           && messagesOut == o.messagesOut && bytesIn == o.bytesIn && bytesOut == o.bytesOut && queued == o.queued;
}

QJsonObject countersToJson(const Counters &counters, bool withServerScope)
{
    QJsonObject object;
    for (const CounterInfo &row : kCounterTable) {
        if (!withServerScope && row.scope == CounterScope::Server)
            continue;
        if (row.runtimeLabel) {
            QJsonObject values;
            const Counters::LabelValues labelled = counters.labelled(row.id);
            for (auto it = labelled.cbegin(); it != labelled.cend(); ++it)
                values.insert(it.key(), double(it.value()));
            object.insert(QLatin1String(row.key), values);
        } else {
            object.insert(QLatin1String(row.key), double(counters[row.id]));
        }
    }
    return object;
}

Counters countersFromJson(const QJsonObject &object)
{
    Counters counters;
    for (const CounterInfo &row : kCounterTable) {
        const QJsonValue value = object.value(QLatin1String(row.key));
        if (row.runtimeLabel) {
            Counters::LabelValues labelled;
            const QJsonObject values = value.toObject();
            for (auto it = values.constBegin(); it != values.constEnd(); ++it)
                labelled.insert(it.key(), toU64(it.value()));
            counters.setLabelled(row.id, labelled);
        } else {
            counters[row.id] = toU64(value);
        }
    }
    return counters;
}

QJsonObject Rates::toJson() const
{
    return QJsonObject{
        {QStringLiteral("sessions_opened"), sessionsOpened},
        {QStringLiteral("sessions_closed"), sessionsClosed},
        {QStringLiteral("messages_in"), messagesIn},
        {QStringLiteral("messages_out"), messagesOut},
        {QStringLiteral("bytes_in"), bytesIn},
        {QStringLiteral("bytes_out"), bytesOut},
    };
}

Rates Rates::fromJson(const QJsonObject &o)
{
    Rates r;
    r.sessionsOpened = o.value(QStringLiteral("sessions_opened")).toDouble();
    r.sessionsClosed = o.value(QStringLiteral("sessions_closed")).toDouble();
    r.messagesIn = o.value(QStringLiteral("messages_in")).toDouble();
    r.messagesOut = o.value(QStringLiteral("messages_out")).toDouble();
    r.bytesIn = o.value(QStringLiteral("bytes_in")).toDouble();
    r.bytesOut = o.value(QStringLiteral("bytes_out")).toDouble();
    return r;
}

QJsonObject BackendStatus::toJson() const
{
    return QJsonObject{
        {QStringLiteral("in_endpoint"), inEndpoint}, {QStringLiteral("out_endpoint"), outEndpoint},
        {QStringLiteral("in_peers"), inPeers},       {QStringLiteral("out_peers"), outPeers},
        {QStringLiteral("queued"), double(queued)},  {QStringLiteral("dropped"), double(dropped)},
    };
}

BackendStatus BackendStatus::fromJson(const QJsonObject &o)
{
    BackendStatus b;
    b.inEndpoint = o.value(QStringLiteral("in_endpoint")).toString();
    b.outEndpoint = o.value(QStringLiteral("out_endpoint")).toString();
    b.inPeers = o.value(QStringLiteral("in_peers")).toInt(-1);
    b.outPeers = o.value(QStringLiteral("out_peers")).toInt(-1);
    b.queued = qsizetype(o.value(QStringLiteral("queued")).toDouble());
    b.dropped = toU64(o.value(QStringLiteral("dropped")));
    return b;
}

QJsonObject ServiceStats::toJson() const
{
    return QJsonObject{
        {QStringLiteral("prefix"), prefix},
        {QStringLiteral("sessions_open"), double(sessionsOpen)},
        {QStringLiteral("counters"), countersToJson(counters, false)},
        {QStringLiteral("rates"), rates.toJson()},
        {QStringLiteral("backend"), backend.toJson()},
    };
}

ServiceStats ServiceStats::fromJson(const QJsonObject &o)
{
    ServiceStats s;
    s.prefix = o.value(QStringLiteral("prefix")).toString();
    s.sessionsOpen = qsizetype(o.value(QStringLiteral("sessions_open")).toDouble());
    s.counters = countersFromJson(o.value(QStringLiteral("counters")).toObject());
    s.rates = Rates::fromJson(o.value(QStringLiteral("rates")).toObject());
    s.backend = BackendStatus::fromJson(o.value(QStringLiteral("backend")).toObject());
    return s;
}

QJsonObject MonitorStats::toJson() const
{
    QJsonArray array;
    for (const ServiceStats &service : services)
        array.append(service.toJson());
    return QJsonObject{
        {QStringLiteral("time"), isoTime(time)},
        {QStringLiteral("services"), array},
        {QStringLiteral("sessions_open"), double(sessionsOpen)},
        {QStringLiteral("counters"), countersToJson(counters, true)},
        {QStringLiteral("rates"), rates.toJson()},
    };
}

MonitorStats MonitorStats::fromJson(const QJsonObject &o)
{
    MonitorStats m;
    m.time = fromIsoTime(o.value(QStringLiteral("time")));
    const QJsonArray array = o.value(QStringLiteral("services")).toArray();
    for (const QJsonValue &value : array)
        m.services.append(ServiceStats::fromJson(value.toObject()));
    m.sessionsOpen = qsizetype(o.value(QStringLiteral("sessions_open")).toDouble());
    m.counters = countersFromJson(o.value(QStringLiteral("counters")).toObject());
    m.rates = Rates::fromJson(o.value(QStringLiteral("rates")).toObject());
    return m;
}

QJsonObject TrafficEvent::toJson() const
{
    return QJsonObject{
        {QStringLiteral("session"), QString::fromLatin1(sessionId)},
        {QStringLiteral("direction"), direction == Direction::In ? QStringLiteral("in") : QStringLiteral("out")},
        {QStringLiteral("time"), isoTime(time)},
        {QStringLiteral("data"), QString::fromUtf8(data)},
    };
}

TrafficEvent TrafficEvent::fromJson(const QJsonObject &o)
{
    TrafficEvent t;
    t.sessionId = o.value(QStringLiteral("session")).toString().toLatin1();
    t.direction =
        o.value(QStringLiteral("direction")).toString() == QLatin1String("out") ? Direction::Out : Direction::In;
    t.time = fromIsoTime(o.value(QStringLiteral("time")));
    t.data = o.value(QStringLiteral("data")).toString().toUtf8();
    return t;
}

} // namespace SockJsProxy
