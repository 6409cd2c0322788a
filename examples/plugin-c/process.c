/*
 * process.c — an out-of-tree Berth backend plugin in C: each attempt is a local process of the
 * plugin's own user, in its own process group, its output kept in memory (README.md).
 *
 * It depends on nothing but berth_plugin.h, libc and pthreads. Concurrency is one mutex and one
 * condition variable per instance: every change (a chunk of output, an exit, a cancel, an event)
 * is made under the mutex and broadcast; every stream has a thread of its own that waits for its
 * next item and delivers it with the mutex released, since a plugin must not hold a lock its
 * operations take while it calls the host.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "berth_plugin.h"
#include "json.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

/* ---- Types ---- */

typedef struct {
    int is_stderr;
    int64_t ns;
    unsigned char *data;
    size_t len;
} chunk;

typedef struct attempt {
    struct attempt *next;
    char id[64];
    char *labels_json;       /* the runtime object's labels, as a JSON object */
    json_value *labels;      /* the same, parsed, for list */
    pid_t pid;
    int exit_known, exit_code, open_pipes, finished, removed;
    int64_t started_ns, finished_ns;
    chunk *chunks;
    size_t count, capacity;
    int refs;                /* the table's (until removed), each thread's, each log stream's */
} attempt;

typedef struct event_item {
    struct event_item *next;
    char *json;
    size_t len;
} event_item;

enum { STREAM_LOGS, STREAM_EVENTS };

struct berth_stream {
    struct berth_instance *instance;
    int kind;
    attempt *attempt;        /* STREAM_LOGS */
    int follow;
    int64_t since_ns;
    size_t next_chunk;
    event_item *head, *tail; /* STREAM_EVENTS: items not yet delivered */
    struct berth_stream *next_events;
    int cancelled, released, thread_done;
    void *context;
    berth_stream_item_fn item;
    berth_stream_end_fn end;
};

struct berth_instance {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    attempt *attempts;
    struct berth_stream *event_streams;
    int threads;             /* this instance's threads still running */
    long max_concurrent;
    char *path, *server;
    unsigned long next_id;
};

typedef struct berth_instance instance;
typedef struct berth_stream stream;

/* ---- Small helpers ---- */

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Appends `ns` as RFC 3339 in UTC with nine fractional digits, quoted. */
static void buf_time(json_buf *buf, int64_t ns) {
    time_t seconds = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&seconds, &tm);
    buf_printf(buf, "\"%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ\"", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
               tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(ns % 1000000000));
}

/* Nanoseconds since the epoch of an RFC 3339 time in UTC (`Z`), or -1. */
static int64_t parse_time(const char *text) {
    struct tm tm = {0};
    int consumed = 0;
    if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
               &consumed) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    int64_t ns = (int64_t)timegm(&tm) * 1000000000;
    const char *p = text + consumed;
    if (*p == '.') {
        int64_t scale = 100000000;
        for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10) ns += (*p - '0') * scale;
    }
    return *p == 'Z' ? ns : -1;
}

