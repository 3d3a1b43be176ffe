#include "node.h"

#include <QRandomGenerator>

namespace SockJsProxy::Node {

QByteArray localName()
{
    static const QByteArray tag =
        QByteArray::number(QRandomGenerator::system()->generate() % (36u * 36 * 36 * 36 * 36), 36)
            .rightJustified(5, '0');
    return tag;
}

QByteArray nextSessionId()
{
    static const QByteArray head = localName() + '-';
    static quint64 counter = 0;
    return head + QByteArray::number(++counter, 36);
}

} // namespace SockJsProxy::Node
