#include "node.h"

#include <QRandomGenerator>

namespace SockJsProxy::Node {

namespace {
struct State
{
    QByteArray name; // empty: unnamed
    QByteArray head; // what every session id starts with
    quint64 counter = 0;
};

State &state()
{
    static State state{QByteArray(), incarnation() + '-', 0};
    return state;
}
} // namespace

QByteArray incarnation()
{
    static const QByteArray tag =
        QByteArray::number(QRandomGenerator::system()->generate() % (36u * 36 * 36 * 36 * 36), 36)
            .rightJustified(5, '0');
    return tag;
}

QByteArray localName()
{
    const State &s = state();
    return s.name.isEmpty() ? incarnation() : s.name;
}

void setLocalName(const QByteArray &name)
{
    State &s = state();
    s.name = name;
    s.head = name.isEmpty() ? incarnation() + '-' : name + '-' + incarnation() + '-';
}

QByteArray nextSessionId()
{
    State &s = state();
    return s.head + QByteArray::number(++s.counter, 36);
}

QByteArray nodeOf(const QByteArray &sessionId)
{
    const qsizetype dash = sessionId.indexOf('-');
    return dash < 0 ? sessionId : sessionId.left(dash);
}

bool isValidName(const QByteArray &name)
{
    if (name.isEmpty() || name.size() > 32)
        return false;
    for (char c : name) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

} // namespace SockJsProxy::Node