/* Completes an operation with an error body. */
static void fail(void *context, berth_completion_fn done, const char *code, const char *format, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(void *context, berth_completion_fn done, const char *code, const char *format, ...) {
    char message[512];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    json_buf body = {0};
    buf_printf(&body, "{\"code\":\"%s\",\"message\":", code);
    buf_string(&body, message, strlen(message));
    buf_printf(&body, ",\"retryable\":%s}", !strcmp(code, BERTH_ERROR_UNAVAILABLE) ? "true" : "false");
    done(context, BERTH_STATUS_ERROR, body.data, body.len);
    free(body.data);
}

static void succeed(void *context, berth_completion_fn done, json_buf *body) {
    done(context, BERTH_STATUS_OK, body ? body->data : NULL, body ? body->len : 0);
    if (body) free(body->data);
}

/* Starts a detached thread counted in the instance's `threads` (the caller holds the lock). */
static int start_thread(instance *inst, void *(*body)(void *), void *argument) {
    pthread_t thread;
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    int failed = pthread_create(&thread, &attributes, body, argument);
    pthread_attr_destroy(&attributes);
    if (!failed) inst->threads++;
    return !failed;
}

/* A thread's last act, under the lock: it no longer counts, and whoever waits is told. */
static void thread_ends(instance *inst) {
    inst->threads--;
    pthread_cond_broadcast(&inst->changed);
}

/* ---- Attempts (all under the instance's lock) ---- */

static void release_attempt(instance *inst, attempt *a) {
    if (--a->refs > 0) return;
    for (attempt **p = &inst->attempts; *p; p = &(*p)->next)
        if (*p == a) { *p = a->next; break; }
    for (size_t i = 0; i < a->count; i++) free(a->chunks[i].data);
    free(a->chunks);
    free(a->labels_json);
    json_free(a->labels);
    free(a);
}

static attempt *find_attempt(instance *inst, const json_value *handle) {
    const json_value *id = json_get(handle, "id");
    if (!id || id->type != JSON_STRING) return NULL;
    for (attempt *a = inst->attempts; a; a = a->next)
        if (!a->removed && !strcmp(a->id, id->string)) return a;
    return NULL;
}

static void buf_status(json_buf *buf, const attempt *a) {
    buf_printf(buf, "{\"state\":\"%s\",\"started_at\":", a->finished ? "exited" : "running");
    buf_time(buf, a->started_ns);
    if (a->finished) {
        buf_printf(buf, ",\"exit_code\":%d,\"finished_at\":", a->exit_code);
        buf_time(buf, a->finished_ns);
    }
    buf_add(buf, "}", 1);
}

/* Appends the members an object of `a` has in `list` answers and in status events. */
static void buf_object_members(json_buf *buf, const attempt *a) {
    buf_printf(buf, "\"handle\":{\"id\":\"%s\"},\"labels\":%s,\"status\":", a->id, a->labels_json);
    buf_status(buf, a);
}

/* Queues a status event about `a` on every event stream. */
static void announce(instance *inst, const attempt *a) {
    for (stream *s = inst->event_streams; s; s = s->next_events) {
        json_buf item = {0};
        buf_printf(&item, "{\"type\":\"status\",");
        buf_object_members(&item, a);
        buf_printf(&item, "}");
        event_item *e = calloc(1, sizeof *e);
        if (!e) abort();
        e->json = item.data;
        e->len = item.len;
        if (s->tail) s->tail->next = e; else s->head = e;
        s->tail = e;
    }
    pthread_cond_broadcast(&inst->changed);
}

/* Records the end once the process exited and both pipes are drained. */
static void finish_if_ended(instance *inst, attempt *a) {
    if (a->finished || !a->exit_known || a->open_pipes > 0) return;
    a->finished = 1;
    a->finished_ns = now_ns();
    announce(inst, a);
}

typedef struct {
    instance *inst;
    attempt *a;
    int fd, is_stderr;
} pipe_reader;

static void *read_pipe(void *argument) {
    pipe_reader *r = argument;
    unsigned char buffer[65536];
    for (;;) {
        ssize_t n = read(r->fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        pthread_mutex_lock(&r->inst->lock);
        attempt *a = r->a;
        if (a->count == a->capacity) {
            a->capacity = a->capacity ? a->capacity * 2 : 16;
            a->chunks = realloc(a->chunks, a->capacity * sizeof *a->chunks);
            if (!a->chunks) abort();
        }
        chunk *c = &a->chunks[a->count++];
        c->is_stderr = r->is_stderr;
        c->ns = now_ns();
        c->len = (size_t)n;
        c->data = malloc((size_t)n);
        if (!c->data) abort();
        memcpy(c->data, buffer, (size_t)n);
        pthread_cond_broadcast(&r->inst->changed);
        pthread_mutex_unlock(&r->inst->lock);
    }
    close(r->fd);
    pthread_mutex_lock(&r->inst->lock);
    r->a->open_pipes--;
    finish_if_ended(r->inst, r->a);
    release_attempt(r->inst, r->a);
    thread_ends(r->inst);
    pthread_mutex_unlock(&r->inst->lock);
    free(r);
    return NULL;
}

static void *wait_process(void *argument) {
    pipe_reader *r = argument; /* only inst and a are used */
    int status = 0;
    while (waitpid(r->a->pid, &status, 0) < 0 && errno == EINTR) {}
    pthread_mutex_lock(&r->inst->lock);
    r->a->exit_known = 1;
    r->a->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    finish_if_ended(r->inst, r->a);
    release_attempt(r->inst, r->a);
    thread_ends(r->inst);
    pthread_mutex_unlock(&r->inst->lock);
    free(r);
    return NULL;
}

/* ---- Operations ---- */

static const char settings_schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
    "\"max_concurrent\":{\"type\":\"integer\",\"minimum\":1,\"default\":4,\"description\":\"Attempts the host runs at once.\"},"
    "\"path\":{\"type\":\"string\",\"default\":\"/usr/local/bin:/usr/bin:/bin\",\"description\":\"PATH of the processes.\"}}}";

static void op_open(const berth_plugin_v1_t *plugin, const char *settings, size_t settings_len, void *context,
                    berth_open_completion_fn done) {
    (void)plugin;
    char error[256];
    json_value *root = json_parse(settings, settings_len, error, sizeof error);
    const char *problem = NULL;
    char message[512];
    if (!root || root->type != JSON_OBJECT) {
        snprintf(message, sizeof message, "settings: %s", root ? "must be an object" : error);
        problem = message;
    }
    for (size_t i = 0; !problem && i < root->count; i++) {
        const char *key = root->keys[i];
        const json_value *value = root->items[i];
        if (!strcmp(key, "max_concurrent")) {
            if (value->type != JSON_NUMBER || value->number < 1 || value->number != (double)(long)value->number) {
                problem = "settings.max_concurrent: expected an integer of at least 1";
            }
        } else if (!strcmp(key, "path") || !strcmp(key, "server") || !strcmp(key, "host")) {
            if (value->type != JSON_STRING) {
                snprintf(message, sizeof message, "settings.%s: expected a string", key);
                problem = message;
            }
        } else {
            snprintf(message, sizeof message, "settings.%s: unknown key", key);
            problem = message;
        }
    }
    if (problem) {
        json_free(root);
        json_buf body = {0};
        buf_printf(&body, "{\"code\":\"invalid_config\",\"message\":");
        buf_string(&body, problem, strlen(problem));
        buf_printf(&body, ",\"retryable\":false}");
        done(context, BERTH_STATUS_ERROR, NULL, body.data, body.len);
        free(body.data);
        return;
    }
    instance *inst = calloc(1, sizeof *inst);
    if (!inst) abort();
    pthread_mutex_init(&inst->lock, NULL);
    pthread_cond_init(&inst->changed, NULL);
    const json_value *max = json_get(root, "max_concurrent");
    const json_value *path = json_get(root, "path");
    const json_value *server = json_get(root, "server");
    inst->max_concurrent = max ? (long)max->number : 4;
    inst->path = strdup(path ? path->string : "/usr/local/bin:/usr/bin:/bin");
    inst->server = strdup(server ? server->string : "");
    json_free(root);
    done(context, BERTH_STATUS_OK, inst, NULL, 0);
}

static void op_close(berth_instance_t *inst, void *context, berth_completion_fn done) {
    pthread_mutex_lock(&inst->lock);
    for (attempt *a = inst->attempts; a; a = a->next)
        if (!a->finished) kill(-a->pid, SIGKILL);
    while (inst->threads > 0) pthread_cond_wait(&inst->changed, &inst->lock);
    while (inst->attempts) release_attempt(inst, inst->attempts);
    pthread_mutex_unlock(&inst->lock);
    pthread_mutex_destroy(&inst->lock);
    pthread_cond_destroy(&inst->changed);
    free(inst->path);
    free(inst->server);
    free(inst);
    succeed(context, done, NULL);
}

static void op_health(berth_instance_t *inst, void *context, berth_completion_fn done) {
    (void)inst;
    json_buf body = {0};
    buf_printf(&body, "{\"ok\":true,\"message\":\"local processes of uid %u\",\"engine_version\":\"0.1.0\"}", (unsigned)getuid());
    succeed(context, done, &body);
}

static void op_capacity(berth_instance_t *inst, void *context, berth_completion_fn done) {
    pthread_mutex_lock(&inst->lock);
    long running = 0;
    for (attempt *a = inst->attempts; a; a = a->next) running += !a->removed && !a->finished;
    json_buf body = {0};
    buf_printf(&body, "{\"max_concurrent\":%ld,\"running\":%ld}", inst->max_concurrent, running);
    pthread_mutex_unlock(&inst->lock);
    succeed(context, done, &body);
}

/* Whether `value` is absent or an array of strings / an object of strings. */
static int strings(const json_value *value, json_type type) {
    if (!value || value->type == JSON_NULL) return 1;
    if (value->type != type) return 0;
    for (size_t i = 0; i < value->count; i++)
        if (value->items[i]->type != JSON_STRING) return 0;
    return 1;
}

static void op_start(berth_instance_t *inst, const char *spec_text, size_t spec_len, void *context, berth_completion_fn done) {
    char error[256];
    json_value *spec = json_parse(spec_text, spec_len, error, sizeof error);
    if (!spec || spec->type != JSON_OBJECT) {
        fail(context, done, BERTH_ERROR_INVALID_SPEC, "spec: %s", spec ? "must be an object" : error);
        json_free(spec);
        return;
    }
    const json_value *execution = json_get(spec, "execution_id"), *number = json_get(spec, "attempt");
    const json_value *image = json_get(spec, "image"), *command = json_get(spec, "command"), *args = json_get(spec, "args");
    const json_value *env = json_get(spec, "env"), *labels = json_get(spec, "labels"), *dir = json_get(spec, "working_dir");
    const json_value *files = json_get(spec, "files");
    const char *problem = NULL;
    if (!execution || execution->type != JSON_STRING || !execution->string[0]) problem = "spec.execution_id: expected a non-empty string";
    else if (number && (number->type != JSON_NUMBER || number->number < 1 || number->number != (double)(long)number->number))
        problem = "spec.attempt: expected an integer of at least 1";
    else if (!image || image->type != JSON_STRING || !image->string[0]) problem = "spec.image: expected a non-empty string";
    else if (!strings(command, JSON_ARRAY)) problem = "spec.command: expected an array of strings";
    else if (!strings(args, JSON_ARRAY)) problem = "spec.args: expected an array of strings";
    else if (!strings(env, JSON_OBJECT)) problem = "spec.env: expected an object of strings";
    else if (!strings(labels, JSON_OBJECT)) problem = "spec.labels: expected an object of strings";
    else if (dir && dir->type != JSON_NULL && dir->type != JSON_STRING) problem = "spec.working_dir: expected a string";
    size_t argc = (command && command->type == JSON_ARRAY ? command->count : 0) + (args && args->type == JSON_ARRAY ? args->count : 0);
    if (!problem && argc == 0) problem = "spec.command: this backend runs a command; the spec has none";
    if (problem) {
        fail(context, done, BERTH_ERROR_INVALID_SPEC, "%s", problem);
        json_free(spec);
        return;
    }
    if (files && files->type == JSON_ARRAY && files->count > 0) {
        fail(context, done, BERTH_ERROR_UNSUPPORTED, "spec.files: this backend cannot place files");
        json_free(spec);
        return;
    }

    /* argv: `env -C DIR --` first when there is a working folder; then command and args. */
    int use_dir = dir && dir->type == JSON_STRING;
    char **argv = calloc(argc + 5, sizeof *argv);
    size_t n = 0;
    if (use_dir) { argv[n++] = "env"; argv[n++] = "-C"; argv[n++] = dir->string; argv[n++] = "--"; }
    for (const json_value *list = command; list; list = list == command ? args : NULL)
        if (list && list->type == JSON_ARRAY)
            for (size_t i = 0; i < list->count; i++) argv[n++] = list->items[i]->string;
    /* envp: the spec's env, and PATH unless it sets one. */
    size_t envc = env && env->type == JSON_OBJECT ? env->count : 0;
    char **envp = calloc(envc + 2, sizeof *envp);
    int has_path = 0;
    for (size_t i = 0; i < envc; i++) {
        has_path |= !strcmp(env->keys[i], "PATH");
        if (asprintf(&envp[i], "%s=%s", env->keys[i], env->items[i]->string) < 0) abort();
    }
    if (!has_path && asprintf(&envp[envc++], "PATH=%s", inst->path) < 0) abort();

    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) abort();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    /* A group of its own, so stop reaches its children; and signals as a new process has them,
     * not as the host's thread that called start has them (blocked or ignored). */
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attributes, 0);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setsigdefault(&attributes, &all);
    pid_t pid;
    int spawned = posix_spawnp(&pid, argv[0], &actions, &attributes, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    close(out[1]);
    close(err[1]);
    for (size_t i = 0; i < envc; i++) free(envp[i]);
    free(envp);
    if (spawned) {
        close(out[0]);
        close(err[0]);
        fail(context, done, BERTH_ERROR_INVALID_SPEC, "spec.command: cannot run %s: %s", argv[0], strerror(spawned));
        free(argv);
        json_free(spec);
        return;
    }
    free(argv);

    attempt *a = calloc(1, sizeof *a);
    if (!a) abort();
    a->pid = pid;
    a->started_ns = now_ns();
    a->open_pipes = 2;
    a->refs = 1;
    json_buf label_text = {0};
    buf_lit(&label_text, "{");
    for (size_t i = 0; labels && labels->type == JSON_OBJECT && i < labels->count; i++) {
        const char *key = labels->keys[i];
        if (!strcmp(key, "berth.execution") || !strcmp(key, "berth.attempt") || !strcmp(key, "berth.server")) continue;
        buf_string(&label_text, key, strlen(key));
        buf_lit(&label_text, ":");
        buf_value(&label_text, labels->items[i]);
        buf_lit(&label_text, ",");
    }
    buf_lit(&label_text, "\"berth.execution\":");
    buf_string(&label_text, execution->string, strlen(execution->string));
    buf_printf(&label_text, ",\"berth.attempt\":\"%ld\",\"berth.server\":", number ? (long)number->number : 1L);
    pthread_mutex_lock(&inst->lock);
    buf_string(&label_text, inst->server, strlen(inst->server));
    buf_lit(&label_text, "}");
    a->labels_json = label_text.data;
    a->labels = json_parse(label_text.data, label_text.len, error, sizeof error);
    snprintf(a->id, sizeof a->id, "c-%d-%lu", (int)getpid(), ++inst->next_id);
    a->next = inst->attempts;
    inst->attempts = a;
    for (int i = 0; i < 3; i++) {
        pipe_reader *r = calloc(1, sizeof *r);
        if (!r) abort();
        *r = (pipe_reader){inst, a, i == 0 ? out[0] : err[0], i == 1};
        a->refs++;
        if (!start_thread(inst, i < 2 ? read_pipe : wait_process, r)) abort();
    }
    announce(inst, a);
    json_buf body = {0};
    buf_printf(&body, "{\"id\":\"%s\"}", a->id);
    pthread_mutex_unlock(&inst->lock);
    json_free(spec);
    succeed(context, done, &body);
}

static void op_inspect(berth_instance_t *inst, const char *handle, size_t len, void *context, berth_completion_fn done) {
    char error[256];
    json_value *h = json_parse(handle, len, error, sizeof error);
    pthread_mutex_lock(&inst->lock);
    attempt *a = find_attempt(inst, h);
    json_buf body = {0};
    if (a) buf_status(&body, a);
    pthread_mutex_unlock(&inst->lock);
    json_free(h);
    if (a) succeed(context, done, &body);
    else fail(context, done, BERTH_ERROR_NOT_FOUND, "no process attempt %.*s", (int)len, handle);
}

typedef struct {
    instance *inst;
    json_value *request;
    double grace;
    int remove;
    void *context;
    berth_completion_fn done;
} ending;

/* Waits (under the lock) until `a` finished or `seconds` passed; whether it finished. */
static int wait_finished(instance *inst, attempt *a, double seconds) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    int64_t ns = (int64_t)deadline.tv_nsec + (int64_t)(seconds * 1e9);
    deadline.tv_sec += (time_t)(ns / 1000000000);
    deadline.tv_nsec = (long)(ns % 1000000000);
    while (!a->finished)
        if (pthread_cond_timedwait(&inst->changed, &inst->lock, &deadline) == ETIMEDOUT) break;
    return a->finished;
}

