#pragma once

#include <QHash>
#include <QString>
#include <QtGlobal>

#include <array>
#include <cstddef>
#include <cstring>

namespace SockJsProxy {

// Every counter of the proxy, in one table. The exporters walk the table:
// /metrics (Prometheus), /api/snapshot and the stream's stats events (JSON),
// the in-process Monitor, the RemoteMonitor and the monitor window's
// counters panel. None of them names a counter, so none can forget one.
//
// Adding a counter: one enumerator in Counter and one row in kCounterTable
// (same order), then increment it where it happens:
//     ++m_counters[Counter::MyThing];
// The static_asserts below catch a row out of order.
//
// Labels. A row may carry one fixed Prometheus label pair (label, e.g.
// reason="max_sessions"): rows of one metric name sit next to each other and
// share one HELP/TYPE; each row is its own JSON key and panel entry. A label
// whose values are known only at run time (one per cluster peer, say) does
// not fit a fixed-size array: such a row is built with labelledAtRunTime(
// "peer"), its label is the label's name, and Counters keeps its values
// beside the array in a map from label value to count (Counters::add(),
// Counters::labelled()); the array holds their total. The Prometheus writer
// prints one line per value (peer="n2"), none while there is none; the JSON
// writer an object under the row's key ({"n2": 5}); the monitor's panel the
// total. Such a row has a metric name of its own and is no sum.
//
// Scope says who keeps a counter and how it is exported:
//  - Service: Service::counters(); one value per service, exported with a
//    service="/prefix" label;
//  - Backend: ZmqBridge::counters(), the ZeroMQ link of one service; exported
//    like Service ones (one link per service);
//  - Server: Server::counters(); one value for the process, no label. Its
//    listening ports count there too: the HTTP port's Listener, and the
//    control endpoint's, through Server::processCounters(). The
//    Cluster rows (a cluster node's forwarding, per peer) are among them:
//    the Server's Cluster moves them in the Server's Counters.
// A sum row (sum = true) is kept by nobody: its value is the sum of the rows
// whose partOf names it, filled in by Counters::computeSums().
enum class Counter {
    // Service
    SessionsOpened,
    SessionsClosed,
    MessagesIn,
    MessagesOut,
    BytesIn,
    BytesOut,
    Drops,
    DroppedForClosedSession,
    ProtocolErrors,
    BackendEvents,
    BackendErrors,
    UnknownSessionFromBackend,
    RefusedOrigins,
    RefusedSessionsMaxSessions,
    RefusedSessionsPerAddress,
    AddressMismatches,
    ServiceNotFound,
    BackendInvalidClose,
    BackendUnexpectedAccept,
    AcceptTimeouts,
    // Backend
    BackendReceivedMessage,
    BackendReceivedDisconnect,
    BackendReceivedAccept,
    BackendReceivedBroadcast,
    BackendMalformed,
    BackendUnknownType,
    BackendQueueDrops,
    BackendSentConnect,
    BackendSentMessage,
    BackendSentDisconnect,
    BackendRefusedKey,
    BackendRefusedHandshake,
    // Server
    HttpRequests,
    HttpRejected,
    HttpNotFound,
    ConnectionsAccepted,
    WebSocketUpgrades,
    ForwardedMalformed,
    ProxyHeadersAccepted,
    ProxyRefusedUntrustedPeer,
    ProxyRefusedMissing,
    ProxyRefusedMalformed,
    ProxyRefusedIncomplete,
    ConnectionsRefusedMaxConnections,
    ConnectionsRefusedPerAddress,
    AcceptErrorsHttp,
    AcceptErrorsControl,
    AcceptPausesHttp,
    AcceptPausesControl,
    AcceptRefusedHttp,
    AcceptRefusedControl,
    SessionsClosedQueueBudget,
    TlsHandshakeFailures,
    TlsHandshakeTimeouts,
    // Server, per cluster peer (run-time label "peer")
    ClusterForwarded,
    ClusterReceived,
    ClusterDropped,
    ClusterDeadDisconnects,
};

enum class CounterScope { Service, Backend, Server };

struct CounterInfo
{
    Counter id;
    CounterScope scope;
    const char *name;  // Prometheus metric name
    const char *label; // "" or one Prometheus label pair: reason="max_sessions"; or,
                       // with runtimeLabel, the name of a label whose values come at run time: peer
    const char *key;   // JSON key under "counters" in snapshots and stats events
    const char *title; // the monitor window's label (translated in context "Counters")
    const char *help;  // Prometheus HELP, the README's words
    bool sum = false;  // the sum of the rows whose partOf is this one
    Counter partOf = id;
    bool bytes = false;        // counts bytes (shown as KiB, MiB, ...)
    bool runtimeLabel = false; // label names a label; values per label value (Counters::add())

