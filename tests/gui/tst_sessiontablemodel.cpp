// SessionTableModel and SessionFilterModel under QAbstractItemModelTester:
// live updates in place (dataChanged for changed rows only, never a reset),
// insertions and removals, the id -> row index, sorting and filtering.

#include "sessionfiltermodel.h"
#include "sessiontablemodel.h"

#include <QAbstractItemModelTester>
#include <QBrush>
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTest>

using namespace SockJsProxy;

namespace {

SessionInfo session(const QByteArray &id, const QString &service = QStringLiteral("/echo"),
                    const QByteArray &transport = "websocket", quint64 messagesIn = 0)
{
    SessionInfo s;
    s.id = id;
    s.service = service;
    s.transport = transport;
    s.remoteAddress = QStringLiteral("10.0.0.5");
    s.remotePort = 4711;
    s.origin = QStringLiteral("http://example.org");
    s.userAgent = QStringLiteral("Mozilla/5.0 (X11; Linux x86_64)");
    s.state = QStringLiteral("open");
    s.openedAt = QDateTime::fromMSecsSinceEpoch(1700000000000 + messagesIn, Qt::UTC);
    s.messagesIn = messagesIn;
    return s;
}

QList<QByteArray> ids(const SessionTableModel &model)
{
    QList<QByteArray> result;
    for (int row = 0; row < model.rowCount(); ++row)
        result.append(model.idAt(row));
    return result;
}

QStringList column(const QAbstractItemModel &model, int column)
{
    QStringList result;
    for (int row = 0; row < model.rowCount(); ++row)
        result.append(model.index(row, column).data().toString());
    return result;
}

void checkIndex(const SessionTableModel &model)
{
    for (int row = 0; row < model.rowCount(); ++row)
        QCOMPARE(model.rowOf(model.idAt(row)), row);
}

} // namespace

class tst_SessionTableModel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void insertUpdateRemove();
    void removeScattered();
    void upsertAndRemoveInOneBatch();
    void displayAndRoles();
    void sortAsNumbers();
    void naturalSortOfIds();
    void closedSessionsLinger();
    void ageAndIdle();
    void filterByServiceTransportAndText();
    void filterFollowsUpdates();
    void fiveThousandSessions();
};

void tst_SessionTableModel::insertUpdateRemove()
{
    SessionTableModel model;
    model.setClosedLinger(0); // closedSessionsLinger() has the default
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy resets(&model, &QAbstractItemModel::modelAboutToBeReset);
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);

    model.applyChanges({session("a"), session("b"), session("c")}, {});
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.columnCount(), int(SessionTableModel::ColumnCount));
    QCOMPARE(ids(model), (QList<QByteArray>{"a", "b", "c"}));
    QCOMPARE(inserted.count(), 1); // one block
    QCOMPARE(changed.count(), 0);
    checkIndex(model);

    // b changes, a and c are sent unchanged: one dataChanged, for b's row, all columns.
    SessionInfo b = session("b");
    b.messagesIn = 5;
    b.state = QStringLiteral("closed");
    model.applyChanges({session("a"), b, session("c")}, {});
    QCOMPARE(changed.count(), 1);
    const QModelIndex topLeft = changed.first().at(0).toModelIndex();
    const QModelIndex bottomRight = changed.first().at(1).toModelIndex();
    QCOMPARE(topLeft.row(), 1);
    QCOMPARE(bottomRight.row(), 1);
    QCOMPARE(topLeft.column(), 0);
    QCOMPARE(bottomRight.column(), SessionTableModel::ColumnCount - 1);
    QCOMPARE(model.index(1, SessionTableModel::MessagesInColumn).data().toString(), QStringLiteral("5"));
    QCOMPARE(model.index(1, SessionTableModel::StateColumn).data().toString(), QStringLiteral("closed"));

    // Removal of the middle row, insertion of a new one.
    model.applyChanges({session("d")}, {"b"});
    QCOMPARE(ids(model), (QList<QByteArray>{"a", "c", "d"}));
    QCOMPARE(removed.count(), 1);
    QCOMPARE(inserted.count(), 2);
    QCOMPARE(model.rowOf("b"), -1);
    checkIndex(model);

    // Unknown ids in removed are ignored; an empty batch does nothing.
    model.applyChanges({}, {"nope"});
    model.applyChanges({}, {});
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(removed.count(), 1);
    QCOMPARE(resets.count(), 0); // updates never reset

    // Adjacent changed rows come as one range; unchanged rows split ranges.
    changed.clear();
    SessionInfo a = session("a");
    a.messagesOut = 1;
    SessionInfo c = session("c");
    c.messagesOut = 1;
    SessionInfo d = session("d");
    d.messagesOut = 1;
    model.applyChanges({d, a, c}, {});
    QCOMPARE(changed.count(), 1);
    QCOMPARE(changed.first().at(0).toModelIndex().row(), 0);
    QCOMPARE(changed.first().at(1).toModelIndex().row(), 2);
    changed.clear();
    d.messagesOut = 2;
    a.messagesOut = 2;
    model.applyChanges({d, a}, {});
    QCOMPARE(changed.count(), 2);

    model.applyChanges({}, {"a", "c", "d"});
    QCOMPARE(model.rowCount(), 0);
    QCOMPARE(resets.count(), 0);
}