/* stop and remove, on a thread of their own: they wait for the process. */
static void *end_attempt(void *argument) {
    ending *e = argument;
    instance *inst = e->inst;
    pthread_mutex_lock(&inst->lock);
    attempt *a = find_attempt(inst, e->remove ? e->request : json_get(e->request, "handle"));
    int finished = 1;
    if (a) {
        a->refs++;
        /* Until the attempt finished, some process of its group holds its pipes (the shell may
         * have exited and left a child), so the group is signalled, not just the first process. */
        if (!e->remove && !a->finished) {
            kill(-a->pid, SIGTERM);
            wait_finished(inst, a, e->grace);
        }
        if (!a->finished) kill(-a->pid, SIGKILL);
        finished = wait_finished(inst, a, 30);
        if (e->remove && finished) {
            a->removed = 1;
            release_attempt(inst, a); /* the table's reference */
        }
        release_attempt(inst, a);
    }
    thread_ends(inst);
    pthread_mutex_unlock(&inst->lock);
    if (!a) fail(e->context, e->done, BERTH_ERROR_NOT_FOUND, "no such process attempt");
    else if (!finished) fail(e->context, e->done, BERTH_ERROR_TIMEOUT, "the process did not end 30 s after SIGKILL");
    else succeed(e->context, e->done, NULL);
    json_free(e->request);
    free(e);
    return NULL;
}

