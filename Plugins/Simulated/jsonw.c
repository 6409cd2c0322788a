/*
 * jsonw.c — buffer, JSON writer, base64 and RFC 3339 helpers (see jsonw.h).
 */
#define _GNU_SOURCE
#include "jsonw.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/** See jsonw.h. */
void sb_init(sbuf *b) {
    b->ptr = b->inline_buf;
    b->len = 0;
    b->cap = sizeof b->inline_buf;
    b->oom = false;
    b->ptr[0] = '\0';
}

/** See jsonw.h. */
void sb_free(sbuf *b) {
    if (b->ptr != b->inline_buf) free(b->ptr);
    sb_init(b);
}

/** Make room for `extra` more bytes plus a NUL; false (and oom) when impossible. */
static bool sb_reserve(sbuf *b, size_t extra) {
    if (b->oom) return false;
    if (b->len + extra + 1 <= b->cap) return true;
    size_t cap = b->cap * 2;
    while (cap < b->len + extra + 1) cap *= 2;
    char *grown;
    if (b->ptr == b->inline_buf) {
        grown = malloc(cap);
        if (grown != NULL) memcpy(grown, b->ptr, b->len + 1);
    } else {
        grown = realloc(b->ptr, cap);
    }
    if (grown == NULL) {
        b->oom = true;
        return false;
    }
    b->ptr = grown;
    b->cap = cap;
    return true;
}

/** See jsonw.h. */
void sb_raw(sbuf *b, const char *s, size_t n) {
    if (n == 0 || !sb_reserve(b, n)) return;
    memcpy(b->ptr + b->len, s, n);
    b->len += n;
    b->ptr[b->len] = '\0';
}

/** See jsonw.h. */
void sb_lit(sbuf *b, const char *s) { sb_raw(b, s, strlen(s)); }

/** See jsonw.h. Escapes '"', '\\' and control characters; other bytes pass through. */
void sb_str(sbuf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    if (!sb_reserve(b, n + 2)) return;
    b->ptr[b->len++] = '"';
    size_t run = 0; /* start of the current run of bytes needing no escape */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        sb_raw(b, s + run, i - run);
        run = i + 1;
        char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
        size_t el = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            el = 6;
        }
        sb_raw(b, esc, el);
    }
    sb_raw(b, s + run, n - run);
    sb_raw(b, "\"", 1);
}

/** See jsonw.h. */
void sb_cstr(sbuf *b, const char *s) { sb_str(b, s, strlen(s)); }

/** See jsonw.h. Hand-rolled: snprintf costs more than a whole inspect should. */
void sb_int(sbuf *b, int64_t v) {
    char tmp[24];
    char *p = tmp + sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0) *--p = '-';
    sb_raw(b, p, (size_t)(tmp + sizeof tmp - p));
}

