#include "waituntil.h"

#include <QDeadlineTimer>
#include <QEventLoop>
#include <QTimer>

namespace SockJsProxy::Test {

bool waitUntil(const std::function<bool()> &predicate, int timeoutMs)
{
    const QDeadlineTimer deadline(timeoutMs);
    while (!predicate()) {
        if (deadline.hasExpired())
            return predicate();
        QEventLoop loop;
        QTimer::singleShot(5, &loop, &QEventLoop::quit);
        loop.exec();
    }
    return true;
}

} // namespace SockJsProxy::Test
