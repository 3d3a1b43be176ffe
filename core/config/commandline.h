#pragma once

#include "config.h"

#include <QCommandLineParser>
#include <QHostAddress>

#include <optional>

namespace SockJsProxy {

// The command-line interface shared by sockjsproxy-cli and the monitor:
// the original SockJSProxy's flags (same names, short forms and defaults)
// plus --config, --prefix and --http-address.
namespace CommandLine {

void addOptions(QCommandLineParser &parser);

// parser.parse(arguments) (the program's name first), and no positional
// argument: none is taken. On failure *error is one line naming the option
// or argument ("Unknown option 'bogus'.", "unexpected argument \"x\""); the
// caller exits 2. When the parser has addHelpOption()'s options and one was
// given, prints the help and exits the process with 0 (as process() does).
bool parse(QCommandLineParser &parser, const QStringList &arguments, QString *error);

struct Result
{
    Config config;
    bool verbose = false;
    QString controlEndpoint; // empty: no control endpoint
    QByteArray controlToken;
    std::optional<TlsFiles> controlTls; // unset: the control endpoint speaks plain HTTP
};

// Builds the configuration from parsed options. Without --config: one
// service at --prefix (default "/") on tcp://ADDRESS:IN_PORT and
// tcp://ADDRESS:OUT_PORT. With --config: the file, and --http-port,
// --static-* and --samples when given on the command line. A --control
// endpoint is checked here too (checkControlEndpoint()), before anything
// is bound.
std::optional<Result> toConfig(const QCommandLineParser &parser, QString *error);

// A --control (or --attach) endpoint: "PORT", "HOST:PORT" or "[V6]:PORT";
// HOST defaults to 127.0.0.1 and may be "localhost", otherwise an IP address.
bool parseControlEndpoint(const QString &endpoint, QHostAddress *address, quint16 *port, QString *error);
// The same, and a control endpoint beyond loopback needs a token.
bool checkControlEndpoint(const QString &endpoint, const QByteArray &token, QHostAddress *address, quint16 *port,
                          QString *error);

// Where the bundled samples are: $SOCKJSPROXY_SAMPLES_DIR, the installed
// share/sockjsproxy/samples next to the program, or the source tree.
QString samplesDirectory();

} // namespace CommandLine
} // namespace SockJsProxy
