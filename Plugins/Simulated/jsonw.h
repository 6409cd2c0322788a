/*
 * jsonw.h — a growable byte buffer with JSON writing helpers, base64 and RFC 3339 time, for
 * the Simulated plugin. Nothing here is exported.
 *
 * A buffer starts in its inline storage, so short responses (an inspect status, an error)
 * need no heap memory. Running out of memory sets `oom` and turns further appends into no-ops;
 * callers check `oom` before using the result.
 */
#ifndef SIM_JSONW_H
#define SIM_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#pragma GCC visibility push(hidden)

typedef struct sbuf {
    char *ptr;
    size_t len;
    size_t cap;
    bool oom;
    char inline_buf[384];
} sbuf;

/** Start an empty buffer in its inline storage. */
void sb_init(sbuf *b);
/** Free heap storage, if any. */
void sb_free(sbuf *b);
/** Append raw bytes. */
void sb_raw(sbuf *b, const char *s, size_t n);
/** Append a NUL-terminated string verbatim. */
void sb_lit(sbuf *b, const char *s);
/** Append `s` as a quoted, escaped JSON string. */
void sb_str(sbuf *b, const char *s, size_t n);
/** Append a NUL-terminated string as a quoted, escaped JSON string. */
void sb_cstr(sbuf *b, const char *s);
/** Append an integer. */
void sb_int(sbuf *b, int64_t v);
/** Append a finite number in the shortest form that reads back identically. */
void sb_num(sbuf *b, double v);
/** Append the base64 (RFC 4648, padded) encoding of `n` bytes, without quotes. */
void sb_base64(sbuf *b, const void *data, size_t n);
/** Append a quoted RFC 3339 UTC time with nanoseconds: "2024-05-01T12:00:00.000000000Z". */
void sb_time(sbuf *b, int64_t unix_ns);
/** A malloc'd copy of the contents (NUL-terminated) or NULL when out of memory. */
char *sb_dup(const sbuf *b);

/**
 * Parse an RFC 3339 date-time ("2024-05-01T12:00:00Z", fractions up to nanoseconds, "Z" or
 * a "+hh:mm"/"-hh:mm" offset) into nanoseconds since the Unix epoch. False when malformed.
 */
bool rfc3339_parse(const char *s, size_t n, int64_t *unix_ns);

#pragma GCC visibility pop

#endif /* SIM_JSONW_H */
