// sockjsproxy-monitor's own command line, run as a process: bad options
// exit 2 as they do for sockjsproxy-cli (README "Exit codes"), with one
// line on stderr naming the culprit; --version and --help exit 0.

#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

namespace {

constexpr int kWaitMs = 20000; // a process start under ASan

} // namespace

class tst_MonitorOptions : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void badOptions_data();
    void badOptions();
    void versionAndHelp_data();
    void versionAndHelp();

private:
    // Runs the monitor to its end; false when it does not end by itself.
    bool run(const QStringList &arguments, QProcess *process);

    QTemporaryDir m_runtimeDir; // XDG_RUNTIME_DIR: Qt warns on stderr without one
};

bool tst_MonitorOptions::run(const QStringList &arguments, QProcess *process)
{
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    environment.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
    environment.insert(QStringLiteral("XDG_RUNTIME_DIR"), m_runtimeDir.path());
    environment.remove(QStringLiteral("SOCKJSPROXY_CONTROL_TOKEN"));
    environment.remove(QStringLiteral("QT_LOGGING_RULES"));
    process->setProcessEnvironment(environment);
    process->start(QStringLiteral(SOCKJSPROXY_MONITOR_PATH), arguments);
    if (process->waitForFinished(kWaitMs))
        return true;
    process->kill();
    process->waitForFinished();
    return false;
}

void tst_MonitorOptions::initTestCase() { QVERIFY(m_runtimeDir.isValid()); }

void tst_MonitorOptions::badOptions_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QString>("named");

    QTest::newRow("unknown option") << QStringList{QStringLiteral("--bogus-flag")} << QStringLiteral("'bogus-flag'");
    QTest::newRow("unknown short option") << QStringList{QStringLiteral("-x")} << QStringLiteral("'x'");
    QTest::newRow("missing value") << QStringList{QStringLiteral("-p")} << QStringLiteral("'-p'");
    QTest::newRow("bad value") << QStringList{QStringLiteral("-p"), QStringLiteral("70000")} << QStringLiteral("70000");
    QTest::newRow("stray positional argument")
        << QStringList{QStringLiteral("extra-positional")} << QStringLiteral("\"extra-positional\"");
    QTest::newRow("config file missing") << QStringList{QStringLiteral("--config"), QStringLiteral("/nonexistent.json")}
                                         << QStringLiteral("/nonexistent.json");
    QTest::newRow("control beyond loopback without a token")
        << QStringList{QStringLiteral("--control"), QStringLiteral("0.0.0.0:0")}
        << QStringLiteral("--control 0.0.0.0:0");
}

void tst_MonitorOptions::badOptions()
{
    QFETCH(QStringList, arguments);
    QFETCH(QString, named);
    QProcess monitor;
    QVERIFY(run(arguments, &monitor));
    QCOMPARE(monitor.exitStatus(), QProcess::NormalExit);
    QCOMPARE(monitor.exitCode(), 2);
    const QByteArray error = monitor.readAllStandardError();
    QVERIFY2(error.startsWith("sockjsproxy-monitor: ") && error.endsWith('\n') && error.count('\n') == 1,
             error.constData()); // exactly one line
    QVERIFY2(error.contains(named.toUtf8()), error.constData());
}

void tst_MonitorOptions::versionAndHelp_data()
{
    QTest::addColumn<QString>("option");
    QTest::addColumn<QByteArray>("output"); // how stdout starts
    QTest::newRow("--version") << QStringLiteral("--version") << QByteArray("sockjsproxy-monitor ");
    QTest::newRow("--help") << QStringLiteral("--help") << QByteArray("Usage: ");
    QTest::newRow("-h") << QStringLiteral("-h") << QByteArray("Usage: ");
}

void tst_MonitorOptions::versionAndHelp()
{
    QFETCH(QString, option);
    QFETCH(QByteArray, output);
    QProcess monitor;
    QVERIFY(run({option}, &monitor));
    QCOMPARE(monitor.exitStatus(), QProcess::NormalExit);
    QCOMPARE(monitor.exitCode(), 0);
    const QByteArray out = monitor.readAllStandardOutput();
    QVERIFY2(out.startsWith(output), out.constData());
    QVERIFY2(monitor.readAllStandardError().isEmpty(), "stderr not empty");
}

QTEST_GUILESS_MAIN(tst_MonitorOptions)
#include "tst_monitoroptions.moc"
