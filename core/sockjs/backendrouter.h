#pragma once

#include <QByteArray>
#include <QList>

namespace SockJsProxy {

class Service;

// The hook a Service calls when a backend message is not for one of its own
// sessions, and through which it tells what other nodes need to stand in for
// it. The cluster layer implements it (core/cluster); a Service without one
// behaves as a single proxy always did. Not owned by the Service; it must
// outlive the services it is set on (or be unset first).
class BackendRouter
{
public:
    virtual ~BackendRouter() = default;

    // A backend "message", "disconnect" (data: its close data) or "accept"
    // for sessionId, which this node
    // does not hold. True when the router took it: sent it on to the node
    // the id names, or dropped and counted it for that node. False when the
    // id names this node: then it is an unknown session, as without a router.
    virtual bool routeMessage(Service *service, const QByteArray &sessionId, const QByteArray &data) = 0;
    virtual bool routeDisconnect(Service *service, const QByteArray &sessionId, const QByteArray &data) = 0;
    virtual bool routeAccept(Service *service, const QByteArray &sessionId) = 0;
    // A backend "broadcast", already delivered here. sessionIds empty: every
    // session of the service on every other node. Otherwise the ids this
    // node does not hold; returned: those that name this node (unknown here).
    virtual QList<QByteArray> routeBroadcast(Service *service, const QList<QByteArray> &sessionIds,
                                             const QByteArray &data) = 0;

    // The backends were told "connect" (a session opened) / "disconnect"
    // (it ended) for sessionId.
    virtual void sessionConnected(Service *service, const QByteArray &sessionId) = 0;
    virtual void sessionDisconnected(Service *service, const QByteArray &sessionId) = 0;
};

} // namespace SockJsProxy
