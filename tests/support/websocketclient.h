#pragma once

#include "waituntil.h"

#include <QByteArray>
#include <QList>
#include <QObject>
#include <QPair>
#include <QSslCertificate>
#include <QStringList>
#include <QWebSocket>

namespace SockJsProxy::Test {

// A WebSocket client for tests (QWebSocket on 127.0.0.1) that records
// everything it receives: every text and binary message in order, whether the
// connection ended, and how (close code and reason). SockJS helpers on top:
// the open frame, message frames sent and decoded, heartbeats left out.
// Every wait spins the event loop and gives up after timeoutMs.
class WebSocketClient : public QObject
{
public:
    using Headers = QList<QPair<QByteArray, QByteArray>>;

    // origin: the Origin header of the handshake (none when empty).
    explicit WebSocketClient(const QString &origin = QString());

    // wss:// from now on, trusting the certificates given (a test's
    // self-signed one).
    void useTls(const QList<QSslCertificate> &trusted);

    // Starts the handshake with ws://127.0.0.1:port + path and returns at
    // once; headers are added to the handshake request.
    void open(quint16 port, const QByteArray &path, const Headers &headers = {});
    // open(), then waits for the handshake: true when it succeeded (even if
    // the server has closed the connection again since).
    bool connectTo(quint16 port, const QByteArray &path, const Headers &headers = {}, int timeoutMs = kDefaultWaitMs);
    // SockJS: open(), then waits for the first frame: true when it is the
    // open frame "o".
    bool openSession(quint16 port, const QByteArray &path, const Headers &headers = {}, int timeoutMs = kDefaultWaitMs);

    void sendText(const QString &text);
    // SockJS: one frame carrying these messages, ["m1","m2",...].
    void send(const QStringList &messages);
    // Closes (1000) and waits until the connection is gone.
    bool closeAndWait(int timeoutMs = kDefaultWaitMs);

    QWebSocket &socket() { return m_socket; }
    const QWebSocket &socket() const { return m_socket; }

    // The text messages received, in order: as sent, and as UTF-8.
    const QStringList &texts() const { return m_texts; }
    const QList<QByteArray> &frames() const { return m_frames; }
    const QList<QByteArray> &binaryMessages() const { return m_binaryMessages; }
    // True once the handshake succeeded (QWebSocket::connected).
    bool hasConnected() const { return m_connected; }
    // True once the connection ended (QWebSocket::disconnected).
    bool isDisconnected() const { return m_disconnected; }
    // True once the socket reported an error (a refused handshake, say).
    bool hasError() const { return m_error; }
    int closeCode() const { return int(m_socket.closeCode()); }
    QString closeReason() const { return m_socket.closeReason(); }

    // SockJS: the first frame was the open frame "o".
    bool hasOpenFrame() const { return m_frames.value(0) == "o"; }
    // SockJS: the frames without heartbeats ("h").
    QList<QByteArray> significantFrames() const;
    // SockJS: the strings of every message frame, in order.
    QStringList messages() const;

    // Waits until count text messages (frames) arrived; false when the
    // connection ends first.
    bool waitForFrames(qsizetype count, int timeoutMs = kDefaultWaitMs);
    // SockJS: waits until count messages arrived (in any number of frames).
    bool waitForMessages(qsizetype count, int timeoutMs = kDefaultWaitMs);
    // SockJS: waits until this message arrived.
    bool waitForMessage(const QString &message, int timeoutMs = kDefaultWaitMs);
    bool waitForDisconnect(int timeoutMs = kDefaultWaitMs);

private:
    QWebSocket m_socket;
    QStringList m_texts;
    QList<QByteArray> m_frames;
    QList<QByteArray> m_binaryMessages;
    bool m_connected = false;
    bool m_disconnected = false;
    bool m_error = false;
    bool m_tls = false;
};

} // namespace SockJsProxy::Test
