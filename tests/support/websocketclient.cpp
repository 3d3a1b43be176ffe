#include "websocketclient.h"

#include "sockjsframes.h"

#include <QNetworkRequest>
#include <QSslConfiguration>
#include <QUrl>

namespace SockJsProxy::Test {

WebSocketClient::WebSocketClient(const QString &origin) : m_socket(origin)
{
    connect(&m_socket, &QWebSocket::textMessageReceived, this, [this](const QString &message) {
        m_texts.append(message);
        m_frames.append(message.toUtf8());
    });
    connect(&m_socket, &QWebSocket::binaryMessageReceived, this,
            [this](const QByteArray &message) { m_binaryMessages.append(message); });
    connect(&m_socket, &QWebSocket::connected, this, [this] { m_connected = true; });
    connect(&m_socket, &QWebSocket::disconnected, this, [this] { m_disconnected = true; });
#if QT_VERSION >= QT_VERSION_CHECK(6, 5, 0)
    connect(&m_socket, &QWebSocket::errorOccurred, this, [this] { m_error = true; });
#else
    connect(&m_socket, qOverload<QAbstractSocket::SocketError>(&QWebSocket::error), this, [this] { m_error = true; });
#endif
}

void WebSocketClient::useTls(const QList<QSslCertificate> &trusted)
{
    m_tls = true;
    QSslConfiguration configuration = QSslConfiguration::defaultConfiguration();
    configuration.setCaCertificates(trusted);
    m_socket.setSslConfiguration(configuration);
}

void WebSocketClient::open(quint16 port, const QByteArray &path, const Headers &headers)
{
    QNetworkRequest request(QUrl(QStringLiteral("%1://127.0.0.1:%2%3")
                                     .arg(m_tls ? QStringLiteral("wss") : QStringLiteral("ws"))
                                     .arg(port)
                                     .arg(QString::fromLatin1(path))));
    for (const auto &header : headers)
        request.setRawHeader(header.first, header.second);
    m_socket.open(request);
}

bool WebSocketClient::connectTo(quint16 port, const QByteArray &path, const Headers &headers, int timeoutMs)
{
    open(port, path, headers);
    return waitUntil([this] { return m_connected || m_disconnected || m_error; }, timeoutMs) && m_connected;
}

bool WebSocketClient::openSession(quint16 port, const QByteArray &path, const Headers &headers, int timeoutMs)
{
    open(port, path, headers);
    return waitUntil([this] { return !m_frames.isEmpty() || m_disconnected; }, timeoutMs) && hasOpenFrame();
}

void WebSocketClient::sendText(const QString &text) { m_socket.sendTextMessage(text); }

void WebSocketClient::send(const QStringList &messages)
{
    m_socket.sendTextMessage(QString::fromUtf8(sockJsMessages(messages)));
}

bool WebSocketClient::closeAndWait(int timeoutMs)
{
    if (!m_disconnected)
        m_socket.close();
    return waitForDisconnect(timeoutMs);
}

QList<QByteArray> WebSocketClient::significantFrames() const
{
    QList<QByteArray> result = m_frames;
    result.removeAll("h");
    return result;
}

QStringList WebSocketClient::messages() const { return decodedMessages(m_frames); }

bool WebSocketClient::waitForFrames(qsizetype count, int timeoutMs)
{
    return waitUntil([&] { return m_frames.size() >= count || m_disconnected; }, timeoutMs) && m_frames.size() >= count;
}

bool WebSocketClient::waitForMessages(qsizetype count, int timeoutMs)
{
    return waitUntil([&] { return messages().size() >= count || m_disconnected; }, timeoutMs)
           && messages().size() >= count;
}

bool WebSocketClient::waitForMessage(const QString &message, int timeoutMs)
{
    return waitUntil([&] { return messages().contains(message) || m_disconnected; }, timeoutMs)
           && messages().contains(message);
}

bool WebSocketClient::waitForDisconnect(int timeoutMs)
{
    return waitUntil([this] { return m_disconnected; }, timeoutMs);
}

} // namespace SockJsProxy::Test
