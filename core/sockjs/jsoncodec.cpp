#include "jsoncodec.h"

#include "http/httpchars.h"

#include <QtAlgorithms>
#include <QtGlobal>

#include <algorithm>
#include <array>
#include <cstring>

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define SOCKJSPROXY_JSON_SSE2 1
#endif

namespace SockJsProxy {
namespace JsonCodec {

namespace {

// U+FFFD in UTF-8: written in place of bytes that are not valid UTF-8.
constexpr char kReplacement[] = "\xEF\xBF\xBD";
constexpr qsizetype kReplacementSize = sizeof(kReplacement) - 1;

constexpr char kLowerHex[] = "0123456789abcdef";

// ---------------------------------------------------------------------------
// UTF-8

struct Utf8Step
{
    int length; // valid: the whole sequence; invalid: its maximal subpart (>= 1)
    bool valid;
};

// Classifies the sequence starting at the non-ASCII byte *p, following the
// well-formed byte sequences of the Unicode Standard (Table 3-7). Overlongs,
// surrogates (ED A0..BF) and code points above U+10FFFF fail on the first
// byte whose range they leave, so an invalid sequence reports its maximal
// subpart: the bytes that one U+FFFD replaces ("substitution of maximal
// subparts", what browsers' TextDecoder does too).
inline Utf8Step utf8Step(const uchar *p, const uchar *end)
{
    const uchar lead = *p;
    int trailing = 0;
    // Allowed range of the second byte; every later byte is 80..BF.
    uchar low = 0x80;
    uchar high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        trailing = 1;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        trailing = 2;
        if (lead == 0xE0)
            low = 0xA0; // below is an overlong 2-byte form
        else if (lead == 0xED)
            high = 0x9F; // above are the surrogates U+D800..DFFF
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        trailing = 3;
        if (lead == 0xF0)
            low = 0x90; // below is an overlong 3-byte form
        else if (lead == 0xF4)
            high = 0x8F; // above is past U+10FFFF
    } else {
        // 80..BF (stray continuation), C0/C1 (always overlong), F5..FF.
        return {1, false};
    }

    for (int i = 1; i <= trailing; ++i) {
        if (p + i == end || p[i] < low || p[i] > high)
            return {i, false};
        low = 0x80;
        high = 0xBF;
    }
    return {trailing + 1, true};
}

// Appends the UTF-8 form of a Unicode scalar value (never a surrogate).
void appendUtf8(QByteArray &out, char32_t cp)
{
    char buffer[4];
    int size = 0;
    if (cp < 0x80) {
        buffer[size++] = char(cp);
    } else if (cp < 0x800) {
        buffer[size++] = char(0xC0 | (cp >> 6));
        buffer[size++] = char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        buffer[size++] = char(0xE0 | (cp >> 12));
        buffer[size++] = char(0x80 | ((cp >> 6) & 0x3F));
        buffer[size++] = char(0x80 | (cp & 0x3F));
    } else {
        buffer[size++] = char(0xF0 | (cp >> 18));
        buffer[size++] = char(0x80 | ((cp >> 12) & 0x3F));
        buffer[size++] = char(0x80 | ((cp >> 6) & 0x3F));
        buffer[size++] = char(0x80 | (cp & 0x3F));
    }
    out.append(buffer, size);
}

// ---------------------------------------------------------------------------
// Encoding

enum class AsciiClass : quint8 {
    Verbatim,
    Escape,     // always escaped: control characters, '"', '\\'
    HtmlEscape, // escaped only with EscapeHtml
};

constexpr std::array<AsciiClass, 128> makeAsciiClasses()
{
    std::array<AsciiClass, 128> classes{};
    for (int c = 0; c < 0x20; ++c)
        classes[c] = AsciiClass::Escape;
    classes['"'] = AsciiClass::Escape;
    classes['\\'] = AsciiClass::Escape;
    classes['<'] = AsciiClass::HtmlEscape;
    classes['>'] = AsciiClass::HtmlEscape;
    // DEL (0x7F) stays verbatim, as in JSON.stringify.
    return classes;
}

constexpr std::array<AsciiClass, 128> kAsciiClasses = makeAsciiClasses();

// The first byte at or after p that is not plain ASCII text: outside
// 0x20..0x7F, or '"', '\\' (or '<', '>' with escapeHtml). Plain bytes are
// what the encoder copies and the decoder takes as they are; this skips
// them 16 at a time where SSE2 is there (every x86-64). Non-ASCII bytes
// stop it too: they need UTF-8 validation. The byte-wise loops after it
// handle the rest and the tail.
inline const uchar *skipPlainAscii(const uchar *p, const uchar *end, bool escapeHtml)
{
#ifdef SOCKJSPROXY_JSON_SSE2
    // A signed compare with 0x20 catches the controls and, as negative
    // numbers, every byte from 0x80 up.
    const __m128i space = _mm_set1_epi8(0x20);
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i less = _mm_set1_epi8('<');
    const __m128i greater = _mm_set1_epi8('>');
    while (end - p >= 16) {
        const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p));
        __m128i special = _mm_or_si128(_mm_cmplt_epi8(bytes, space),
                                       _mm_or_si128(_mm_cmpeq_epi8(bytes, quote), _mm_cmpeq_epi8(bytes, backslash)));
        if (escapeHtml)
            special = _mm_or_si128(special, _mm_or_si128(_mm_cmpeq_epi8(bytes, less), _mm_cmpeq_epi8(bytes, greater)));
        const int mask = _mm_movemask_epi8(special);
        if (mask != 0)
            return p + qCountTrailingZeroBits(quint32(mask));
        p += 16;
    }
#else
    Q_UNUSED(end);
    Q_UNUSED(escapeHtml);
#endif
    return p;
}

