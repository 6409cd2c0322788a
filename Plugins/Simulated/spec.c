/*
 * spec.c — decoding an execution spec (the body of `start`) into a new sim_exec.
 *
 * Known keys are type-checked (a wrong type is `invalid_spec` naming the key; `null` counts as
 * absent), unknown keys are ignored for forward compatibility. The simulated run is planned
 * from the SIM_* variables of "env" (docs/simulated.md).
 */
#define _GNU_SOURCE
#include "internal.h"
#include "json.h"
#include "jsonw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/** Largest SIM_LINES / SIM_STDERR_LINES accepted. */
#define SIM_MAX_LINES 1000000u
/** Largest SIM_SECONDS accepted (about 115 days). */
#define SIM_MAX_SECONDS 10000000

/** The value of member `key` unless absent or null. */
static const json_value *get_present(const json_value *obj, const char *key) {
    const json_value *v = json_get(obj, key);
    return v != NULL && v->type != JSON_NULL ? v : NULL;
}

/** True when `v` is an object whose every member is a string. */
static bool is_string_map(const json_value *v) {
    if (v->type != JSON_OBJECT) return false;
    for (size_t i = 0; i < v->u.object.count; i++) {
        if (v->u.object.members[i].value->type != JSON_STRING) return false;
    }
    return true;
}

/** True when `v` is an array whose every item is a string. */
static bool is_string_array(const json_value *v) {
    if (v->type != JSON_ARRAY) return false;
    for (size_t i = 0; i < v->u.array.count; i++) {
        if (v->u.array.items[i]->type != JSON_STRING) return false;
    }
    return true;
}

/** Parse "12", "0.25", "3." or ".5" (seconds) into nanoseconds; false when malformed. */
static bool parse_seconds(const char *s, size_t n, int64_t *out_ns) {
    int64_t whole = 0, frac = 0;
    int frac_digits = 0;
    size_t i = 0, digits = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
        whole = whole * 10 + (s[i] - '0');
        if (whole > SIM_MAX_SECONDS) return false;
    }
    if (i < n && s[i] == '.') {
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
            if (frac_digits < 9) {
                frac = frac * 10 + (s[i] - '0');
                frac_digits++;
            }
        }
    }
    if (i != n || digits == 0) return false;
    while (frac_digits++ < 9) frac *= 10;
    *out_ns = whole * 1000000000 + frac;
    return true;
}

/** Parse an optionally signed decimal integer within [min, max]; false when malformed. */
static bool parse_int(const char *s, size_t n, int64_t min, int64_t max, int64_t *out) {
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
    if (i == n) return false;
    int64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
        if (v > max && v > -min) return false;
    }
    v = neg ? -v : v;
    if (v < min || v > max) return false;
    *out = v;
    return true;
}

/** The ABI's static error code equal to `code`, or NULL when it is not one of them. */
static const char *known_error_code(const char *code) {
    static const char *const codes[] = {
        BERTH_ERROR_INVALID_CONFIG,    BERTH_ERROR_INVALID_SPEC, BERTH_ERROR_IMAGE_NOT_FOUND,
        BERTH_ERROR_NOT_FOUND,         BERTH_ERROR_UNAVAILABLE,  BERTH_ERROR_TIMEOUT,
        BERTH_ERROR_PERMISSION_DENIED, BERTH_ERROR_INTERNAL,
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        if (strcmp(code, codes[i]) == 0) return codes[i];
    }
    return NULL;
}

/**
 * Read the SIM_* knobs of `env` (may be NULL) into `e`. On a malformed value returns false with
 * a message; on SIM_FAIL_START returns false with that code.
 */
