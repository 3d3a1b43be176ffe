#include "httpclient.h"

#include <QDeadlineTimer>
#include <QEventLoop>
#include <QSslConfiguration>
#include <QTimer>

namespace SockJsProxy::Test {

namespace {
QByteArray findHeader(const QList<QPair<QByteArray, QByteArray>> &headers, const QByteArray &name)
{
    for (const auto &header : headers) {
        if (header.first.compare(name, Qt::CaseInsensitive) == 0)
            return header.second;
    }
    return QByteArray();
}
} // namespace

QByteArray HttpClient::Response::header(const QByteArray &name) const { return findHeader(headers, name); }

bool HttpClient::Response::hasHeader(const QByteArray &name) const
{
    for (const auto &h : headers) {
        if (h.first.compare(name, Qt::CaseInsensitive) == 0)
            return true;
    }
    return false;
}

HttpClient::HttpClient(quint16 port, int timeoutMs) : m_port(port), m_timeoutMs(timeoutMs) {}

void HttpClient::useTls(const QList<QSslCertificate> &trusted)
{
    m_tls = true;
    QSslConfiguration configuration = QSslConfiguration::defaultConfiguration();
    configuration.setCaCertificates(trusted);
    m_socket.setSslConfiguration(configuration);
}

bool HttpClient::connectToServer()
{
    if (m_tls && !m_prelude.isEmpty()) {
        // Connected in plain first: the prelude, then the ClientHello.
        QObject::connect(&m_socket, &QTcpSocket::connected, &m_socket, [this] {
            m_socket.write(m_prelude);
            m_socket.startClientEncryption();
        });
        m_socket.setPeerVerifyName(QStringLiteral("127.0.0.1"));
        m_socket.connectToHost(QStringLiteral("127.0.0.1"), m_port);
    } else if (m_tls)
        m_socket.connectToHostEncrypted(QStringLiteral("127.0.0.1"), m_port);
    else
        m_socket.connectToHost(QStringLiteral("127.0.0.1"), m_port);
    const auto ready = [this] {
        return m_socket.state() == QAbstractSocket::ConnectedState && (!m_tls || m_socket.isEncrypted());
    };
    // The server runs on this thread's event loop: wait by spinning it.
    QDeadlineTimer deadline(m_timeoutMs);
    while (!ready() && !deadline.hasExpired()) {
        QEventLoop loop;
        QObject::connect(&m_socket, &QTcpSocket::connected, &loop, &QEventLoop::quit);
        QObject::connect(&m_socket, &QSslSocket::encrypted, &loop, &QEventLoop::quit);
        QObject::connect(&m_socket, &QTcpSocket::errorOccurred, &loop, &QEventLoop::quit);
        QTimer::singleShot(qMax<qint64>(1, deadline.remainingTime()), &loop, &QEventLoop::quit);
        loop.exec();
        if (m_socket.state() == QAbstractSocket::UnconnectedState)
            return false;
    }
    return ready();
}

void HttpClient::write(const QByteArray &bytes)
{
    m_socket.write(bytes);
    m_socket.flush();
}

void HttpClient::sendRequest(const QByteArray &method, const QByteArray &path, const QByteArray &body,
                             const QList<QPair<QByteArray, QByteArray>> &headers, const QByteArray &version)
{
    QByteArray request =
        method + ' ' + path + ' ' + version + "\r\nHost: 127.0.0.1:" + QByteArray::number(m_port) + "\r\n";
    bool hasLength = false;
    for (const auto &header : headers) {
        request += header.first + ": " + header.second + "\r\n";
        if (header.first.compare("Content-Length", Qt::CaseInsensitive) == 0
            || header.first.compare("Transfer-Encoding", Qt::CaseInsensitive) == 0)
            hasLength = true;
    }
    if (!hasLength && (!body.isEmpty() || method == "POST"))
        request += "Content-Length: " + QByteArray::number(body.size()) + "\r\n";
    request += "\r\n" + body;
    write(request);
}

// Spins the event loop until the buffer holds needed bytes (or, with
// needed < 0, until the server closes). False on timeout or close.
bool HttpClient::fill(qsizetype needed)
{
    QDeadlineTimer deadline(m_timeoutMs);
    for (;;) {
        m_buffer += m_socket.readAll();
        if (needed >= 0 && m_buffer.size() >= needed)
            return true;
        if (m_socket.state() != QAbstractSocket::ConnectedState) {
            m_buffer += m_socket.readAll();
            return needed >= 0 && m_buffer.size() >= needed;
        }
        if (deadline.hasExpired())
            return false;
        QEventLoop loop;
        QObject::connect(&m_socket, &QTcpSocket::readyRead, &loop, &QEventLoop::quit);
        QObject::connect(&m_socket, &QTcpSocket::disconnected, &loop, &QEventLoop::quit);
        QTimer::singleShot(qMax<qint64>(1, deadline.remainingTime()), &loop, &QEventLoop::quit);
        loop.exec();
    }
}

QByteArray HttpClient::readLine()
{
    for (;;) {
        const qsizetype end = m_buffer.indexOf("\r\n");
        if (end >= 0) {
            const QByteArray line = m_buffer.left(end);
            m_buffer.remove(0, end + 2);
            return line;
        }
        if (!fill(m_buffer.size() + 1))
            return QByteArray();
    }
}

HttpClient::Response HttpClient::readHead()
{
    Response response;
    const QByteArray statusLine = readLine();
    const QList<QByteArray> parts = statusLine.split(' ');
    if (parts.size() < 2)
        return response;
    response.version = parts.at(0);
    response.status = parts.at(1).toInt();
    response.reason = statusLine.mid(parts.at(0).size() + parts.at(1).size() + 2).trimmed();
    for (;;) {
        if (m_buffer.startsWith("\r\n")) {
            m_buffer.remove(0, 2);
            break;
        }
        const QByteArray line = readLine();
        if (line.isNull())
            return response;
        if (line.isEmpty())
            break;
        const qsizetype colon = line.indexOf(':');
        response.headers.append({line.left(colon).trimmed(), line.mid(colon + 1).trimmed()});
    }
    response.ok = true;
    return response;
}

QByteArray HttpClient::readChunk()
{
    const QByteArray sizeLine = readLine();
    if (sizeLine.isNull())
        return QByteArray();
    bool ok = false;
    const qsizetype size = sizeLine.split(';').first().trimmed().toLongLong(&ok, 16);
    if (!ok)
        return QByteArray();
    if (!fill(size + 2))
        return QByteArray();
    QByteArray data = m_buffer.left(size);
    m_buffer.remove(0, size + 2);
    if (size == 0)
        return QByteArray(""); // the terminating chunk: empty, not null
    return data;
}

bool HttpClient::readChunksUntil(QByteArray *received, const QByteArray &needle)
{
    while (!received->contains(needle)) {
        const QByteArray chunk = readChunk();
        if (chunk.isEmpty()) // null: timeout; empty: the stream ended
            return false;
        *received += chunk;
    }
    return true;
}

QByteArray HttpClient::unread()
{
    m_buffer += m_socket.readAll();
    return m_buffer;
}

QByteArray HttpClient::readBytes(qsizetype n)
{
    if (!fill(n))
        return QByteArray();
    const QByteArray data = m_buffer.left(n);
    m_buffer.remove(0, n);
    return data;
}

bool HttpClient::waitForClose()
{
    fill(-1);
    return m_socket.state() != QAbstractSocket::ConnectedState;
}

HttpClient::Response HttpClient::readResponse()
{
    Response response = readHead();
    if (!response.ok)
        return response;
    if (response.status == 204 || response.status == 304 || response.status < 200)
        return response;
    if (response.header("Transfer-Encoding").toLower() == "chunked") {
        for (;;) {
            const QByteArray chunk = readChunk();
            if (chunk.isNull()) {
                response.ok = false;
                return response;
            }
            if (chunk.isEmpty())
                break;
            response.chunks.append(chunk);
            response.body += chunk;
        }
        return response;
    }
    const QByteArray length = response.header("Content-Length");
    if (!length.isNull()) {
        response.body = readBytes(length.toLongLong());
        response.ok = !response.body.isNull() || length.toLongLong() == 0;
        if (response.body.isNull())
            response.body = QByteArray("");
        return response;
    }
    waitForClose();
    response.body = m_buffer;
    m_buffer.clear();
    return response;
}

HttpClient::Response HttpClient::request(quint16 port, const QByteArray &method, const QByteArray &path,
                                         const QByteArray &body, const QList<QPair<QByteArray, QByteArray>> &headers)
{
    HttpClient client(port);
    if (!client.connectToServer())
        return Response();
    client.sendRequest(method, path, body, headers);
    return client.readResponse();
}

} // namespace SockJsProxy::Test
