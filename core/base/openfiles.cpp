#include "openfiles.h"

#include "logging.h"

#ifdef Q_OS_UNIX
#include <cerrno>
#include <cstring>
#include <sys/resource.h>
#endif

namespace SockJsProxy {

namespace {
#ifdef Q_OS_UNIX
qint64 fromRlim(rlim_t value) { return value == RLIM_INFINITY ? -1 : qint64(value); }
#endif
} // namespace

OpenFilesLimit openFilesLimit()
{
    OpenFilesLimit limit;
#ifdef Q_OS_UNIX
    rlimit current{};
    if (getrlimit(RLIMIT_NOFILE, &current) == 0) {
        limit.soft = fromRlim(current.rlim_cur);
        limit.hard = fromRlim(current.rlim_max);
    }
#endif
    return limit;
}

OpenFilesLimit applyOpenFilesLimit(qint64 wanted, QString *summary)
{
#ifdef Q_OS_UNIX
    rlimit current{};
    if (getrlimit(RLIMIT_NOFILE, &current) != 0) {
        qCWarning(lcServer) << "cannot read the open files limit:" << std::strerror(errno);
        return {};
    }
    const OpenFilesLimit before = openFilesLimit();
    rlimit next = current;
    if (wanted <= 0) {
        next.rlim_cur = current.rlim_max;
    } else if (current.rlim_max != RLIM_INFINITY && rlim_t(wanted) > current.rlim_max) {
        qCWarning(lcServer) << "limits.max_open_files" << wanted << "is above the hard limit" << current.rlim_max
                            << "- using the hard limit (raise it with ulimit -Hn, LimitNOFILE= or limits.conf)";
        next.rlim_cur = current.rlim_max;
    } else {
        next.rlim_cur = rlim_t(wanted);
    }
    if (next.rlim_cur != current.rlim_cur && setrlimit(RLIMIT_NOFILE, &next) != 0) {
        // An unlimited hard limit (macOS) still caps the soft one at a
        // system value: setrlimit() says EINVAL, and the soft limit stays.
        qCWarning(lcServer) << "cannot set the open files limit to" << qint64(next.rlim_cur) << ":"
                            << std::strerror(errno);
    }
    const OpenFilesLimit after = openFilesLimit();
    if (summary)
        *summary = QStringLiteral("open files limit: %1 (was %2, hard limit %3)")
                       .arg(after.soft < 0 ? QStringLiteral("unlimited") : QString::number(after.soft))
                       .arg(before.soft < 0 ? QStringLiteral("unlimited") : QString::number(before.soft))
                       .arg(after.hard < 0 ? QStringLiteral("unlimited") : QString::number(after.hard));
    return after;
#else
    Q_UNUSED(wanted)
    Q_UNUSED(summary)
    return {};
#endif
}

} // namespace SockJsProxy
