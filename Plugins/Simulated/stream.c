/*
 * stream.c — logs and events streams, and the instance's worker thread.
 *
 * A stream's items are queued under the instance mutex and delivered only by the worker, which
 * takes a stream's queued batch, unlocks, calls the callbacks, and relocks. So a stream's
 * callbacks never run concurrently, items never follow the end, and no lock is held during a
 * callback. The stream is freed when it has been released AND its end callback has returned,
 * whichever comes last.
 */
#define _GNU_SOURCE
#include "internal.h"
#include "json.h"
#include "jsonw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- queue and lifecycle (all need inst->mu) ---- */

/** Put `s` on the worker's ready list (once) and wake the worker. */
static void ready_add_locked(berth_stream_t *s) {
    berth_instance_t *inst = s->inst;
    if (s->in_ready) return;
    s->in_ready = true;
    s->ready_next = NULL;
    if (inst->ready_tail != NULL) inst->ready_tail->ready_next = s;
    else inst->ready_head = s;
    inst->ready_tail = s;
    pthread_cond_signal(&inst->cv);
}

/** Free the queued items of `s`. */
static void drop_items_locked(berth_stream_t *s) {
    sim_item *it = s->q_head;
    while (it != NULL) {
        sim_item *next = it->next;
        free(it);
        it = next;
    }
    s->q_head = s->q_tail = NULL;
}

/** See internal.h. */
void sim_stream_push_locked(berth_stream_t *s, const char *data, size_t len) {
    if (s->end_queued) return;
    sim_item *it = malloc(sizeof(sim_item) + len);
    if (it == NULL) return; /* item lost under memory pressure; the stream goes on */
    it->next = NULL;
    it->len = len;
    memcpy(it->data, data, len);
    if (s->q_tail != NULL) s->q_tail->next = it;
    else s->q_head = it;
    s->q_tail = it;
    ready_add_locked(s);
}

/** Unlink `s` from its source list (an execution's followers or the instance's events). */
static void unlink_source_locked(berth_stream_t *s) {
    berth_stream_t **head = NULL;
    if (s->kind == SIM_STREAM_LOGS && s->exec != NULL) head = &s->exec->followers;
    else if (s->kind == SIM_STREAM_EVENTS) head = &s->inst->events_head;
    if (head == NULL) return;
    bool linked = s->src_prev != NULL || *head == s;
    if (!linked) return;
    if (s->src_prev != NULL) s->src_prev->src_next = s->src_next;
    else *head = s->src_next;
    if (s->src_next != NULL) s->src_next->src_prev = s->src_prev;
    s->src_prev = s->src_next = NULL;
    s->exec = NULL;
}

/** Link `s` at the head of a source list. */
static void link_source_locked(berth_stream_t **head, berth_stream_t *s) {
    s->src_prev = NULL;
    s->src_next = *head;
    if (*head != NULL) (*head)->src_prev = s;
    *head = s;
}

/** See internal.h. */
void sim_stream_finish_locked(berth_stream_t *s, berth_status_t status, const char *body,
                              size_t len) {
    if (s->end_queued) return;
    s->end_queued = true;
    s->end_status = status;
    if (len > 0) {
        s->end_body = malloc(len);
        if (s->end_body != NULL) {
            memcpy(s->end_body, body, len);
            s->end_len = len;
        }
    }
    unlink_source_locked(s);
    ready_add_locked(s);
}

/** Free a stream that is released and ended. */
static void stream_free_locked(berth_stream_t *s) {
    drop_items_locked(s);
    free(s->end_body);
    free(s);
}

/** Allocate a stream and count it as unended on its instance. NULL when out of memory. */
static berth_stream_t *stream_new_locked(berth_instance_t *inst, sim_stream_kind kind, void *ctx,
                                         berth_stream_item_fn item, berth_stream_end_fn end) {
    berth_stream_t *s = calloc(1, sizeof *s);
    if (s == NULL) return NULL;
    s->inst = inst;
    s->kind = kind;
    s->context = ctx;
    s->item_fn = item;
    s->end_fn = end;
    s->since_ns = INT64_MIN;
    atomic_init(&s->cancelled, false);
    inst->streams_unended++;
    return s;
}

/**
 * Last resort when even a stream cannot be allocated: the ABI requires a non-NULL handle and an
 * end, so hand out a static stream whose end is delivered right away (release/cancel ignore it).
 */
static berth_stream_t oom_stream;

/** Deliver an out-of-memory end synchronously and return the static stream. */
static berth_stream_t *oom_stream_end(void *ctx, berth_stream_end_fn end) {
    static const char body[] = "{\"code\":\"internal\",\"message\":\"out of memory\","
                               "\"retryable\":true}";
    end(ctx, BERTH_STATUS_ERROR, body, sizeof body - 1);
    return &oom_stream;
}

/* ---- operations ---- */

