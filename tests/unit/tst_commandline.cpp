#include "config/commandline.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QScopeGuard>
#include <QTemporaryDir>
#include <QtTest>

#include <optional>

using namespace SockJsProxy;

namespace {

// Parses args as sockjsproxy-cli would (without --help/--version) and builds
// the configuration; *error gets toConfig's message, or parse()'s after "parse: ".
std::optional<CommandLine::Result> run(const QStringList &args, QString *error)
{
    QCommandLineParser parser;
    CommandLine::addOptions(parser);
    if (!CommandLine::parse(parser, QStringList{QStringLiteral("sockjsproxy-cli")} + args, error)) {
        error->prepend(QStringLiteral("parse: "));
        return std::nullopt;
    }
    return CommandLine::toConfig(parser, error);
}

} // namespace

class tst_CommandLine : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();

    void defaults();
    void flags_data();
    void flags();
    void staticMount_data();
    void staticMount();
    void samples_data();
    void samples();
    void samplesDirectoryFromEnvironment();
    void configFile();
    void configFileWithOverrides_data();
    void configFileWithOverrides();
    void errors_data();
    void errors();
    void configFileErrors();
    void parseErrors_data();
    void parseErrors();
    void controlEndpoint_data();
    void controlEndpoint();
    void controlEndpointBeyondLoopback_data();
    void controlEndpointBeyondLoopback();
    void loadBalancer_data();
    void loadBalancer();
    void tlsFiles();
    void clusterFlags();

private:
    QTemporaryDir m_dir;
    QString m_configPath;
};

void tst_CommandLine::initTestCase()
{
    QVERIFY(m_dir.isValid());
    QVERIFY(QDir(m_dir.path()).mkpath(QStringLiteral("www")));
    m_configPath = m_dir.filePath(QStringLiteral("proxy.json"));
    QFile file(m_configPath);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write(R"({"http": {"address": "127.0.0.1", "port": 9100},
                   "static": [{"url": "/files", "path": "www"}],
                   "services": [{"prefix": "/echo", "zmq": {"in": "tcp://*:7001", "out": "tcp://*:7002"}},
                                {"prefix": "/close", "zmq": {"in": "tcp://*:7003", "out": "tcp://*:7004"},
                                 "heartbeat_delay_ms": 1000}]})");
}

void tst_CommandLine::defaults()
{
    QString error;
    const auto result = run({}, &error);
    QVERIFY2(result, qPrintable(error));
    QCOMPARE(result->verbose, false);
    const Config &config = result->config;
    QCOMPARE(config.httpAddress, QStringLiteral("0.0.0.0"));
    QCOMPARE(config.httpPort, quint16(8080));
    QVERIFY(config.statics.isEmpty());
    QCOMPARE(config.services.size(), 1);
    const ServiceConfig &service = config.services.at(0);
    QCOMPARE(service.prefix, QStringLiteral("/"));
    QCOMPARE(service.zmqIn, QStringLiteral("tcp://*:9241"));
    QCOMPARE(service.zmqOut, QStringLiteral("tcp://*:9242"));
    // The rest as the SockJS defaults.
    QCOMPARE(service.websocket, true);
    QCOMPARE(service.cookieNeeded, false);
    QCOMPARE(service.heartbeatDelayMs, 25000);
    QCOMPARE(service.disconnectDelayMs, 5000);
    QCOMPARE(service.responseLimit, qint64(131072));
}

