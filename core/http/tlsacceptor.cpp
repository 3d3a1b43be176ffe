#include "tlsacceptor.h"

#include "base/logging.h"

#include <QBasicTimer>
#include <QPointer>
#include <QSslSocket>
#include <QTimerEvent>

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
        socket->startServerEncryption();
    }

protected:
    void timerEvent(QTimerEvent *event) override
    {
        if (event->timerId() != m_timer.timerId())
            return QObject::timerEvent(event);
        if (m_done)
            return;
        finish();
        qCDebug(lcHttp).noquote() << peer() << "TLS handshake not completed in time";
        Q_EMIT acceptor()->handshakeTimedOut();
    }

private:
    TlsAcceptor *acceptor() const { return static_cast<TlsAcceptor *>(parent()); }
    QString peer() const
    {
        return m_socket->peerAddress().toString() + QLatin1Char(':') + QString::number(m_socket->peerPort());
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
        Q_EMIT acceptor()->encrypted(m_socket);
    }

    void fail(const QString &reason)
    {
        if (m_done)
            return;
        finish();
        qCDebug(lcHttp).noquote() << peer() << "TLS handshake failed:" << reason;
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
    auto *socket = new QSslSocket(this);
    if (!socket->setSocketDescriptor(descriptor)) {
        qCWarning(lcHttp).noquote() << "cannot use an accepted connection:" << socket->errorString();
        delete socket;
        return;
    }
    addPendingConnection(socket);
}

} // namespace SockJsProxy