    // Builders for the table's rows: a copy with one field changed.
    template<typename T>
    constexpr CounterInfo with(T CounterInfo::*field, T value) const
    {
        CounterInfo copy = *this;
        copy.*field = value;
        return copy;
    }
    constexpr CounterInfo withLabel(const char *pair) const { return with(&CounterInfo::label, pair); }
    constexpr CounterInfo sumOfParts() const { return with(&CounterInfo::sum, true); }
    constexpr CounterInfo addsTo(Counter total) const { return with(&CounterInfo::partOf, total); }
    constexpr CounterInfo inBytes() const { return with(&CounterInfo::bytes, true); }
    constexpr CounterInfo labelledAtRunTime(const char *labelName) const
    {
        return withLabel(labelName).with(&CounterInfo::runtimeLabel, true);
    }
    constexpr bool hasPart() const { return partOf != id; }
};

#define SOCKJSPROXY_COUNTER_TITLE(text) QT_TRANSLATE_NOOP("Counters", text)

// clang-format off
inline constexpr CounterInfo kCounterTable[] = {
    {Counter::SessionsOpened, CounterScope::Service, "sockjsproxy_sessions_opened_total", "", "sessions_opened",
     SOCKJSPROXY_COUNTER_TITLE("Opened"), "Sessions opened."},
    {Counter::SessionsClosed, CounterScope::Service, "sockjsproxy_sessions_closed_total", "", "sessions_closed",
     SOCKJSPROXY_COUNTER_TITLE("Closed"), "Sessions closed."},
    {Counter::MessagesIn, CounterScope::Service, "sockjsproxy_messages_in_total", "", "messages_in",
     SOCKJSPROXY_COUNTER_TITLE("Messages in"), "Messages from clients to backends."},
    {Counter::MessagesOut, CounterScope::Service, "sockjsproxy_messages_out_total", "", "messages_out",
     SOCKJSPROXY_COUNTER_TITLE("Messages out"), "Messages from backends to clients."},
    CounterInfo{Counter::BytesIn, CounterScope::Service, "sockjsproxy_bytes_in_total", "", "bytes_in",
     SOCKJSPROXY_COUNTER_TITLE("Bytes in"), "Message bytes from clients."}.inBytes(),
    CounterInfo{Counter::BytesOut, CounterScope::Service, "sockjsproxy_bytes_out_total", "", "bytes_out",
     SOCKJSPROXY_COUNTER_TITLE("Bytes out"), "Message bytes to clients."}.inBytes(),
    CounterInfo{Counter::Drops, CounterScope::Service, "sockjsproxy_drops_total", "", "drops",
     SOCKJSPROXY_COUNTER_TITLE("Drops"),
     "Messages dropped (closed sessions, full queues, no backend)."}.sumOfParts(),
    CounterInfo{Counter::DroppedForClosedSession, CounterScope::Service,
     "sockjsproxy_dropped_for_closed_session_total", "", "dropped_for_closed_session",
     SOCKJSPROXY_COUNTER_TITLE("Dropped, session closed"),
     "Backend messages dropped: the session was closing or its queue full."}.addsTo(Counter::Drops),
    {Counter::ProtocolErrors, CounterScope::Service, "sockjsproxy_protocol_errors_total", "", "protocol_errors",
     SOCKJSPROXY_COUNTER_TITLE("Protocol errors"), "Client protocol errors."},
    CounterInfo{Counter::BackendEvents, CounterScope::Service, "sockjsproxy_backend_events_total", "",
     "backend_events", SOCKJSPROXY_COUNTER_TITLE("Backend events"),
     "Messages received from backends."}.sumOfParts(),
    CounterInfo{Counter::BackendErrors, CounterScope::Service, "sockjsproxy_backend_errors_total", "",
     "backend_errors", SOCKJSPROXY_COUNTER_TITLE("Backend errors"),
     "Backend messages in error: malformed, for unknown sessions, invalid close data."}.sumOfParts(),
    CounterInfo{Counter::UnknownSessionFromBackend, CounterScope::Service,
     "sockjsproxy_backend_unknown_session_total", "", "backend_unknown_session",
     SOCKJSPROXY_COUNTER_TITLE("Unknown sessions"),
     "Backend messages and disconnects dropped: no such session (any more)."}.addsTo(Counter::BackendErrors),
    {Counter::RefusedOrigins, CounterScope::Service, "sockjsproxy_origins_refused_total", "", "origins_refused",
     SOCKJSPROXY_COUNTER_TITLE("Origins refused"), "Requests and upgrades refused: Origin not allowed (403)."},
    CounterInfo{Counter::RefusedSessionsMaxSessions, CounterScope::Service, "sockjsproxy_sessions_refused_total", "",
     "sessions_refused_max_sessions", SOCKJSPROXY_COUNTER_TITLE("Refused, max_sessions"),
     "New sessions refused (503, WebSocket 1013), by the limit reached."}.withLabel("reason=\"max_sessions\""),
    CounterInfo{Counter::RefusedSessionsPerAddress, CounterScope::Service, "sockjsproxy_sessions_refused_total", "",
     "sessions_refused_max_sessions_per_address", SOCKJSPROXY_COUNTER_TITLE("Refused, per address"),
     "New sessions refused (503, WebSocket 1013), by the limit reached."}
        .withLabel("reason=\"max_sessions_per_address\""),
    {Counter::AddressMismatches, CounterScope::Service, "sockjsproxy_address_mismatches_total", "",
     "address_mismatches", SOCKJSPROXY_COUNTER_TITLE("Address mismatches"),
     "Session requests from another client address refused (check_address, 403)."},
    {Counter::ServiceNotFound, CounterScope::Service, "sockjsproxy_not_found_total", "", "not_found",
     SOCKJSPROXY_COUNTER_TITLE("Not found"),
     "Requests under the service's prefix answered 404 (no such endpoint, transport or session)."},
    CounterInfo{Counter::BackendInvalidClose, CounterScope::Service, "sockjsproxy_backend_invalid_close_total", "",
     "backend_invalid_close", SOCKJSPROXY_COUNTER_TITLE("Invalid close data"),
     "Backend disconnects whose data was no valid close code and reason (the default close was used)."}
        .addsTo(Counter::BackendErrors),
    CounterInfo{Counter::BackendUnexpectedAccept, CounterScope::Service, "sockjsproxy_backend_unexpected_accept_total",
     "", "backend_unexpected_accept", SOCKJSPROXY_COUNTER_TITLE("Unexpected accepts"),
     "Backend accepts ignored: the session was not waiting for one (open already, closed, no require_accept)."}
        .addsTo(Counter::BackendErrors),
    {Counter::AcceptTimeouts, CounterScope::Service, "sockjsproxy_accept_timeouts_total", "", "accept_timeouts",
     SOCKJSPROXY_COUNTER_TITLE("Accept timeouts"),
     "Sessions closed because the backend did not accept them within accept_timeout_ms (require_accept)."},

    CounterInfo{Counter::BackendReceivedMessage, CounterScope::Backend, "sockjsproxy_backend_received_total", "",
     "backend_received_message", SOCKJSPROXY_COUNTER_TITLE("Backend messages"),
     "Well-formed messages received from backends, by type."}
        .withLabel("type=\"message\"").addsTo(Counter::BackendEvents),
    CounterInfo{Counter::BackendReceivedDisconnect, CounterScope::Backend, "sockjsproxy_backend_received_total", "",
     "backend_received_disconnect", SOCKJSPROXY_COUNTER_TITLE("Backend disconnects"),
     "Well-formed messages received from backends, by type."}
        .withLabel("type=\"disconnect\"").addsTo(Counter::BackendEvents),
    CounterInfo{Counter::BackendReceivedAccept, CounterScope::Backend, "sockjsproxy_backend_received_total", "",
     "backend_received_accept", SOCKJSPROXY_COUNTER_TITLE("Backend accepts"),
     "Well-formed messages received from backends, by type."}
        .withLabel("type=\"accept\"").addsTo(Counter::BackendEvents),
    CounterInfo{Counter::BackendReceivedBroadcast, CounterScope::Backend, "sockjsproxy_backend_received_total", "",
     "backend_received_broadcast", SOCKJSPROXY_COUNTER_TITLE("Backend broadcasts"),
     "Well-formed messages received from backends, by type."}
        .withLabel("type=\"broadcast\"").addsTo(Counter::BackendEvents),
    CounterInfo{Counter::BackendMalformed, CounterScope::Backend, "sockjsproxy_backend_malformed_total", "",
     "backend_malformed", SOCKJSPROXY_COUNTER_TITLE("Backend malformed"),
     "Backend messages dropped: not 3 frames."}.addsTo(Counter::BackendErrors),
    CounterInfo{Counter::BackendUnknownType, CounterScope::Backend, "sockjsproxy_backend_unknown_type_total", "",
     "backend_unknown_type", SOCKJSPROXY_COUNTER_TITLE("Backend unknown type"),
     "Backend messages dropped: type neither message, disconnect, accept nor broadcast."}
        .addsTo(Counter::BackendErrors),
    CounterInfo{Counter::BackendQueueDrops, CounterScope::Backend, "sockjsproxy_backend_queue_dropped_total", "",
     "backend_queue_dropped", SOCKJSPROXY_COUNTER_TITLE("Backend queue drops"),
     "Events to backends dropped: ZeroMQ queue full (queue_limit, no backend)."}.addsTo(Counter::Drops),
    CounterInfo{Counter::BackendSentConnect, CounterScope::Backend, "sockjsproxy_backend_sent_total", "",
     "backend_sent_connect", SOCKJSPROXY_COUNTER_TITLE("Sent connect"),
     "Events queued for backends, by type."}.withLabel("type=\"connect\""),
    CounterInfo{Counter::BackendSentMessage, CounterScope::Backend, "sockjsproxy_backend_sent_total", "",
     "backend_sent_message", SOCKJSPROXY_COUNTER_TITLE("Sent message"),
     "Events queued for backends, by type."}.withLabel("type=\"message\""),
    CounterInfo{Counter::BackendSentDisconnect, CounterScope::Backend, "sockjsproxy_backend_sent_total", "",
     "backend_sent_disconnect", SOCKJSPROXY_COUNTER_TITLE("Sent disconnect"),
     "Events queued for backends, by type."}.withLabel("type=\"disconnect\""),
    CounterInfo{Counter::BackendRefusedKey, CounterScope::Backend, "sockjsproxy_backend_refused_total", "",
     "backend_refused_key_not_allowed", SOCKJSPROXY_COUNTER_TITLE("Refused, CURVE key"),
     "Backend connections refused by zmq.curve, by reason."}.withLabel("reason=\"key_not_allowed\""),
    CounterInfo{Counter::BackendRefusedHandshake, CounterScope::Backend, "sockjsproxy_backend_refused_total", "",
     "backend_refused_handshake_failed", SOCKJSPROXY_COUNTER_TITLE("Refused, handshake"),
     "Backend connections refused by zmq.curve, by reason."}.withLabel("reason=\"handshake_failed\""),

    {Counter::HttpRequests, CounterScope::Server, "sockjsproxy_http_requests_total", "", "http_requests",
     SOCKJSPROXY_COUNTER_TITLE("HTTP requests"), "HTTP requests received."},
    {Counter::HttpRejected, CounterScope::Server, "sockjsproxy_http_rejected_total", "", "http_rejected",
     SOCKJSPROXY_COUNTER_TITLE("HTTP rejected"), "HTTP requests refused (malformed, over a limit, too slow)."},
    {Counter::HttpNotFound, CounterScope::Server, "sockjsproxy_http_not_found_total", "", "http_not_found",
     SOCKJSPROXY_COUNTER_TITLE("HTTP not found"), "Requests for no service or static file answered 404."},
    {Counter::ConnectionsAccepted, CounterScope::Server, "sockjsproxy_connections_accepted_total", "",
     "connections_accepted", SOCKJSPROXY_COUNTER_TITLE("Connections"), "TCP connections accepted."},
    {Counter::WebSocketUpgrades, CounterScope::Server, "sockjsproxy_websocket_upgrades_total", "",
     "websocket_upgrades", SOCKJSPROXY_COUNTER_TITLE("WebSocket upgrades"),
     "Upgrade requests handed to the WebSocket handshake."},
    {Counter::ForwardedMalformed, CounterScope::Server, "sockjsproxy_forwarded_malformed_total", "",
     "forwarded_malformed", SOCKJSPROXY_COUNTER_TITLE("Forwarded malformed"),
     "Requests from trusted proxies with malformed forwarding headers, served as from the proxy."},
    {Counter::ProxyHeadersAccepted, CounterScope::Server, "sockjsproxy_proxy_headers_accepted_total", "",
     "proxy_headers_accepted", SOCKJSPROXY_COUNTER_TITLE("PROXY headers"),
     "Connections that began with a valid PROXY protocol header."},
    CounterInfo{Counter::ProxyRefusedUntrustedPeer, CounterScope::Server, "sockjsproxy_proxy_headers_refused_total",
     "", "proxy_headers_refused_untrusted_peer", SOCKJSPROXY_COUNTER_TITLE("PROXY refused, untrusted"),
     "Connections closed without a valid PROXY protocol header, by reason."}.withLabel("reason=\"untrusted_peer\""),
    CounterInfo{Counter::ProxyRefusedMissing, CounterScope::Server, "sockjsproxy_proxy_headers_refused_total", "",
     "proxy_headers_refused_missing", SOCKJSPROXY_COUNTER_TITLE("PROXY refused, missing"),
     "Connections closed without a valid PROXY protocol header, by reason."}.withLabel("reason=\"missing\""),
    CounterInfo{Counter::ProxyRefusedMalformed, CounterScope::Server, "sockjsproxy_proxy_headers_refused_total", "",
     "proxy_headers_refused_malformed", SOCKJSPROXY_COUNTER_TITLE("PROXY refused, malformed"),
     "Connections closed without a valid PROXY protocol header, by reason."}.withLabel("reason=\"malformed\""),
    CounterInfo{Counter::ProxyRefusedIncomplete, CounterScope::Server, "sockjsproxy_proxy_headers_refused_total", "",
     "proxy_headers_refused_incomplete", SOCKJSPROXY_COUNTER_TITLE("PROXY refused, incomplete"),
     "Connections closed without a valid PROXY protocol header, by reason."}.withLabel("reason=\"incomplete\""),
    CounterInfo{Counter::ConnectionsRefusedMaxConnections, CounterScope::Server,
     "sockjsproxy_connections_refused_total", "", "connections_refused_max_connections",
     SOCKJSPROXY_COUNTER_TITLE("Connections refused, max_connections"),
     "Client connections refused (503, or closed), by the limit reached."}.withLabel("reason=\"max_connections\""),
    CounterInfo{Counter::ConnectionsRefusedPerAddress, CounterScope::Server,
     "sockjsproxy_connections_refused_total", "", "connections_refused_max_connections_per_address",
     SOCKJSPROXY_COUNTER_TITLE("Connections refused, per address"),
     "Client connections refused (503, or closed), by the limit reached."}
        .withLabel("reason=\"max_connections_per_address\""),
    CounterInfo{Counter::AcceptErrorsHttp, CounterScope::Server, "sockjsproxy_accept_errors_total", "",
     "accept_errors_http", SOCKJSPROXY_COUNTER_TITLE("Accept errors, HTTP"),
     "Failed accept() calls (out of file descriptors or memory, aborted connections), by listening port."}
        .withLabel("listener=\"http\""),
    CounterInfo{Counter::AcceptErrorsControl, CounterScope::Server, "sockjsproxy_accept_errors_total", "",
     "accept_errors_control", SOCKJSPROXY_COUNTER_TITLE("Accept errors, control"),
     "Failed accept() calls (out of file descriptors or memory, aborted connections), by listening port."}
        .withLabel("listener=\"control\""),
    CounterInfo{Counter::AcceptPausesHttp, CounterScope::Server, "sockjsproxy_accept_pauses_total", "",
     "accept_pauses_http", SOCKJSPROXY_COUNTER_TITLE("Accept pauses, HTTP"),
     "Pauses in accepting connections, out of file descriptors or memory (back-off periods), by listening port."}
        .withLabel("listener=\"http\""),
    CounterInfo{Counter::AcceptPausesControl, CounterScope::Server, "sockjsproxy_accept_pauses_total", "",
     "accept_pauses_control", SOCKJSPROXY_COUNTER_TITLE("Accept pauses, control"),
     "Pauses in accepting connections, out of file descriptors or memory (back-off periods), by listening port."}
        .withLabel("listener=\"control\""),
    CounterInfo{Counter::AcceptRefusedHttp, CounterScope::Server, "sockjsproxy_accept_refused_total", "",
     "accept_refused_http", SOCKJSPROXY_COUNTER_TITLE("Refused, out of descriptors, HTTP"),
     "Connection attempts refused at once (503, or closed) while out of file descriptors, by listening port."}
        .withLabel("listener=\"http\""),
    CounterInfo{Counter::AcceptRefusedControl, CounterScope::Server, "sockjsproxy_accept_refused_total", "",
     "accept_refused_control", SOCKJSPROXY_COUNTER_TITLE("Refused, out of descriptors, control"),
     "Connection attempts refused at once (503, or closed) while out of file descriptors, by listening port."}
        .withLabel("listener=\"control\""),
    {Counter::SessionsClosedQueueBudget, CounterScope::Server, "sockjsproxy_queue_budget_closes_total", "",
     "sessions_closed_queue_budget", SOCKJSPROXY_COUNTER_TITLE("Closed, queue budget"),
     "Sessions closed because all outgoing queues together passed limits.max_queued_bytes_total."},
    CounterInfo{Counter::TlsHandshakeFailures, CounterScope::Server, "sockjsproxy_tls_handshakes_failed_total", "",
     "tls_handshakes_failed_error", SOCKJSPROXY_COUNTER_TITLE("TLS handshakes failed"),
     "TLS connections closed before their handshake completed (http.tls), by reason."}.withLabel("reason=\"error\""),
    CounterInfo{Counter::TlsHandshakeTimeouts, CounterScope::Server, "sockjsproxy_tls_handshakes_failed_total", "",
     "tls_handshakes_failed_timeout", SOCKJSPROXY_COUNTER_TITLE("TLS handshakes timed out"),
     "TLS connections closed before their handshake completed (http.tls), by reason."}.withLabel("reason=\"timeout\""),

    CounterInfo{Counter::ClusterForwarded, CounterScope::Server, "sockjsproxy_cluster_forwarded_total", "",
     "cluster_forwarded", SOCKJSPROXY_COUNTER_TITLE("Forwarded to peers"),
     "Backend messages sent on to the cluster node that holds their session, by peer."}.labelledAtRunTime("peer"),
    CounterInfo{Counter::ClusterReceived, CounterScope::Server, "sockjsproxy_cluster_received_total", "",
     "cluster_received", SOCKJSPROXY_COUNTER_TITLE("Received from peers"),
     "Backend messages forwarded here by another cluster node, by peer."}.labelledAtRunTime("peer"),
    CounterInfo{Counter::ClusterDropped, CounterScope::Server, "sockjsproxy_cluster_dropped_total", "",
     "cluster_dropped", SOCKJSPROXY_COUNTER_TITLE("Dropped, peer down"),
     "Backend messages for a session of a cluster node that is down, unreachable or unknown, dropped, by peer."}
        .labelledAtRunTime("peer"),
    CounterInfo{Counter::ClusterDeadDisconnects, CounterScope::Server, "sockjsproxy_cluster_dead_disconnects_total",
     "", "cluster_dead_disconnects", SOCKJSPROXY_COUNTER_TITLE("Disconnects for dead peers"),
     "Disconnects sent to backends for the sessions of a cluster node that died, by that node."}
        .labelledAtRunTime("peer"),
};
// clang-format on

inline constexpr std::size_t kCounterCount = std::size(kCounterTable);

constexpr const CounterInfo &counterInfo(Counter id) { return kCounterTable[std::size_t(id)]; }

namespace CounterTableChecks {
constexpr bool sameText(const char *a, const char *b)
{
    while (*a && *a == *b) {
        ++a;
        ++b;
    }
    return *a == *b;
}
constexpr bool rowsInOrder()
{
    for (std::size_t i = 0; i < kCounterCount; ++i) {
        if (std::size_t(kCounterTable[i].id) != i)
            return false;
    }
    return true;
}
// Rows of one Prometheus name are adjacent, of one scope, and all labelled.
constexpr bool namesGrouped()
{
    for (std::size_t i = 0; i < kCounterCount; ++i) {
        for (std::size_t j = i + 1; j < kCounterCount; ++j) {
            const CounterInfo &a = kCounterTable[i];
            const CounterInfo &b = kCounterTable[j];
            if (!sameText(a.name, b.name))
                continue;
            if (j != i + 1 && !sameText(kCounterTable[j - 1].name, a.name))
                return false;
            if ((a.scope == CounterScope::Server) != (b.scope == CounterScope::Server) || !*a.label || !*b.label)
                return false;
        }
    }
    return true;
}
constexpr bool keysUnique()
{
    for (std::size_t i = 0; i < kCounterCount; ++i) {
        for (std::size_t j = i + 1; j < kCounterCount; ++j) {
            if (sameText(kCounterTable[i].key, kCounterTable[j].key))
                return false;
        }
    }
    return true;
}
// A row labelled at run time has a name of its own and is no sum.
constexpr bool runtimeLabelsAlone()
{
    for (std::size_t i = 0; i < kCounterCount; ++i) {
        const CounterInfo &row = kCounterTable[i];
        if (!row.runtimeLabel)
            continue;
        if (row.sum || !*row.label)
            return false;
        for (std::size_t j = 0; j < kCounterCount; ++j) {
            if (j != i && sameText(row.name, kCounterTable[j].name))
                return false;
        }
    }
    return true;
}
// A part adds to a sum row of a scope exported with the same labels.
constexpr bool partsAddToSums()
{
    for (const CounterInfo &row : kCounterTable) {
        if (!row.hasPart())
            continue;
        const CounterInfo &total = counterInfo(row.partOf);
        if (!total.sum || row.sum || (row.scope == CounterScope::Server) != (total.scope == CounterScope::Server))
            return false;
    }
    return true;
}
} // namespace CounterTableChecks

static_assert(CounterTableChecks::rowsInOrder(), "kCounterTable: one row per Counter, in enum order");
static_assert(CounterTableChecks::namesGrouped(), "kCounterTable: rows sharing a name are adjacent and labelled");
static_assert(CounterTableChecks::keysUnique(), "kCounterTable: JSON keys are unique");
static_assert(CounterTableChecks::partsAddToSums(), "kCounterTable: partOf names a sum row");
static_assert(CounterTableChecks::runtimeLabelsAlone(),
              "kCounterTable: a row labelled at run time has its own name and is no sum");

// One value per row of kCounterTable: what an owner keeps (only its own
// scope's rows move) and what the exporters carry around. Rows labelled at
// run time also keep one value per label value; their array value is the
// total, moved by add() only.
class Counters
{
public:
    using LabelValues = QHash<QString, quint64>; // label value -> count

