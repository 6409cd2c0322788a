/*
 * json.c — recursive-descent JSON parser building an arena tree (see json.h).
 */
#define _GNU_SOURCE
#include "json.h"

#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct json_chunk {
    json_chunk *next;
    size_t size;
    _Alignas(16) char data[];
};

/** Parser state for one json_parse call. */
typedef struct parser {
    const char *start; /* first byte of the input */
    const char *p;     /* next unread byte */
    const char *end;   /* one past the last byte */
    json_doc *doc;
    char *err;
    size_t err_len;
    bool failed;
    int depth;
    /* Scratch stack of members (key NULL for array items) for containers being built. */
    json_member *stack;
    size_t sp, cap;
    json_member inline_stack[32];
} parser;

/* ---- arena ---- */

/** Allocate `size` bytes, 8-aligned, from the document's arena; NULL when out of memory. */
static void *arena_alloc(json_doc *doc, size_t size) {
    size = (size + 7u) & ~(size_t)7u;
    if ((size_t)(doc->end - doc->cur) < size) {
        size_t chunk = 4096;
        while (chunk < size) chunk *= 2;
        json_chunk *c = malloc(sizeof(json_chunk) + chunk);
        if (c == NULL) return NULL;
        c->next = doc->chunks;
        c->size = chunk;
        doc->chunks = c;
        doc->cur = c->data;
        doc->end = c->data + chunk;
    }
    void *out = doc->cur;
    doc->cur += size;
    return out;
}

/** Free all heap chunks of a document; the inline buffer needs nothing. */
void json_doc_free(json_doc *doc) {
    json_chunk *c = doc->chunks;
    while (c != NULL) {
        json_chunk *next = c->next;
        free(c);
        c = next;
    }
    doc->chunks = NULL;
    doc->root = NULL;
    doc->cur = doc->end = NULL;
}

/* ---- errors ---- */

/** Record the first error with the current byte offset; returns NULL for convenience. */
static void *fail(parser *ps, const char *what) {
    if (!ps->failed) {
        ps->failed = true;
        if (ps->err != NULL && ps->err_len > 0) {
            snprintf(ps->err, ps->err_len, "malformed JSON at byte %zu: %s",
                     (size_t)(ps->p - ps->start), what);
        }
    }
    return NULL;
}

/* ---- scratch stack ---- */

/** Push one member (or array item with key NULL) onto the scratch stack. */
static bool stack_push(parser *ps, const char *key, size_t key_len, json_value *v) {
    if (ps->sp == ps->cap) {
        size_t cap = ps->cap * 2;
        json_member *grown;
        if (ps->stack == ps->inline_stack) {
            grown = malloc(cap * sizeof(json_member));
            if (grown != NULL) memcpy(grown, ps->stack, ps->sp * sizeof(json_member));
        } else {
            grown = realloc(ps->stack, cap * sizeof(json_member));
        }
        if (grown == NULL) {
            fail(ps, "out of memory");
            return false;
        }
        ps->stack = grown;
        ps->cap = cap;
    }
    ps->stack[ps->sp++] = (json_member){key, key_len, v};
    return true;
}

/* ---- lexical helpers ---- */

/** Skip JSON whitespace (space, tab, CR, LF). */
static void skip_ws(parser *ps) {
    while (ps->p < ps->end &&
           (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) {
        ps->p++;
    }
}

/** Consume the literal `lit` (true/false/null) or fail. */
static bool expect_literal(parser *ps, const char *lit) {
    size_t n = strlen(lit);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, lit, n) != 0) {
        fail(ps, "invalid literal");
        return false;
    }
    ps->p += n;
    return true;
}

