#pragma once

#include <QByteArray>
#include <QList>
#include <QPair>
#include <QSslCertificate>
#include <QSslSocket>

namespace SockJsProxy::Test {

// A deliberately raw HTTP/1.x client for protocol tests: writes exactly the
// bytes given and reads exactly what the server sends, so tests can compare
// heads, chunks and bodies byte for byte. Every read waits at most timeoutMs
// (the SockJS suite allows 1 s for each expected byte to arrive).
class HttpClient
{
public:
    struct Response
    {
        bool ok = false;    // a complete status line and head were read
        QByteArray version; // "HTTP/1.1"
        int status = 0;
        QByteArray reason; // "OK", "Unauthorized"
        QList<QPair<QByteArray, QByteArray>> headers;
        QByteArray body;          // de-chunked; for streams only what was read
        QList<QByteArray> chunks; // each chunk as sent (chunked responses)

        QByteArray header(const QByteArray &name) const; // null when absent
        bool hasHeader(const QByteArray &name) const;
    };

    explicit HttpClient(quint16 port, int timeoutMs = 3000);

    // HTTPS: connectToServer() then also completes a TLS handshake, trusting
    // the certificates given (a test's self-signed one). Call first.
    void useTls(const QList<QSslCertificate> &trusted);
    // With useTls(): bytes written in plain before the TLS handshake starts
    // (a PROXY protocol header).
    void setPlainPrelude(const QByteArray &bytes) { m_prelude = bytes; }
    bool connectToServer();
    QTcpSocket &socket() { return m_socket; }
    QSslSocket &sslSocket() { return m_socket; }

    // Writes raw bytes.
    void write(const QByteArray &bytes);
    // Builds and writes a request; body gets a Content-Length unless headers have one.
    void sendRequest(const QByteArray &method, const QByteArray &path, const QByteArray &body = QByteArray(),
                     const QList<QPair<QByteArray, QByteArray>> &headers = {}, const QByteArray &version = "HTTP/1.1");

    // Reads a whole response: Content-Length, chunked to the last chunk, or
    // until the server closes (when neither). HEAD-less.
    Response readResponse();
    // Reads only the status line and headers (for streams).
    Response readHead();
    // After readHead() on a chunked stream: the next chunk's data (empty QByteArray
    // for the terminating chunk), or a null QByteArray on timeout.
    QByteArray readChunk();
    // After readHead() on a chunked stream: reads chunks, appending their
    // data to *received, until *received contains needle. False when the
    // stream ends or a chunk times out first.
    bool readChunksUntil(QByteArray *received, const QByteArray &needle);
    // Reads exactly n bytes (raw streams), null on timeout.
    QByteArray readBytes(qsizetype n);
    // What has arrived and was not read yet, without waiting and without
    // consuming it (for tests that keep many connections going at once).
    QByteArray unread();
    // True when the server closes the connection within the timeout.
    bool waitForClose();

    // One request on a fresh connection, response read completely.
    static Response request(quint16 port, const QByteArray &method, const QByteArray &path,
                            const QByteArray &body = QByteArray(),
                            const QList<QPair<QByteArray, QByteArray>> &headers = {});

private:
    bool fill(qsizetype needed);
    QByteArray readLine();

    QSslSocket m_socket; // in UnencryptedMode unless useTls()
    bool m_tls = false;
    QByteArray m_prelude;
    quint16 m_port;
    int m_timeoutMs;
    QByteArray m_buffer;
};

} // namespace SockJsProxy::Test
