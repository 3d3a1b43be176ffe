// sockjsproxy-bench-loadgen: the load generator of bench/run.
//
// One thread, one epoll loop, no Qt and no allocations per message beyond
// buffer growth, so that on a 2-core machine it is not the bottleneck: it
// measures its own CPU time (getrusage) and prints its share of one core.
//
// It speaks just enough of the protocols to drive a SockJS server the way
// sockjs-client does:
//   websocket      GET PREFIX/000/<id>/websocket, frames o, h, a[...], c[...];
//                  each message sent as its own masked frame ["..."]
//   xhr_streaming  POST .../xhr_streaming (chunked; reopened after the
//                  response limit) + POST .../xhr_send, one send in flight
//                  per session, later messages batched into the next send
//   xhr_polling    POST .../xhr in a loop + POST .../xhr_send as above
// --protocol raw drives a plain WebSocket echo server instead (no SockJS
// framing: one text frame = one message, open = 101).
//
// Scenarios (one per run; the result is one line "RESULT key=value ..."):
//   echo     --sessions N, each keeps --window messages of --size bytes in
//            flight (closed loop); messages/s and messages per server CPU-s
//   latency  --rate msgs/s spread over --sessions (open loop, timerfd);
//            round-trip p50/p99
//   idle     open --sessions, wait, read the server's RSS: bytes per session
//   connect  open and close WebSocket sessions, --concurrency at a time;
//            sessions/s and sessions per server CPU-s
//   fanout   open --sessions, then --rounds times: send "__fanout__" on one
//            session, time until every session has received a message
// Server CPU is utime+stime of --server-pid from /proc/PID/stat over the
// measured interval; RSS is from /proc/PID/statm. Several servers (cluster
// nodes): --port P1,P2,... puts session i on port P(i mod n), and
// --server-pid PID1,PID2,... sums their CPU and RSS.
//
// Every loop is bounded: --timeout ends the run whatever happens.

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <string_view>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <vector>

namespace {

// --- Time, CPU, memory ------------------------------------------------------------

int64_t nowNs()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

double ownCpuSeconds()
{
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// utime + stime of a process (all its threads), in seconds; -1 if unknown.
double processCpuSeconds(int pid)
{
    if (pid <= 0)
        return -1;
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = std::fopen(path, "r");
    if (!f)
        return -1;
    char buf[4096];
    const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = 0;
    const char *p = std::strrchr(buf, ')'); // the command name may hold spaces
    if (!p)
        return -1;
    // After ")": field 3 (state) ... field 14 utime, field 15 stime.
    unsigned long long utime = 0, stime = 0;
    int field = 2;
    for (const char *q = p + 1; *q && field < 15;) {
        while (*q == ' ')
            ++q;
        ++field;
        if (field == 14)
            utime = std::strtoull(q, nullptr, 10);
        if (field == 15)
            stime = std::strtoull(q, nullptr, 10);
        while (*q && *q != ' ')
            ++q;
    }
    return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

// The sum over several processes; -1 if any is unknown.
double processCpuSeconds(const std::vector<int> &pids)
{
    double sum = pids.empty() ? -1 : 0;
    for (const int pid : pids) {
        const double cpu = processCpuSeconds(pid);
        if (cpu < 0)
            return -1;
        sum += cpu;
    }
    return sum;
}

// Resident set size in bytes; -1 if unknown.
int64_t processRssBytes(int pid)
{
    if (pid <= 0)
        return -1;
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/statm", pid);
    FILE *f = std::fopen(path, "r");
    if (!f)
        return -1;
    long long size = 0, resident = 0;
    const int got = std::fscanf(f, "%lld %lld", &size, &resident);
    std::fclose(f);
    return got == 2 ? resident * sysconf(_SC_PAGESIZE) : -1;
}

int64_t processRssBytes(const std::vector<int> &pids)
{
    int64_t sum = pids.empty() ? -1 : 0;
    for (const int pid : pids) {
        const int64_t rss = processRssBytes(pid);
        if (rss < 0)
            return -1;
        sum += rss;
    }
    return sum;
}

// "1,2,3" as numbers.
std::vector<int> intList(const std::string &text)
{
    std::vector<int> out;
    size_t from = 0;
    while (from <= text.size()) {
        const size_t comma = std::min(text.find(',', from), text.size());
        out.push_back(std::atoi(text.substr(from, comma - from).c_str()));
        from = comma + 1;
    }
    return out;
}

double percentile(std::vector<int64_t> &v, double p)
{
    if (v.empty())
        return -1;
    const size_t k = std::min(v.size() - 1, size_t(p * double(v.size() - 1) + 0.5));
    std::nth_element(v.begin(), v.begin() + long(k), v.end());
    return double(v[k]);
}

// --- Options ------------------------------------------------------------------------

enum class Scenario { Echo, Latency, Idle, Connect, Fanout };
enum class Transport { WebSocket, XhrStreaming, XhrPolling };

struct Options
{
    std::string host = "127.0.0.1";
    std::vector<int> ports; // session i on ports[i % size]
    std::string prefix = "/echo";
    bool raw = false;
    Scenario scenario = Scenario::Echo;
    Transport transport = Transport::WebSocket;
    int sessions = 100;
    int size = 32;
    int window = 0; // 0: max(1, 128 / sessions)
    double rate = 1000;
    double duration = 5;
    double warmup = 1;
    int concurrency = 32;
    int rounds = 3;
    double settle = 1;
    double timeout = 120;
    std::vector<int> serverPids;
    int backendPid = 0;    // its CPU share is reported too (it shares the generator's core)
    std::string drainPath; // extra WebSocket reader, e.g. 127.0.0.1:PORT/api/stream
};

[[noreturn]] void usage(const char *argv0, const char *error = nullptr)
{
    if (error)
        std::fprintf(stderr, "%s: %s\n", argv0, error);
    std::fprintf(stderr,
                 "usage: %s --port PORT [--host 127.0.0.1] [--prefix /echo] [--protocol sockjs|raw]\n"
                 "  --scenario echo|latency|idle|connect|fanout  --transport websocket|xhr_streaming|xhr_polling\n"
                 "  --sessions N --size BYTES --window W --rate MSGS_PER_S --duration S --warmup S\n"
                 "  --concurrency C --rounds K --settle S --timeout S --server-pid PID --backend-pid PID\n"
                 "  --drain-ws HOST:PORT/PATH\n",
                 argv0);
    std::exit(2);
}

Options parseArgs(int argc, char **argv)
{
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc)
                usage(argv[0], "an option lacks its value");
            return argv[++i];
        };
        if (a == "--host")
            o.host = value();
        else if (a == "--port")
            o.ports = intList(value());
        else if (a == "--prefix")
            o.prefix = value();
        else if (a == "--protocol") {
            const std::string v = value();
            if (v != "sockjs" && v != "raw")
                usage(argv[0], "--protocol: sockjs or raw");
            o.raw = v == "raw";
        } else if (a == "--scenario") {
            const std::string v = value();
            if (v == "echo")
                o.scenario = Scenario::Echo;
            else if (v == "latency")
                o.scenario = Scenario::Latency;
            else if (v == "idle")
                o.scenario = Scenario::Idle;
            else if (v == "connect")
                o.scenario = Scenario::Connect;
            else if (v == "fanout")
                o.scenario = Scenario::Fanout;
            else
                usage(argv[0], "unknown --scenario");
        } else if (a == "--transport") {
            const std::string v = value();
            if (v == "websocket")
                o.transport = Transport::WebSocket;
            else if (v == "xhr_streaming")
                o.transport = Transport::XhrStreaming;
            else if (v == "xhr_polling")
                o.transport = Transport::XhrPolling;
            else
                usage(argv[0], "unknown --transport");
        } else if (a == "--sessions")
            o.sessions = std::atoi(value().c_str());
        else if (a == "--size")
            o.size = std::atoi(value().c_str());
        else if (a == "--window")
            o.window = std::atoi(value().c_str());
        else if (a == "--rate")
            o.rate = std::atof(value().c_str());
        else if (a == "--duration")
            o.duration = std::atof(value().c_str());
        else if (a == "--warmup")
            o.warmup = std::atof(value().c_str());
        else if (a == "--concurrency")
            o.concurrency = std::atoi(value().c_str());
        else if (a == "--rounds")
            o.rounds = std::atoi(value().c_str());
        else if (a == "--settle")
            o.settle = std::atof(value().c_str());
        else if (a == "--timeout")
            o.timeout = std::atof(value().c_str());
        else if (a == "--server-pid")
            o.serverPids = intList(value());
        else if (a == "--backend-pid")
            o.backendPid = std::atoi(value().c_str());
        else if (a == "--drain-ws")
            o.drainPath = value();
        else if (a == "--help" || a == "-h")
            usage(argv[0]);
        else
            usage(argv[0], "unknown option");
    }
    if (o.ports.empty()
        || std::any_of(o.ports.begin(), o.ports.end(), [](int port) { return port <= 0 || port > 65535; }))
        usage(argv[0], "--port is required");
    if (o.sessions < 1 || o.concurrency < 1 || o.rounds < 1 || o.rate <= 0)
        usage(argv[0], "--sessions, --concurrency, --rounds and --rate must be positive");
    if (o.size < 16)
        usage(argv[0], "--size must be at least 16 (the payload carries a timestamp)");
    if (o.raw && o.transport != Transport::WebSocket)
        usage(argv[0], "--protocol raw is WebSocket only");
    if (o.window <= 0)
        o.window = std::max(1, 128 / o.sessions);
    while (o.prefix.size() > 1 && o.prefix.back() == '/')
        o.prefix.pop_back();
    if (o.prefix == "/")
        o.prefix.clear();
    return o;
}

