#pragma once

#include <QByteArray>
#include <QList>

namespace SockJsProxy {

// JSON as SockJS needs it, on UTF-8 bytes (no UTF-16 round trip).
//
// Decoding takes what a client sends: a JSON array of strings, every
// \uXXXX escape decoded (surrogate pairs joined, U+0000 kept as a byte),
// messages returned as length-counted UTF-8.
//
// Encoding writes JSON strings the way every SockJS client can read them:
// control characters and the ranges U+200C-200F, U+2028-202F, U+2060-206F
// and U+FFF0-FFFF as \u with lower-case hex, '"' and '\\' escaped, everything
// else verbatim.
namespace JsonCodec {

enum class DecodeResult {
    Ok,     // *messages holds the strings ([] gives an empty list)
    Empty,  // payload empty or only whitespace ("Payload expected.")
    Broken, // anything else: not JSON, not an array of strings, invalid UTF-8
};

DecodeResult decodeMessages(const QByteArray &payload, QList<QByteArray> *messages);

enum EncodeFlag {
    NoFlags = 0,
    // Also write '<' and '>' as \u003c and \u003e, so the string can sit inside
    // an HTML <script> element (htmlfile) without ending it.
    EscapeHtml = 1,
};

// Appends utf8 as a quoted JSON string. Invalid UTF-8 sequences are written as
// U+FFFD; the return value is false when that happened.
bool appendQuoted(QByteArray &out, const QByteArray &utf8, int flags = NoFlags);
QByteArray quoted(const QByteArray &utf8, int flags = NoFlags);

bool isValidUtf8(const QByteArray &data);

} // namespace JsonCodec
} // namespace SockJsProxy
