#include "terminal.h"

#include <errno.h>

int terminal_raw(int fd, struct termios *saved)
{
        struct termios t;
        if (tcgetattr(fd, &t) < 0)
                return -errno;
        if (saved)
                *saved = t;
        cfmakeraw(&t);
        return tcsetattr(fd, TCSANOW, &t) < 0 ? -errno : 0;
}

int terminal_no_onlcr(int fd)
{
        struct termios t;
        if (tcgetattr(fd, &t) < 0)
                return -errno;
        t.c_oflag &= ~(tcflag_t) ONLCR;
        return tcsetattr(fd, TCSANOW, &t) < 0 ? -errno : 0;
}