// --- Connections ------------------------------------------------------------------

struct Session;

enum class ConnKind { Ws, HttpRecv, HttpSend, Drain };
enum class ConnPhase { Connecting, Handshake, Open, Closing };

// Incremental HTTP/1.1 response reader state.
struct HttpReader
{
    enum class State { Head, Length, ChunkSize, ChunkData, ChunkCrlf, Trailer, UntilClose };
    State state = State::Head;
    int status = 0;
    int64_t remaining = 0;
    bool close = false;
};

struct Conn
{
    int fd = -1;
    ConnKind kind = ConnKind::Ws;
    ConnPhase phase = ConnPhase::Connecting;
    Session *session = nullptr;
    std::string in;
    size_t inPos = 0;
    std::string out;
    size_t outPos = 0;
    bool wantWrite = false;
    bool requestInFlight = false; // HTTP: a request was sent, its response is not complete
    HttpReader http;
    std::string fragment; // WebSocket message being reassembled
    int64_t closingSince = 0;
    bool inClosingList = false;
    bool dead = false; // closed; freed after the current batch of events
};

struct Session
{
    int index = 0;
    std::string id;
    int attempts = 0;
    bool open = false;
    bool failed = false;
    Conn *recv = nullptr;    // WebSocket, or the xhr_streaming / xhr receiving connection
    Conn *send = nullptr;    // xhr_send connection (HTTP transports)
    std::string stream;      // HTTP transports: frame bytes not yet split at '\n'
    std::string pendingBody; // xhr_send: JSON strings waiting for the next send
    int pendingCount = 0;
    int inFlight = 0;
    int fanoutRound = -1;
};

class LoadGen
{
public:
    explicit LoadGen(const Options &o) : m_o(o) {}
    int run();

private:
    // connections
    Conn *openConn(ConnKind kind, Session *session);
    void closeConn(Conn *c, bool reset = false);
    void onEvent(Conn *c, uint32_t events);
    void onConnected(Conn *c);
    void onReadable(Conn *c);
    void flushOut(Conn *c);
    void updateEpoll(Conn *c);
    void onConnLost(Conn *c, const char *why);
    void process(Conn *c);
    bool processHttp(Conn *c);
    void processWs(Conn *c);
    void onHttpBody(Conn *c, const char *data, size_t n);
    void onHttpResponseEnd(Conn *c);
    void onWsMessage(Conn *c, const char *data, size_t n);
    void onSockJsFrame(Session *s, const char *data, size_t n);
    void sendWsFrame(Conn *c, int opcode, const char *data, size_t n);
    void sendHttpRequest(Conn *c, const char *transport, std::string_view body);

    // sessions
    void startSession(Session *s);
    void onSessionOpen(Session *s);
    void onSessionFailed(Session *s, const char *why);
    void onMessage(Session *s, const char *data, size_t n);
    void sendMessage(Session *s);
    void sendPayload(Session *s, std::string_view payload);
    void pumpSend(Session *s);
    void pumpOpens();
    std::string sessionPath(const Session *s, const char *transport) const;
    int portOf(const Session *s) const;

    // scenario
    void tick();
    void onRateTimer();
    void startMeasuring();
    void stopMeasuring();
    void startFanoutRound();
    void finish(const char *error = nullptr);