static void start_ending(instance *inst, const char *request, size_t len, int remove, void *context, berth_completion_fn done) {
    char error[256];
    json_value *parsed = json_parse(request, len, error, sizeof error);
    const json_value *grace = json_get(parsed, "grace_seconds");
    if (!parsed || parsed->type != JSON_OBJECT || (!remove && grace && grace->type != JSON_NUMBER)) {
        fail(context, done, BERTH_ERROR_INVALID_SPEC, "request: %s", parsed ? "expected a handle and grace_seconds" : error);
        json_free(parsed);
        return;
    }
    ending *e = calloc(1, sizeof *e);
    if (!e) abort();
    *e = (ending){inst, parsed, grace ? grace->number : 10, remove, context, done};
    pthread_mutex_lock(&inst->lock);
    int started = start_thread(inst, end_attempt, e);
    pthread_mutex_unlock(&inst->lock);
    if (!started) abort();
}

static void op_stop(berth_instance_t *inst, const char *request, size_t len, void *context, berth_completion_fn done) {
    start_ending(inst, request, len, 0, context, done);
}

static void op_remove(berth_instance_t *inst, const char *handle, size_t len, void *context, berth_completion_fn done) {
    start_ending(inst, handle, len, 1, context, done);
}

static void op_list(berth_instance_t *inst, const char *request, size_t len, void *context, berth_completion_fn done) {
    char error[256];
    json_value *parsed = json_parse(request, len, error, sizeof error);
    const json_value *wanted = json_get(parsed, "labels");
    if (!parsed || !strings(wanted, JSON_OBJECT)) {
        fail(context, done, BERTH_ERROR_INVALID_SPEC, "request.labels: expected an object of strings");
        json_free(parsed);
        return;
    }
    json_buf body = {0};
    buf_lit(&body, "{\"items\":[");
    int first = 1;
    pthread_mutex_lock(&inst->lock);
    for (attempt *a = inst->attempts; a; a = a->next) {
        if (a->removed) continue;
        int match = 1;
        for (size_t i = 0; match && wanted && wanted->type == JSON_OBJECT && i < wanted->count; i++) {
            const json_value *have = json_get(a->labels, wanted->keys[i]);
            match = have && !strcmp(have->string, wanted->items[i]->string);
        }
        if (!match) continue;
        buf_printf(&body, first ? "{" : ",{");
        first = 0;
        buf_object_members(&body, a);
        buf_printf(&body, "}");
    }
    pthread_mutex_unlock(&inst->lock);
    buf_lit(&body, "]}");
    json_free(parsed);
    succeed(context, done, &body);
}

