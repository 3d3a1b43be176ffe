// TrafficModel under QAbstractItemModelTester (batches, the cap, clear,
// shortened display, copy text) and InspectorWidget over a fake source:
// setInspected on the selected session only, batching, Pause, Clear.

#include "inspectorwidget.h"
#include "trafficmodel.h"

#include <QAbstractItemModelTester>
#include <QApplication>
#include <QClipboard>
#include <QItemSelectionModel>
#include <QSignalSpy>
#include <QTableView>
#include <QTest>

using namespace SockJsProxy;

namespace {

TrafficEvent trafficEvent(const QByteArray &session, int n,
                          TrafficEvent::Direction direction = TrafficEvent::Direction::In)
{
    TrafficEvent e;
    e.sessionId = session;
    e.direction = direction;
    e.time = QDateTime::fromMSecsSinceEpoch(1700000000000 + n, Qt::UTC);
    e.data = "message " + QByteArray::number(n);
    return e;
}

QList<TrafficEvent> events(const QByteArray &session, int first, int count)
{
    QList<TrafficEvent> result;
    for (int i = first; i < first + count; ++i)
        result.append(trafficEvent(session, i, i % 2 ? TrafficEvent::Direction::Out : TrafficEvent::Direction::In));
    return result;
}

QStringList texts(const QAbstractItemModel &model)
{
    QStringList result;
    for (int row = 0; row < model.rowCount(); ++row)
        result.append(model.index(row, TrafficModel::TextColumn).data().toString());
    return result;
}

// Records the commands a monitor front end sends.
class FakeSource : public MonitorSource
{
public:
    QList<SessionInfo> sessions() const override { return {}; }
    MonitorStats stats() const override { return {}; }
    void disconnectSessions(const QList<QByteArray> &ids) override { disconnected += ids; }
    void sendToSession(const QByteArray &, const QByteArray &) override {}
    void clearCounters() override {}
    void setInspected(const QByteArray &id, bool inspected) override
    {
        inspectCalls.append(QStringLiteral("%1=%2").arg(QString::fromLatin1(id)).arg(inspected));
    }
    void emitTraffic(const TrafficEvent &e) { Q_EMIT traffic(e); }

    QList<QByteArray> disconnected;
    QStringList inspectCalls;
};

} // namespace

class tst_TrafficModel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void appendAndCap();
    void batchLargerThanCapacity();
    void clearAndShrink();
    void displayAndCopyText();
    void inspectorInspectsOneSession();
    void inspectorBatchesPausesAndClears();
    void inspectorCopiesSelection();
};

void tst_TrafficModel::appendAndCap()
{
    TrafficModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(model.capacity(), TrafficModel::kDefaultCapacity);
    model.setCapacity(10);
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);

    model.append(events("s", 0, 7));
    QCOMPARE(model.rowCount(), 7);
    QCOMPARE(inserted.count(), 1);
    QCOMPARE(removed.count(), 0);

    // 7 more: the 4 oldest go (one removal), 7 come (one insertion).
    model.append(events("s", 7, 7));
    QCOMPARE(model.rowCount(), 10);
    QCOMPARE(inserted.count(), 2);
    QCOMPARE(removed.count(), 1);
    QCOMPARE(model.index(0, TrafficModel::TextColumn).data().toString(), QStringLiteral("message 4"));
    QCOMPARE(model.index(9, TrafficModel::TextColumn).data().toString(), QStringLiteral("message 13"));
    model.append({});
    QCOMPARE(inserted.count(), 2);
}

void tst_TrafficModel::batchLargerThanCapacity()
{
    TrafficModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setCapacity(5);
    model.append(events("s", 0, 3));
    model.append(events("s", 3, 12)); // only the newest 5 of the batch can stay
    QCOMPARE(texts(model), (QStringList{"message 10", "message 11", "message 12", "message 13", "message 14"}));

    // The default cap holds at message-storm scale.
    TrafficModel big;
    for (int i = 0; i < 50; ++i)
        big.append(events("s", i * 1000, 1000));
    QCOMPARE(big.rowCount(), TrafficModel::kDefaultCapacity);
    QCOMPARE(big.index(big.rowCount() - 1, TrafficModel::TextColumn).data().toString(),
             QStringLiteral("message 49999"));
}