void tst_CommandLine::flags_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QString>("zmqIn");
    QTest::addColumn<QString>("zmqOut");
    QTest::addColumn<int>("httpPort");
    QTest::addColumn<QString>("httpAddress");
    QTest::addColumn<QString>("prefix");
    QTest::addColumn<bool>("verbose");

    const QString in = QStringLiteral("tcp://*:9241");
    const QString out = QStringLiteral("tcp://*:9242");
    const QString any = QStringLiteral("0.0.0.0");

    QTest::newRow("--address") << QStringList{"--address", "127.0.0.1"} << "tcp://127.0.0.1:9241"
                               << "tcp://127.0.0.1:9242" << 8080 << any << "/" << false;
    QTest::newRow("--address=") << QStringList{"--address=eth0"} << "tcp://eth0:9241"
                                << "tcp://eth0:9242" << 8080 << any << "/" << false;
    QTest::newRow("-a") << QStringList{"-a", "10.0.0.1"} << "tcp://10.0.0.1:9241"
                        << "tcp://10.0.0.1:9242" << 8080 << any << "/" << false;
    QTest::newRow("--in-port") << QStringList{"--in-port", "5000"} << "tcp://*:5000" << out << 8080 << any << "/"
                               << false;
    QTest::newRow("-i") << QStringList{"-i", "5001"} << "tcp://*:5001" << out << 8080 << any << "/" << false;
    QTest::newRow("--out-port") << QStringList{"--out-port", "6000"} << in << "tcp://*:6000" << 8080 << any << "/"
                                << false;
    QTest::newRow("-o") << QStringList{"-o", "6001"} << in << "tcp://*:6001" << 8080 << any << "/" << false;
    QTest::newRow("--http-port") << QStringList{"--http-port", "9000"} << in << out << 9000 << any << "/" << false;
    QTest::newRow("-p") << QStringList{"-p", "9001"} << in << out << 9001 << any << "/" << false;
    QTest::newRow("-p 0") << QStringList{"-p", "0"} << in << out << 0 << any << "/" << false;
    QTest::newRow("-p 65535") << QStringList{"-p", "65535"} << in << out << 65535 << any << "/" << false;
    QTest::newRow("--verbose") << QStringList{"--verbose"} << in << out << 8080 << any << "/" << true;
    QTest::newRow("-v") << QStringList{"-v"} << in << out << 8080 << any << "/" << true;
    QTest::newRow("--http-address") << QStringList{"--http-address", "127.0.0.1"} << in << out << 8080 << "127.0.0.1"
                                    << "/" << false;
    QTest::newRow("--prefix") << QStringList{"--prefix", "/echo"} << in << out << 8080 << any << "/echo" << false;
    QTest::newRow("--prefix normalized") << QStringList{"--prefix", "echo/"} << in << out << 8080 << any << "/echo"
                                         << false;
    QTest::newRow("--prefix nested") << QStringList{"--prefix", "/a/b/"} << in << out << 8080 << any << "/a/b" << false;
    QTest::newRow("all short flags") << QStringList{"-a", "127.0.0.1", "-i", "1", "-o", "2", "-p", "3", "-v"}
                                     << "tcp://127.0.0.1:1"
                                     << "tcp://127.0.0.1:2" << 3 << any << "/" << true;
    QTest::newRow("all long flags") << QStringList{"--address",      "127.0.0.1", "--in-port",   "11",
                                                   "--out-port",     "12",        "--http-port", "13",
                                                   "--http-address", "::1",       "--prefix",    "/sock",
                                                   "--verbose"}
                                    << "tcp://127.0.0.1:11"
                                    << "tcp://127.0.0.1:12" << 13 << "::1"
                                    << "/sock" << true;
}

void tst_CommandLine::flags()
{
    QFETCH(QStringList, args);
    QFETCH(QString, zmqIn);
    QFETCH(QString, zmqOut);
    QFETCH(int, httpPort);
    QFETCH(QString, httpAddress);
    QFETCH(QString, prefix);
    QFETCH(bool, verbose);

    QString error;
    const auto result = run(args, &error);
    QVERIFY2(result, qPrintable(error));
    QCOMPARE(result->config.services.size(), 1);
    QCOMPARE(result->config.services.at(0).zmqIn, zmqIn);
    QCOMPARE(result->config.services.at(0).zmqOut, zmqOut);
    QCOMPARE(result->config.services.at(0).prefix, prefix);
    QCOMPARE(int(result->config.httpPort), httpPort);
    QCOMPARE(result->config.httpAddress, httpAddress);
    QCOMPARE(result->verbose, verbose);
    QVERIFY(result->config.statics.isEmpty());
}

void tst_CommandLine::staticMount_data()
{
    QTest::addColumn<QString>("pathFlag");
    QTest::addColumn<QString>("urlFlag");
    QTest::addColumn<QString>("url");
    QTest::addColumn<QString>("expectedUrl");
    QTest::newRow("long") << "--static-path"
                          << "--static-url"
                          << "/static"
                          << "/static";
    QTest::newRow("short") << "-s"
                           << "-u"
                           << "/static"
                           << "/static";
    QTest::newRow("url without slash") << "-s"
                                       << "-u"
                                       << "files"
                                       << "/files";
    QTest::newRow("url with trailing slash") << "--static-path"
                                             << "-u"
                                             << "/files/"
                                             << "/files";
    QTest::newRow("url /") << "-s"
                           << "--static-url"
                           << "/"
                           << "/";
}