    Options m_o;
    int m_epoll = -1;
    int m_tickFd = -1;
    int m_rateFd = -1;
    int64_t m_start = 0;
    int64_t m_deadline = 0;
    std::string m_runTag;
    uint64_t m_nextSessionSerial = 0;

    std::vector<std::unique_ptr<Session>> m_sessions;
    size_t m_nextToOpen = 0;
    int m_opening = 0;
    int m_openCount = 0;
    int64_t m_allOpenAt = 0;
    std::vector<Conn *> m_closing;
    std::vector<Conn *> m_dead;
    std::vector<char> m_readBuf = std::vector<char>(256 * 1024);
    std::string m_message; // scratch
    Conn *m_drain = nullptr;
    uint64_t m_drainBytes = 0;

    enum class Phase { Opening, Settling, Warmup, Measuring, Draining, Done };
    Phase m_phase = Phase::Opening;
    int64_t m_phaseAt = 0;
    bool m_sending = false;

    // measurement
    int64_t m_t0 = 0, m_t1 = 0;
    double m_serverCpu0 = 0, m_serverCpu1 = 0, m_ownCpu0 = 0, m_ownCpu1 = 0;
    double m_backendCpu0 = 0, m_backendCpu1 = 0;
    uint64_t m_received = 0;
    uint64_t m_sent = 0;
    uint64_t m_opened = 0;
    uint64_t m_errors = 0;
    std::vector<int64_t> m_latencies;
    int64_t m_rssBefore = -1, m_rssAfter = -1;
    uint64_t m_rateSent = 0;
    int64_t m_rateStart = 0;
    size_t m_rateNext = 0;

    // fanout
    int m_round = -1;
    int m_roundGot = 0;
    int64_t m_roundStart = 0;
    int64_t m_roundEndedAt = 0;
    std::vector<int64_t> m_roundNs;
    double m_roundCpu0 = 0;
    std::vector<int64_t> m_roundCpuUs; // server CPU per round (10 ms resolution)

    std::string m_payload; // scratch
    std::string m_error;
};

int LoadGen::portOf(const Session *s) const { return m_o.ports[s ? size_t(s->index) % m_o.ports.size() : 0]; }

std::string LoadGen::sessionPath(const Session *s, const char *transport) const
{
    return m_o.prefix + "/000/" + s->id + "/" + transport;
}

Conn *LoadGen::openConn(ConnKind kind, Session *session)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        std::fprintf(stderr, "loadgen: socket: %s\n", std::strerror(errno));
        return nullptr;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(uint16_t(portOf(session)));
    ::inet_pton(AF_INET, m_o.host.c_str(), &addr.sin_addr);
    auto *c = new Conn;
    c->fd = fd;
    c->kind = kind;
    c->session = session;
    if (kind == ConnKind::Drain) {
        // HOST:PORT/PATH
        const std::string &d = m_o.drainPath;
        const size_t colon = d.find(':');
        const size_t slash = d.find('/');
        addr.sin_port = htons(uint16_t(std::atoi(d.substr(colon + 1, slash - colon - 1).c_str())));
        ::inet_pton(AF_INET, d.substr(0, colon).c_str(), &addr.sin_addr);
    }
    if (::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
        std::fprintf(stderr, "loadgen: connect: %s\n", std::strerror(errno));
        ::close(fd);
        delete c;
        return nullptr;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
    ev.data.ptr = c;
    c->wantWrite = true;
    ::epoll_ctl(m_epoll, EPOLL_CTL_ADD, fd, &ev);
    return c;
}

void LoadGen::closeConn(Conn *c, bool reset)
{
    if (!c || c->dead)
        return;
    if (reset) {
        const linger l{1, 0};
        ::setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    ::epoll_ctl(m_epoll, EPOLL_CTL_DEL, c->fd, nullptr);
    ::close(c->fd);
    c->fd = -1;
    c->dead = true;
    if (c->session) {
        if (c->session->recv == c)
            c->session->recv = nullptr;
        if (c->session->send == c)
            c->session->send = nullptr;
        c->session = nullptr;
    }
    if (c->inClosingList) {
        m_closing.erase(std::find(m_closing.begin(), m_closing.end(), c));
        c->inClosingList = false;
    }
    if (c == m_drain)
        m_drain = nullptr;
    // Callers up the stack may still hold c: it goes after this batch of events.
    m_dead.push_back(c);
}

void LoadGen::onConnLost(Conn *c, const char *why)
{
    if (c->dead)
        return;
    Session *s = c->session;
    if (c->kind == ConnKind::Drain) {
        ++m_errors;
        m_error = "monitor stream lost";
        closeConn(c);
        return;
    }
    if (!s || c->phase == ConnPhase::Closing || m_phase == Phase::Done) {
        closeConn(c);
        return;
    }
    if (c->kind == ConnKind::HttpSend) {
        // A keep-alive connection the server closed: the next send reconnects.
        if (c->requestInFlight)
            ++m_errors; // its messages are lost
        closeConn(c);
        pumpSend(s);
        return;
    }
    onSessionFailed(s, why);
}

void LoadGen::updateEpoll(Conn *c)
{
    const bool want = c->phase == ConnPhase::Connecting || c->outPos < c->out.size();
    if (want == c->wantWrite)
        return;
    c->wantWrite = want;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0u);
    ev.data.ptr = c;
    ::epoll_ctl(m_epoll, EPOLL_CTL_MOD, c->fd, &ev);
}

void LoadGen::flushOut(Conn *c)
{
    if (c->dead || c->phase == ConnPhase::Connecting)
        return;
    while (c->outPos < c->out.size()) {
        const ssize_t n = ::send(c->fd, c->out.data() + c->outPos, c->out.size() - c->outPos, MSG_NOSIGNAL);
        if (n > 0) {
            c->outPos += size_t(n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        break; // EAGAIN, or an error that the read side reports
    }
    if (c->outPos == c->out.size()) {
        c->out.clear();
        c->outPos = 0;
    } else if (c->outPos > 1 << 20) {
        c->out.erase(0, c->outPos);
        c->outPos = 0;
    }
    updateEpoll(c);
}

void LoadGen::onEvent(Conn *c, uint32_t events)
{
    if (c->dead)
        return;
    if (c->phase == ConnPhase::Connecting) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            onConnLost(c, std::strerror(err));
            return;
        }
        onConnected(c);
        return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        onReadable(c); // may delete c
        return;
    }
    if (events & EPOLLOUT)
        flushOut(c);
}