/* ---- Streams ---- */

/* The stream's thread is done and the host released it: free it (under the lock). */
static void free_stream_if_done(stream *s) {
    if (!s->released || !s->thread_done) return;
    for (event_item *e = s->head, *next; e; e = next) { next = e->next; free(e->json); free(e); }
    free(s);
}

static void *run_logs(void *argument) {
    stream *s = argument;
    instance *inst = s->instance;
    pthread_mutex_lock(&inst->lock);
    for (;;) {
        attempt *a = s->attempt;
        if (s->cancelled) break;
        if (s->next_chunk < a->count) {
            chunk *c = &a->chunks[s->next_chunk++];
            if (c->ns < s->since_ns) continue;
            json_buf item = {0};
            buf_printf(&item, "{\"stream\":\"%s\",\"data\":\"", c->is_stderr ? "stderr" : "stdout");
            buf_base64(&item, c->data, c->len);
            buf_lit(&item, "\",\"timestamp\":");
            buf_time(&item, c->ns);
            buf_lit(&item, "}");
            pthread_mutex_unlock(&inst->lock);
            s->item(s->context, item.data, item.len);
            free(item.data);
            pthread_mutex_lock(&inst->lock);
            continue;
        }
        if (!s->follow || a->finished) break;
        pthread_cond_wait(&inst->changed, &inst->lock);
    }
    pthread_mutex_unlock(&inst->lock);
    s->end(s->context, BERTH_STATUS_OK, NULL, 0);
    pthread_mutex_lock(&inst->lock);
    release_attempt(inst, s->attempt);
    s->thread_done = 1;
    free_stream_if_done(s);
    thread_ends(inst);
    pthread_mutex_unlock(&inst->lock);
    return NULL;
}

