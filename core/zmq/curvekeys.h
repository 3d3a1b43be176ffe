#pragma once

#include <QByteArray>
#include <QSet>
#include <QString>

#include <optional>

namespace SockJsProxy {

// CURVE keys (CurveZMQ, ZeroMQ's encryption and authentication) as the proxy
// reads them: 40 characters of Z85 text, the encoding of a 32-byte key, as
// zmq_curve_keypair makes them and every ZeroMQ binding takes them.
//
// A key file holds one key, in either of two formats:
//  - the key alone: 40 Z85 characters on one line;
//  - a ZeroMQ certificate, as `sockjsproxy-cli --curve-keygen` prints it and
//    czmq (zcert_save) and pyzmq (zmq.auth.create_certificates) write it:
//        metadata
//        curve
//            public-key = "<40 Z85 characters>"
//            secret-key = "<40 Z85 characters>"   (secret certificates only)
//    Lines starting with '#' are comments; other lines are ignored.
// Blank lines and whitespace around a line do not count.
//
// Every function is pure (files aside): no state, errors as text in *error
// that say what is wrong with which file ("/etc/x.key: not a CURVE key:
// 39 characters, expected 40"), never an exception.
namespace CurveKeys {

constexpr int kKeyLength = 40;

enum class Kind { Public, Secret };

struct KeyPair
{
    QByteArray publicKey; // Z85
    QByteArray secretKey; // Z85
};

// Whether this libzmq can do CURVE (zmq_has("curve"): built with libsodium
// or its own TweetNaCl).
bool available();

// A new key pair (zmq_curve_keypair); empty keys when CURVE is unavailable.
KeyPair generate();

// A secret certificate of pair (the format above), to print or save.
QByteArray certificate(const KeyPair &pair);

// text as a key: exactly 40 Z85 characters that decode to 32 bytes.
std::optional<QByteArray> parse(const QByteArray &text, QString *error);

// The public key of a secret key (zmq_curve_public).
std::optional<QByteArray> publicKeyOf(const QByteArray &secretKey, QString *error);

// The key of one file's contents: a certificate's public-key or secret-key
// line (kind), or the key alone. error does not name the file.
std::optional<QByteArray> parseFile(const QByteArray &contents, Kind kind, QString *error);

// parseFile() of the file at path; error starts with the path.
std::optional<QByteArray> readFile(const QString &path, Kind kind, QString *error);

// The public keys of the key files of a directory: every file named *.key
// (the czmq and pyzmq convention: public certificates are NAME.key, secret
// ones NAME.key_secret, which is not read). error names the file at fault.
std::optional<QSet<QByteArray>> readDirectory(const QString &path, QString *error);

} // namespace CurveKeys
} // namespace SockJsProxy
