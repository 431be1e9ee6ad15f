/*
 * cunik-runc's front (build/bin/cunik-runc, run by bin/cunik-runc): containerd's shim runs the
 * runtime several times per task, and only `create` needs the runtime in Node. This answers
 * `state`, `start`, `kill` and `delete` of cunik-runc's own containers from the plain files
 * create leaves beside the record (src/runtime/state.ts: status, task, state.json, cgroups, net),
 * hands every id it does not own (and `features`) to the real runc with the same argv, and execs
 * the Node runtime for the rest (create, ps, pause, a forced delete of a live task, a delete that
 * must undo a network namespace, an unknown signal, any failure it does not report itself: Node
 * then does the same work again and reports it in its own words). Same argv parsing, JSON log
 * lines, error texts and exit codes as src/runtime/main.ts (docs/kubernetes.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char *log_file, *log_format = "text";
static char **orig_argv;

static int has(const char *const *set, const char *a) {
    for (; *set != NULL; set++)
        if (strcmp(*set, a) == 0) return 1;
    return 0;
}

static const char *const GLOBAL_VALUE[] = {"--root", "--log", "--log-format", "--criu", "--rootless", NULL};
static const char *const VALUE_FLAGS[] = {"--bundle", "-b", "--pid-file", "--console-socket", "--preserve-fds", "--format", "-f", "--process", "-p", "--cwd", "--env", "-e", "--user", "-u", "--image-path", "--work-path", "--parent-path", "--page-server", "--manage-cgroups-mode", "--empty-ns", "--status-code", "--interval", "--pidfd-socket", NULL};

/* Node's runtime: bin/cunik-runc with CUNIK_RUNC_NODE set (it then starts node). */
static void exec_node(void) {
    char self[PATH_MAX], script[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = 0;
        for (int up = 0; up < 3; up++) {
            char *slash = strrchr(self, '/');
            if (slash != NULL) *slash = 0;
        }
        snprintf(script, sizeof script, "%s/bin/cunik-runc", self);
        setenv("CUNIK_RUNC_NODE", "1", 1);
        orig_argv[0] = script;
        execv(script, orig_argv);
    }
    fprintf(stderr, "cunik-runc: cannot run the runtime: %s\n", strerror(errno));
    exit(1);
}

static void exec_runc(void) {
    const char *runc = getenv("CUNIK_RUNC");
    if (runc == NULL) runc = "/usr/sbin/runc";
    orig_argv[0] = (char *)runc;
    execv(runc, orig_argv);
    fprintf(stderr, "cunik-runc: cannot run %s: %s\n", runc, strerror(errno));
    exit(127);
}

/* JSON string of s (as JSON.stringify writes it) into out. */
static void json_str(char *out, size_t size, const char *s) {
    size_t o = 0;
    out[o++] = '"';
    for (; *s != 0 && o + 8 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') o += (size_t)snprintf(out + o, size - o, "\\%c", c);
        else if (c == '\n') o += (size_t)snprintf(out + o, size - o, "\\n");
        else if (c < 0x20) o += (size_t)snprintf(out + o, size - o, "\\u%04x", c);
        else out[o++] = (char)c;
    }
    out[o++] = '"';
    out[o] = 0;
}

static void append(const char *file, const char *line) {
    int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0 || write(fd, line, strlen(line)) < 0) {
        if (fd >= 0) close(fd);
        errno = EIO;
        return;
    }
    close(fd);
    errno = 0;
}

/* log.ts's runtimeLog: the --log file (json or text), CUNIK_RUNC_LOG's copy, stderr without --log. */
static void log_line(const char *level, const char *msg) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char when[96], m[4096], line[4400];
    snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));
    json_str(m, sizeof m, msg);
    const char *copy = getenv("CUNIK_RUNC_LOG");
    if (copy != NULL && *copy != 0) {
        snprintf(line, sizeof line, "{\"level\":\"%s\",\"msg\":%s,\"time\":\"%s\",\"pid\":%d}\n", level, m, when, (int)getpid());
        append(copy, line);
    }
    int warn = strcmp(level, "error") == 0 || strcmp(level, "warning") == 0;
    if (log_file == NULL || *log_file == 0) {
        if (warn) fprintf(stderr, "cunik-runc: %s\n", msg);
        return;
    }
    if (strcmp(log_format, "json") == 0) snprintf(line, sizeof line, "{\"level\":\"%s\",\"msg\":%s,\"time\":\"%s\"}\n", level, m, when);
    else snprintf(line, sizeof line, "time=\"%s\" level=%s msg=%s\n", when, level, m);
    append(log_file, line);
    if (errno != 0) fprintf(stderr, "cunik-runc: %s\n", msg);
}