static bool read_knobs(const json_value *env, const json_value *image, sim_exec *e,
                       const char **code, char *msg, size_t msg_len) {
    e->duration_ns = 0;
    e->out_total = e->err_total = 0;
    e->exit_plan = 0;
    if (env == NULL) return true;
    const json_value *v;
    int64_t x;
    if ((v = json_get(env, "SIM_SECONDS")) != NULL &&
        !parse_seconds(v->u.string.ptr, v->u.string.len, &e->duration_ns)) {
        snprintf(msg, msg_len, "env SIM_SECONDS must be decimal seconds between 0 and %d, not "
                 "\"%.64s\"", SIM_MAX_SECONDS, v->u.string.ptr);
        return false;
    }
    if ((v = json_get(env, "SIM_LINES")) != NULL) {
        if (!parse_int(v->u.string.ptr, v->u.string.len, 0, SIM_MAX_LINES, &x)) {
            snprintf(msg, msg_len, "env SIM_LINES must be an integer between 0 and %u, not "
                     "\"%.64s\"", SIM_MAX_LINES, v->u.string.ptr);
            return false;
        }
        e->out_total = (uint32_t)x;
    }
    if ((v = json_get(env, "SIM_STDERR_LINES")) != NULL) {
        if (!parse_int(v->u.string.ptr, v->u.string.len, 0, SIM_MAX_LINES, &x)) {
            snprintf(msg, msg_len, "env SIM_STDERR_LINES must be an integer between 0 and %u, "
                     "not \"%.64s\"", SIM_MAX_LINES, v->u.string.ptr);
            return false;
        }
        e->err_total = (uint32_t)x;
    }
    if ((v = json_get(env, "SIM_EXIT")) != NULL) {
        if (!parse_int(v->u.string.ptr, v->u.string.len, INT32_MIN, INT32_MAX, &x)) {
            snprintf(msg, msg_len, "env SIM_EXIT must be an integer exit code, not \"%.64s\"",
                     v->u.string.ptr);
            return false;
        }
        e->exit_plan = (int)x;
    }
    if ((v = json_get(env, "SIM_FAIL_START")) != NULL) {
        const char *want = v->u.string.ptr;
        const char *known = known_error_code(want);
        /* Any other value fails as `internal`, so a typo still fails the start visibly. */
        *code = known != NULL ? known : BERTH_ERROR_INTERNAL;
        snprintf(msg, msg_len, "simulated start failure of image \"%.200s\" (SIM_FAIL_START=%.64s)",
                 image->u.string.ptr, want);
        return false;
    }
    return true;
}

/** Copy a label into `l`; false when out of memory. */
static bool label_set(sim_label *l, const char *k, size_t kl, const char *v, size_t vl) {
    l->key = malloc(kl + 1);
    l->value = malloc(vl + 1);
    if (l->key == NULL || l->value == NULL) return false;
    memcpy(l->key, k, kl);
    l->key[kl] = '\0';
    memcpy(l->value, v, vl);
    l->value[vl] = '\0';
    l->key_len = kl;
    l->value_len = vl;
    return true;
}

/** True for the label keys the plugin sets itself. */
static bool is_berth_label(const char *k, size_t kl) {
    return json_str_eq(k, kl, "berth.execution") || json_str_eq(k, kl, "berth.attempt") ||
           json_str_eq(k, kl, "berth.server");
}

/** Build e->labels and e->labels_json: the spec's labels plus berth.execution/attempt/server. */
static bool build_labels(const berth_instance_t *inst, sim_exec *e, const json_value *labels,
                         const json_value *exec_id, int64_t attempt) {
    size_t given = labels != NULL ? labels->u.object.count : 0;
    e->labels = calloc(given + 3, sizeof(sim_label));
    if (e->labels == NULL) return false;
    for (size_t i = 0; i < given; i++) {
        const json_member *m = &labels->u.object.members[i];
        if (is_berth_label(m->key, m->key_len)) continue;
        /* A duplicate key keeps its last value, as most JSON decoders do. */
        size_t slot = e->label_count;
        for (size_t j = 0; j < e->label_count; j++) {
            if (e->labels[j].key_len == m->key_len &&
                memcmp(e->labels[j].key, m->key, m->key_len) == 0) {
                slot = j;
                free(e->labels[j].key);
                free(e->labels[j].value);
            }
        }
        if (!label_set(&e->labels[slot], m->key, m->key_len, m->value->u.string.ptr,
                       m->value->u.string.len)) {
            if (slot == e->label_count) e->label_count++;
            return false;
        }
        if (slot == e->label_count) e->label_count++;
    }
    char attempt_text[24];
    int an = snprintf(attempt_text, sizeof attempt_text, "%lld", (long long)attempt);
    if (!label_set(&e->labels[e->label_count++], "berth.execution", 15, exec_id->u.string.ptr,
                   exec_id->u.string.len) ||
        !label_set(&e->labels[e->label_count++], "berth.attempt", 13, attempt_text, (size_t)an) ||
        !label_set(&e->labels[e->label_count++], "berth.server", 12, inst->server,
                   strlen(inst->server))) {
        return false;
    }
    sbuf b;
    sb_init(&b);
    sb_lit(&b, "{");
    for (size_t i = 0; i < e->label_count; i++) {
        if (i > 0) sb_lit(&b, ",");
        sb_str(&b, e->labels[i].key, e->labels[i].key_len);
        sb_lit(&b, ":");
        sb_str(&b, e->labels[i].value, e->labels[i].value_len);
    }
    sb_lit(&b, "}");
    e->labels_json = sb_dup(&b);
    e->labels_json_len = b.len;
    sb_free(&b);
    return e->labels_json != NULL;
}

