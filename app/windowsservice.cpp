#include "windowsservice.h"

#ifndef NOMINMAX
#define NOMINMAX
#endif
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <string>

namespace SockJsProxy {
namespace WindowsService {

namespace {

// How long the Service Control Manager should wait before it considers a
// pending start or stop hung. Startup reads a file and binds sockets; the
// stop flushes to the backends for at most shutdown_timeout_ms (2 s by
// default; ProxyInstance).
constexpr DWORD kStartWaitHintMs = 30000;
constexpr DWORD kStopWaitHintMs = 15000;

// std::mutex is missing from some MinGW toolchains (win32 threads).
class Lock
{
public:
    explicit Lock(SRWLOCK &lock) : m_lock(lock) { AcquireSRWLockExclusive(&m_lock); }
    ~Lock() { ReleaseSRWLockExclusive(&m_lock); }
    Lock(const Lock &) = delete;
    Lock &operator=(const Lock &) = delete;

private:
    SRWLOCK &m_lock;
};

struct Log
{
    SRWLOCK lock = SRWLOCK_INIT;
    std::wstring path;
    std::uint64_t maxBytes = 0;
    std::uint64_t size = 0;
    HANDLE file = INVALID_HANDLE_VALUE;

    bool open()
    {
        // Shared, so that the log can be read, and rotated by a second
        // instance, while it is written.
        file = CreateFileW(path.c_str(), FILE_APPEND_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                           nullptr, OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
        LARGE_INTEGER existing = {};
        if (file != INVALID_HANDLE_VALUE && GetFileSizeEx(file, &existing))
            size = static_cast<std::uint64_t>(existing.QuadPart);
        return file != INVALID_HANDLE_VALUE;
    }

    void close()
    {
        if (file != INVALID_HANDLE_VALUE)
            CloseHandle(file);
        file = INVALID_HANDLE_VALUE;
        size = 0;
    }
};

Log g_log;

// ServiceMain and the control handler get no context from the dispatcher,
// so the one service of this process lives here. The status is set from
// two threads (the body's, the dispatcher's): m_lock orders the updates
// so that check points grow and a late stop cannot follow SERVICE_STOPPED.
class ServiceRunner
{
public:
    Program *program = nullptr;
    int exitStatus = 0;

    void start(const wchar_t *name)
    {
        m_handle = RegisterServiceCtrlHandlerExW(name, &ServiceRunner::handler, this);
        if (!m_handle) {
            exitStatus = 1;
            return;
        }
        report(SERVICE_START_PENDING, kStartWaitHintMs);
        exitStatus = program->run();
        // Last: once SERVICE_STOPPED is reported the process may be ended.
        report(SERVICE_STOPPED, 0, exitStatus);
    }

    void serving() { report(SERVICE_RUNNING, 0); }

private:
    static DWORD WINAPI handler(DWORD control, DWORD, void *, void *context)
    {
        auto *self = static_cast<ServiceRunner *>(context);
        switch (control) {
        case SERVICE_CONTROL_STOP:
        case SERVICE_CONTROL_SHUTDOWN:
            // Only a running service accepts stop (see report()), so this
            // comes once, after serving().
            if (self->report(SERVICE_STOP_PENDING, kStopWaitHintMs, 0, SERVICE_RUNNING))
                self->program->requestStop();
            return NO_ERROR;
        case SERVICE_CONTROL_INTERROGATE:
            self->reportAgain();
            return NO_ERROR;
        default:
            return ERROR_CALL_NOT_IMPLEMENTED;
        }
    }

