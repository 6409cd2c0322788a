#ifndef CSSH2_SHIM_H
#define CSSH2_SHIM_H

#include <pthread.h>
#include <string.h>
#include <libssh2.h>

/* glibc declares this only under _GNU_SOURCE, which must not be defined here: it changes
 * glibc's own types (fd_set) against the copies in Swift's Glibc module. */
extern int pthread_setname_np(pthread_t thread, const char *name);

/* Names the calling thread as `top -H` and /proc show it (Linux keeps 15 bytes). */
static inline void berth_set_thread_name(const char *name) {
    char shortened[16];
    strncpy(shortened, name, sizeof shortened - 1);
    shortened[sizeof shortened - 1] = '\0';
    pthread_setname_np(pthread_self(), shortened);
}

/*
 * Function forms of libssh2 macros, which Swift cannot call, for the calls Berth makes.
 * libssh2 1.10 (Debian 12): no streamlocal forwarding, so the remote engine is reached through
 * an exec channel running `docker system dial-stdio`.
 */

static inline LIBSSH2_SESSION *berth_ssh2_session_init(void) {
    return libssh2_session_init();
}

static inline LIBSSH2_CHANNEL *berth_ssh2_channel_open_session(LIBSSH2_SESSION *session) {
    return libssh2_channel_open_session(session);
}

static inline int berth_ssh2_channel_exec(LIBSSH2_CHANNEL *channel, const char *command) {
    return libssh2_channel_exec(channel, command);
}

static inline ssize_t berth_ssh2_channel_read(LIBSSH2_CHANNEL *channel, char *buffer, size_t length) {
    return libssh2_channel_read(channel, buffer, length);
}

static inline ssize_t berth_ssh2_channel_read_stderr(LIBSSH2_CHANNEL *channel, char *buffer, size_t length) {
    return libssh2_channel_read_stderr(channel, buffer, length);
}

static inline ssize_t berth_ssh2_channel_write(LIBSSH2_CHANNEL *channel, const char *buffer, size_t length) {
    return libssh2_channel_write(channel, buffer, length);
}

static inline int berth_ssh2_userauth_publickey_fromfile(LIBSSH2_SESSION *session, const char *user,
                                                         const char *private_key, const char *passphrase) {
    return libssh2_userauth_publickey_fromfile_ex(session, user, (unsigned int)strlen(user), NULL,
                                                   private_key, passphrase);
}

#endif
