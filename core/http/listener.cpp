#include "listener.h"

#include "base/logging.h"
#include "base/openfiles.h"
#include "tlsacceptor.h"

#include <QPointer>
#include <QSocketNotifier>
#include <QSslSocket>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>
#include <QTimerEvent>

#include <cerrno>
#include <cstring>

#ifdef Q_OS_UNIX
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

namespace SockJsProxy {

namespace {

QByteArray serviceUnavailable(const QByteArray &text)
{
    const QByteArray body = text + '\n';
    return QByteArrayLiteral("HTTP/1.1 503 Service Unavailable\r\n"
                             "Content-Type: text/plain;charset=UTF-8\r\n"
                             "Content-Length: ")
           + QByteArray::number(body.size())
           + QByteArrayLiteral("\r\n"
                               "Retry-After: 5\r\n"
                               "Connection: close\r\n"
                               "\r\n")
           + body;
}

const QByteArray kTooManyConnections = serviceUnavailable("Too many connections");
const QByteArray kOutOfResources = serviceUnavailable("Server busy");

// The most of a refused connection's request read while waiting for the
// end of its head.
constexpr qsizetype kMaxRefusedHead = 16 * 1024;

// A connection over a limit, held until its request head is in (then
// answered 503 and closed) or for kRefusalGraceMs (then closed). Deletes
// itself, and its socket, when done.
class Refusal : public QObject
{
public:
    Refusal(QTcpSocket *socket, QObject *parent) : QObject(parent), m_socket(socket)
    {
        socket->setParent(this);
        connect(socket, &QTcpSocket::readyRead, this, &Refusal::onReadyRead);
        connect(socket, &QTcpSocket::disconnected, this, &QObject::deleteLater);
        m_timer.start(Listener::kRefusalGraceMs, this);
        if (socket->bytesAvailable() > 0)
            onReadyRead();
    }

protected:
    void timerEvent(QTimerEvent *event) override
    {
        if (event->timerId() != m_timer.timerId())
            return QObject::timerEvent(event);
        m_timer.stop();
        m_socket->abort();
        deleteLater();
    }

private:
    void onReadyRead()
    {
        // Only the end of the head matters: keep the last bytes in case it
        // straddles two reads.
        m_seen = m_seen.right(3) + m_socket->readAll();
        m_read += m_seen.size();
        if (m_answered || (!m_seen.contains("\r\n\r\n") && m_read < kMaxRefusedHead))
            return;
        m_answered = true;
        m_socket->write(kTooManyConnections);
        m_socket->disconnectFromHost(); // disconnected() follows once written
    }

