/*
 * berth_plugin.h — the Berth backend plugin ABI, version 1.
 *
 * This header is the whole contract between the Berth host and a backend plugin.
 * Only C crosses the boundary: no Swift type, class or protocol does, so a plugin may be
 * written in any language that can export a C function, and may link whatever it likes.
 *
 * Entry point
 *   A plugin is a shared library (lib<Name>.so) exporting exactly one function:
 *
 *       const berth_plugin_v1_t *berth_plugin_v1(void);
 *
 *   It returns a pointer to a constant descriptor that stays valid for the life of the process
 *   (the host never dlclose()s a plugin). The host refuses the plugin unless
 *   `abi_version == BERTH_PLUGIN_ABI_VERSION` and `struct_size >= ` the size it needs.
 *   New fields are only ever appended; an incompatible change gets a new symbol (`..._v2`).
 *
 * Payloads
 *   Every request and response body is UTF-8 JSON passed as (pointer, length); it is not
 *   NUL-terminated. Whoever passes a buffer owns it: the buffer is valid only for the
 *   duration of the call or callback that receives it, and the receiver copies what it keeps.
 *
 * Asynchrony
 *   Every operation is asynchronous. The caller passes an opaque `context` and a completion
 *   function; the plugin calls the completion EXACTLY ONCE, from any thread (including the
 *   calling thread, before the operation function returns), with a status and a JSON body.
 *   The host never blocks inside a callback, and a plugin must not hold a lock that its own
 *   operation functions take while it calls a callback.
 *
 * Errors
 *   On BERTH_STATUS_ERROR the body is
 *       {"code": "<code>", "message": "<text a user can act on>", "retryable": <bool>}
 *   with `code` one of the BERTH_ERROR_* strings below. Messages never contain secrets.
 *
 * Threading
 *   All operation functions may be called from any thread, concurrently, on the same or
 *   different instances. `close` is called once, after every other call on that instance has
 *   completed and every stream of it has been released.
 */
#ifndef BERTH_PLUGIN_H
#define BERTH_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The ABI version this header describes. */
#define BERTH_PLUGIN_ABI_VERSION 1u

/** The name of the one symbol a plugin exports. */
#define BERTH_PLUGIN_ENTRY_SYMBOL "berth_plugin_v1"

/* ---- Error codes: the fixed set; `code` in an error body is one of these strings. ---- */

/** The host settings given to `open` are malformed or violate the plugin's schema. */
#define BERTH_ERROR_INVALID_CONFIG "invalid_config"
/** An execution spec (or another request body) does not decode or is not acceptable. */
#define BERTH_ERROR_INVALID_SPEC "invalid_spec"
/** The image does not exist or cannot be pulled. */
#define BERTH_ERROR_IMAGE_NOT_FOUND "image_not_found"
/** The runtime object named by a handle does not exist (any more). */
#define BERTH_ERROR_NOT_FOUND "not_found"
/** The engine cannot be reached right now (socket missing, connection refused, engine down). */
#define BERTH_ERROR_UNAVAILABLE "unavailable"
/** The engine did not answer in time. */
#define BERTH_ERROR_TIMEOUT "timeout"
/** The engine or a registry refused the credentials. */
#define BERTH_ERROR_PERMISSION_DENIED "permission_denied"
/** The backend does not offer this (optional) operation, or this part of a request (files). */
#define BERTH_ERROR_UNSUPPORTED "unsupported"
/** Anything else; the message says what. */
#define BERTH_ERROR_INTERNAL "internal"

/** Outcome of an operation, passed to its completion. */
typedef enum berth_status {
    /** The operation succeeded; the body is the documented response (possibly empty). */
    BERTH_STATUS_OK = 0,
    /** The operation failed; the body is an error object (see "Errors" above). */
    BERTH_STATUS_ERROR = 1,
} berth_status_t;

/** One opened backend for one target host. Opaque to the host; created by `open`. */
typedef struct berth_instance berth_instance_t;

/** A running stream (logs or events). Opaque to the host; created by `logs` or `events`. */
typedef struct berth_stream berth_stream_t;

/**
 * Completion of an operation. Called exactly once per operation, from any thread.
 *
 * @param context  the caller's context pointer, passed back unchanged.
 * @param status   BERTH_STATUS_OK or BERTH_STATUS_ERROR.
 * @param body     JSON response or error body; owned by the plugin, valid only during the call.
 *                 May be NULL when `body_len` is 0.
 * @param body_len length of `body` in bytes.
 */
