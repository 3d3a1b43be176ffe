#include "ratechart.h"

#include <QFontMetrics>
#include <QPainter>
#include <QPainterPath>

#include <cmath>
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

const QColor kInColor(0x1f, 0x6f, 0xd0);
const QColor kOutColor(0xe0, 0x7a, 0x10);
const QColor kSessionsColor(0x2a, 0x9d, 0x4a);

} // namespace

RateChart::RateChart(QWidget *parent) : QWidget(parent)
{
    m_ring.resize(kDefaultCapacity);
    m_breaks.resize(kDefaultCapacity);
    setAttribute(Qt::WA_OpaquePaintEvent);
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
    // Only what is in the window counts, for the scales as well.
    QList<Point> data = points();
    if (!data.isEmpty()) {
        const qint64 firstMs = data.last().timeMs - m_windowMs;
        qsizetype first = 0;
        while (first < data.size() && data.at(first).timeMs < firstMs)
            ++first;
        data.remove(0, first);
    }
    const Point &last = data.last();
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
            point.sessions = double(stats.sessionsOpen);
        } else {
            for (const ServiceStats &service : stats.services) {
                if (service.prefix == m_service) {
                    point.in = service.rates.messagesIn;
                    point.out = service.rates.messagesOut;
                    point.sessions = double(service.sessionsOpen);
                    break;
                }
            }
        }
        result.append(point);
    }
    return result;
}

void RateChart::paintEvent(QPaintEvent *)
{
    QPainter painter(this);
    painter.fillRect(rect(), palette().base());
    painter.setRenderHint(QPainter::Antialiasing, true);

    const QFontMetrics metrics(font());
    const int lineHeight = metrics.height();
    const QList<Point> data = points();

    double maxRate = 0;
    double maxSessions = 0;
    for (const Point &p : data) {
        maxRate = qMax(maxRate, qMax(p.in, p.out));
        maxSessions = qMax(maxSessions, p.sessions);
    }
    int rateTicks = 4;
    int sessionTicks = 4;
    const double rateMax = niceMax(maxRate, &rateTicks);
    const double sessionMax = niceMax(maxSessions, &sessionTicks);

    // Plot area: room for the left and right axis labels, the legend on top
    // and the time labels below.
    const int leftWidth = metrics.horizontalAdvance(axisNumber(rateMax)) + 12;
    const int rightWidth = metrics.horizontalAdvance(axisNumber(sessionMax)) + 12;
    const QRect plot = rect().adjusted(leftWidth + 6, lineHeight * 2 + 4, -(rightWidth + 6), -(lineHeight + 8));
    if (plot.width() < 20 || plot.height() < 20)
        return;

    // Legend.
    struct LegendItem
    {
        QString text;
        QColor color;
        bool dashed;
    };
    const QList<LegendItem> legend{{tr("messages in/s"), kInColor, false},
                                   {tr("messages out/s"), kOutColor, false},
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
    for (int i = 0; i <= rateTicks; ++i) {
        const int y = plot.bottom() - int(std::round(double(plot.height()) * i / rateTicks));
        painter.setPen(QPen(gridColor, 1, i == 0 ? Qt::SolidLine : Qt::DotLine));
        painter.drawLine(plot.left(), y, plot.right(), y);
        painter.setPen(kInColor.darker(120));
        painter.drawText(QRect(0, y - lineHeight / 2, leftWidth, lineHeight), Qt::AlignRight | Qt::AlignVCenter,
                         axisNumber(rateMax * i / rateTicks));
    }
    painter.setPen(kSessionsColor.darker(120));
    for (int i = 0; i <= sessionTicks; ++i) {
        const int y = plot.bottom() - int(std::round(double(plot.height()) * i / sessionTicks));
        painter.drawText(QRect(plot.right() + 6, y - lineHeight / 2, rightWidth, lineHeight),
                         Qt::AlignLeft | Qt::AlignVCenter, axisNumber(sessionMax * i / sessionTicks));
    }
    painter.setPen(QPen(gridColor, 1));
    painter.drawLine(plot.bottomLeft(), plot.topLeft());
    painter.drawLine(plot.bottomRight(), plot.topRight());

    // Time axis: the newest sample is "now", the left edge five minutes before.
    const qint64 endMs = data.isEmpty() ? 0 : data.last().timeMs;
    const qint64 startMs = endMs - m_windowMs;
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
    // One path per stretch without an outage: a gap is never bridged.
    auto series = [&](auto value, double max) {
        QList<QPainterPath> paths;
        for (const Point &p : data) {
            if (p.timeMs < startMs)
                continue;
            const double y = plot.bottom() - double(plot.height()) * qMin(value(p), max) / max;
            const QPointF point(xFor(p.timeMs), y);
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
    for (const QPainterPath &path : series([](const Point &p) { return p.sessions; }, sessionMax))
        painter.drawPath(path);
    // In as a light area under its line, so out (often the same: echo
    // backends) still shows on top of it.
    const QList<QPainterPath> inPaths = series([](const Point &p) { return p.in; }, rateMax);
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
    for (const QPainterPath &path : series([](const Point &p) { return p.out; }, rateMax))
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

    // Current values, bottom left inside the plot; grey once the proxy is gone.
    const QString current = currentText();
    painter.setPen(m_stale ? palette().placeholderText().color() : palette().text().color());
    painter.drawText(QRect(plot.left(), 4 + lineHeight, plot.width(), lineHeight), Qt::AlignLeft | Qt::AlignVCenter,
                     current);
}

} // namespace SockJsProxy