void LoadGen::onConnected(Conn *c)
{
    c->phase = ConnPhase::Handshake;
    if (c->kind == ConnKind::Ws || c->kind == ConnKind::Drain) {
        std::string path;
        if (c->kind == ConnKind::Drain)
            path = m_o.drainPath.substr(m_o.drainPath.find('/'));
        else if (m_o.raw)
            path = m_o.prefix.empty() ? "/" : m_o.prefix;
        else
            path = sessionPath(c->session, "websocket");
        c->out += "GET " + path + " HTTP/1.1\r\nHost: " + m_o.host + ":" + std::to_string(portOf(c->session))
                  + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    } else {
        c->phase = ConnPhase::Open; // HTTP: requests go out as they come
        if (c->kind == ConnKind::HttpRecv)
            sendHttpRequest(c, m_o.transport == Transport::XhrStreaming ? "xhr_streaming" : "xhr", {});
        else if (c->session)
            pumpSend(c->session);
    }
    flushOut(c);
}

void LoadGen::sendHttpRequest(Conn *c, const char *transport, std::string_view body)
{
    c->out += "POST " + sessionPath(c->session, transport) + " HTTP/1.1\r\nHost: " + m_o.host + ":"
              + std::to_string(portOf(c->session)) + "\r\n";
    if (!body.empty())
        c->out += "Content-Type: text/plain;charset=UTF-8\r\n";
    c->out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    c->out.append(body.data(), body.size());
    c->requestInFlight = true;
    c->http = HttpReader{};
}

