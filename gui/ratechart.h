#pragma once

#include "metrics/monitortypes.h"

#include <QDateTime>
#include <QList>
#include <QWidget>

namespace SockJsProxy {

// Messages (or, with setUnit(Unit::Bytes), bytes) in/out per second and
// open sessions over the last window() ms (1 min, 5 min by default, or 1 h),
// painted with QPainter: the rates on the left axis, sessions on the right.
// Keeps a ring buffer of the last capacity() MonitorStats samples (one per
// statsUpdated, so 3600 = an hour at 1 Hz) and repaints only when a
// sample is added or the service changes.
//
// Truth over continuity: setStale(true) (the proxy is gone) greys the
// "now" figures to a dash and the next sample after it starts a new line,
// so an outage shows as a gap; addMarker() draws a labelled vertical line
// (a new proxy process behind the same endpoint).
//
// Hovering the plot shows the figures at that time: a vertical line at the
// nearest sample and a label with its time, messages and bytes per second
// each way and open sessions (valuesAt(), hoverText()); over an outage it
// says there are no figures.
class RateChart : public QWidget
{
    Q_OBJECT

public:
    static constexpr int kDefaultCapacity = 3600;
    static constexpr qint64 kWindowMs = 5 * 60 * 1000; // the default window
    static constexpr qint64 kMaxWindowMs = 60 * 60 * 1000;

    // What the left axis counts.
    enum class Unit { Messages, Bytes };

    // The figures of the sample nearest to a time.
    struct Values
    {
        QDateTime time;   // the sample's; invalid: no sample there
        bool gap = false; // the time is in an outage (time: invalid)
        double messagesIn = 0;
        double messagesOut = 0;
        double bytesIn = 0;
        double bytesOut = 0;
        qint64 sessions = 0;
    };

    explicit RateChart(QWidget *parent = nullptr);

    void addSample(const SockJsProxy::MonitorStats &stats);
    void clear();
    // The proxy is gone (true) until the next sample.
    void setStale(bool stale);
    bool isStale() const { return m_stale; }
    // A vertical line at timeMs (ms since the epoch) with a label.
    void addMarker(qint64 timeMs, const QString &label);
    int markerCount() const { return int(m_markers.size()); }
    QString markerLabel(int i) const { return m_markers.at(i).second; }
    // Lines drawn (1 without outages; each outage starts another).
    int segmentCount() const;
    // The "now: ..." text over the plot.
    QString currentText() const;
    // Empty: all services summed.
    void setService(const QString &prefix);
    // The time shown, up to kMaxWindowMs.
    void setWindow(qint64 ms);
    qint64 window() const { return m_windowMs; }
    void setUnit(Unit unit);
    Unit unit() const { return m_unit; }

    // The sample in the window nearest to timeMs (ms since the epoch), if
    // one is within a second or two pixels of it.
    Values valuesAt(qint64 timeMs) const;
    // Where timeMs is drawn (x in widget coordinates) and back; the window
    // ends at the newest sample.
    double xForTime(qint64 timeMs) const;
    qint64 timeAtX(double x) const;
    // The hover: the mouse at x over the plot (-1: none; mouse moves and
    // leaving set it). The text is what the label over the plot says:
    // "12:03:04\nin: 42.0 msg/s, 2.6 KiB/s\nout: 41.0 msg/s, 2.6 KiB/s\n10 open
    // sessions", or without figures "12:03:04\nno figures (proxy gone)".
    void setHoverX(int x);
    bool hasHover() const { return m_hoverX >= 0; }
    Values hoverValues() const;
    QString hoverText() const;
    QString service() const { return m_service; }

    int sampleCount() const { return m_count; }
    int capacity() const { return int(m_ring.size()); }
    // Sample i, 0 = oldest.
    const MonitorStats &sample(int i) const;

    QSize sizeHint() const override { return QSize(520, 220); }
    QSize minimumSizeHint() const override { return QSize(260, 140); }

protected:
    void paintEvent(QPaintEvent *event) override;
    void mouseMoveEvent(QMouseEvent *event) override;
    void leaveEvent(QEvent *event) override;

private:
    struct Point
    {
        qint64 timeMs = 0;
        double in = 0;
        double out = 0;
        double bytesIn = 0;
        double bytesOut = 0;
        double sessions = 0;
        bool breakBefore = false; // the first sample after an outage
    };
    // Where things go for the samples in the window.
    struct Layout
    {
        QRect plot;
        qint64 startMs = 0;
        qint64 endMs = 0;
        double rateMax = 4;
        int rateTicks = 4;
        double rateScale = 1; // bytes: 1, 1024 or 1024 * 1024
        double sessionMax = 4;
        int sessionTicks = 4;
        int leftWidth = 0;
        int rightWidth = 0;
    };
    QList<Point> points() const;
    // Those of points() in the window, and the layout for them.
    QList<Point> windowPoints() const;
    Layout layout(const QList<Point> &data) const;
    double rateIn(const Point &p) const { return m_unit == Unit::Bytes ? p.bytesIn : p.in; }
    double rateOut(const Point &p) const { return m_unit == Unit::Bytes ? p.bytesOut : p.out; }
    QString axisLabel(double value, const Layout &layout) const;
    qint64 timeAtX(double x, const Layout &layout) const;

    QList<MonitorStats> m_ring;
    QList<bool> m_breaks; // parallel to m_ring: the sample follows an outage
    QList<std::pair<qint64, QString>> m_markers;
    bool m_stale = false;
    qint64 m_windowMs = kWindowMs;
    Unit m_unit = Unit::Messages;
    int m_hoverX = -1;
    bool m_breakNext = false;
    int m_start = 0;
    int m_count = 0;
    QString m_service;
};

} // namespace SockJsProxy
