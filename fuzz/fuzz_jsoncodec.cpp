// libFuzzer target: JsonCodec on arbitrary bytes.
//
// - decodeMessages: only Ok gives messages; every message is valid UTF-8 and
//   survives quoted() -> decode unchanged, alone and all together.
// - appendQuoted/quoted of the raw input: returns false exactly when the
//   input is not valid UTF-8; the output is valid UTF-8 JSON (Qt's own parser
//   agrees) that decodes to the input, or to its U+FFFD-repaired form;
//   nothing SockJS wants escaped appears verbatim; EscapeHtml leaves no '<'
//   or '>'.

#include "sockjs/jsoncodec.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>
#include <QString>

#include <cstddef>
#include <cstdint>

namespace JsonCodec = SockJsProxy::JsonCodec;

namespace {

#define FUZZ_CHECK(condition)                                                                                          \
    do {                                                                                                               \
        if (!(condition))                                                                                              \
            __builtin_trap();                                                                                          \
    } while (false)

bool isJsonWhitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// What the encoder must never leave verbatim: control characters and the
// UTF-8 forms of U+200C-200F, U+2028-202F, U+2060-206F, U+FFF0-FFFF. The
// U+FFFD that replaces invalid UTF-8 is written raw (by design, see the
// tst_JsonCodec rows); a U+FFFD of the input is escaped.
bool hasUnescaped(const QByteArray &json, bool allowReplacement)
{
    const auto *p = reinterpret_cast<const uchar *>(json.constData());
    const qsizetype n = json.size();
    for (qsizetype i = 0; i < n; ++i) {
        if (p[i] < 0x20)
            return true;
        if (i + 2 >= n)
            continue;
        if (p[i] == 0xE2 && p[i + 1] == 0x80
            && ((p[i + 2] >= 0x8C && p[i + 2] <= 0x8F) || (p[i + 2] >= 0xA8 && p[i + 2] <= 0xAF)))
            return true;
        if (p[i] == 0xE2 && p[i + 1] == 0x81 && p[i + 2] >= 0xA0 && p[i + 2] <= 0xAF)
            return true;
        if (p[i] == 0xEF && p[i + 1] == 0xBF && p[i + 2] >= 0xB0 && !(allowReplacement && p[i + 2] == 0xBD))
            return true;
    }
    return false;
}

QList<QByteArray> decodeOk(const QByteArray &payload)
{
    QList<QByteArray> messages{QByteArrayLiteral("stale")};
    FUZZ_CHECK(JsonCodec::decodeMessages(payload, &messages) == JsonCodec::DecodeResult::Ok);
    return messages;
}

void checkQuoted(const QByteArray &input, int flags)
{
    const bool valid = JsonCodec::isValidUtf8(input);
    QByteArray out = QByteArrayLiteral("prefix");
    const bool ok = JsonCodec::appendQuoted(out, input, flags);
    FUZZ_CHECK(ok == valid);
    FUZZ_CHECK(out.startsWith("prefix"));
    const QByteArray json = out.mid(6);
    FUZZ_CHECK(json == JsonCodec::quoted(input, flags));
    FUZZ_CHECK(json.size() >= 2 && json.front() == '"' && json.back() == '"');
    FUZZ_CHECK(JsonCodec::isValidUtf8(json));
    FUZZ_CHECK(!hasUnescaped(json, !valid));
    if (flags & JsonCodec::EscapeHtml)
        FUZZ_CHECK(!json.contains('<') && !json.contains('>'));
    // Worst case: one byte to \u00xx, or one invalid byte to U+FFFD.
    FUZZ_CHECK(json.size() <= 6 * input.size() + 2);

    const QList<QByteArray> decoded = decodeOk('[' + json + ']');
    FUZZ_CHECK(decoded.size() == 1);
    const QByteArray &back = decoded.front();
    FUZZ_CHECK(JsonCodec::isValidUtf8(back));
    if (valid)
        FUZZ_CHECK(back == input);
    else
        FUZZ_CHECK(back.contains("\xEF\xBF\xBD"));

    // An independent JSON parser reads the same string (once per input: it
    // is the slowest part).
    if (flags & JsonCodec::EscapeHtml)
        return;
    QJsonParseError error;
    const QJsonDocument document = QJsonDocument::fromJson('[' + json + ']', &error);
    FUZZ_CHECK(error.error == QJsonParseError::NoError);
    FUZZ_CHECK(document.isArray() && document.array().size() == 1 && document.array().at(0).isString());
    // Qt 6.4 drops a raw U+FEFF at the very start of a string (as if it were
    // a byte order mark); everything else must match.
    const QByteArray bom = QByteArrayLiteral("\xEF\xBB\xBF");
    const QByteArray fromQt = document.array().at(0).toString().toUtf8();
    FUZZ_CHECK(fromQt == back || (back.startsWith(bom) && fromQt == back.mid(bom.size())));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray input(reinterpret_cast<const char *>(data), qsizetype(size));

    QList<QByteArray> messages{QByteArrayLiteral("stale")};
    const JsonCodec::DecodeResult result = JsonCodec::decodeMessages(input, &messages);
    bool onlyWhitespace = true;
    for (const char c : input)
        onlyWhitespace = onlyWhitespace && isJsonWhitespace(c);
    FUZZ_CHECK((result == JsonCodec::DecodeResult::Empty) == onlyWhitespace);
    if (result != JsonCodec::DecodeResult::Ok) {
        // Never part of a broken payload.
        FUZZ_CHECK(messages.isEmpty());
    } else {
        FUZZ_CHECK(input.contains('[') && input.contains(']'));
        qsizetype total = 0;
        QByteArray all = "[";
        for (const QByteArray &message : std::as_const(messages)) {
            FUZZ_CHECK(JsonCodec::isValidUtf8(message));
            total += message.size();
            const QByteArray json = JsonCodec::quoted(message);
            const QList<QByteArray> again = decodeOk('[' + json + ']');
            FUZZ_CHECK(again.size() == 1 && again.front() == message);
            const QList<QByteArray> html = decodeOk('[' + JsonCodec::quoted(message, JsonCodec::EscapeHtml) + ']');
            FUZZ_CHECK(html.size() == 1 && html.front() == message);
            if (all.size() > 1)
                all += ',';
            all += json;
        }
        all += ']';
        FUZZ_CHECK(decodeOk(all) == messages);
        // No escape expands: \uXXXX (6) gives at most 3 bytes, a pair (12) 4.
        FUZZ_CHECK(total <= input.size());
    }

    checkQuoted(input, JsonCodec::NoFlags);
    checkQuoted(input, JsonCodec::EscapeHtml);
    return 0;
}
