/*
 * containerd-shim-cocoon-v2 [flags] start|delete
 *
 * containerd runs `start` in the bundle's directory: it prints the address
 * of the shim that will serve the task (a new one, daemonized, or the one
 * of the pod's sandbox) and exits. `delete` cleans up after a shim that is
 * gone and prints a DeleteResponse. The daemon serves ttrpc on its socket
 * until containerd shuts it down.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "fsutil.h"
#include "log.h"
#include "shim.h"
#include "ttrpc.h"

#define SHIM_SOCKET_DIR "/run/containerd/s"
#define TASK_SERVICE "containerd.task.v2.Task"
#define MAX_CONNS 32

static int usage(void)
{
        fprintf(stderr, "usage: containerd-shim-cocoon-v2 -namespace NS -address ADDR -publish-binary BIN -id ID "
                        "[-bundle DIR] [-debug] start|delete\n");
        return 2;
}

/* Go's flag syntax, as containerd writes it: -name value, --name value, -name=value. */
static int parse_args(int argc, char **argv, struct shim_args *a, const char **ret_cmd)
{
        static const struct {
                const char *name;
                size_t off;
        } valued[] = {
                {"namespace", offsetof(struct shim_args, ns)},
                {"address", offsetof(struct shim_args, address)},
                {"publish-binary", offsetof(struct shim_args, publish_binary)},
                {"id", offsetof(struct shim_args, id)},
                {"bundle", offsetof(struct shim_args, bundle)},
                {"socket", SIZE_MAX},
        };
        *ret_cmd = NULL;
        for (int i = 1; i < argc; i++) {
                const char *arg = argv[i];
                if (arg[0] != '-') {
                        if (*ret_cmd)
                                return -1;
                        *ret_cmd = arg;
                        continue;
                }
                arg += arg[1] == '-' ? 2 : 1;
                const char *eq = strchr(arg, '=');
                size_t n = eq ? (size_t) (eq - arg) : strlen(arg);
                if (strncmp(arg, "debug", n) == 0 && n == 5) {
                        a->debug = true;
                        continue;
                }
                if (strncmp(arg, "v", n) == 0 && n == 1) {
                        *ret_cmd = "version";
                        continue;
                }
                size_t k;
                for (k = 0; k < ARRAY_SIZE(valued); k++)
                        if (strlen(valued[k].name) == n && strncmp(arg, valued[k].name, n) == 0)
                                break;
                if (k == ARRAY_SIZE(valued))
                        return -1;
                const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
                if (!value)
                        return -1;
                if (valued[k].off != SIZE_MAX)
                        *(const char **) ((char *) a + valued[k].off) = value;
        }
        return *ret_cmd ? 0 : -1;
}

/* cocoon's state for this containerd namespace: $COCOON_ROOT (default /run/cocoon), then the namespace. */
static char *state_root(const char *ns)
{
        const char *base = getenv("COCOON_ROOT");
        return path_join(base && *base ? base : COCOON_DEFAULT_ROOT, ns);
}

/* A pod's containers go to the shim of their sandbox (CRI's annotations); anything else gets its own. */
static char *group_of(const char *id)
{
        _cleanup_free_ char *text = NULL;
        size_t len;
        _cleanup_spec_ struct oci_spec *spec = NULL;
        const char *sandbox = NULL;
        if (read_file("config.json", SPEC_MAX_SIZE, &text, &len) == 0 && spec_parse(text, len, &spec, NULL) == 0 &&
            pod_sandbox_of(spec, id, &sandbox, NULL) == 0 && sandbox)
                return strdup(sandbox);
        return strdup(id);
}

/* The socket's path: short (sun_path), the same for every container of a group. */
static int socket_path(const struct shim_args *a, const char *group, char *buf, size_t size)
{
        uint64_t h = 1469598103934665603ULL; /* FNV-1a over address, namespace and group */
        const char *parts[] = {a->address, a->ns, group};
        for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
                for (const char *c = parts[i]; *c; c++)
                        h = (h ^ (uint8_t) *c) * 1099511628211ULL;
                h = (h ^ 0xff) * 1099511628211ULL;
        }
        int n = snprintf(buf, size, SHIM_SOCKET_DIR "/cocoon-%016llx", (unsigned long long) h);
        return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

static int unix_socket(const char *path, bool listening, cocoon_error **err)
{
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(addr.sun_path))
                return error_set(err, ENAMETOOLONG, "%s: path too long", path);
        strcpy(addr.sun_path, path);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return error_sys(err, errno, "socket");
        if (!listening)
                return connect(fd, (struct sockaddr *) &addr, sizeof(addr)) < 0 ? -errno : TAKE_FD(fd);
        (void) unlink(path);
        mode_t old = umask(0077);
        int r = bind(fd, (struct sockaddr *) &addr, sizeof(addr));
        umask(old);
        if (r < 0 || listen(fd, 16) < 0)
                return error_sys(err, errno, "listening on %s", path);
        return TAKE_FD(fd);
}

