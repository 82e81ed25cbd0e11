/* A minimal blocking QMP client: handshake and simple commands. */
#pragma once

#include "error.h"

/* Reads the greeting and negotiates capabilities; waits up to 30 s. */
int qmp_handshake(int fd, cocoon_error **err);
/*
 * Runs a command without arguments and waits for its answer. On success
 * *ret_json (if non-NULL) gets the "return" value as JSON text.
 */
int qmp_command(int fd, const char *command, char **ret_json);
/* query-status: the run state as QEMU names it (malloc'd). */
int qmp_query_status(int fd, char **ret_status);
