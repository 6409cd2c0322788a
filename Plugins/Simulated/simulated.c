/*
 * simulated.c — the Simulated backend's descriptor, settings, open/close, health and capacity.
 *
 * The Simulated backend runs no processes: every execution is a timer-driven script (see
 * docs/simulated.md) so the host can be exercised and load-tested without an engine.
 */
#define _GNU_SOURCE
#include "include/berth_simulated.h"

#include "internal.h"
#include "json.h"
#include "jsonw.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/** JSON Schema of the settings `open` accepts: exactly what parse_settings enforces. */
static const char settings_schema[] =
    "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\","
    "\"title\":\"Simulated backend settings\","
    "\"type\":\"object\","
    "\"properties\":{"
    "\"max_concurrent\":{\"type\":\"integer\",\"minimum\":1,\"default\":4,"
    "\"description\":\"Executions this host should run at once (the host enforces it).\"},"
    "\"cpus\":{\"type\":\"number\",\"minimum\":0,\"default\":2,"
    "\"description\":\"CPUs the simulated engine reports.\"},"
    "\"memory_bytes\":{\"type\":\"integer\",\"minimum\":0,\"default\":4294967296,"
    "\"description\":\"Memory the simulated engine reports, in bytes.\"},"
    "\"start_delay_ms\":{\"type\":\"integer\",\"minimum\":0,\"default\":0,"
    "\"description\":\"Time between start and running, in milliseconds.\"},"
    "\"host\":{\"type\":\"string\",\"description\":\"Target host name (added by the host).\"},"
    "\"server\":{\"type\":\"string\",\"description\":\"Berth server id (added by the host).\"}"
    "},"
    "\"additionalProperties\":false}";

/* ---- time ---- */