void tst_TrafficModel::clearAndShrink()
{
    TrafficModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.append(events("s", 0, 20));
    model.setCapacity(8);
    QCOMPARE(model.rowCount(), 8);
    QCOMPARE(model.index(0, TrafficModel::TextColumn).data().toString(), QStringLiteral("message 12"));
    model.clear();
    QCOMPARE(model.rowCount(), 0);
    model.clear();
    model.append(events("s", 0, 2));
    QCOMPARE(model.rowCount(), 2);
}

void tst_TrafficModel::displayAndCopyText()
{
    TrafficModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    TrafficEvent in = trafficEvent("s", 1, TrafficEvent::Direction::In);
    in.data = QByteArray("h\xc3\xa9llo"); // UTF-8
    TrafficEvent out = trafficEvent("s", 2, TrafficEvent::Direction::Out);
    out.data = QByteArray(5000, 'x');
    model.append({in, out});
    QCOMPARE(model.index(0, TrafficModel::TextColumn).data().toString(), QStringLiteral("h\u00e9llo"));
    QCOMPARE(model.index(0, TrafficModel::SizeColumn).data().toInt(), 6);
    QVERIFY(model.index(0, TrafficModel::DirectionColumn).data().toString().contains(QLatin1String("in")));
    QVERIFY(model.index(1, TrafficModel::DirectionColumn).data().toString().contains(QLatin1String("out")));
    // Long messages are shortened in the view, whole in FullTextRole.
    QCOMPARE(model.index(1, TrafficModel::TextColumn).data().toString().size(), TrafficModel::kDisplayChars + 1);
    QCOMPARE(model.index(1, TrafficModel::TextColumn).data(TrafficModel::FullTextRole).toString().size(), 5000);
    QCOMPARE(model.index(1, TrafficModel::SizeColumn).data().toInt(), 5000);

    // Tooltips: short lines, a bounded number of them, whatever the size
    // (a 100 KB message in one line ran off the screen).
    TrafficEvent huge = trafficEvent("s", 3, TrafficEvent::Direction::Out);
    huge.data = QByteArray(100 * 1024, 'y');
    model.append({huge});
    const QStringList tip =
        model.index(2, TrafficModel::TextColumn).data(Qt::ToolTipRole).toString().split(QLatin1Char('\n'));
    QCOMPARE(tip.size(), TrafficModel::kTipLines + 1);
    for (int i = 0; i < TrafficModel::kTipLines; ++i)
        QCOMPARE(tip.at(i), QString(TrafficModel::kTipLineChars, QLatin1Char('y')));
    QVERIFY2(tip.last().contains(QLatin1String("102400 bytes in all")), qPrintable(tip.last()));
    // A short message is its own tooltip; its lines stay lines.
    QCOMPARE(TrafficModel::toolTipText("{\n  \"a\": 1\n}"), QStringLiteral("{\n  \"a\": 1\n}"));
    QCOMPARE(TrafficModel::toolTipText(QByteArray()), QString());

    const QString text = model.toText({0});
    const QStringList fields = text.split(QLatin1Char('\t'));
    QCOMPARE(fields.size(), 4);
    QCOMPARE(fields.at(1), QStringLiteral("in"));
    QCOMPARE(fields.at(2), QStringLiteral("6"));
    QCOMPARE(fields.at(3), QStringLiteral("h\u00e9llo"));
    QCOMPARE(model.toText({0, 1}).count(QLatin1Char('\n')), 1);
    QCOMPARE(model.toText({7}), QString());
}