/* ---- the daemon ---- */

struct server {
        struct shim *s;
        int ep, lfd, sfd;
        struct ttrpc_conn conns[MAX_CONNS];
};

static void close_conn(struct server *sv, struct ttrpc_conn *c)
{
        shim_forget_fd(sv->s, c->fd);
        (void) epoll_ctl(sv->ep, EPOLL_CTL_DEL, c->fd, NULL);
        ttrpc_conn_destroy(c);
}

static void handle_frame(struct server *sv, struct ttrpc_conn *c, const struct ttrpc_header *h, const uint8_t *p)
{
        Cocoon__Shim__TtrpcRequest *req = cocoon__shim__ttrpc_request__unpack(NULL, h->length, p);
        if (!req) {
                (void) ttrpc_send_response(c->fd, h->stream, 3, "ttrpc: the request does not unpack", NULL, 0);
                return;
        }
        if (strcmp(req->service, TASK_SERVICE) != 0) {
                char msg[256];
                snprintf(msg, sizeof(msg), "service %.200s is not served here", req->service);
                (void) ttrpc_send_response(c->fd, h->stream, 12, msg, NULL, 0);
        } else {
                shim_dispatch(sv->s, c->fd, h->stream, req->method, req->payload.data, req->payload.len);
        }
        cocoon__shim__ttrpc_request__free_unpacked(req, NULL);
}

static void on_readable(struct server *sv, struct ttrpc_conn *c)
{
        for (;;) {
                ssize_t n = ttrpc_conn_fill(c);
                if (n == -EAGAIN || n == -EINTR)
                        break;
                if (n <= 0) {
                        close_conn(sv, c);
                        return;
                }
                struct ttrpc_header h;
                const uint8_t *payload;
                int r;
                _cleanup_error_ cocoon_error *err = NULL;
                while ((r = ttrpc_conn_next(c, &h, &payload, &err)) == 1) {
                        handle_frame(sv, c, &h, payload);
                        ttrpc_conn_consume(c, &h);
                }
                if (r < 0) {
                        log_error("%s", err->msg);
                        close_conn(sv, c);
                        return;
                }
        }
}

static void on_signal(struct server *sv)
{
        struct signalfd_siginfo si;
        while (read(sv->sfd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
                        sv->s->exiting = true;
        }
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
                (void) shim_publisher_exited(sv->s, pid);
}

static int serve(struct shim *s, int lfd)
{
        struct server sv = {.s = s, .lfd = lfd, .ep = epoll_create1(EPOLL_CLOEXEC)};
        s->ep = sv.ep;
        for (int i = 0; i < MAX_CONNS; i++)
                sv.conns[i].fd = -1;
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);
        sv.sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (sv.ep < 0 || sv.sfd < 0)
                return -errno;
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = MAX_CONNS};
        epoll_ctl(sv.ep, EPOLL_CTL_ADD, lfd, &ev);
        ev.data.u64 = MAX_CONNS + 1;
        epoll_ctl(sv.ep, EPOLL_CTL_ADD, sv.sfd, &ev);
        while (!s->exiting) {
                struct epoll_event evs[16];
                int n = epoll_wait(sv.ep, evs, 16, -1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                for (int i = 0; i < n && !s->exiting; i++) {
                        uint64_t k = evs[i].data.u64;
                        if (k > MAX_CONNS + 1) {
                                struct shim_watch *w = evs[i].data.ptr; /* a connection to a supervisor */
                                w->ready(s, w->obj);
                        } else if (k == MAX_CONNS + 1) {
                                on_signal(&sv);
                        } else if (k == MAX_CONNS) {
                                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                                int slot;
                                for (slot = 0; fd >= 0 && slot < MAX_CONNS && sv.conns[slot].fd >= 0; slot++)
                                        ;
                                if (fd >= 0 && slot == MAX_CONNS) {
                                        close(fd);
                                } else if (fd >= 0) {
                                        ttrpc_conn_init(&sv.conns[slot], fd);
                                        struct epoll_event cev = {.events = EPOLLIN, .data.u64 = slot};
                                        epoll_ctl(sv.ep, EPOLL_CTL_ADD, fd, &cev);
                                }
                        } else if (sv.conns[k].fd >= 0) {
                                on_readable(&sv, &sv.conns[k]);
                        }
                }
        }
        for (int i = 0; i < MAX_CONNS; i++)
                if (sv.conns[i].fd >= 0)
                        ttrpc_conn_destroy(&sv.conns[i]);
        close(sv.sfd);
        close(sv.ep);
        return 0;
}