    QTcpSocket *m_socket;
    QByteArray m_seen;
    qsizetype m_read = 0;
    QBasicTimer m_timer;
    bool m_answered = false;
};

#ifdef Q_OS_UNIX
int acceptOne(int listening)
{
#ifdef Q_OS_LINUX
    return ::accept4(listening, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
#else
    const int fd = ::accept(listening, nullptr, nullptr);
    if (fd >= 0) {
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    return fd;
#endif
}

bool isResourceError(int error) { return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM; }

// A connection accepted with the reserve descriptor: answered at once if
// its request head is already there, closed either way.
void refuseNow(int fd)
{
    char buffer[4096];
    QByteArray seen;
    for (;;) {
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
        if (n > 0) {
            seen.append(buffer, qsizetype(n));
            if (seen.size() < kMaxRefusedHead)
                continue;
        } else if (n < 0 && errno == EINTR) {
            continue;
        }
        break;
    }
    if (seen.contains("\r\n\r\n")) {
#ifdef MSG_NOSIGNAL
        const int flags = MSG_DONTWAIT | MSG_NOSIGNAL;
#else
        const int flags = MSG_DONTWAIT;
#endif
        while (::send(fd, kOutOfResources.constData(), size_t(kOutOfResources.size()), flags) < 0 && errno == EINTR) {}
    }
    ::close(fd);
}
#endif

} // namespace

// A child of an admitted connection's socket: its destruction, with the
// socket's, is the end of the connection.
class ListenerAdmission final : public QObject
{
public:
    ListenerAdmission(QTcpSocket *socket, Listener *listener, const QHostAddress &client)
        : QObject(socket), m_listener(listener), m_client(client)
    {}
    ~ListenerAdmission() override
    {
        if (m_listener)
            m_listener->release(m_client);
    }

private:
    QPointer<Listener> m_listener;
    QHostAddress m_client;
};

Listener::Listener(const QString &name, const CounterRows &rows, QObject *parent)
    : QObject(parent), m_name(name), m_rows(rows), m_server(new SslTcpServer(this))
{
    m_clock.start();
#ifndef Q_OS_UNIX
    m_server->setMaxPendingConnections(1024);
    connect(m_server, &QTcpServer::newConnection, this, &Listener::onPendingConnections);
    connect(m_server, &QTcpServer::acceptError, this, [this](QAbstractSocket::SocketError error) {
        // QTcpServer paused itself; it would stay paused.
        ++(*m_counters)[m_rows.acceptErrors];
        if (error == QAbstractSocket::SocketResourceError)
            pause(0);
        else
            QTimer::singleShot(AcceptBackoff::kMaxPauseMs, m_server, &QTcpServer::resumeAccepting);
    });
#endif
}

Listener::~Listener() { close(); }

bool Listener::listen(const QHostAddress &address, quint16 port, QString *error)
{
    if (!m_server->listen(address, port)) {
        *error = m_server->errorString();
        return false;
    }
    m_name += QLatin1Char(' ')
              + (address.protocol() == QAbstractSocket::IPv6Protocol
                     ? QLatin1Char('[') + address.toString() + QLatin1Char(']')
                     : address.toString())
              + QLatin1Char(':') + QString::number(serverPort());
#ifdef Q_OS_UNIX
    // QTcpServer's own notifier stays off (see the header): accepting is ours.
    m_server->pauseAccepting();
    m_notifier = new QSocketNotifier(m_server->socketDescriptor(), QSocketNotifier::Read, this);
    connect(m_notifier, &QSocketNotifier::activated, this, &Listener::onReadable);
    openReserve();
#endif
    return true;
}

void Listener::close()
{
    m_pauseTimer.stop();
    // The notifier goes before the descriptor it watches.
    delete m_notifier;
    m_notifier = nullptr;
#ifdef Q_OS_UNIX
    closeReserve();
#endif
    m_server->close();
}

bool Listener::isListening() const { return m_server->isListening(); }

quint16 Listener::serverPort() const { return m_server->serverPort(); }

QHostAddress Listener::serverAddress() const { return m_server->serverAddress(); }

void Listener::setTlsSockets(bool on)
{
    m_tlsSockets = on;
    // Where QTcpServer accepts (not on UNIX), it makes the sockets.
    static_cast<SslTcpServer *>(m_server)->setTlsSockets(on);
}

void Listener::setConnectionLimits(int maxConnections, int maxConnectionsPerAddress)
{
    m_limits.setLimits(maxConnections, maxConnectionsPerAddress);
}

QHostAddress Listener::clientAddress(const QTcpSocket *socket) { return socket->peerAddress(); }

void Listener::admit(QTcpSocket *socket)
{
    const QHostAddress client = clientAddress(socket);
    switch (m_limits.admit(client, m_sharedPeers.contains(client))) {
    case ConnectionLimits::Verdict::Admitted:
        // However the socket ends (a Connection, a QWebSocket, a refusal
        // by a service), its destruction is the end of the connection.
        new ListenerAdmission(socket, this, client);
        Q_EMIT connectionAccepted(socket);
        return;
    case ConnectionLimits::Verdict::OverTotal:
        ++(*m_counters)[Counter::ConnectionsRefusedMaxConnections];
        break;
    case ConnectionLimits::Verdict::OverPerAddress:
        ++(*m_counters)[Counter::ConnectionsRefusedPerAddress];
        break;
    }
    refuseOverLimit(socket);
}

void Listener::refuseOverLimit(QTcpSocket *socket)
{
    if (m_refusals >= kMaxRefusals) {
        socket->abort();
        socket->deleteLater();
        return;
    }
    ++m_refusals;
    auto *refusal = new Refusal(socket, this);
    connect(refusal, &QObject::destroyed, this, [this] { --m_refusals; });
}

void Listener::noteAccepted()
{
    const quint64 refused = m_backoff.refusedInRun();
    const qint64 runMs = m_backoff.succeeded(m_clock.elapsed());
    if (runMs < 0)
        return;
    qCInfo(lcServer).noquote() << QStringLiteral("%1: accepting connections again after %2 ms; %3 connection "
                                                 "attempt(s) refused meanwhile")
                                      .arg(m_name)
                                      .arg(runMs)
                                      .arg(refused);
}

// One back-off period: accepting stops until the pause is over. error is
// the errno of the failed accept() (0: not known, QTcpServer's path).
void Listener::pause(int error)
{
    ++(*m_counters)[m_rows.acceptPauses];
    const qint64 pauseMs = m_backoff.failed(m_clock.elapsed());
    quint64 refused = 0;
#ifdef Q_OS_UNIX
    if (m_notifier)
        m_notifier->setEnabled(false);
    refused = refuseBacklog();
    m_backoff.refused(refused);
    (*m_counters)[m_rows.acceptRefused] += refused;
#endif
    const OpenFilesLimit limit = openFilesLimit();
    const QString reason =
        error == 0 ? QStringLiteral("out of file descriptors or memory")
        : error == EMFILE || error == ENFILE
            ? QStringLiteral("out of file descriptors (%1)").arg(QString::fromLocal8Bit(std::strerror(error)))
            : QStringLiteral("out of memory (%1)").arg(QString::fromLocal8Bit(std::strerror(error)));
    qCWarning(lcServer).noquote() << QStringLiteral("%1: %2, open files limit %3: refused %4 connection attempt(s), "
                                                    "not accepting for %5 ms")
                                         .arg(m_name, reason)
                                         .arg(limit.soft)
                                         .arg(refused)
                                         .arg(pauseMs);
    m_pauseTimer.start(int(pauseMs), this);
}

void Listener::resume()
{
    m_pauseTimer.stop();
#ifdef Q_OS_UNIX
    if (!m_notifier)
        return;
    m_notifier->setEnabled(true);
    openReserve(); // if it could not be had back last time
    onReadable();  // at once: whatever waits gets an answer now
#else
    m_server->resumeAccepting();
#endif
}

void Listener::timerEvent(QTimerEvent *event)
{
    if (event->timerId() != m_pauseTimer.timerId())
        return QObject::timerEvent(event);
    resume();
}

#ifdef Q_OS_UNIX

void Listener::onReadable()
{
    if (!m_notifier || m_pauseTimer.isActive())
        return;
    const int listening = int(m_server->socketDescriptor());
    for (int i = 0; i < kAcceptsPerPass; ++i) {
        const int fd = acceptOne(listening);
        if (fd < 0) {
            const int error = errno;
            if (error == EAGAIN || error == EWOULDBLOCK)
                return; // nothing (more) pending
            if (error != EINTR)
                ++(*m_counters)[m_rows.acceptErrors];
            if (error == EINTR || error == ECONNABORTED || error == EPROTO)
                continue; // that attempt is gone (or never started); the next may be fine
            acceptFailed(error);
            return;
        }
        noteAccepted();
        QTcpSocket *socket = m_tlsSockets ? new QSslSocket(this) : new QTcpSocket(this);
        if (!socket->setSocketDescriptor(qintptr(fd))) {
            qCWarning(lcServer).noquote()
                << m_name + QStringLiteral(": cannot use an accepted connection:") << socket->errorString();
            ::close(fd);
            delete socket;
            continue;
        }
        admit(socket);
        if (!m_notifier)
            return; // a slot closed us
    }
}

void Listener::acceptFailed(int error)
{
    if (isResourceError(error))
        return pause(error);
    // Anything else (a firewall's EPERM, ...) belongs to one attempt: try
    // again on the next readiness, and say so at most once a second.
    if (!m_otherErrorWarning.isValid() || m_otherErrorWarning.elapsed() >= 1000) {
        qCWarning(lcServer).noquote() << m_name + QStringLiteral(": accept failed:")
                                      << QString::fromLocal8Bit(std::strerror(error));
        m_otherErrorWarning.start();
    }
}

// Everything waiting in the backlog, refused with the reserve descriptor.
quint64 Listener::refuseBacklog()
{
    const int listening = int(m_server->socketDescriptor());
    quint64 refused = 0;
    while (m_reserve >= 0) {
        closeReserve();
        const int fd = acceptOne(listening);
        const int error = errno;
        if (fd >= 0) {
            refuseNow(fd);
            ++refused;
        }
        openReserve();
        if (fd < 0 && error != EINTR && error != ECONNABORTED && error != EPROTO)
            break; // EAGAIN: the backlog is empty; anything else: no more to be done now
    }
    return refused;
}

void Listener::openReserve()
{
    if (m_reserve < 0)
        m_reserve = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void Listener::closeReserve()
{
    if (m_reserve >= 0)
        ::close(m_reserve);
    m_reserve = -1;
}

#else

void Listener::onPendingConnections()
{
    while (QTcpSocket *socket = m_server->nextPendingConnection()) {
        noteAccepted();
        socket->setParent(this);
        admit(socket);
    }
}

#endif

} // namespace SockJsProxy
