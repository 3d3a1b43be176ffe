// A SockJSProxy echo backend in C++, using cppzmq only (no Qt), as a real
// backend in any language would be written.
//
// It CONNECTs a PULL socket to the proxy's "in" endpoint and a PUSH socket to
// its "out" endpoint. Every message is three frames: type, session id, data.
//   proxy -> backend: connect | message | disconnect
//   backend -> proxy: message | disconnect (data ignored but present)
// Each "message" goes back, unchanged, to the session that sent it. With
// --close-on-connect every new session is sent "disconnect" instead.
//
// It is also the benchmark backend: a blocking receive loop, replies reuse the
// received frames (no copies), high-water marks are large, and --verbose is
// the only thing that prints per message.

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr int kHighWaterMark = 1000000;
constexpr int kPollMs = 200; // how soon a signal is noticed while idle

std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler needs a lock-free flag");

extern "C" void onSignal(int) { g_stop.store(true); }

struct Options
{
    std::string in = "tcp://localhost:9241";
    std::string out = "tcp://localhost:9242";
    bool closeOnConnect = false;
    bool verbose = false;
};

void printUsage(std::ostream &os, const char *argv0)
{
    os << "usage: " << argv0
       << " [--in ENDPOINT] [--out ENDPOINT] [--close-on-connect] [--verbose] [--help]\n"
          "\n"
          "ZeroMQ echo backend for SockJSProxy: sends every message back to its session.\n"
          "\n"
          "  --in ENDPOINT       the proxy's PUSH socket to pull from (default tcp://localhost:9241)\n"
          "  --out ENDPOINT      the proxy's PULL socket to push to (default tcp://localhost:9242)\n"
          "  --close-on-connect  send 'disconnect' to every session as soon as it connects\n"
          "  --verbose, -v       print every event\n"
          "  --help, -h          show this help and exit\n";
}

// Returns 0 to run, otherwise the exit code (after printing help or an error).
int parseArgs(int argc, char **argv, Options &opts)
{
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        auto takeValue = [&](std::string_view name, std::string &target) -> int {
            // Accept both "--in X" and "--in=X".
            if (arg.size() > name.size() && arg.substr(0, name.size()) == name && arg[name.size()] == '=') {
                target = std::string(arg.substr(name.size() + 1));
                return 1;
            }
            if (arg != name)
                return 0;
            if (i + 1 >= argc) {
                std::cerr << argv[0] << ": " << name << " needs an endpoint\n";
                return -1;
            }
            target = argv[++i];
            return 1;
        };
        int r = 0;
        if (arg == "--help" || arg == "-h") {
            printUsage(std::cout, argv[0]);
            return -2;
        } else if (arg == "--close-on-connect") {
            opts.closeOnConnect = true;
        } else if (arg == "--verbose" || arg == "-v") {
            opts.verbose = true;
        } else if ((r = takeValue("--in", opts.in)) != 0 || (r = takeValue("--out", opts.out)) != 0) {
            if (r < 0)
                return 2;
        } else {
            std::cerr << argv[0] << ": unknown argument '" << arg << "'\n";
            printUsage(std::cerr, argv[0]);
            return 2;
        }
    }
    return 0;
}

std::string_view view(const zmq::message_t &m) { return {static_cast<const char *>(m.data()), m.size()}; }

// A frame as a log line: control bytes as \xNN, UTF-8 passed through.
std::string printable(std::string_view bytes)
{
    std::string s;
    s.reserve(bytes.size());
    for (const char c : bytes) {
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u != 0x7f) {
            s += c;
        } else {
            char buf[5];
            std::snprintf(buf, sizeof buf, "\\x%02x", u);
            s += buf;
        }
    }
    return s;
}

void logLine(const std::string &line)
{
    std::cout << line << std::endl; // flushed: tests read us through a pipe
}

void warn(const std::string &line) { std::cerr << "echo-backend: warning: " << line << std::endl; }

// Sends, retrying on timeout until stopped. Returns false if stopped first.
bool sendReply(zmq::socket_t &push, std::vector<zmq::message_t> &frames)
{
    while (!g_stop.load()) {
        try {
            if (zmq::send_multipart(push, frames))
                return true;
            // Timed out at the high-water mark: the proxy is slow or gone.
        } catch (const zmq::error_t &e) {
            if (e.num() != EINTR)
                throw;
        }
    }
    return false;
}

} // namespace

int main(int argc, char **argv)
{
    Options opts;
    if (const int r = parseArgs(argc, argv, opts); r != 0)
        return r == -2 ? 0 : r;

    std::signal(SIGINT, onSignal);
    std::signal(SIGTERM, onSignal);

    try {
        zmq::context_t ctx;
        zmq::socket_t pull(ctx, zmq::socket_type::pull);
        zmq::socket_t push(ctx, zmq::socket_type::push);
        for (zmq::socket_t *s : {&pull, &push}) {
            s->set(zmq::sockopt::linger, 0);
            s->set(zmq::sockopt::rcvhwm, kHighWaterMark);
            s->set(zmq::sockopt::sndhwm, kHighWaterMark);
            s->set(zmq::sockopt::rcvtimeo, kPollMs);
            s->set(zmq::sockopt::sndtimeo, kPollMs);
        }
        pull.connect(opts.in);
        push.connect(opts.out);

        logLine("echo-backend: pulling from " + opts.in + ", pushing to " + opts.out
                + (opts.closeOnConnect ? " (close-on-connect)" : ""));

        std::vector<zmq::message_t> frames;
        frames.reserve(4);
        while (!g_stop.load()) {
            frames.clear();
            try {
                if (!zmq::recv_multipart(pull, std::back_inserter(frames)))
                    continue; // timeout: look at the stop flag again
            } catch (const zmq::error_t &e) {
                if (e.num() == EINTR)
                    continue;
                throw;
            }

            if (frames.size() != 3) {
                warn("ignoring a message with " + std::to_string(frames.size()) + " frames (expected 3)");
                continue;
            }
            const std::string_view type = view(frames[0]);
            const std::string session = opts.verbose ? printable(view(frames[1])) : std::string();

            if (type == "message") {
                if (opts.verbose)
                    logLine("message " + session + ": " + printable(view(frames[2])));
                // The reply is the very same three frames: "message", id, data.
                sendReply(push, frames);
            } else if (type == "connect") {
                if (opts.verbose)
                    logLine("connect " + session);
                if (opts.closeOnConnect) {
                    frames[0].rebuild("disconnect", std::strlen("disconnect"));
                    frames[2].rebuild(std::size_t{0});
                    if (sendReply(push, frames) && opts.verbose)
                        logLine("sent disconnect " + session);
                }
            } else if (type == "disconnect") {
                if (opts.verbose)
                    logLine("disconnect " + session);
            } else {
                warn("ignoring unknown message type '" + printable(type) + "'");
            }
        }
    } catch (const zmq::error_t &e) {
        std::cerr << "echo-backend: " << e.what() << std::endl;
        return 1;
    }

    logLine("echo-backend: stopped");
    return 0;
}
