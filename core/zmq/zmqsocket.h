#pragma once

#include <QByteArray>
#include <QElapsedTimer>
#include <QList>
#include <QObject>
#include <QString>
#include <QStringList>

#include <deque>
#include <memory>

class QSocketNotifier;
class QTimer;

namespace zmq {
class context_t;
class socket_t;
} // namespace zmq

namespace SockJsProxy {

class QueueBudget;

using ZmqMessage = QList<QByteArray>; // one multipart message, a QByteArray per frame

// A ZeroMQ socket on the Qt event loop.
//
// A Read QSocketNotifier watches ZMQ_FD, which is edge-like: send, recv and
// reading ZMQ_EVENTS all reset it, and messages already queued never wake
// it. So process() re-reads ZMQ_EVENTS after every send and receive and
// loops until a pass makes no progress; it drains at most a budget of
// messages per pass and continues on the next event-loop turn, so a busy peer
// cannot starve other work. Never blocks.
//
// Outgoing messages wait in a bounded outbox while ZeroMQ cannot take them
// (a PUSH socket with no peer); what overflows is dropped and counted.
// Linger is 0: closing never waits for peers.
//
// Req and Rep take turns as ZeroMQ demands: a Rep socket receives one
// request and then waits for its reply (queued with send(), from the slot or
// later) before it receives the next; a Req socket sends one request and
// then waits for the reply before it sends the next.
//
// Errors are logged under sockjsproxy.zmq and reported by error(); no
// exception leaves this class. A bind()/connectTo() failure returned in
// *error is left to the caller to report (logged at debug level only). A slot connected to messageReceived may delete
// this socket.
class ZmqSocket : public QObject
{
    Q_OBJECT

public:
    enum class Type { Push, Pull, Pub, Sub, Req, Rep, Dealer, Router, Pair };

    explicit ZmqSocket(Type type, QObject *parent = nullptr);
    ~ZmqSocket() override;

    // Endpoints as ZeroMQ takes them: "tcp://*:9241", "inproc://x", "ipc:///tmp/x".
    // Return false and fill *error on failure (address in use, bad endpoint).
    bool bind(const QString &endpoint, QString *error = nullptr);
    bool connectTo(const QString &endpoint, QString *error = nullptr);
    // After bind to a wildcard port ("tcp://127.0.0.1:*"): the endpoint bound.
    QString lastEndpoint() const;

    // Queues a multipart message and sends as much as ZeroMQ takes now.
    // Returns false when the outbox is full: the message is dropped and counted.
    bool send(const ZmqMessage &message);

    void setOutboxLimit(qsizetype messages) { m_outboxLimit = messages; }
    qsizetype outboxLimit() const { return m_outboxLimit; }
    qsizetype outboxSize() const { return qsizetype(m_outbox.size()); }
    // Bytes of the frames waiting in the outbox.
    qint64 outboxBytes() const { return m_outboxBytes; }
    // Where the outbox's bytes count too (limits.max_queued_bytes_total);
    // must outlive the socket. Set before anything is sent.
    void setQueueBudget(QueueBudget *budget) { m_queueBudget = budget; }
    quint64 droppedCount() const { return m_dropped; }
    quint64 sentCount() const { return m_sent; }
    quint64 receivedCount() const { return m_received; }

    // Socket options; call before bind/connect.
    void setSendHighWaterMark(int messages);
    void setReceiveHighWaterMark(int messages);
    void setSubscribe(const QByteArray &prefix); // Sub only
    // While held, nothing is handed to ZeroMQ: messages wait in the outbox
    // (bounded as always). ZmqBridge holds "in" while no backend is connected,
    // so ZeroMQ never queues events on a connection that is going away.
    void setHeld(bool held);
    bool isHeld() const { return m_held; }

    // Makes this socket a CURVE server (before bind): secretKey is its secret
    // key (Z85), and every client's public key is put to the ZAP handler
    // under zapDomain (see ZapHandler). False and *error when refused.
    bool setCurveServer(const QByteArray &secretKey, const QByteArray &zapDomain, QString *error);

    // How long closing may keep delivering queued messages (0 at creation).
    void setLinger(int milliseconds);
    // ZMQ_IMMEDIATE: queue messages only on completed connections, so that
    // nothing waits inside ZeroMQ for a peer that is not there (the outbox
    // holds it instead, bounded). Call before connectTo.
    void setImmediate(bool immediate);
    // Off: outbox drops are counted but not logged (the caller accounts
    // for them; a cluster link to a node that is down drops heartbeats).
    void setDropWarnings(bool warn) { m_dropWarnings = warn; }

    // Messages handled per pass before yielding to the event loop.
    void setBudget(int messages) { m_budget = messages; }

    // Raw libzmq socket handle (void *), for zmq_socket_monitor and tests.
    void *handle() const;

Q_SIGNALS:
    void messageReceived(const SockJsProxy::ZmqMessage &message);
    void error(const QString &what);

public Q_SLOTS:
    // Sends what ZeroMQ takes and receives what is queued, within the budget.
    void process();

private:
    void scheduleProcess();
    void onNotifierActivated();
    bool attach(const QString &endpoint, QString *error, bool bind);
    bool sendFront();                        // false: would block; throws zmq::error_t
    bool sendNow(const ZmqMessage &message); // the same, without the outbox
    bool receiveOne(ZmqMessage &message);    // false: nothing queued; throws zmq::error_t
    // Req and Rep: whose turn it is (always both for the other types).
    bool maySend() const { return !m_lockstep || m_sendTurn; }
    bool mayReceive() const { return !m_lockstep || !m_sendTurn; }
    void noteDrop();
    void setIntOption(int option, int value, const char *name);
    void reportError(const QString &what); // logs, emits error(): may delete this
    QString endpointText() const;

    static constexpr int kRetryIntervalMs = 200;
    static constexpr qint64 kDropWarningIntervalMs = 1000;

    std::shared_ptr<zmq::context_t> m_context;
    std::unique_ptr<zmq::socket_t> m_socket;
    QSocketNotifier *m_notifier = nullptr;
    void pushOutbox(const ZmqMessage &message);
    void popOutbox();

    std::deque<ZmqMessage> m_outbox;
    qint64 m_outboxBytes = 0;
    QueueBudget *m_queueBudget = nullptr;
    qsizetype m_outboxLimit = 100000;
    quint64 m_dropped = 0;
    quint64 m_sent = 0;
    quint64 m_received = 0;
    int m_budget = 64;
    bool m_processScheduled = false;
    bool m_held = false;
    bool m_inProcess = false;
    bool m_notifierPaused = false;        // by a nested event loop inside process()
    bool m_firstFrameInterrupted = false; // the last sendNow() threw EINTR on its first frame
    bool m_canReceive = false;            // Pull, Sub, Rep, Req, Dealer, Router, Pair
    bool m_canSend = false;               // Push, Pub, Req, Rep, Dealer, Router, Pair
    bool m_lockstep = false;              // Req, Rep: send and receive take turns
    bool m_sendTurn = false;              // Req: no request out; Rep: a reply is due
    bool m_dropWarnings = true;
    Type m_type;
    QTimer *m_retryTimer = nullptr; // runs only while the outbox waits for ZeroMQ
    QStringList m_endpoints;        // for log and error messages
    QElapsedTimer m_dropWarningTimer;
    quint64 m_dropsSinceWarning = 0;
};

} // namespace SockJsProxy