void appendUnicodeEscape(QByteArray &out, char32_t unit)
{
    const char escape[6] = {
        '\\',
        'u',
        kLowerHex[(unit >> 12) & 0xF],
        kLowerHex[(unit >> 8) & 0xF],
        kLowerHex[(unit >> 4) & 0xF],
        kLowerHex[unit & 0xF],
    };
    out.append(escape, sizeof(escape));
}

void appendAsciiEscape(QByteArray &out, uchar c)
{
    // The short forms JSON.stringify uses; everything else as \u00xx.
    switch (c) {
    case '"':
        out.append("\\\"", 2);
        return;
    case '\\':
        out.append("\\\\", 2);
        return;
    case '\b':
        out.append("\\b", 2);
        return;
    case '\t':
        out.append("\\t", 2);
        return;
    case '\n':
        out.append("\\n", 2);
        return;
    case '\f':
        out.append("\\f", 2);
        return;
    case '\r':
        out.append("\\r", 2);
        return;
    default:
        appendUnicodeEscape(out, c);
        return;
    }
}

// True for the 3-byte sequences (already validated) of U+200C-200F,
// U+2028-202F, U+2060-206F and U+FFF0-FFFF. These are invisible or
// format characters and line separators that JavaScript engines before
// ES2019 reject in string literals (JSONP, htmlfile) and that browsers and
// proxies are known to strip or mangle; SockJS clients expect them escaped
// (the protocol suite compares the bytes). Matching the bytes avoids decoding.
inline bool isEscapedThreeByte(const uchar *p)
{
    if (p[0] == 0xE2) {
        if (p[1] == 0x80)
            return (p[2] >= 0x8C && p[2] <= 0x8F) || (p[2] >= 0xA8 && p[2] <= 0xAF);
        return p[1] == 0x81 && p[2] >= 0xA0 && p[2] <= 0xAF;
    }
    return p[0] == 0xEF && p[1] == 0xBF && p[2] >= 0xB0;
}

inline char32_t decodeThreeByte(const uchar *p)
{
    return (char32_t(p[0] & 0x0F) << 12) | (char32_t(p[1] & 0x3F) << 6) | char32_t(p[2] & 0x3F);
}