/** Value of one hex digit, or -1. */
static int hex_val(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/** Read 4 hex digits at ps->p (after "\u"); -1 when malformed. */
static long read_hex4(parser *ps) {
    if (ps->end - ps->p < 4) return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_val(ps->p[i]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    ps->p += 4;
    return v;
}

/** Encode code point `cp` as UTF-8 into `out`; returns the byte count. */
static size_t put_utf8(char *out, unsigned long cp) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/**
 * Length of the valid UTF-8 sequence starting at `s` (a byte >= 0x80), or 0 when invalid
 * (overlong forms, surrogates, code points above U+10FFFF, truncation).
 */
static size_t utf8_seq_len(const unsigned char *s, const unsigned char *end) {
    unsigned char c = s[0];
    size_t n;
    unsigned long cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - s) < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
    if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
    return n;
}

/**
 * Parse a string starting at the opening quote; stores the decoded, NUL-terminated bytes in the
 * arena. Returns false on error.
 */
static bool parse_string_raw(parser *ps, const char **out, size_t *out_len) {
    ps->p++; /* opening quote */
    const char *scan = ps->p;
    while (scan < ps->end && *scan != '"') scan += (*scan == '\\' && scan + 1 < ps->end) ? 2 : 1;
    if (scan >= ps->end) {
        fail(ps, "unterminated string");
        return false;
    }
    /* Decoded text is never longer than the raw text. */
    char *buf = arena_alloc(ps->doc, (size_t)(scan - ps->p) + 1);
    if (buf == NULL) {
        fail(ps, "out of memory");
        return false;
    }
    size_t n = 0;
    while (*ps->p != '"') {
        unsigned char c = (unsigned char)*ps->p;
        if (c < 0x20) {
            fail(ps, "control character in string");
            return false;
        }
        if (c >= 0x80) {
            size_t sl = utf8_seq_len((const unsigned char *)ps->p, (const unsigned char *)ps->end);
            if (sl == 0) {
                fail(ps, "invalid UTF-8 in string");
                return false;
            }
            memcpy(buf + n, ps->p, sl);
            n += sl;
            ps->p += sl;
            continue;
        }
        if (c != '\\') {
            buf[n++] = (char)c;
            ps->p++;
            continue;
        }
        ps->p++; /* backslash */
        char e = *ps->p++;
        switch (e) {
        case '"': buf[n++] = '"'; break;
        case '\\': buf[n++] = '\\'; break;
        case '/': buf[n++] = '/'; break;
        case 'b': buf[n++] = '\b'; break;
        case 'f': buf[n++] = '\f'; break;
        case 'n': buf[n++] = '\n'; break;
        case 'r': buf[n++] = '\r'; break;
        case 't': buf[n++] = '\t'; break;
        case 'u': {
            long cp = read_hex4(ps);
            if (cp < 0) {
                fail(ps, "invalid \\u escape");
                return false;
            }
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                fail(ps, "unpaired low surrogate in \\u escape");
                return false;
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u') {
                    fail(ps, "unpaired high surrogate in \\u escape");
                    return false;
                }
                ps->p += 2;
                long lo = read_hex4(ps);
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    fail(ps, "invalid low surrogate in \\u escape");
                    return false;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            /* 6 raw bytes ("\uXXXX") always cover up to 3 UTF-8 bytes; 12 cover 4. */
            n += put_utf8(buf + n, (unsigned long)cp);
            break;
        }
        default:
            ps->p--;
            fail(ps, "invalid escape in string");
            return false;
        }
    }
    ps->p++; /* closing quote */
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return true;
}

/** A "C" locale for strtod_l, so the host's locale never changes how numbers parse. */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

