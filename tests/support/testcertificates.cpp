#include "testcertificates.h"

#include <QFile>
#include <QProcess>

namespace SockJsProxy::Test {

bool makeSelfSigned(const QString &dir, const QString &name, TlsFiles *files, QString *error, const QString &keyType)
{
    files->certificate = dir + QLatin1Char('/') + name + QStringLiteral(".crt");
    files->key = dir + QLatin1Char('/') + name + QStringLiteral(".key");
    QStringList arguments{QStringLiteral("req"),
                          QStringLiteral("-x509"),
                          QStringLiteral("-nodes"),
                          QStringLiteral("-days"),
                          QStringLiteral("2"),
                          QStringLiteral("-subj"),
                          QStringLiteral("/CN=") + name,
                          QStringLiteral("-addext"),
                          QStringLiteral("subjectAltName=DNS:localhost,IP:127.0.0.1"),
                          QStringLiteral("-keyout"),
                          files->key,
                          QStringLiteral("-out"),
                          files->certificate};
    if (keyType == QLatin1String("rsa"))
        arguments << QStringLiteral("-newkey") << QStringLiteral("rsa:2048");
    else
        arguments << QStringLiteral("-newkey") << QStringLiteral("ec") << QStringLiteral("-pkeyopt")
                  << QStringLiteral("ec_paramgen_curve:prime256v1");
    QProcess openssl;
    openssl.setProcessChannelMode(QProcess::MergedChannels);
    openssl.start(QStringLiteral("openssl"), arguments);
    if (!openssl.waitForFinished(30000) || openssl.exitStatus() != QProcess::NormalExit || openssl.exitCode() != 0) {
        *error = QStringLiteral("openssl %1: %2 %3")
                     .arg(arguments.join(QLatin1Char(' ')), openssl.errorString(),
                          QString::fromLocal8Bit(openssl.readAll()));
        return false;
    }
    return true;
}

QSslCertificate certificateOf(const TlsFiles &files)
{
    const QList<QSslCertificate> certificates = QSslCertificate::fromPath(files.certificate);
    return certificates.isEmpty() ? QSslCertificate() : certificates.first();
}

} // namespace SockJsProxy::Test