/** Monotonic clock in nanoseconds (timers). */
int64_t sim_now_mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/** Wall clock in nanoseconds since the Unix epoch (timestamps). */
int64_t sim_now_real(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- error bodies ---- */

/** True for the error codes a caller may retry. */
static bool code_retryable(const char *code) {
    return strcmp(code, BERTH_ERROR_UNAVAILABLE) == 0 || strcmp(code, BERTH_ERROR_TIMEOUT) == 0;
}

/** Build {"code","message","retryable"} into `b` from a va_list message. */
static void write_error(sbuf *b, const char *code, const char *fmt, va_list ap) {
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    sb_lit(b, "{\"code\":");
    sb_cstr(b, code);
    sb_lit(b, ",\"message\":");
    sb_cstr(b, msg);
    sb_lit(b, code_retryable(code) ? ",\"retryable\":true}" : ",\"retryable\":false}");
}

/** See internal.h. */
void sim_reply_error(berth_completion_fn done, void *context, const char *code, const char *fmt,
                     ...) {
    sbuf b;
    sb_init(&b);
    va_list ap;
    va_start(ap, fmt);
    write_error(&b, code, fmt, ap);
    va_end(ap);
    if (b.oom) {
        static const char oom[] =
            "{\"code\":\"internal\",\"message\":\"out of memory\",\"retryable\":true}";
        done(context, BERTH_STATUS_ERROR, oom, sizeof oom - 1);
    } else {
        done(context, BERTH_STATUS_ERROR, b.ptr, b.len);
    }
    sb_free(&b);
}

/** See internal.h. */
char *sim_error_body(const char *code, size_t *len, const char *fmt, ...) {
    sbuf b;
    sb_init(&b);
    va_list ap;
    va_start(ap, fmt);
    write_error(&b, code, fmt, ap);
    va_end(ap);
    char *out = sb_dup(&b);
    *len = out != NULL ? b.len : 0;
    sb_free(&b);
    return out;
}

/* ---- settings ---- */

/** Settings parsed from the open request. */
typedef struct settings {
    int64_t max_concurrent;
    double cpus;
    int64_t memory_bytes;
    int64_t start_delay_ms;
    const char *host; /* points into the parsed document */
    const char *server;
} settings;

/**
 * Validate the open request against the schema. On failure writes a message naming the key
 * into `msg` and returns false.
 */
static bool parse_settings(const json_value *root, settings *out, char *msg, size_t msg_len) {
    out->max_concurrent = 4;
    out->cpus = 2;
    out->memory_bytes = (int64_t)4 << 30;
    out->start_delay_ms = 0;
    out->host = "";
    out->server = "";
    if (root->type != JSON_OBJECT) {
        snprintf(msg, msg_len, "settings must be a JSON object, not %s",
                 json_type_name(root->type));
        return false;
    }
    for (size_t i = 0; i < root->u.object.count; i++) {
        const json_member *m = &root->u.object.members[i];
        const json_value *v = m->value;
        const char *k = m->key;
        size_t kl = m->key_len;
        bool is_int = v->type == JSON_NUMBER && v->u.number.is_integer;
        if (json_str_eq(k, kl, "max_concurrent")) {
            if (!is_int || v->u.number.integer < 1) {
                snprintf(msg, msg_len, "setting \"max_concurrent\" must be an integer >= 1");
                return false;
            }
            out->max_concurrent = v->u.number.integer;
        } else if (json_str_eq(k, kl, "cpus")) {
            if (v->type != JSON_NUMBER || v->u.number.value < 0) {
                snprintf(msg, msg_len, "setting \"cpus\" must be a number >= 0");
                return false;
            }
            out->cpus = v->u.number.value;
        } else if (json_str_eq(k, kl, "memory_bytes")) {
            if (!is_int || v->u.number.integer < 0) {
                snprintf(msg, msg_len, "setting \"memory_bytes\" must be an integer >= 0");
                return false;
            }
            out->memory_bytes = v->u.number.integer;
        } else if (json_str_eq(k, kl, "start_delay_ms")) {
            if (!is_int || v->u.number.integer < 0) {
                snprintf(msg, msg_len, "setting \"start_delay_ms\" must be an integer >= 0");
                return false;
            }
            /* Cap at ~100 days so the nanosecond arithmetic cannot overflow. */
            int64_t cap = (int64_t)100 * 24 * 3600 * 1000;
            out->start_delay_ms = v->u.number.integer < cap ? v->u.number.integer : cap;
        } else if (json_str_eq(k, kl, "host") || json_str_eq(k, kl, "server")) {
            if (v->type != JSON_STRING) {
                snprintf(msg, msg_len, "setting \"%s\" must be a string, not %s", k,
                         json_type_name(v->type));
                return false;
            }
            if (k[0] == 'h') out->host = v->u.string.ptr;
            else out->server = v->u.string.ptr;
        } else {
            snprintf(msg, msg_len,
                     "unknown setting \"%.200s\" (known: max_concurrent, cpus, memory_bytes, "
                     "start_delay_ms, host, server)",
                     k);
            return false;
        }
    }
    return true;
}

/* ---- operations ---- */

/** Free an instance's memory after its worker has stopped. */
static void instance_free(berth_instance_t *inst) {
    sim_free_execs(inst);
    free(inst->buckets);
    free(inst->heap);
    free(inst->host);
    free(inst->server);
    pthread_cond_destroy(&inst->cv);
    pthread_mutex_destroy(&inst->mu);
    free(inst);
}

/** Report an open error with a freshly formatted body. */
static void open_error(berth_open_completion_fn done, void *context, const char *code,
                       const char *message) {
    size_t len = 0;
    char *body = sim_error_body(code, &len, "%s", message);
    done(context, BERTH_STATUS_ERROR, NULL, body, len);
    free(body);
}

/** berth_plugin_v1_t.open: validate settings, create the instance and start its worker. */
static void op_open(const berth_plugin_v1_t *plugin, const char *text, size_t len, void *context,
                    berth_open_completion_fn done) {
    (void)plugin;
    char msg[512];
    json_doc doc;
    if (!json_parse(&doc, text, len, msg, sizeof msg)) {
        json_doc_free(&doc);
        open_error(done, context, BERTH_ERROR_INVALID_CONFIG, msg);
        return;
    }
    settings st;
    if (!parse_settings(doc.root, &st, msg, sizeof msg)) {
        json_doc_free(&doc);
        open_error(done, context, BERTH_ERROR_INVALID_CONFIG, msg);
        return;
    }
    berth_instance_t *inst = calloc(1, sizeof *inst);
    bool ok = inst != NULL;
    if (ok) {
        inst->max_concurrent = st.max_concurrent;
        inst->cpus = st.cpus;
        inst->memory_bytes = st.memory_bytes;
        inst->start_delay_ms = st.start_delay_ms;
        inst->host = strdup(st.host);
        inst->server = strdup(st.server);
        inst->next_n = 1;
        inst->bucket_count = 64;
        inst->buckets = calloc(inst->bucket_count, sizeof(sim_exec *));
        ok = inst->host != NULL && inst->server != NULL && inst->buckets != NULL;
    }
    json_doc_free(&doc);
    if (!ok) {
        if (inst != NULL) {
            free(inst->host);
            free(inst->server);
            free(inst->buckets);
            free(inst);
        }
        open_error(done, context, BERTH_ERROR_INTERNAL, "out of memory");
        return;
    }
    pthread_mutex_init(&inst->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&inst->cv, &attr);
    pthread_condattr_destroy(&attr);
    int rc = pthread_create(&inst->worker, NULL, sim_worker_main, inst);
    if (rc != 0) {
        instance_free(inst);
        snprintf(msg, sizeof msg, "cannot start the worker thread: %s", strerror(rc));
        open_error(done, context, BERTH_ERROR_INTERNAL, msg);
        return;
    }
    done(context, BERTH_STATUS_OK, inst, NULL, 0);
}

/**
 * berth_plugin_v1_t.close: end every stream still open (their end callbacks come from the
 * worker), stop the worker and free the instance. When called from inside a callback on the
 * worker thread itself, the worker finishes the job after that callback returns.
 */
static void op_close(berth_instance_t *inst, void *context, berth_completion_fn done) {
    pthread_mutex_lock(&inst->mu);
    inst->closing = true;
    inst->close_context = context;
    inst->close_done = done;
    bool on_worker = pthread_equal(pthread_self(), inst->worker);
    inst->close_from_worker = on_worker;
    pthread_cond_signal(&inst->cv);
    pthread_mutex_unlock(&inst->mu);
    if (on_worker) {
        pthread_detach(pthread_self());
        return; /* sim_worker_main frees the instance and calls done */
    }
    pthread_join(inst->worker, NULL);
    instance_free(inst);
    done(context, BERTH_STATUS_OK, NULL, 0);
}

/** See internal.h: the worker's exit path for a close made on its own thread. */
void sim_finish_close_on_worker(berth_instance_t *inst) {
    void *context = inst->close_context;
    berth_completion_fn done = inst->close_done;
    instance_free(inst);
    done(context, BERTH_STATUS_OK, NULL, 0);
}

/** berth_plugin_v1_t.health: always ok; completes synchronously. */
static void op_health(berth_instance_t *inst, void *context, berth_completion_fn done) {
    sbuf b;
    sb_init(&b);
    sb_lit(&b, "{\"ok\":true,\"message\":\"simulated\",\"engine_version\":\"simulated-1.0.0\","
               "\"cpus\":");
    sb_num(&b, inst->cpus); /* settings are immutable after open: no lock needed */
    sb_lit(&b, ",\"memory_bytes\":");
    sb_int(&b, inst->memory_bytes);
    sb_lit(&b, "}");
    done(context, BERTH_STATUS_OK, b.ptr, b.len);
    sb_free(&b);
}

/** berth_plugin_v1_t.capacity: "running" counts executions not yet exited. */
static void op_capacity(berth_instance_t *inst, void *context, berth_completion_fn done) {
    pthread_mutex_lock(&inst->mu);
    int64_t active = inst->active;
    pthread_mutex_unlock(&inst->mu);
    sbuf b;
    sb_init(&b);
    sb_lit(&b, "{\"max_concurrent\":");
    sb_int(&b, inst->max_concurrent);
    sb_lit(&b, ",\"running\":");
    sb_int(&b, active);
    sb_lit(&b, ",\"cpus\":");
    sb_num(&b, inst->cpus);
    sb_lit(&b, ",\"memory_bytes\":");
    sb_int(&b, inst->memory_bytes);
    sb_lit(&b, "}");
    done(context, BERTH_STATUS_OK, b.ptr, b.len);
    sb_free(&b);
}

/** The constant descriptor. */
static const berth_plugin_v1_t descriptor = {
    .abi_version = BERTH_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(berth_plugin_v1_t),
    .name = "simulated",
    .version = "1.0.0",
    .settings_schema = settings_schema,
    .plugin_data = NULL,
    .open = op_open,
    .close = op_close,
    .health = op_health,
    .capacity = op_capacity,
    .start = sim_start,
    .inspect = sim_inspect,
    .stop = sim_stop,
    .remove = sim_remove,
    .list = sim_list,
    .logs = sim_logs,
    .events = sim_events,
    .stream_cancel = sim_stream_cancel,
    .stream_release = sim_stream_release,
};

/** The one exported symbol. */
const berth_plugin_v1_t *berth_plugin_v1(void) { return &descriptor; }