typedef void (*berth_completion_fn)(void *context, berth_status_t status,
                                    const char *body, size_t body_len);

/**
 * Completion of `open`. Called exactly once, from any thread.
 *
 * @param instance the new instance on BERTH_STATUS_OK, NULL on error. The host owns it from
 *                 here on and hands it back to `close` exactly once.
 * @param body     on error, the error body; on success, empty or an informative JSON object.
 */
typedef void (*berth_open_completion_fn)(void *context, berth_status_t status,
                                         berth_instance_t *instance,
                                         const char *body, size_t body_len);

/**
 * One item of a stream (a log chunk or an event), as JSON. Called zero or more times, never
 * concurrently for the same stream, never after that stream's end callback.
 */
typedef void (*berth_stream_item_fn)(void *context, const char *item, size_t item_len);

/**
 * End of a stream. Called EXACTLY ONCE per stream, after its last item: when the stream is
 * exhausted (BERTH_STATUS_OK, empty body), when it fails (BERTH_STATUS_ERROR, error body), or
 * after the caller cancelled it (BERTH_STATUS_OK, empty body). It still comes exactly once
 * after a cancel.
 */
typedef void (*berth_stream_end_fn)(void *context, berth_status_t status,
                                    const char *body, size_t body_len);

/** The plugin descriptor returned by `berth_plugin_v1()`. All fields are required. */
typedef struct berth_plugin_v1 {
    /** BERTH_PLUGIN_ABI_VERSION the plugin was built against. */
    uint32_t abi_version;
    /** sizeof(berth_plugin_v1_t) as the plugin was built; the host checks it is large enough. */
    uint32_t struct_size;
    /** Backend name used in configuration (`plugin: docker`); NUL-terminated, [a-z0-9-]+. */
    const char *name;
    /** The plugin's own version, NUL-terminated (semantic version recommended). */
    const char *version;
    /** JSON Schema (draft 2020-12 subset) of the host settings `open` accepts; NUL-terminated. */
    const char *settings_schema;
    /** Plugin-private data, opaque to the host; passed back to `open` through `plugin`. */
    void *plugin_data;

    /**
     * Open one instance for one target host.
     * Request: the host settings JSON object, with the key "host" (the target host's name) and
     * "server" (the Berth server id) added by the host.
     * Completion: `berth_open_completion_fn` with the new instance, or an error
     * (`invalid_config` naming the key; `unavailable` is NOT an open error: an instance whose
     * engine is down opens and reports it through `health`).
     */
    void (*open)(const struct berth_plugin_v1 *plugin, const char *settings, size_t settings_len,
                 void *context, berth_open_completion_fn done);

    /**
     * Close an instance and free everything it holds. Called once, after all other calls on it
     * completed and all its streams were released. Completion body: empty.
     */
    void (*close)(berth_instance_t *instance, void *context, berth_completion_fn done);

    /**
     * Engine health. Response: {"ok": bool, "message": string, "engine_version": string?,
     * "cpus": number?, "memory_bytes": number?}. An unreachable engine is a successful call
     * with "ok": false, not an error.
     */
    void (*health)(berth_instance_t *instance, void *context, berth_completion_fn done);

    /**
     * Capacity. Response: {"max_concurrent": int, "running": int, "cpus": number?,
     * "memory_bytes": number?}.
     */
    void (*capacity)(berth_instance_t *instance, void *context, berth_completion_fn done);

    /**
     * Create and start one attempt. Request: an execution spec
     * {"execution_id", "attempt", "image", "command": [..]?, "args": [..]?, "env": {..}?,
     *  "working_dir"?, "labels": {..}?, "cpus"?, "memory_bytes"?, "network_mode"?,
     *  "pull_policy"?, "timeout_seconds"?}. Berth enforces "timeout_seconds" itself; a plugin
     * whose engine can enforce it too may pass it on. Unknown members are ignored, so v1
     * plugins keep working as optional members are added.
     * The plugin labels every runtime object with `berth.execution`, `berth.attempt` and
     * `berth.server`. Response: the runtime handle, any JSON object; the host stores it and
     * passes it back verbatim to inspect, stop, remove and logs.
     */
    void (*start)(berth_instance_t *instance, const char *spec, size_t spec_len,
                  void *context, berth_completion_fn done);

    /**
     * Inspect one attempt. Request: a runtime handle. Response: a runtime status
     * {"state": "created"|"running"|"exited"|"failed", "exit_code": int?, "reason": string?,
     *  "started_at": RFC 3339?, "finished_at": RFC 3339?, "error_code": string?}; for
     * "failed", "error_code" may name the BERTH_ERROR_* that says why (image_not_found).
     * A vanished object is `not_found`.
     */
    void (*inspect)(berth_instance_t *instance, const char *handle, size_t handle_len,
                    void *context, berth_completion_fn done);

    /**
     * Stop one attempt: ask it to end, and kill it after the grace period.
     * Request: {"handle": <runtime handle>, "grace_seconds": number}. Completes when the
     * attempt has ended. Response: empty. Stopping an ended attempt succeeds.
     */
    void (*stop)(berth_instance_t *instance, const char *request, size_t request_len,
                 void *context, berth_completion_fn done);

    /** Remove one attempt's runtime objects. Request: a runtime handle. Response: empty. */
    void (*remove)(berth_instance_t *instance, const char *handle, size_t handle_len,
                   void *context, berth_completion_fn done);

    /**
     * List runtime objects whose labels include all the given ones.
     * Request: {"labels": {"k": "v", ...}}. Response: {"items": [{"handle": <runtime handle>,
     * "labels": {..}, "status": <runtime status>}, ...]}.
     */
    void (*list)(berth_instance_t *instance, const char *request, size_t request_len,
                 void *context, berth_completion_fn done);

    /**
     * Stream one attempt's logs.
     * Request: {"handle": <runtime handle>, "follow": bool, "since": RFC 3339?}.
     * Items: {"stream": "stdout"|"stderr", "data": base64, "timestamp": RFC 3339}, in the
     * order the attempt wrote them within each stream. With follow, the stream ends when the
     * attempt ends. Returns the stream handle (never NULL; a failure to start is reported
     * through `end`).
     */
    berth_stream_t *(*logs)(berth_instance_t *instance, const char *request, size_t request_len,
                            void *context, berth_stream_item_fn item, berth_stream_end_fn end);

    /**
     * The instance's one event stream. Items:
     *   {"type": "status", "handle": <runtime handle>, "labels": {..}, "status": <runtime status>}
     *   {"type": "connection", "available": bool, "message": string}
     * It reports only Berth's runtime objects, keeps itself connected (reconnecting with
     * backoff, sending "connection" items on loss and recovery) and ends only when cancelled
     * or when the instance is closed.
     */
    berth_stream_t *(*events)(berth_instance_t *instance, void *context,
                              berth_stream_item_fn item, berth_stream_end_fn end);

    /**
     * Ask a stream to end. Idempotent; may be called from any thread, including from inside
     * that stream's own callbacks, until the stream is released. The end callback still
     * comes exactly once.
     */
    void (*stream_cancel)(berth_stream_t *stream);

    /**
     * Give a stream handle back. The caller calls it exactly once per stream, at any time
     * (before or after the end callback, or from inside it). The plugin frees the stream once
     * it has been released AND its end callback has returned; no callback comes after both.
     * Releasing a stream whose end has not come yet does not cancel it.
     */
    void (*stream_release)(berth_stream_t *stream);

    /* ---- Appended fields. The host uses one only when `struct_size` covers it and it is not
     * NULL; an older plugin simply does not offer it. ---- */

    /**
     * Stream a folder of an attempt's runtime object as a tar archive, after the attempt has
     * ended (the host collects its outputs before it removes the object).
     * Request: {"handle": <handle>, "path": "/berth/out"}.
     * Items: {"data": "<base64>"}: the archive's bytes, in order; entries are named relative to
     * the folder's parent (`out/result.json`).
     * End: ok; `not_found` when the object or the folder does not exist; `unsupported`.
     * May be NULL: the backend then has no outputs to collect.
     */
    berth_stream_t *(*collect)(berth_instance_t *instance, const char *request, size_t request_len,
                               void *context, berth_stream_item_fn item, berth_stream_end_fn end);
} berth_plugin_v1_t;

/** The entry point every plugin exports. */
typedef const berth_plugin_v1_t *(*berth_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* BERTH_PLUGIN_H */
