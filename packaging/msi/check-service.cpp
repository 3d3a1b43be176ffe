// The service runner of app/windowsservice.cpp with a stand-in for the
// program body, for packaging/msi/check-service (MinGW + wine). Plain
// Win32 like the runner, so no Qt for Windows is needed to build it.
//
//   check-service.exe LOGFILE           as a service: starts (1.5 s in
//                                       START_PENDING), serves until stopped
//   check-service.exe LOGFILE fail      as a service: startup fails, status 3
//   check-service.exe LOGFILE rotate    from a console: 100 lines into a
//                                       log of at most 1000 bytes
//   check-service.exe LOGFILE           from a console: prints how it ran

#include "windowsservice.h"

#include <windows.h>

#include <cstdio>
#include <string>

using namespace SockJsProxy::WindowsService;

namespace {

std::string threadId() { return std::to_string(GetCurrentThreadId()); }

class StandInProgram final : public Program
{
public:
    explicit StandInProgram(bool failStartup) : m_failStartup(failStartup)
    {
        m_stop = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    }

    int run() override
    {
        writeLogLine("run: thread " + threadId());
        if (m_failStartup) {
            writeLogLine("run: startup failed, status 3");
            return 3;
        }
        Sleep(1500); // long enough for a stop to arrive while START_PENDING
        serving();
        writeLogLine("run: serving");
        WaitForSingleObject(m_stop, INFINITE);
        writeLogLine("run: stopping");
        Sleep(500); // the drain: STOP_PENDING meanwhile
        writeLogLine("run: returns 0");
        return 0;
    }

    void requestStop() override
    {
        writeLogLine("requestStop: thread " + threadId());
        SetEvent(m_stop);
    }

private:
    bool m_failStartup;
    HANDLE m_stop;
};

} // namespace

int wmain(int argc, wchar_t **argv)
{
    if (argc < 2)
        return 64;
    const std::wstring mode = argc > 2 ? argv[2] : L"";
    if (mode == L"rotate") {
        openLogFile(argv[1], 1000);
        for (int i = 0; i < 100; ++i)
            writeLogLine("line " + std::to_string(100 + i) + " " + std::string(38, 'x'));
        closeLogFile();
        return 0;
    }
    openLogFile(argv[1]);
    StandInProgram program(mode == L"fail");
    int status = -1;
    const std::string mainThread = threadId();
    if (runIfStartedAsService(program, &status)) {
        writeLogLine("main: thread " + mainThread + ", service stopped, status " + std::to_string(status));
        return status;
    }
    const DWORD error = GetLastError();
    std::printf("console: error %lu%s\n", error,
                error == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT ? " ERROR_FAILED_SERVICE_CONTROLLER_CONNECT" : "");
    return 0;
}
