// CurveKeys: CURVE keys as Z85 text, key files (the key alone or a ZeroMQ
// certificate as czmq, pyzmq and --curve-keygen write it) and directories of
// *.key files. Real files in a temporary directory.

#include "zmq/curvekeys.h"

#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

using namespace SockJsProxy;

namespace {

// A key pair made by zmq_curve_keypair once, and a second public key.
const QByteArray kPublic = QByteArrayLiteral("7HTq@s%3FoR%^b)Ir/4kQEVs0aa[b=%nalV43Bgq");
const QByteArray kSecret = QByteArrayLiteral("Qfk4qw)epB&M+Ytl7e.2B>l:]5r@FLc(7w%Z8y^H");
const QByteArray kOtherPublic = QByteArrayLiteral("q>wh5wK1cco:tqbam0{x.p7&2fADV%bh19mZ7E<&");

bool writeFile(const QString &path, const QByteArray &contents)
{
    QFile file(path);
    return file.open(QIODevice::WriteOnly) && file.write(contents) == contents.size();
}

// A certificate as pyzmq's zmq.auth.create_certificates writes it.
QByteArray pyzmqCertificate(const QByteArray &publicKey, const QByteArray &secretKey = {})
{
    QByteArray text = "#   ****  Generated on 2024-05-01 12:00:00.000000 by pyzmq  ****\n"
                      "#   ZeroMQ CURVE **Secret** Certificate\n"
                      "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n"
                      "\n"
                      "metadata\n"
                      "    name = backend\n"
                      "curve\n"
                      "    public-key = \""
                      + publicKey + "\"\n";
    if (!secretKey.isEmpty())
        text += "    secret-key = \"" + secretKey + "\"\n";
    return text;
}

} // namespace

class tst_CurveKeys : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void available();
    void generateAndDerive();
    void parseAcceptsKeys();
    void parseRejects_data();
    void parseRejects();
    void parseFile_data();
    void parseFile();
    void parseFileRejects_data();
    void parseFileRejects();
    void certificateRoundTrip();
    void readFile();
    void readDirectory();
    void readDirectoryRejects();
};

void tst_CurveKeys::available()
{
    // Debian's libzmq5 is built with libsodium; the proxy's CURVE needs it.
    QVERIFY(CurveKeys::available());
}

void tst_CurveKeys::generateAndDerive()
{
    const CurveKeys::KeyPair pair = CurveKeys::generate();
    QCOMPARE(pair.publicKey.size(), CurveKeys::kKeyLength);
    QCOMPARE(pair.secretKey.size(), CurveKeys::kKeyLength);
    QVERIFY(pair.publicKey != pair.secretKey);
    QString error;
    QCOMPARE(CurveKeys::parse(pair.publicKey, &error), std::optional<QByteArray>(pair.publicKey));
    QCOMPARE(CurveKeys::parse(pair.secretKey, &error), std::optional<QByteArray>(pair.secretKey));
    QCOMPARE(CurveKeys::publicKeyOf(pair.secretKey, &error), std::optional<QByteArray>(pair.publicKey));
    QCOMPARE(CurveKeys::publicKeyOf(kSecret, &error), std::optional<QByteArray>(kPublic));
    // Two pairs differ.
    QVERIFY(CurveKeys::generate().secretKey != pair.secretKey);
}

void tst_CurveKeys::parseAcceptsKeys()
{
    QString error;
    for (const QByteArray &key : {kPublic, kSecret, kOtherPublic, QByteArray(40, '0')}) {
        const auto parsed = CurveKeys::parse(key, &error);
        QVERIFY2(parsed, qPrintable(error));
        QCOMPARE(*parsed, key);
    }
}

