#include "startproxydialog.h"

#include <QCommandLineParser>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QProcess>
#include <QPushButton>
#include <QVBoxLayout>

namespace SockJsProxy {

StartProxyDialog::StartProxyDialog(QWidget *parent)
    : QDialog(parent), m_arguments(new QLineEdit(this)), m_error(new QLabel(this))
{
    setWindowTitle(tr("Start a proxy in this process"));
    auto *hint = new QLabel(tr("The flags of <tt>sockjsproxy-cli</tt>, e.g. <tt>--http-port 8081 --prefix /echo "
                               "--samples samples</tt>, or <tt>--config FILE</tt>. Empty: the CLI's defaults "
                               "(HTTP 8080, 0MQ 9241/9242)."),
                            this);
    hint->setWordWrap(true);
    m_arguments->setObjectName(QStringLiteral("argumentsEdit"));
    m_arguments->setPlaceholderText(tr("--http-port 8080 --in-port 9241 --out-port 9242"));
    auto *browse = new QPushButton(tr("Config file\u2026"), this);
    connect(browse, &QPushButton::clicked, this, &StartProxyDialog::chooseConfigFile);
    m_error->setWordWrap(true);
    m_error->setStyleSheet(QStringLiteral("color: #c01c28"));
    m_error->hide();

    auto *row = new QHBoxLayout;
    row->addWidget(m_arguments, 1);
    row->addWidget(browse);

    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    buttons->button(QDialogButtonBox::Ok)->setText(tr("Start"));
    connect(buttons, &QDialogButtonBox::accepted, this, &StartProxyDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);

    auto *layout = new QVBoxLayout(this);
    layout->addWidget(hint);
    layout->addLayout(row);
    layout->addWidget(m_error);
    layout->addWidget(buttons);
    resize(560, sizeHint().height());
}

void StartProxyDialog::setArguments(const QString &arguments) { m_arguments->setText(arguments); }

QString StartProxyDialog::arguments() const { return m_arguments->text(); }

std::optional<CommandLine::Result> StartProxyDialog::parse(const QStringList &arguments, QString *error)
{
    QCommandLineParser parser;
    CommandLine::addOptions(parser);
    if (!CommandLine::parse(parser, QStringList{QStringLiteral("sockjsproxy-monitor")} + arguments, error))
        return std::nullopt;
    return CommandLine::toConfig(parser, error);
}

void StartProxyDialog::accept()
{
    QString error;
    const auto result = parse(QProcess::splitCommand(m_arguments->text()), &error);
    if (!result) {
        m_error->setText(error);
        m_error->show();
        return;
    }
    m_result = *result;
    QDialog::accept();
}

void StartProxyDialog::chooseConfigFile()
{
    const QString file = QFileDialog::getOpenFileName(this, tr("Proxy configuration"), QString(),
                                                      tr("JSON files (*.json);;All files (*)"));
    if (file.isEmpty())
        return;
    QString quoted = file;
    if (quoted.contains(QLatin1Char(' ')))
        quoted = QLatin1Char('"') + quoted + QLatin1Char('"');
    m_arguments->setText(QStringLiteral("--config ") + quoted);
}

} // namespace SockJsProxy
