/*
 * json.h — the little JSON the example plugin needs: a parser into a tree, lookups, and a
 * growing buffer to write answers in. Not a general library: numbers are doubles, strings are
 * NUL-terminated copies (a string holding "\u0000" is refused).
 */
#ifndef EXAMPLE_JSON_H
#define EXAMPLE_JSON_H

#include <stddef.h>

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

typedef struct json_value {
    json_type type;
    int boolean;
    double number;
    char *string;              /* JSON_STRING */
    struct json_value **items; /* JSON_ARRAY: the elements; JSON_OBJECT: the values */
    char **keys;               /* JSON_OBJECT: the keys, parallel to items */
    size_t count;
} json_value;

/* Parses `len` bytes; NULL on error, with a message in `error`. Free with json_free. */
json_value *json_parse(const char *text, size_t len, char *error, size_t error_len);
void json_free(json_value *value);
/* The member `key` of an object, or NULL (also when `object` is not an object). */
const json_value *json_get(const json_value *object, const char *key);

/* A growing, NUL-terminated byte buffer. */
typedef struct {
    char *data;
    size_t len, cap;
} json_buf;

void buf_add(json_buf *buf, const char *bytes, size_t len);
/* Appends a string literal. */
#define buf_lit(buf, text) buf_add((buf), (text), sizeof(text) - 1)
void buf_printf(json_buf *buf, const char *format, ...) __attribute__((format(printf, 2, 3)));
/* Appends `text` (of `len` bytes) as a JSON string literal, escaped. */
void buf_string(json_buf *buf, const char *text, size_t len);
/* Appends `value` as JSON. */
void buf_value(json_buf *buf, const json_value *value);
/* Appends `len` bytes as standard base64. */
void buf_base64(json_buf *buf, const unsigned char *bytes, size_t len);

#endif
