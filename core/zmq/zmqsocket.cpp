#include "zmq/zmqsocket.h"

#include "base/logging.h"
#include "base/queuebudget.h"

#include <QPointer>
#include <QSocketNotifier>
#include <QTimer>

#include <zmq.hpp>

#include <cerrno>
#include <mutex>

namespace SockJsProxy {

namespace {

// One context for the whole process: inproc:// only works between sockets of
// the same context. It lives as long as some ZmqSocket holds it, so nothing
// is left to terminate (and hang) at exit.
std::shared_ptr<zmq::context_t> sharedContext()
{
    static std::mutex mutex;
    static std::weak_ptr<zmq::context_t> weak;
    const std::lock_guard<std::mutex> lock(mutex);
    std::shared_ptr<zmq::context_t> context = weak.lock();
    if (!context) {
        context = std::make_shared<zmq::context_t>();
        weak = context;
    }
    return context;
}

zmq::socket_type toZmqType(ZmqSocket::Type type)
{
    switch (type) {
    case ZmqSocket::Type::Push:
        return zmq::socket_type::push;
    case ZmqSocket::Type::Pull:
        return zmq::socket_type::pull;
    case ZmqSocket::Type::Pub:
        return zmq::socket_type::pub;
    case ZmqSocket::Type::Sub:
        return zmq::socket_type::sub;
    case ZmqSocket::Type::Req:
        return zmq::socket_type::req;
    case ZmqSocket::Type::Rep:
        return zmq::socket_type::rep;
    case ZmqSocket::Type::Dealer:
        return zmq::socket_type::dealer;
    case ZmqSocket::Type::Router:
        return zmq::socket_type::router;
    case ZmqSocket::Type::Pair:
        return zmq::socket_type::pair;
    }
    return zmq::socket_type::pair;
}

const char *typeName(ZmqSocket::Type type)
{
    switch (type) {
    case ZmqSocket::Type::Push:
        return "PUSH";
    case ZmqSocket::Type::Pull:
        return "PULL";
    case ZmqSocket::Type::Pub:
        return "PUB";
    case ZmqSocket::Type::Sub:
        return "SUB";
    case ZmqSocket::Type::Req:
        return "REQ";
    case ZmqSocket::Type::Rep:
        return "REP";
    case ZmqSocket::Type::Dealer:
        return "DEALER";
    case ZmqSocket::Type::Router:
        return "ROUTER";
    case ZmqSocket::Type::Pair:
        return "PAIR";
    }
    return "?";
}

QString zmqErrorText(const zmq::error_t &e) { return QString::fromLocal8Bit(e.what()); }

QByteArray toByteArray(const zmq::message_t &frame)
{
    // Frames are binary: keep embedded NULs, and empty frames stay empty.
    return QByteArray(static_cast<const char *>(frame.data()), qsizetype(frame.size()));
}

// A frame after the first of a multipart message: ZeroMQ has it already (the
// message is atomic), but EINTR may still interrupt the call; retry then.
constexpr int kInterruptRetries = 100;

} // namespace

ZmqSocket::ZmqSocket(Type type, QObject *parent) : QObject(parent), m_type(type)
{
    m_canReceive = type != Type::Push && type != Type::Pub;
    m_canSend = type != Type::Pull && type != Type::Sub;
    m_lockstep = type == Type::Req || type == Type::Rep;
    m_sendTurn = type == Type::Req;

    // Safety net only: ZMQ_FD should signal when a peer arrives or a full
    // pipe drains, but if a wake-up is ever missed while messages wait in the
    // outbox, this re-runs process(). It runs only while the outbox is not empty.
    m_retryTimer = new QTimer(this);
    m_retryTimer->setInterval(kRetryIntervalMs);
    connect(m_retryTimer, &QTimer::timeout, this, &ZmqSocket::process);

    try {
        m_context = sharedContext();
        m_socket = std::make_unique<zmq::socket_t>(*m_context, toZmqType(type));
        m_socket->set(zmq::sockopt::linger, 0);
        const zmq::fd_t fd = m_socket->get(zmq::sockopt::fd);
        m_notifier = new QSocketNotifier(static_cast<qintptr>(fd), QSocketNotifier::Read, this);
        connect(m_notifier, &QSocketNotifier::activated, this, &ZmqSocket::onNotifierActivated);
    } catch (const zmq::error_t &e) {
        // Nobody is connected to error() yet: log; bind/connectTo report it again.
        qCWarning(lcZmq).noquote() << "cannot create" << typeName(type) << "socket:" << zmqErrorText(e);
        delete m_notifier;
        m_notifier = nullptr;
        m_socket.reset();
        m_context.reset();
    }
}

ZmqSocket::~ZmqSocket()
{
    if (m_queueBudget)
        m_queueBudget->remove(m_outboxBytes);
    // May run inside our own messageReceived emission (a slot deleted us):
    // process() notices through its QPointer and touches nothing afterwards.
    // The notifier goes before the socket that owns its descriptor.
    if (m_notifier) {
        m_notifier->setEnabled(false);
        delete m_notifier;
        m_notifier = nullptr;
    }
    m_retryTimer->stop();
    m_socket.reset();  // linger 0: returns at once, pending messages are discarded
    m_context.reset(); // the last socket terminates the shared context
}

bool ZmqSocket::bind(const QString &endpoint, QString *error) { return attach(endpoint, error, true); }

bool ZmqSocket::connectTo(const QString &endpoint, QString *error) { return attach(endpoint, error, false); }

bool ZmqSocket::attach(const QString &endpoint, QString *error, bool bind)
{
    const char *verb = bind ? "bind" : "connect";
    // A caller that takes the error reports it: logged here as well, it
    // would be said twice (sockjsproxy-cli prints it as its one error line).
    const auto failed = [&](const QString &what) {
        if (error) {
            qCDebug(lcZmq).noquote() << typeName(m_type) << verb << "failed:" << what;
            *error = what;
        } else {
            qCWarning(lcZmq).noquote() << typeName(m_type) << verb << "failed:" << what;
        }
        Q_EMIT this->error(what); // may delete this: touch nothing afterwards
        return false;
    };
    if (!m_socket)
        return failed(endpoint + QStringLiteral(": socket not created"));

    QString attached = endpoint;
    try {
        const QByteArray address = endpoint.toUtf8();
        if (bind) {
            m_socket->bind(address.constData());
            // "tcp://127.0.0.1:*" is more useful in messages as the port bound.
            const std::string last = m_socket->get(zmq::sockopt::last_endpoint);
            if (!last.empty())
                attached = QString::fromStdString(last);
        } else {
            m_socket->connect(address.constData());
        }
    } catch (const zmq::error_t &e) {
        return failed(endpoint + QStringLiteral(": ") + zmqErrorText(e));
    }

    m_endpoints.append(attached);
    qCDebug(lcZmq).noquote() << typeName(m_type) << (bind ? "bound to" : "connected to") << attached;
    // Messages may be waiting already (inproc peer, queued outbox), and reading
    // ZMQ_EVENTS here keeps the edge-like ZMQ_FD in step with what we know.
    process(); // may delete this: touch nothing afterwards
    return true;
}

QString ZmqSocket::lastEndpoint() const
{
    if (!m_socket)
        return {};
    try {
        return QString::fromStdString(m_socket->get(zmq::sockopt::last_endpoint));
    } catch (const zmq::error_t &e) {
        qCWarning(lcZmq).noquote() << endpointText() + QStringLiteral(": cannot read last endpoint:")
                                   << zmqErrorText(e);
        return {};
    }
}

bool ZmqSocket::send(const ZmqMessage &message)
{
    if (!m_socket || !m_canSend || message.isEmpty()) {
        qCWarning(lcZmq).noquote() << typeName(m_type)
                                   << endpointText()
                                          + (message.isEmpty() ? QStringLiteral(": cannot send an empty message")
                                                               : QStringLiteral(": this socket type cannot send"));
        return false;
    }
    if (qsizetype(m_outbox.size()) >= m_outboxLimit) {
        ++m_dropped;
        noteDrop();
        return false;
    }
    // A send-only socket with nothing waiting hands the message straight to
    // ZeroMQ: no ZMQ_EVENTS pass per message (each costs a poll and a
    // getpid in libzmq). Safe for these sockets only: ZMQ_FD matters to
    // them just while the outbox waits, and process() reads ZMQ_EVENTS
    // whenever it does. A socket that also receives must not consume
    // commands behind its notifier's back.
    if (!m_canReceive && m_outbox.empty() && !m_held && !m_inProcess) {
        try {
            if (sendNow(message)) {
                ++m_sent;
                return true;
            }
        } catch (const zmq::error_t &e) {
            if (!(e.num() == EINTR && m_firstFrameInterrupted)) {
                ++m_dropped;
                reportError(zmqErrorText(e)); // may delete this
                return false;
            }
            // Interrupted before anything went out: queue it like the rest.
        }
    }
    pushOutbox(message);
    // Inside process() (a messageReceived slot replies): the running loop
    // sends it on its next pass; recursing would reorder and nest emissions.
    if (!m_inProcess)
        process(); // may delete this: touch nothing afterwards
    return true;
}

void ZmqSocket::noteDrop()
{
    // A backend that is down can make us drop thousands per second: one line
    // per second at most, with the count since the previous line.
    ++m_dropsSinceWarning;
    if (!m_dropWarnings)
        return;
    if (m_dropWarningTimer.isValid() && m_dropWarningTimer.elapsed() < kDropWarningIntervalMs)
        return;
    qCWarning(lcZmq).noquote() << QStringLiteral("%1 %2: outbox full (%3 messages), dropped %4 message(s), %5 in all")
                                      .arg(QLatin1String(typeName(m_type)), endpointText())
                                      .arg(m_outboxLimit)
                                      .arg(m_dropsSinceWarning)
                                      .arg(m_dropped);
    m_dropsSinceWarning = 0;
    m_dropWarningTimer.start();
}

void ZmqSocket::setSendHighWaterMark(int messages) { setIntOption(ZMQ_SNDHWM, messages, "send high-water mark"); }

void ZmqSocket::setReceiveHighWaterMark(int messages) { setIntOption(ZMQ_RCVHWM, messages, "receive high-water mark"); }

void ZmqSocket::setHeld(bool held)
{
    if (m_held == held)
        return;
    m_held = held;
    if (!held)
        process();
}

bool ZmqSocket::setCurveServer(const QByteArray &secretKey, const QByteArray &zapDomain, QString *error)
{
    if (!m_socket) {
        *error = QStringLiteral("socket not created");
        return false;
    }
    // Raw options: the key is text here, and must never reach a log line.
    void *socket = m_socket->handle();
    const int on = 1;
    if (zmq_setsockopt(socket, ZMQ_CURVE_SERVER, &on, sizeof on) != 0
        || zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, secretKey.constData(), size_t(secretKey.size())) != 0
        || zmq_setsockopt(socket, ZMQ_ZAP_DOMAIN, zapDomain.constData(), size_t(zapDomain.size())) != 0) {
        *error = QStringLiteral("cannot make the %1 socket a CURVE server: %2")
                     .arg(QLatin1String(typeName(m_type)), QString::fromLocal8Bit(zmq_strerror(zmq_errno())));
        return false;
    }
    return true;
}

