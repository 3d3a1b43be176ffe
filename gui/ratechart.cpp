#include "ratechart.h"

#include "sessiontablemodel.h"

#include <QFontMetrics>
#include <QMouseEvent>
#include <QPainter>
#include <QPainterPath>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace SockJsProxy {

namespace {

// A "nice" axis maximum (1, 2, 2.5, 5 x 10^n) at or above value, with ticks.
double niceMax(double value, int *ticks)
{
    if (value <= 0) {
        *ticks = 4;
        return 4;
    }
    const double magnitude = std::pow(10.0, std::floor(std::log10(value)));
    for (const double step : {1.0, 2.0, 2.5, 5.0, 10.0}) {
        if (value <= step * magnitude) {
            const double max = step * magnitude;
            *ticks = (step == 2.5 || step == 5.0) ? 5 : 4;
            return max;
        }
    }
    *ticks = 4;
    return 10 * magnitude;
}

QString axisNumber(double value)
{
    if (value >= 1e6)
        return QStringLiteral("%1M").arg(value / 1e6, 0, 'g', 3);
    if (value >= 1e4)
        return QStringLiteral("%1k").arg(value / 1e3, 0, 'g', 3);
    if (value == std::floor(value))
        return QString::number(qint64(value));
    return QString::number(value, 'g', 3);
}

// A rate of bytes as the session table shows sizes: "2.6 KiB/s".
QString bytesPerSecond(double value)
{
    return SessionTableModel::formatBytes(quint64(std::llround(value))) + QStringLiteral("/s");
}

const QColor kInColor(0x1f, 0x6f, 0xd0);
const QColor kOutColor(0xe0, 0x7a, 0x10);
const QColor kSessionsColor(0x2a, 0x9d, 0x4a);

} // namespace

RateChart::RateChart(QWidget *parent) : QWidget(parent)
{
    m_ring.resize(kDefaultCapacity);
    m_breaks.resize(kDefaultCapacity);
    setAttribute(Qt::WA_OpaquePaintEvent);
    setMouseTracking(true);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
}

void RateChart::addSample(const MonitorStats &stats)
{
    const int capacity = int(m_ring.size());
    int slot = m_start;
    if (m_count < capacity) {
        slot = (m_start + m_count) % capacity;
        ++m_count;
    } else {
        m_start = (m_start + 1) % capacity;
    }
    m_ring[slot] = stats;
    m_breaks[slot] = std::exchange(m_breakNext, false);
    m_stale = false;
    // Markers older than the oldest sample are of no use any more.
    const qint64 oldestMs = sample(0).time.toMSecsSinceEpoch();
    while (!m_markers.isEmpty() && m_markers.first().first < oldestMs - kMaxWindowMs)
        m_markers.removeFirst();
    update();
}

void RateChart::setWindow(qint64 ms)
{
    ms = qBound<qint64>(10000, ms, kMaxWindowMs);
    if (ms == m_windowMs)
        return;
    m_windowMs = ms;
    update();
}

void RateChart::setUnit(Unit unit)
{
    if (unit == m_unit)
        return;
    m_unit = unit;
    update();
}

void RateChart::setStale(bool stale)
{
    if (stale == m_stale)
        return;
    m_stale = stale;
    if (stale && m_count > 0)
        m_breakNext = true;
    update();
}

void RateChart::addMarker(qint64 timeMs, const QString &label)
{
    m_markers.append({timeMs, label});
    update();
}

int RateChart::segmentCount() const
{
    int segments = 0;
    for (int i = 0; i < m_count; ++i) {
        if (i == 0 || m_breaks.at((m_start + i) % int(m_ring.size())))
            ++segments;
    }
    return segments;
}

QString RateChart::currentText() const
{
    if (m_stale || m_count == 0)
        return tr("now: \u2014 (no figures: the proxy is gone)");
    const Point last = points().last();
    if (m_unit == Unit::Bytes)
        return tr("now: %1 in, %2 out, %3 open")
            .arg(bytesPerSecond(last.bytesIn), bytesPerSecond(last.bytesOut))
            .arg(qint64(last.sessions));
    return tr("now: %1 in/s, %2 out/s, %3 open")
        .arg(last.in, 0, 'f', last.in < 10 ? 1 : 0)
        .arg(last.out, 0, 'f', last.out < 10 ? 1 : 0)
        .arg(qint64(last.sessions));
}