/* main.ts's catch: the error logged, and on stderr too when there is a log file. */
static int fail(int code, const char *msg) {
    log_line("error", msg);
    if (log_file != NULL) fprintf(stderr, "cunik-runc: %s\n", msg);
    return code;
}

static int read_file(const char *path, char *buf, size_t size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t n = 0;
    ssize_t r;
    while (n + 1 < size && (r = read(fd, buf + n, size - 1 - n)) > 0) n += (size_t)r;
    close(fd);
    buf[n] = 0;
    return (int)n;
}

/* proc.ts's procStartTime: field 22 of /proc/PID/stat, or "" for a zombie or no process. */
static void start_time(int pid, char *out, size_t size) {
    char path[64], stat[2048];
    out[0] = 0;
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    if (pid <= 0 || read_file(path, stat, sizeof stat) <= 0) return;
    char *p = strrchr(stat, ')');
    if (p == NULL || p[1] == 0 || p[2] == 0) return;
    p += 2;
    if (*p == 'Z' || *p == 'X') return;
    for (int field = 0; field < 19 && p != NULL; field++) p = strchr(p, ' ') ? strchr(p, ' ') + 1 : NULL;
    if (p == NULL) return;
    size_t len = strcspn(p, " \n");
    if (len >= size) return;
    memcpy(out, p, len);
    out[len] = 0;
}

static char dir[PATH_MAX];
static int task_pid;
static char task_start[64], status[16];

static int alive(void) {
    char now[64];
    start_time(task_pid, now, sizeof now);
    return now[0] != 0 && strcmp(now, task_start) == 0;
}

static int qemu_pid(void) {
    char path[PATH_MAX + 16], buf[32], st[64];
    snprintf(path, sizeof path, "%s/qemu.pid", dir);
    if (read_file(path, buf, sizeof buf) <= 0) return 0;
    int pid = atoi(buf);
    start_time(pid, st, sizeof st);
    return pid > 0 && st[0] != 0 ? pid : 0;
}

static const char *status_now(void) { return alive() ? status : "stopped"; }