// Makes room for at least extra more bytes. QByteArray::reserve() allocates
// exactly what it is asked for, so reserving just this string on each call
// would reallocate a frame assembled from many messages once per message;
// grow by half the capacity at least to keep appends amortised O(1).
void reserveExtra(QByteArray &out, qsizetype extra)
{
    const qsizetype needed = out.size() + extra;
    if (needed > out.capacity())
        out.reserve(std::max(needed, out.capacity() + out.capacity() / 2));
}

// ---------------------------------------------------------------------------
// Decoding

inline bool isJsonWhitespace(uchar c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

inline const uchar *skipWhitespace(const uchar *p, const uchar *end)
{
    while (p != end && isJsonWhitespace(*p))
        ++p;
    return p;
}

// The 4 hex digits at p as a UTF-16 code unit, or -1 if there are not 4.
inline int readHex4(const uchar *p, const uchar *end)
{
    if (end - p < 4)
        return -1;
    int value = 0;
    for (int i = 0; i < 4; ++i) {
        const int digit = HttpChars::hexValue(char(p[i]));
        if (digit < 0)
            return -1;
        value = (value << 4) | digit;
    }
    return value;
}

inline bool isHighSurrogate(int unit) { return unit >= 0xD800 && unit <= 0xDBFF; }
inline bool isLowSurrogate(int unit) { return unit >= 0xDC00 && unit <= 0xDFFF; }

// p is just past a backslash. Appends the escaped character and returns the
// position after the escape, or nullptr if it is not a JSON escape.
const uchar *parseEscape(const uchar *p, const uchar *end, QByteArray &out)
{
    if (p == end)
        return nullptr;
    switch (*p) {
    case '"':
        out.append('"');
        return p + 1;
    case '\\':
        out.append('\\');
        return p + 1;
    case '/':
        out.append('/');
        return p + 1;
    case 'b':
        out.append('\b');
        return p + 1;
    case 'f':
        out.append('\f');
        return p + 1;
    case 'n':
        out.append('\n');
        return p + 1;
    case 'r':
        out.append('\r');
        return p + 1;
    case 't':
        out.append('\t');
        return p + 1;
    case 'u':
        break;
    default:
        return nullptr;
    }

    ++p;
    const int unit = readHex4(p, end);
    if (unit < 0)
        return nullptr;
    p += 4;

    char32_t cp = char32_t(unit);
    if (isHighSurrogate(unit)) {
        // Join with an immediately following low-surrogate escape. Anything
        // else is left for the caller to parse (and reject if malformed).
        const int low = (end - p >= 6 && p[0] == '\\' && p[1] == 'u') ? readHex4(p + 2, end) : -1;
        if (isLowSurrogate(low)) {
            cp = 0x10000 + ((char32_t(unit) - 0xD800) << 10) + (char32_t(low) - 0xDC00);
            p += 6;
        } else {
            cp = 0xFFFD; // a lone surrogate has no UTF-8 form
        }
    } else if (isLowSurrogate(unit)) {
        cp = 0xFFFD;
    }
    appendUtf8(out, cp);
    return p;
}

// p is just past the opening quote. Appends the string's content to out and
// returns the position after the closing quote, or nullptr if the string is
// malformed or unterminated.
const uchar *parseString(const uchar *p, const uchar *end, QByteArray &out)
{
    // Bytes that need no decoding are copied in runs, not one by one.
    const uchar *run = p;
    while (p != end) {
        p = skipPlainAscii(p, end, false);
        if (p == end)
            break;
        const uchar c = *p;
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            ++p;
        } else if (c >= 0x80) {
            const Utf8Step step = utf8Step(p, end);
            if (!step.valid)
                return nullptr;
            p += step.length;
        } else if (c < 0x20) {
            return nullptr; // JSON forbids raw control characters in strings
        } else {
            out.append(reinterpret_cast<const char *>(run), p - run);
            if (c == '"')
                return p + 1;
            p = parseEscape(p + 1, end, out);
            if (!p)
                return nullptr;
            run = p;
        }
    }
    return nullptr;
}