void tst_CurveKeys::parseRejects_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<QString>("error");

    QTest::newRow("empty") << QByteArray() << QStringLiteral("not a CURVE key: 0 characters, expected 40 (Z85)");
    QTest::newRow("39") << kPublic.left(39) << QStringLiteral("not a CURVE key: 39 characters, expected 40 (Z85)");
    QTest::newRow("41") << kPublic + "a" << QStringLiteral("not a CURVE key: 41 characters, expected 40 (Z85)");
    QTest::newRow("trailing newline") << kPublic + "\n"
                                      << QStringLiteral("not a CURVE key: 41 characters, expected 40 (Z85)");
    QTest::newRow("binary 32") << QByteArray(32, 'x')
                               << QStringLiteral("not a CURVE key: 32 characters, expected 40 (Z85)");
    QTest::newRow("space") << QByteArray(kPublic).replace(0, 1, " ")
                           << QStringLiteral("not a CURVE key: character 1 is not Z85");
    QTest::newRow("quote") << QByteArray(kPublic).replace(39, 1, "\"")
                           << QStringLiteral("not a CURVE key: character 40 is not Z85");
    QTest::newRow("comma") << QByteArray(kPublic).replace(7, 1, ",")
                           << QStringLiteral("not a CURVE key: character 8 is not Z85");
    QTest::newRow("NUL") << QByteArray(kPublic).replace(3, 1, QByteArray(1, '\0'))
                         << QStringLiteral("not a CURVE key: character 4 is not Z85");
    QTest::newRow("UTF-8") << QByteArray(kPublic).replace(0, 2, "\xc3\xa9")
                           << QStringLiteral("not a CURVE key: character 1 is not Z85");
    // Five '#' (84 each) are 85^5 - 1: more than 32 bits.
    QTest::newRow("group over 32 bits") << QByteArray(kPublic).replace(10, 5, "#####")
                                        << QStringLiteral("not a CURVE key: not valid Z85");
}

void tst_CurveKeys::parseRejects()
{
    QFETCH(QByteArray, text);
    QFETCH(QString, error);
    QString got;
    QVERIFY(!CurveKeys::parse(text, &got));
    QCOMPARE(got, error);
    // Nothing of the text is repeated: it may be a secret key.
    QVERIFY(!got.contains(QString::fromLatin1(kPublic.mid(12, 8))));
    QVERIFY(!CurveKeys::publicKeyOf(text, &got));
}

void tst_CurveKeys::parseFile_data()
{
    QTest::addColumn<QByteArray>("contents");
    QTest::addColumn<QByteArray>("publicKey"); // empty: none
    QTest::addColumn<QByteArray>("secretKey"); // empty: none

    QTest::newRow("key alone") << kPublic << kPublic << kPublic;
    QTest::newRow("key alone, newline") << kPublic + "\n" << kPublic << kPublic;
    QTest::newRow("key alone, CRLF and blanks") << "\r\n  " + kPublic + "  \r\n\r\n" << kPublic << kPublic;
    QTest::newRow("key alone, comments") << "# backend 1\n" + kPublic + "\n# end\n" << kPublic << kPublic;
    QTest::newRow("pyzmq public") << pyzmqCertificate(kPublic) << kPublic << QByteArray();
    QTest::newRow("pyzmq secret") << pyzmqCertificate(kPublic, kSecret) << kPublic << kSecret;
    QTest::newRow("czmq public") << "#   ****  Generated on 2015-01-01 by CZMQ  ****\n"
                                    "#   ZeroMQ CURVE Public Certificate\n\nmetadata\ncurve\n    public-key = \""
                                        + kOtherPublic + "\"\n"
                                 << kOtherPublic << QByteArray();
    QTest::newRow("tabs, single quotes") << "curve\n\tpublic-key\t=\t'" + kPublic + "'\n\tsecret-key = '" + kSecret
                                                + "'\n"
                                         << kPublic << kSecret;
    QTest::newRow("commented-out key ignored")
        << "curve\n#    public-key = \"" + kOtherPublic + "\"\n    public-key = \"" + kPublic + "\"\n"
        << kPublic << QByteArray();
}

