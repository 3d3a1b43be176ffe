#pragma once

#include <QObject>

namespace SockJsProxy {

// Forwards every Qt log message (qDebug/qCInfo/...) to messageLogged(),
// after the previously installed handler has printed it. Install once per
// process; the signal is delivered on the thread of LogCapture.
class LogCapture : public QObject
{
    Q_OBJECT

public:
    static LogCapture *instance(); // installs the handler on first use

Q_SIGNALS:
    void messageLogged(const QString &level, const QString &category, const QString &text);

private:
    LogCapture();
};

} // namespace SockJsProxy
