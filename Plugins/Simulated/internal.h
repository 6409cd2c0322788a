/*
 * internal.h — shared state of the Simulated plugin: instances, executions, streams.
 *
 * Threading model (see docs/simulated.md):
 *  - Each instance has ONE mutex (`mu`) guarding everything below it, and ONE worker thread
 *    that waits on `cv` for the earliest timer of a min-heap of executions.
 *  - The worker drives every execution of the instance (running, lines, exit) and is the only
 *    thread that calls stream callbacks (items and ends), so a stream's callbacks are never
 *    concurrent and always in order.
 *  - inspect, health, capacity, list, start, stop and remove complete on the calling thread.
 *  - No mutex is held while any host callback runs.
 * Nothing here is exported.
 */
#ifndef SIM_INTERNAL_H
#define SIM_INTERNAL_H

#include "berth_plugin.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#pragma GCC visibility push(hidden)

typedef struct sim_exec sim_exec;

/** Execution states; names match the ABI's runtime status "state". */
typedef enum sim_state { SIM_CREATED, SIM_RUNNING, SIM_EXITED } sim_state;

/** One label of an execution (key and value copied, NUL-terminated, with lengths). */
typedef struct sim_label {
    char *key;
    size_t key_len;
    char *value;
    size_t value_len;
} sim_label;

/** One line an execution printed. The bytes are "line <index>\n" or "err <index>\n". */
typedef struct sim_line {
    int64_t unix_ns;  /* when it was printed */
    uint32_t index;   /* 1-based line number within its stream */
    uint8_t is_err;   /* 0 stdout, 1 stderr */
} sim_line;

/** A queued stream item (a JSON text). */
typedef struct sim_item {
    struct sim_item *next;
    size_t len;
    char data[];
} sim_item;

typedef enum sim_stream_kind { SIM_STREAM_LOGS, SIM_STREAM_EVENTS } sim_stream_kind;

struct berth_stream {
    berth_instance_t *inst;
    sim_stream_kind kind;
    void *context;
    berth_stream_item_fn item_fn;
    berth_stream_end_fn end_fn;

    sim_item *q_head, *q_tail;     /* items waiting for the worker */
    struct berth_stream *ready_next; /* link in inst->ready list */
    bool in_ready;

    atomic_bool cancelled; /* read by the worker between items without the lock */
    bool end_queued;       /* the end is decided; no more items will be queued */
    bool end_taken;        /* the worker has taken the end for delivery */
    bool end_done;         /* the end callback has returned */
    bool released;         /* stream_release was called */
    berth_status_t end_status;
    char *end_body;
    size_t end_len;

    /* Source links: a following logs stream hangs on its execution, an events stream on the
       instance. Both are unlinked when the end is queued. */
    sim_exec *exec;
    struct berth_stream *src_prev, *src_next;
    int64_t since_ns; /* logs: lines before this are skipped (INT64_MIN: none) */
};

struct sim_exec {
    uint64_t n;                  /* id number: the handle is {"id":"sim-<n>"} */
    sim_exec *hash_next;         /* bucket chain */
    sim_exec *all_prev, *all_next; /* creation order, for list */

    sim_label *labels;
    size_t label_count;
    char *labels_json; /* the labels as a JSON object */
    size_t labels_json_len;

    sim_state state;
    int exit_code;
    const char *reason; /* static string or NULL */
    int64_t started_ns; /* realtime; 0 when never started */
    int64_t finished_ns;

    /* Plan from SIM_* env */
    int64_t duration_ns;
    uint32_t out_total, err_total;
    uint32_t out_done, err_done;
    int exit_plan;

    int64_t run_mono_ns; /* monotonic time it entered running */
    int64_t deadline;    /* monotonic time of its next action, when in the heap */
    size_t heap_index;   /* SIZE_MAX when not in the heap */

    sim_line *lines;
    size_t line_count, line_cap;

    berth_stream_t *followers; /* following logs streams */
};

struct berth_instance {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled when the heap's head or the ready list changes */
    pthread_t worker;

    /* Settings */
    int64_t max_concurrent;
    double cpus;
    int64_t memory_bytes;
    int64_t start_delay_ms;
    char *host;
    char *server;

    /* Executions */
    uint64_t next_n;
    sim_exec **buckets;
    size_t bucket_count; /* power of two */
    size_t exec_count;
    sim_exec *all_head, *all_tail;
    int64_t active; /* created or running */

