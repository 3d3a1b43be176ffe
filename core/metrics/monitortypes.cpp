#include "monitortypes.h"

#include "sockjs/jsoncodec.h"

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
    if (!closedBy.isEmpty()) {
        object.insert(QStringLiteral("close_code"), closeCode);
        object.insert(QStringLiteral("close_reason"), closeReason);
        object.insert(QStringLiteral("closed_by"), closedBy);
        object.insert(QStringLiteral("closed_at"), isoTime(closedAt));
    }
    if (!node.isEmpty())
        object.insert(QStringLiteral("node"), node);
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
    info.closeCode = o.value(QStringLiteral("close_code")).toInt();
    info.closeReason = o.value(QStringLiteral("close_reason")).toString();
    info.closedBy = o.value(QStringLiteral("closed_by")).toString();
    info.closedAt = fromIsoTime(o.value(QStringLiteral("closed_at")));
    info.node = o.value(QStringLiteral("node")).toString();
    return info;
}

bool SessionInfo::operator==(const SessionInfo &o) const
{
    return id == o.id && service == o.service && transport == o.transport && remoteAddress == o.remoteAddress
           && remotePort == o.remotePort && via == o.via && origin == o.origin && userAgent == o.userAgent
           && state == o.state && openedAt == o.openedAt && lastActivity == o.lastActivity && messagesIn == o.messagesIn
           && messagesOut == o.messagesOut && bytesIn == o.bytesIn && bytesOut == o.bytesOut && queued == o.queued
           && closeCode == o.closeCode && closeReason == o.closeReason && closedBy == o.closedBy
           && closedAt == o.closedAt && node == o.node;
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

QJsonObject CaptureStats::toJson() const
{
    return QJsonObject{
        {QStringLiteral("per_session"), perSession},
        {QStringLiteral("messages"), double(messages)},
        {QStringLiteral("bytes"), double(bytes)},
        {QStringLiteral("evicted"), double(evicted)},
    };
}

CaptureStats CaptureStats::fromJson(const QJsonObject &o)
{
    CaptureStats c;
    c.perSession = o.value(QStringLiteral("per_session")).toInt();
    c.messages = qint64(o.value(QStringLiteral("messages")).toDouble());
    c.bytes = qint64(o.value(QStringLiteral("bytes")).toDouble());
    c.evicted = toU64(o.value(QStringLiteral("evicted")));
    return c;
}

QJsonObject ClusterPeer::toJson() const
{
    return QJsonObject{{QStringLiteral("endpoint"), endpoint},
                       {QStringLiteral("node"), QString::fromLatin1(node)},
                       {QStringLiteral("up"), up}};
}

ClusterPeer ClusterPeer::fromJson(const QJsonObject &o)
{
    ClusterPeer peer;
    peer.endpoint = o.value(QStringLiteral("endpoint")).toString();
    peer.node = o.value(QStringLiteral("node")).toString().toLatin1();
    peer.up = o.value(QStringLiteral("up")).toBool();
    return peer;
}

QJsonObject MonitorStats::toJson() const
{
    QJsonArray array;
    for (const ServiceStats &service : services)
        array.append(service.toJson());
    QJsonObject object{
        {QStringLiteral("time"), isoTime(time)},
        {QStringLiteral("instance"), QJsonObject{{QStringLiteral("id"), QString::fromLatin1(instance)},
                                                 {QStringLiteral("started_at"), isoTime(startedAt)},
                                                 {QStringLiteral("pid"), double(pid)}}},
        {QStringLiteral("capture"), capture.toJson()},
        {QStringLiteral("services"), array},
        {QStringLiteral("sessions_open"), double(sessionsOpen)},
        {QStringLiteral("counters"), countersToJson(counters, true)},
        {QStringLiteral("rates"), rates.toJson()},
    };
    // Only a cluster node says it is one.
    if (!node.isEmpty()) {
        QJsonArray peerArray;
        for (const ClusterPeer &peer : peers)
            peerArray.append(peer.toJson());
        object.insert(QStringLiteral("cluster"), QJsonObject{{QStringLiteral("node"), QString::fromLatin1(node)},
                                                             {QStringLiteral("peers"), peerArray}});
    }
    return object;
}

MonitorStats MonitorStats::fromJson(const QJsonObject &o)
{
    MonitorStats m;
    m.time = fromIsoTime(o.value(QStringLiteral("time")));
    const QJsonObject instance = o.value(QStringLiteral("instance")).toObject();
    m.instance = instance.value(QStringLiteral("id")).toString().toLatin1();
    m.startedAt = fromIsoTime(instance.value(QStringLiteral("started_at")));
    m.pid = qint64(instance.value(QStringLiteral("pid")).toDouble());
    m.capture = CaptureStats::fromJson(o.value(QStringLiteral("capture")).toObject());
    const QJsonArray array = o.value(QStringLiteral("services")).toArray();
    for (const QJsonValue &value : array)
        m.services.append(ServiceStats::fromJson(value.toObject()));
    m.sessionsOpen = qsizetype(o.value(QStringLiteral("sessions_open")).toDouble());
    m.counters = countersFromJson(o.value(QStringLiteral("counters")).toObject());
    m.rates = Rates::fromJson(o.value(QStringLiteral("rates")).toObject());
    const QJsonObject cluster = o.value(QStringLiteral("cluster")).toObject();
    m.node = cluster.value(QStringLiteral("node")).toString().toLatin1();
    for (const QJsonValue &value : cluster.value(QStringLiteral("peers")).toArray())
        m.peers.append(ClusterPeer::fromJson(value.toObject()));
    return m;
}

QString TrafficEvent::frameName(Frame frame)
{
    switch (frame) {
    case Frame::Text:
        return QStringLiteral("text");
    case Frame::Binary:
        return QStringLiteral("binary");
    case Frame::Open:
        return QStringLiteral("open");
    case Frame::Heartbeat:
        return QStringLiteral("heartbeat");
    case Frame::Close:
        return QStringLiteral("close");
    }
    return QString();
}

QString TrafficEvent::sourceName(Source source)
{
    switch (source) {
    case Source::Client:
        return QStringLiteral("client");
    case Source::Backend:
        return QStringLiteral("backend");
    case Source::Monitor:
        return QStringLiteral("monitor");
    case Source::Proxy:
        return QStringLiteral("proxy");
    }
    return QString();
}

QJsonObject TrafficEvent::toJson() const
{
    QJsonObject object{
        {QStringLiteral("session"), QString::fromLatin1(sessionId)},
        {QStringLiteral("direction"), direction == Direction::In ? QStringLiteral("in") : QStringLiteral("out")},
        {QStringLiteral("time"), isoTime(time)},
        {QStringLiteral("frame"), frameName(frame)},
        {QStringLiteral("source"), sourceName(source)},
        {QStringLiteral("seq"), double(seq)},
        {QStringLiteral("size"), double(fullSize())},
    };
    // Bytes that are not UTF-8 would not survive a JSON string.
    if (JsonCodec::isValidUtf8(data))
        object.insert(QStringLiteral("data"), QString::fromUtf8(data));
    else
        object.insert(QStringLiteral("data_base64"), QString::fromLatin1(data.toBase64()));
    return object;
}

TrafficEvent TrafficEvent::fromJson(const QJsonObject &o)
{
    TrafficEvent t;
    t.sessionId = o.value(QStringLiteral("session")).toString().toLatin1();
    t.direction =
        o.value(QStringLiteral("direction")).toString() == QLatin1String("out") ? Direction::Out : Direction::In;
    t.time = fromIsoTime(o.value(QStringLiteral("time")));
    if (o.contains(QStringLiteral("data_base64")))
        t.data = QByteArray::fromBase64(o.value(QStringLiteral("data_base64")).toString().toLatin1());
    else
        t.data = o.value(QStringLiteral("data")).toString().toUtf8();
    const QString frame = o.value(QStringLiteral("frame")).toString();
    t.frame = Frame::Text;
    for (const Frame f : {Frame::Binary, Frame::Open, Frame::Heartbeat, Frame::Close}) {
        if (frame == frameName(f))
            t.frame = f;
    }
    // A peer that does not say: what a message of that direction comes from.
    const QString source = o.value(QStringLiteral("source")).toString();
    t.source = t.direction == Direction::In ? Source::Client : Source::Backend;
    for (const Source s : {Source::Client, Source::Backend, Source::Monitor, Source::Proxy}) {
        if (source == sourceName(s))
            t.source = s;
    }
    t.seq = toU64(o.value(QStringLiteral("seq")));
    const QJsonValue size = o.value(QStringLiteral("size"));
    t.size = size.isDouble() && qsizetype(size.toDouble()) != t.data.size() ? qsizetype(size.toDouble()) : -1;
    return t;
}

QJsonObject LogLine::toJson() const
{
    return QJsonObject{
        {QStringLiteral("time"), isoTime(time)},
        {QStringLiteral("level"), level},
        {QStringLiteral("category"), category},
        {QStringLiteral("text"), text},
    };
}

LogLine LogLine::fromJson(const QJsonObject &o)
{
    LogLine line;
    line.time = fromIsoTime(o.value(QStringLiteral("time")));
    line.level = o.value(QStringLiteral("level")).toString();
    line.category = o.value(QStringLiteral("category")).toString();
    line.text = o.value(QStringLiteral("text")).toString();
    return line;
}

} // namespace SockJsProxy
