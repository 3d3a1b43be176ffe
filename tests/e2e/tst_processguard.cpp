// The test support for child processes that the end-to-end tests build on
// (tests/support: ProcessGuard, Child, freePorts, waitForPort): a program
// started with arguments and environment, its stdout and stderr apart, a
// server child waited for on its TCP port, and every child killed and reaped
// when its guard goes out of scope. The children are small Python programs.

#include "ports.h"
#include "processguard.h"
#include "testpaths.h"

#include <QProcessEnvironment>
#include <QSet>
#include <QTest>

using namespace SockJsProxy::Test;

namespace {

// A Python program that listens on 127.0.0.1:port, says so and then waits
// for its stdin to close (it never does: the guard has to kill it).
QStringList listener(quint16 port)
{
    const QString program = QStringLiteral("import socket, sys\n"
                                           "s = socket.socket()\n"
                                           "s.bind(('127.0.0.1', %1))\n"
                                           "s.listen()\n"
                                           "print('listening', flush=True)\n"
                                           "sys.stdin.read()\n")
                                .arg(port);
    return {QStringLiteral("-c"), program};
}

} // namespace

class tst_ProcessGuard : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void freePortsDiffer();
    void argumentsEnvironmentAndOutput();
    void waitForPortAndKillOnScopeExit();
    void waitForPortFailsWhenChildExits();
};

void tst_ProcessGuard::freePortsDiffer()
{
    const QList<quint16> ports = freePorts(5);
    QCOMPARE(ports.size(), 5);
    QCOMPARE(QSet<quint16>(ports.cbegin(), ports.cend()).size(), 5);
    for (const quint16 port : ports) {
        QVERIFY(port != 0);
        QVERIFY(!acceptsConnections(port));
    }
    const Ports proxy = Ports::pick();
    QVERIFY(proxy.ok());
    QCOMPARE(QSet<quint16>({proxy.http, proxy.in, proxy.out}).size(), 3);
}

void tst_ProcessGuard::argumentsEnvironmentAndOutput()
{
    // What the guard takes away from the environment, and what a test adds.
    qputenv("SOCKJSPROXY_CONTROL_TOKEN", "not for children");
    QProcessEnvironment extra;
    extra.insert(QStringLiteral("SOCKJSPROXY_TEST_VALUE"), QStringLiteral("from the test"));

    ProcessGuard guard;
    Child *child = guard.start(QStringLiteral("python"), pythonPath(),
                               {QStringLiteral("-c"),
                                QStringLiteral("import os, sys\n"
                                               "print(sys.argv[1:])\n"
                                               "print(os.environ['SOCKJSPROXY_TEST_VALUE'])\n"
                                               "print(os.environ.get('SOCKJSPROXY_CONTROL_TOKEN', 'unset'))\n"
                                               "print('to stderr', file=sys.stderr)\n"
                                               "sys.exit(7)\n"),
                                QStringLiteral("one"), QStringLiteral("two words")},
                               extra);
    qunsetenv("SOCKJSPROXY_CONTROL_TOKEN");
    QVERIFY(child);
    QVERIFY(waitForExit(child, kProcessStartMs));
    QCOMPARE(child->exitStatus(), QProcess::NormalExit);
    QCOMPARE(child->exitCode(), 7);
    QCOMPARE(child->standardOutput(), QByteArray("['one', 'two words']\nfrom the test\nunset\n"));
    QCOMPARE(child->standardError(), QByteArray("to stderr\n"));
    QCOMPARE(child->lines().size(), 4);
    QVERIFY(child->hasLineContaining("stderr"));
    QCOMPARE(child->linesStartingWith("from "), QList<QByteArray>{"from the test"});
}

void tst_ProcessGuard::waitForPortAndKillOnScopeExit()
{
    const QList<quint16> ports = freePorts(1);
    QCOMPARE(ports.size(), 1);
    const quint16 port = ports.first();
    {
        ProcessGuard guard;
        Child *server = guard.start(QStringLiteral("listener"), pythonPath(), listener(port));
        QVERIFY(server);
        QVERIFY(waitForPort(server, port));
        QVERIFY(server->hasLineContaining("listening"));
        QVERIFY(server->isRunning());
        QVERIFY(acceptsConnections(port));
    }
    // The guard killed and reaped it: nobody listens any more.
    QVERIFY(!acceptsConnections(port));
}

void tst_ProcessGuard::waitForPortFailsWhenChildExits()
{
    const QList<quint16> ports = freePorts(1);
    QCOMPARE(ports.size(), 1);
    ProcessGuard guard;
    Child *child = guard.start(QStringLiteral("quitter"), pythonPath(),
                               {QStringLiteral("-c"), QStringLiteral("import sys; sys.exit(3)")});
    QVERIFY(child);
    QVERIFY(!waitForPort(child, ports.first()));
    QVERIFY(waitForExit(child));
    QCOMPARE(child->exitCode(), 3);
}

QTEST_GUILESS_MAIN(tst_ProcessGuard)
#include "tst_processguard.moc"
