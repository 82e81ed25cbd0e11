/* Terminal modes shared by the container's pty (core) and the host stub's pty (runtime). */
#pragma once

#include <termios.h>

/* Puts the terminal fd in raw mode (cfmakeraw); the old settings in *saved unless NULL. 0 or -errno. */
int terminal_raw(int fd, struct termios *saved);
/* Turns ONLCR off, as runc does on the ptys it relays: "\n" leaves as "\n". 0 or -errno. */
int terminal_no_onlcr(int fd);
