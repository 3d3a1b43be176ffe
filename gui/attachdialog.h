#pragma once

#include <QDialog>
#include <QStringList>

class QCheckBox;
class QLineEdit;

namespace SockJsProxy {

// Asks where a running sockjsproxy-cli --control listens, and its token.
// Several endpoints (the nodes of a cluster) may be given, separated by
// spaces or commas; "Add to the nodes watched" (when something is attached)
// keeps the attached ones and watches these as well.
class AttachDialog : public QDialog
{
    Q_OBJECT

public:
    explicit AttachDialog(QWidget *parent = nullptr);

    void setEndpoint(const QString &endpoint);
    QString endpoint() const;
    QStringList endpoints() const;
    QByteArray token() const;
    void setAddNodeAvailable(bool available);
    bool addNode() const;

private:
    QLineEdit *m_endpoint;
    QLineEdit *m_token;
    QCheckBox *m_addNode;
};

} // namespace SockJsProxy