/** Write `v` as exactly `width` decimal digits (zero-padded) at `out`. */
static void put_digits(char *out, uint64_t v, int width) {
    for (int i = width - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

static locale_t w_c_locale;
static pthread_once_t w_c_locale_once = PTHREAD_ONCE_INIT;

/** pthread_once initialiser: a "C" numeric locale for formatting. */
static void w_init_c_locale(void) { w_c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

/** See jsonw.h. Integral values print without a fraction; others round-trip exactly. */
void sb_num(sbuf *b, double v) {
    if (!isfinite(v)) {
        sb_lit(b, "null");
        return;
    }
    if (v > -9.0e15 && v < 9.0e15 && v == (double)(int64_t)v) {
        sb_int(b, (int64_t)v);
        return;
    }
    pthread_once(&w_c_locale_once, w_init_c_locale);
    locale_t saved = w_c_locale != (locale_t)0 ? uselocale(w_c_locale) : (locale_t)0;
    char tmp[40];
    int n = snprintf(tmp, sizeof tmp, "%.15g", v);
    if (strtod(tmp, NULL) != v) n = snprintf(tmp, sizeof tmp, "%.17g", v);
    if (saved != (locale_t)0) uselocale(saved);
    sb_raw(b, tmp, (size_t)n);
}

/** See jsonw.h. */
void sb_base64(sbuf *b, const void *data, size_t n) {
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *in = data;
    size_t out_len = (n + 2) / 3 * 4;
    if (!sb_reserve(b, out_len)) return;
    char *o = b->ptr + b->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *o++ = tbl[v >> 18];
        *o++ = tbl[(v >> 12) & 63];
        *o++ = tbl[(v >> 6) & 63];
        *o++ = tbl[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        *o++ = tbl[v >> 18];
        *o++ = tbl[(v >> 12) & 63];
        *o++ = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    b->len += out_len;
    b->ptr[b->len] = '\0';
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/** Inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/** See jsonw.h. No libc time functions, so no global timezone lock is taken. */
void sb_time(sbuf *b, int64_t unix_ns) {
    int64_t secs = unix_ns / 1000000000;
    int64_t nanos = unix_ns % 1000000000;
    if (nanos < 0) {
        nanos += 1000000000;
        secs -= 1;
    }
    int64_t days = secs / 86400;
    int64_t rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days -= 1;
    }
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) y = y < 0 ? 0 : 9999; /* RFC 3339 years have four digits */
    /* "YYYY-MM-DDTHH:MM:SS.NNNNNNNNNZ" with quotes: 32 bytes */
    char tmp[33] = "\"0000-00-00T00:00:00.000000000Z\"";
    put_digits(tmp + 1, (uint64_t)y, 4);
    put_digits(tmp + 6, (uint64_t)m, 2);
    put_digits(tmp + 9, (uint64_t)d, 2);
    put_digits(tmp + 12, (uint64_t)(rem / 3600), 2);
    put_digits(tmp + 15, (uint64_t)(rem / 60 % 60), 2);
    put_digits(tmp + 18, (uint64_t)(rem % 60), 2);
    put_digits(tmp + 21, (uint64_t)nanos, 9);
    sb_raw(b, tmp, 32);
}

/** See jsonw.h. */
char *sb_dup(const sbuf *b) {
    if (b->oom) return NULL;
    char *out = malloc(b->len + 1);
    if (out != NULL) memcpy(out, b->ptr, b->len + 1);
    return out;
}

/** Read exactly `count` decimal digits at s[*i]; -1 when they are not there. */
static int64_t read_digits(const char *s, size_t n, size_t *i, int count) {
    int64_t v = 0;
    for (int k = 0; k < count; k++) {
        if (*i >= n || s[*i] < '0' || s[*i] > '9') return -1;
        v = v * 10 + (s[(*i)++] - '0');
    }
    return v;
}

/** See jsonw.h. */
bool rfc3339_parse(const char *s, size_t n, int64_t *unix_ns) {
    size_t i = 0;
    int64_t y = read_digits(s, n, &i, 4);
    if (y < 0 || i >= n || s[i++] != '-') return false;
    int64_t mo = read_digits(s, n, &i, 2);
    if (mo < 1 || mo > 12 || i >= n || s[i++] != '-') return false;
    int64_t d = read_digits(s, n, &i, 2);
    if (d < 1 || d > 31 || i >= n) return false;
    char t = s[i++];
    if (t != 'T' && t != 't' && t != ' ') return false;
    int64_t hh = read_digits(s, n, &i, 2);
    if (hh < 0 || hh > 23 || i >= n || s[i++] != ':') return false;
    int64_t mi = read_digits(s, n, &i, 2);
    if (mi < 0 || mi > 59 || i >= n || s[i++] != ':') return false;
    int64_t ss = read_digits(s, n, &i, 2);
    if (ss < 0 || ss > 60) return false; /* 60: leap second, folded into the next minute */
    int64_t frac = 0;
    if (i < n && s[i] == '.') {
        i++;
        int digits = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (digits < 9) {
                frac = frac * 10 + (s[i] - '0');
                digits++;
            }
            i++;
        }
        if (digits == 0) return false;
        while (digits++ < 9) frac *= 10;
    }
    if (i >= n) return false;
    int64_t offset = 0;
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        int sign = s[i++] == '-' ? -1 : 1;
        int64_t oh = read_digits(s, n, &i, 2);
        if (oh < 0 || oh > 23 || i >= n || s[i++] != ':') return false;
        int64_t om = read_digits(s, n, &i, 2);
        if (om < 0 || om > 59) return false;
        offset = sign * (oh * 3600 + om * 60);
    } else {
        return false;
    }
    if (i != n) return false;
    int64_t secs = days_from_civil(y, (int)mo, (int)d) * 86400 + hh * 3600 + mi * 60 + ss - offset;
    /* Nanoseconds in int64 cover 1677..2262; saturate beyond, which keeps `since` ordering. */
    const int64_t limit = INT64_MAX / 1000000000 - 1;
    if (secs > limit) *unix_ns = INT64_MAX;
    else if (secs < -limit) *unix_ns = INT64_MIN;
    else *unix_ns = secs * 1000000000 + frac;
    return true;
}