static stream *new_stream(instance *inst, int kind, void *context, berth_stream_item_fn item, berth_stream_end_fn end) {
    stream *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->instance = inst;
    s->kind = kind;
    s->context = context;
    s->item = item;
    s->end = end;
    return s;
}

static berth_stream_t *op_logs(berth_instance_t *inst, const char *request, size_t len, void *context, berth_stream_item_fn item,
                               berth_stream_end_fn end) {
    char error[256];
    json_value *parsed = json_parse(request, len, error, sizeof error);
    const json_value *follow = json_get(parsed, "follow"), *since = json_get(parsed, "since");
    stream *s = new_stream(inst, STREAM_LOGS, context, item, end);
    s->follow = follow && follow->type == JSON_BOOL && follow->boolean;
    s->since_ns = since && since->type == JSON_STRING ? parse_time(since->string) : -1;
    pthread_mutex_lock(&inst->lock);
    attempt *a = find_attempt(inst, json_get(parsed, "handle"));
    if (a) {
        a->refs++;
        s->attempt = a;
        if (!start_thread(inst, run_logs, s)) abort();
    }
    pthread_mutex_unlock(&inst->lock);
    json_free(parsed);
    if (!a) {
        /* Reported through the end callback; the stream is then done but for its release. */
        const char body[] = "{\"code\":\"not_found\",\"message\":\"no such process attempt\",\"retryable\":false}";
        s->thread_done = 1;
        end(context, BERTH_STATUS_ERROR, body, sizeof body - 1);
    }
    return s;
}