void RateChart::clear()
{
    for (MonitorStats &stats : m_ring)
        stats = MonitorStats();
    m_breaks.fill(false);
    m_markers.clear();
    m_stale = false;
    m_breakNext = false;
    m_start = 0;
    m_count = 0;
    m_hoverX = -1;
    update();
}

void RateChart::setService(const QString &prefix)
{
    if (prefix == m_service)
        return;
    m_service = prefix;
    update();
}

const MonitorStats &RateChart::sample(int i) const { return m_ring.at((m_start + i) % int(m_ring.size())); }

QList<RateChart::Point> RateChart::points() const
{
    QList<Point> result;
    result.reserve(m_count);
    for (int i = 0; i < m_count; ++i) {
        const MonitorStats &stats = sample(i);
        Point point;
        point.timeMs = stats.time.toMSecsSinceEpoch();
        point.breakBefore = m_breaks.at((m_start + i) % int(m_ring.size()));
        if (m_service.isEmpty()) {
            point.in = stats.rates.messagesIn;
            point.out = stats.rates.messagesOut;
            point.bytesIn = stats.rates.bytesIn;
            point.bytesOut = stats.rates.bytesOut;
            point.sessions = double(stats.sessionsOpen);
        } else {
            for (const ServiceStats &service : stats.services) {
                if (service.prefix == m_service) {
                    point.in = service.rates.messagesIn;
                    point.out = service.rates.messagesOut;
                    point.bytesIn = service.rates.bytesIn;
                    point.bytesOut = service.rates.bytesOut;
                    point.sessions = double(service.sessionsOpen);
                    break;
                }
            }
        }
        result.append(point);
    }
    return result;
}

QList<RateChart::Point> RateChart::windowPoints() const
{
    QList<Point> data = points();
    if (!data.isEmpty()) {
        const qint64 firstMs = data.last().timeMs - m_windowMs;
        qsizetype first = 0;
        while (first < data.size() && data.at(first).timeMs < firstMs)
            ++first;
        data.remove(0, first);
    }
    return data;
}

RateChart::Layout RateChart::layout(const QList<Point> &data) const
{
    Layout result;
    // Only what is in the window counts for the scales.
    double maxRate = 0;
    double maxSessions = 0;
    for (const Point &p : data) {
        maxRate = qMax(maxRate, qMax(rateIn(p), rateOut(p)));
        maxSessions = qMax(maxSessions, p.sessions);
    }
    if (m_unit == Unit::Bytes) {
        // Ticks at round numbers of the unit the labels show (B, KiB, MiB).
        result.rateScale = maxRate >= 1024.0 * 1024.0 ? 1024.0 * 1024.0 : maxRate >= 1024.0 ? 1024.0 : 1.0;
        result.rateMax = niceMax(maxRate / result.rateScale, &result.rateTicks) * result.rateScale;
    } else {
        result.rateMax = niceMax(maxRate, &result.rateTicks);
    }
    result.sessionMax = niceMax(maxSessions, &result.sessionTicks);

    // Plot area: room for the left and right axis labels, the legend on top
    // and the time labels below.
    const QFontMetrics metrics(font());
    const int lineHeight = metrics.height();
    for (int i = 0; i <= result.rateTicks; ++i)
        result.leftWidth =
            qMax(result.leftWidth, metrics.horizontalAdvance(axisLabel(result.rateMax * i / result.rateTicks, result)));
    result.leftWidth += 12;
    result.rightWidth = metrics.horizontalAdvance(axisNumber(result.sessionMax)) + 12;
    result.plot =
        rect().adjusted(result.leftWidth + 6, lineHeight * 2 + 4, -(result.rightWidth + 6), -(lineHeight + 8));
    result.endMs = data.isEmpty() ? 0 : data.last().timeMs;
    result.startMs = result.endMs - m_windowMs;
    return result;
}

QString RateChart::axisLabel(double value, const Layout &layout) const
{
    if (m_unit == Unit::Messages)
        return axisNumber(value);
    if (value == 0)
        return QStringLiteral("0");
    const QString unit = layout.rateScale > 1024.0 ? QStringLiteral("MiB")
                         : layout.rateScale > 1.0  ? QStringLiteral("KiB")
                                                   : QStringLiteral("B");
    return axisNumber(value / layout.rateScale) + QLatin1Char(' ') + unit;
}

double RateChart::xForTime(qint64 timeMs) const
{
    const Layout l = layout(windowPoints());
    return l.plot.left() + double(l.plot.width()) * double(timeMs - l.startMs) / double(m_windowMs);
}