void ZmqSocket::setLinger(int milliseconds) { setIntOption(ZMQ_LINGER, milliseconds, "linger"); }

void ZmqSocket::setImmediate(bool immediate) { setIntOption(ZMQ_IMMEDIATE, immediate ? 1 : 0, "immediate"); }

void ZmqSocket::setIntOption(int option, int value, const char *name)
{
    if (!m_socket)
        return;
    try {
        if (option == ZMQ_SNDHWM)
            m_socket->set(zmq::sockopt::sndhwm, value);
        else if (option == ZMQ_LINGER)
            m_socket->set(zmq::sockopt::linger, value);
        else if (option == ZMQ_IMMEDIATE)
            m_socket->set(zmq::sockopt::immediate, value != 0);
        else
            m_socket->set(zmq::sockopt::rcvhwm, value);
    } catch (const zmq::error_t &e) {
        reportError(QStringLiteral("cannot set %1 to %2: %3")
                        .arg(QLatin1String(name))
                        .arg(value)
                        .arg(zmqErrorText(e))); // may delete this
    }
}

void ZmqSocket::setSubscribe(const QByteArray &prefix)
{
    if (!m_socket)
        return;
    try {
        m_socket->set(zmq::sockopt::subscribe, zmq::const_buffer(prefix.constData(), size_t(prefix.size())));
    } catch (const zmq::error_t &e) {
        reportError(QStringLiteral("cannot subscribe: ") + zmqErrorText(e)); // may delete this
    }
}

