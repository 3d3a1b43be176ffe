#pragma once

#include "http/tlscredentials.h"

#include <QObject>
#include <QTcpServer>

class QSslSocket;

namespace SockJsProxy {

// The server side of TLS handshakes on accepted connections: HTTPS and WSS
// on a listening port (http.tls; the control endpoint's --control-tls-*).
//
// handshake() takes a connected QSslSocket still in UnencryptedMode (what
// SslTcpServer accepts), starts the server handshake with the current
// credentials, and emits encrypted() once it completed. A handshake must
// complete within handshakeTimeoutMs of handshake() (the port's
// request_timeout_ms), so that a client that sends nothing, or half a
// ClientHello, cannot hold a socket: it is aborted and handshakeTimedOut()
// fires. A handshake that fails (not TLS, no common protocol version, the
// peer gave up) is aborted and handshakeFailed() fires.
//
// setCredentials() and reload() change the certificate and key of the
// handshakes that start afterwards; connections already encrypted keep
// theirs and are not touched. The acceptor owns the sockets whose
// handshake is in progress; deleting it aborts them.
class TlsAcceptor : public QObject
{
    Q_OBJECT

public:
    TlsAcceptor(const TlsCredentials &credentials, int handshakeTimeoutMs, QObject *parent = nullptr);
    ~TlsAcceptor() override;

    const TlsCredentials &credentials() const { return m_credentials; }
    void setCredentials(const TlsCredentials &credentials);
    // Reads the current credentials' files again. When they cannot be used
    // the credentials in use stay, and *error says why.
    bool reload(QString *error);

    // Takes socket (parented to the acceptor until the handshake is over).
    void handshake(QSslSocket *socket);
    // Handshakes in progress.
    int pending() const;

Q_SIGNALS:
    // The handshake of socket completed. The socket has no parent: the slot
    // takes it at once.
    void encrypted(QSslSocket *socket);
    void handshakeFailed(const QString &reason);
    void handshakeTimedOut();

private:
    friend class PendingHandshake;

    TlsCredentials m_credentials;
    QSslConfiguration m_configuration; // m_credentials' server configuration
    int m_handshakeTimeoutMs;
};

// A QTcpServer whose accepted connections are QSslSocket objects in
// UnencryptedMode (nextPendingConnection() returns them as QTcpSocket):
// plain sockets until TlsAcceptor::handshake() is called on them.
class SslTcpServer : public QTcpServer
{
    Q_OBJECT

public:
    using QTcpServer::QTcpServer;

protected:
    void incomingConnection(qintptr descriptor) override;
};

} // namespace SockJsProxy