void tst_CommandLine::staticMount()
{
    QFETCH(QString, pathFlag);
    QFETCH(QString, urlFlag);
    QFETCH(QString, url);
    QFETCH(QString, expectedUrl);

    const QString www = m_dir.filePath(QStringLiteral("www"));
    QString error;
    const auto result = run({pathFlag, www, urlFlag, url}, &error);
    QVERIFY2(result, qPrintable(error));
    QCOMPARE(result->config.statics.size(), 1);
    QCOMPARE(result->config.statics.at(0).url, expectedUrl);
    QCOMPARE(QFileInfo(result->config.statics.at(0).path).canonicalFilePath(), QFileInfo(www).canonicalFilePath());
    QVERIFY(QDir::isAbsolutePath(result->config.statics.at(0).path));
}

void tst_CommandLine::samples_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QStringList>("urls");
    QTest::newRow("samples") << QStringList{"--samples", "samples"} << QStringList{"/samples"};
    QTest::newRow("other name") << QStringList{"--samples", "demo"} << QStringList{"/demo"};
    QTest::newRow("with static") << QStringList{"--samples", "demo", "-s", ".", "-u", "/s"}
                                 << QStringList{"/s", "/demo"};
}

void tst_CommandLine::samples()
{
    QFETCH(QStringList, args);
    QFETCH(QStringList, urls);

    const QString directory = CommandLine::samplesDirectory();
    QVERIFY2(!directory.isEmpty(), "the test build must find the source tree's samples");
    QVERIFY(QFileInfo::exists(directory + QStringLiteral("/index.html")));

    QString error;
    const auto result = run(args, &error);
    QVERIFY2(result, qPrintable(error));
    QStringList mounted;
    for (const StaticMount &mount : result->config.statics)
        mounted.append(mount.url);
    QCOMPARE(mounted, urls);
    QCOMPARE(result->config.statics.last().path, directory);
}

void tst_CommandLine::samplesDirectoryFromEnvironment()
{
    const QByteArray previous = qgetenv("SOCKJSPROXY_SAMPLES_DIR");
    const bool wasSet = qEnvironmentVariableIsSet("SOCKJSPROXY_SAMPLES_DIR");
    const auto restore = qScopeGuard([&] {
        if (wasSet)
            qputenv("SOCKJSPROXY_SAMPLES_DIR", previous);
        else
            qunsetenv("SOCKJSPROXY_SAMPLES_DIR");
    });
    qputenv("SOCKJSPROXY_SAMPLES_DIR", m_dir.path().toUtf8());
    QCOMPARE(CommandLine::samplesDirectory(), m_dir.path());

    QString error;
    const auto result = run({"--samples", "x"}, &error);
    QVERIFY2(result, qPrintable(error));
    QCOMPARE(result->config.statics.size(), 1);
    QCOMPARE(result->config.statics.at(0).url, QStringLiteral("/x"));
    QCOMPARE(result->config.statics.at(0).path, m_dir.path());
}

void tst_CommandLine::configFile()
{
    QString error;
    const auto result = run({"--config", m_configPath}, &error);
    QVERIFY2(result, qPrintable(error));
    const Config &config = result->config;
    // Everything from the file; the flag defaults do not override it.
    QCOMPARE(config.httpAddress, QStringLiteral("127.0.0.1"));
    QCOMPARE(config.httpPort, quint16(9100));
    QCOMPARE(config.services.size(), 2);
    QCOMPARE(config.services.at(0).prefix, QStringLiteral("/echo"));
    QCOMPARE(config.services.at(0).zmqIn, QStringLiteral("tcp://*:7001"));
    QCOMPARE(config.services.at(0).zmqOut, QStringLiteral("tcp://*:7002"));
    QCOMPARE(config.services.at(1).prefix, QStringLiteral("/close"));
    QCOMPARE(config.services.at(1).heartbeatDelayMs, 1000);
    QCOMPARE(config.statics.size(), 1);
    QCOMPARE(config.statics.at(0).url, QStringLiteral("/files"));
    // Relative to the config file, not to the working directory.
    QCOMPARE(QDir::cleanPath(config.statics.at(0).path), QDir::cleanPath(m_dir.filePath(QStringLiteral("www"))));
    QCOMPARE(result->verbose, false);
}