void tst_CurveKeys::parseFile()
{
    QFETCH(QByteArray, contents);
    QFETCH(QByteArray, publicKey);
    QFETCH(QByteArray, secretKey);
    QString error;
    const auto publicFound = CurveKeys::parseFile(contents, CurveKeys::Kind::Public, &error);
    QCOMPARE(publicFound.value_or(QByteArray()), publicKey);
    const auto secretFound = CurveKeys::parseFile(contents, CurveKeys::Kind::Secret, &error);
    QCOMPARE(secretFound.value_or(QByteArray()), secretKey);
    if (secretKey.isEmpty())
        QCOMPARE(error, QStringLiteral("a certificate without a secret-key line (a public one?)"));
}

void tst_CurveKeys::parseFileRejects_data()
{
    QTest::addColumn<QByteArray>("contents");
    QTest::addColumn<QString>("error");

    QTest::newRow("empty") << QByteArray() << QStringLiteral("empty (expected a CURVE key or a ZeroMQ certificate)");
    QTest::newRow("comments only") << QByteArray("# nothing\n\n")
                                   << QStringLiteral("empty (expected a CURVE key or a ZeroMQ certificate)");
    QTest::newRow("two keys") << kPublic + "\n" + kOtherPublic + "\n"
                              << QStringLiteral("neither a CURVE key alone nor a ZeroMQ certificate with a "
                                                "public-key line");
    QTest::newRow("short key") << kPublic.left(30)
                               << QStringLiteral("not a CURVE key: 30 characters, expected 40 (Z85)");
    QTest::newRow("binary") << QByteArray("\x01\x02\x03\xff", 4)
                            << QStringLiteral("not a CURVE key: 4 characters, expected 40 (Z85)");
    QTest::newRow("certificate with a bad key")
        << QByteArray("curve\n    public-key = \"abc\"\n")
        << QStringLiteral("public-key: not a CURVE key: 3 characters, expected 40 (Z85)");
    QTest::newRow("certificate, secret only") << "curve\n    secret-key = \"" + kSecret + "\"\n"
                                              << QStringLiteral("a certificate without a public-key line");
}

void tst_CurveKeys::parseFileRejects()
{
    QFETCH(QByteArray, contents);
    QFETCH(QString, error);
    QString got;
    QVERIFY(!CurveKeys::parseFile(contents, CurveKeys::Kind::Public, &got));
    QCOMPARE(got, error);
}

void tst_CurveKeys::certificateRoundTrip()
{
    const CurveKeys::KeyPair pair = CurveKeys::generate();
    const QByteArray text = CurveKeys::certificate(pair);
    QString error;
    QCOMPARE(CurveKeys::parseFile(text, CurveKeys::Kind::Public, &error), std::optional<QByteArray>(pair.publicKey));
    QCOMPARE(CurveKeys::parseFile(text, CurveKeys::Kind::Secret, &error), std::optional<QByteArray>(pair.secretKey));
    // The README's recipe for its public part: the lines without "secret-key".
    QByteArray publicPart;
    for (const QByteArray &line : text.split('\n')) {
        if (!line.contains("secret-key"))
            publicPart += line + '\n';
    }
    QVERIFY(!publicPart.contains(pair.secretKey));
    QCOMPARE(CurveKeys::parseFile(publicPart, CurveKeys::Kind::Public, &error),
             std::optional<QByteArray>(pair.publicKey));
    QVERIFY(!CurveKeys::parseFile(publicPart, CurveKeys::Kind::Secret, &error));
}

