#pragma once

#include <QByteArray>
#include <QList>

namespace SockJsProxy {

// The SockJS frames a server sends, without any transport wrapping.
namespace Frames {

inline QByteArray open() { return QByteArrayLiteral("o"); }
inline QByteArray heartbeat() { return QByteArrayLiteral("h"); }
// c[code,"reason"]
QByteArray close(int code, const QByteArray &reason);
// a["m1","m2",...]; messages are UTF-8 (invalid sequences become U+FFFD).
// The frame of the last single message is kept and returned again for the
// same message (a broadcast's frame is encoded once, not once per session).
QByteArray messages(const QList<QByteArray> &messages);

} // namespace Frames

// Close codes and reasons of the protocol.
namespace CloseReason {
constexpr int GoAwayCode = 3000;
inline QByteArray goAway() { return QByteArrayLiteral("Go away!"); }
constexpr int AnotherConnectionCode = 2010;
inline QByteArray anotherConnection() { return QByteArrayLiteral("Another connection still open"); }
constexpr int InterruptedCode = 1002;
inline QByteArray interrupted() { return QByteArrayLiteral("Connection interrupted"); }
} // namespace CloseReason

} // namespace SockJsProxy
