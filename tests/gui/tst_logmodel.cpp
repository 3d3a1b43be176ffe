// LogModel and LogFilterModel under QAbstractItemModelTester: batches, the
// cap, level names, the level and text filters; LogPane batching.

#include "logfiltermodel.h"
#include "logmodel.h"
#include "logpane.h"

#include <QAbstractItemModelTester>
#include <QComboBox>
#include <QSignalSpy>
#include <QTest>

using namespace SockJsProxy;

namespace {

LogModel::Entry entry(LogModel::Level level, const QString &text,
                      const QString &category = QStringLiteral("sockjsproxy.session"))
{
    return {QDateTime::currentDateTime(), level, category, text};
}

QStringList texts(const QAbstractItemModel &model)
{
    QStringList result;
    for (int row = 0; row < model.rowCount(); ++row)
        result.append(model.index(row, LogModel::TextColumn).data().toString());
    return result;
}

class FakeSource : public MonitorSource
{
public:
    QList<SessionInfo> sessions() const override { return {}; }
    MonitorStats stats() const override { return {}; }
    void disconnectSessions(const QList<QByteArray> &) override {}
    void sendToSession(const QByteArray &, const QByteArray &) override {}
    void clearCounters() override {}
    void setInspected(const QByteArray &, bool) override {}
    void log(const QString &level, const QString &text) { Q_EMIT logMessage(level, QStringLiteral("test"), text); }
};

} // namespace

class tst_LogModel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void levelNames_data();
    void levelNames();
    void appendAndCap();
    void levelAndTextFilter();
    void paneBatchesAndFilters();
};

void tst_LogModel::levelNames_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<int>("level");
    QTest::addColumn<QString>("canonical");
    QTest::newRow("debug") << "debug" << int(LogModel::Level::Debug) << "debug";
    QTest::newRow("info") << "info" << int(LogModel::Level::Info) << "info";
    QTest::newRow("warning") << "warning" << int(LogModel::Level::Warning) << "warning";
    QTest::newRow("critical") << "critical" << int(LogModel::Level::Critical) << "critical";
    QTest::newRow("fatal") << "fatal" << int(LogModel::Level::Critical) << "critical";
    QTest::newRow("unknown") << "chatter" << int(LogModel::Level::Info) << "info";
    QTest::newRow("empty") << "" << int(LogModel::Level::Info) << "info";
}

void tst_LogModel::levelNames()
{
    QFETCH(QString, name);
    QFETCH(int, level);
    QFETCH(QString, canonical);
    QCOMPARE(int(LogModel::levelFromName(name)), level);
    QCOMPARE(LogModel::levelName(LogModel::Level(level)), canonical);
}

void tst_LogModel::appendAndCap()
{
    LogModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(model.capacity(), LogModel::kDefaultCapacity);
    model.setCapacity(4);
    model.append(
        {entry(LogModel::Level::Info, "1"), entry(LogModel::Level::Info, "2"), entry(LogModel::Level::Info, "3")});
    model.append({entry(LogModel::Level::Warning, "4"), entry(LogModel::Level::Debug, "5")});
    QCOMPARE(texts(model), (QStringList{"2", "3", "4", "5"}));
    model.append({entry(LogModel::Level::Info, "6"), entry(LogModel::Level::Info, "7"),
                  entry(LogModel::Level::Info, "8"), entry(LogModel::Level::Info, "9"),
                  entry(LogModel::Level::Info, "10")});
    QCOMPARE(texts(model), (QStringList{"7", "8", "9", "10"}));
    QCOMPARE(model.index(0, LogModel::LevelColumn).data().toString(), QStringLiteral("info"));
    QCOMPARE(model.index(0, LogModel::CategoryColumn).data().toString(), QStringLiteral("sockjsproxy.session"));
    model.setCapacity(2);
    QCOMPARE(texts(model), (QStringList{"9", "10"}));
    model.clear();
    QCOMPARE(model.rowCount(), 0);

    // 5,000 lines by default, whatever is thrown at it.
    LogModel big;
    QList<LogModel::Entry> batch;
    for (int i = 0; i < 1500; ++i)
        batch.append(entry(LogModel::Level::Debug, QString::number(i)));
    for (int i = 0; i < 5; ++i)
        big.append(batch);
    QCOMPARE(big.rowCount(), LogModel::kDefaultCapacity);
}

void tst_LogModel::levelAndTextFilter()
{
    LogModel model;
    LogFilterModel filter;
    filter.setSourceModel(&model);
    QAbstractItemModelTester tester(&filter, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.append({entry(LogModel::Level::Debug, "d"), entry(LogModel::Level::Info, "i"),
                  entry(LogModel::Level::Warning, "w", QStringLiteral("sockjsproxy.zmq")),
                  entry(LogModel::Level::Critical, "c")});
    QCOMPARE(texts(filter), (QStringList{"d", "i", "w", "c"}));
    filter.setMinimumLevel(LogModel::Level::Info);
    QCOMPARE(texts(filter), (QStringList{"i", "w", "c"}));
    filter.setMinimumLevel(LogModel::Level::Warning);
    QCOMPARE(texts(filter), (QStringList{"w", "c"}));
    filter.setMinimumLevel(LogModel::Level::Critical);
    QCOMPARE(texts(filter), QStringList{"c"});

    // New lines go through the filter too.
    model.append({entry(LogModel::Level::Debug, "d2"), entry(LogModel::Level::Critical, "c2")});
    QCOMPARE(texts(filter), (QStringList{"c", "c2"}));

    filter.setMinimumLevel(LogModel::Level::Debug);
    filter.setTextFilter(QStringLiteral("ZMQ")); // category, case-insensitive
    QCOMPARE(texts(filter), QStringList{"w"});
    filter.setTextFilter(QStringLiteral("2"));
    QCOMPARE(texts(filter), (QStringList{"d2", "c2"}));
    filter.setTextFilter(QString());
    QCOMPARE(filter.rowCount(), 6);
}

void tst_LogModel::paneBatchesAndFilters()
{
    FakeSource source;
    LogPane pane;
    pane.setSource(&source);
    QSignalSpy inserted(pane.model(), &QAbstractItemModel::rowsInserted);
    for (int i = 0; i < 100; ++i)
        source.log(QStringLiteral("debug"), QStringLiteral("line %1").arg(i));
    source.log(QStringLiteral("warning"), QStringLiteral("careful"));
    QTRY_COMPARE(pane.model()->rowCount(), 101);
    QCOMPARE(inserted.count(), 1); // one batch
    // The pane shows info and above by default.
    QCOMPARE(pane.filterModel()->rowCount(), 1);
    pane.levelCombo()->setCurrentIndex(int(LogModel::Level::Debug));
    QCOMPARE(pane.filterModel()->rowCount(), 101);

    pane.setSource(nullptr);
    source.log(QStringLiteral("info"), QStringLiteral("unheard"));
    pane.addLine(QStringLiteral("critical"), QStringLiteral("monitor"), QStringLiteral("own line"));
    QTRY_COMPARE(pane.model()->rowCount(), 102);
    QCOMPARE(pane.model()->index(101, LogModel::TextColumn).data().toString(), QStringLiteral("own line"));
}

QTEST_MAIN(tst_LogModel)
#include "tst_logmodel.moc"
