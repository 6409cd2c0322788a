/*
 * json.h — a small JSON parser for the Simulated plugin (RFC 8259).
 *
 * The parser builds a read-only tree in an arena owned by a `json_doc`; freeing the document
 * frees every value at once. Strings are decoded (escapes, \uXXXX and surrogate pairs), stored
 * with their length and NUL-terminated. Input must be valid UTF-8; nesting is limited to
 * JSON_MAX_DEPTH so hostile input cannot exhaust the stack. Nothing here is exported.
 */
#ifndef SIM_JSON_H
#define SIM_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#pragma GCC visibility push(hidden)

/** Deepest nesting of arrays and objects the parser accepts. */
#define JSON_MAX_DEPTH 64

typedef enum json_type {
    JSON_NULL,
    JSON_BOOL,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
} json_type;

typedef struct json_value json_value;

/** One member of an object, in document order. */
typedef struct json_member {
    const char *key; /* NUL-terminated; may contain NUL bytes, see key_len */
    size_t key_len;
    json_value *value;
} json_member;

struct json_value {
    json_type type;
    union {
        bool boolean;
        struct {
            double value;
            bool is_integer; /* no fractional part and fits in int64 */
            int64_t integer; /* valid when is_integer */
        } number;
        struct {
            const char *ptr; /* NUL-terminated */
            size_t len;
        } string;
        struct {
            json_value **items;
            size_t count;
        } array;
        struct {
            json_member *members;
            size_t count;
        } object;
    } u;
};

/** Arena chunk (internal). */
typedef struct json_chunk json_chunk;

/**
 * A parsed document. Lives on the caller's stack; small documents need no heap memory at all
 * thanks to the inline buffer.
 */
typedef struct json_doc {
    json_value *root;
    json_chunk *chunks; /* heap chunks, freed by json_doc_free */
    char *cur;          /* bump pointer in the current chunk */
    char *end;
    _Alignas(16) char inline_buf[1024];
} json_doc;

/**
 * Parse `len` bytes of `text` into `doc`. On failure returns false, writes a human-readable
 * reason (with the byte offset) into `err`, and leaves `doc` safe to pass to json_doc_free.
 */
bool json_parse(json_doc *doc, const char *text, size_t len, char *err, size_t err_len);

/** Free everything a document holds (not the json_doc itself). */
void json_doc_free(json_doc *doc);

/** The last member of object `obj` named `key`, or NULL (also when `obj` is not an object). */
const json_value *json_get(const json_value *obj, const char *key);

/** True when `s` (with length) equals the NUL-terminated `lit`. */
bool json_str_eq(const char *s, size_t len, const char *lit);

/** Human-readable name of a type ("string", "object", ...), for error messages. */
const char *json_type_name(json_type type);

#pragma GCC visibility pop

#endif /* SIM_JSON_H */
