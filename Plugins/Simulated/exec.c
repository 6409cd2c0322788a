/*
 * exec.c — executions of one instance: the id table, the timer heap, the run script
 * (running → lines → exit), and the operations start, inspect, stop, remove and list.
 *
 * All of them complete on the calling thread; they take the instance mutex only to read or
 * change state, and call the completion after unlocking.
 */
#define _GNU_SOURCE
#include "internal.h"
#include "json.h"
#include "jsonw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/** Most lines one execution emits per worker pass, so one busy execution cannot starve. */
#define LINES_PER_PASS 256

/* ---- id table ---- */

/** See internal.h. */
sim_exec *sim_find_locked(berth_instance_t *inst, uint64_t n) {
    sim_exec *e = inst->buckets[n & (inst->bucket_count - 1)];
    while (e != NULL && e->n != n) e = e->hash_next;
    return e;
}

/** Double the bucket array (best effort: on OOM the table just gets longer chains). */
static void table_grow_locked(berth_instance_t *inst) {
    size_t count = inst->bucket_count * 2;
    sim_exec **buckets = calloc(count, sizeof *buckets);
    if (buckets == NULL) return;
    for (size_t i = 0; i < inst->bucket_count; i++) {
        sim_exec *e = inst->buckets[i];
        while (e != NULL) {
            sim_exec *next = e->hash_next;
            e->hash_next = buckets[e->n & (count - 1)];
            buckets[e->n & (count - 1)] = e;
            e = next;
        }
    }
    free(inst->buckets);
    inst->buckets = buckets;
    inst->bucket_count = count;
}

/** Add `e` to the id table and the creation-order list. */
static void table_insert_locked(berth_instance_t *inst, sim_exec *e) {
    if (inst->exec_count >= inst->bucket_count) table_grow_locked(inst);
    sim_exec **slot = &inst->buckets[e->n & (inst->bucket_count - 1)];
    e->hash_next = *slot;
    *slot = e;
    e->all_prev = inst->all_tail;
    e->all_next = NULL;
    if (inst->all_tail != NULL) inst->all_tail->all_next = e;
    else inst->all_head = e;
    inst->all_tail = e;
    inst->exec_count++;
}

/** Remove `e` from the id table and the creation-order list. */
static void table_remove_locked(berth_instance_t *inst, sim_exec *e) {
    sim_exec **slot = &inst->buckets[e->n & (inst->bucket_count - 1)];
    while (*slot != e) slot = &(*slot)->hash_next;
    *slot = e->hash_next;
    if (e->all_prev != NULL) e->all_prev->all_next = e->all_next;
    else inst->all_head = e->all_next;
    if (e->all_next != NULL) e->all_next->all_prev = e->all_prev;
    else inst->all_tail = e->all_prev;
    inst->exec_count--;
}

/* ---- timer heap (min-heap on deadline; each execution is in it at most once) ---- */

/** Put heap slot `i` to `e`, keeping e->heap_index in step. */
static void heap_set(berth_instance_t *inst, size_t i, sim_exec *e) {
    inst->heap[i] = e;
    e->heap_index = i;
}

/** Move slot `i` up while it is earlier than its parent. */
static void heap_up(berth_instance_t *inst, size_t i) {
    sim_exec *e = inst->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (inst->heap[parent]->deadline <= e->deadline) break;
        heap_set(inst, i, inst->heap[parent]);
        i = parent;
    }
    heap_set(inst, i, e);
}

/** Move slot `i` down while a child is earlier. */
static void heap_down(berth_instance_t *inst, size_t i) {
    sim_exec *e = inst->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= inst->heap_len) break;
        if (child + 1 < inst->heap_len && inst->heap[child + 1]->deadline < inst->heap[child]->deadline)
            child++;
        if (e->deadline <= inst->heap[child]->deadline) break;
        heap_set(inst, i, inst->heap[child]);
        i = child;
    }
    heap_set(inst, i, e);
}

