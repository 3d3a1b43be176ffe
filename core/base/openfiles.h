#pragma once

#include <QString>
#include <QtGlobal>

namespace SockJsProxy {

// The process's limit on open file descriptors (RLIMIT_NOFILE): every
// client connection, ZeroMQ socket, backend connection and open file takes
// one.
struct OpenFilesLimit
{
    // -1: the system has no such limit to read (Windows) or it is unlimited.
    qint64 soft = -1;
    qint64 hard = -1;

    bool isKnown() const { return soft > 0; }
};

// The limit in force now.
OpenFilesLimit openFilesLimit();

// Called once at start-up, before anything listens (the CLI's main(), the
// monitor's in-process proxy): sets the soft limit to wanted, or to the hard
// limit when wanted is 0 (limits.max_open_files), never above the hard
// limit. Logs a warning when wanted cannot be had, and sets *summary (when
// given) to the limits before and after, for the start-up log lines.
// Returns the limit in force afterwards. Does nothing where there is no
// such limit.
OpenFilesLimit applyOpenFilesLimit(qint64 wanted, QString *summary = nullptr);

} // namespace SockJsProxy
