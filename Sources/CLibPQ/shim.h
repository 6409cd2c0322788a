#ifndef CLIBPQ_SHIM_H
#define CLIBPQ_SHIM_H
#include <libpq-fe.h>
#include <postgres_ext.h>

/* Character macros such as PG_DIAG_SQLSTATE ('C') do not import into Swift: wrap them. */

/** The SQLSTATE of a failed result, or NULL. */
static inline const char *berth_pq_result_sqlstate(const PGresult *result) {
    return PQresultErrorField(result, PG_DIAG_SQLSTATE);
}

/** The primary message of a failed result (without "ERROR:" and context), or NULL. */
static inline const char *berth_pq_result_primary_message(const PGresult *result) {
    return PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
}

/** The detail field of a failed result, or NULL. */
static inline const char *berth_pq_result_detail(const PGresult *result) {
    return PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL);
}

#endif