qint64 RateChart::timeAtX(double x, const Layout &layout) const
{
    return layout.startMs
           + qint64(std::llround((x - layout.plot.left()) * double(m_windowMs) / qMax(1, layout.plot.width())));
}

qint64 RateChart::timeAtX(double x) const { return timeAtX(x, layout(windowPoints())); }

RateChart::Values RateChart::valuesAt(qint64 timeMs) const
{
    Values values;
    const QList<Point> data = windowPoints();
    if (data.isEmpty())
        return values;
    // Near enough: a second, or two pixels of the plot (an hour on a few
    // hundred pixels puts several seconds in one).
    const Layout l = layout(data);
    const qint64 tolerance = qMax<qint64>(1000, 2 * m_windowMs / qMax(1, l.plot.width()));
    // The first sample at or after timeMs.
    const auto after =
        std::lower_bound(data.cbegin(), data.cend(), timeMs, [](const Point &p, qint64 t) { return p.timeMs < t; });
    const Point *next = after == data.cend() ? nullptr : &*after;
    const Point *previous = after == data.cbegin() ? nullptr : &*(after - 1);
    const qint64 toNext = next ? next->timeMs - timeMs : std::numeric_limits<qint64>::max();
    const qint64 toPrevious = previous ? timeMs - previous->timeMs : std::numeric_limits<qint64>::max();
    // Between the last sample before an outage and the first after it.
    if (next && previous && next->breakBefore && toNext > tolerance && toPrevious > tolerance) {
        values.gap = true;
        return values;
    }
    const Point *nearest = toNext < toPrevious ? next : previous;
    if (qMin(toNext, toPrevious) > tolerance)
        return values;
    values.time = QDateTime::fromMSecsSinceEpoch(nearest->timeMs);
    values.messagesIn = nearest->in;
    values.messagesOut = nearest->out;
    values.bytesIn = nearest->bytesIn;
    values.bytesOut = nearest->bytesOut;
    values.sessions = qint64(nearest->sessions);
    return values;
}

void RateChart::setHoverX(int x)
{
    if (x == m_hoverX)
        return;
    m_hoverX = x;
    update();
}

RateChart::Values RateChart::hoverValues() const
{
    if (m_hoverX < 0)
        return Values();
    return valuesAt(timeAtX(m_hoverX));
}

QString RateChart::hoverText() const
{
    if (m_hoverX < 0 || m_count == 0)
        return QString();
    const Values values = hoverValues();
    if (!values.time.isValid()) {
        const QString time =
            QDateTime::fromMSecsSinceEpoch(timeAtX(m_hoverX)).toLocalTime().toString(QStringLiteral("HH:mm:ss"));
        return values.gap ? tr("%1\nno figures (proxy gone)").arg(time) : tr("%1\nno figures").arg(time);
    }
    return tr("%1\nin: %2 msg/s, %3\nout: %4 msg/s, %5\n%6 open sessions")
        .arg(values.time.toLocalTime().toString(QStringLiteral("HH:mm:ss")))
        .arg(values.messagesIn, 0, 'f', 1)
        .arg(bytesPerSecond(values.bytesIn))
        .arg(values.messagesOut, 0, 'f', 1)
        .arg(bytesPerSecond(values.bytesOut))
        .arg(values.sessions);
}

void RateChart::mouseMoveEvent(QMouseEvent *event)
{
    const Layout l = layout(windowPoints());
    const int x = qRound(event->position().x());
    setHoverX(x >= l.plot.left() && x <= l.plot.right() && event->position().y() >= l.plot.top()
                      && event->position().y() <= l.plot.bottom()
                  ? x
                  : -1);
    QWidget::mouseMoveEvent(event);
}

void RateChart::leaveEvent(QEvent *event)
{
    setHoverX(-1);
    QWidget::leaveEvent(event);
}

