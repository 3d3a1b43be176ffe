// applyOpenFilesLimit(): the soft RLIMIT_NOFILE set at start-up
// (limits.max_open_files), on this test process's own limit, put back at
// the end.

#include "base/openfiles.h"

#include <QTest>

#ifdef Q_OS_UNIX
#include <sys/resource.h>
#endif

using namespace SockJsProxy;

class tst_OpenFiles : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanup();
    void chosenValue();
    void zeroMeansTheHardLimit();
    void aboveTheHardLimit();
    void logsBothLimits(); // the summary for the start-up lines

private:
#ifdef Q_OS_UNIX
    rlimit m_original{};
#endif
    OpenFilesLimit m_before;
};

void tst_OpenFiles::initTestCase()
{
#ifndef Q_OS_UNIX
    QSKIP("no RLIMIT_NOFILE here");
#else
    QCOMPARE(getrlimit(RLIMIT_NOFILE, &m_original), 0);
    m_before = openFilesLimit();
    if (m_before.hard >= 0 && m_before.hard < 400)
        QSKIP("the hard limit is too low to try values below it");
#endif
}

void tst_OpenFiles::cleanup()
{
#ifdef Q_OS_UNIX
    QCOMPARE(setrlimit(RLIMIT_NOFILE, &m_original), 0);
#endif
}

void tst_OpenFiles::chosenValue()
{
    const OpenFilesLimit after = applyOpenFilesLimit(300);
    QCOMPARE(after.soft, qint64(300));
    QCOMPARE(after.hard, m_before.hard);
    QCOMPARE(openFilesLimit().soft, qint64(300));
    QCOMPARE(applyOpenFilesLimit(350).soft, qint64(350));
}

void tst_OpenFiles::zeroMeansTheHardLimit()
{
    applyOpenFilesLimit(300);
    const OpenFilesLimit after = applyOpenFilesLimit(0);
    QCOMPARE(after.soft, after.hard < 0 ? m_before.soft : after.hard);
    if (after.hard > 0)
        QCOMPARE(after.soft, m_before.hard);
}

void tst_OpenFiles::aboveTheHardLimit()
{
    if (m_before.hard < 0)
        QSKIP("no hard limit");
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("is above the hard limit")));
    const OpenFilesLimit after = applyOpenFilesLimit(m_before.hard + 1);
    QCOMPARE(after.soft, m_before.hard);
}

void tst_OpenFiles::logsBothLimits()
{
    applyOpenFilesLimit(300);
    QString summary;
    applyOpenFilesLimit(320, &summary);
    QVERIFY2(QRegularExpression(QStringLiteral("^open files limit: 320 \\(was 300, hard limit (\\d+|unlimited)\\)$"))
                 .match(summary)
                 .hasMatch(),
             qPrintable(summary));
}

QTEST_APPLESS_MAIN(tst_OpenFiles)
#include "tst_openfiles.moc"
