#pragma once

#include <QDateTime>
#include <QLabel>

namespace SockJsProxy {

// A panel's "updated 12:03:04": when the figures it shows were last
// updated, and once the proxy is gone (setStale(true)) "proxy gone; last
// figures at 12:03:04" in red until the next setUpdated(). The text is set
// only when it changes, so a label refreshed every second does not flicker.
class UpdatedLabel : public QLabel
{
    Q_OBJECT

public:
    explicit UpdatedLabel(QWidget *parent = nullptr);

    // The figures shown are of time (an invalid time: now).
    void setUpdated(const QDateTime &time = QDateTime());
    void setStale(bool stale);
    bool isStale() const { return m_stale; }
    // Nothing shown yet (no figures).
    void clear();
    QDateTime lastUpdate() const { return m_lastUpdate; }

private:
    void showText(const QString &text, bool stale);

    QDateTime m_lastUpdate;
    bool m_stale = false;
};

} // namespace SockJsProxy
