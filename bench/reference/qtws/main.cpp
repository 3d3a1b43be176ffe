// A plain QWebSocketServer echo: the ceiling for a Qt WebSocket server,
// without SockJS framing, sessions or a backend. Used by bench/run only.
//
// Every text (binary) message goes back to its sender unchanged; the text
// message "__fanout__" is not echoed: every open connection gets one message
// "fanout" instead (the fan-out scenario).
//
// usage: sockjsproxy-bench-qtws PORT   (listens on 127.0.0.1 only)

#include <QCoreApplication>
#include <QHostAddress>
#include <QList>
#include <QSocketNotifier>
#include <QWebSocket>
#include <QWebSocketServer>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace {

int g_signalPipe[2] = {-1, -1};

extern "C" void onSignal(int)
{
    const char byte = 1;
    [[maybe_unused]] const ssize_t n = ::write(g_signalPipe[1], &byte, 1);
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    const quint16 port = quint16(argc > 1 ? std::atoi(argv[1]) : 9998);

    // SIGTERM/SIGINT: leave the event loop, so the process exits cleanly.
    if (::pipe(g_signalPipe) != 0)
        return 1;
    std::signal(SIGINT, onSignal);
    std::signal(SIGTERM, onSignal);
    QSocketNotifier signalNotifier(g_signalPipe[0], QSocketNotifier::Read);
    QObject::connect(&signalNotifier, &QSocketNotifier::activated, &app, &QCoreApplication::quit);

    QWebSocketServer server(QStringLiteral("qtws"), QWebSocketServer::NonSecureMode);
    server.setMaxPendingConnections(10000);
    QList<QWebSocket *> clients;

    QObject::connect(&server, &QWebSocketServer::newConnection, &server, [&] {
        while (QWebSocket *socket = server.nextPendingConnection()) {
            socket->setParent(&server);
            clients.append(socket);
            QObject::connect(socket, &QWebSocket::textMessageReceived, socket, [&, socket](const QString &text) {
                if (text == QLatin1String("__fanout__")) {
                    const QString message = QStringLiteral("fanout");
                    for (QWebSocket *client : std::as_const(clients))
                        client->sendTextMessage(message);
                    return;
                }
                socket->sendTextMessage(text);
            });
            QObject::connect(socket, &QWebSocket::binaryMessageReceived, socket,
                             [socket](const QByteArray &data) { socket->sendBinaryMessage(data); });
            QObject::connect(socket, &QWebSocket::disconnected, &server, [&, socket] {
                clients.removeOne(socket);
                socket->deleteLater();
            });
        }
    });

    if (!server.listen(QHostAddress::LocalHost, port)) {
        std::fprintf(stderr, "qtws: cannot listen on 127.0.0.1:%u: %s\n", unsigned(port),
                     qPrintable(server.errorString()));
        return 1;
    }
    std::printf("qtws: plain QWebSocketServer echo on ws://127.0.0.1:%u/ (Qt %s)\n", unsigned(port), qVersion());
    std::fflush(stdout);
    const int rc = app.exec();
    server.close();
    return rc;
}
