#pragma once

#include "config.h"

#include <QCommandLineParser>

#include <optional>

namespace SockJsProxy {

// The command-line interface shared by sockjsproxy-cli and the monitor:
// the original SockJSProxy's flags (same names, short forms and defaults)
// plus --config, --prefix and --http-address.
namespace CommandLine {

void addOptions(QCommandLineParser &parser);

struct Result
{
    Config config;
    bool verbose = false;
    QString controlEndpoint; // empty: no control endpoint
    QByteArray controlToken;
};

// Builds the configuration from parsed options. Without --config: one
// service at --prefix (default "/") on tcp://ADDRESS:IN_PORT and
// tcp://ADDRESS:OUT_PORT. With --config: the file, and --http-port,
// --static-* and --samples when given on the command line.
std::optional<Result> toConfig(const QCommandLineParser &parser, QString *error);

// Where the bundled samples are: $SOCKJSPROXY_SAMPLES_DIR, the installed
// share/sockjsproxy/samples next to the program, or the source tree.
QString samplesDirectory();

} // namespace CommandLine
} // namespace SockJsProxy