/** Queue an error end on `s` with a formatted body. */
static void finish_error_locked(berth_stream_t *s, const char *code, const char *message) {
    size_t len = 0;
    char *body = sim_error_body(code, &len, "%s", message);
    sim_stream_finish_locked(s, BERTH_STATUS_ERROR, body, len);
    free(body);
}

/**
 * Decode a logs request into the execution id, follow and since. On failure writes the error
 * code and message and returns false. A handle that is not ours yields id 0.
 */
static bool parse_logs_request(const char *req, size_t len, uint64_t *n, bool *follow,
                               int64_t *since, const char **code, char *msg, size_t msg_len) {
    json_doc doc;
    bool ok = false;
    *code = BERTH_ERROR_INVALID_SPEC;
    if (!json_parse(&doc, req, len, msg, msg_len)) goto out;
    const json_value *handle = json_get(doc.root, "handle");
    const json_value *fol = json_get(doc.root, "follow");
    const json_value *sin = json_get(doc.root, "since");
    if (doc.root->type != JSON_OBJECT || handle == NULL || handle->type != JSON_OBJECT) {
        snprintf(msg, msg_len, "a logs request must be {\"handle\": {..}, \"follow\": bool, "
                               "\"since\": RFC 3339?}");
        goto out;
    }
    if (fol != NULL && fol->type != JSON_BOOL && fol->type != JSON_NULL) {
        snprintf(msg, msg_len, "\"follow\" must be a boolean");
        goto out;
    }
    *follow = fol != NULL && fol->type == JSON_BOOL && fol->u.boolean;
    *since = INT64_MIN;
    if (sin != NULL && sin->type != JSON_NULL &&
        (sin->type != JSON_STRING || !rfc3339_parse(sin->u.string.ptr, sin->u.string.len, since))) {
        snprintf(msg, msg_len, "\"since\" must be an RFC 3339 date-time");
        goto out;
    }
    *n = sim_handle_id(handle);
    if (*n == 0) {
        *code = BERTH_ERROR_NOT_FOUND;
        const json_value *id = json_get(handle, "id");
        snprintf(msg, msg_len, "no simulated execution \"%.100s\"",
                 id != NULL && id->type == JSON_STRING ? id->u.string.ptr : "(no id)");
        goto out;
    }
    ok = true;
out:
    json_doc_free(&doc);
    return ok;
}

/** berth_plugin_v1_t.logs: the lines so far (filtered by since), then new ones if following. */
berth_stream_t *sim_logs(berth_instance_t *inst, const char *req, size_t len, void *ctx,
                         berth_stream_item_fn item, berth_stream_end_fn end) {
    char msg[256];
    const char *code = NULL;
    uint64_t n = 0;
    bool follow = false;
    int64_t since = INT64_MIN;
    bool ok = parse_logs_request(req, len, &n, &follow, &since, &code, msg, sizeof msg);

    pthread_mutex_lock(&inst->mu);
    berth_stream_t *s = stream_new_locked(inst, SIM_STREAM_LOGS, ctx, item, end);
    if (s == NULL) {
        pthread_mutex_unlock(&inst->mu);
        return oom_stream_end(ctx, end);
    }
    s->since_ns = since;
    sim_exec *e = ok ? sim_find_locked(inst, n) : NULL;
    if (!ok) {
        finish_error_locked(s, code, msg);
    } else if (e == NULL) {
        snprintf(msg, sizeof msg, "no simulated execution \"sim-%llu\"", (unsigned long long)n);
        finish_error_locked(s, BERTH_ERROR_NOT_FOUND, msg);
    } else {
        sbuf b;
        sb_init(&b);
        for (size_t i = 0; i < e->line_count; i++) {
            if (e->lines[i].unix_ns < since) continue;
            b.len = 0;
            sim_write_log_item(&b, &e->lines[i]);
            if (!b.oom) sim_stream_push_locked(s, b.ptr, b.len);
        }
        sb_free(&b);
        if (follow && e->state != SIM_EXITED) {
            s->exec = e;
            link_source_locked(&e->followers, s);
        } else {
            sim_stream_finish_locked(s, BERTH_STATUS_OK, NULL, 0);
        }
    }
    pthread_mutex_unlock(&inst->mu);
    return s;
}

/** berth_plugin_v1_t.events: status transitions of every execution from now on. */
berth_stream_t *sim_events(berth_instance_t *inst, void *ctx, berth_stream_item_fn item,
                           berth_stream_end_fn end) {
    pthread_mutex_lock(&inst->mu);
    berth_stream_t *s = stream_new_locked(inst, SIM_STREAM_EVENTS, ctx, item, end);
    if (s == NULL) {
        pthread_mutex_unlock(&inst->mu);
        return oom_stream_end(ctx, end);
    }
    link_source_locked(&inst->events_head, s);
    pthread_mutex_unlock(&inst->mu);
    return s;
}