void tst_CommandLine::configFileWithOverrides_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<int>("httpPort");
    QTest::addColumn<QString>("httpAddress");
    QTest::addColumn<QStringList>("staticUrls");
    QTest::addColumn<bool>("verbose");

    QTest::newRow("--http-port") << QStringList{"--http-port", "9200"} << 9200 << "127.0.0.1" << QStringList{"/files"}
                                 << false;
    QTest::newRow("-p before --config") << QStringList{"-p", "0"} << 0 << "127.0.0.1" << QStringList{"/files"} << false;
    QTest::newRow("--http-address") << QStringList{"--http-address", "0.0.0.0"} << 9100 << "0.0.0.0"
                                    << QStringList{"/files"} << false;
    QTest::newRow("-v") << QStringList{"-v"} << 9100 << "127.0.0.1" << QStringList{"/files"} << true;
    QTest::newRow("static added") << QStringList{"-s", ".", "-u", "/more"} << 9100 << "127.0.0.1"
                                  << QStringList{"/files", "/more"} << false;
    QTest::newRow("samples added") << QStringList{"--samples", "samples"} << 9100 << "127.0.0.1"
                                   << QStringList{"/files", "/samples"} << false;
}

void tst_CommandLine::configFileWithOverrides()
{
    QFETCH(QStringList, args);
    QFETCH(int, httpPort);
    QFETCH(QString, httpAddress);
    QFETCH(QStringList, staticUrls);
    QFETCH(bool, verbose);

    QString error;
    const auto result = run(args + QStringList{"--config", m_configPath}, &error);
    QVERIFY2(result, qPrintable(error));
    QCOMPARE(int(result->config.httpPort), httpPort);
    QCOMPARE(result->config.httpAddress, httpAddress);
    QStringList urls;
    for (const StaticMount &mount : result->config.statics)
        urls.append(mount.url);
    QCOMPARE(urls, staticUrls);
    QCOMPARE(result->verbose, verbose);
    QCOMPARE(result->config.services.size(), 2); // the file's services, untouched
    QCOMPARE(result->config.services.at(0).zmqIn, QStringLiteral("tcp://*:7001"));
}

