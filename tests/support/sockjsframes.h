#pragma once

#include <QByteArray>
#include <QList>
#include <QStringList>

namespace SockJsProxy::Test {

// What a SockJS client sends: one frame with these messages, ["m1","m2",...]
// (compact JSON).
QByteArray sockJsMessages(const QStringList &messages);

// The strings of every message frame a[...] among frames, in order; other
// frames (o, h, c[...]) are skipped.
QStringList decodedMessages(const QList<QByteArray> &frames);

} // namespace SockJsProxy::Test