static void *run_events(void *argument) {
    stream *s = argument;
    instance *inst = s->instance;
    pthread_mutex_lock(&inst->lock);
    for (;;) {
        if (s->cancelled) break;
        event_item *e = s->head;
        if (!e) {
            pthread_cond_wait(&inst->changed, &inst->lock);
            continue;
        }
        s->head = e->next;
        if (!s->head) s->tail = NULL;
        pthread_mutex_unlock(&inst->lock);
        s->item(s->context, e->json, e->len);
        free(e->json);
        free(e);
        pthread_mutex_lock(&inst->lock);
    }
    for (stream **p = &inst->event_streams; *p; p = &(*p)->next_events)
        if (*p == s) { *p = s->next_events; break; }
    pthread_mutex_unlock(&inst->lock);
    s->end(s->context, BERTH_STATUS_OK, NULL, 0);
    pthread_mutex_lock(&inst->lock);
    s->thread_done = 1;
    free_stream_if_done(s);
    thread_ends(inst);
    pthread_mutex_unlock(&inst->lock);
    return NULL;
}

static berth_stream_t *op_events(berth_instance_t *inst, void *context, berth_stream_item_fn item, berth_stream_end_fn end) {
    stream *s = new_stream(inst, STREAM_EVENTS, context, item, end);
    static const char hello[] = "{\"type\":\"connection\",\"available\":true,\"message\":\"local processes\"}";
    event_item *e = calloc(1, sizeof *e);
    if (!e) abort();
    e->json = strdup(hello);
    e->len = sizeof hello - 1;
    s->head = s->tail = e;
    pthread_mutex_lock(&inst->lock);
    s->next_events = inst->event_streams;
    inst->event_streams = s;
    if (!start_thread(inst, run_events, s)) abort();
    pthread_mutex_unlock(&inst->lock);
    return s;
}