void tst_CommandLine::errors_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QString>("fragment"); // the flag the message must name

    QTest::newRow("--static-path alone") << QStringList{"--static-path", "."} << "--static-url";
    QTest::newRow("-s alone") << QStringList{"-s", "."} << "--static-path";
    QTest::newRow("--static-url alone") << QStringList{"--static-url", "/s"} << "--static-path";
    QTest::newRow("-u alone") << QStringList{"-u", "/s"} << "--static-url";
    QTest::newRow("static path not a directory")
        << QStringList{"-s", "/nonexistent/dir", "-u", "/s"} << "--static-path";
    QTest::newRow("in-port not a number") << QStringList{"-i", "abc"} << "--in-port";
    QTest::newRow("--tls-cert alone") << QStringList{"--tls-cert", "c.pem"} << "--tls-cert and --tls-key go together";
    QTest::newRow("--tls-key alone") << QStringList{"--tls-key", "k.pem"} << "--tls-cert and --tls-key go together";
    QTest::newRow("--control-tls-key alone") << QStringList{"--control", "9999", "--control-tls-key", "k.pem"}
                                             << "--control-tls-cert and --control-tls-key go together";
    QTest::newRow("--control-tls-cert without --control")
        << QStringList{"--control-tls-cert", "c.pem", "--control-tls-key", "k.pem"} << "needs --control";
    QTest::newRow("in-port negative") << QStringList{"--in-port", "-1"} << "--in-port";
    QTest::newRow("in-port too large") << QStringList{"--in-port", "65536"} << "--in-port";
    QTest::newRow("out-port not a number") << QStringList{"-o", "x1"} << "--out-port";
    QTest::newRow("out-port too large") << QStringList{"--out-port", "100000"} << "--out-port";
    QTest::newRow("out-port empty") << QStringList{"--out-port", ""} << "--out-port";
    QTest::newRow("http-port not a number") << QStringList{"-p", "http"} << "--http-port";
    QTest::newRow("http-port too large") << QStringList{"--http-port", "70000"} << "--http-port";
    QTest::newRow("http-port fraction") << QStringList{"--http-port", "80.5"} << "--http-port";
    QTest::newRow("http-address not an address") << QStringList{"--http-address", "nohost"} << "--http-address nohost";
    QTest::newRow("--config with bad --http-address")
        << QStringList{"--config", "CONFIG", "--http-address", "1.2.3.4.5"} << "--http-address 1.2.3.4.5";
    QTest::newRow("same in and out port") << QStringList{"-i", "9000", "-o", "9000"} << "services[0].zmq";
    QTest::newRow("--config with --in-port") << QStringList{"--config", "CONFIG", "--in-port", "1"} << "--in-port";
    QTest::newRow("--config with -i") << QStringList{"-i", "1", "--config", "CONFIG"} << "--in-port";
    QTest::newRow("--config with --out-port") << QStringList{"--config", "CONFIG", "-o", "2"} << "--out-port";
    QTest::newRow("--config with --address") << QStringList{"--config", "CONFIG", "-a", "x"} << "--address";
    QTest::newRow("--config with --prefix") << QStringList{"--config", "CONFIG", "--prefix", "/x"} << "--prefix";
    QTest::newRow("--config with bad --http-port") << QStringList{"--config", "CONFIG", "-p", "x"} << "--http-port";
    QTest::newRow("--config with lone --static-url")
        << QStringList{"--config", "CONFIG", "-u", "/x"} << "--static-path";
    QTest::newRow("missing config file") << QStringList{"--config", "MISSING"} << "--config MISSING";
    // Found before anything is bound, so a bad option and not a failed start.
    QTest::newRow("--control not an endpoint") << QStringList{"--control", "abc"} << "--control abc";
    QTest::newRow("--control host name") << QStringList{"--control", "example.com:1"} << "--control example.com:1";
    QTest::newRow("--control beyond loopback without a token")
        << QStringList{"--control", "0.0.0.0:9999"} << "--control 0.0.0.0:9999 listens beyond loopback";
    QTest::newRow("--control ipv6 any without a token") << QStringList{"--control", "[::]:0"} << "--control [::]:0";
    QTest::newRow("--trusted-proxy bad range")
        << QStringList{"--trusted-proxy", "10.0.0.0/33"} << "--trusted-proxy \"10.0.0.0/33\": not an IP address";
    QTest::newRow("--trusted-proxy host name")
        << QStringList{"--trusted-proxy", "::1", "--trusted-proxy", "lb.local"} << "--trusted-proxy \"lb.local\"";
    QTest::newRow("--proxy-protocol alone")
        << QStringList{"--proxy-protocol"} << "--proxy-protocol needs --trusted-proxy";
    QTest::newRow("--config with --proxy-protocol")
        << QStringList{"--config", "CONFIG", "--proxy-protocol"} << "--proxy-protocol needs --trusted-proxy";
}

void tst_CommandLine::errors()
{
    QFETCH(QStringList, args);
    QFETCH(QString, fragment);
    const QString missing = m_dir.filePath(QStringLiteral("missing.json"));
    for (QString &arg : args) {
        if (arg == QLatin1String("CONFIG"))
            arg = m_configPath;
        else if (arg == QLatin1String("MISSING"))
            arg = missing;
    }
    fragment.replace(QLatin1String("MISSING"), missing);

    qunsetenv("SOCKJSPROXY_CONTROL_TOKEN");
    QString error;
    const auto result = run(args, &error);
    QVERIFY(!result);
    QVERIFY2(!error.startsWith(QLatin1String("parse:")), qPrintable(error));
    QVERIFY2(error.contains(fragment), qPrintable(error));
}

