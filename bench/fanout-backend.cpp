// The fan-out driver of bench/run: a SockJSProxy backend (cppzmq only, like
// samples/echo-backend.cpp) that records the session ids it learns from
// "connect" events and forgets them on "disconnect".
//
// A message "__fanout__" from any session is the trigger: the backend sends
// one message "fanout" to every recorded session (the sender included),
// as fast as ZeroMQ takes them; with --broadcast it sends instead one
// "broadcast" with an empty target (every open session of the service, on
// every cluster node). Every other message is echoed.
//
// Several --in/--out pairs: a backend of several cluster nodes (README
// "Several proxies"), its PULL connected to every node's in, its PUSH (with
// ZMQ_IMMEDIATE) to every node's out.
//
// usage: sockjsproxy-bench-fanout [--broadcast] --in ENDPOINT --out ENDPOINT [--in ... --out ...]

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <iostream>
#include <iterator>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace {

constexpr int kHighWaterMark = 1000000;
constexpr int kPollMs = 200;

std::atomic<bool> g_stop{false};

extern "C" void onSignal(int) { g_stop.store(true); }

std::string_view view(const zmq::message_t &m) { return {static_cast<const char *>(m.data()), m.size()}; }

// Sends, retrying on timeout until stopped.
void send(zmq::socket_t &push, std::vector<zmq::message_t> &frames)
{
    while (!g_stop.load()) {
        try {
            if (zmq::send_multipart(push, frames))
                return;
        } catch (const zmq::error_t &e) {
            if (e.num() != EINTR)
                throw;
        }
    }
}

} // namespace

int main(int argc, char **argv)
{
    std::vector<std::string> ins;
    std::vector<std::string> outs;
    bool broadcast = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if ((arg == "--in" || arg == "--out") && i + 1 < argc) {
            (arg == "--in" ? ins : outs).emplace_back(argv[++i]);
        } else if (arg == "--broadcast") {
            broadcast = true;
        } else {
            std::cerr << "usage: " << argv[0] << " [--broadcast] --in ENDPOINT --out ENDPOINT [--in ... --out ...]\n";
            return 2;
        }
    }
    if (ins.empty())
        ins.emplace_back("tcp://127.0.0.1:9241");
    if (outs.empty())
        outs.emplace_back("tcp://127.0.0.1:9242");
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
        // A node that is not up yet (or down) takes no share of the replies.
        push.set(zmq::sockopt::immediate, 1);
        for (const std::string &in : ins)
            pull.connect(in);
        for (const std::string &out : outs)
            push.connect(out);
        std::cout << "fanout-backend: pulling from " << ins.front() << " (" << ins.size() << "), pushing to "
                  << outs.front() << " (" << outs.size() << ")" << (broadcast ? ", broadcast" : "") << std::endl;

        std::unordered_set<std::string> sessions;
        std::vector<zmq::message_t> frames;
        std::vector<zmq::message_t> reply;
        while (!g_stop.load()) {
            frames.clear();
            try {
                if (!zmq::recv_multipart(pull, std::back_inserter(frames)))
                    continue;
            } catch (const zmq::error_t &e) {
                if (e.num() == EINTR)
                    continue;
                throw;
            }
            if (frames.size() != 3)
                continue;
            const std::string_view type = view(frames[0]);
            if (type == "connect") {
                sessions.emplace(view(frames[1]));
            } else if (type == "disconnect") {
                sessions.erase(std::string(view(frames[1])));
            } else if (type == "message") {
                if (view(frames[2]) != "__fanout__") {
                    send(push, frames);
                    continue;
                }
                if (broadcast) {
                    reply.clear();
                    reply.emplace_back(std::string_view("broadcast"));
                    reply.emplace_back();
                    reply.emplace_back(std::string_view("fanout"));
                    send(push, reply);
                    continue;
                }
                for (const std::string &id : sessions) {
                    reply.clear();
                    reply.emplace_back(std::string_view("message"));
                    reply.emplace_back(id.data(), id.size());
                    reply.emplace_back(std::string_view("fanout"));
                    send(push, reply);
                }
            }
        }
    } catch (const zmq::error_t &e) {
        std::cerr << "fanout-backend: " << e.what() << std::endl;
        return 1;
    }
    return 0;
}