/** Schedule `e` at monotonic time `deadline` (insert or move). False when out of memory. */
static bool heap_schedule(berth_instance_t *inst, sim_exec *e, int64_t deadline) {
    if (e->heap_index != SIZE_MAX) {
        e->deadline = deadline;
        heap_up(inst, e->heap_index);
        heap_down(inst, e->heap_index);
        return true;
    }
    if (inst->heap_len == inst->heap_cap) {
        size_t cap = inst->heap_cap ? inst->heap_cap * 2 : 64;
        sim_exec **grown = realloc(inst->heap, cap * sizeof *grown);
        if (grown == NULL) return false;
        inst->heap = grown;
        inst->heap_cap = cap;
    }
    e->deadline = deadline;
    heap_set(inst, inst->heap_len++, e);
    heap_up(inst, e->heap_index);
    return true;
}

/** Take `e` out of the heap if it is there. */
static void heap_unschedule(berth_instance_t *inst, sim_exec *e) {
    size_t i = e->heap_index;
    if (i == SIZE_MAX) return;
    e->heap_index = SIZE_MAX;
    sim_exec *last = inst->heap[--inst->heap_len];
    if (last != e) {
        heap_set(inst, i, last);
        heap_up(inst, i);
        heap_down(inst, last->heap_index);
    }
}

/* ---- writers ---- */

/** See internal.h. */
void sim_write_handle(sbuf *b, const sim_exec *e) {
    sb_lit(b, "{\"id\":\"sim-");
    sb_int(b, (int64_t)e->n);
    sb_lit(b, "\"}");
}

/** See internal.h. */
void sim_write_status(sbuf *b, const sim_exec *e) {
    static const char *const names[] = {"created", "running", "exited"};
    sb_lit(b, "{\"state\":\"");
    sb_lit(b, names[e->state]);
    sb_lit(b, "\"");
    if (e->state == SIM_EXITED) {
        sb_lit(b, ",\"exit_code\":");
        sb_int(b, e->exit_code);
        if (e->reason != NULL) {
            sb_lit(b, ",\"reason\":");
            sb_cstr(b, e->reason);
        }
    }
    if (e->started_ns != 0) {
        sb_lit(b, ",\"started_at\":");
        sb_time(b, e->started_ns);
    }
    if (e->state == SIM_EXITED) {
        sb_lit(b, ",\"finished_at\":");
        sb_time(b, e->finished_ns);
    }
    sb_lit(b, "}");
}

