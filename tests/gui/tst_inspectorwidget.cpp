// InspectorWidget's detail pane and export: a message in full (direction,
// source, frame, size), JSON pretty-printed, hex for binary data and
// control bytes; the messages shown as JSON lines.

#include "inspectorwidget.h"
#include "trafficmodel.h"

#include <QBuffer>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPlainTextEdit>
#include <QTableView>
#include <QTest>

using namespace SockJsProxy;

namespace {

TrafficEvent makeEvent(const QByteArray &data, TrafficEvent::Direction direction, TrafficEvent::Frame frame,
                       TrafficEvent::Source source)
{
    TrafficEvent e;
    e.sessionId = "s-1";
    e.direction = direction;
    e.time = QDateTime::fromMSecsSinceEpoch(1700000000123, Qt::UTC);
    e.data = data;
    e.frame = frame;
    e.source = source;
    return e;
}

} // namespace

class tst_InspectorWidget : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void prettyPrintsJson();
    void hexForBinaryAndControlBytes();
    void protocolFrames();
    void detailFollowsTheCurrentRow();
    void exportsJsonLines();
    void searches();
};

void tst_InspectorWidget::prettyPrintsJson()
{
    const QString text =
        InspectorWidget::describe(makeEvent("{\"user\":\"ann\",\"tags\":[1,2]}", TrafficEvent::Direction::In,
                                            TrafficEvent::Frame::Text, TrafficEvent::Source::Client));
    QVERIFY(text.contains(QStringLiteral("Direction: in (client \u2192 backend)")));
    QVERIFY(text.contains(QLatin1String("Source:    client\n")));
    QVERIFY(text.contains(QLatin1String("Frame:     text message")));
    QVERIFY(text.contains(QLatin1String("Size:      27 bytes\n")));
    QVERIFY(text.contains(
        QLatin1String("JSON:\n{\n    \"tags\": [\n        1,\n        2\n    ],\n    \"user\": \"ann\"\n}\n")));
    QVERIFY(!text.contains(QLatin1String("Hex:")));
}

void tst_InspectorWidget::hexForBinaryAndControlBytes()
{
    const QByteArray binary("\x00\x01\xff\xfe"
                            "ABCDEFGHIJKLMNOPQRS",
                            23);
    const QString text = InspectorWidget::describe(
        makeEvent(binary, TrafficEvent::Direction::Out, TrafficEvent::Frame::Binary, TrafficEvent::Source::Backend));
    QVERIFY(text.contains(QLatin1String("Frame:     binary message")));
    QVERIFY(text.contains(QLatin1String("Source:    backend")));
    QVERIFY(!text.contains(QLatin1String("Text:")));
    QVERIFY(text.contains(
        QLatin1String("Hex:\n00000000  00 01 ff fe 41 42 43 44  45 46 47 48 49 4a 4b 4c  |....ABCDEFGHIJKL|\n"
                      "00000010  4d 4e 4f 50 51 52 53                              |MNOPQRS|\n")));

    // Text with a control byte: the text and the hex.
    const QString bell = InspectorWidget::describe(
        makeEvent("ding\x07", TrafficEvent::Direction::Out, TrafficEvent::Frame::Text, TrafficEvent::Source::Monitor));
    QVERIFY(bell.contains(QLatin1String("Source:    monitor")));
    QVERIFY(bell.contains(QLatin1String("Text:\nding\x07")));
    QVERIFY(bell.contains(QLatin1String("00000000  64 69 6e 67 07")));

    // Long data is cut, and says so.
    QVERIFY(InspectorWidget::hexDump(QByteArray(40, 'x'), 32).endsWith(QStringLiteral("\u2026 8 more bytes\n")));
}

void tst_InspectorWidget::protocolFrames()
{
    const QString close =
        InspectorWidget::describe(makeEvent("c[3000,\"Go away!\"]", TrafficEvent::Direction::Out,
                                            TrafficEvent::Frame::Close, TrafficEvent::Source::Monitor));
    QVERIFY(close.contains(QLatin1String("Frame:     close (SockJS \"c\")")));
    QVERIFY(close.contains(QLatin1String("Text:\nc[3000,\"Go away!\"]")));
    const QString heartbeat = InspectorWidget::describe(
        makeEvent("h", TrafficEvent::Direction::Out, TrafficEvent::Frame::Heartbeat, TrafficEvent::Source::Proxy));
    QVERIFY(heartbeat.contains(QLatin1String("Frame:     heartbeat (SockJS \"h\")")));
    QVERIFY(heartbeat.contains(QLatin1String("Source:    proxy")));

    TrafficEvent cut = makeEvent(QByteArray(100, 'a'), TrafficEvent::Direction::In, TrafficEvent::Frame::Text,
                                 TrafficEvent::Source::Client);
    cut.size = 100000;
    QVERIFY(InspectorWidget::describe(cut).contains(QLatin1String("Size:      100000 bytes (the first 100 kept)")));
}

