#include "proxyheaderreader.h"

#include <QIODevice>

namespace SockJsProxy {

ProxyHeaderReader::Status ProxyHeaderReader::read(QIODevice *device)
{
    // The decoder asks for what it may still need (the fixed part of v2
    // first, then its length), so loop while the device holds more. Peeking
    // consumes nothing; only the header is skipped once it is known.
    while (m_status == Status::NeedMore) {
        const QByteArray peeked = device->peek(m_fed + m_decoder.bytesWanted());
        if (peeked.size() <= m_fed)
            return m_status; // wait for more
        m_decoder.feed(QByteArrayView(peeked).sliced(m_fed));
        m_fed = peeked.size();
        m_status = m_decoder.next();
        if (m_status == Status::Done)
            device->skip(m_decoder.consumed()); // once: later calls take nothing
    }
    return m_status;
}

} // namespace SockJsProxy
