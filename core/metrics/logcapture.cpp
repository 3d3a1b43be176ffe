#include "logcapture.h"

#include <QCoreApplication>
#include <QMetaObject>

#include <atomic>

namespace SockJsProxy {

namespace {
QtMessageHandler g_previous = nullptr;
std::atomic<LogCapture *> g_instance{nullptr};

QString levelName(QtMsgType type)
{
    switch (type) {
    case QtDebugMsg:
        return QStringLiteral("debug");
    case QtInfoMsg:
        return QStringLiteral("info");
    case QtWarningMsg:
        return QStringLiteral("warning");
    case QtCriticalMsg:
        return QStringLiteral("critical");
    case QtFatalMsg:
        return QStringLiteral("fatal");
    }
    return QStringLiteral("info");
}

void handler(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    if (g_previous)
        g_previous(type, context, message);
    LogCapture *capture = g_instance.load();
    if (!capture)
        return;
    const QString category = QString::fromLatin1(context.category ? context.category : "default");
    // Queued: a log line may come from inside a slot of the object listening.
    QMetaObject::invokeMethod(capture, "deliver", Qt::QueuedConnection, Q_ARG(QString, levelName(type)),
                              Q_ARG(QString, category), Q_ARG(QString, message),
                              Q_ARG(QDateTime, QDateTime::currentDateTime()));
}
} // namespace

LogCapture::LogCapture()
{
    g_instance = this;
    g_previous = qInstallMessageHandler(handler);
}

LogCapture *LogCapture::instance()
{
    static LogCapture *capture = new LogCapture; // lives as long as the process
    return capture;
}

void LogCapture::deliver(const QString &level, const QString &category, const QString &text, const QDateTime &time)
{
    // Kept and then emitted in one go: a listener that reads history() and
    // then listens misses no line and sees none twice.
    if (level != QLatin1String("debug")) {
        LogLine line{time, level, category, text};
        if (m_history.size() < kHistoryLines) {
            m_history.append(std::move(line));
        } else {
            m_history[m_next] = std::move(line);
            m_next = (m_next + 1) % kHistoryLines;
        }
    }
    Q_EMIT messageLogged(level, category, text, time);
}

QList<LogLine> LogCapture::history() const
{
    if (m_history.size() < kHistoryLines)
        return m_history;
    return m_history.mid(m_next) + m_history.first(m_next);
}

} // namespace SockJsProxy