void tst_InspectorWidget::detailFollowsTheCurrentRow()
{
    InspectorWidget inspector;
    inspector.model()->append(
        {makeEvent("[1]", TrafficEvent::Direction::In, TrafficEvent::Frame::Text, TrafficEvent::Source::Client),
         makeEvent("plain", TrafficEvent::Direction::Out, TrafficEvent::Frame::Text, TrafficEvent::Source::Backend)});
    QVERIFY(inspector.detailPane()->toPlainText().isEmpty());
    inspector.view()->setCurrentIndex(inspector.model()->index(1, 0));
    QVERIFY(inspector.detailPane()->toPlainText().contains(QLatin1String("Text:\nplain")));
    inspector.view()->setCurrentIndex(inspector.model()->index(0, 0));
    QVERIFY(inspector.detailPane()->toPlainText().contains(QLatin1String("JSON:\n[\n    1\n]")));
    inspector.clear();
    QVERIFY(inspector.detailPane()->toPlainText().isEmpty());
}

void tst_InspectorWidget::exportsJsonLines()
{
    InspectorWidget inspector;
    inspector.model()->append(
        {makeEvent("hello", TrafficEvent::Direction::In, TrafficEvent::Frame::Text, TrafficEvent::Source::Client),
         makeEvent(QByteArray("\xff\x00", 2), TrafficEvent::Direction::Out, TrafficEvent::Frame::Binary,
                   TrafficEvent::Source::Backend)});
    QBuffer buffer;
    QVERIFY(buffer.open(QIODevice::WriteOnly));
    QCOMPARE(inspector.exportTo(&buffer), 2);
    const QList<QByteArray> lines = buffer.data().split('\n');
    QCOMPARE(lines.size(), 3);
    QVERIFY(lines.at(2).isEmpty());
    const QJsonObject first = QJsonDocument::fromJson(lines.at(0)).object();
    QCOMPARE(first.value(QStringLiteral("data")).toString(), QStringLiteral("hello"));
    QCOMPARE(first.value(QStringLiteral("direction")).toString(), QStringLiteral("in"));
    QCOMPARE(first.value(QStringLiteral("source")).toString(), QStringLiteral("client"));
    QCOMPARE(first.value(QStringLiteral("frame")).toString(), QStringLiteral("text"));
    const TrafficEvent second = TrafficEvent::fromJson(QJsonDocument::fromJson(lines.at(1)).object());
    QCOMPARE(second.data, QByteArray("\xff\x00", 2));
    QCOMPARE(second.frame, TrafficEvent::Frame::Binary);
    QCOMPARE(second.source, TrafficEvent::Source::Backend);
}

void tst_InspectorWidget::searches()
{
    InspectorWidget inspector;
    QVERIFY(!inspector.findNext(QStringLiteral("x"))); // nothing to search
    inspector.model()->append(
        {makeEvent("alpha", TrafficEvent::Direction::In, TrafficEvent::Frame::Text, TrafficEvent::Source::Client),
         makeEvent("Needle one", TrafficEvent::Direction::Out, TrafficEvent::Frame::Text,
                   TrafficEvent::Source::Backend),
         makeEvent("beta", TrafficEvent::Direction::In, TrafficEvent::Frame::Text, TrafficEvent::Source::Client),
         makeEvent("a needle", TrafficEvent::Direction::In, TrafficEvent::Frame::Text, TrafficEvent::Source::Client)});
    QVERIFY(inspector.findNext(QStringLiteral("needle")));
    QCOMPARE(inspector.view()->currentIndex().row(), 1);
    QVERIFY(inspector.detailPane()->toPlainText().contains(QLatin1String("Needle one")));
    QVERIFY(inspector.findNext(QStringLiteral("needle")));
    QCOMPARE(inspector.view()->currentIndex().row(), 3);
    QVERIFY(inspector.findNext(QStringLiteral("needle"))); // wraps
    QCOMPARE(inspector.view()->currentIndex().row(), 1);
    QVERIFY(!inspector.findNext(QStringLiteral("haystack")));
    QCOMPARE(inspector.view()->currentIndex().row(), 1);
}

QTEST_MAIN(tst_InspectorWidget)
#include "tst_inspectorwidget.moc"
