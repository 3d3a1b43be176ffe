#include "attachdialog.h"

#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QVBoxLayout>

namespace SockJsProxy {

AttachDialog::AttachDialog(QWidget *parent)
    : QDialog(parent), m_endpoint(new QLineEdit(this)), m_token(new QLineEdit(this))
{
    setWindowTitle(tr("Attach to a running proxy"));
    m_endpoint->setObjectName(QStringLiteral("endpointEdit"));
    m_endpoint->setPlaceholderText(tr("[HOST:]PORT, e.g. 127.0.0.1:9300"));
    m_token->setObjectName(QStringLiteral("tokenEdit"));
    m_token->setEchoMode(QLineEdit::Password);
    m_token->setPlaceholderText(tr("empty if the proxy has none"));
    m_token->setText(qEnvironmentVariable("SOCKJSPROXY_CONTROL_TOKEN"));

    auto *hint = new QLabel(tr("The control endpoint of <tt>sockjsproxy-cli --control [HOST:]PORT</tt>."), this);
    hint->setWordWrap(true);

    auto *form = new QFormLayout;
    form->addRow(tr("&Endpoint:"), m_endpoint);
    form->addRow(tr("&Token:"), m_token);

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

QByteArray AttachDialog::token() const { return m_token->text().toUtf8(); }

} // namespace SockJsProxy