void tst_SessionTableModel::removeScattered()
{
    SessionTableModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QList<SessionInfo> sessions;
    for (int i = 0; i < 20; ++i)
        sessions.append(session("s" + QByteArray::number(i)));
    model.applyChanges(sessions, {});
    QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
    // Rows 0, 2-4, 10, 18-19: four contiguous ranges.
    model.applyChanges({}, {"s3", "s0", "s19", "s2", "s10", "s4", "s18", "s3"});
    QCOMPARE(removed.count(), 4);
    QCOMPARE(model.rowCount(), 13);
    QCOMPARE(ids(model),
             (QList<QByteArray>{"s1", "s5", "s6", "s7", "s8", "s9", "s11", "s12", "s13", "s14", "s15", "s16", "s17"}));
    checkIndex(model);
}

void tst_SessionTableModel::upsertAndRemoveInOneBatch()
{
    SessionTableModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.applyChanges({session("a"), session("b")}, {});
    // Same id twice in one batch: one row; update a, remove b, add c.
    SessionInfo a = session("a");
    a.bytesOut = 2048;
    model.applyChanges({a, session("c"), session("c")}, {"b"});
    QCOMPARE(ids(model), (QList<QByteArray>{"a", "c"}));
    QCOMPARE(model.index(0, SessionTableModel::BytesOutColumn).data().toString(), QStringLiteral("2.0 KiB"));
    QCOMPARE(model.index(0, SessionTableModel::BytesOutColumn).data(SessionTableModel::SortRole).toULongLong(), 2048u);
    checkIndex(model);

    // setSessions is the one reset (a new source).
    QSignalSpy resets(&model, &QAbstractItemModel::modelReset);
    model.setSessions({session("x"), session("y")});
    QCOMPARE(resets.count(), 1);
    QCOMPARE(ids(model), (QList<QByteArray>{"x", "y"}));
    checkIndex(model);
    model.clear();
    QCOMPARE(model.rowCount(), 0);
}

void tst_SessionTableModel::displayAndRoles()
{
    SessionTableModel model;
    SessionInfo s = session("id-1", QStringLiteral("/chat"), "xhr-streaming", 3);
    s.remoteAddress = QStringLiteral("::1");
    s.remotePort = 5000;
    s.queued = 7;
    model.applyChanges({s}, {});
    QCOMPARE(model.index(0, SessionTableModel::IdColumn).data().toString(), QStringLiteral("id-1"));
    QCOMPARE(model.index(0, SessionTableModel::ServiceColumn).data().toString(), QStringLiteral("/chat"));
    QCOMPARE(model.index(0, SessionTableModel::TransportColumn).data().toString(), QStringLiteral("xhr-streaming"));
    QCOMPARE(model.index(0, SessionTableModel::RemoteColumn).data().toString(), QStringLiteral("[::1]:5000"));
    // Behind a load balancer: the real client, without the port it did not pass on, and the balancer.
    SessionInfo forwarded = session("id-2", QStringLiteral("/chat"), "websocket", 1);
    forwarded.remoteAddress = QStringLiteral("2001:db8::7");
    forwarded.remotePort = 0;
    forwarded.via = QStringLiteral("10.0.0.2");
    SessionInfo withPort = forwarded;
    withPort.id = "id-3";
    withPort.remoteAddress = QStringLiteral("203.0.113.7");
    withPort.remotePort = 4711;
    model.applyChanges({forwarded, withPort}, {});
    QCOMPARE(model.index(1, SessionTableModel::RemoteColumn).data().toString(),
             QStringLiteral("2001:db8::7 via 10.0.0.2"));
    QCOMPARE(model.index(2, SessionTableModel::RemoteColumn).data().toString(),
             QStringLiteral("203.0.113.7:4711 via 10.0.0.2"));
    QCOMPARE(model.index(0, SessionTableModel::QueuedColumn).data().toString(), QStringLiteral("7"));
    QCOMPARE(model.index(0, SessionTableModel::UserAgentColumn).data(Qt::ToolTipRole).toString(), s.userAgent);
    QCOMPARE(model.index(0, SessionTableModel::StateColumn).data(SessionTableModel::IdRole).toByteArray(),
             QByteArray("id-1"));
    QVERIFY(model.index(0, SessionTableModel::StateColumn).data(Qt::ForegroundRole).isValid());
    QCOMPARE(model.headerData(SessionTableModel::TransportColumn, Qt::Horizontal).toString(),
             QStringLiteral("Transport"));
    QCOMPARE(SessionTableModel::formatBytes(512), QStringLiteral("512 B"));
    QCOMPARE(SessionTableModel::formatBytes(3 * 1024 * 1024), QStringLiteral("3.0 MiB"));
}

