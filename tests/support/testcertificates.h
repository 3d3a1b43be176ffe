#pragma once

#include "http/tlscredentials.h"

#include <QSslCertificate>
#include <QString>

namespace SockJsProxy::Test {

// A self-signed certificate for localhost and 127.0.0.1 and its
// unencrypted private key, made by the openssl program as a process (PEM
// files dir/name.crt and dir/name.key). keyType: "ec" (P-256, fast) or
// "rsa" (2048 bits). On failure *error holds openssl's output.
bool makeSelfSigned(const QString &dir, const QString &name, TlsFiles *files, QString *error,
                    const QString &keyType = QStringLiteral("ec"));

// The first certificate of a PEM file (null if none).
QSslCertificate certificateOf(const TlsFiles &files);

} // namespace SockJsProxy::Test