/** Free an execution and everything it owns (it must be unlinked from every list). */
void sim_exec_free(sim_exec *e) {
    if (e == NULL) return;
    for (size_t i = 0; i < e->label_count; i++) {
        free(e->labels[i].key);
        free(e->labels[i].value);
    }
    free(e->labels);
    free(e->labels_json);
    free(e->lines);
    free(e);
}

/** Check the type of optional key `key`: `ok` tells whether its present value fits. */
#define CHECK_OPTIONAL(key, ok, what)                                                         \
    do {                                                                                      \
        const json_value *v_ = get_present(root, key);                                        \
        if (v_ != NULL && !(ok)) {                                                            \
            snprintf(msg, msg_len, "\"%s\" must be %s", key, what);                           \
            return NULL;                                                                      \
        }                                                                                     \
    } while (0)

/** See internal.h. */
sim_exec *sim_exec_from_spec(const berth_instance_t *inst, const json_value *root,
                             const char **code, char *msg, size_t msg_len) {
    *code = BERTH_ERROR_INVALID_SPEC;
    if (root->type != JSON_OBJECT) {
        snprintf(msg, msg_len, "the execution spec must be a JSON object, not %s",
                 json_type_name(root->type));
        return NULL;
    }
    const json_value *exec_id = get_present(root, "execution_id");
    if (exec_id == NULL || exec_id->type != JSON_STRING || exec_id->u.string.len == 0) {
        snprintf(msg, msg_len, "\"execution_id\" must be a non-empty string");
        return NULL;
    }
    const json_value *attempt = get_present(root, "attempt");
    if (attempt == NULL || attempt->type != JSON_NUMBER || !attempt->u.number.is_integer) {
        snprintf(msg, msg_len, "\"attempt\" must be an integer");
        return NULL;
    }
    const json_value *image = get_present(root, "image");
    if (image == NULL || image->type != JSON_STRING || image->u.string.len == 0) {
        snprintf(msg, msg_len, "\"image\" must be a non-empty string");
        return NULL;
    }
    CHECK_OPTIONAL("command", is_string_array(v_), "an array of strings");
    CHECK_OPTIONAL("args", is_string_array(v_), "an array of strings");
    CHECK_OPTIONAL("env", is_string_map(v_), "an object of strings");
    CHECK_OPTIONAL("labels", is_string_map(v_), "an object of strings");
    CHECK_OPTIONAL("working_dir", v_->type == JSON_STRING, "a string");
    CHECK_OPTIONAL("network_mode", v_->type == JSON_STRING, "a string");
    CHECK_OPTIONAL("pull_policy", v_->type == JSON_STRING, "a string");
    CHECK_OPTIONAL("cpus", v_->type == JSON_NUMBER && v_->u.number.value >= 0,
                   "a number >= 0");
    CHECK_OPTIONAL("memory_bytes", v_->type == JSON_NUMBER && v_->u.number.value >= 0,
                   "a number >= 0");

    sim_exec *e = calloc(1, sizeof *e);
    if (e == NULL) {
        *code = BERTH_ERROR_INTERNAL;
        snprintf(msg, msg_len, "out of memory");
        return NULL;
    }
    e->heap_index = SIZE_MAX;
    if (!read_knobs(get_present(root, "env"), image, e, code, msg, msg_len)) {
        sim_exec_free(e);
        return NULL;
    }
    if (image->u.string.len >= 8 && memcmp(image->u.string.ptr, "missing/", 8) == 0) {
        *code = BERTH_ERROR_IMAGE_NOT_FOUND;
        snprintf(msg, msg_len, "image \"%.200s\" not found", image->u.string.ptr);
        sim_exec_free(e);
        return NULL;
    }
    if (!build_labels(inst, e, get_present(root, "labels"), exec_id,
                      attempt->u.number.integer)) {
        *code = BERTH_ERROR_INTERNAL;
        snprintf(msg, msg_len, "out of memory");
        sim_exec_free(e);
        return NULL;
    }
    return e;
}
