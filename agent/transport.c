/*
 * The agent's link to the host: a virtio-serial port, or a vsock listener
 * when the host gave the VM a vhost-vsock device. The host says which on the
 * kernel command line (cocoon.transport=serial|vsock), so the agent never
 * guesses. Everything above the byte stream is the same.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.h"
#include "cleanup.h"
#include "fsutil.h"

static int on_conn(struct watch *w, uint32_t events);

static int find_serial_port(char **ret, cocoon_error **err)
{
        DIR *d = opendir("/sys/class/virtio-ports");
        if (!d)
                return error_sys(err, errno, "no virtio-serial ports (/sys/class/virtio-ports)");
        int r = -ENOENT;
        struct dirent *de;
        while (r == -ENOENT && (de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                char path[512];
                _cleanup_free_ char *name = NULL;
                snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", de->d_name);
                if (read_file(path, 256, &name, NULL) < 0)
                        continue;
                name[strcspn(name, "\n")] = '\0';
                if (strcmp(name, GUEST_SERIAL_PORT) == 0)
                        r = asprintf(ret, "/dev/%s", de->d_name) < 0 ? -ENOMEM : 0;
        }
        closedir(d);
        if (r == -ENOENT)
                return error_set(err, ENOENT, "no virtio-serial port named %s", GUEST_SERIAL_PORT);
        return r;
}

bool transport_wants_vsock(void)
{
        _cleanup_free_ char *cmdline = NULL;
        if (read_file("/proc/cmdline", 4096, &cmdline, NULL) < 0)
                return false;
        return strstr(cmdline, GUEST_TRANSPORT_ARG "vsock") != NULL;
}

static int attach(struct agent *a, int fd)
{
        conn_init(&a->conn, fd, false);
        a->conn_up = true;
        return loop_add(a->loop, fd, EPOLLIN, on_conn, a, &a->conn_watch);
}

static void detach(struct agent *a)
{
        loop_remove(a->conn_watch);
        a->conn_watch = NULL;
        a->conn_up = false;
        conn_destroy(&a->conn);
}

static int open_port(const struct agent *a)
{
        return open(a->serial_path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
}

static int open_serial(struct agent *a)
{
        int fd = open_port(a);
        if (fd < 0)
                return -errno;
        return attach(a, fd);
}

static int on_accept(struct watch *w, uint32_t events)
{
        struct agent *a = w->data;
        int fd = accept4(a->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
                return 0;
        if (a->conn_up) {
                /* One host connection at a time: the supervisor owns the sandbox. */
                close(fd);
                return 0;
        }
        return attach(a, fd);
}

static int on_conn(struct watch *w, uint32_t events)
{
        struct agent *a = w->data;
        _cleanup_error_ cocoon_error *err = NULL;

        bool hangup = false;
        if (events & EPOLLIN) {
                for (;;) {
                        ssize_t n = conn_fill(&a->conn, &err);
                        if (n == -EAGAIN || n == -EINTR)
                                break;
                        hangup = n == 0;
                        if (n <= 0)
                                goto lost;
                        struct frame_header h;
                        const uint8_t *payload;
                        int r;
                        while ((r = conn_next(&a->conn, &h, &payload, &err)) > 0) {
                                if (h.type == FRAME_REQUEST)
                                        r = rpc_dispatch(a, payload, h.length);
                                else
                                        r = rpc_on_stdio_frame(a, &h, payload);
                                if (r < 0)
                                        goto lost;
                        }
                        if (r < 0)
                                goto lost;
                }
        } else if (events & (EPOLLHUP | EPOLLERR)) {
                hangup = true;
                goto lost;
        }
        transport_kick(a);
        return 0;

lost:
        if (err)
                fprintf(stderr, "cocoon-agent: host link: %s\n", err->msg);
        /*
         * A virtio-serial port reads as hung up while its host end is not
         * connected, which at boot can last a moment after the host's first
         * request has been read, and answered into the output buffer. So a
         * hang-up keeps the link's buffers and only reopens the port; a
         * protocol error starts afresh. A vsock peer simply reconnects.
         */
        if (a->serial_path && hangup) {
                /* On the console, which the host shows when a boot fails. */
                fprintf(stderr, "cocoon-agent: host link hung up (%zu bytes to send); reopening the port\n",
                        a->conn.out_len - a->conn.out_off);
                loop_remove(a->conn_watch);
                a->conn_watch = NULL;
                (void) close(a->conn.fd);
                a->conn.fd = -1;
                usleep(100 * 1000);
                a->conn.fd = open_port(a);
                if (a->conn.fd >= 0 && loop_add(a->loop, a->conn.fd, EPOLLIN, on_conn, a, &a->conn_watch) == 0) {
                        transport_kick(a);
                        return 0;
                }
        }
        detach(a);
        if (a->serial_path) {
                usleep(100 * 1000);
                (void) open_serial(a);
        }
        return 0;
}

void transport_kick(struct agent *a)
{
        if (!a->conn_up)
                return;
        _cleanup_error_ cocoon_error *err = NULL;
        int r = conn_flush(&a->conn, &err);
        if (r < 0) {
                fprintf(stderr, "cocoon-agent: host link: %s\n", err ? err->msg : strerror(-r));
                return;
        }
        (void) loop_set_events(a->conn_watch, EPOLLIN | (r == 0 ? EPOLLOUT : 0));
}

int transport_open(struct agent *a, cocoon_error **err)
{
        a->listen_fd = -1;
        if (transport_wants_vsock()) {
                int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        return error_sys(err, errno, "creating the vsock listener");
                struct sockaddr_vm addr = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
                                           .svm_port = GUEST_VSOCK_PORT};
                if (bind(fd, (struct sockaddr *) &addr, sizeof(addr)) < 0 || listen(fd, 4) < 0) {
                        int e = errno;
                        close(fd);
                        return error_sys(err, e, "listening on vsock port %d", GUEST_VSOCK_PORT);
                }
                a->listen_fd = fd;
                return loop_add(a->loop, fd, EPOLLIN, on_accept, a, NULL);
        }

        /*
         * virtio-serial announces its ports through its control queue after
         * the driver probes, so the port shows up a little after the module
         * loads: wait for it, for as long as a slow emulated boot may need.
         */
        int r;
        for (int waited_ms = 0;; waited_ms += 5) {
                _cleanup_error_ cocoon_error *e = NULL;
                r = find_serial_port(&a->serial_path, &e);
                if (r != -ENOENT || waited_ms >= 10000) {
                        if (r < 0 && err && !*err)
                                *err = TAKE_PTR(e);
                        break;
                }
                usleep(5000);
        }
        if (r < 0)
                return r;
        r = open_serial(a);
        if (r < 0)
                return error_sys(err, -r, "opening %s", a->serial_path);
        return 0;
}
