/*
 * cunik-spawner: starts processes for cunikd, so that the daemon (a large Node process) never forks.
 *
 *   cunik-spawner          (requests on stdin, replies on stdout)
 *
 * cunikd starts it once and keeps it. A fork of the daemon copies its page tables (a cost that
 * grows with its heap) and stalls its event loop; this process is a few hundred KiB, and it starts
 * each process with posix_spawn (vfork + exec), in a new session, stdin/stdout on /dev/null and
 * stderr appended to a log file.
 *
 * Request (stdin): a 4-byte little-endian length, then that many bytes of NUL-terminated strings:
 *   TAG, STDERR_FILE (empty: /dev/null), FLAGS, PROGRAM, ARG...     (ARG... includes argv[0])
 * FLAGS "n": the process gets this reply pipe as fd 3, to write its own "exit" line (cunik-shim
 * --notify-fd 3 reports its VM's end there, one hop sooner than the "reap"); "" otherwise.
 * Replies (stdout), one line each:
 *   "ok TAG PID"          started;
 *   "err TAG ERRNO"       not started (errno of posix_spawn or of opening STDERR_FILE);
 *   "reap PID CODE SIG"   a process it started ended: exit code (or -1) and signal number (or 0).
 * "ok" is always written before the "reap" of the same pid. A process given the pipe (flag "n")
 * writes its own "exit PID CODE SIG" line, which may come before the "ok".
 *
 * The processes it starts are its children only for their exit status: each one has its own
 * session, so when the spawner ends (stdin reaches EOF: the daemon is gone, even killed with
 * SIGKILL) they are handed to init and keep running; a restarted daemon re-adopts them by pid
 * (cunik-shim writes the VM's exit status to a file for that case). It ignores the terminal's
 * signals, so only EOF on stdin (or SIGKILL) ends it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const int ignored[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU};
static sigset_t ignored_set, no_signals;
static char *buf;
static size_t buf_len, buf_cap;

/* Write all of s to stdout; a daemon that stopped reading is gone: exit. */
static void reply(const char *s) {
    size_t len = strlen(s);
    while (len > 0) {
        ssize_t n = write(1, s, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            _exit(0);
        }
        s += n;
        len -= (size_t)n;
    }
}

static void spawn_one(char *msg, size_t len) {
    /* Split into NUL-terminated strings (the last one is terminated by the sender). */
    if (len == 0 || msg[len - 1] != '\0') return;
    size_t count = 0;
    for (size_t i = 0; i < len; i++) count += msg[i] == '\0';
    if (count < 5) return;
    char **fields = calloc(count + 1, sizeof *fields);
    if (fields == NULL) _exit(125);
    size_t k = 0;
    for (char *p = msg; p < msg + len; p += strlen(p) + 1) fields[k++] = p;
    fields[k] = NULL;
    const char *tag = fields[0], *errfile = fields[1], *flags = fields[2], *program = fields[3];
    char **args = fields + 4;

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    if (strchr(flags, 'n') != NULL) posix_spawn_file_actions_adddup2(&fa, 1, 3); /* before fd 1 is replaced */
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, errfile[0] ? errfile : "/dev/null", O_WRONLY | O_APPEND | O_CREAT, 0644);
#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 34)
    /*
     * Nothing else: descriptors the daemon inherited from whoever started it (a shell's, a CI
     * runner's pipe) would otherwise stay open in every VM for its whole life, and a reader
     * waiting for that pipe's end would wait as long.
     */
    posix_spawn_file_actions_addclosefrom_np(&fa, strchr(flags, 'n') != NULL ? 4 : 3);
#endif
    /* The child starts with default signal handling and nothing blocked (this process blocks SIGCHLD). */
    posix_spawnattr_setsigmask(&attr, &no_signals);
    posix_spawnattr_setsigdefault(&attr, &ignored_set);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int rc = posix_spawn(&pid, program, &fa, &attr, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);

    char line[256];
    if (rc == 0) snprintf(line, sizeof line, "ok %.100s %d\n", tag, (int)pid);
    else snprintf(line, sizeof line, "err %.100s %d\n", tag, rc);
    reply(line);
    free(fields);
}

/* Handle every complete request in buf. */
static void drain_requests(void) {
    size_t off = 0;
    while (buf_len - off >= 4) {
        const unsigned char *h = (const unsigned char *)buf + off;
        uint32_t n = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
        if (buf_len - off - 4 < n) break;
        spawn_one(buf + off + 4, n);
        off += 4 + n;
    }
    memmove(buf, buf + off, buf_len - off);
    buf_len -= off;
}

static void reap(void) {
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        char line[64];
        if (WIFSIGNALED(status)) snprintf(line, sizeof line, "reap %d -1 %d\n", (int)pid, WTERMSIG(status));
        else snprintf(line, sizeof line, "reap %d %d 0\n", (int)pid, WEXITSTATUS(status));
        reply(line);
    }
}

int main(void) {
    sigemptyset(&ignored_set);
    sigemptyset(&no_signals);
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++) {
        signal(ignored[i], SIG_IGN);
        sigaddset(&ignored_set, ignored[i]);
    }
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        perror("cunik-spawner: signalfd");
        return 125;
    }
    buf_cap = 64 * 1024;
    buf = malloc(buf_cap);
    if (buf == NULL) return 125;

    struct pollfd fds[2] = {{.fd = 0, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
    int open_input = 1;
    while (open_input) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            perror("cunik-spawner: poll");
            return 125;
        }
        if (fds[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
            }
            reap();
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            if (buf_cap - buf_len < 4096) {
                buf_cap *= 2;
                buf = realloc(buf, buf_cap);
                if (buf == NULL) return 125;
            }
            ssize_t n = read(0, buf + buf_len, buf_cap - buf_len);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                open_input = 0; /* the daemon is gone: leave the processes to init */
                continue;
            }
            buf_len += (size_t)n;
            drain_requests();
        }
    }
    return 0;
}
