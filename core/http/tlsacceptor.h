#pragma once

#include "http/connection.h"
#include "http/proxyheaderreader.h"
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
// With setProxyProtocol(true) every connection must begin with a PROXY
// protocol header (v1 or v2, from a load balancer), which comes before the
// TLS handshake: it is read from the plain socket, exactly its bytes
// (ProxyHeaderReader), and only then does the handshake start, on what
// follows. The header and the handshake share the one timeout. A
// connection without a valid header is aborted and proxyHeaderRefused()
// fires (not for a peer that leaves without sending a byte: a balancer's
// plain TCP check). Which peers may send one is the caller's to check.
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

    void setProxyProtocol(bool on) { m_proxyProtocol = on; }
    bool proxyProtocol() const { return m_proxyProtocol; }

    // Takes socket (parented to the acceptor until the handshake is over).
    void handshake(QSslSocket *socket);
    // Handshakes in progress.
    int pending() const;

Q_SIGNALS:
    // The handshake of socket completed. The socket has no parent: the slot
    // takes it at once. proxyHeader: the PROXY header that came first (with
    // setProxyProtocol(true)), valid during the emission; null without.
    void encrypted(QSslSocket *socket, const SockJsProxy::ProxyProtocolDecoder::Header *proxyHeader);
    // No valid PROXY header came first: the connection from peer is closed.
    void proxyHeaderRefused(SockJsProxy::Connection::ProxyRefusal refusal, const QByteArray &reason,
                            const QHostAddress &peer, quint16 peerPort);
    void handshakeFailed(const QString &reason);
    void handshakeTimedOut();

private:
    friend class PendingHandshake;

    TlsCredentials m_credentials;
    QSslConfiguration m_configuration; // m_credentials' server configuration
    int m_handshakeTimeoutMs;
    bool m_proxyProtocol = false;
};

// A QTcpServer whose accepted connections, with setTlsSockets(true), are
// QSslSocket objects in UnencryptedMode (nextPendingConnection() returns
// them as QTcpSocket): plain sockets until TlsAcceptor::handshake() is
// called on them. Without, a QTcpServer like any other.
class SslTcpServer : public QTcpServer
{
    Q_OBJECT

public:
    using QTcpServer::QTcpServer;
    void setTlsSockets(bool on) { m_tlsSockets = on; }

protected:
    void incomingConnection(qintptr descriptor) override;

private:
    bool m_tlsSockets = false;
};

} // namespace SockJsProxy
