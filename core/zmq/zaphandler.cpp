#include "zmq/zaphandler.h"

#include "base/logging.h"

#include <zmq.h>

namespace SockJsProxy {

namespace {
const QString kZapEndpoint = QStringLiteral("inproc://zeromq.zap.01");
const QByteArray kZapVersion = QByteArrayLiteral("1.0");
constexpr int kCurveKeyBytes = 32;

// The request's frames (RFC 27), the Rep socket having taken the envelope.
enum RequestFrame { Version, RequestId, DomainFrame, Address, Identity, Mechanism, FirstCredential };

std::weak_ptr<ZapHandler> &sharedHandler()
{
    static std::weak_ptr<ZapHandler> handler;
    return handler;
}
} // namespace

std::shared_ptr<ZapHandler> ZapHandler::shared(QString *error)
{
    std::shared_ptr<ZapHandler> handler = sharedHandler().lock();
    if (handler)
        return handler;
    handler.reset(new ZapHandler());
    if (!handler->bind(error))
        return nullptr;
    sharedHandler() = handler;
    return handler;
}

ZapHandler::ZapHandler() : m_socket(new ZmqSocket(ZmqSocket::Type::Rep, this))
{
    connect(m_socket, &ZmqSocket::messageReceived, this, &ZapHandler::onRequest);
}

ZapHandler::~ZapHandler() = default;

bool ZapHandler::bind(QString *error)
{
    QString bindError;
    if (!m_socket->bind(kZapEndpoint, &bindError)) {
        *error = QStringLiteral("cannot start the ZAP handler for CURVE: ") + bindError;
        return false;
    }
    return true;
}

QByteArray ZapHandler::addDomain(const QByteArray &hint, QObject *context, Policy policy)
{
    QByteArray domain = hint;
    for (int n = 2; m_domains.contains(domain); ++n)
        domain = hint + '#' + QByteArray::number(n);
    m_domains.insert(domain, {context, std::move(policy)});
    return domain;
}

void ZapHandler::removeDomain(const QByteArray &domain) { m_domains.remove(domain); }

void ZapHandler::onRequest(const ZmqMessage &request)
{
    // A reply for every request, whatever it holds: the Rep socket answers
    // in turn, and libzmq's handshake waits for it.
    const auto reply = [this, &request](const char *status, const char *text, const QByteArray &userId = {}) {
        ++m_answered;
        m_socket->send(
            {kZapVersion, request.value(RequestId), QByteArray(status), QByteArray(text), userId, QByteArray()});
    };

    if (request.size() < FirstCredential || request.at(Version) != kZapVersion) {
        qCWarning(lcZmq) << "malformed ZAP request refused:" << request.size() << "frames";
        return reply("500", "Malformed request");
    }
    Request parsed;
    parsed.domain = request.at(DomainFrame);
    parsed.address = request.at(Address);
    parsed.mechanism = request.at(Mechanism);
    const auto found = m_domains.constFind(parsed.domain);
    if (found == m_domains.cend() || !found->context) {
        qCWarning(lcZmq).noquote() << "ZAP request for unknown domain" << QString::fromLatin1(parsed.domain) << "from"
                                   << QString::fromLatin1(parsed.address) << "refused";
        return reply("400", "Unknown domain");
    }
    if (parsed.mechanism != "CURVE") {
        qCWarning(lcZmq).noquote() << "ZAP request of mechanism" << QString::fromLatin1(parsed.mechanism) << "from"
                                   << QString::fromLatin1(parsed.address) << "refused (CURVE only)";
        return reply("400", "CURVE only");
    }
    if (request.size() != FirstCredential + 1 || request.at(FirstCredential).size() != kCurveKeyBytes) {
        qCWarning(lcZmq).noquote() << "malformed CURVE ZAP request from" << QString::fromLatin1(parsed.address)
                                   << "refused: no 32-byte key";
        return reply("500", "Malformed request");
    }
    char z85[kCurveKeyBytes * 5 / 4 + 1] = {};
    zmq_z85_encode(z85, reinterpret_cast<const uint8_t *>(request.at(FirstCredential).constData()), kCurveKeyBytes);
    parsed.publicKey = QByteArray(z85);

    // The policy may not delete this handler (the bridge holds it).
    const Policy policy = found->policy;
    if (policy(parsed))
        reply("200", "OK", parsed.publicKey);
    else
        reply("400", "Key not allowed");
}

} // namespace SockJsProxy