void tst_CommandLine::configFileErrors()
{
    const QString path = m_dir.filePath(QStringLiteral("broken.json"));
    const auto write = [&path](const QByteArray &json) {
        QFile file(path);
        if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate))
            return false;
        return file.write(json) == json.size();
    };

    // Error messages name the file and the key.
    QVERIFY(write(R"({"services": [{"heartbeat_delay_ms": "soon"}]})"));
    QString error;
    QVERIFY(!run({"--config", path}, &error));
    QVERIFY2(error.startsWith(path + QLatin1Char(':')), qPrintable(error));
    QVERIFY2(error.contains(QLatin1String("services[0].heartbeat_delay_ms")), qPrintable(error));

    QVERIFY(write(R"({"services": [{}], "htpp": {}})"));
    error.clear();
    QVERIFY(!run({"--config", path}, &error));
    QVERIFY2(error.startsWith(path + QLatin1Char(':')), qPrintable(error));
    QVERIFY2(error.contains(QLatin1String("htpp: unknown key")), qPrintable(error));

    QVERIFY(write(R"({"services": [{}])"));
    error.clear();
    QVERIFY(!run({"--config", path}, &error));
    QVERIFY2(error.startsWith(path + QLatin1Char(':')), qPrintable(error));
    QVERIFY2(error.contains(QLatin1String("invalid JSON")), qPrintable(error));

    // A directory is not a config file.
    error.clear();
    QVERIFY(!run({"--config", m_dir.path()}, &error));
    QVERIFY2(error.contains(m_dir.path()), qPrintable(error));
}

// What QCommandLineParser finds, and arguments that are not options: one
// line naming the culprit.
void tst_CommandLine::parseErrors_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QString>("fragment");

    QTest::newRow("unknown long option") << QStringList{"--bogus"} << "'bogus'";
    QTest::newRow("unknown short option") << QStringList{"-x"} << "'x'";
    QTest::newRow("value missing") << QStringList{"-p"} << "'-p'";
    QTest::newRow("value missing, long") << QStringList{"--config"} << "'--config'";
    QTest::newRow("flag given a value") << QStringList{"--verbose=yes"} << "'--verbose'";
    QTest::newRow("stray argument") << QStringList{"extra-positional"} << "\"extra-positional\"";
    QTest::newRow("stray argument after options")
        << QStringList{"-p", "8080", "9241"} << "unexpected argument \"9241\"";
}

void tst_CommandLine::parseErrors()
{
    QFETCH(QStringList, args);
    QFETCH(QString, fragment);
    QString error;
    QVERIFY(!run(args, &error));
    QVERIFY2(error.startsWith(QLatin1String("parse: ")), qPrintable(error));
    QVERIFY2(error.contains(fragment), qPrintable(error));
    QVERIFY2(!error.contains(QLatin1Char('\n')), qPrintable(error));
}

void tst_CommandLine::controlEndpoint_data()
{
    QTest::addColumn<QString>("endpoint");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<QString>("address");
    QTest::addColumn<int>("port");

    QTest::newRow("port only") << QStringLiteral("9999") << true << QStringLiteral("127.0.0.1") << 9999;
    QTest::newRow("port 0") << QStringLiteral("0") << true << QStringLiteral("127.0.0.1") << 0;
    QTest::newRow("host:port") << QStringLiteral("127.0.0.1:8081") << true << QStringLiteral("127.0.0.1") << 8081;
    QTest::newRow("localhost") << QStringLiteral("localhost:1") << true << QStringLiteral("127.0.0.1") << 1;
    QTest::newRow("any") << QStringLiteral("0.0.0.0:80") << true << QStringLiteral("0.0.0.0") << 80;
    QTest::newRow("ipv6") << QStringLiteral("[::1]:65535") << true << QStringLiteral("::1") << 65535;
    QTest::newRow("port too large") << QStringLiteral("127.0.0.1:65536") << false << QString() << 0;
    QTest::newRow("not a port") << QStringLiteral("127.0.0.1:http") << false << QString() << 0;
    QTest::newRow("empty") << QString() << false << QString() << 0;
    QTest::newRow("host name") << QStringLiteral("example.com:80") << false << QString() << 0;
    QTest::newRow("negative") << QStringLiteral("-1") << false << QString() << 0;
}

void tst_CommandLine::controlEndpoint()
{
    QFETCH(QString, endpoint);
    QFETCH(bool, ok);
    QFETCH(QString, address);
    QFETCH(int, port);
    QHostAddress parsedAddress;
    quint16 parsedPort = 0;
    QString error;
    QCOMPARE(CommandLine::parseControlEndpoint(endpoint, &parsedAddress, &parsedPort, &error), ok);
    if (ok) {
        QVERIFY(error.isEmpty());
        QCOMPARE(parsedAddress, QHostAddress(address));
        QCOMPARE(int(parsedPort), port);
    } else {
        QVERIFY(!error.isEmpty());
        QVERIFY2(error.contains(QStringLiteral("--control ") + endpoint), qPrintable(error)); // names what was wrong
    }
}

