#pragma once

#include "config/commandline.h"

#include <QDialog>

class QLabel;
class QLineEdit;

namespace SockJsProxy {

// Asks for sockjsproxy-cli flags (or a --config file) and turns them into a
// configuration with the CLI's own parser; accept() only when they are valid.
class StartProxyDialog : public QDialog
{
    Q_OBJECT

public:
    explicit StartProxyDialog(QWidget *parent = nullptr);

    void setArguments(const QString &arguments);
    QString arguments() const;
    // Valid after the dialog was accepted.
    const CommandLine::Result &result() const { return m_result; }

    // Parses flags as sockjsproxy-cli would.
    static std::optional<CommandLine::Result> parse(const QStringList &arguments, QString *error);

    void accept() override;

private:
    void chooseConfigFile();

    QLineEdit *m_arguments;
    QLabel *m_error;
    CommandLine::Result m_result;
};

} // namespace SockJsProxy