void tst_CurveKeys::readFile()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(QStringLiteral("proxy.key_secret"));
    QVERIFY(writeFile(path, pyzmqCertificate(kPublic, kSecret)));
    QString error;
    QCOMPARE(CurveKeys::readFile(path, CurveKeys::Kind::Secret, &error), std::optional<QByteArray>(kSecret));

    const QString missing = dir.filePath(QStringLiteral("missing.key"));
    QVERIFY(!CurveKeys::readFile(missing, CurveKeys::Kind::Secret, &error));
    QVERIFY2(error.startsWith(missing + QStringLiteral(": cannot read: ")), qPrintable(error));

    const QString bad = dir.filePath(QStringLiteral("bad.key"));
    QVERIFY(writeFile(bad, "not a key\n"));
    QVERIFY(!CurveKeys::readFile(bad, CurveKeys::Kind::Secret, &error));
    QCOMPARE(error, bad + QStringLiteral(": not a CURVE key: 9 characters, expected 40 (Z85)"));

    const QString huge = dir.filePath(QStringLiteral("huge.key"));
    QVERIFY(writeFile(huge, QByteArray(100000, 'a')));
    QVERIFY(!CurveKeys::readFile(huge, CurveKeys::Kind::Public, &error));
    QCOMPARE(error, huge + QStringLiteral(": not a key file (100000 bytes)"));

    QVERIFY(!CurveKeys::readFile(dir.path(), CurveKeys::Kind::Public, &error));
    QVERIFY2(error.startsWith(dir.path() + QStringLiteral(": ")), qPrintable(error));
}

void tst_CurveKeys::readDirectory()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    QString error;
    // Empty: no keys, no error (keys may come later, with SIGHUP).
    auto keys = CurveKeys::readDirectory(dir.path(), &error);
    QVERIFY2(keys, qPrintable(error));
    QVERIFY(keys->isEmpty());

    QVERIFY(writeFile(dir.filePath(QStringLiteral("one.key")), pyzmqCertificate(kPublic)));
    QVERIFY(writeFile(dir.filePath(QStringLiteral("two.key")), kOtherPublic + "\n"));
    // Not read: secret certificates, other names, hidden files, directories.
    QVERIFY(writeFile(dir.filePath(QStringLiteral("one.key_secret")), "garbage"));
    QVERIFY(writeFile(dir.filePath(QStringLiteral("README")), "garbage"));
    QVERIFY(writeFile(dir.filePath(QStringLiteral("two.key~")), "garbage"));
    QVERIFY(writeFile(dir.filePath(QStringLiteral(".hidden.key")), "garbage"));
    QVERIFY(QDir(dir.path()).mkdir(QStringLiteral("sub.key")));
    // The same key twice counts once.
    QVERIFY(writeFile(dir.filePath(QStringLiteral("again.key")), pyzmqCertificate(kPublic, kSecret)));
    keys = CurveKeys::readDirectory(dir.path(), &error);
    QVERIFY2(keys, qPrintable(error));
    QCOMPARE(*keys, (QSet<QByteArray>{kPublic, kOtherPublic}));
}

void tst_CurveKeys::readDirectoryRejects()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    QString error;
    const QString missing = dir.filePath(QStringLiteral("missing"));
    QVERIFY(!CurveKeys::readDirectory(missing, &error));
    QCOMPARE(error, missing + QStringLiteral(": no such directory"));

    const QString file = dir.filePath(QStringLiteral("file"));
    QVERIFY(writeFile(file, kPublic));
    QVERIFY(!CurveKeys::readDirectory(file, &error));
    QCOMPARE(error, file + QStringLiteral(": not a directory"));

    // One bad *.key spoils the directory, and the error names it.
    QVERIFY(writeFile(dir.filePath(QStringLiteral("good.key")), kPublic));
    const QString bad = dir.filePath(QStringLiteral("bad.key"));
    QVERIFY(writeFile(bad, "curve\n    public-key = \"short\"\n"));
    QVERIFY(!CurveKeys::readDirectory(dir.path(), &error));
    QCOMPARE(error, bad + QStringLiteral(": public-key: not a CURVE key: 5 characters, expected 40 (Z85)"));
}

QTEST_GUILESS_MAIN(tst_CurveKeys)
#include "tst_curvekeys.moc"
