/*
 * Giving back the VMM's copy of the guest's kernel and initrd once the guest
 * is up.
 *
 * QEMU maps the kernel ELF and reads the initrd when it builds the machine,
 * and keeps both for as long as it runs: they are what it would load again on
 * a reset. A sandbox's VMM never resets (-no-reboot makes a guest reboot an
 * exit), so those pages, 16 MiB and more with cocoon's kernel, are host
 * memory spent on nothing for the VM's whole life. They are clean pages of
 * the files, so MADV_PAGEOUT drops them without writing anything; should the
 * VMM ever read them again, they come back from the file.
 *
 * It runs on a thread of its own: reclaiming 20-odd MiB takes milliseconds
 * that the container's start, which follows at once, should not wait for.
 *
 * The VMM is hostile input like the guest: its /proc/PID/maps is written by
 * the host kernel, and the only thing taken from it is address ranges, which
 * are only ever handed back, as advice, to the same process (by its pidfd).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "backend.h"
#include "cleanup.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

static int boot_file_id(const char *path, struct boot_file *ret)
{
        struct stat st;
        if (stat(path, &st) < 0)
                return -errno;
        *ret = (struct boot_file) {.dev = st.st_dev, .ino = st.st_ino};
        return 0;
}

size_t boot_files_of(const struct vm_config *cfg, struct boot_file ret[2])
{
        size_t n = 0;
        if (boot_file_id(cfg->kernel, &ret[n]) == 0)
                n++;
        if (boot_file_id(cfg->initrd, &ret[n]) == 0)
                n++;
        return n;
}

static bool is_boot_file(const struct boot_file *files, size_t n, dev_t dev, ino_t ino)
{
        for (size_t i = 0; i < n; i++)
                if (files[i].ino == ino && files[i].dev == dev)
                        return true;
        return false;
}

/* The VMM's mappings of files: up to max ranges; how many, or -errno. */
static ssize_t mapped_ranges(pid_t pid, const struct boot_file *files, size_t n_files, struct iovec *iov, size_t max)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/maps", (int) pid);
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        _cleanup_free_ char *line = NULL;
        size_t cap = 0, n = 0;
        while (n < max && getline(&line, &cap, f) > 0) {
                uintptr_t start, end;
                unsigned long long offset, ino;
                unsigned major, minor;
                char perms[5];
                if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %4s %llx %x:%x %llu", &start, &end, perms, &offset, &major,
                           &minor, &ino) != 7 ||
                    end <= start || ino == 0)
                        continue;
                if (is_boot_file(files, n_files, makedev(major, minor), (ino_t) ino))
                        iov[n++] = (struct iovec) {.iov_base = (void *) start, .iov_len = end - start};
        }
        return (ssize_t) n;
}

static ssize_t release(int pidfd, pid_t pid, const struct boot_file *files, size_t n_files)
{
        struct iovec iov[16];
        ssize_t n = mapped_ranges(pid, files, n_files, iov, sizeof(iov) / sizeof(iov[0]));
        if (n <= 0)
                return n;
        /* The pid was read before the maps: a pidfd that is readable means it ended (and the pid may be another's). */
        struct pollfd ended = {.fd = pidfd, .events = POLLIN};
        if (poll(&ended, 1, 0) != 0)
                return -ESRCH;
        ssize_t done = syscall(SYS_process_madvise, pidfd, iov, (size_t) n, MADV_PAGEOUT, 0u);
        return done < 0 ? -errno : done;
}

/* Whether pid's command line has "-name guest=NAME[,...]", as libvirt starts a domain's QEMU. */
static bool named(pid_t pid, const char *name)
{
        char path[64], buf[8192];
        snprintf(path, sizeof(path), "/proc/%d/cmdline", (int) pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return false;
        buf[n] = '\0';
        size_t len = strlen(name);
        for (const char *a = buf, *end = buf + n; a < end; a += strlen(a) + 1) {
                const char *next = a + strlen(a) + 1;
                if (strcmp(a, "-name") != 0 || next >= end)
                        continue;
                return strncmp(next, "guest=", 6) == 0 && strncmp(next + 6, name, len) == 0 &&
                       (next[6 + len] == '\0' || next[6 + len] == ',');
        }
        return false;
}

/* The VMM named name, held by a pidfd that is checked against the name again (the pid may be reused in between). */
static int find_named(const char *name, pid_t *ret_pid)
{
        DIR *d = opendir("/proc");
        if (!d)
                return -errno;
        struct dirent *e;
        long pid = 0;
        while ((e = readdir(d))) {
                char *endp;
                long p = strtol(e->d_name, &endp, 10);
                if (!*endp && p > 0 && named((pid_t) p, name)) {
                        pid = p;
                        break;
                }
        }
        closedir(d);
        if (pid == 0)
                return -ESRCH;
        int pidfd = (int) syscall(SYS_pidfd_open, (pid_t) pid, 0);
        if (pidfd < 0)
                return -errno;
        if (!named((pid_t) pid, name)) {
                close(pidfd);
                return -ESRCH;
        }
        *ret_pid = (pid_t) pid;
        return pidfd;
}

struct release_job {
        int pidfd; /* our own copy: the VM's may be closed while we run; -1: find the VMM by name */
        pid_t pid;
        char name[64];
        size_t n_files;
        struct boot_file files[];
};

static void *release_thread(void *arg)
{
        struct release_job *job = arg;
        if (job->pidfd < 0)
                job->pidfd = find_named(job->name, &job->pid);
        if (job->pidfd >= 0) {
                (void) release(job->pidfd, job->pid, job->files, job->n_files);
                close(job->pidfd);
        }
        free(job);
        return NULL;
}

static int start_job(int pidfd, pid_t pid, const char *name, const struct boot_file *files, size_t n_files)
{
        if (n_files == 0)
                return 0;
        struct release_job *job = calloc(1, sizeof(*job) + n_files * sizeof(job->files[0]));
        if (!job)
                return -ENOMEM;
        job->pidfd = -1;
        if (name && snprintf(job->name, sizeof(job->name), "%s", name) >= (int) sizeof(job->name)) {
                free(job);
                return -ENAMETOOLONG;
        }
        if (!name && (job->pidfd = fcntl(pidfd, F_DUPFD_CLOEXEC, 3)) < 0) {
                free(job);
                return -errno;
        }
        job->pid = pid;
        job->n_files = n_files;
        memcpy(job->files, files, n_files * sizeof(files[0]));
        pthread_attr_t attr;
        pthread_t t;
        int r = pthread_attr_init(&attr);
        if (r == 0) {
                (void) pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
                r = pthread_create(&t, &attr, release_thread, job);
                pthread_attr_destroy(&attr);
        }
        if (r != 0) {
                if (job->pidfd >= 0)
                        close(job->pidfd);
                free(job);
                return -r;
        }
        return 0;
}

int vmm_release_boot_files(int pidfd, pid_t pid, const struct boot_file *files, size_t n_files)
{
        return start_job(pidfd, pid, NULL, files, n_files);
}

int vmm_release_boot_files_named(const char *name, const struct boot_file *files, size_t n_files)
{
        return start_job(-1, 0, name, files, n_files);
}
