#include "sockjsframes.h"

#include <QJsonArray>
#include <QJsonDocument>

namespace SockJsProxy::Test {

QByteArray sockJsMessages(const QStringList &messages)
{
    return QJsonDocument(QJsonArray::fromStringList(messages)).toJson(QJsonDocument::Compact);
}

QStringList decodedMessages(const QList<QByteArray> &frames)
{
    QStringList result;
    for (const QByteArray &frame : frames) {
        if (!frame.startsWith('a'))
            continue;
        const QJsonArray array = QJsonDocument::fromJson(frame.mid(1)).array();
        for (const QJsonValue &value : array)
            result.append(value.toString());
    }
    return result;
}

} // namespace SockJsProxy::Test
