/* json.c — see json.h. */
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *p, *end;
    char *error;
    size_t error_len;
    int depth;
} parser;

static json_value *parse_value(parser *ps);

static void fail(parser *ps, const char *what) {
    if (ps->error[0] == '\0') snprintf(ps->error, ps->error_len, "%s at byte %ld", what, (long)(ps->end - ps->p));
}

static void skip_space(parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static json_value *new_value(json_type type) {
    json_value *value = calloc(1, sizeof *value);
    if (value) value->type = type;
    return value;
}

static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Appends code point `cp` as UTF-8. */
static void add_utf8(json_buf *buf, unsigned cp) {
    char bytes[4];
    size_t n;
    if (cp < 0x80) { bytes[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { bytes[0] = (char)(0xC0 | cp >> 6); bytes[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
    else if (cp < 0x10000) { bytes[0] = (char)(0xE0 | cp >> 12); bytes[1] = (char)(0x80 | (cp >> 6 & 0x3F)); bytes[2] = (char)(0x80 | (cp & 0x3F)); n = 3; }
    else { bytes[0] = (char)(0xF0 | cp >> 18); bytes[1] = (char)(0x80 | (cp >> 12 & 0x3F)); bytes[2] = (char)(0x80 | (cp >> 6 & 0x3F)); bytes[3] = (char)(0x80 | (cp & 0x3F)); n = 4; }
    buf_add(buf, bytes, n);
}

static char *parse_string(parser *ps) {
    json_buf out = {0};
    buf_add(&out, "", 0);
    ps->p++; /* the opening quote */
    while (ps->p < ps->end && *ps->p != '"') {
        char c = *ps->p++;
        if ((unsigned char)c < 0x20) { fail(ps, "control character in a string"); free(out.data); return NULL; }
        if (c != '\\') { buf_add(&out, &c, 1); continue; }
        if (ps->p >= ps->end) break;
        char e = *ps->p++;
        switch (e) {
        case '"': case '\\': case '/': buf_add(&out, &e, 1); break;
        case 'b': buf_add(&out, "\b", 1); break;
        case 'f': buf_add(&out, "\f", 1); break;
        case 'n': buf_add(&out, "\n", 1); break;
        case 'r': buf_add(&out, "\r", 1); break;
        case 't': buf_add(&out, "\t", 1); break;
        case 'u': {
            if (ps->end - ps->p < 4) { fail(ps, "short \\u escape"); free(out.data); return NULL; }
            unsigned cp = 0;
            for (int i = 0; i < 4; i++) {
                int h = hex(*ps->p++);
                if (h < 0) { fail(ps, "bad \\u escape"); free(out.data); return NULL; }
                cp = cp << 4 | (unsigned)h;
            }
            if (cp >= 0xD800 && cp < 0xDC00 && ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u') {
                unsigned low = 0;
                for (int i = 2; i < 6; i++) {
                    int h = hex(ps->p[i]);
                    if (h < 0) { low = 0; break; }
                    low = low << 4 | (unsigned)h;
                }
                if (low >= 0xDC00 && low < 0xE000) { cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00); ps->p += 6; }
            }
            if (cp == 0) { fail(ps, "NUL in a string"); free(out.data); return NULL; }
            add_utf8(&out, cp);
            break;
        }
        default: fail(ps, "bad escape"); free(out.data); return NULL;
        }
    }
    if (ps->p >= ps->end) { fail(ps, "unterminated string"); free(out.data); return NULL; }
    ps->p++; /* the closing quote */
    return out.data;
}

static int append(json_value *container, json_value *item, char *key) {
    json_value **items = realloc(container->items, (container->count + 1) * sizeof *items);
    if (!items) return 0;
    container->items = items;
    if (container->type == JSON_OBJECT) {
        char **keys = realloc(container->keys, (container->count + 1) * sizeof *keys);
        if (!keys) return 0;
        container->keys = keys;
        keys[container->count] = key;
    }
    items[container->count++] = item;
    return 1;
}

static json_value *parse_container(parser *ps, json_type type) {
    char close = type == JSON_ARRAY ? ']' : '}';
    json_value *container = new_value(type);
    if (!container) return NULL;
    ps->p++;
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == close) { ps->p++; return container; }
    for (;;) {
        char *key = NULL;
        skip_space(ps);
        if (type == JSON_OBJECT) {
            if (ps->p >= ps->end || *ps->p != '"') { fail(ps, "expected a key"); break; }
            if (!(key = parse_string(ps))) break;
            skip_space(ps);
            if (ps->p >= ps->end || *ps->p != ':') { fail(ps, "expected ':'"); free(key); break; }
            ps->p++;
        }
        json_value *item = parse_value(ps);
        if (!item || !append(container, item, key)) { json_free(item); free(key); break; }
        skip_space(ps);
        if (ps->p < ps->end && *ps->p == ',') { ps->p++; continue; }
        if (ps->p < ps->end && *ps->p == close) { ps->p++; return container; }
        fail(ps, type == JSON_ARRAY ? "expected ',' or ']'" : "expected ',' or '}'");
        break;
    }
    json_free(container);
    return NULL;
}

static json_value *parse_value(parser *ps) {
    skip_space(ps);
    if (ps->p >= ps->end) { fail(ps, "unexpected end"); return NULL; }
    if (++ps->depth > 64) { fail(ps, "nested too deeply"); return NULL; }
    json_value *value = NULL;
    char c = *ps->p;
    if (c == '{') value = parse_container(ps, JSON_OBJECT);
    else if (c == '[') value = parse_container(ps, JSON_ARRAY);
    else if (c == '"') {
        char *text = parse_string(ps);
        if (text && (value = new_value(JSON_STRING))) value->string = text;
        else free(text);
    } else if (ps->end - ps->p >= 4 && !memcmp(ps->p, "true", 4)) { ps->p += 4; if ((value = new_value(JSON_BOOL))) value->boolean = 1; }
    else if (ps->end - ps->p >= 5 && !memcmp(ps->p, "false", 5)) { ps->p += 5; value = new_value(JSON_BOOL); }
    else if (ps->end - ps->p >= 4 && !memcmp(ps->p, "null", 4)) { ps->p += 4; value = new_value(JSON_NULL); }
    else if (c == '-' || (c >= '0' && c <= '9')) {
        char digits[64];
        size_t n = 0;
        while (ps->p < ps->end && n < sizeof digits - 1 && strchr("+-.eE0123456789", *ps->p)) digits[n++] = *ps->p++;
        digits[n] = '\0';
        char *rest;
        double number = strtod(digits, &rest);
        if (*rest != '\0') fail(ps, "bad number");
        else if ((value = new_value(JSON_NUMBER))) value->number = number;
    } else fail(ps, "unexpected character");
    ps->depth--;
    return value;
}

json_value *json_parse(const char *text, size_t len, char *error, size_t error_len) {
    parser ps = {text, text + len, error, error_len, 0};
    error[0] = '\0';
    json_value *value = parse_value(&ps);
    skip_space(&ps);
    if (value && ps.p != ps.end) { fail(&ps, "trailing characters"); json_free(value); return NULL; }
    if (!value && error[0] == '\0') snprintf(error, error_len, "out of memory");
    return value;
}

void json_free(json_value *value) {
    if (!value) return;
    for (size_t i = 0; i < value->count; i++) {
        json_free(value->items[i]);
        if (value->keys) free(value->keys[i]);
    }
    free(value->items);
    free(value->keys);
    free(value->string);
    free(value);
}

const json_value *json_get(const json_value *object, const char *key) {
    if (!object || object->type != JSON_OBJECT) return NULL;
    for (size_t i = 0; i < object->count; i++)
        if (!strcmp(object->keys[i], key)) return object->items[i];
    return NULL;
}

void buf_add(json_buf *buf, const char *bytes, size_t len) {
    if (buf->len + len + 1 > buf->cap) {
        size_t cap = buf->cap ? buf->cap : 256;
        while (cap < buf->len + len + 1) cap *= 2;
        char *data = realloc(buf->data, cap);
        if (!data) abort();
        buf->data = data;
        buf->cap = cap;
    }
    memcpy(buf->data + buf->len, bytes, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
}

void buf_printf(json_buf *buf, const char *format, ...) {
    char small[512];
    va_list args;
    va_start(args, format);
    int n = vsnprintf(small, sizeof small, format, args);
    va_end(args);
    if (n < 0) return;
    if ((size_t)n < sizeof small) { buf_add(buf, small, (size_t)n); return; }
    char *large = malloc((size_t)n + 1);
    if (!large) abort();
    va_start(args, format);
    vsnprintf(large, (size_t)n + 1, format, args);
    va_end(args);
    buf_add(buf, large, (size_t)n);
    free(large);
}

void buf_string(json_buf *buf, const char *text, size_t len) {
    buf_add(buf, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '"' || c == '\\') { char e[2] = {'\\', (char)c}; buf_add(buf, e, 2); }
        else if (c < 0x20) buf_printf(buf, "\\u%04x", c);
        else buf_add(buf, (const char *)&c, 1);
    }
    buf_add(buf, "\"", 1);
}

void buf_value(json_buf *buf, const json_value *value) {
    switch (value->type) {
    case JSON_NULL: buf_add(buf, "null", 4); break;
    case JSON_BOOL: value->boolean ? buf_add(buf, "true", 4) : buf_add(buf, "false", 5); break;
    case JSON_NUMBER: buf_printf(buf, "%.17g", value->number); break;
    case JSON_STRING: buf_string(buf, value->string, strlen(value->string)); break;
    case JSON_ARRAY:
    case JSON_OBJECT:
        buf_add(buf, value->type == JSON_ARRAY ? "[" : "{", 1);
        for (size_t i = 0; i < value->count; i++) {
            if (i) buf_add(buf, ",", 1);
            if (value->type == JSON_OBJECT) { buf_string(buf, value->keys[i], strlen(value->keys[i])); buf_add(buf, ":", 1); }
            buf_value(buf, value->items[i]);
        }
        buf_add(buf, value->type == JSON_ARRAY ? "]" : "}", 1);
        break;
    }
}

void buf_base64(json_buf *buf, const unsigned char *bytes, size_t len) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)bytes[i] << 16 | (i + 1 < len ? (unsigned)bytes[i + 1] << 8 : 0) | (i + 2 < len ? bytes[i + 2] : 0);
        char out[4] = {alphabet[v >> 18 & 63], alphabet[v >> 12 & 63], i + 1 < len ? alphabet[v >> 6 & 63] : '=', i + 2 < len ? alphabet[v & 63] : '='};
        buf_add(buf, out, 4);
    }
}