void *ZmqSocket::handle() const { return m_socket ? m_socket->handle() : nullptr; }

QString ZmqSocket::endpointText() const
{
    return m_endpoints.isEmpty() ? QStringLiteral("(not bound or connected)") : m_endpoints.join(QStringLiteral(", "));
}

void ZmqSocket::reportError(const QString &what)
{
    const QString text = endpointText() + QStringLiteral(": ") + what;
    qCWarning(lcZmq).noquote() << typeName(m_type) << text;
    Q_EMIT error(text); // may delete this
}

void ZmqSocket::scheduleProcess()
{
    if (m_processScheduled)
        return;
    m_processScheduled = true;
    // Bound to this: dies with the socket.
    QTimer::singleShot(0, this, [this] {
        m_processScheduled = false;
        process();
    });
}

namespace {
qint64 messageBytes(const ZmqMessage &message)
{
    qint64 bytes = 0;
    for (const QByteArray &frame : message)
        bytes += frame.size();
    return bytes;
}
} // namespace

void ZmqSocket::pushOutbox(const ZmqMessage &message)
{
    const qint64 bytes = messageBytes(message);
    m_outbox.push_back(message);
    m_outboxBytes += bytes;
    if (m_queueBudget)
        m_queueBudget->add(bytes);
}

void ZmqSocket::popOutbox()
{
    const qint64 bytes = messageBytes(m_outbox.front());
    m_outbox.pop_front();
    m_outboxBytes -= bytes;
    if (m_queueBudget)
        m_queueBudget->remove(bytes);
}

