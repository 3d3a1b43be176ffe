// ProxyHeaderReader: a PROXY header read from a sequential device that gets
// its bytes in pieces, as a socket does. Only the header may be taken from
// the device; what follows it (a request, a TLS ClientHello) stays unread.

#include "http/proxyheaderreader.h"

#include <QIODevice>
#include <QTest>

using namespace SockJsProxy;

namespace {

using Status = ProxyHeaderReader::Status;

const QByteArray kV2Signature("\r\n\r\n\0\r\nQUIT\n", 12);

QByteArray be16(int value) { return QByteArray(1, char((value >> 8) & 0xff)) + char(value & 0xff); }

// v2 PROXY TCP4 192.0.2.1:56324 -> 198.51.100.2:443 with one TLV (ALPN).
const QByteArray kV2Tcp4 = kV2Signature + "\x21\x11" + be16(12 + 3 + 2) + QByteArray("\xc0\x00\x02\x01", 4)
                           + QByteArray("\xc6\x33\x64\x02", 4) + be16(56324) + be16(443) + "\x01" + be16(2) + "h2";
const QByteArray kV2Local = kV2Signature + QByteArray("\x20\x00", 2) + be16(0);
const QByteArray kV1Tcp6 = "PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n";
const QByteArray kRequest = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
const QByteArray kClientHello("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);

// A sequential device whose bytes arrive when the test says so (a socket
// without the network): QIODevice buffers what peek() reads, as it does
// for a QTcpSocket.
class Pipe : public QIODevice
{
public:
    Pipe() { open(QIODevice::ReadOnly); }
    void arrive(const QByteArray &bytes) { m_pending += bytes; }
    bool isSequential() const override { return true; }
    qint64 bytesAvailable() const override { return m_pending.size() + QIODevice::bytesAvailable(); }

protected:
    qint64 readData(char *data, qint64 maxSize) override
    {
        const qint64 n = qMin<qint64>(maxSize, m_pending.size());
        if (data && n > 0) // null: the bytes are skipped
            memcpy(data, m_pending.constData(), size_t(n));
        m_pending.remove(0, n);
        return n;
    }
    qint64 writeData(const char *, qint64) override { return -1; }

private:
    QByteArray m_pending;
};

} // namespace

class tst_ProxyHeaderReader : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void read_data();
    void read();
    void nothingYet();
    void finalAfterDone();
};

void tst_ProxyHeaderReader::read_data()
{
    QTest::addColumn<QByteArray>("header");
    QTest::addColumn<QByteArray>("after");
    QTest::addColumn<int>("piece");
    QTest::addColumn<Status>("status");
    QTest::addColumn<bool>("missing");

    const QList<int> pieces{1, 5, 4096};
    for (const int piece : pieces) {
        const QByteArray n = " / " + QByteArray::number(piece);
        QTest::newRow("v2 tcp4, request" + n) << kV2Tcp4 << kRequest << piece << Status::Done << false;
        QTest::newRow("v2 tcp4, ClientHello" + n) << kV2Tcp4 << kClientHello << piece << Status::Done << false;
        QTest::newRow("v2 local, request" + n) << kV2Local << kRequest << piece << Status::Done << false;
        QTest::newRow("v1 tcp6, request" + n) << kV1Tcp6 << kRequest << piece << Status::Done << false;
        QTest::newRow("v1 tcp6, ClientHello" + n) << kV1Tcp6 << kClientHello << piece << Status::Done << false;
        QTest::newRow("v1 unknown, nothing" + n)
            << QByteArray("PROXY UNKNOWN\r\n") << QByteArray() << piece << Status::Done << false;
        QTest::newRow("no header: request" + n) << QByteArray() << kRequest << piece << Status::Error << true;
        QTest::newRow("no header: ClientHello" + n) << QByteArray() << kClientHello << piece << Status::Error << true;
        QTest::newRow("v1 bad port" + n) << QByteArray() << "PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n" + kRequest << piece
                                         << Status::Error << false;
        QTest::newRow("v2 version 1" + n)
            << QByteArray() << kV2Signature + "\x11\x11" + be16(0) + kRequest << piece << Status::Error << false;
    }
}

void tst_ProxyHeaderReader::read()
{
    QFETCH(QByteArray, header);
    QFETCH(QByteArray, after);
    QFETCH(int, piece);
    QFETCH(Status, status);
    QFETCH(bool, missing);

    const QByteArray input = header + after;
    Pipe pipe;
    ProxyHeaderReader reader;
    Status result = Status::NeedMore;
    int reads = 0;
    for (qsizetype at = 0; at < input.size() && result == Status::NeedMore; at += piece) {
        pipe.arrive(input.sliced(at, qMin<qsizetype>(piece, input.size() - at)));
        result = reader.read(&pipe);
        ++reads;
        QVERIFY(reader.hasStarted());
    }
    QCOMPARE(result, status);
    QCOMPARE(reader.status(), status);
    const QByteArray arrived = input.first(qMin<qsizetype>(input.size(), reads * qsizetype(piece)));
    if (status == Status::Done) {
        // Read as soon as its last byte arrived; the header was taken, and nothing else.
        QCOMPARE(reads, int((header.size() + piece - 1) / piece));
        QCOMPARE(reader.errorReason(), QByteArray());
        QCOMPARE(pipe.readAll(), arrived.sliced(header.size()));
    } else {
        // Nothing at all was taken: the device is as it came.
        QCOMPARE(reader.isMissing(), missing);
        QVERIFY(!reader.errorReason().isEmpty());
        QCOMPARE(pipe.readAll(), arrived);
    }
}

void tst_ProxyHeaderReader::nothingYet()
{
    Pipe pipe;
    ProxyHeaderReader reader;
    QCOMPARE(reader.read(&pipe), Status::NeedMore);
    QVERIFY(!reader.hasStarted());
    pipe.arrive("PROXY TCP4 192.0.2.1 ");
    QCOMPARE(reader.read(&pipe), Status::NeedMore);
    QVERIFY(reader.hasStarted());
    QCOMPARE(reader.read(&pipe), Status::NeedMore); // nothing new
    pipe.arrive("198.51.100.2 56324 443\r\n");
    QCOMPARE(reader.read(&pipe), Status::Done);
    QCOMPARE(reader.header().version, 1);
    QVERIFY(reader.header().hasAddresses);
    QCOMPARE(reader.header().source, QHostAddress(QStringLiteral("192.0.2.1")));
    QCOMPARE(reader.header().sourcePort, quint16(56324));
    QCOMPARE(reader.header().destination, QHostAddress(QStringLiteral("198.51.100.2")));
    QCOMPARE(reader.header().destinationPort, quint16(443));
    QCOMPARE(pipe.bytesAvailable(), qint64(0));
}

void tst_ProxyHeaderReader::finalAfterDone()
{
    Pipe pipe;
    pipe.arrive(kV2Local + kV2Local);
    ProxyHeaderReader reader;
    QCOMPARE(reader.read(&pipe), Status::Done);
    QVERIFY(reader.header().local);
    // A second call reads nothing more: the second header is the application's.
    QCOMPARE(reader.read(&pipe), Status::Done);
    QCOMPARE(pipe.readAll(), kV2Local);
}

QTEST_GUILESS_MAIN(tst_ProxyHeaderReader)
#include "tst_proxyheaderreader.moc"