void LoadGen::onReadable(Conn *c)
{
    bool eof = false;
    for (;;) {
        const ssize_t n = ::recv(c->fd, m_readBuf.data(), m_readBuf.size(), 0);
        if (n > 0) {
            c->in.append(m_readBuf.data(), size_t(n));
            if (size_t(n) < m_readBuf.size())
                break;
            continue;
        }
        if (n == 0) {
            eof = true;
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            eof = true;
        break;
    }
    if (c->kind == ConnKind::Drain)
        m_drainBytes += c->in.size() - c->inPos;
    if (c->phase == ConnPhase::Closing) {
        c->in.clear();
        c->inPos = 0;
        if (eof)
            closeConn(c);
        return;
    }
    process(c);
    if (c->dead)
        return;
    if (eof) {
        if (c->kind == ConnKind::HttpRecv || c->kind == ConnKind::HttpSend) {
            if (c->http.state == HttpReader::State::UntilClose && c->requestInFlight) {
                c->requestInFlight = false;
                onHttpResponseEnd(c);
            }
        }
        onConnLost(c, "connection closed by the server");
        return;
    }
    if (c->inPos == c->in.size()) {
        c->in.clear();
        c->inPos = 0;
    } else if (c->inPos > 0) {
        c->in.erase(0, c->inPos);
        c->inPos = 0;
    }
    flushOut(c);
}

void LoadGen::process(Conn *c)
{
    if (c->kind == ConnKind::Ws || c->kind == ConnKind::Drain) {
        if (c->phase == ConnPhase::Handshake) {
            const size_t end = c->in.find("\r\n\r\n", c->inPos);
            if (end == std::string::npos)
                return;
            if (c->in.compare(c->inPos, 12, "HTTP/1.1 101") != 0) {
                std::fprintf(stderr, "loadgen: WebSocket handshake refused: %.60s\n", c->in.c_str() + c->inPos);
                c->inPos = c->in.size();
                if (c->kind == ConnKind::Drain) {
                    ++m_errors;
                    m_error = "monitor stream refused";
                } else if (c->session) {
                    onSessionFailed(c->session, "handshake refused");
                }
                return;
            }
            c->inPos = end + 4;
            c->phase = ConnPhase::Open;
            if (c->kind == ConnKind::Ws && m_o.raw && c->session)
                onSessionOpen(c->session);
        }
        processWs(c);
        return;
    }
    while (!c->dead && c->inPos < c->in.size() && c->requestInFlight) {
        if (!processHttp(c))
            return;
    }
}

// Returns false when it needs more bytes.
bool LoadGen::processHttp(Conn *c)
{
    HttpReader &h = c->http;
    std::string &in = c->in;
    switch (h.state) {
    case HttpReader::State::Head: {
        const size_t end = in.find("\r\n\r\n", c->inPos);
        if (end == std::string::npos)
            return false;
        const std::string_view head(in.data() + c->inPos, end - c->inPos);
        h.status = head.size() > 12 ? std::atoi(std::string(head.substr(9, 3)).c_str()) : 0;
        int64_t length = -1;
        bool chunked = false;
        size_t pos = head.find("\r\n");
        while (pos != std::string_view::npos && pos < head.size()) {
            const size_t next = head.find("\r\n", pos + 2);
            std::string line(head.substr(pos + 2, (next == std::string_view::npos ? head.size() : next) - pos - 2));
            std::transform(line.begin(), line.end(), line.begin(), [](char ch) { return char(std::tolower(ch)); });
            if (line.rfind("content-length:", 0) == 0)
                length = std::atoll(line.c_str() + 15);
            else if (line.rfind("transfer-encoding:", 0) == 0 && line.find("chunked") != std::string::npos)
                chunked = true;
            else if (line.rfind("connection:", 0) == 0 && line.find("close") != std::string::npos)
                h.close = true;
            pos = next;
        }
        c->inPos = end + 4;
        if (h.status == 204 || h.status == 304 || (h.status >= 100 && h.status < 200)) {
            h.remaining = 0;
            h.state = HttpReader::State::Length;
        } else if (chunked) {
            h.state = HttpReader::State::ChunkSize;
        } else if (length >= 0) {
            h.remaining = length;
            h.state = HttpReader::State::Length;
        } else {
            h.state = HttpReader::State::UntilClose;
        }
        if (h.status != 200 && h.status != 204) {
            ++m_errors;
            if (c->session && !c->session->open)
                std::fprintf(stderr, "loadgen: HTTP %d for session %s\n", h.status, c->session->id.c_str());
        }
        if (c->dead)
            return false;
        if (h.state == HttpReader::State::Length && h.remaining == 0) {
            c->requestInFlight = false;
            onHttpResponseEnd(c);
        }
        return true;
    }
    case HttpReader::State::Length: {
        const size_t n = size_t(std::min<int64_t>(h.remaining, int64_t(in.size() - c->inPos)));
        const size_t at = c->inPos;
        c->inPos += n;
        h.remaining -= int64_t(n);
        const bool done = h.remaining == 0;
        if (done)
            c->requestInFlight = false;
        onHttpBody(c, in.data() + at, n);
        if (done && !c->dead)
            onHttpResponseEnd(c);
        return true;
    }
    case HttpReader::State::UntilClose: {
        const size_t at = c->inPos;
        c->inPos = in.size();
        onHttpBody(c, in.data() + at, in.size() - at);
        return false;
    }
    case HttpReader::State::ChunkSize: {
        const size_t end = in.find("\r\n", c->inPos);
        if (end == std::string::npos)
            return false;
        h.remaining = std::strtoll(in.c_str() + c->inPos, nullptr, 16);
        c->inPos = end + 2;
        h.state = h.remaining == 0 ? HttpReader::State::Trailer : HttpReader::State::ChunkData;
        return true;
    }
    case HttpReader::State::ChunkData: {
        const size_t n = size_t(std::min<int64_t>(h.remaining, int64_t(in.size() - c->inPos)));
        const size_t at = c->inPos;
        c->inPos += n;
        h.remaining -= int64_t(n);
        if (h.remaining == 0)
            h.state = HttpReader::State::ChunkCrlf;
        onHttpBody(c, in.data() + at, n);
        return true;
    }
    case HttpReader::State::ChunkCrlf:
        if (in.size() - c->inPos < 2)
            return false;
        c->inPos += 2;
        h.state = HttpReader::State::ChunkSize;
        return true;
    case HttpReader::State::Trailer: {
        const size_t end = in.find("\r\n", c->inPos);
        if (end == std::string::npos)
            return false;
        c->inPos = end + 2; // an empty line: servers here send no trailer fields
        c->requestInFlight = false;
        onHttpResponseEnd(c);
        return true;
    }
    }
    return false;
}

void LoadGen::onHttpBody(Conn *c, const char *data, size_t n)
{
    Session *s = c->session;
    if (!s || c->kind != ConnKind::HttpRecv || n == 0)
        return;
    if (c->http.status != 200)
        return;
    s->stream.append(data, n);
    size_t start = 0;
    for (;;) {
        const size_t nl = s->stream.find('\n', start);
        if (nl == std::string::npos)
            break;
        onSockJsFrame(s, s->stream.data() + start, nl - start);
        start = nl + 1;
        if (c->dead || s->recv != c)
            return; // the session went away
    }
    s->stream.erase(0, start);
}

void LoadGen::onHttpResponseEnd(Conn *c)
{
    Session *s = c->session;
    if (!s)
        return;
    if (c->kind == ConnKind::HttpSend) {
        if (c->http.close) {
            closeConn(c);
            return;
        }
        pumpSend(s);
        return;
    }
    // The receiving request ended: polling polls again, streaming reopens
    // (response limit reached), as sockjs-client does.
    if (c->http.status != 200) {
        onSessionFailed(s, "receiving request refused");
        return;
    }
    if (m_phase == Phase::Done)
        return;
    if (c->http.close) {
        closeConn(c);
        s->stream.clear();
        Conn *n = openConn(ConnKind::HttpRecv, s);
        s->recv = n;
        // The reconnected request asks for the same session: not a new open.
        if (!n)
            onSessionFailed(s, "cannot reconnect");
        return;
    }
    s->stream.clear();
    sendHttpRequest(c, m_o.transport == Transport::XhrStreaming ? "xhr_streaming" : "xhr", {});
}

void LoadGen::processWs(Conn *c)
{
    for (;;) {
        if (c->dead)
            return;
        const size_t avail = c->in.size() - c->inPos;
        if (avail < 2)
            return;
        const auto *p = reinterpret_cast<const unsigned char *>(c->in.data() + c->inPos);
        const bool fin = p[0] & 0x80;
        const int opcode = p[0] & 0x0f;
        uint64_t len = p[1] & 0x7f;
        size_t header = 2;
        if (len == 126) {
            if (avail < 4)
                return;
            len = (uint64_t(p[2]) << 8) | p[3];
            header = 4;
        } else if (len == 127) {
            if (avail < 10)
                return;
            len = 0;
            for (int i = 0; i < 8; ++i)
                len = (len << 8) | p[2 + i];
            header = 10;
        }
        if (p[1] & 0x80)
            header += 4; // servers do not mask; tolerate it anyway (unmasked reading is wrong then)
        if (avail < header + len)
            return;
        const char *payload = c->in.data() + c->inPos + header;
        c->inPos += header + size_t(len);
        Session *s = c->session;
        if (opcode == 0x8) { // close
            if (c->kind == ConnKind::Drain) {
                m_error = "monitor stream closed";
                ++m_errors;
            }
            c->phase = ConnPhase::Closing;
            c->closingSince = nowNs();
            if (s && s->recv == c && !s->failed && m_phase != Phase::Done && m_o.scenario != Scenario::Connect)
                onSessionFailed(s, "closed by the server");
            return;
        }
        if (opcode == 0x9) { // ping
            sendWsFrame(c, 0xA, payload, size_t(len));
            continue;
        }
        if (opcode == 0xA)
            continue;
        if (c->kind == ConnKind::Drain)
            continue;
        if (opcode == 0x0 || !fin) {
            c->fragment.append(payload, size_t(len));
            if (!fin)
                continue;
            std::string whole;
            whole.swap(c->fragment);
            onWsMessage(c, whole.data(), whole.size());
        } else {
            onWsMessage(c, payload, size_t(len));
        }
        if (c->dead || !c->session || c->session->recv != c || c->phase != ConnPhase::Open)
            return;
    }
}

void LoadGen::onWsMessage(Conn *c, const char *data, size_t n)
{
    Session *s = c->session;
    if (!s)
        return;
    if (m_o.raw)
        onMessage(s, data, n);
    else
        onSockJsFrame(s, data, n);
}

void LoadGen::onSockJsFrame(Session *s, const char *data, size_t n)
{
    if (n == 0)
        return;
    switch (data[0]) {
    case 'o':
        if (n == 1 && !s->open)
            onSessionOpen(s);
        return;
    case 'h':
        return; // heartbeat, or the xhr_streaming prelude of 2048 'h'
    case 'c':
        if (m_o.scenario != Scenario::Connect && m_phase != Phase::Done)
            onSessionFailed(s, "c frame from the server");
        return;
    case 'a': {
        // a["...","..."]: JSON strings; payloads here never need escapes,
        // but escapes are skipped correctly all the same.
        size_t i = 1;
        while (i < n) {
            while (i < n && data[i] != '"')
                ++i;
            if (i >= n)
                break;
            const size_t start = ++i;
            while (i < n && data[i] != '"') {
                if (data[i] == '\\')
                    ++i;
                ++i;
            }
            onMessage(s, data + start, std::min(i, n) - start);
            ++i;
        }
        return;
    }
    default:
        return;
    }
}

void LoadGen::sendWsFrame(Conn *c, int opcode, const char *data, size_t n)
{
    // Masked, as a client must; the key is 0, which leaves the payload as is
    // (any key is valid) and spares the generator a pass over every byte.
    char header[14];
    size_t h = 0;
    header[h++] = char(0x80 | opcode);
    if (n < 126) {
        header[h++] = char(0x80 | n);
    } else if (n < 65536) {
        header[h++] = char(0x80 | 126);
        header[h++] = char(n >> 8);
        header[h++] = char(n);
    } else {
        header[h++] = char(0x80 | 127);
        for (int i = 7; i >= 0; --i)
            header[h++] = char(uint64_t(n) >> (8 * i));
    }
    for (int i = 0; i < 4; ++i)
        header[h++] = 0;
    c->out.append(header, h);
    c->out.append(data, n);
}

// --- Sessions -----------------------------------------------------------------------

void LoadGen::startSession(Session *s)
{
    ++s->attempts;
    s->open = false;
    s->stream.clear();
    // A fresh id per attempt: a SockJS session id is never reused.
    s->id = "b" + m_runTag + "-" + std::to_string(m_nextSessionSerial++);
    ++m_opening;
    s->recv = openConn(m_o.transport == Transport::WebSocket ? ConnKind::Ws : ConnKind::HttpRecv, s);
    if (!s->recv)
        onSessionFailed(s, "cannot connect");
}

void LoadGen::onSessionOpen(Session *s)
{
    if (s->open)
        return;
    s->open = true;
    s->attempts = 0;
    --m_opening;
    ++m_openCount;
    if (m_o.scenario == Scenario::Connect) {
        if (m_phase == Phase::Measuring)
            ++m_opened;
        // Close as a browser does: a close frame, then wait for the server
        // to close the TCP connection (reset after a second).
        Conn *c = s->recv;
        const char code[2] = {char(0x03), char(0xe8)}; // 1000
        sendWsFrame(c, 0x8, code, 2);
        flushOut(c);
        c->phase = ConnPhase::Closing;
        c->closingSince = nowNs();
        c->session = nullptr;
        s->recv = nullptr;
        c->inClosingList = true;
        m_closing.push_back(c);
        --m_openCount;
        s->open = false;
        if (m_phase == Phase::Warmup || m_phase == Phase::Measuring)
            startSession(s);
        return;
    }
    pumpOpens(); // xhr_send connections open with the first message
    if (m_phase == Phase::Opening && m_openCount == int(m_sessions.size())) {
        m_allOpenAt = nowNs();
        m_phase = Phase::Settling;
        m_phaseAt = m_allOpenAt;
    }
}

void LoadGen::onSessionFailed(Session *s, const char *why)
{
    ++m_errors;
    closeConn(s->recv, true);
    closeConn(s->send, true);
    s->recv = s->send = nullptr;
    const bool wasOpen = s->open;
    if (wasOpen) {
        s->open = false;
        --m_openCount;
    } else {
        --m_opening;
    }
    s->inFlight = 0;
    s->pendingBody.clear();
    s->pendingCount = 0;
    std::fprintf(stderr, "loadgen: session %d: %s%s\n", s->index, why, wasOpen ? " (was open)" : "");
    if (m_phase == Phase::Done)
        return;
    if (s->attempts < 5) {
        startSession(s);
    } else {
        s->failed = true;
        m_error = std::string("session failed: ") + why;
        finish(m_error.c_str());
    }
}

void LoadGen::pumpOpens()
{
    if (m_o.scenario == Scenario::Connect)
        return;
    while (m_opening < m_o.concurrency && m_nextToOpen < m_sessions.size())
        startSession(m_sessions[m_nextToOpen++].get());
}

void LoadGen::sendPayload(Session *s, std::string_view payload)
{
    ++m_sent;
    if (m_o.transport == Transport::WebSocket) {
        Conn *c = s->recv;
        if (!c)
            return;
        if (m_o.raw) {
            sendWsFrame(c, 0x1, payload.data(), payload.size());
        } else {
            m_payload.assign("[\"");
            m_payload.append(payload);
            m_payload.append("\"]");
            sendWsFrame(c, 0x1, m_payload.data(), m_payload.size());
        }
        return;
    }
    s->pendingBody.append(s->pendingCount == 0 ? "[\"" : ",\"");
    s->pendingBody.append(payload);
    s->pendingBody.push_back('"');
    ++s->pendingCount;
    pumpSend(s);
}

void LoadGen::pumpSend(Session *s)
{
    Conn *c = s->send;
    if (!c) {
        if (s->pendingCount > 0 && s->open && m_phase != Phase::Done)
            c = s->send = openConn(ConnKind::HttpSend, s);
        return;
    }
    if (c->phase != ConnPhase::Open || c->requestInFlight || s->pendingCount == 0)
        return;
    s->pendingBody.push_back(']');
    sendHttpRequest(c, "xhr_send", s->pendingBody);
    s->pendingBody.clear();
    s->pendingCount = 0;
    flushOut(c);
}

// A payload of --size bytes: the send time in 16 hex digits, then 'x's.
void LoadGen::sendMessage(Session *s)
{
    static const char hex[] = "0123456789abcdef";
    m_message.assign(size_t(m_o.size), 'x');
    const auto t = uint64_t(nowNs());
    for (int i = 0; i < 16; ++i)
        m_message[size_t(i)] = hex[(t >> (60 - 4 * i)) & 0xf];
    ++s->inFlight;
    sendPayload(s, m_message);
}

void LoadGen::onMessage(Session *s, const char *data, size_t n)
{
    const int64_t now = nowNs();
    if (m_o.scenario == Scenario::Fanout) {
        if (m_round >= 0 && s->fanoutRound != m_round) {
            s->fanoutRound = m_round;
            if (++m_roundGot == int(m_sessions.size())) {
                m_roundNs.push_back(now - m_roundStart);
                m_roundCpuUs.push_back(int64_t((processCpuSeconds(m_o.serverPids) - m_roundCpu0) * 1e6));
                m_roundEndedAt = now;
                m_round = -m_round - 2; // ended; -2 - round keeps it distinct from "no round"
            }
        }
        return;
    }
    if (n < 16)
        return;
    int64_t sentAt = 0;
    for (int i = 0; i < 16; ++i) {
        const char ch = data[i];
        const int v = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (v < 0)
            return; // not one of ours
        sentAt = (sentAt << 4) | v;
    }
    if (s->inFlight > 0)
        --s->inFlight;
    if (m_phase == Phase::Measuring) {
        ++m_received;
        if (sentAt >= m_t0 && m_latencies.size() < 20000000)
            m_latencies.push_back(now - sentAt);
    }
    if (m_o.scenario == Scenario::Echo && m_sending)
        sendMessage(s);
}

// --- Scenario ------------------------------------------------------------------------

void LoadGen::startMeasuring()
{
    m_phase = Phase::Measuring;
    m_t0 = m_phaseAt = nowNs();
    m_serverCpu0 = processCpuSeconds(m_o.serverPids);
    m_ownCpu0 = ownCpuSeconds();
    m_backendCpu0 = processCpuSeconds(m_o.backendPid);
    m_received = 0;
    m_opened = 0;
    m_latencies.clear();
}

void LoadGen::stopMeasuring()
{
    m_t1 = nowNs();
    m_serverCpu1 = processCpuSeconds(m_o.serverPids);
    m_ownCpu1 = ownCpuSeconds();
    m_backendCpu1 = processCpuSeconds(m_o.backendPid);
    m_sending = false;
    m_phase = Phase::Draining;
    m_phaseAt = m_t1;
}

void LoadGen::startFanoutRound()
{
    m_round = int(m_roundNs.size());
    m_roundGot = 0;
    m_roundCpu0 = processCpuSeconds(m_o.serverPids);
    m_roundStart = nowNs();
    Session *s = m_sessions.front().get();
    sendPayload(s, "__fanout__");
    if (s->recv)
        flushOut(s->recv);
    if (s->send)
        flushOut(s->send);
}

void LoadGen::onRateTimer()
{
    uint64_t expirations = 0;
    [[maybe_unused]] const ssize_t r = ::read(m_rateFd, &expirations, sizeof expirations);
    if (!m_sending)
        return;
    // Open loop: as many messages as the schedule says, whatever came back.
    const int64_t now = nowNs();
    const uint64_t due = uint64_t(double(now - m_rateStart) * m_o.rate / 1e9);
    while (m_rateSent < due) {
        Session *s = m_sessions[m_rateNext++ % m_sessions.size()].get();
        sendMessage(s);
        if (s->recv && m_o.transport == Transport::WebSocket)
            flushOut(s->recv);
        ++m_rateSent;
    }
}

void LoadGen::tick()
{
    uint64_t expirations = 0;
    [[maybe_unused]] const ssize_t r = ::read(m_tickFd, &expirations, sizeof expirations);
    const int64_t now = nowNs();
    if (now > m_deadline) {
        finish("timeout");
        return;
    }
    // Close frames sent, the server did not close within a second: reset.
    while (!m_closing.empty() && now - m_closing.front()->closingSince > 1000000000LL)
        closeConn(m_closing.front(), true);
    const double inPhase = double(now - m_phaseAt) / 1e9;
    switch (m_phase) {
    case Phase::Opening:
        if (m_o.scenario == Scenario::Connect) {
            // Connect: warm up, then measure, opening sessions all along.
            m_phase = Phase::Warmup;
            m_phaseAt = now;
            for (auto &s : m_sessions)
                startSession(s.get());
        }
        return;
    case Phase::Settling:
        if (m_o.scenario == Scenario::Idle) {
            if (inPhase >= m_o.settle) {
                m_rssAfter = processRssBytes(m_o.serverPids);
                finish();
            }
            return;
        }
        if (m_o.scenario == Scenario::Fanout) {
            // Let the backend learn every session before the first trigger.
            if (inPhase >= m_o.settle) {
                m_phase = Phase::Measuring;
                m_phaseAt = now;
                startFanoutRound();
            }
            return;
        }
        m_phase = Phase::Warmup;
        m_phaseAt = now;
        m_sending = true;
        if (m_o.scenario == Scenario::Echo) {
            for (auto &s : m_sessions)
                for (int i = 0; i < m_o.window; ++i)
                    sendMessage(s.get());
            for (auto &s : m_sessions) {
                if (s->recv)
                    flushOut(s->recv);
            }
        } else {
            m_rateStart = now;
            m_rateSent = 0;
            itimerspec spec{};
            const auto interval = int64_t(1e9 / m_o.rate);
            spec.it_interval.tv_sec = interval / 1000000000;
            spec.it_interval.tv_nsec = interval % 1000000000;
            spec.it_value = spec.it_interval;
            timerfd_settime(m_rateFd, 0, &spec, nullptr);
        }
        return;
    case Phase::Warmup:
        if (inPhase >= m_o.warmup)
            startMeasuring();
        return;
    case Phase::Measuring:
        if (m_o.scenario == Scenario::Fanout) {
            if (m_round >= 0 && now - m_roundStart > 20000000000LL) {
                finish("fan-out round timed out");
                return;
            }
            if (m_round < 0 && now - m_roundEndedAt > 300000000LL) {
                if (int(m_roundNs.size()) >= m_o.rounds)
                    finish();
                else
                    startFanoutRound();
            }
            return;
        }
        if (inPhase >= m_o.duration)
            stopMeasuring();
        return;
    case Phase::Draining:
        finish();
        return;
    case Phase::Done:
        return;
    }
}

void LoadGen::finish(const char *error)
{
    if (m_phase == Phase::Done)
        return;
    if (m_phase == Phase::Measuring && m_o.scenario != Scenario::Fanout)
        stopMeasuring();
    m_phase = Phase::Done;
    if (!error && m_received == 0 && (m_o.scenario == Scenario::Echo || m_o.scenario == Scenario::Latency))
        error = "no message came back";
    if (error && m_error.empty())
        m_error = error;
}

int LoadGen::run()
{
    m_epoll = ::epoll_create1(EPOLL_CLOEXEC);
    m_tickFd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    m_rateFd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    itimerspec every10ms{};
    every10ms.it_interval.tv_nsec = 10000000;
    every10ms.it_value.tv_nsec = 10000000;
    timerfd_settime(m_tickFd, 0, &every10ms, nullptr);
    // Timer fds are told apart from connections by these two sentinel pointers.
    static char tickTag, rateTag;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &tickTag;
    ::epoll_ctl(m_epoll, EPOLL_CTL_ADD, m_tickFd, &ev);
    ev.data.ptr = &rateTag;
    ::epoll_ctl(m_epoll, EPOLL_CTL_ADD, m_rateFd, &ev);

    m_start = nowNs();
    m_deadline = m_start + int64_t(m_o.timeout * 1e9);
    char tag[16];
    std::snprintf(tag, sizeof tag, "%x%x", unsigned(getpid()), unsigned(m_start & 0xfffff));
    m_runTag = tag;

    const int count = m_o.scenario == Scenario::Connect ? m_o.concurrency : m_o.sessions;
    for (int i = 0; i < count; ++i) {
        auto s = std::make_unique<Session>();
        s->index = i;
        m_sessions.push_back(std::move(s));
    }
    m_rssBefore = processRssBytes(m_o.serverPids);
    const double cpuAtStart = processCpuSeconds(m_o.serverPids);
    if (!m_o.drainPath.empty()) {
        m_drain = openConn(ConnKind::Drain, nullptr);
        if (!m_drain) {
            std::fprintf(stderr, "loadgen: cannot open --drain-ws\n");
            return 1;
        }
    }
    pumpOpens();

    std::vector<epoll_event> events(1024);
    while (m_phase != Phase::Done) {
        const int n = ::epoll_wait(m_epoll, events.data(), int(events.size()), 100);
        if (n < 0 && errno != EINTR) {
            std::perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; ++i) {
            void *p = events[size_t(i)].data.ptr;
            if (p == &tickTag)
                tick();
            else if (p == &rateTag)
                onRateTimer();
            else
                onEvent(static_cast<Conn *>(p), events[size_t(i)].events);
            if (m_phase == Phase::Done)
                break;
        }
        for (Conn *c : m_dead)
            delete c;
        m_dead.clear();
    }

    // --- the result line ---
    const double wall = double(m_t1 - m_t0) / 1e9;
    const double serverCpu = m_serverCpu1 - m_serverCpu0;
    const double ownCpu = m_ownCpu1 - m_ownCpu0;
    std::string line = "RESULT";
    char buf[256];
    auto add = [&](const char *key, double v, const char *fmt = "%.6g") {
        char num[64];
        std::snprintf(num, sizeof num, fmt, v);
        std::snprintf(buf, sizeof buf, " %s=%s", key, num);
        line += buf;
    };
    const char *scenarioName[] = {"echo", "latency", "idle", "connect", "fanout"};
    const char *transportName[] = {"websocket", "xhr_streaming", "xhr_polling"};
    line += std::string(" scenario=") + scenarioName[int(m_o.scenario)]
            + " transport=" + transportName[int(m_o.transport)] + " protocol=" + (m_o.raw ? "raw" : "sockjs");
    if (m_o.scenario == Scenario::Connect)
        add("concurrency", m_o.concurrency);
    else
        add("sessions", m_o.sessions);
    if (m_o.scenario == Scenario::Echo || m_o.scenario == Scenario::Latency) {
        add("size", m_o.size);
        if (m_o.scenario == Scenario::Echo)
            add("window", m_o.window);
        else
            add("rate", m_o.rate);
        add("wall_s", wall);
        add("msgs", double(m_received));
        add("msgs_per_s", wall > 0 ? double(m_received) / wall : 0, "%.1f");
        add("server_cpu_s", serverCpu);
        add("msgs_per_cpu_s", serverCpu > 0 ? double(m_received) / serverCpu : 0, "%.1f");
        add("server_cpu_pct", wall > 0 ? 100 * serverCpu / wall : 0, "%.1f");
        add("loadgen_cpu_pct", wall > 0 ? 100 * ownCpu / wall : 0, "%.1f");
        if (m_o.backendPid > 0)
            add("backend_cpu_pct", wall > 0 ? 100 * (m_backendCpu1 - m_backendCpu0) / wall : 0, "%.1f");
        add("p50_us", percentile(m_latencies, 0.50) / 1e3, "%.1f");
        add("p99_us", percentile(m_latencies, 0.99) / 1e3, "%.1f");
    } else if (m_o.scenario == Scenario::Connect) {
        add("wall_s", wall);
        add("sessions_opened", double(m_opened));
        add("sessions_per_s", wall > 0 ? double(m_opened) / wall : 0, "%.1f");
        add("server_cpu_s", serverCpu);
        add("sessions_per_cpu_s", serverCpu > 0 ? double(m_opened) / serverCpu : 0, "%.1f");
        add("server_cpu_pct", wall > 0 ? 100 * serverCpu / wall : 0, "%.1f");
        add("loadgen_cpu_pct", wall > 0 ? 100 * ownCpu / wall : 0, "%.1f");
        if (m_o.backendPid > 0)
            add("backend_cpu_pct", wall > 0 ? 100 * (m_backendCpu1 - m_backendCpu0) / wall : 0, "%.1f");
    } else if (m_o.scenario == Scenario::Idle) {
        add("open_s", double(m_allOpenAt - m_start) / 1e9);
        add("rss_before_kib", double(m_rssBefore) / 1024, "%.0f");
        add("rss_after_kib", double(m_rssAfter) / 1024, "%.0f");
        add("bytes_per_session", m_rssAfter > 0 ? double(m_rssAfter - m_rssBefore) / m_o.sessions : -1, "%.0f");
        add("server_cpu_s", processCpuSeconds(m_o.serverPids) - cpuAtStart);
    } else {
        std::vector<int64_t> rounds = m_roundNs;
        add("rounds", double(rounds.size()));
        add("fanout_ms", percentile(rounds, 0.5) / 1e6, "%.2f");
        std::sort(rounds.begin(), rounds.end());
        add("fanout_min_ms", rounds.empty() ? -1 : double(rounds.front()) / 1e6, "%.2f");
        add("fanout_max_ms", rounds.empty() ? -1 : double(rounds.back()) / 1e6, "%.2f");
        add("fanout_cpu_ms", percentile(m_roundCpuUs, 0.5) / 1e3, "%.0f");
        add("open_s", double(m_allOpenAt - m_start) / 1e9);
    }
    if (!m_o.drainPath.empty())
        add("monitor_bytes", double(m_drainBytes), "%.0f");
    add("errors", double(m_errors));
    line += " ok=" + std::string(m_error.empty() ? "1" : "0");
    std::printf("%s\n", line.c_str());
    if (!m_error.empty())
        std::fprintf(stderr, "loadgen: %s\n", m_error.c_str());
    std::fflush(stdout);
    // Sockets close with the process; a reset spares the server TIME_WAIT churn.
    return m_error.empty() ? 0 : 1;
}

} // namespace

int main(int argc, char **argv)
{
    std::signal(SIGPIPE, SIG_IGN);
    const Options options = parseArgs(argc, argv);
    LoadGen generator(options);
    return generator.run();
}