bool ZmqSocket::sendFront()
{
    try {
        if (!sendNow(m_outbox.front()))
            return false;
    } catch (const zmq::error_t &e) {
        // EINTR before the first frame: nothing went out, try again later.
        // Anything else (EHOSTUNREACH, EFSM, half a message out) would fail
        // again: drop it, or the outbox would be stuck behind it for good.
        if (!(e.num() == EINTR && m_firstFrameInterrupted)) {
            popOutbox();
            ++m_dropped;
        }
        throw;
    }
    popOutbox();
    ++m_sent;
    m_sendTurn = false;
    return true;
}

bool ZmqSocket::sendNow(const ZmqMessage &message)
{
    m_firstFrameInterrupted = false;
    const qsizetype last = message.size() - 1;
    for (qsizetype i = 0; i <= last; ++i) {
        const QByteArray &frame = message.at(i);
        const zmq::send_flags flags =
            i < last ? (zmq::send_flags::sndmore | zmq::send_flags::dontwait) : zmq::send_flags::dontwait;
        const zmq::const_buffer buffer(frame.constData(), size_t(frame.size()));
        if (i == 0) {
            // Only the first frame can block: a multipart message is atomic,
            // so once it is accepted the rest will be too.
            try {
                if (!m_socket->send(buffer, flags))
                    return false;
            } catch (const zmq::error_t &e) {
                m_firstFrameInterrupted = e.num() == EINTR;
                throw;
            }
            continue;
        }
        for (int attempt = 0;; ++attempt) {
            try {
                if (m_socket->send(buffer, flags))
                    break;
                // Cannot happen for a later frame; do not spin on it.
                throw zmq::error_t();
            } catch (const zmq::error_t &e) {
                // Half a message went out; the rest is lost with it.
                if (e.num() != EINTR || attempt >= kInterruptRetries)
                    throw;
            }
        }
    }
    return true;
}