    quint64 &operator[](Counter id) { return m_values[std::size_t(id)]; }
    quint64 operator[](Counter id) const { return m_values[std::size_t(id)]; }

    // A row labelled at run time: count amount under labelValue.
    void add(Counter id, const QString &labelValue, quint64 amount = 1)
    {
        Q_ASSERT(counterInfo(id).runtimeLabel);
        m_labelled[int(id)][labelValue] += amount;
        m_values[std::size_t(id)] += amount;
    }
    // The values of a row labelled at run time (empty for the other rows).
    LabelValues labelled(Counter id) const { return m_labelled.value(int(id)); }
    // Replaces them, and the row's total with their sum (a reader of JSON).
    void setLabelled(Counter id, const LabelValues &values)
    {
        quint64 total = 0;
        for (auto it = values.cbegin(); it != values.cend(); ++it)
            total += it.value();
        if (values.isEmpty())
            m_labelled.remove(int(id));
        else
            m_labelled.insert(int(id), values);
        m_values[std::size_t(id)] = total;
    }

    Counters &operator+=(const Counters &other)
    {
        for (std::size_t i = 0; i < kCounterCount; ++i)
            m_values[i] += other.m_values[i];
        for (auto row = other.m_labelled.cbegin(); row != other.m_labelled.cend(); ++row) {
            LabelValues &mine = m_labelled[row.key()];
            for (auto it = row.value().cbegin(); it != row.value().cend(); ++it)
                mine[it.key()] += it.value();
        }
        return *this;
    }
    // Each value less baseline's, never below zero (counters reset underneath);
    // label by label for rows labelled at run time.
    Counters since(const Counters &baseline) const
    {
        Counters result;
        for (std::size_t i = 0; i < kCounterCount; ++i)
            result.m_values[i] = m_values[i] >= baseline.m_values[i] ? m_values[i] - baseline.m_values[i] : 0;
        for (auto row = m_labelled.cbegin(); row != m_labelled.cend(); ++row) {
            const LabelValues base = baseline.m_labelled.value(row.key());
            LabelValues values;
            for (auto it = row.value().cbegin(); it != row.value().cend(); ++it) {
                const quint64 before = base.value(it.key());
                values.insert(it.key(), it.value() >= before ? it.value() - before : 0);
            }
            result.setLabelled(Counter(row.key()), values);
        }
        return result;
    }
    // Sets every sum row to the sum of its parts.
    Counters &computeSums()
    {
        for (const CounterInfo &row : kCounterTable) {
            if (row.sum)
                (*this)[row.id] = 0;
        }
        for (const CounterInfo &row : kCounterTable) {
            if (row.hasPart())
                (*this)[row.partOf] += (*this)[row.id];
        }
        return *this;
    }
    bool operator==(const Counters &other) const
    {
        return m_values == other.m_values && m_labelled == other.m_labelled;
    }
    bool operator!=(const Counters &other) const { return !(*this == other); }

private:
    std::array<quint64, kCounterCount> m_values{};
    QHash<int, LabelValues> m_labelled; // by row (int(Counter)), rows labelled at run time only
};

} // namespace SockJsProxy