static void op_stream_cancel(berth_stream_t *s) {
    pthread_mutex_lock(&s->instance->lock);
    s->cancelled = 1;
    pthread_cond_broadcast(&s->instance->changed);
    pthread_mutex_unlock(&s->instance->lock);
}

static void op_stream_release(berth_stream_t *s) {
    instance *inst = s->instance;
    pthread_mutex_lock(&inst->lock);
    s->released = 1;
    free_stream_if_done(s);
    pthread_mutex_unlock(&inst->lock);
}

/* ---- The descriptor ---- */

static const berth_plugin_v1_t descriptor = {
    .abi_version = BERTH_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(berth_plugin_v1_t),
    .name = "example-process-c",
    .version = "0.1.0",
    .settings_schema = settings_schema,
    .plugin_data = NULL,
    .open = op_open,
    .close = op_close,
    .health = op_health,
    .capacity = op_capacity,
    .start = op_start,
    .inspect = op_inspect,
    .stop = op_stop,
    .remove = op_remove,
    .list = op_list,
    .logs = op_logs,
    .events = op_events,
    .stream_cancel = op_stream_cancel,
    .stream_release = op_stream_release,
    .collect = NULL, /* no outputs to collect */
};

EXPORT const berth_plugin_v1_t *berth_plugin_v1(void) { return &descriptor; }
