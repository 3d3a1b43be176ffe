// TlsCredentials: reading and checking a certificate chain and its key.

#include "http/tlscredentials.h"
#include "testcertificates.h"

#include <QDir>
#include <QFile>
#include <QSslSocket>
#include <QTemporaryDir>
#include <QTest>

using namespace SockJsProxy;
using namespace SockJsProxy::Test;

class tst_TlsCredentials : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void loadsAPair_data();
    void loadsAPair();
    void loadsAChain();
    void refuses_data();
    void refuses();
    void unreadableFile();

private:
    QString write(const QString &name, const QByteArray &data);

    QTemporaryDir m_dir;
    TlsFiles m_ec;
    TlsFiles m_rsa;
    TlsFiles m_other;
};

void tst_TlsCredentials::initTestCase()
{
    QVERIFY(m_dir.isValid());
    QVERIFY(QSslSocket::supportsSsl());
    QString error;
    QVERIFY2(makeSelfSigned(m_dir.path(), QStringLiteral("ec"), &m_ec, &error), qPrintable(error));
    QVERIFY2(makeSelfSigned(m_dir.path(), QStringLiteral("rsa"), &m_rsa, &error, QStringLiteral("rsa")),
             qPrintable(error));
    QVERIFY2(makeSelfSigned(m_dir.path(), QStringLiteral("other"), &m_other, &error), qPrintable(error));
}

QString tst_TlsCredentials::write(const QString &name, const QByteArray &data)
{
    const QString path = m_dir.filePath(name);
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly) || file.write(data) != data.size())
        qFatal("cannot write %s", qPrintable(path));
    return path;
}

void tst_TlsCredentials::loadsAPair_data()
{
    QTest::addColumn<QString>("which");
    QTest::newRow("ec") << QStringLiteral("ec");
    QTest::newRow("rsa") << QStringLiteral("rsa");
}

void tst_TlsCredentials::loadsAPair()
{
    QFETCH(QString, which);
    const TlsFiles files = which == QLatin1String("ec") ? m_ec : m_rsa;
    QString error;
    const std::optional<TlsCredentials> credentials = TlsCredentials::load(files, &error);
    QVERIFY2(credentials, qPrintable(error));
    QVERIFY(error.isEmpty());
    QVERIFY(credentials->files() == files);
    QCOMPARE(credentials->chain().size(), 1);
    QCOMPARE(credentials->chain().first(), certificateOf(files));
    QCOMPARE(credentials->key().algorithm(), which == QLatin1String("ec") ? QSsl::Ec : QSsl::Rsa);
    QCOMPARE(credentials->key().type(), QSsl::PrivateKey);

    const QSslConfiguration configuration = credentials->serverConfiguration();
    QCOMPARE(configuration.protocol(), QSsl::TlsV1_2OrLater);
    QCOMPARE(configuration.localCertificateChain(), credentials->chain());
    QCOMPARE(configuration.privateKey(), credentials->key());
    QCOMPARE(configuration.peerVerifyMode(), QSslSocket::VerifyNone);
}

void tst_TlsCredentials::loadsAChain()
{
    // The server's certificate first, then what a client may need to reach
    // its CA (here just another certificate): all of it is sent.
    QFile first(m_ec.certificate);
    QFile second(m_other.certificate);
    QVERIFY(first.open(QIODevice::ReadOnly) && second.open(QIODevice::ReadOnly));
    const TlsFiles files{write(QStringLiteral("chain.pem"), first.readAll() + second.readAll()), m_ec.key};
    QString error;
    const std::optional<TlsCredentials> credentials = TlsCredentials::load(files, &error);
    QVERIFY2(credentials, qPrintable(error));
    QCOMPARE(credentials->chain().size(), 2);
    QCOMPARE(credentials->chain().at(0), certificateOf(m_ec));
    QCOMPARE(credentials->chain().at(1), certificateOf(m_other));
}

void tst_TlsCredentials::refuses_data()
{
    QTest::addColumn<QString>("certificate");
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("expected");

    const QString missing = m_dir.filePath(QStringLiteral("missing.pem"));
    QTest::newRow("certificate missing") << missing << m_ec.key
                                         << QStringLiteral("certificate %1: No such file or directory").arg(missing);
    QTest::newRow("key missing") << m_ec.certificate << missing
                                 << QStringLiteral("key %1: No such file or directory").arg(missing);
    QTest::newRow("mismatched pair")
        << m_ec.certificate << m_other.key
        << QStringLiteral("key %1 does not belong to the certificate in %2").arg(m_other.key, m_ec.certificate);
    QTest::newRow("mismatched algorithms")
        << m_rsa.certificate << m_ec.key
        << QStringLiteral("key %1 does not belong to the certificate in %2").arg(m_ec.key, m_rsa.certificate);
    const QString garbage = write(QStringLiteral("garbage.pem"), "not a certificate\n");
    QTest::newRow("no certificate in it")
        << garbage << m_ec.key << QStringLiteral("certificate %1: no PEM certificate in it").arg(garbage);
    const QString empty = write(QStringLiteral("empty.pem"), QByteArray());
    QTest::newRow("empty certificate") << empty << m_ec.key
                                       << QStringLiteral("certificate %1: no PEM certificate in it").arg(empty);
    QTest::newRow("key file holds a certificate")
        << m_ec.certificate << m_ec.certificate
        << QStringLiteral("key %1: no PEM private key in it (or one protected by a passphrase)").arg(m_ec.certificate);
    QTest::newRow("cert and key swapped")
        << m_ec.key << m_ec.certificate << QStringLiteral("certificate %1: no PEM certificate in it").arg(m_ec.key);
}

void tst_TlsCredentials::refuses()
{
    QFETCH(QString, certificate);
    QFETCH(QString, key);
    QFETCH(QString, expected);
    QString error;
    QVERIFY(!TlsCredentials::load({certificate, key}, &error));
    QCOMPARE(error, expected);
}

void tst_TlsCredentials::unreadableFile()
{
    // A directory cannot be read as a file, by root either.
    const QString directory = m_dir.filePath(QStringLiteral("a-directory"));
    QVERIFY(QDir().mkpath(directory));
    QString error;
    QVERIFY(!TlsCredentials::load({m_ec.certificate, directory}, &error));
    QVERIFY2(error.startsWith(QStringLiteral("key %1: ").arg(directory)), qPrintable(error));

    // Without permission to read, where the user is not root.
    const QString locked = write(QStringLiteral("locked.key"), QByteArray());
    QFile::copy(m_ec.key, locked + QStringLiteral(".tmp"));
    QVERIFY(QFile::remove(locked) && QFile::rename(locked + QStringLiteral(".tmp"), locked));
    QVERIFY(QFile::setPermissions(locked, QFileDevice::WriteOwner));
    QFile probe(locked);
    if (probe.open(QIODevice::ReadOnly))
        QSKIP("running as root: a file without read permission is still readable");
    error.clear();
    QVERIFY(!TlsCredentials::load({m_ec.certificate, locked}, &error));
    QCOMPARE(error, QStringLiteral("key %1: Permission denied").arg(locked));
}

QTEST_GUILESS_MAIN(tst_TlsCredentials)
#include "tst_tlscredentials.moc"