bool ZmqSocket::receiveOne(ZmqMessage &message)
{
    zmq::message_t frame;
    if (!m_socket->recv(frame, zmq::recv_flags::dontwait))
        return false;
    message.reserve(3); // the bridge's protocol: type, session id, data
    message.append(toByteArray(frame));
    while (frame.more()) {
        frame.rebuild();
        for (int attempt = 0;; ++attempt) {
            try {
                if (m_socket->recv(frame, zmq::recv_flags::dontwait))
                    break;
                throw zmq::error_t(); // a later frame is always there
            } catch (const zmq::error_t &e) {
                if (e.num() != EINTR || attempt >= kInterruptRetries)
                    throw;
            }
        }
        message.append(toByteArray(frame));
    }
    return true;
}

void ZmqSocket::onNotifierActivated()
{
    if (m_inProcess) {
        // A slot of ours runs a nested event loop: ZMQ_FD stays readable
        // until our pass goes on, so the notifier would fire again and again.
        // Pause it until the pass is over. (Pausing it around every emission
        // instead would cost two dispatcher updates per pass.)
        m_notifier->setEnabled(false);
        m_notifierPaused = true;
        return;
    }
    process();
}

void ZmqSocket::process()
{
    if (m_inProcess || !m_socket)
        return;
    m_inProcess = true;

    const QPointer<ZmqSocket> self(this);
    const int budget = qMax(1, m_budget);
    int handled = 0;
    bool budgetSpent = false;
    bool interrupted = false;
    try {
        // A pass sends until ZeroMQ would block and receives until nothing is
        // queued. ZMQ_FD is edge-like: it only signals again after every
        // pending command of libzmq has been processed, which a receive that
        // finds nothing does; otherwise reading ZMQ_EVENTS does it, and also
        // tells whether those commands (a peer attached, a pipe drained) made
        // more work possible. Either costs a poll and a getpid inside
        // libzmq, so it is done once a pass, not once a message.
        for (;;) {
            bool progress = false;
            bool drained = false; // a receive found nothing: commands are processed
            if (!m_held) {
                while (!m_outbox.empty() && handled < budget && maySend() && sendFront()) {
                    progress = true;
                    ++handled;
                }
            }
            if (m_canReceive) {
                // Req and Rep: one message, then the send that answers it
                // (receiving again first would fail with EFSM).
                while (handled < budget && mayReceive()) {
                    ZmqMessage message;
                    if (!receiveOne(message)) {
                        drained = true;
                        break;
                    }
                    progress = true;
                    ++handled;
                    ++m_received;
                    m_sendTurn = m_lockstep;
                    Q_EMIT messageReceived(message);
                    if (!self)
                        return; // a slot deleted us; the notifier went with us
                }
            }
            if (handled >= budget) {
                budgetSpent = true;
                break;
            }
            const bool mayStillSend = !m_held && !m_outbox.empty() && maySend();
            // A receive that found nothing has processed every pending
            // command, so ZMQ_FD signals whatever comes next: receiving again
            // now would only cost another poll and getpid in libzmq. Unless
            // a send comes first (a slot replied): it may process commands,
            // so the receive after it must look again.
            if (drained && !mayStillSend)
                break;
            if (progress)
                continue;
            const int events = m_socket->get(zmq::sockopt::events);
            if (!((m_canReceive && (events & ZMQ_POLLIN)) || (mayStillSend && (events & ZMQ_POLLOUT))))
                break;
        }
    } catch (const zmq::error_t &e) {
        if (e.num() == EINTR) {
            interrupted = true;
        } else {
            reportError(zmqErrorText(e));
            if (!self)
                return;
        }
    }

    if (budgetSpent) {
        // Yield to the event loop only if something is really left; an idle
        // socket must not keep a zero timer going.
        try {
            const int events = m_socket->get(zmq::sockopt::events);
            if ((m_canReceive && (events & ZMQ_POLLIN)) || (!m_held && (events & ZMQ_POLLOUT) && !m_outbox.empty()))
                scheduleProcess();
        } catch (const zmq::error_t &) {
            scheduleProcess(); // the next pass reports it
        }
    } else if (interrupted) {
        scheduleProcess();
    }

    m_inProcess = false;
    if (m_notifierPaused && m_notifier) {
        m_notifierPaused = false;
        m_notifier->setEnabled(true);
    }

    if (m_outbox.empty() || m_held)
        m_retryTimer->stop();
    else if (!m_retryTimer->isActive())
        m_retryTimer->start();
}

} // namespace SockJsProxy