/** See internal.h. */
void sim_write_log_item(sbuf *b, const sim_line *line) {
    /* The line's bytes: "line <i>\n" or "err <i>\n". */
    char text[24];
    size_t n = line->is_err ? 4 : 5;
    memcpy(text, line->is_err ? "err " : "line ", n);
    char digits[12];
    size_t k = sizeof digits;
    uint32_t v = line->index;
    do {
        digits[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    memcpy(text + n, digits + k, sizeof digits - k);
    n += sizeof digits - k;
    text[n++] = '\n';
    sb_lit(b, line->is_err ? "{\"stream\":\"stderr\",\"data\":\"" : "{\"stream\":\"stdout\",\"data\":\"");
    sb_base64(b, text, n);
    sb_lit(b, "\",\"timestamp\":");
    sb_time(b, line->unix_ns);
    sb_lit(b, "}");
}

/* ---- the run script ---- */

/** Monotonic time at which line `i` (0-based) of `total` is printed. */
static int64_t line_time(const sim_exec *e, uint32_t i, uint32_t total) {
    return e->run_mono_ns + (int64_t)((double)e->duration_ns * ((double)i / (double)total));
}

/** Monotonic time of the execution's next action while running. */
static int64_t next_action(const sim_exec *e) {
    int64_t t = e->run_mono_ns + e->duration_ns; /* exit */
    if (e->out_done < e->out_total) {
        int64_t lt = line_time(e, e->out_done, e->out_total);
        if (lt < t) t = lt;
    }
    if (e->err_done < e->err_total) {
        int64_t lt = line_time(e, e->err_done, e->err_total);
        if (lt < t) t = lt;
    }
    return t;
}

static void exec_exit_locked(berth_instance_t *inst, sim_exec *e, int code, const char *reason);

/** Enter running: stamp it, announce it, schedule its first action. */
static void exec_run_locked(berth_instance_t *inst, sim_exec *e, int64_t now_mono) {
    e->state = SIM_RUNNING;
    e->started_ns = sim_now_real();
    e->run_mono_ns = now_mono;
    sim_emit_status_locked(inst, e);
    /* No memory for a timer: end it now rather than leave it running forever. */
    if (!heap_schedule(inst, e, next_action(e))) exec_exit_locked(inst, e, e->exit_plan, NULL);
}

/** End an execution: exited with `code`; ends the logs streams following it. */
static void exec_exit_locked(berth_instance_t *inst, sim_exec *e, int code, const char *reason) {
    if (e->state == SIM_EXITED) return;
    heap_unschedule(inst, e);
    e->state = SIM_EXITED;
    e->exit_code = code;
    e->reason = reason;
    e->finished_ns = sim_now_real();
    inst->active--;
    sim_emit_status_locked(inst, e);
    while (e->followers != NULL) sim_stream_finish_locked(e->followers, BERTH_STATUS_OK, NULL, 0);
}

/** Record one printed line and queue it to every follower whose `since` it passes. */
static void exec_print_locked(sim_exec *e, bool is_err) {
    if (e->line_count == e->line_cap) {
        size_t cap = e->line_cap ? e->line_cap * 2 : 8;
        sim_line *grown = realloc(e->lines, cap * sizeof *grown);
        if (grown == NULL) return; /* line lost; the run goes on */
        e->lines = grown;
        e->line_cap = cap;
    }
    sim_line *line = &e->lines[e->line_count++];
    line->unix_ns = sim_now_real();
    line->is_err = is_err;
    line->index = is_err ? e->err_done : e->out_done; /* already incremented: 1-based */
    if (e->followers == NULL) return;
    sbuf b;
    sb_init(&b);
    sim_write_log_item(&b, line);
    for (berth_stream_t *s = e->followers; s != NULL; s = s->src_next) {
        if (line->unix_ns >= s->since_ns && !b.oom) sim_stream_push_locked(s, b.ptr, b.len);
    }
    sb_free(&b);
}

/** Perform whatever `e` has due at `now`, then reschedule it (or let it exit). */
static void exec_step_locked(berth_instance_t *inst, sim_exec *e, int64_t now) {
    if (e->state == SIM_CREATED) {
        exec_run_locked(inst, e, now);
        return;
    }
    for (int budget = LINES_PER_PASS; budget > 0; budget--) {
        bool out_due = e->out_done < e->out_total && line_time(e, e->out_done, e->out_total) <= now;
        bool err_due = e->err_done < e->err_total && line_time(e, e->err_done, e->err_total) <= now;
        if (!out_due && !err_due) break;
        bool is_err = err_due && (!out_due || line_time(e, e->err_done, e->err_total) <
                                                   line_time(e, e->out_done, e->out_total));
        if (is_err) e->err_done++;
        else e->out_done++;
        exec_print_locked(e, is_err);
    }
    bool lines_left = e->out_done < e->out_total || e->err_done < e->err_total;
    if (!lines_left && e->run_mono_ns + e->duration_ns <= now) {
        exec_exit_locked(inst, e, e->exit_plan, NULL);
    } else if (!heap_schedule(inst, e, lines_left ? next_action(e) : e->run_mono_ns + e->duration_ns)) {
        exec_exit_locked(inst, e, e->exit_plan, NULL);
    }
}

/** Most execution steps one sim_run_timers_locked call performs before yielding. */
#define STEPS_PER_CALL 1024

/** See internal.h. Yields after STEPS_PER_CALL steps so deliveries can interleave; the
    returned deadline is then already due. */
int64_t sim_run_timers_locked(berth_instance_t *inst, int64_t now) {
    for (int steps = 0; steps < STEPS_PER_CALL; steps++) {
        if (inst->heap_len == 0 || inst->heap[0]->deadline > now) break;
        sim_exec *e = inst->heap[0];
        heap_unschedule(inst, e);
        exec_step_locked(inst, e, now);
    }
    return inst->heap_len > 0 ? inst->heap[0]->deadline : INT64_MAX;
}

/** See internal.h. Called at close, after the worker stopped. */
void sim_free_execs(berth_instance_t *inst) {
    sim_exec *e = inst->all_head;
    while (e != NULL) {
        sim_exec *next = e->all_next;
        sim_exec_free(e);
        e = next;
    }
    inst->all_head = inst->all_tail = NULL;
    inst->exec_count = 0;
    inst->heap_len = 0;
}

/* ---- handles ---- */

/** See internal.h. */
uint64_t sim_handle_id(const json_value *handle) {
    const json_value *id = json_get(handle, "id");
    if (id == NULL || id->type != JSON_STRING || id->u.string.len < 5 ||
        memcmp(id->u.string.ptr, "sim-", 4) != 0 || id->u.string.len > 4 + 19) {
        return 0;
    }
    uint64_t n = 0;
    for (size_t i = 4; i < id->u.string.len; i++) {
        char c = id->u.string.ptr[i];
        if (c < '0' || c > '9') return 0;
        n = n * 10 + (uint64_t)(c - '0');
    }
    return n;
}

/** A printable form of a handle's id for messages. */
static const char *handle_text(const json_value *handle) {
    const json_value *id = json_get(handle, "id");
    return id != NULL && id->type == JSON_STRING ? id->u.string.ptr : "(no id)";
}

/* ---- operations ---- */

/** berth_plugin_v1_t.start: decode, register, run (or wait start_delay_ms), answer the handle. */
void sim_start(berth_instance_t *inst, const char *spec, size_t len, void *ctx,
               berth_completion_fn done) {
    char msg[512];
    json_doc doc;
    if (!json_parse(&doc, spec, len, msg, sizeof msg)) {
        json_doc_free(&doc);
        sim_reply_error(done, ctx, BERTH_ERROR_INVALID_SPEC, "%s", msg);
        return;
    }
    const char *code = NULL;
    sim_exec *e = sim_exec_from_spec(inst, doc.root, &code, msg, sizeof msg);
    json_doc_free(&doc);
    if (e == NULL) {
        sim_reply_error(done, ctx, code, "%s", msg);
        return;
    }
    int64_t now = sim_now_mono();
    pthread_mutex_lock(&inst->mu);
    e->n = inst->next_n++;
    e->state = SIM_CREATED;
    table_insert_locked(inst, e);
    inst->active++;
    if (inst->start_delay_ms == 0 || !heap_schedule(inst, e, now + inst->start_delay_ms * 1000000))
        exec_run_locked(inst, e, now);
    /* Wake the worker only if this execution is now the earliest thing to do. */
    if (inst->heap_len > 0 && inst->heap[0] == e) pthread_cond_signal(&inst->cv);
    sbuf b;
    sb_init(&b);
    sim_write_handle(&b, e);
    pthread_mutex_unlock(&inst->mu);
    done(ctx, BERTH_STATUS_OK, b.ptr, b.len);
    sb_free(&b);
}

/**
 * Parse a handle body for inspect/remove. On failure answers through `done` and returns 0.
 * A well-formed handle that is not ours yields not_found.
 */
static uint64_t parse_handle_or_reply(const char *text, size_t len, void *ctx,
                                      berth_completion_fn done) {
    char msg[256];
    json_doc doc;
    if (!json_parse(&doc, text, len, msg, sizeof msg)) {
        json_doc_free(&doc);
        sim_reply_error(done, ctx, BERTH_ERROR_INVALID_SPEC, "invalid runtime handle: %s", msg);
        return 0;
    }
    uint64_t n = 0;
    if (doc.root->type != JSON_OBJECT) {
        sim_reply_error(done, ctx, BERTH_ERROR_INVALID_SPEC,
                        "a runtime handle must be a JSON object, not %s",
                        json_type_name(doc.root->type));
    } else if ((n = sim_handle_id(doc.root)) == 0) {
        sim_reply_error(done, ctx, BERTH_ERROR_NOT_FOUND, "no simulated execution \"%.100s\"",
                        handle_text(doc.root));
    }
    json_doc_free(&doc);
    return n;
}

/** berth_plugin_v1_t.inspect: the status of one execution; synchronous. */
void sim_inspect(berth_instance_t *inst, const char *h, size_t len, void *ctx,
                 berth_completion_fn done) {
    uint64_t n = parse_handle_or_reply(h, len, ctx, done);
    if (n == 0) return;
    sbuf b;
    sb_init(&b);
    pthread_mutex_lock(&inst->mu);
    sim_exec *e = sim_find_locked(inst, n);
    if (e != NULL) sim_write_status(&b, e);
    pthread_mutex_unlock(&inst->mu);
    if (e == NULL) {
        sim_reply_error(done, ctx, BERTH_ERROR_NOT_FOUND, "no simulated execution \"sim-%llu\"",
                        (unsigned long long)n);
    } else if (b.oom) {
        sim_reply_error(done, ctx, BERTH_ERROR_INTERNAL, "out of memory");
    } else {
        done(ctx, BERTH_STATUS_OK, b.ptr, b.len);
    }
    sb_free(&b);
}

/** berth_plugin_v1_t.stop: ends a live execution at once with 137 ("stopped"); synchronous. */
void sim_stop(berth_instance_t *inst, const char *req, size_t len, void *ctx,
              berth_completion_fn done) {
    char msg[256];
    json_doc doc;
    if (!json_parse(&doc, req, len, msg, sizeof msg)) {
        json_doc_free(&doc);
        sim_reply_error(done, ctx, BERTH_ERROR_INVALID_SPEC, "invalid stop request: %s", msg);
        return;
    }
    const json_value *handle = json_get(doc.root, "handle");
    const json_value *grace = json_get(doc.root, "grace_seconds");
    if (doc.root->type != JSON_OBJECT || handle == NULL || handle->type != JSON_OBJECT) {
        json_doc_free(&doc);
        sim_reply_error(done, ctx, BERTH_ERROR_INVALID_SPEC,
                        "a stop request must be {\"handle\": {..}, \"grace_seconds\": number}");
        return;
    }
    if (grace != NULL && grace->type != JSON_NUMBER && grace->type != JSON_NULL) {
        json_doc_free(&doc);
        sim_reply_error(done, ctx, BERTH_ERROR_INVALID_SPEC, "\"grace_seconds\" must be a number");
        return;
    }
    uint64_t n = sim_handle_id(handle);
    snprintf(msg, sizeof msg, "%.100s", handle_text(handle));
    json_doc_free(&doc);
    pthread_mutex_lock(&inst->mu);
    sim_exec *e = n != 0 ? sim_find_locked(inst, n) : NULL;
    if (e != NULL) exec_exit_locked(inst, e, 137, "stopped");
    pthread_mutex_unlock(&inst->mu);
    if (e == NULL) {
        sim_reply_error(done, ctx, BERTH_ERROR_NOT_FOUND, "no simulated execution \"%s\"", msg);
    } else {
        done(ctx, BERTH_STATUS_OK, NULL, 0);
    }
}

/** berth_plugin_v1_t.remove: forget an execution (killing it first if live); synchronous. */
void sim_remove(berth_instance_t *inst, const char *h, size_t len, void *ctx,
                berth_completion_fn done) {
    uint64_t n = parse_handle_or_reply(h, len, ctx, done);
    if (n == 0) return;
    pthread_mutex_lock(&inst->mu);
    sim_exec *e = sim_find_locked(inst, n);
    if (e != NULL) {
        exec_exit_locked(inst, e, 137, "removed");
        table_remove_locked(inst, e);
    }
    pthread_mutex_unlock(&inst->mu);
    if (e == NULL) {
        sim_reply_error(done, ctx, BERTH_ERROR_NOT_FOUND, "no simulated execution \"sim-%llu\"",
                        (unsigned long long)n);
        return;
    }
    sim_exec_free(e);
    done(ctx, BERTH_STATUS_OK, NULL, 0);
}

/** True when every pair of the `want` object is among e's labels. */
static bool labels_match(const sim_exec *e, const json_value *want) {
    for (size_t i = 0; want != NULL && i < want->u.object.count; i++) {
        const json_member *m = &want->u.object.members[i];
        bool found = false;
        for (size_t j = 0; j < e->label_count && !found; j++) {
            const sim_label *l = &e->labels[j];
            found = l->key_len == m->key_len && memcmp(l->key, m->key, m->key_len) == 0 &&
                    l->value_len == m->value->u.string.len &&
                    memcmp(l->value, m->value->u.string.ptr, l->value_len) == 0;
        }
        if (!found) return false;
    }
    return true;
}

/** berth_plugin_v1_t.list: executions whose labels include all the given ones; synchronous. */
void sim_list(berth_instance_t *inst, const char *req, size_t len, void *ctx,
              berth_completion_fn done) {
    char msg[256];
    json_doc doc;
    if (!json_parse(&doc, req, len, msg, sizeof msg)) {
        json_doc_free(&doc);
        sim_reply_error(done, ctx, BERTH_ERROR_INVALID_SPEC, "invalid list request: %s", msg);
        return;
    }
    const json_value *want = json_get(doc.root, "labels");
    if (want != NULL && want->type == JSON_NULL) want = NULL;
    bool ok_labels = want == NULL || want->type == JSON_OBJECT;
    for (size_t i = 0; ok_labels && want != NULL && i < want->u.object.count; i++) {
        ok_labels = want->u.object.members[i].value->type == JSON_STRING;
    }
    if (doc.root->type != JSON_OBJECT || !ok_labels) {
        json_doc_free(&doc);
        sim_reply_error(done, ctx, BERTH_ERROR_INVALID_SPEC,
                        "a list request must be {\"labels\": {\"key\": \"value\", ..}}");
        return;
    }
    sbuf b;
    sb_init(&b);
    sb_lit(&b, "{\"items\":[");
    bool first = true;
    pthread_mutex_lock(&inst->mu);
    for (const sim_exec *e = inst->all_head; e != NULL; e = e->all_next) {
        if (!labels_match(e, want)) continue;
        sb_lit(&b, first ? "{\"handle\":" : ",{\"handle\":");
        first = false;
        sim_write_handle(&b, e);
        sb_lit(&b, ",\"labels\":");
        sb_raw(&b, e->labels_json, e->labels_json_len);
        sb_lit(&b, ",\"status\":");
        sim_write_status(&b, e);
        sb_lit(&b, "}");
    }
    pthread_mutex_unlock(&inst->mu);
    json_doc_free(&doc);
    sb_lit(&b, "]}");
    if (b.oom) {
        sim_reply_error(done, ctx, BERTH_ERROR_INTERNAL, "out of memory");
    } else {
        done(ctx, BERTH_STATUS_OK, b.ptr, b.len);
    }
    sb_free(&b);
}
