#include "updatedlabel.h"

namespace SockJsProxy {

UpdatedLabel::UpdatedLabel(QWidget *parent) : QLabel(parent)
{
    setObjectName(QStringLiteral("updatedLabel"));
    setTextFormat(Qt::PlainText);
}

void UpdatedLabel::setUpdated(const QDateTime &time)
{
    m_lastUpdate = time.isValid() ? time.toLocalTime() : QDateTime::currentDateTime();
    m_stale = false;
    showText(tr("updated %1").arg(m_lastUpdate.toString(QStringLiteral("HH:mm:ss"))), false);
}

void UpdatedLabel::setStale(bool stale)
{
    if (stale == m_stale)
        return;
    m_stale = stale;
    if (!stale)
        return; // the next setUpdated() says when
    showText(m_lastUpdate.isValid()
                 ? tr("proxy gone; last figures at %1").arg(m_lastUpdate.toString(QStringLiteral("HH:mm:ss")))
                 : tr("proxy gone"),
             true);
}

void UpdatedLabel::clear()
{
    m_lastUpdate = QDateTime();
    m_stale = false;
    showText(QString(), false);
}

void UpdatedLabel::showText(const QString &text, bool stale)
{
    if (text != QLabel::text())
        setText(text);
    const QString style = stale ? QStringLiteral("color: #c01c28") : QString();
    if (styleSheet() != style)
        setStyleSheet(style);
}

} // namespace SockJsProxy