void tst_TrafficModel::inspectorInspectsOneSession()
{
    FakeSource source;
    InspectorWidget inspector;
    inspector.setSource(&source);
    inspector.setSession("a");
    inspector.setSession("a"); // no repeat
    inspector.setSession("b", QStringLiteral("/echo, websocket"));
    QCOMPARE(source.inspectCalls, (QStringList{"a=1", "a=0", "b=1"}));

    // Only b's traffic is kept.
    source.emitTraffic(trafficEvent("a", 1));
    source.emitTraffic(trafficEvent("b", 2));
    QTRY_COMPARE(inspector.model()->rowCount(), 1);
    QCOMPARE(inspector.model()->index(0, TrafficModel::TextColumn).data().toString(), QStringLiteral("message 2"));

    // A new source: the old one is told to stop.
    FakeSource other;
    inspector.setSource(&other);
    QCOMPARE(source.inspectCalls.last(), QStringLiteral("b=0"));
    QCOMPARE(inspector.session(), QByteArray());
    QCOMPARE(inspector.model()->rowCount(), 0);
    inspector.setSession("c");
    QCOMPARE(other.inspectCalls, QStringList{"c=1"});
    inspector.reinspect();
    QCOMPARE(other.inspectCalls, (QStringList{"c=1", "c=1"}));
    inspector.markClosed();
    inspector.reinspect(); // a closed session is not asked for again
    QCOMPARE(other.inspectCalls.size(), 2);
    inspector.setSource(nullptr);
    QCOMPARE(other.inspectCalls.last(), QStringLiteral("c=0"));
}

void tst_TrafficModel::inspectorBatchesPausesAndClears()
{
    FakeSource source;
    InspectorWidget inspector;
    inspector.setSource(&source);
    inspector.setSession("s");
    QSignalSpy inserted(inspector.model(), &QAbstractItemModel::rowsInserted);

    // A burst arrives as one insertion after the flush interval.
    for (int i = 0; i < 500; ++i)
        source.emitTraffic(trafficEvent("s", i));
    QCOMPARE(inspector.model()->rowCount(), 0);
    QTRY_COMPARE(inspector.model()->rowCount(), 500);
    QCOMPARE(inserted.count(), 1);

    // A storm larger than the cap keeps the newest capacity() messages.
    for (int i = 500; i < 5500; ++i)
        source.emitTraffic(trafficEvent("s", i));
    QTRY_COMPARE(
        inspector.model()->index(inspector.model()->rowCount() - 1, TrafficModel::TextColumn).data().toString(),
        QStringLiteral("message 5499"));
    QCOMPARE(inspector.model()->rowCount(), TrafficModel::kDefaultCapacity);

    // Paused: nothing is appended, not even later.
    inspector.setPaused(true);
    QVERIFY(inspector.isPaused());
    const int before = inspector.model()->rowCount();
    const int insertions = int(inserted.count());
    source.emitTraffic(trafficEvent("s", 6000));
    QCOMPARE(inspector.pendingCount(), 0); // dropped, not held for later
    QCOMPARE(inspector.model()->rowCount(), before);
    QCOMPARE(inserted.count(), insertions);
    inspector.setPaused(false);
    source.emitTraffic(trafficEvent("s", 6001));
    QTRY_COMPARE(
        inspector.model()->index(inspector.model()->rowCount() - 1, TrafficModel::TextColumn).data().toString(),
        QStringLiteral("message 6001"));

    inspector.clear();
    QCOMPARE(inspector.model()->rowCount(), 0);
    source.emitTraffic(trafficEvent("s", 7000));
    QTRY_COMPARE(inspector.model()->rowCount(), 1);
}

void tst_TrafficModel::inspectorCopiesSelection()
{
    FakeSource source;
    InspectorWidget inspector;
    inspector.setSource(&source);
    inspector.setSession("s");
    for (int i = 0; i < 3; ++i)
        source.emitTraffic(trafficEvent("s", i, TrafficEvent::Direction::Out));
    QTRY_COMPARE(inspector.model()->rowCount(), 3);
    QItemSelectionModel *selection = inspector.view()->selectionModel();
    selection->select(inspector.model()->index(2, 0), QItemSelectionModel::Select | QItemSelectionModel::Rows);
    selection->select(inspector.model()->index(0, 0), QItemSelectionModel::Select | QItemSelectionModel::Rows);
    inspector.copySelection();
    const QStringList lines = QApplication::clipboard()->text().split(QLatin1Char('\n'));
    QCOMPARE(lines.size(), 2);
    QVERIFY(lines.at(0).endsWith(QLatin1String("\tout\t9\tmessage 0")));
    QVERIFY(lines.at(1).endsWith(QLatin1String("\tout\t9\tmessage 2")));
}

QTEST_MAIN(tst_TrafficModel)
#include "tst_trafficmodel.moc"