/** See internal.h. */
void sim_emit_status_locked(berth_instance_t *inst, const sim_exec *e) {
    if (inst->events_head == NULL) return;
    sbuf b;
    sb_init(&b);
    sb_lit(&b, "{\"type\":\"status\",\"handle\":");
    sim_write_handle(&b, e);
    sb_lit(&b, ",\"labels\":");
    sb_raw(&b, e->labels_json, e->labels_json_len);
    sb_lit(&b, ",\"status\":");
    sim_write_status(&b, e);
    sb_lit(&b, "}");
    if (!b.oom) {
        for (berth_stream_t *s = inst->events_head; s != NULL; s = s->src_next) {
            sim_stream_push_locked(s, b.ptr, b.len);
        }
    }
    sb_free(&b);
}

/** berth_plugin_v1_t.stream_cancel: idempotent; safe inside the stream's own callbacks. */
void sim_stream_cancel(berth_stream_t *s) {
    if (s == NULL || s == &oom_stream) return;
    berth_instance_t *inst = s->inst;
    pthread_mutex_lock(&inst->mu);
    atomic_store(&s->cancelled, true);
    drop_items_locked(s);
    sim_stream_finish_locked(s, BERTH_STATUS_OK, NULL, 0);
    pthread_mutex_unlock(&inst->mu);
}

/** berth_plugin_v1_t.stream_release: frees now if ended, else when the end has returned. */
void sim_stream_release(berth_stream_t *s) {
    if (s == NULL || s == &oom_stream) return;
    berth_instance_t *inst = s->inst;
    pthread_mutex_lock(&inst->mu);
    s->released = true;
    if (s->end_done) stream_free_locked(s);
    pthread_mutex_unlock(&inst->mu);
}

/* ---- the worker ---- */

/** Deliver one ready stream's batch (and its end, if decided); drops and retakes the lock. */
static void deliver_one_locked(berth_instance_t *inst) {
    berth_stream_t *s = inst->ready_head;
    inst->ready_head = s->ready_next;
    if (inst->ready_head == NULL) inst->ready_tail = NULL;
    s->in_ready = false;
    sim_item *items = s->q_head;
    s->q_head = s->q_tail = NULL;
    bool deliver_end = s->end_queued && !s->end_taken;
    if (deliver_end) s->end_taken = true;
    pthread_mutex_unlock(&inst->mu);

    while (items != NULL) {
        sim_item *next = items->next;
        if (!atomic_load(&s->cancelled)) s->item_fn(s->context, items->data, items->len);
        free(items);
        items = next;
    }
    if (deliver_end) s->end_fn(s->context, s->end_status, s->end_body, s->end_len);

    pthread_mutex_lock(&inst->mu);
    if (deliver_end) {
        s->end_done = true;
        inst->streams_unended--;
        if (s->released) stream_free_locked(s);
    }
}

/** At close: decide the end of every stream still open. */
static void end_all_streams_locked(berth_instance_t *inst) {
    while (inst->events_head != NULL) {
        sim_stream_finish_locked(inst->events_head, BERTH_STATUS_OK, NULL, 0);
    }
    for (sim_exec *e = inst->all_head; e != NULL; e = e->all_next) {
        while (e->followers != NULL) {
            sim_stream_finish_locked(e->followers, BERTH_STATUS_OK, NULL, 0);
        }
    }
}

/** Block until `deadline` (monotonic ns; INT64_MAX: forever) or a signal. */
static void wait_until_locked(berth_instance_t *inst, int64_t deadline) {
    if (deadline == INT64_MAX) {
        pthread_cond_wait(&inst->cv, &inst->mu);
        return;
    }
    struct timespec ts = {.tv_sec = deadline / 1000000000, .tv_nsec = deadline % 1000000000};
    int rc = pthread_cond_timedwait(&inst->cv, &inst->mu, &ts);
    (void)rc; /* ETIMEDOUT or a wake-up: the loop re-checks everything either way */
}

/** See internal.h: runs timers, delivers streams, and waits, until the instance closes. */
void *sim_worker_main(void *arg) {
    berth_instance_t *inst = arg;
    bool swept = false;
    pthread_mutex_lock(&inst->mu);
    for (;;) {
        if (inst->closing && !swept) {
            end_all_streams_locked(inst);
            swept = true;
        }
        int64_t next = INT64_MAX;
        if (!inst->closing) next = sim_run_timers_locked(inst, sim_now_mono());
        if (inst->ready_head != NULL) {
            deliver_one_locked(inst);
            continue;
        }
        if (inst->closing && inst->streams_unended == 0) break;
        if (next <= sim_now_mono()) continue;
        wait_until_locked(inst, next);
    }
    bool from_worker = inst->close_from_worker;
    pthread_mutex_unlock(&inst->mu);
    if (from_worker) sim_finish_close_on_worker(inst);
    return NULL;
}
