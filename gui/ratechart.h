#pragma once

#include "metrics/monitortypes.h"

#include <QList>
#include <QWidget>

namespace SockJsProxy {

// Messages in/out per second and open sessions over the last window() ms
// (1 min, 5 min by default, or 1 h),
// painted with QPainter: messages on the left axis, sessions on the right.
// Keeps a ring buffer of the last capacity() MonitorStats samples (one per
// statsUpdated, so 3600 = an hour at 1 Hz) and repaints only when a
// sample is added or the service changes.
//
// Truth over continuity: setStale(true) (the proxy is gone) greys the
// "now" figures to a dash and the next sample after it starts a new line,
// so an outage shows as a gap; addMarker() draws a labelled vertical line
// (a new proxy process behind the same endpoint).
class RateChart : public QWidget
{
    Q_OBJECT

public:
    static constexpr int kDefaultCapacity = 3600;
    static constexpr qint64 kWindowMs = 5 * 60 * 1000; // the default window
    static constexpr qint64 kMaxWindowMs = 60 * 60 * 1000;

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
    QString service() const { return m_service; }

    int sampleCount() const { return m_count; }
    int capacity() const { return int(m_ring.size()); }
    // Sample i, 0 = oldest.
    const MonitorStats &sample(int i) const;

    QSize sizeHint() const override { return QSize(520, 220); }
    QSize minimumSizeHint() const override { return QSize(260, 140); }

protected:
    void paintEvent(QPaintEvent *event) override;

private:
    struct Point
    {
        qint64 timeMs = 0;
        double in = 0;
        double out = 0;
        double sessions = 0;
        bool breakBefore = false; // the first sample after an outage
    };
    QList<Point> points() const;

    QList<MonitorStats> m_ring;
    QList<bool> m_breaks; // parallel to m_ring: the sample follows an outage
    QList<std::pair<qint64, QString>> m_markers;
    bool m_stale = false;
    qint64 m_windowMs = kWindowMs;
    bool m_breakNext = false;
    int m_start = 0;
    int m_count = 0;
    QString m_service;
};

} // namespace SockJsProxy