void tst_SessionTableModel::sortAsNumbers()
{
    SessionTableModel model;
    SessionFilterModel proxy;
    proxy.setSourceModel(&model);
    QAbstractItemModelTester tester(&proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.applyChanges({session("a", QStringLiteral("/echo"), "websocket", 9),
                        session("b", QStringLiteral("/echo"), "websocket", 10),
                        session("c", QStringLiteral("/echo"), "websocket", 100)},
                       {});
    proxy.sort(SessionTableModel::MessagesInColumn, Qt::AscendingOrder);
    // As text "10" < "100" < "9"; as numbers 9 < 10 < 100.
    QCOMPARE(column(proxy, SessionTableModel::IdColumn), (QStringList{"a", "b", "c"}));
    proxy.sort(SessionTableModel::MessagesInColumn, Qt::DescendingOrder);
    QCOMPARE(column(proxy, SessionTableModel::IdColumn), (QStringList{"c", "b", "a"}));

    // A live update re-sorts (dynamic sort): a overtakes everyone.
    SessionInfo a = session("a", QStringLiteral("/echo"), "websocket", 1000);
    model.applyChanges({a}, {});
    QCOMPARE(column(proxy, SessionTableModel::IdColumn), (QStringList{"a", "c", "b"}));

    proxy.sort(SessionTableModel::OpenedAtColumn, Qt::AscendingOrder);
    QCOMPARE(column(proxy, SessionTableModel::IdColumn), (QStringList{"b", "c", "a"}));
}

void tst_SessionTableModel::naturalSortOfIds()
{
    SessionTableModel model;
    SessionFilterModel proxy;
    proxy.setSourceModel(&model);
    QAbstractItemModelTester tester(&proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.applyChanges({session("4711-10"), session("4711-9"), session("999-1"), session("4711-100")}, {});
    proxy.sort(SessionTableModel::IdColumn, Qt::AscendingOrder);
    QCOMPARE(column(proxy, SessionTableModel::IdColumn), (QStringList{"999-1", "4711-9", "4711-10", "4711-100"}));
    QCOMPARE(SessionTableModel::naturalKey(QStringLiteral("a-9"))
                 < SessionTableModel::naturalKey(QStringLiteral("a-10")),
             true);
}

// A closed session removed stays, greyed, with code, reason and who closed,
// until its time is over; one that came and went between two updates too.
void tst_SessionTableModel::closedSessionsLinger()
{
    SessionTableModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(model.closedLinger(), SessionTableModel::kDefaultClosedLingerMs);
    model.setClosedLinger(5000);
    model.applyChanges({session("a"), session("b")}, {});
    SessionInfo a = session("a");
    a.state = QStringLiteral("closed");
    a.closeCode = 3000;
    a.closeReason = QStringLiteral("Go away!");
    a.closedBy = QStringLiteral("monitor");
    a.closedAt = a.openedAt.addSecs(75);
    SessionInfo flash = session("flash", QStringLiteral("/echo"), "xhr");
    flash.state = QStringLiteral("closed");
    flash.closeCode = 1002;
    flash.closeReason = QStringLiteral("Connection interrupted");
    flash.closedBy = QStringLiteral("timeout");
    flash.closedAt = flash.openedAt.addSecs(5);
    const qint64 before = QDateTime::currentMSecsSinceEpoch();
    model.applyChanges({a, flash}, {"a", "b", "flash"}); // b: open, goes at once
    QCOMPARE(ids(model), (QList<QByteArray>{"a", "flash"}));
    checkIndex(model);
    QVERIFY(model.isLingering("a"));
    QCOMPARE(model.index(0, SessionTableModel::StateColumn).data().toString(),
             QStringLiteral("closed 3000 \"Go away!\" by monitor"));
    QCOMPARE(model.index(1, SessionTableModel::StateColumn).data().toString(),
             QStringLiteral("closed 1002 \"Connection interrupted\" by timeout"));
    QVERIFY(model.index(0, SessionTableModel::StateColumn)
                .data(Qt::ToolTipRole)
                .toString()
                .contains(QLatin1String("by monitor")));
    QCOMPARE(model.index(0, SessionTableModel::MessagesInColumn).data(Qt::ForegroundRole).value<QBrush>().color(),
             QColor(0x90, 0x90, 0x90));
    QCOMPARE(model.index(0, SessionTableModel::AgeColumn).data().toString(), QStringLiteral("1 min 15 s"));
    QCOMPARE(model.index(0, SessionTableModel::IdleColumn).data().toString(), QString());

    // Sent again as removed (a reconnecting source): nothing changes.
    model.applyChanges({}, {"a"});
    QCOMPARE(model.rowCount(), 2);

    model.tick(before + 4000);
    QCOMPARE(model.rowCount(), 2);
    model.tick(QDateTime::currentMSecsSinceEpoch() + 5001);
    QCOMPARE(model.rowCount(), 0);
    QVERIFY(!model.isLingering("a"));
    checkIndex(model);
}

void tst_SessionTableModel::ageAndIdle()
{
    QCOMPARE(SessionTableModel::formatDuration(0), QStringLiteral("0 s"));
    QCOMPARE(SessionTableModel::formatDuration(59999), QStringLiteral("59 s"));
    QCOMPARE(SessionTableModel::formatDuration(64000), QStringLiteral("1 min 04 s"));
    QCOMPARE(SessionTableModel::formatDuration(7500000), QStringLiteral("2 h 05 min"));
    SessionTableModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    SessionInfo s = session("a");
    s.openedAt = QDateTime::currentDateTimeUtc().addSecs(-3600);
    s.lastActivity = QDateTime::currentDateTimeUtc().addSecs(-120);
    SessionInfo w = session("w", QStringLiteral("/echo"), "xhr");
    w.state = QStringLiteral("waiting");
    model.applyChanges({s, w}, {});
    QVERIFY(model.index(0, SessionTableModel::AgeColumn).data().toString().startsWith(QLatin1String("1 h 00 min")));
    QVERIFY(model.index(0, SessionTableModel::IdleColumn).data().toString().startsWith(QLatin1String("2 min 0")));
    QVERIFY(model.index(0, SessionTableModel::IdleColumn).data(SessionTableModel::SortRole).toLongLong() >= 120000);
    QCOMPARE(model.index(1, SessionTableModel::StateColumn).data().toString(), QStringLiteral("waiting for poll"));
    // The clock moves them: a tick announces both columns of every row.
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    model.tick(QDateTime::currentMSecsSinceEpoch());
    QCOMPARE(changed.count(), 1);
    QCOMPARE(changed.first().at(0).toModelIndex(), model.index(0, SessionTableModel::AgeColumn));
    QCOMPARE(changed.first().at(1).toModelIndex(), model.index(1, SessionTableModel::IdleColumn));
}

void tst_SessionTableModel::filterByServiceTransportAndText()
{
    SessionTableModel model;
    SessionFilterModel proxy;
    proxy.setSourceModel(&model);
    QAbstractItemModelTester tester(&proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
    SessionInfo c = session("c", QStringLiteral("/chat"), "xhr-polling");
    c.remoteAddress = QStringLiteral("192.168.1.20");
    c.remotePort = 51000;
    c.userAgent = QStringLiteral("curl/7.88");
    model.applyChanges(
        {session("a", QStringLiteral("/echo"), "websocket"), session("b", QStringLiteral("/echo"), "xhr-streaming"), c},
        {});
    QCOMPARE(proxy.rowCount(), 3);

    proxy.setServiceFilter(QStringLiteral("/echo"));
    QCOMPARE(proxy.rowCount(), 2);
    proxy.setTransportFilter(QStringLiteral("xhr-streaming"));
    QCOMPARE(column(proxy, SessionTableModel::IdColumn), QStringList{"b"});
    proxy.setServiceFilter(QString());
    proxy.setTransportFilter(QString());
    QCOMPARE(proxy.rowCount(), 3);

    // Free text in any column, case-insensitive, address:port included.
    proxy.setTextFilter(QStringLiteral("CURL"));
    QCOMPARE(column(proxy, SessionTableModel::IdColumn), QStringList{"c"});
    proxy.setTextFilter(QStringLiteral("168.1.20:51000"));
    QCOMPARE(column(proxy, SessionTableModel::IdColumn), QStringList{"c"});
    proxy.setTextFilter(QStringLiteral("  10.0.0.5:4711 "));
    QCOMPARE(column(proxy, SessionTableModel::IdColumn), (QStringList{"a", "b"}));
    proxy.setTextFilter(QStringLiteral("no such thing"));
    QCOMPARE(proxy.rowCount(), 0);

    // All three together.
    proxy.setTextFilter(QStringLiteral("example.org"));
    proxy.setServiceFilter(QStringLiteral("/echo"));
    proxy.setTransportFilter(QStringLiteral("websocket"));
    QCOMPARE(column(proxy, SessionTableModel::IdColumn), QStringList{"a"});
}

void tst_SessionTableModel::filterFollowsUpdates()
{
    SessionTableModel model;
    SessionFilterModel proxy;
    proxy.setSourceModel(&model);
    model.setClosedLinger(0);
    QAbstractItemModelTester tester(&proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
    proxy.setTextFilter(QStringLiteral("closed"));
    model.applyChanges({session("a"), session("b")}, {});
    QCOMPARE(proxy.rowCount(), 0);
    SessionInfo b = session("b");
    b.state = QStringLiteral("closed");
    model.applyChanges({b}, {});
    QCOMPARE(column(proxy, SessionTableModel::IdColumn), QStringList{"b"});
    model.applyChanges({session("c")}, {"b"});
    QCOMPARE(proxy.rowCount(), 0);
    proxy.setTextFilter(QString());
    QCOMPARE(proxy.rowCount(), 2);
}

void tst_SessionTableModel::fiveThousandSessions()
{
    // The scale the monitor is built for: a full table updated a few times a
    // second must stay cheap (no reset, changed rows only).
    SessionTableModel model;
    SessionFilterModel proxy;
    proxy.setSourceModel(&model);
    proxy.sort(SessionTableModel::MessagesInColumn, Qt::DescendingOrder);
    QList<SessionInfo> sessions;
    for (int i = 0; i < 5000; ++i)
        sessions.append(session("s" + QByteArray::number(i), i % 2 ? QStringLiteral("/a") : QStringLiteral("/b"),
                                i % 3 ? "websocket" : "xhr-polling", quint64(i)));
    model.applyChanges(sessions, {});
    QCOMPARE(proxy.rowCount(), 5000);

    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    QSignalSpy resets(&model, &QAbstractItemModel::modelAboutToBeReset);
    QElapsedTimer timer;
    timer.start();
    for (int round = 1; round <= 4; ++round) {
        QList<SessionInfo> updates;
        for (int i = 0; i < 5000; i += 5) {
            SessionInfo s = sessions.at(i);
            s.messagesIn += quint64(round * 10);
            updates.append(s);
        }
        QList<QByteArray> gone;
        for (int i = 1; i < 100; i += 10)
            gone.append("s" + QByteArray::number(round * 1000 + i));
        model.applyChanges(updates, gone);
    }
    QCOMPARE(changed.count(), 4 * 1000);
    QCOMPARE(resets.count(), 0);
    QCOMPARE(model.rowCount(), 5000 - 40);
    QCOMPARE(proxy.rowCount(), 5000 - 40);
    checkIndex(model);
    qInfo("4 rounds of 1,000 updates + 10 removals over 5,000 rows: %lld ms", timer.elapsed());
}

QTEST_MAIN(tst_SessionTableModel)
#include "tst_sessiontablemodel.moc"