/** pthread_once initialiser for c_locale. */
static void init_c_locale(void) { c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

/** Parse a number per the JSON grammar into `v`. */
static bool parse_number(parser *ps, json_value *v) {
    const char *s = ps->p;
    const char *q = s;
    bool simple = true; /* no fraction or exponent */
    if (q < ps->end && *q == '-') q++;
    if (q >= ps->end || !(*q >= '0' && *q <= '9')) {
        fail(ps, "invalid number");
        return false;
    }
    if (*q == '0') {
        q++;
    } else {
        while (q < ps->end && *q >= '0' && *q <= '9') q++;
    }
    if (q < ps->end && *q == '.') {
        simple = false;
        q++;
        if (q >= ps->end || !(*q >= '0' && *q <= '9')) {
            ps->p = q;
            fail(ps, "invalid number: digit expected after '.'");
            return false;
        }
        while (q < ps->end && *q >= '0' && *q <= '9') q++;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        simple = false;
        q++;
        if (q < ps->end && (*q == '+' || *q == '-')) q++;
        if (q >= ps->end || !(*q >= '0' && *q <= '9')) {
            ps->p = q;
            fail(ps, "invalid number: digit expected in exponent");
            return false;
        }
        while (q < ps->end && *q >= '0' && *q <= '9') q++;
    }
    size_t len = (size_t)(q - s);
    ps->p = q;
    v->type = JSON_NUMBER;
    size_t digits = len - (s[0] == '-');
    if (simple && digits <= 18) {
        /* Fast exact path for ordinary integers. */
        int64_t x = 0;
        for (const char *d = s + (s[0] == '-'); d < q; d++) x = x * 10 + (*d - '0');
        if (s[0] == '-') x = -x;
        v->u.number.value = (double)x;
        v->u.number.is_integer = true;
        v->u.number.integer = x;
        return true;
    }
    char local[64];
    char *copy = len < sizeof local ? local : malloc(len + 1);
    if (copy == NULL) {
        fail(ps, "out of memory");
        return false;
    }
    memcpy(copy, s, len);
    copy[len] = '\0';
    pthread_once(&c_locale_once, init_c_locale);
    double d = c_locale != (locale_t)0 ? strtod_l(copy, NULL, c_locale) : strtod(copy, NULL);
    if (copy != local) free(copy);
    v->u.number.value = d;
    /* 9.2e18 ~ 2^63: anything integral and smaller in magnitude fits in int64. */
    /* No libm: the range test also rejects NaN and infinities. */
    if (d > -9.2e18 && d < 9.2e18 && d == (double)(int64_t)d) {
        v->u.number.is_integer = true;
        v->u.number.integer = (int64_t)d;
    } else {
        v->u.number.is_integer = false;
        v->u.number.integer = 0;
    }
    return true;
}

static json_value *parse_value(parser *ps);

/** Parse an array starting at '['. */
static bool parse_array(parser *ps, json_value *v) {
    ps->p++;
    size_t base = ps->sp;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
    } else {
        for (;;) {
            json_value *item = parse_value(ps);
            if (item == NULL || !stack_push(ps, NULL, 0, item)) return false;
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                continue;
            }
            if (ps->p < ps->end && *ps->p == ']') {
                ps->p++;
                break;
            }
            fail(ps, "expected ',' or ']' in array");
            return false;
        }
    }
    size_t count = ps->sp - base;
    v->type = JSON_ARRAY;
    v->u.array.count = count;
    v->u.array.items = NULL;
    if (count > 0) {
        v->u.array.items = arena_alloc(ps->doc, count * sizeof(json_value *));
        if (v->u.array.items == NULL) {
            fail(ps, "out of memory");
            return false;
        }
        for (size_t i = 0; i < count; i++) v->u.array.items[i] = ps->stack[base + i].value;
    }
    ps->sp = base;
    return true;
}

/** Parse an object starting at '{'. */
static bool parse_object(parser *ps, json_value *v) {
    ps->p++;
    size_t base = ps->sp;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
    } else {
        for (;;) {
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != '"') {
                fail(ps, "expected a string key in object");
                return false;
            }
            const char *key;
            size_t key_len;
            if (!parse_string_raw(ps, &key, &key_len)) return false;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                fail(ps, "expected ':' after object key");
                return false;
            }
            ps->p++;
            json_value *val = parse_value(ps);
            if (val == NULL || !stack_push(ps, key, key_len, val)) return false;
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                continue;
            }
            if (ps->p < ps->end && *ps->p == '}') {
                ps->p++;
                break;
            }
            fail(ps, "expected ',' or '}' in object");
            return false;
        }
    }
    size_t count = ps->sp - base;
    v->type = JSON_OBJECT;
    v->u.object.count = count;
    v->u.object.members = NULL;
    if (count > 0) {
        v->u.object.members = arena_alloc(ps->doc, count * sizeof(json_member));
        if (v->u.object.members == NULL) {
            fail(ps, "out of memory");
            return false;
        }
        memcpy(v->u.object.members, ps->stack + base, count * sizeof(json_member));
    }
    ps->sp = base;
    return true;
}

