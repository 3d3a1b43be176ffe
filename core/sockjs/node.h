#pragma once

#include <QByteArray>

namespace SockJsProxy {

// The proxy node sessions live on, as backends see it. Every session id
// names its node: the part before the first '-'. This is the one place that
// names the node and makes session ids.
//
// Unnamed (no cluster.node), the node is a random tag drawn once per process
// and ids are TAG-COUNTER (k3f9a-1f), as they always were. Named, ids are
// NAME-TAG-COUNTER (n1-k3f9a-1f): a node that restarts under the same name
// still never repeats an id (a new tag), and the tag tells its incarnations
// apart.
namespace Node {

// Five base-36 characters, the same for the life of the process.
QByteArray incarnation();
// The configured name (setLocalName()), else incarnation().
QByteArray localName();
// Names this node (cluster.node); call before the first session id is
// drawn. An empty name goes back to the random tag.
void setLocalName(const QByteArray &name);
// localName() + '-' (+ incarnation() + '-' when named) + a counter in base
// 36: unique within the process and never reused.
QByteArray nextSessionId();
// The node a session id names: what comes before its first '-' (all of it
// when there is none).
QByteArray nodeOf(const QByteArray &sessionId);
// [A-Za-z0-9_]{1,32}: no '-', which ends the node's part of an id.
bool isValidName(const QByteArray &name);

} // namespace Node

} // namespace SockJsProxy
