#pragma once

#include <QList>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QSslKey>
#include <QString>

#include <optional>

namespace SockJsProxy {

// Where a TLS listener's certificate chain and private key are (http.tls,
// --tls-cert/--tls-key; --control-tls-cert/--control-tls-key).
struct TlsFiles
{
    QString certificate; // PEM: the server's certificate first, then its intermediates
    QString key;         // PEM: its private key (RSA or EC), not encrypted

    bool operator==(const TlsFiles &other) const { return certificate == other.certificate && key == other.key; }
};

// A certificate chain and its private key, read and checked: both files
// readable, at least one PEM certificate, a PEM private key Qt can use, and
// the key is the one of the first certificate. A value is always usable;
// what cannot be is an error from load().
class TlsCredentials
{
public:
    // On failure *error is one line naming the file and what is wrong with
    // it ("certificate /etc/x.pem: No such file or directory").
    static std::optional<TlsCredentials> load(const TlsFiles &files, QString *error);

    const TlsFiles &files() const { return m_files; }
    const QList<QSslCertificate> &chain() const { return m_chain; }
    const QSslKey &key() const { return m_key; }

    // What a server socket is given: this chain and key, TLS 1.2 or newer,
    // no client certificates asked for.
    QSslConfiguration serverConfiguration() const;

private:
    TlsFiles m_files;
    QList<QSslCertificate> m_chain;
    QSslKey m_key;
};

} // namespace SockJsProxy