/** Parse any value after optional whitespace. Returns NULL on error. */
static json_value *parse_value(parser *ps) {
    skip_ws(ps);
    if (ps->p >= ps->end) return fail(ps, "unexpected end of input");
    json_value *v = arena_alloc(ps->doc, sizeof(json_value));
    if (v == NULL) return fail(ps, "out of memory");
    bool ok;
    switch (*ps->p) {
    case '{':
    case '[':
        if (++ps->depth > JSON_MAX_DEPTH) return fail(ps, "nesting too deep");
        ok = *ps->p == '{' ? parse_object(ps, v) : parse_array(ps, v);
        ps->depth--;
        break;
    case '"':
        v->type = JSON_STRING;
        ok = parse_string_raw(ps, &v->u.string.ptr, &v->u.string.len);
        break;
    case 't':
        v->type = JSON_BOOL;
        v->u.boolean = true;
        ok = expect_literal(ps, "true");
        break;
    case 'f':
        v->type = JSON_BOOL;
        v->u.boolean = false;
        ok = expect_literal(ps, "false");
        break;
    case 'n':
        v->type = JSON_NULL;
        ok = expect_literal(ps, "null");
        break;
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) {
            ok = parse_number(ps, v);
        } else {
            return fail(ps, "unexpected character");
        }
    }
    return ok ? v : NULL;
}

/** Parse a whole document; see json.h. */
bool json_parse(json_doc *doc, const char *text, size_t len, char *err, size_t err_len) {
    doc->root = NULL;
    doc->chunks = NULL;
    doc->cur = doc->inline_buf;
    doc->end = doc->inline_buf + sizeof doc->inline_buf;
    if (err != NULL && err_len > 0) err[0] = '\0';

    parser ps;
    ps.start = text;
    ps.p = text;
    ps.end = text + (text != NULL ? len : 0);
    ps.doc = doc;
    ps.err = err;
    ps.err_len = err_len;
    ps.failed = false;
    ps.depth = 0;
    ps.stack = ps.inline_stack;
    ps.sp = 0;
    ps.cap = sizeof ps.inline_stack / sizeof ps.inline_stack[0];

    if (text == NULL || len == 0) {
        fail(&ps, "empty body");
        return false;
    }
    json_value *root = parse_value(&ps);
    if (root != NULL) {
        skip_ws(&ps);
        if (ps.p != ps.end) {
            fail(&ps, "unexpected characters after the value");
            root = NULL;
        }
    }
    if (ps.stack != ps.inline_stack) free(ps.stack);
    doc->root = root;
    return root != NULL;
}

/** See json.h. */
const json_value *json_get(const json_value *obj, const char *key) {
    if (obj == NULL || obj->type != JSON_OBJECT) return NULL;
    /* Searched from the end: with duplicate keys the last one wins, as in most decoders. */
    for (size_t i = obj->u.object.count; i > 0; i--) {
        const json_member *m = &obj->u.object.members[i - 1];
        if (json_str_eq(m->key, m->key_len, key)) return m->value;
    }
    return NULL;
}

/** See json.h. */
bool json_str_eq(const char *s, size_t len, const char *lit) {
    size_t n = strlen(lit);
    return n == len && memcmp(s, lit, n) == 0;
}

/** See json.h. */
const char *json_type_name(json_type type) {
    switch (type) {
    case JSON_NULL: return "null";
    case JSON_BOOL: return "boolean";
    case JSON_NUMBER: return "number";
    case JSON_STRING: return "string";
    case JSON_ARRAY: return "array";
    case JSON_OBJECT: return "object";
    }
    return "value";
}