// toConfig() refuses a --control beyond loopback without a token, from the
// flag or the environment; loopback needs none.
void tst_CommandLine::controlEndpointBeyondLoopback_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QByteArray>("environment"); // SOCKJSPROXY_CONTROL_TOKEN
    QTest::addColumn<bool>("ok");
    QTest::addColumn<QByteArray>("token");

    QTest::newRow("loopback") << QStringList{"--control", "9999"} << QByteArray() << true << QByteArray();
    QTest::newRow("any, no token") << QStringList{"--control", "0.0.0.0:9999"} << QByteArray() << false << QByteArray();
    QTest::newRow("any, --control-token") << QStringList{"--control", "0.0.0.0:9999", "--control-token", "t1"}
                                          << QByteArray() << true << QByteArray("t1");
    QTest::newRow("any, environment") << QStringList{"--control", "0.0.0.0:9999"} << QByteArray("t2") << true
                                      << QByteArray("t2");
    QTest::newRow("any, empty --control-token")
        << QStringList{"--control", "0.0.0.0:9999", "--control-token", ""} << QByteArray("t3") << false << QByteArray();
}

void tst_CommandLine::controlEndpointBeyondLoopback()
{
    QFETCH(QStringList, args);
    QFETCH(QByteArray, environment);
    QFETCH(bool, ok);
    QFETCH(QByteArray, token);
    const auto restore = qScopeGuard([] { qunsetenv("SOCKJSPROXY_CONTROL_TOKEN"); });
    if (environment.isEmpty())
        qunsetenv("SOCKJSPROXY_CONTROL_TOKEN");
    else
        qputenv("SOCKJSPROXY_CONTROL_TOKEN", environment);
    QString error;
    const auto result = run(args, &error);
    QCOMPARE(bool(result), ok);
    if (ok) {
        QCOMPARE(result->controlEndpoint, args.at(1));
        QCOMPARE(result->controlToken, token);
    } else {
        QVERIFY2(error.startsWith(QStringLiteral("--control ") + args.at(1) + QStringLiteral(" listens beyond")),
                 qPrintable(error));
        QVERIFY2(error.contains(QLatin1String("token")), qPrintable(error));
    }
}

void tst_CommandLine::loadBalancer_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QStringList>("trusted");
    QTest::addColumn<bool>("proxyProtocol");

    QTest::newRow("none") << QStringList() << QStringList() << false;
    QTest::newRow("one") << QStringList{"--trusted-proxy", "10.0.0.0/8"} << QStringList{"10.0.0.0/8"} << false;
    QTest::newRow("repeated") << QStringList{"--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "fd00::/8"}
                              << QStringList{"10.0.0.0/8", "fd00::/8"} << false;
    QTest::newRow("proxy protocol") << QStringList{"--trusted-proxy", "10.0.0.1", "--proxy-protocol"}
                                    << QStringList{"10.0.0.1"} << true;
    QTest::newRow("added to --config") << QStringList{"--config", "CONFIG", "--trusted-proxy", "192.0.2.1"}
                                       << QStringList{"192.0.2.1"} << false;
    QTest::newRow("from the file") << QStringList{"--config", "LB"} << QStringList{"10.0.0.0/8", "::1"} << true;
    QTest::newRow("flag replaces the file's")
        << QStringList{"--config", "LB", "--trusted-proxy", "192.0.2.1"} << QStringList{"192.0.2.1"} << true;
}

void tst_CommandLine::loadBalancer()
{
    QFETCH(QStringList, args);
    QFETCH(QStringList, trusted);
    QFETCH(bool, proxyProtocol);

    const QString lbPath = m_dir.filePath(QStringLiteral("lb.json"));
    QFile file(lbPath);
    QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
    file.write(R"({"http": {"trusted_proxies": ["10.0.0.0/8", "::1"], "proxy_protocol": true},
                   "services": [{"prefix": "/echo"}]})");
    file.close();
    // Whole arguments only: a temporary directory's random name may contain "LB".
    for (QString &arg : args) {
        if (arg == QLatin1String("CONFIG"))
            arg = m_configPath;
        else if (arg == QLatin1String("LB"))
            arg = lbPath;
    }
    QString error;
    const auto result = run(args, &error);
    QVERIFY2(result, qPrintable(error));
    QCOMPARE(result->config.http.trustedProxies.entries(), trusted);
    QCOMPARE(result->config.http.proxyProtocol, proxyProtocol);
}