static int write_status(const char *word) {
    char tmp[PATH_MAX + 32], path[PATH_MAX + 16];
    snprintf(tmp, sizeof tmp, "%s/.tmp-status-%d", dir, (int)getpid());
    snprintf(path, sizeof path, "%s/status", dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    int ok = dprintf(fd, "%s\n", word) > 0 && fsync(fd) == 0;
    close(fd);
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* One QMP command (after the greeting and qmp_capabilities); 0 when QEMU answered "return". */
static int qmp_line(int fd, char *buf, size_t size, size_t *have) {
    for (;;) {
        char *nl = memchr(buf, '\n', *have);
        if (nl != NULL) {
            size_t len = (size_t)(nl - buf) + 1;
            int kind = strstr(buf, "\"return\"") != NULL && (char *)strstr(buf, "\"return\"") < nl ? 1 : strstr(buf, "\"error\"") != NULL && (char *)strstr(buf, "\"error\"") < nl ? 2 : strstr(buf, "\"QMP\"") != NULL && (char *)strstr(buf, "\"QMP\"") < nl ? 3 : 0;
            memmove(buf, buf + len, *have - len);
            *have -= len;
            buf[*have] = 0;
            if (kind != 0) return kind;
            continue;
        }
        if (*have + 1 >= size) *have = 0;
        ssize_t n = read(fd, buf + *have, size - 1 - *have);
        if (n <= 0) return -1;
        *have += (size_t)n;
        buf[*have] = 0;
    }
}

static int qmp(const char *command) {
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if ((size_t)snprintf(sa.sun_path, sizeof sa.sun_path, "%s/qmp.sock", dir) >= sizeof sa.sun_path) return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    char buf[8192];
    size_t have = 0;
    char cmd[128];
    int ok = qmp_line(fd, buf, sizeof buf, &have) == 3;
    const char *caps = "{\"execute\":\"qmp_capabilities\"}\n";
    ok = ok && write(fd, caps, strlen(caps)) == (ssize_t)strlen(caps) && qmp_line(fd, buf, sizeof buf, &have) == 1;
    snprintf(cmd, sizeof cmd, "{\"execute\":\"%s\"}\n", command);
    ok = ok && write(fd, cmd, strlen(cmd)) == (ssize_t)strlen(cmd) && qmp_line(fd, buf, sizeof buf, &have) == 1;
    close(fd);
    return ok ? 0 : -1;
}

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
    (void)sb, (void)ftw;
    return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* The task's cgroups (one directory a line): rmdir each, an exiting task's retried briefly. */
static int remove_cgroups(void) {
    char path[PATH_MAX + 16], list[8192];
    snprintf(path, sizeof path, "%s/cgroups", dir);
    if (read_file(path, list, sizeof list) < 0) return errno == ENOENT ? 0 : -1;
    for (char *line = strtok(list, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        for (int i = 0;; i++) {
            if (rmdir(line) == 0 || errno == ENOENT) break;
            if (errno != EBUSY || i >= 100) return -1;
            usleep(10000);
        }
    }
    return 0;
}

static int valid_id(const char *id) {
    size_t n = strlen(id);
    if (n == 0 || n > 1024 || strcmp(id, ".") == 0 || strcmp(id, "..") == 0) return 0;
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("_+.-", *p) != NULL)) return 0;
    return 1;
}

static const struct {
    const char *name;
    int n;
} SIGNALS[] = {{"SIGHUP", SIGHUP}, {"SIGINT", SIGINT}, {"SIGQUIT", SIGQUIT}, {"SIGKILL", SIGKILL}, {"SIGUSR1", SIGUSR1}, {"SIGUSR2", SIGUSR2}, {"SIGTERM", SIGTERM}, {"SIGCONT", SIGCONT}, {"SIGSTOP", SIGSTOP}, {"SIGPWR", SIGPWR}, {"SIGWINCH", SIGWINCH}};

/* The signals the node runtime knows too; anything else (the rest of the table, bad input) is its to answer. */
static int parse_signal(const char *s) {
    if (s == NULL) return SIGTERM;
    char up[32];
    size_t n = strlen(s);
    if (n == 0 || n > 20) return -1;
    int digits = 1;
    for (size_t i = 0; i < n; i++) digits = digits && s[i] >= '0' && s[i] <= '9';
    for (size_t k = 0; k < sizeof SIGNALS / sizeof SIGNALS[0]; k++) {
        if (digits && atoi(s) == SIGNALS[k].n) return SIGNALS[k].n;
    }
    if (digits) return -1;
    size_t o = 0;
    if (strncasecmp(s, "SIG", 3) != 0) o = (size_t)snprintf(up, sizeof up, "SIG");
    for (size_t i = 0; i < n; i++) up[o++] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
    up[o] = 0;
    for (size_t k = 0; k < sizeof SIGNALS / sizeof SIGNALS[0]; k++)
        if (strcmp(up, SIGNALS[k].name) == 0) return SIGNALS[k].n;
    return -1;
}

int main(int argc, char **argv) {
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    orig_argv = argv;
    const char *root = "/run/cunik-runc";
    int i = 1;
    /* parseInvocation: global flags, the command, its flags ("--f=v" or "--f v") and operands. */
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i], *eq = strchr(a, '=');
        const char *val = NULL;
        char name[64];
        if (a[1] == '-' && eq != NULL && eq > a) {
            snprintf(name, sizeof name, "%.*s", (int)(eq - a), a);
            val = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", a);
            if (has(GLOBAL_VALUE, a) && i + 1 < argc) val = argv[++i];
        }
        if (val == NULL) continue;
        if (strcmp(name, "--root") == 0) root = val;
        else if (strcmp(name, "--log") == 0) log_file = val;
        else if (strcmp(name, "--log-format") == 0) log_format = val;
    }
    if (i >= argc) exec_node();
    const char *cmd = argv[i++];
    const char *pos[3] = {NULL, NULL, NULL};
    int npos = 0, force = 0, all = 0;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            for (i++; i < argc; i++)
                if (npos < 3) pos[npos++] = argv[i];
            break;
        }
        if (a[0] == '-' && a[1] != 0) {
            const char *eq = strchr(a, '=');
            if (a[1] == '-' && eq != NULL) continue;
            if (has(VALUE_FLAGS, a) && i + 1 < argc) {
                i++;
                continue;
            }
            if (strcmp(a, "--force") == 0 || strcmp(a, "-f") == 0) force = 1;
            if (strcmp(a, "--all") == 0 || strcmp(a, "-a") == 0) all = 1;
        } else if (npos < 3) {
            pos[npos++] = a;
        }
    }
    if (strcmp(cmd, "create") == 0 || strcmp(cmd, "run") == 0) exec_node();
    if (strcmp(cmd, "features") == 0) exec_runc();
    const char *id = pos[0];
    char path[PATH_MAX + 32];
    int ours = 0;
    if (id != NULL && valid_id(id) && (size_t)snprintf(dir, sizeof dir, "%s/cunik/%s", root, id) < sizeof dir) {
        snprintf(path, sizeof path, "%s/cunik.json", dir);
        ours = access(path, R_OK) == 0;
    }
    if (!ours) exec_runc();
    int native = strcmp(cmd, "state") == 0 || strcmp(cmd, "start") == 0 || strcmp(cmd, "kill") == 0 || strcmp(cmd, "delete") == 0;
    char buf[64];
    snprintf(path, sizeof path, "%s/task", dir);
    if (!native || read_file(path, buf, sizeof buf) <= 0 || sscanf(buf, "%d %63s", &task_pid, task_start) != 2) exec_node();
    snprintf(path, sizeof path, "%s/status", dir);
    if (read_file(path, status, sizeof status) <= 0) exec_node();
    status[strcspn(status, "\n")] = 0;
    int code = 0;
    char msg[1200];
    if (strcmp(cmd, "state") == 0) {
        static char doc[65536];
        snprintf(path, sizeof path, "%s/state.json", dir);
        if (read_file(path, doc, sizeof doc) <= 0) exec_node();
        const char *st = status_now();
        for (char *p = doc; *p; p++) {
            if (*p == 1) printf("%d", strcmp(st, "stopped") == 0 ? 0 : task_pid);
            else if (*p == 2) fputs(st, stdout);
            else putchar(*p);
        }
        fflush(stdout);
    } else if (strcmp(cmd, "start") == 0) {
        const char *st = status_now();
        if (strcmp(st, "created") != 0) {
            snprintf(msg, sizeof msg, "cannot start a container that is %s", st);
            code = fail(1, msg);
            goto done;
        }
        /* A guest that ends at once can take QEMU down before its answer: started if QEMU is gone. */
        if (qmp("cont") != 0 && qemu_pid() != 0) exec_node();
        if (write_status("running") != 0) exec_node();
    } else if (strcmp(cmd, "kill") == 0) {
        int sig = parse_signal(pos[1]);
        if (sig < 0) exec_node();
        if (!alive()) {
            code = fail(1, "container not running");
            goto done;
        }
        int q = qemu_pid();
        kill(q != 0 ? q : task_pid, sig);
        if (all) kill(task_pid, sig);
    } else {
        snprintf(path, sizeof path, "%s/net", dir);
        if (access(path, F_OK) == 0) exec_node();
        if (alive()) {
            if (!force) {
                snprintf(msg, sizeof msg, "cannot delete container %s that is not stopped: %s", id, status_now());
                code = fail(1, msg);
                goto done;
            }
            exec_node();
        }
        if (remove_cgroups() != 0 || nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) exec_node();
    }
done:
    if (getenv("CUNIK_RUNC_TRACE") != NULL) {
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        snprintf(msg, sizeof msg, "%s %s: %ld ms in main (native)", cmd, id, (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
        log_line("debug", msg);
    }
    return code;
}
