#pragma once

#include <QByteArray>

class QObject;
class QWebSocket;

namespace SockJsProxy {

class Connection;
class HttpReceiver;
struct HttpResponse;
class WebSocketReceiver;

// What one SockJS transport is, declared in its own file and listed by the
// registry (registry.h). The Service routes and answers from these fields
// alone; it never branches on a transport's name.
struct TransportInfo
{
    enum class Kind {
        Receiving, // an HTTP request whose response carries frames to the client
        Sending,   // an HTTP request that carries messages from the client
        WebSocket, // both ways over a WebSocket (a plain GET gets 400)
    };
    enum class Path {
        Session, // {prefix}/{server}/{session}/NAME
        Service, // {prefix}/NAME (no session in the URL)
    };
    // Receiving: a receiver on connection whose response starts with head
    // (content type set); it ends after responseLimit bytes of frames when it
    // streams. callback: the validated ?c= of transports that need one.
    using HttpFactory = HttpReceiver *(*)(Connection *connection, const HttpResponse &head, qint64 responseLimit,
                                          const QByteArray &callback);
    // WebSocket: a receiver owning socket, parented to parent.
    using WebSocketFactory = WebSocketReceiver *(*)(QWebSocket *socket, qint64 maxMessageBytes, QObject *parent);

    const char *urlName; // the last URL segment: "xhr", "eventsource", ...
    Path path;
    Kind kind;
    const char *method;      // the one method it takes: "GET" or "POST"
    bool preflight;          // answers OPTIONS with a CORS preflight (and says so in Allow)
    const char *contentType; // of its responses; "" for WebSocket ones
    const char *displayName; // Receiver::transportName(), the monitor's transport; "" for Sending
    bool callback = false;   // Receiving: requires ?c=CALLBACK (500 without a valid one)
    HttpFactory createHttp = nullptr;
    WebSocketFactory createWebSocket = nullptr;
    bool formEncoded = false;    // Sending: a form body's field d is the payload
    const char *reply = nullptr; // Sending: body of a 200 on success; nullptr: 204, no body

    // displayName for Receiver::transportName(): refers to the literal, so
    // the name every session keeps costs no allocation.
    QByteArray displayNameBytes() const { return QByteArray::fromRawData(displayName, qstrlen(displayName)); }

    // The methods for Allow and the preflight: "OPTIONS, POST" or "GET".
    QByteArray allow() const { return preflight ? QByteArray("OPTIONS, ") + method : QByteArray(method); }

    // Builders for the transports' declarations.
    static constexpr TransportInfo receiving(const char *urlName, const char *method, const char *contentType,
                                             const char *displayName, HttpFactory factory)
    {
        return {urlName, Path::Session, Kind::Receiving, method, false, contentType, displayName, false, factory};
    }
    static constexpr TransportInfo sending(const char *urlName, const char *contentType)
    {
        return {urlName, Path::Session, Kind::Sending, "POST", false, contentType, ""};
    }
    static constexpr TransportInfo webSocket(const char *urlName, const char *displayName, WebSocketFactory factory)
    {
        return {urlName, Path::Session, Kind::WebSocket, "GET", false, "", displayName, false, nullptr, factory};
    }
    template<typename T>
    constexpr TransportInfo with(T TransportInfo::*field, T value) const
    {
        TransportInfo copy = *this;
        copy.*field = value;
        return copy;
    }
    constexpr TransportInfo answersPreflight() const { return with(&TransportInfo::preflight, true); }
    constexpr TransportInfo needsCallback() const { return with(&TransportInfo::callback, true); }
    constexpr TransportInfo atServicePath() const { return with(&TransportInfo::path, Path::Service); }
    constexpr TransportInfo takesForm() const { return with(&TransportInfo::formEncoded, true); }
    constexpr TransportInfo replies(const char *body) const { return with(&TransportInfo::reply, body); }
};

} // namespace SockJsProxy