// Parses the array that starts at p ('[') up to the end of the payload.
bool parseArray(const uchar *p, const uchar *end, QList<QByteArray> &messages)
{
    Q_ASSERT(p != end && *p == '[');
    p = skipWhitespace(p + 1, end);
    if (p != end && *p == ']') {
        ++p;
    } else {
        for (;;) {
            // Also rejects a leading or trailing comma: an element must follow.
            if (p == end || *p != '"')
                return false;
            QByteArray message;
            p = parseString(p + 1, end, message);
            if (!p)
                return false;
            messages.append(std::move(message));

            p = skipWhitespace(p, end);
            if (p == end)
                return false;
            if (*p == ']') {
                ++p;
                break;
            }
            if (*p != ',')
                return false;
            p = skipWhitespace(p + 1, end);
        }
    }
    return skipWhitespace(p, end) == end;
}

} // namespace

DecodeResult decodeMessages(const QByteArray &payload, QList<QByteArray> *messages)
{
    Q_ASSERT(messages);
    messages->clear();

    const auto *begin = reinterpret_cast<const uchar *>(payload.constData());
    const uchar *end = begin + payload.size();
    const uchar *p = skipWhitespace(begin, end);
    if (p == end)
        return DecodeResult::Empty;
    if (*p != '[' || !parseArray(p, end, *messages)) {
        // Callers must not deliver part of a broken payload.
        messages->clear();
        return DecodeResult::Broken;
    }
    return DecodeResult::Ok;
}

bool appendQuoted(QByteArray &out, const QByteArray &utf8, int flags)
{
    const bool escapeHtml = flags & EscapeHtml;
    // Most messages need few escapes: the input plus the quotes is the usual
    // output size; append() grows geometrically past that.
    reserveExtra(out, utf8.size() + 2);
    out.append('"');

    const auto *p = reinterpret_cast<const uchar *>(utf8.constData());
    const uchar *end = p + utf8.size();
    const uchar *run = p; // start of bytes not yet copied
    bool valid = true;
    const auto flushRun = [&] { out.append(reinterpret_cast<const char *>(run), p - run); };

    while (p != end) {
        p = skipPlainAscii(p, end, escapeHtml);
        if (p == end)
            break;
        const uchar c = *p;
        if (c < 0x80) {
            const AsciiClass cls = kAsciiClasses[c];
            if (cls == AsciiClass::Verbatim || (cls == AsciiClass::HtmlEscape && !escapeHtml)) {
                ++p;
                continue;
            }
            flushRun();
            appendAsciiEscape(out, c);
            run = ++p;
            continue;
        }

        const Utf8Step step = utf8Step(p, end);
        if (step.valid && !(step.length == 3 && isEscapedThreeByte(p))) {
            p += step.length;
            continue;
        }
        flushRun();
        if (step.valid) {
            appendUnicodeEscape(out, decodeThreeByte(p));
        } else {
            out.append(kReplacement, kReplacementSize);
            valid = false;
        }
        p += step.length;
        run = p;
    }
    flushRun();
    out.append('"');
    return valid;
}

QByteArray quoted(const QByteArray &utf8, int flags)
{
    QByteArray out;
    appendQuoted(out, utf8, flags);
    return out;
}

bool isValidUtf8(const QByteArray &data)
{
    const auto *p = reinterpret_cast<const uchar *>(data.constData());
    const uchar *end = p + data.size();
    while (p != end) {
        // Skip ASCII a word at a time: most payloads are mostly ASCII.
        if (end - p >= 8) {
            quint64 word;
            std::memcpy(&word, p, sizeof(word));
            if ((word & 0x8080808080808080ULL) == 0) {
                p += 8;
                continue;
            }
        }
        if (*p < 0x80) {
            ++p;
            continue;
        }
        const Utf8Step step = utf8Step(p, end);
        if (!step.valid)
            return false;
        p += step.length;
    }
    return true;
}

} // namespace JsonCodec
} // namespace SockJsProxy