void RateChart::paintEvent(QPaintEvent *)
{
    QPainter painter(this);
    painter.fillRect(rect(), palette().base());
    painter.setRenderHint(QPainter::Antialiasing, true);

    const QFontMetrics metrics(font());
    const int lineHeight = metrics.height();
    const QList<Point> data = windowPoints();
    const Layout l = layout(data);
    const QRect &plot = l.plot;
    if (plot.width() < 20 || plot.height() < 20)
        return;

    // Legend.
    struct LegendItem
    {
        QString text;
        QColor color;
        bool dashed;
    };
    const bool bytes = m_unit == Unit::Bytes;
    const QList<LegendItem> legend{{bytes ? tr("bytes in/s") : tr("messages in/s"), kInColor, false},
                                   {bytes ? tr("bytes out/s") : tr("messages out/s"), kOutColor, false},
                                   {tr("open sessions (right axis)"), kSessionsColor, true}};
    int x = plot.left();
    const int legendY = 4 + lineHeight / 2;
    for (const LegendItem &item : legend) {
        QPen pen(item.color, 2.5);
        if (item.dashed)
            pen.setStyle(Qt::DashLine);
        painter.setPen(pen);
        painter.drawLine(x, legendY, x + 18, legendY);
        painter.setPen(palette().text().color());
        painter.drawText(x + 24, 4 + metrics.ascent(), item.text);
        x += 24 + metrics.horizontalAdvance(item.text) + 18;
    }
    const QString title = m_service.isEmpty() ? tr("all services") : m_service;
    painter.setPen(palette().placeholderText().color());
    painter.drawText(QRect(plot.left(), 4 + lineHeight, plot.width(), lineHeight), Qt::AlignRight | Qt::AlignVCenter,
                     title);

    // Grid and axes.
    const QColor gridColor = palette().mid().color();
    for (int i = 0; i <= l.rateTicks; ++i) {
        const int y = plot.bottom() - int(std::round(double(plot.height()) * i / l.rateTicks));
        painter.setPen(QPen(gridColor, 1, i == 0 ? Qt::SolidLine : Qt::DotLine));
        painter.drawLine(plot.left(), y, plot.right(), y);
        painter.setPen(kInColor.darker(120));
        painter.drawText(QRect(0, y - lineHeight / 2, l.leftWidth, lineHeight), Qt::AlignRight | Qt::AlignVCenter,
                         axisLabel(l.rateMax * i / l.rateTicks, l));
    }
    painter.setPen(kSessionsColor.darker(120));
    for (int i = 0; i <= l.sessionTicks; ++i) {
        const int y = plot.bottom() - int(std::round(double(plot.height()) * i / l.sessionTicks));
        painter.drawText(QRect(plot.right() + 6, y - lineHeight / 2, l.rightWidth, lineHeight),
                         Qt::AlignLeft | Qt::AlignVCenter, axisNumber(l.sessionMax * i / l.sessionTicks));
    }
    painter.setPen(QPen(gridColor, 1));
    painter.drawLine(plot.bottomLeft(), plot.topLeft());
    painter.drawLine(plot.bottomRight(), plot.topRight());

    // Time axis: the newest sample is "now", the left edge a window before.
    const qint64 startMs = l.startMs;
    painter.setPen(palette().text().color());
    for (int minute = 5; minute >= 0; --minute) {
        const int xPos = plot.left() + int(double(plot.width()) * (5 - minute) / 5.0);
        const qint64 agoMs = m_windowMs * minute / 5;
        const QString label = minute == 0            ? tr("now")
                              : m_windowMs <= 120000 ? tr("-%1 s").arg(agoMs / 1000)
                                                     : tr("-%1 min").arg(agoMs / 60000);
        const int width = metrics.horizontalAdvance(label);
        const int left = qBound(0, xPos - width / 2, this->width() - width);
        painter.drawText(left, plot.bottom() + 4 + metrics.ascent(), label);
        if (minute != 0 && minute != 5) {
            painter.setPen(QPen(gridColor, 1, Qt::DotLine));
            painter.drawLine(xPos, plot.top(), xPos, plot.bottom());
            painter.setPen(palette().text().color());
        }
    }

    if (data.isEmpty()) {
        painter.setPen(palette().placeholderText().color());
        painter.drawText(plot, Qt::AlignCenter, tr("waiting for statistics\u2026"));
        return;
    }

    auto xFor = [&](qint64 timeMs) {
        return plot.left() + double(plot.width()) * double(timeMs - startMs) / double(m_windowMs);
    };
    auto yFor = [&](double value, double max) {
        return plot.bottom() - double(plot.height()) * qMin(value, max) / max;
    };
    // One path per stretch without an outage: a gap is never bridged.
    auto series = [&](auto value, double max) {
        QList<QPainterPath> paths;
        for (const Point &p : data) {
            const QPointF point(xFor(p.timeMs), yFor(value(p), max));
            if (paths.isEmpty() || p.breakBefore) {
                paths.append(QPainterPath());
                paths.last().moveTo(point);
            } else {
                paths.last().lineTo(point);
            }
        }
        return paths;
    };

    painter.save();
    painter.setClipRect(plot.adjusted(0, -2, 1, 2));
    painter.setBrush(Qt::NoBrush);
    QPen sessionsPen(kSessionsColor, 2, Qt::DashLine);
    painter.setPen(sessionsPen);
    for (const QPainterPath &path : series([](const Point &p) { return p.sessions; }, l.sessionMax))
        painter.drawPath(path);
    // In as a light area under its line, so out (often the same: echo
    // backends) still shows on top of it.
    const QList<QPainterPath> inPaths = series([this](const Point &p) { return rateIn(p); }, l.rateMax);
    for (const QPainterPath &inPath : inPaths) {
        QPainterPath area = inPath;
        area.lineTo(inPath.currentPosition().x(), plot.bottom());
        area.lineTo(inPath.elementAt(0).x, plot.bottom());
        area.closeSubpath();
        QColor fill = kInColor;
        fill.setAlpha(50);
        painter.fillPath(area, fill);
        painter.setPen(QPen(kInColor, 2.5));
        painter.drawPath(inPath);
    }
    painter.setPen(QPen(kOutColor, 1.8));
    for (const QPainterPath &path : series([this](const Point &p) { return rateOut(p); }, l.rateMax))
        painter.drawPath(path);
    // New processes behind the endpoint.
    for (const auto &[timeMs, label] : std::as_const(m_markers)) {
        if (timeMs < startMs)
            continue;
        const double xPos = xFor(timeMs);
        painter.setPen(QPen(palette().text().color(), 1, Qt::DashDotLine));
        painter.drawLine(QPointF(xPos, plot.top()), QPointF(xPos, plot.bottom()));
        painter.drawText(QPointF(xPos + 3, plot.top() + metrics.ascent()), label);
    }
    painter.restore();

    // Current values, top left over the plot; grey once the proxy is gone.
    const QString current = currentText();
    painter.setPen(m_stale ? palette().placeholderText().color() : palette().text().color());
    painter.drawText(QRect(plot.left(), 4 + lineHeight, plot.width(), lineHeight), Qt::AlignLeft | Qt::AlignVCenter,
                     current);

    // The hover: a line at the sample under the mouse, dots on its values
    // and a label beside it (on the side with room).
    if (m_hoverX < 0)
        return;
    const Values values = valuesAt(timeAtX(m_hoverX, l));
    const double lineX = values.time.isValid() ? xFor(values.time.toMSecsSinceEpoch()) : double(m_hoverX);
    painter.setPen(QPen(palette().text().color(), 1));
    painter.drawLine(QPointF(lineX, plot.top()), QPointF(lineX, plot.bottom()));
    if (values.time.isValid()) {
        const struct
        {
            double value;
            double max;
            QColor color;
        } dots[] = {{bytes ? values.bytesIn : values.messagesIn, l.rateMax, kInColor},
                    {bytes ? values.bytesOut : values.messagesOut, l.rateMax, kOutColor},
                    {double(values.sessions), l.sessionMax, kSessionsColor}};
        painter.setPen(QPen(palette().base().color(), 1));
        for (const auto &dot : dots) {
            painter.setBrush(dot.color);
            painter.drawEllipse(QPointF(lineX, yFor(dot.value, dot.max)), 3.5, 3.5);
        }
    }
    const QStringList lines = hoverText().split(QLatin1Char('\n'));
    int textWidth = 0;
    for (const QString &line : lines)
        textWidth = qMax(textWidth, metrics.horizontalAdvance(line));
    QRect box(0, plot.top() + 4, textWidth + 12, int(lines.size()) * lineHeight + 8);
    box.moveLeft(lineX + 8 + box.width() <= plot.right() ? int(lineX) + 8 : int(lineX) - 8 - box.width());
    QColor boxColor = palette().toolTipBase().color();
    boxColor.setAlpha(235);
    painter.setPen(QPen(palette().mid().color(), 1));
    painter.setBrush(boxColor);
    painter.drawRoundedRect(box, 3, 3);
    painter.setPen(palette().toolTipText().color());
    for (int i = 0; i < lines.size(); ++i) {
        QFont font = painter.font();
        font.setBold(i == 0);
        painter.setFont(font);
        painter.drawText(box.left() + 6, box.top() + 4 + i * lineHeight + metrics.ascent(), lines.at(i));
    }
}

} // namespace SockJsProxy