/* The daemon's stderr: the bundle's "log" fifo that containerd reads, if it is there. */
static void daemon_stdio(void)
{
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        int log = open("log", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (log >= 0)
                (void) fcntl(log, F_SETFL, 0);
        (void) dup2(null, 0);
        (void) dup2(null, 1);
        (void) dup2(log >= 0 ? log : null, 2);
        if (null > 2)
                close(null);
        if (log > 2)
                close(log);
}

static int run_daemon(struct shim *s, int lfd, const char *path)
{
        int r = serve(s, lfd);
        shim_cleanup(s);
        shim_publish_flush(s);
        close(lfd);
        (void) unlink(path);
        (void) rmdir(s->root); /* the namespace's directory, once empty */
        return r < 0 ? 1 : 0;
}

static int cmd_start(struct shim *s)
{
        _cleanup_free_ char *group = group_of(s->args.id);
        char path[108];
        _cleanup_error_ cocoon_error *err = NULL;
        if (!group || socket_path(&s->args, group, path, sizeof(path)) < 0)
                return 1;
        /* The pod's shim, if it runs. */
        int fd = unix_socket(path, false, NULL);
        if (fd >= 0) {
                close(fd);
                printf("unix://%s\n", path);
                return 0;
        }
        if (mkdir_p(SHIM_SOCKET_DIR, 0711) < 0 || mkdir_p(s->root, 0700) < 0) {
                fprintf(stderr, "containerd-shim-cocoon-v2: creating %s: %s\n", s->root, strerror(errno));
                return 1;
        }
        int lfd = unix_socket(path, true, &err);
        if (lfd < 0) {
                fprintf(stderr, "containerd-shim-cocoon-v2: %s\n", err->msg);
                return 1;
        }
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) {
                perror("containerd-shim-cocoon-v2: fork");
                return 1;
        }
        if (pid == 0) {
                (void) setsid();
                daemon_stdio();
                if (chdir("/") < 0)
                        _exit(1);
                _exit(run_daemon(s, lfd, path));
        }
        close(lfd);
        printf("unix://%s\n", path);
        return 0;
}

/* containerd lost the shim: whatever of the container is left goes. */
static int cmd_delete(struct shim *s)
{
        _cleanup_error_ cocoon_error *err = NULL;
        struct container c;
        int r = container_open(s->root, s->args.id, &c, &err);
        if (r == 0) {
                r = container_stop_sandbox(&c, &err);
                if (r == 0)
                        r = container_destroy(&c, &err);
                else
                        container_close(&c);
        } else if (r == -ENOENT) {
                r = 0;
        }
        char cwd[4096];
        shim_unmount_rootfs(s->args.bundle ? s->args.bundle : getcwd(cwd, sizeof(cwd)) ? cwd : ".");
        (void) rmdir(s->root);
        if (r < 0) {
                fprintf(stderr, "containerd-shim-cocoon-v2: delete %s: %s\n", s->args.id, err ? err->msg : strerror(-r));
                return 1;
        }
        Cocoon__Shim__Timestamp at = timestamp_now();
        Cocoon__Shim__DeleteResponse resp = COCOON__SHIM__DELETE_RESPONSE__INIT;
        resp.exit_status = 128 + SIGKILL;
        resp.exited_at = &at;
        uint8_t buf[64];
        size_t n = cocoon__shim__delete_response__pack(&resp, buf);
        return fwrite(buf, 1, n, stdout) == n && fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
        struct shim s = {.events_fd = -1};
        const char *cmd;
        if (parse_args(argc, argv, &s.args, &cmd) < 0)
                return usage();
        if (strcmp(cmd, "version") == 0) {
                printf("containerd-shim-cocoon-v2 (cocoon)\n");
                return 0;
        }
        if (!s.args.ns || !*s.args.ns || !s.args.id || !*s.args.id || strchr(s.args.ns, '/') ||
            strcmp(s.args.ns, "..") == 0 || strcmp(s.args.ns, ".") == 0) {
                fprintf(stderr, "containerd-shim-cocoon-v2: -namespace and -id are needed (a namespace without /)\n");
                return 2;
        }
        if (!s.args.address)
                s.args.address = "";
        (void) log_setup(NULL, false, s.args.debug);
        s.root = state_root(s.args.ns);
        s.rt.root = s.root;
        s.rt.debug = s.args.debug;
        _cleanup_error_ cocoon_error *err = NULL;
        if (!s.root || config_load(&s.rt.cfg, &err) < 0) {
                fprintf(stderr, "containerd-shim-cocoon-v2: %s\n", err ? err->msg : "out of memory");
                return 1;
        }
        int r;
        if (strcmp(cmd, "start") == 0)
                r = cmd_start(&s);
        else if (strcmp(cmd, "delete") == 0)
                r = cmd_delete(&s);
        else
                r = usage();
        config_free(&s.rt.cfg);
        free(s.root);
        return r;
}
