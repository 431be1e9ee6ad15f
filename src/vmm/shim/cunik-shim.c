/*
 * cunik-shim: the parent of one VM process, so that the VM's exit status is never lost.
 *
 *   cunik-shim [--notify-fd N] [--no-thp] [--nice N] EXIT_FILE PROGRAM [ARG...]
 *
 * --nice N runs PROGRAM at nice value N: cunikd runs its control plane (itself, the spawner,
 * the shims) a little ahead of its VMs, and gives the VMs back the priority it was started with.
 *
 * --no-thp turns transparent huge pages off for PROGRAM (prctl PR_SET_THP_DISABLE, kept across
 * exec). QEMU asks for huge pages on guest RAM and on TCG's code buffer, so a tiny guest that
 * touches a few KiB of each gets 2 MiB pages: about 1.5 MiB more per idle VM (docs/qemu.md).
 *
 * cunikd spawns it detached (its own session and process group). It forks PROGRAM (QEMU),
 * waits for it and writes how it ended to EXIT_FILE ("exit N" or "signal N"; temp file, fsync,
 * rename), then exits with the same status. A daemon that was restarted meanwhile reads the file:
 * that is how an instance that died while cunikd was down keeps its exit code (live restore).
 * The daemon signals the whole process group; the shim ignores the catchable signals so that only
 * the VM decides what they mean, and SIGKILL ends both. It holds no other state: a few hundred KiB.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static void notify(int fd, const char *line) {
    if (fd < 0) return;
    /* One write of less than PIPE_BUF: never interleaved with the spawner's own lines. */
    ssize_t n;
    do n = write(fd, line, strlen(line));
    while (n < 0 && errno == EINTR);
    close(fd);
}

static void write_exit_file(const char *path, const char *text, int notify_fd, const char *line) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return notify(notify_fd, line);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return notify(notify_fd, line);
    size_t len = strlen(text);
    if (write(fd, text, len) != (ssize_t)len) {
        close(fd);
        unlink(tmp);
        return notify(notify_fd, line);
    }
    if (notify_fd < 0) {
        /* fsync before rename: after a power cut the file holds the status or does not exist. */
        if (fsync(fd) == 0) rename(tmp, path);
        else unlink(tmp);
        close(fd);
        return;
    }
    /*
     * With a daemon listening: rename first (so the file of this run is in place before the daemon
     * can start the instance again and clear stale files), tell the daemon, then fsync. A power
     * cut in between may leave an empty file, which reads as "killed" (137).
     */
    rename(tmp, path);
    notify(notify_fd, line);
    fsync(fd);
    close(fd);
}

int main(int argc, char **argv) {
    int notify_fd = -1;
    if (argc > 2 && strcmp(argv[1], "--notify-fd") == 0) {
        notify_fd = atoi(argv[2]);
        /* QEMU must not hold the daemon's pipe. */
        if (notify_fd < 3 || fcntl(notify_fd, F_SETFD, FD_CLOEXEC) < 0) notify_fd = -1;
        argv += 2;
        argc -= 2;
    }
    int no_thp = 0;
    if (argc > 1 && strcmp(argv[1], "--no-thp") == 0) {
        no_thp = 1;
        argv += 1;
        argc -= 1;
    }
    int set_nice = 0, nice_value = 0;
    if (argc > 2 && strcmp(argv[1], "--nice") == 0) {
        set_nice = 1;
        nice_value = atoi(argv[2]);
        argv += 2;
        argc -= 2;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: cunik-shim [--notify-fd N] [--no-thp] [--nice N] EXIT_FILE PROGRAM [ARG...]\n");
        return 125;
    }
    unlink(argv[1]);
    pid_t child = fork();
    if (child < 0) {
        perror("cunik-shim: fork");
        return 125;
    }
    if (child == 0) {
        /* Best effort: a kernel without it (before 3.15) runs the VM with huge pages as before. */
        if (no_thp) prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
        if (set_nice) setpriority(PRIO_PROCESS, 0, nice_value);
        execvp(argv[2], argv + 2);
        fprintf(stderr, "cunik-shim: cannot run %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    /* Only the VM acts on signals sent to the group. */
    int ignored[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM, SIGTSTP, SIGTTIN, SIGTTOU};
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++) signal(ignored[i], SIG_IGN);

    int status;
    while (waitpid(child, &status, 0) < 0) {
        if (errno != EINTR) return 125;
    }
    char text[64], line[64];
    if (WIFSIGNALED(status)) {
        snprintf(text, sizeof text, "signal %d\n", WTERMSIG(status));
        snprintf(line, sizeof line, "exit %d -1 %d\n", (int)getpid(), WTERMSIG(status));
        write_exit_file(argv[1], text, notify_fd, line);
        return 128 + WTERMSIG(status);
    }
    snprintf(text, sizeof text, "exit %d\n", WEXITSTATUS(status));
    snprintf(line, sizeof line, "exit %d %d 0\n", (int)getpid(), WEXITSTATUS(status));
    write_exit_file(argv[1], text, notify_fd, line);
    return WEXITSTATUS(status);
}
