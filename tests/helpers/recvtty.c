/*
 * recvtty SOCKET OUTPUT [INPUT]: the receiving end of --console-socket, as a
 * caller such as containerd's shim or conmon is. Listens on SOCKET, takes
 * one pty master over SCM_RIGHTS, sets its size to $ROWS x $COLS (default
 * 24x80), writes INPUT (a string) into it, and copies what comes out to the
 * file OUTPUT until the terminal closes. Prints "ready" once listening.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int receive_fd(int conn)
{
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } cbuf;
        char name[256];
        struct iovec iov = {.iov_base = name, .iov_len = sizeof(name)};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf)};
        if (recvmsg(conn, &mh, 0) < 0)
                return -1;
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        if (!cm || cm->cmsg_type != SCM_RIGHTS)
                return -1;
        int fd;
        memcpy(&fd, CMSG_DATA(cm), sizeof(int));
        return fd;
}

int main(int argc, char **argv)
{
        if (argc < 3) {
                fprintf(stderr, "usage: recvtty SOCKET OUTPUT [INPUT]\n");
                return 2;
        }
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", argv[1]);
        int ls = socket(AF_UNIX, SOCK_STREAM, 0);
        if (ls < 0 || bind(ls, (struct sockaddr *) &addr, sizeof(addr)) < 0 || listen(ls, 1) < 0) {
                perror(argv[1]);
                return 1;
        }
        printf("ready\n");
        fflush(stdout);
        int conn = accept(ls, NULL, NULL);
        int master = conn < 0 ? -1 : receive_fd(conn);
        if (master < 0) {
                fprintf(stderr, "recvtty: no terminal arrived\n");
                return 1;
        }
        close(conn);
        close(ls);
        unlink(argv[1]);
        struct winsize ws = {.ws_row = getenv("ROWS") ? atoi(getenv("ROWS")) : 24,
                             .ws_col = getenv("COLS") ? atoi(getenv("COLS")) : 80};
        (void) ioctl(master, TIOCSWINSZ, &ws);
        if (argc > 3)
                (void) !write(master, argv[3], strlen(argv[3]));
        int out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out < 0) {
                perror(argv[2]);
                return 1;
        }
        char buf[4096];
        for (;;) {
                ssize_t n = read(master, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break; /* EIO once every slave is closed */
                (void) !write(out, buf, n);
        }
        return 0;
}
