/* One file descriptor over a unix socket (SCM_RIGHTS), with a few bytes of message. */
#pragma once

#include <stddef.h>

/* Sends fd with msg (at least one byte is always sent); 0 or -errno. */
int fd_send(int sock, int fd, const void *msg, size_t len);
/* Receives one fd (O_CLOEXEC); recv_flags such as MSG_DONTWAIT; the fd or -errno. */
int fd_receive(int sock, int recv_flags);
