#include "attachdialog.h"

#include <QCheckBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRegularExpression>
#include <QVBoxLayout>

namespace SockJsProxy {

AttachDialog::AttachDialog(QWidget *parent)
    : QDialog(parent), m_endpoint(new QLineEdit(this)), m_token(new QLineEdit(this)),
      m_addNode(new QCheckBox(tr("A&dd to the nodes watched"), this))
{
    setWindowTitle(tr("Attach to a running proxy"));
    m_endpoint->setObjectName(QStringLiteral("endpointEdit"));
    m_endpoint->setPlaceholderText(tr("[HOST:]PORT, e.g. 127.0.0.1:9300; several for a cluster"));
    m_token->setObjectName(QStringLiteral("tokenEdit"));
    m_token->setEchoMode(QLineEdit::Password);
    m_token->setPlaceholderText(tr("empty if the proxy has none"));
    m_token->setText(qEnvironmentVariable("SOCKJSPROXY_CONTROL_TOKEN"));
    m_addNode->setObjectName(QStringLiteral("addNodeCheck"));
    m_addNode->setToolTip(tr("Keep watching the attached proxies and watch these as well (the nodes of a cluster)"));
    m_addNode->setEnabled(false);

    auto *hint = new QLabel(tr("The control endpoint of <tt>sockjsproxy-cli --control [HOST:]PORT</tt>; for a "
                               "cluster, one per node, separated by spaces."),
                            this);
    hint->setWordWrap(true);

    auto *form = new QFormLayout;
    form->addRow(tr("&Endpoint:"), m_endpoint);
    form->addRow(tr("&Token:"), m_token);
    form->addRow(QString(), m_addNode);

    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    buttons->button(QDialogButtonBox::Ok)->setText(tr("Attach"));
    buttons->button(QDialogButtonBox::Ok)->setEnabled(false);
    connect(m_endpoint, &QLineEdit::textChanged, buttons, [buttons](const QString &text) {
        buttons->button(QDialogButtonBox::Ok)->setEnabled(!text.trimmed().isEmpty());
    });
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);

    auto *layout = new QVBoxLayout(this);
    layout->addWidget(hint);
    layout->addLayout(form);
    layout->addWidget(buttons);
    resize(420, sizeHint().height());
}

void AttachDialog::setEndpoint(const QString &endpoint) { m_endpoint->setText(endpoint); }

QString AttachDialog::endpoint() const { return m_endpoint->text().trimmed(); }

QStringList AttachDialog::endpoints() const
{
    static const QRegularExpression separators(QStringLiteral("[\\s,]+"));
    return m_endpoint->text().split(separators, Qt::SkipEmptyParts);
}

void AttachDialog::setAddNodeAvailable(bool available)
{
    m_addNode->setEnabled(available);
    if (!available)
        m_addNode->setChecked(false);
}

bool AttachDialog::addNode() const { return m_addNode->isEnabled() && m_addNode->isChecked(); }

QByteArray AttachDialog::token() const { return m_token->text().toUtf8(); }

} // namespace SockJsProxy
