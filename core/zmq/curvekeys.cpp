#include "zmq/curvekeys.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QList>

#include <zmq.h>

#include <algorithm>

namespace SockJsProxy::CurveKeys {

namespace {

// ZeroMQ's Z85 alphabet (RFC 32).
constexpr char kZ85Alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
constexpr int kBinaryLength = 32;
// Far larger than any key file; a bigger one is a mistake (a key directory
// pointed at the wrong place), not something to read into memory.
constexpr qint64 kMaxFileBytes = 64 * 1024;

bool isZ85(char c)
{
    return c != '\0' && std::find(std::begin(kZ85Alphabet), std::end(kZ85Alphabet), c) != std::end(kZ85Alphabet);
}

// "public-key = \"...\"" -> the value, as pyzmq's load_certificate reads it:
// after the first '=', without spaces, tabs and quotes around it.
QByteArray valueOf(const QByteArray &line)
{
    QByteArray value = line.mid(line.indexOf('=') + 1);
    const auto strip = [](char c) { return c == ' ' || c == '\t' || c == '"' || c == '\''; };
    qsizetype begin = 0;
    qsizetype end = value.size();
    while (begin < end && strip(value.at(begin)))
        ++begin;
    while (end > begin && strip(value.at(end - 1)))
        --end;
    return value.mid(begin, end - begin);
}

} // namespace

bool available() { return zmq_has("curve") != 0; }

KeyPair generate()
{
    char publicKey[kKeyLength + 1] = {};
    char secretKey[kKeyLength + 1] = {};
    if (zmq_curve_keypair(publicKey, secretKey) != 0)
        return {};
    return {QByteArray(publicKey, kKeyLength), QByteArray(secretKey, kKeyLength)};
}

QByteArray certificate(const KeyPair &pair)
{
    return QByteArrayLiteral("#   ZeroMQ CURVE certificate, made by sockjsproxy-cli --curve-keygen.\n"
                             "#   Keep the secret-key line private; the public part: grep -v secret-key FILE\n"
                             "\n"
                             "metadata\n"
                             "curve\n"
                             "    public-key = \"")
           + pair.publicKey + QByteArrayLiteral("\"\n    secret-key = \"") + pair.secretKey + QByteArrayLiteral("\"\n");
}

std::optional<QByteArray> parse(const QByteArray &text, QString *error)
{
    if (text.size() != kKeyLength) {
        *error = QStringLiteral("not a CURVE key: %1 characters, expected %2 (Z85)").arg(text.size()).arg(kKeyLength);
        return std::nullopt;
    }
    for (qsizetype i = 0; i < text.size(); ++i) {
        if (!isZ85(text.at(i))) {
            // The character is not quoted: this may be a secret key.
            *error = QStringLiteral("not a CURVE key: character %1 is not Z85").arg(i + 1);
            return std::nullopt;
        }
    }
    // Z85 groups of five characters may still exceed 32 bits.
    uint8_t binary[kBinaryLength];
    if (!zmq_z85_decode(binary, text.constData())) {
        *error = QStringLiteral("not a CURVE key: not valid Z85");
        return std::nullopt;
    }
    return text;
}

std::optional<QByteArray> publicKeyOf(const QByteArray &secretKey, QString *error)
{
    const auto key = parse(secretKey, error);
    if (!key)
        return std::nullopt;
    char publicKey[kKeyLength + 1] = {};
    if (zmq_curve_public(publicKey, key->constData()) != 0) {
        *error = available() ? QStringLiteral("cannot derive the public key: %1")
                                   .arg(QString::fromLocal8Bit(zmq_strerror(zmq_errno())))
                             : QStringLiteral("this libzmq has no CURVE support (built without libsodium)");
        return std::nullopt;
    }
    return QByteArray(publicKey, kKeyLength);
}

std::optional<QByteArray> parseFile(const QByteArray &contents, Kind kind, QString *error)
{
    QList<QByteArray> lines;
    for (const QByteArray &raw : contents.split('\n')) {
        const QByteArray line = raw.trimmed();
        if (!line.isEmpty() && !line.startsWith('#'))
            lines.append(line);
    }
    const QByteArray wanted = kind == Kind::Secret ? QByteArrayLiteral("secret-key") : QByteArrayLiteral("public-key");
    const bool isCertificate = std::any_of(lines.cbegin(), lines.cend(), [](const QByteArray &line) {
        return line.startsWith("public-key") || line.startsWith("secret-key");
    });
    QByteArray text;
    if (isCertificate) {
        const auto found = std::find_if(lines.cbegin(), lines.cend(),
                                        [&wanted](const QByteArray &line) { return line.startsWith(wanted); });
        if (found == lines.cend()) {
            *error = kind == Kind::Secret ? QStringLiteral("a certificate without a secret-key line (a public one?)")
                                          : QStringLiteral("a certificate without a public-key line");
            return std::nullopt;
        }
        text = valueOf(*found);
    } else if (lines.size() == 1) {
        text = lines.first();
    } else {
        *error = lines.isEmpty() ? QStringLiteral("empty (expected a CURVE key or a ZeroMQ certificate)")
                                 : QStringLiteral("neither a CURVE key alone nor a ZeroMQ certificate with a %1 line")
                                       .arg(QString::fromLatin1(wanted));
        return std::nullopt;
    }
    QString keyError;
    const auto key = parse(text, &keyError);
    if (!key) {
        *error = isCertificate ? QString::fromLatin1(wanted) + QStringLiteral(": ") + keyError : keyError;
        return std::nullopt;
    }
    return key;
}

std::optional<QByteArray> readFile(const QString &path, Kind kind, QString *error)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("%1: cannot read: %2").arg(path, file.errorString());
        return std::nullopt;
    }
    if (file.size() > kMaxFileBytes) {
        *error = QStringLiteral("%1: not a key file (%2 bytes)").arg(path).arg(file.size());
        return std::nullopt;
    }
    const QByteArray contents = file.read(kMaxFileBytes + 1);
    QString parseError;
    const auto key = parseFile(contents, kind, &parseError);
    if (!key) {
        *error = path + QStringLiteral(": ") + parseError;
        return std::nullopt;
    }
    return key;
}

std::optional<QSet<QByteArray>> readDirectory(const QString &path, QString *error)
{
    const QFileInfo info(path);
    if (!info.isDir()) {
        *error = QStringLiteral("%1: %2").arg(path, info.exists() ? QStringLiteral("not a directory")
                                                                  : QStringLiteral("no such directory"));
        return std::nullopt;
    }
    const QDir directory(path);
    if (!directory.isReadable()) {
        *error = path + QStringLiteral(": cannot read the directory");
        return std::nullopt;
    }
    // As pyzmq's load_certificates: *.key, hidden files left out. An
    // unreadable one is an error, not a key silently missing.
    QSet<QByteArray> keys;
    const QStringList names = directory.entryList({QStringLiteral("*.key")}, QDir::Files, QDir::Name);
    for (const QString &name : names) {
        const auto key = readFile(directory.filePath(name), Kind::Public, error);
        if (!key)
            return std::nullopt;
        keys.insert(*key);
    }
    return keys;
}

} // namespace SockJsProxy::CurveKeys
