#pragma once

#include <QDialog>

class QLineEdit;

namespace SockJsProxy {

// Asks where a running sockjsproxy-cli --control listens, and its token.
class AttachDialog : public QDialog
{
    Q_OBJECT

public:
    explicit AttachDialog(QWidget *parent = nullptr);

    void setEndpoint(const QString &endpoint);
    QString endpoint() const;
    QByteArray token() const;

private:
    QLineEdit *m_endpoint;
    QLineEdit *m_token;
};

} // namespace SockJsProxy