    /* Timer heap */
    sim_exec **heap;
    size_t heap_len, heap_cap;

    /* Streams */
    berth_stream_t *events_head;   /* live events streams */
    berth_stream_t *ready_head, *ready_tail; /* streams with something to deliver */
    size_t streams_unended;        /* streams whose end callback has not returned */

    /* Close */
    bool closing;
    bool close_from_worker;
    void *close_context;
    berth_completion_fn close_done;
};

/* ---- time and close (simulated.c) ---- */
/** Monotonic clock, nanoseconds (timers). */
int64_t sim_now_mono(void);
/** Wall clock, nanoseconds since the Unix epoch (timestamps). */
int64_t sim_now_real(void);
/** Free the instance and complete its close; used by the worker when close came from it. */
void sim_finish_close_on_worker(berth_instance_t *inst);

/* ---- replies (simulated.c) ---- */
/** Call `done` with an error body {"code","message","retryable"}; message is printf-style. */
void sim_reply_error(berth_completion_fn done, void *context, const char *code, const char *fmt,
                     ...) __attribute__((format(printf, 4, 5)));
/** Build an error body into a fresh malloc'd string (never NULL for small bodies unless OOM). */
char *sim_error_body(const char *code, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- executions (exec.c); "_locked" functions need inst->mu held ---- */
void sim_start(berth_instance_t *inst, const char *spec, size_t len, void *ctx,
               berth_completion_fn done);
void sim_inspect(berth_instance_t *inst, const char *h, size_t len, void *ctx,
                 berth_completion_fn done);
void sim_stop(berth_instance_t *inst, const char *req, size_t len, void *ctx,
              berth_completion_fn done);
void sim_remove(berth_instance_t *inst, const char *h, size_t len, void *ctx,
                berth_completion_fn done);
void sim_list(berth_instance_t *inst, const char *req, size_t len, void *ctx,
              berth_completion_fn done);
/** Decode a start body into a new, unlinked execution; NULL with `code` and `msg` on error. */
struct json_value;
sim_exec *sim_exec_from_spec(const berth_instance_t *inst, const struct json_value *root,
                             const char **code, char *msg, size_t msg_len);
/** Free an unlinked execution. */
void sim_exec_free(sim_exec *e);
/** Run every action due at monotonic time `now`; returns the next deadline or INT64_MAX. */
int64_t sim_run_timers_locked(berth_instance_t *inst, int64_t now);
/** Free every execution of an instance (at close). */
void sim_free_execs(berth_instance_t *inst);
/** Parse a handle {"id":"sim-<n>"} value; 0 when it does not name one of ours. */
uint64_t sim_handle_id(const struct json_value *handle);
/** Find an execution by id number. */
sim_exec *sim_find_locked(berth_instance_t *inst, uint64_t n);
/** Append {"id":"sim-<n>"}. */
struct sbuf;
void sim_write_handle(struct sbuf *b, const sim_exec *e);
/** Append a runtime status object. */
void sim_write_status(struct sbuf *b, const sim_exec *e);
/** Append one log item for `line`. */
void sim_write_log_item(struct sbuf *b, const sim_line *line);

/* ---- streams (stream.c) ---- */
berth_stream_t *sim_logs(berth_instance_t *inst, const char *req, size_t len, void *ctx,
                         berth_stream_item_fn item, berth_stream_end_fn end);
berth_stream_t *sim_events(berth_instance_t *inst, void *ctx, berth_stream_item_fn item,
                           berth_stream_end_fn end);
void sim_stream_cancel(berth_stream_t *s);
void sim_stream_release(berth_stream_t *s);
/** Queue a copy of an item for delivery (ignored once the end is queued). */
void sim_stream_push_locked(berth_stream_t *s, const char *data, size_t len);
/** Decide the end of a stream (once), unlink it from its source and schedule delivery.
    `body` is copied. */
void sim_stream_finish_locked(berth_stream_t *s, berth_status_t status, const char *body,
                              size_t len);
/** Queue an event for every events stream (status transition of `e`). */
void sim_emit_status_locked(berth_instance_t *inst, const sim_exec *e);
/** The worker thread's main function. */
void *sim_worker_main(void *arg);

#pragma GCC visibility pop

#endif /* SIM_INTERNAL_H */