void tst_CommandLine::tlsFiles()
{
    // Off by default; paths made absolute; the files are read when the server starts.
    QString error;
    auto result = run({}, &error);
    QVERIFY2(result, qPrintable(error));
    QVERIFY(!result->config.tls);
    QVERIFY(!result->controlTls);

    result = run({"--tls-cert", "chain.pem", "--tls-key", "/etc/key.pem", "--control", "9999", "--control-tls-cert",
                  "/c/chain.pem", "--control-tls-key", "c/key.pem"},
                 &error);
    QVERIFY2(result, qPrintable(error));
    QVERIFY(result->config.tls);
    QCOMPARE(result->config.tls->certificate, QDir::current().absoluteFilePath(QStringLiteral("chain.pem")));
    QCOMPARE(result->config.tls->key, QStringLiteral("/etc/key.pem"));
    QVERIFY(result->controlTls);
    QCOMPARE(result->controlTls->certificate, QStringLiteral("/c/chain.pem"));
    QCOMPARE(result->controlTls->key, QDir::current().absoluteFilePath(QStringLiteral("c/key.pem")));

    // On the command line they replace the config file's http.tls.
    result = run({"--config", m_configPath, "--tls-cert", "/x/c.pem", "--tls-key", "/x/k.pem"}, &error);
    QVERIFY2(result, qPrintable(error));
    QCOMPARE(result->config.tls->certificate, QStringLiteral("/x/c.pem"));
    QCOMPARE(result->config.tls->key, QStringLiteral("/x/k.pem"));
}

// --node, --cluster-bind and --peer make a cluster node; without them there
// is no cluster at all.
void tst_CommandLine::clusterFlags()
{
    QString error;
    const auto single = run({}, &error);
    QVERIFY2(single, qPrintable(error));
    QVERIFY(!single->config.cluster.enabled);

    const auto node =
        run({QStringLiteral("--node"), QStringLiteral("n_1"), QStringLiteral("--cluster-bind"),
             QStringLiteral("tcp://127.0.0.1:9300"), QStringLiteral("--peer"), QStringLiteral("tcp://127.0.0.1:9301"),
             QStringLiteral("--peer"), QStringLiteral("tcp://127.0.0.1:9302")},
            &error);
    QVERIFY2(node, qPrintable(error));
    const ClusterConfig &cluster = node->config.cluster;
    QVERIFY(cluster.enabled);
    QCOMPARE(cluster.node, QStringLiteral("n_1"));
    QCOMPARE(cluster.bind, QStringLiteral("tcp://127.0.0.1:9300"));
    QCOMPARE(cluster.peers,
             (QStringList{QStringLiteral("tcp://127.0.0.1:9301"), QStringLiteral("tcp://127.0.0.1:9302")}));
    QCOMPARE(cluster.heartbeatMs, 500);
    QCOMPARE(cluster.deadAfterMs, 3000);

    QVERIFY(!run({QStringLiteral("--node"), QStringLiteral("n-1"), QStringLiteral("--cluster-bind"),
                  QStringLiteral("tcp://127.0.0.1:9300")},
                 &error));
    QVERIFY2(error.startsWith(QStringLiteral("--node n-1: not a node name")), qPrintable(error));
    QVERIFY(!run({QStringLiteral("--peer"), QStringLiteral("tcp://127.0.0.1:9301")}, &error));
    QVERIFY2(error.contains(QStringLiteral("need --cluster-bind")), qPrintable(error));
    QVERIFY(!run({QStringLiteral("--cluster-bind"), QStringLiteral("nowhere")}, &error));
    QVERIFY2(error.startsWith(QStringLiteral("cluster.bind: \"nowhere\" is not a ZeroMQ endpoint")), qPrintable(error));
}

QTEST_GUILESS_MAIN(tst_CommandLine)
#include "tst_commandline.moc"
