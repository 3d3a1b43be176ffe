#pragma once

#include "zmqsocket.h"

#include <QByteArray>
#include <QHash>
#include <QObject>
#include <QPointer>

#include <functional>
#include <memory>

namespace SockJsProxy {

// The ZAP handler (ZeroMQ RFC 27) of the process's ZeroMQ context: for every
// CURVE handshake on a socket of the context, libzmq sends it a request
// (domain, peer address, mechanism, the client's public key) and lets the
// peer in only on a "200" reply. A Rep ZmqSocket bound at
// inproc://zeromq.zap.01, the address libzmq asks, on the Qt event loop.
//
// Each ZAP domain (a socket's ZMQ_ZAP_DOMAIN) has a policy: a function that
// takes the request and says yes or no; it runs on the event loop, inside
// the handler's slot, and must answer at once. A request for an unknown
// domain, for another mechanism than CURVE or that is malformed is refused.
//
// There is one handler per context, so it is shared: shared() binds it at
// the first call and returns the same one while someone holds it. Without a
// bound handler libzmq lets every CURVE client in (ZMQ_ZAP_ENFORCE_DOMAIN is
// a draft option), so a socket must get the handler before it binds and the
// handler must outlive it. One thread: the Qt main thread.
class ZapHandler : public QObject
{
    Q_OBJECT

public:
    struct Request
    {
        QByteArray domain;
        QByteArray address;   // the peer's IP address, as libzmq gives it
        QByteArray mechanism; // "CURVE"
        QByteArray publicKey; // the client's, Z85
    };
    using Policy = std::function<bool(const Request &request)>;

    // The process's handler; null and *error when it cannot be bound.
    static std::shared_ptr<ZapHandler> shared(QString *error);
    ~ZapHandler() override;

    // Adds a domain named hint, or hint with a suffix when that is taken, and
    // returns its name. policy is called only while context is alive.
    QByteArray addDomain(const QByteArray &hint, QObject *context, Policy policy);
    void removeDomain(const QByteArray &domain);

    quint64 answeredCount() const { return m_answered; }

private:
    ZapHandler();
    bool bind(QString *error);
    void onRequest(const SockJsProxy::ZmqMessage &request);

    struct Domain
    {
        QPointer<QObject> context;
        Policy policy;
    };

    ZmqSocket *m_socket;
    QHash<QByteArray, Domain> m_domains;
    quint64 m_answered = 0;
};

} // namespace SockJsProxy
