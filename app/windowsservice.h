#pragma once

// sockjsproxy-cli as a Windows service (the MSI installs it as
// sockjsproxy-service.exe): the Service Control Manager's side, plain Win32
// and no Qt, so that the program body stays the same as from a console.

#include <cstdint>
#include <string>
#include <string_view>

namespace SockJsProxy {
namespace WindowsService {

// What the service runs. Implemented by the program; the service calls it.
class Program
{
public:
    virtual ~Program() = default;

    // The program body, called once on the service's own thread (the first
    // to run Qt code, so it may own the QCoreApplication). Calls
    // serving() once it serves requests; the service reports
    // SERVICE_RUNNING then and accepts stop requests from that point.
    // Returns the exit status: 0 once stopped on request, otherwise the
    // reason startup failed (reported as the service-specific exit code).
    virtual int run() = 0;

    // A stop or shutdown request, on the dispatcher's thread, at most once
    // and only after serving(). May race with run() returning, so it must
    // be thread-safe and do nothing once the body is gone.
    virtual void requestStop() = 0;

protected:
    // Tells the service the body serves; call from run().
    static void serving();
};

// Connects to the Service Control Manager if it started this process and
// runs program as the service until it stops (blocks; call from main()
// before anything else). Returns true and the program's exit status in
// *exitStatus when it ran as the service; false at once when the process
// was not started by the Service Control Manager (run from a console).
bool runIfStartedAsService(Program &program, int *exitStatus);

// %ProgramData%\SockJSProxy\sockjsproxy.log, the directory the MSI installs
// the service's config into (created if missing).
std::wstring defaultLogPath();

// The service's log: appends lines to path and keeps one older generation
// (past maxBytes the file becomes PATH.old, replacing the previous one, and
// a new one is started). Returns false if the file cannot be opened; lines
// are then dropped, as are write errors (a service has nowhere else to
// report them). Thread-safe, one log per process; nothing is buffered in
// the process, so a line is in the file when writeLogLine() returns.
bool openLogFile(const std::wstring &path, std::uint64_t maxBytes = 4 * 1024 * 1024);
void writeLogLine(std::string_view line); // UTF-8, without the line break
void closeLogFile();

} // namespace WindowsService
} // namespace SockJsProxy
