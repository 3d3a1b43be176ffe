#include "commandline.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>

namespace SockJsProxy::CommandLine {

namespace {

const QCommandLineOption
    addressOption({QStringLiteral("address"), QStringLiteral("a")},
                  QStringLiteral("The 0MQ address to listen to. Defaults to * (meaning everything)."),
                  QStringLiteral("ADDRESS"), QStringLiteral("*"));
const QCommandLineOption inPortOption(
    {QStringLiteral("in-port"), QStringLiteral("i")},
    QStringLiteral("The port of the 0MQ PUSH socket that backends pull client events from. Defaults to 9241."),
    QStringLiteral("IN_PORT"), QStringLiteral("9241"));
const QCommandLineOption
    outPortOption({QStringLiteral("out-port"), QStringLiteral("o")},
                  QStringLiteral("The port of the 0MQ PULL socket that backends push replies to. Defaults to 9242."),
                  QStringLiteral("OUT_PORT"), QStringLiteral("9242"));
const QCommandLineOption
    httpPortOption({QStringLiteral("http-port"), QStringLiteral("p")},
                   QStringLiteral("The port to listen for HTTP (SockJS) connections. Defaults to 8080."),
                   QStringLiteral("HTTP_PORT"), QStringLiteral("8080"));
const QCommandLineOption httpAddressOption(QStringLiteral("http-address"),
                                           QStringLiteral("The IP address to listen for HTTP on. Defaults to 0.0.0.0."),
                                           QStringLiteral("HTTP_ADDRESS"), QStringLiteral("0.0.0.0"));
const QCommandLineOption staticPathOption({QStringLiteral("static-path"), QStringLiteral("s")},
                                          QStringLiteral("A local directory to serve under --static-url."),
                                          QStringLiteral("STATIC_PATH"));
const QCommandLineOption staticUrlOption({QStringLiteral("static-url"), QStringLiteral("u")},
                                         QStringLiteral("The URL where the files of --static-path are served."),
                                         QStringLiteral("STATIC_URL"));
const QCommandLineOption samplesOption(QStringLiteral("samples"),
                                       QStringLiteral("Serve the bundled samples under /SAMPLES/."),
                                       QStringLiteral("SAMPLES"));
const QCommandLineOption verboseOption({QStringLiteral("verbose"), QStringLiteral("v")},
                                       QStringLiteral("Log every request and every message (useful for debugging)."));
const QCommandLineOption configOption(QStringLiteral("config"),
                                      QStringLiteral("Serve the SockJS services of this JSON file (see the README)."),
                                      QStringLiteral("FILE"));
const QCommandLineOption
    prefixOption(QStringLiteral("prefix"),
                 QStringLiteral("URL prefix of the SockJS service without --config. Defaults to /."),
                 QStringLiteral("PREFIX"), QStringLiteral("/"));

const QCommandLineOption controlOption(QStringLiteral("control"),
                                       QStringLiteral("Serve the control endpoint (monitor, /metrics) on [HOST:]PORT. "
                                                      "HOST defaults to 127.0.0.1; any other needs a token."),
                                       QStringLiteral("ENDPOINT"));
const QCommandLineOption controlTokenOption(QStringLiteral("control-token"),
                                            QStringLiteral("Token the control endpoint requires (default: "
                                                           "$SOCKJSPROXY_CONTROL_TOKEN)."),
                                            QStringLiteral("TOKEN"));

const QCommandLineOption
    trustedProxyOption(QStringLiteral("trusted-proxy"),
                       QStringLiteral("Believe this load balancer (an address or CIDR range; repeatable) about the "
                                      "client's address: Forwarded, X-Forwarded-For, X-Real-IP, PROXY header. "
                                      "Replaces http.trusted_proxies of --config."),
                       QStringLiteral("CIDR"));
const QCommandLineOption proxyProtocolOption(QStringLiteral("proxy-protocol"),
                                             QStringLiteral("Every HTTP connection begins with a PROXY protocol "
                                                            "header (v1 or v2) from a --trusted-proxy."));
const QCommandLineOption
    tlsCertOption(QStringLiteral("tls-cert"),
                  QStringLiteral("Serve HTTPS and WSS on the HTTP port with this PEM certificate "
                                 "chain (with --tls-key; default: plain HTTP). SIGHUP reloads it."),
                  QStringLiteral("FILE"));
const QCommandLineOption tlsKeyOption(QStringLiteral("tls-key"), QStringLiteral("The PEM private key of --tls-cert."),
                                      QStringLiteral("FILE"));
const QCommandLineOption controlTlsCertOption(QStringLiteral("control-tls-cert"),
                                              QStringLiteral("Serve the control endpoint over HTTPS and WSS with "
                                                             "this PEM certificate chain (with --control-tls-key)."),
                                              QStringLiteral("FILE"));
const QCommandLineOption controlTlsKeyOption(QStringLiteral("control-tls-key"),
                                             QStringLiteral("The PEM private key of --control-tls-cert."),
                                             QStringLiteral("FILE"));

// A certificate option and its key option: both or neither.
bool readTlsOptions(const QCommandLineParser &parser, const QCommandLineOption &certOption,
                    const QCommandLineOption &keyOption, std::optional<TlsFiles> *files, QString *error)
{
    if (parser.isSet(certOption) != parser.isSet(keyOption)) {
        *error = QStringLiteral("--%1 and --%2 go together: give both or neither")
                     .arg(certOption.names().first(), keyOption.names().first());
        return false;
    }
    if (parser.isSet(certOption))
        *files = TlsFiles{QFileInfo(parser.value(certOption)).absoluteFilePath(),
                          QFileInfo(parser.value(keyOption)).absoluteFilePath()};
    return true;
}

const QCommandLineOption nodeOption(QStringLiteral("node"),
                                    QStringLiteral("The name of this proxy in a cluster (see the README); session "
                                                   "ids start with it."),
                                    QStringLiteral("ID"));
const QCommandLineOption clusterBindOption(QStringLiteral("cluster-bind"),
                                           QStringLiteral("The 0MQ endpoint this proxy binds for the other proxies "
                                                          "of its cluster."),
                                           QStringLiteral("ENDPOINT"));
const QCommandLineOption peerOption(QStringLiteral("peer"),
                                    QStringLiteral("The cluster endpoint of another proxy (repeat for each)."),
                                    QStringLiteral("ENDPOINT"));

bool parsePort(const QString &text, const QString &flag, quint16 *port, QString *error)
{
    bool ok = false;
    const uint value = text.toUInt(&ok);
    if (!ok || value > 65535) {
        *error = QStringLiteral("--%1: \"%2\" is not a port number (0-65535)").arg(flag, text);
        return false;
    }
    *port = quint16(value);
    return true;
}

QString normalizedUrlPrefix(QString url)
{
    if (!url.startsWith(QLatin1Char('/')))
        url.prepend(QLatin1Char('/'));
    while (url.size() > 1 && url.endsWith(QLatin1Char('/')))
        url.chop(1);
    return url;
}

} // namespace

void addOptions(QCommandLineParser &parser)
{
    parser.addOptions({addressOption, inPortOption, outPortOption, httpPortOption, httpAddressOption, staticPathOption,
                       staticUrlOption, samplesOption, verboseOption, configOption, prefixOption, controlOption,
                       controlTokenOption, trustedProxyOption, proxyProtocolOption, tlsCertOption, tlsKeyOption,
                       controlTlsCertOption, controlTlsKeyOption, nodeOption, clusterBindOption, peerOption});
}

bool parse(QCommandLineParser &parser, const QStringList &arguments, QString *error)
{
    if (!parser.parse(arguments)) {
        *error = parser.errorText();
        return false;
    }
    // Given, they were added: parse() refuses options it does not know.
    static const QStringList helpNames{QStringLiteral("h"), QStringLiteral("help"), QStringLiteral("?"),
                                       QStringLiteral("help-all")};
    for (const QString &name : parser.optionNames()) {
        if (helpNames.contains(name))
            parser.process(arguments); // prints the help and exits 0: nothing else is wrong
    }
    if (!parser.positionalArguments().isEmpty()) {
        *error = QStringLiteral("unexpected argument \"%1\" (every option starts with - or --)")
                     .arg(parser.positionalArguments().constFirst());
        return false;
    }
    return true;
}

bool parseControlEndpoint(const QString &endpoint, QHostAddress *address, quint16 *port, QString *error)
{
    QString host = QStringLiteral("127.0.0.1");
    QString portText = endpoint;
    const qsizetype colon = endpoint.lastIndexOf(QLatin1Char(':'));
    if (colon >= 0) {
        host = endpoint.left(colon);
        portText = endpoint.mid(colon + 1);
        if (host.startsWith(QLatin1Char('[')) && host.endsWith(QLatin1Char(']')))
            host = host.mid(1, host.size() - 2);
    }
    bool ok = false;
    const uint value = portText.toUInt(&ok);
    if (!ok || value > 65535) {
        *error = QStringLiteral("--control %1: expected PORT or HOST:PORT").arg(endpoint);
        return false;
    }
    if (host == QLatin1String("localhost"))
        host = QStringLiteral("127.0.0.1");
    if (!address->setAddress(host)) {
        *error = QStringLiteral("--control %1: \"%2\" is not an IP address").arg(endpoint, host);
        return false;
    }
    *port = quint16(value);
    return true;
}

bool checkControlEndpoint(const QString &endpoint, const QByteArray &token, QHostAddress *address, quint16 *port,
                          QString *error)
{
    if (!parseControlEndpoint(endpoint, address, port, error))
        return false;
    if (!address->isLoopback() && token.isEmpty()) {
        *error = QStringLiteral("--control %1 listens beyond loopback: set a token (--control-token or "
                                "SOCKJSPROXY_CONTROL_TOKEN)")
                     .arg(endpoint);
        return false;
    }
    return true;
}

QString samplesDirectory()
{
    const QString fromEnvironment = qEnvironmentVariable("SOCKJSPROXY_SAMPLES_DIR");
    if (!fromEnvironment.isEmpty())
        return fromEnvironment;
    const QString appDir = QCoreApplication::applicationDirPath();
    const QStringList candidates{
        appDir + QStringLiteral("/../share/sockjsproxy/samples"),
        appDir + QStringLiteral("/samples"),
#ifdef SOCKJSPROXY_SOURCE_SAMPLES
        QStringLiteral(SOCKJSPROXY_SOURCE_SAMPLES),
#endif
    };
    for (const QString &candidate : candidates) {
        if (QFileInfo::exists(candidate + QStringLiteral("/index.html")))
            return QDir::cleanPath(candidate);
    }
    return QString();
}

std::optional<Result> toConfig(const QCommandLineParser &parser, QString *error)
{
    Result result;
    result.verbose = parser.isSet(verboseOption);
    result.controlEndpoint = parser.value(controlOption);
    result.controlToken = parser.isSet(controlTokenOption) ? parser.value(controlTokenOption).toUtf8()
                                                           : qgetenv("SOCKJSPROXY_CONTROL_TOKEN");
    if (!readTlsOptions(parser, controlTlsCertOption, controlTlsKeyOption, &result.controlTls, error))
        return std::nullopt;
    if (result.controlTls && !parser.isSet(controlOption)) {
        *error = QStringLiteral("--control-tls-cert needs --control");
        return std::nullopt;
    }
    if (parser.isSet(controlOption)) {
        QHostAddress address;
        quint16 port = 0;
        if (!checkControlEndpoint(result.controlEndpoint, result.controlToken, &address, &port, error))
            return std::nullopt;
    }

    if (parser.isSet(configOption)) {
        const QString path = parser.value(configOption);
        QFile file(path);
        if (!file.open(QIODevice::ReadOnly)) {
            *error = QStringLiteral("--config %1: %2").arg(path, file.errorString());
            return std::nullopt;
        }
        QString configError;
        auto config = Config::fromJson(file.readAll(), QFileInfo(path).absolutePath(), &configError);
        if (!config) {
            *error = QStringLiteral("%1: %2").arg(path, configError);
            return std::nullopt;
        }
        result.config = *config;
        for (const QCommandLineOption *option : {&addressOption, &inPortOption, &outPortOption, &prefixOption}) {
            if (parser.isSet(*option)) {
                *error = QStringLiteral("--%1 cannot be combined with --config (set it in the file)")
                             .arg(option->names().first());
                return std::nullopt;
            }
        }
    } else {
        ServiceConfig service;
        quint16 inPort = 0;
        quint16 outPort = 0;
        if (!parsePort(parser.value(inPortOption), QStringLiteral("in-port"), &inPort, error)
            || !parsePort(parser.value(outPortOption), QStringLiteral("out-port"), &outPort, error))
            return std::nullopt;
        const QString address = parser.value(addressOption);
        service.zmqIn = QStringLiteral("tcp://%1:%2").arg(address).arg(inPort);
        service.zmqOut = QStringLiteral("tcp://%1:%2").arg(address).arg(outPort);
        service.prefix = normalizedUrlPrefix(parser.value(prefixOption));
        result.config.services = {service};
    }

    if (!parser.isSet(configOption) || parser.isSet(httpPortOption)) {
        if (!parsePort(parser.value(httpPortOption), QStringLiteral("http-port"), &result.config.httpPort, error))
            return std::nullopt;
    }
    if (!parser.isSet(configOption) || parser.isSet(httpAddressOption)) {
        result.config.httpAddress = parser.value(httpAddressOption);
        if (QHostAddress(result.config.httpAddress).isNull()) {
            *error = QStringLiteral("--http-address %1: not an IP address").arg(result.config.httpAddress);
            return std::nullopt;
        }
    }

    if (parser.isSet(trustedProxyOption)) {
        QString proxiesError;
        const auto proxies = TrustedProxies::parse(parser.values(trustedProxyOption), &proxiesError);
        if (!proxies) {
            *error = QStringLiteral("--trusted-proxy ") + proxiesError;
            return std::nullopt;
        }
        result.config.http.trustedProxies = *proxies;
    }
    if (parser.isSet(proxyProtocolOption))
        result.config.http.proxyProtocol = true;
    if (result.config.http.proxyProtocol && result.config.http.trustedProxies.isEmpty()) {
        *error = QStringLiteral("--proxy-protocol needs --trusted-proxy (or http.trusted_proxies in --config): a "
                                "PROXY header is accepted only from a trusted proxy");
        return std::nullopt;
    }

    // On the command line they replace the file's http.tls.
    if (parser.isSet(tlsCertOption) || parser.isSet(tlsKeyOption)) {
        if (!readTlsOptions(parser, tlsCertOption, tlsKeyOption, &result.config.tls, error))
            return std::nullopt;
    }

    if (parser.isSet(staticPathOption) != parser.isSet(staticUrlOption)) {
        *error = QStringLiteral("--static-path and --static-url go together: give both or neither");
        return std::nullopt;
    }
    if (parser.isSet(staticPathOption)) {
        const QString path = parser.value(staticPathOption);
        if (!QFileInfo(path).isDir()) {
            *error = QStringLiteral("--static-path %1: not a directory").arg(path);
            return std::nullopt;
        }
        result.config.statics.append({normalizedUrlPrefix(parser.value(staticUrlOption)), QDir(path).absolutePath()});
    }
    if (parser.isSet(samplesOption)) {
        const QString directory = samplesDirectory();
        if (directory.isEmpty()) {
            *error = QStringLiteral("--samples: the bundled samples were not found (set SOCKJSPROXY_SAMPLES_DIR)");
            return std::nullopt;
        }
        result.config.statics.append({normalizedUrlPrefix(parser.value(samplesOption)), directory});
    }
    // The cluster flags set or replace the file's cluster keys.
    if (parser.isSet(nodeOption) || parser.isSet(clusterBindOption) || parser.isSet(peerOption)) {
        ClusterConfig &cluster = result.config.cluster;
        cluster.enabled = true;
        if (parser.isSet(nodeOption)) {
            cluster.node = parser.value(nodeOption);
            if (!ClusterConfig::isValidNodeName(cluster.node)) {
                *error =
                    QStringLiteral("--node %1: not a node name (1 to 32 of A-Z, a-z, 0-9 and _)").arg(cluster.node);
                return std::nullopt;
            }
        }
        if (parser.isSet(clusterBindOption))
            cluster.bind = parser.value(clusterBindOption);
        if (parser.isSet(peerOption))
            cluster.peers = parser.values(peerOption);
        if (cluster.bind.isEmpty()) {
            *error = QStringLiteral("--node and --peer need --cluster-bind (or cluster.bind in --config)");
            return std::nullopt;
        }
    }
    if (!result.config.validate(error))
        return std::nullopt;
    return result;
}

} // namespace SockJsProxy::CommandLine
