#include "tlsacceptor.h"

#include "base/logging.h"

#include <QBasicTimer>
#include <QSslSocket>
#include <QTimerEvent>

#include <optional>

namespace SockJsProxy {

// One handshake in progress: owns its socket until it is encrypted (then
// hands it over through TlsAcceptor::encrypted()) or fails or times out
// (then aborts and deletes it). Deletes itself when done.
class PendingHandshake final : public QObject
{
public:
    PendingHandshake(QSslSocket *socket, TlsAcceptor *acceptor) : QObject(acceptor), m_socket(socket)
    {
        socket->setParent(this);
        m_timer.start(acceptor->m_handshakeTimeoutMs, this);
        connect(socket, &QSslSocket::encrypted, this, &PendingHandshake::onEncrypted);
        connect(socket, &QAbstractSocket::errorOccurred, this,
                [this](QAbstractSocket::SocketError) { fail(m_socket->errorString()); });
        connect(socket, &QAbstractSocket::disconnected, this, [this] { fail(QStringLiteral("closed by the client")); });
        socket->setSslConfiguration(acceptor->m_configuration);
        if (socket->state() != QAbstractSocket::ConnectedState) {
            // Gone between accept() and now: nothing to count.
            m_done = true;
            deleteLater();
            return;
        }
        if (!acceptor->m_proxyProtocol) {
            socket->startServerEncryption();
            return;
        }
        // The PROXY header first, on the plain socket (UnencryptedMode:
        // peek() and skip() see the raw bytes); the handshake then starts on
        // the bytes after it, some of which may already be buffered.
        m_proxyReader.emplace();
        connect(socket, &QIODevice::readyRead, this, &PendingHandshake::onPlainReadyRead);
        if (socket->bytesAvailable() > 0)
            QMetaObject::invokeMethod(this, &PendingHandshake::onPlainReadyRead, Qt::QueuedConnection);
    }

protected:
    void timerEvent(QTimerEvent *event) override
    {
        if (event->timerId() != m_timer.timerId())
            return QObject::timerEvent(event);
        if (m_done)
            return;
        if (m_proxyReader) {
            refuseProxyHeader(Connection::ProxyRefusal::Incomplete, "no complete PROXY header in time");
            return;
        }
        qCDebug(lcHttp).noquote() << peer() << "TLS handshake not completed in time";
        finish();
        Q_EMIT acceptor()->handshakeTimedOut();
    }

private:
    TlsAcceptor *acceptor() const { return static_cast<TlsAcceptor *>(parent()); }
    QString peer() const
    {
        return m_socket->peerAddress().toString() + QLatin1Char(':') + QString::number(m_socket->peerPort());
    }

    void onPlainReadyRead()
    {
        if (m_done || !m_proxyReader)
            return;
        switch (m_proxyReader->read(m_socket)) {
        case ProxyHeaderReader::Status::NeedMore:
            return;
        case ProxyHeaderReader::Status::Error:
            refuseProxyHeader(m_proxyReader->isMissing() ? Connection::ProxyRefusal::Missing
                                                         : Connection::ProxyRefusal::Malformed,
                              m_proxyReader->errorReason());
            return;
        case ProxyHeaderReader::Status::Done:
            break;
        }
        m_proxyHeader = m_proxyReader->header();
        m_proxyReader.reset();
        disconnect(m_socket, &QIODevice::readyRead, this, &PendingHandshake::onPlainReadyRead);
        m_socket->startServerEncryption();
    }

    void refuseProxyHeader(Connection::ProxyRefusal refusal, const QByteArray &reason)
    {
        const QHostAddress address = m_socket->peerAddress();
        const quint16 port = m_socket->peerPort();
        qCDebug(lcHttp).noquote() << peer() << "PROXY header refused:" << QString::fromLatin1(reason);
        m_proxyReader.reset();
        finish();
        Q_EMIT acceptor()->proxyHeaderRefused(refusal, reason, address, port);
    }

    void onEncrypted()
    {
        if (m_done)
            return;
        m_done = true;
        m_timer.stop();
        m_socket->disconnect(this);
        m_socket->setParent(nullptr);
        deleteLater();
        Q_EMIT acceptor()->encrypted(m_socket, m_proxyHeader ? &*m_proxyHeader : nullptr);
    }

    void fail(const QString &reason)
    {
        if (m_done)
            return;
        if (m_proxyReader) {
            // Before the PROXY header was complete: counted as such, unless
            // nothing came at all (a balancer's plain TCP check).
            if (m_proxyReader->hasStarted())
                refuseProxyHeader(Connection::ProxyRefusal::Incomplete, "closed before the PROXY header was complete");
            else
                finish();
            return;
        }
        qCDebug(lcHttp).noquote() << peer() << "TLS handshake failed:" << reason;
        finish();
        Q_EMIT acceptor()->handshakeFailed(reason);
    }

    // Aborts the socket; deleted with this object, after the signal that
    // got here has returned.
    void finish()
    {
        m_done = true;
        m_timer.stop();
        m_socket->disconnect(this);
        m_socket->abort();
        deleteLater();
    }

    QSslSocket *m_socket;
    QBasicTimer m_timer;
    std::optional<ProxyHeaderReader> m_proxyReader;            // while the PROXY header is due
    std::optional<ProxyProtocolDecoder::Header> m_proxyHeader; // once it was read
    bool m_done = false;
};

TlsAcceptor::TlsAcceptor(const TlsCredentials &credentials, int handshakeTimeoutMs, QObject *parent)
    : QObject(parent), m_handshakeTimeoutMs(handshakeTimeoutMs)
{
    setCredentials(credentials);
}

TlsAcceptor::~TlsAcceptor() = default;

void TlsAcceptor::setCredentials(const TlsCredentials &credentials)
{
    m_credentials = credentials;
    m_configuration = credentials.serverConfiguration();
}

bool TlsAcceptor::reload(QString *error)
{
    const std::optional<TlsCredentials> credentials = TlsCredentials::load(m_credentials.files(), error);
    if (!credentials)
        return false;
    setCredentials(*credentials);
    return true;
}

void TlsAcceptor::handshake(QSslSocket *socket) { new PendingHandshake(socket, this); }

int TlsAcceptor::pending() const
{
    return int(findChildren<PendingHandshake *>(QString(), Qt::FindDirectChildrenOnly).size());
}

void SslTcpServer::incomingConnection(qintptr descriptor)
{
    if (!m_tlsSockets)
        return QTcpServer::incomingConnection(descriptor);
    auto *socket = new QSslSocket(this);
    if (!socket->setSocketDescriptor(descriptor)) {
        qCWarning(lcHttp).noquote() << "cannot use an accepted connection:" << socket->errorString();
        delete socket;
        return;
    }
    addPendingConnection(socket);
}

} // namespace SockJsProxy