    // Moves to state (from the state `from` only, unless it is 0) and tells
    // the Service Control Manager. Returns false when the move was refused.
    bool report(DWORD state, DWORD waitHintMs, int status = 0, DWORD from = 0)
    {
        const Lock lock(m_lock);
        if (m_status.dwCurrentState == SERVICE_STOPPED)
            return false;
        if (from != 0 && m_status.dwCurrentState != from)
            return false;
        m_status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
        m_status.dwCurrentState = state;
        m_status.dwControlsAccepted = state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN : 0;
        m_status.dwWin32ExitCode = status == 0 ? NO_ERROR : ERROR_SERVICE_SPECIFIC_ERROR;
        m_status.dwServiceSpecificExitCode = static_cast<DWORD>(status);
        const bool pending = state == SERVICE_START_PENDING || state == SERVICE_STOP_PENDING;
        m_status.dwCheckPoint = pending ? m_status.dwCheckPoint + 1 : 0;
        m_status.dwWaitHint = waitHintMs;
        SetServiceStatus(m_handle, &m_status);
        return true;
    }

    void reportAgain()
    {
        const Lock lock(m_lock);
        if (m_status.dwServiceType != 0)
            SetServiceStatus(m_handle, &m_status);
    }

    SERVICE_STATUS_HANDLE m_handle = nullptr;
    SERVICE_STATUS m_status = {};
    SRWLOCK m_lock = SRWLOCK_INIT;
};

ServiceRunner g_service;

void WINAPI serviceMain(DWORD argc, wchar_t **argv)
{
    // argv holds `sc start NAME ARGS...`; the program takes its options from
    // the process command line (the service's ImagePath) instead, as from a
    // console, so extra start arguments are ignored.
    g_service.start(argc > 0 ? argv[0] : L"");
}

} // namespace

void Program::serving() { g_service.serving(); }

bool runIfStartedAsService(Program &program, int *exitStatus)
{
    g_service.program = &program;
    // The name is not checked for a service that has its own process.
    wchar_t name[] = L"SockJSProxy";
    const SERVICE_TABLE_ENTRYW table[] = {{name, &serviceMain}, {nullptr, nullptr}};
    // Returns once the service has stopped. From a console it fails at once
    // with ERROR_FAILED_SERVICE_CONTROLLER_CONNECT; any other failure means
    // the dispatcher cannot run here either, so the console path is taken.
    if (!StartServiceCtrlDispatcherW(table))
        return false;
    *exitStatus = g_service.exitStatus;
    return true;
}

std::wstring defaultLogPath()
{
    // The MSI's CommonAppDataFolder; set in every service's environment.
    wchar_t programData[MAX_PATH] = {};
    const DWORD length = GetEnvironmentVariableW(L"ProgramData", programData, MAX_PATH);
    std::wstring directory = length > 0 && length < MAX_PATH ? programData : L"C:\\ProgramData";
    directory += L"\\SockJSProxy";
    CreateDirectoryW(directory.c_str(), nullptr);
    return directory + L"\\sockjsproxy.log";
}

bool openLogFile(const std::wstring &path, std::uint64_t maxBytes)
{
    const Lock lock(g_log.lock);
    g_log.close();
    g_log.path = path;
    g_log.maxBytes = maxBytes;
    return g_log.open();
}

void writeLogLine(std::string_view line)
{
    const Lock lock(g_log.lock);
    if (g_log.file == INVALID_HANDLE_VALUE)
        return;
    std::string bytes(line);
    bytes += "\r\n";
    if (g_log.size > 0 && g_log.size + bytes.size() > g_log.maxBytes) {
        g_log.close();
        MoveFileExW(g_log.path.c_str(), (g_log.path + L".old").c_str(), MOVEFILE_REPLACE_EXISTING);
        if (!g_log.open())
            return;
    }
    DWORD written = 0;
    // Not buffered here: the last lines are in the file before the service
    // reports SERVICE_STOPPED and the process may be ended.
    if (WriteFile(g_log.file, bytes.data(), static_cast<DWORD>(bytes.size()), &written, nullptr))
        g_log.size += written;
}

void closeLogFile()
{
    const Lock lock(g_log.lock);
    g_log.close();
}

} // namespace WindowsService
} // namespace SockJsProxy
