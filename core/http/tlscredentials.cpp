#include "tlscredentials.h"

#include <QFile>
#include <QSslSocket>

#ifdef SOCKJSPROXY_HAVE_OPENSSL
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#endif

namespace SockJsProxy {

namespace {

bool readFile(const QString &what, const QString &path, QByteArray *data, QString *error)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("%1 %2: %3").arg(what, path, file.errorString());
        return false;
    }
    *data = file.readAll();
    if (file.error() != QFileDevice::NoError) {
        *error = QStringLiteral("%1 %2: %3").arg(what, path, file.errorString());
        return false;
    }
    return true;
}

#ifdef SOCKJSPROXY_HAVE_OPENSSL
struct BioFree
{
    void operator()(BIO *bio) const { BIO_free(bio); }
};
struct PkeyFree
{
    void operator()(EVP_PKEY *key) const { EVP_PKEY_free(key); }
};
struct X509Free
{
    void operator()(X509 *certificate) const { X509_free(certificate); }
};

// An encrypted key would make OpenSSL ask for a passphrase on the terminal.
int noPassphrase(char *, int, int, void *) { return -1; }

// Qt's QSslKey wants to be told the algorithm, and cannot say whether a key
// belongs to a certificate: OpenSSL reads any PEM key and checks the pair.
bool checkKey(const QByteArray &certificatePem, const QByteArray &keyPem, const TlsFiles &files,
              QSsl::KeyAlgorithm *algorithm, QString *error)
{
    std::unique_ptr<BIO, BioFree> keyBio(BIO_new_mem_buf(keyPem.constData(), int(keyPem.size())));
    std::unique_ptr<EVP_PKEY, PkeyFree> key(
        keyBio ? PEM_read_bio_PrivateKey(keyBio.get(), nullptr, noPassphrase, nullptr) : nullptr);
    if (!key) {
        *error = QStringLiteral("key %1: no PEM private key in it (or one protected by a passphrase)").arg(files.key);
        return false;
    }
    switch (EVP_PKEY_base_id(key.get())) {
    case EVP_PKEY_RSA:
        *algorithm = QSsl::Rsa;
        break;
    case EVP_PKEY_EC:
        *algorithm = QSsl::Ec;
        break;
    default:
        *error = QStringLiteral("key %1: not an RSA or EC key").arg(files.key);
        return false;
    }
    std::unique_ptr<BIO, BioFree> certificateBio(
        BIO_new_mem_buf(certificatePem.constData(), int(certificatePem.size())));
    std::unique_ptr<X509, X509Free> certificate(
        certificateBio ? PEM_read_bio_X509(certificateBio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!certificate || X509_check_private_key(certificate.get(), key.get()) != 1) {
        *error = QStringLiteral("key %1 does not belong to the certificate in %2").arg(files.key, files.certificate);
        return false;
    }
    return true;
}
#endif

} // namespace

std::optional<TlsCredentials> TlsCredentials::load(const TlsFiles &files, QString *error)
{
    if (!QSslSocket::supportsSsl()) {
        *error = QStringLiteral("TLS is not available: Qt found no TLS backend (OpenSSL)");
        return std::nullopt;
    }
    QByteArray certificatePem;
    QByteArray keyPem;
    if (!readFile(QStringLiteral("certificate"), files.certificate, &certificatePem, error)
        || !readFile(QStringLiteral("key"), files.key, &keyPem, error))
        return std::nullopt;

    TlsCredentials credentials;
    credentials.m_files = files;
    credentials.m_chain = QSslCertificate::fromData(certificatePem, QSsl::Pem);
    if (credentials.m_chain.isEmpty() || credentials.m_chain.first().isNull()) {
        *error = QStringLiteral("certificate %1: no PEM certificate in it").arg(files.certificate);
        return std::nullopt;
    }
#ifdef SOCKJSPROXY_HAVE_OPENSSL
    QSsl::KeyAlgorithm algorithm = QSsl::Rsa;
    if (!checkKey(certificatePem, keyPem, files, &algorithm, error))
        return std::nullopt;
    credentials.m_key = QSslKey(keyPem, algorithm, QSsl::Pem, QSsl::PrivateKey);
#else
    // Without OpenSSL's headers the pair is not checked here; a wrong key
    // fails every handshake instead.
    for (const QSsl::KeyAlgorithm algorithm : {QSsl::Rsa, QSsl::Ec}) {
        credentials.m_key = QSslKey(keyPem, algorithm, QSsl::Pem, QSsl::PrivateKey);
        if (!credentials.m_key.isNull())
            break;
    }
#endif
    if (credentials.m_key.isNull()) {
        *error = QStringLiteral("key %1: not a private key Qt can use").arg(files.key);
        return std::nullopt;
    }
    return credentials;
}

QSslConfiguration TlsCredentials::serverConfiguration() const
{
    QSslConfiguration configuration = QSslConfiguration::defaultConfiguration();
    configuration.setProtocol(QSsl::TlsV1_2OrLater);
    configuration.setLocalCertificateChain(m_chain);
    configuration.setPrivateKey(m_key);
    configuration.setPeerVerifyMode(QSslSocket::VerifyNone);
    return configuration;
}

} // namespace SockJsProxy
