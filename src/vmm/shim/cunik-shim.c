/*
 * cunik-shim: the parent of one VM process, so that the VM's exit status is never lost.
 *
 *   cunik-shim [--notify-fd N] [--exit-codes HEX] [--no-thp] [--nice N] [--confine] [--chdir DIR]
 *              [--cgroup PROCS_FILE]... [--net-preload LIB] [--net N HELPER ARG...] EXIT_FILE PROGRAM [ARG...]
 *
 * --cgroup PROCS_FILE (cunik-runc, repeatable) writes the shim's pid to a cgroup's cgroup.procs
 * before anything is forked, so the shim and QEMU are both in the task's cgroup from the start;
 * a write that fails ends the shim (status 125) before QEMU runs.
 *
 * --chdir DIR runs PROGRAM in DIR: QEMU is given the boot files a guest sees by name (multiboot
 * puts the -kernel argument first on the kernel's command line, argv[0]) as bare names there.
 * The shim enters it before --confine, as the daemon's user (root: before QEMU's -runas).
 *
 * --nice N runs PROGRAM (and the network helper) at nice value N: cunikd runs its control plane
 * (itself, the spawner, the shims) a little ahead of its VMs, and gives the VMs back the priority
 * it was started with.
 *
 * --no-thp turns transparent huge pages off for PROGRAM (prctl PR_SET_THP_DISABLE, kept across
 * exec). QEMU asks for huge pages on guest RAM and on TCG's code buffer, so a tiny guest that
 * touches a few KiB of each gets 2 MiB pages: about 1.5 MiB more per idle VM (docs/qemu.md).
 *
 * --confine runs PROGRAM with no_new_privs (nothing it executes can gain privileges) and, when
 * the shim is root, with a capability bounding set of only what QEMU needs before its -runas
 * drops to the VM user: setuid/setgid for that switch, DAC override/read-search to open the files
 * its command line names, net_admin for a tap. After -runas QEMU holds no capability at all.
 *
 * --net N HELPER ARG... (N words: the helper's path and its arguments) starts the VM's network
 * helper, passt: the shim makes a connected socket pair, gives one end to the helper and the
 * other to PROGRAM, both as fd 3 (passt --fd 3; QEMU -netdev stream,addr.type=fd,addr.str=3).
 * The helper runs in its own process group, so signals the daemon sends the VM's group reach QEMU
 * only. It lives exactly as long as the VM: passt quits when QEMU's end of the socket closes, the
 * shim kills it once QEMU is gone (before the exit file is written, so no helper outlives a
 * stopped VM), and if the helper dies first the VM is killed (a VM without its network would run
 * on unreachable): the shim says so on stderr. --net-preload LIB runs the helper with
 * LD_PRELOAD=LIB (cunik-passt-fixes.so: passt-fixes.c).
 *
 * --exit-codes HEX (cunik-runc) makes the shim's own exit status the guest's exit code as the VM's
 * family maps it: 321 hex bytes, the code for each exit status 0-255 of PROGRAM, then for each
 * signal 0-64 that ended it (the table is computed by the family adapter in TypeScript, so the
 * mapping has one implementation). The exit file still records how PROGRAM itself ended.
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
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
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

/* The capabilities QEMU keeps until -runas (see --confine). */
static int kept_cap(int cap) {
    return cap == CAP_SETUID || cap == CAP_SETGID || cap == CAP_DAC_OVERRIDE || cap == CAP_DAC_READ_SEARCH || cap == CAP_NET_ADMIN;
}

/* In the child, before exec: no_new_privs, and (as root) drop every other capability from the bounding set. */
static void confine(void) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        fprintf(stderr, "cunik-shim: cannot set no_new_privs: %s\n", strerror(errno));
        _exit(125);
    }
    if (geteuid() != 0) return; /* an unprivileged daemon's VMs hold no capabilities to begin with */
    for (int cap = 0; cap <= 63; cap++) {
        if (kept_cap(cap)) continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
            if (errno == EINVAL) break; /* past the kernel's last capability */
            fprintf(stderr, "cunik-shim: cannot drop capability %d: %s\n", cap, strerror(errno));
            _exit(125);
        }
    }
}

/* Put fd at 3 (without close-on-exec) in a child about to exec. */
static void give_fd3(int fd) {
    if (fd == 3) {
        if (fcntl(3, F_SETFD, 0) == 0) return;
    } else if (dup2(fd, 3) == 3) {
        return;
    }
    fprintf(stderr, "cunik-shim: cannot pass the network socket: %s\n", strerror(errno));
    _exit(125);
}

#define EXIT_CODES 321
static int parse_exit_codes(const char *hex, unsigned char *codes) {
    if (strlen(hex) != 2 * EXIT_CODES) return -1;
    for (int i = 0; i < EXIT_CODES; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) return -1;
        codes[i] = (unsigned char)v;
    }
    return 0;
}

int main(int argc, char **argv) {
    unsigned char exit_codes[EXIT_CODES];
    int map_exit = 0;
    int notify_fd = -1, no_thp = 0, set_nice = 0, nice_value = 0, do_confine = 0;
    const char *work_dir = NULL, *net_preload = NULL;
    char **net_argv = NULL;
    for (;;) {
        if (argc > 2 && strcmp(argv[1], "--cgroup") == 0) {
            int fd = open(argv[2], O_WRONLY | O_CLOEXEC);
            char pid[24];
            int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
            if (fd < 0 || write(fd, pid, (size_t)n) != n) {
                fprintf(stderr, "cunik-shim: cannot join the cgroup of %s: %s\n", argv[2], strerror(errno));
                return 125;
            }
            close(fd);
            argv += 2;
            argc -= 2;
            continue;
        }
        if (argc > 2 && strcmp(argv[1], "--notify-fd") == 0) {
            notify_fd = atoi(argv[2]);
            /* QEMU must not hold the daemon's pipe. */
            if (notify_fd < 3 || fcntl(notify_fd, F_SETFD, FD_CLOEXEC) < 0) notify_fd = -1;
            argv += 2;
            argc -= 2;
        } else if (argc > 1 && strcmp(argv[1], "--no-thp") == 0) {
            no_thp = 1;
            argv += 1;
            argc -= 1;
        } else if (argc > 2 && strcmp(argv[1], "--nice") == 0) {
            set_nice = 1;
            nice_value = atoi(argv[2]);
            argv += 2;
            argc -= 2;
        } else if (argc > 2 && strcmp(argv[1], "--exit-codes") == 0) {
            if (parse_exit_codes(argv[2], exit_codes) != 0) {
                fprintf(stderr, "cunik-shim: --exit-codes takes %d hex bytes\n", EXIT_CODES);
                return 125;
            }
            map_exit = 1;
            argv += 2;
            argc -= 2;
        } else if (argc > 1 && strcmp(argv[1], "--confine") == 0) {
            do_confine = 1;
            argv += 1;
            argc -= 1;
        } else if (argc > 2 && strcmp(argv[1], "--chdir") == 0) {
            work_dir = argv[2];
            argv += 2;
            argc -= 2;
        } else if (argc > 2 && strcmp(argv[1], "--net-preload") == 0) {
            net_preload = argv[2];
            argv += 2;
            argc -= 2;
        } else if (argc > 2 && strcmp(argv[1], "--net") == 0) {
            int n = atoi(argv[2]);
            if (n < 1 || n > argc - 3) break; /* usage error below */
            /* A NULL-terminated copy: the helper's words are followed by EXIT_FILE in argv. */
            net_argv = calloc((size_t)n + 1, sizeof *net_argv);
            if (net_argv == NULL) return 125;
            memcpy(net_argv, argv + 3, (size_t)n * sizeof *net_argv);
            argv += 2 + n;
            argc -= 2 + n;
        } else {
            break;
        }
    }
    if (argc < 3) {
        fprintf(stderr, "usage: cunik-shim [--notify-fd N] [--exit-codes HEX] [--no-thp] [--nice N] [--confine] [--chdir DIR] [--cgroup PROCS_FILE]... [--net-preload LIB] [--net N HELPER ARG...] EXIT_FILE PROGRAM [ARG...]\n");
        return 125;
    }
    unlink(argv[1]);
    int sv[2] = {-1, -1};
    pid_t helper = -1;
    if (net_argv != NULL) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
            perror("cunik-shim: socketpair");
            return 125;
        }
        helper = fork();
        if (helper < 0) {
            perror("cunik-shim: fork");
            return 125;
        }
        if (helper == 0) {
            setpgid(0, 0);
            prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
            /* passt is the VM's work, not the control plane's: at the daemon's priority, Debian 12's
             * passt, which spins on a host connection closed before the guest answered it (until
             * its 10 s handshake timeout), took the CPU from the VM it serves and its siblings. */
            if (set_nice) setpriority(PRIO_PROCESS, 0, nice_value);
            if (net_preload != NULL) setenv("LD_PRELOAD", net_preload, 1);
            give_fd3(sv[0]);
            execvp(net_argv[0], net_argv);
            fprintf(stderr, "cunik-shim: cannot run %s: %s\n", net_argv[0], strerror(errno));
            _exit(127);
        }
    }
    pid_t child = fork();
    if (child < 0) {
        perror("cunik-shim: fork");
        if (helper > 0) kill(helper, SIGKILL);
        return 125;
    }
    if (child == 0) {
        /* Best effort: a kernel without it (before 3.15) runs the VM with huge pages as before. */
        if (no_thp) prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
        if (set_nice) setpriority(PRIO_PROCESS, 0, nice_value);
        if (net_argv != NULL) give_fd3(sv[1]);
        if (work_dir != NULL && chdir(work_dir) != 0) {
            fprintf(stderr, "cunik-shim: cannot enter %s: %s\n", work_dir, strerror(errno));
            _exit(127);
        }
        if (do_confine) confine();
        execvp(argv[2], argv + 2);
        fprintf(stderr, "cunik-shim: cannot run %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    /* Only the two children hold the socket: passt sees its end close when QEMU's does. */
    if (sv[0] >= 0) close(sv[0]);
    if (sv[1] >= 0) close(sv[1]);
    /* Only the VM acts on signals sent to the group. */
    int ignored[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM, SIGTSTP, SIGTTIN, SIGTTOU};
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++) signal(ignored[i], SIG_IGN);

    int status;
    for (;;) {
        int st;
        pid_t pid = waitpid(-1, &st, 0);
        if (pid < 0) {
            if (errno == EINTR) continue;
            return 125;
        }
        if (pid == helper) {
            helper = -1;
            /* passt ends by itself only once QEMU has let go of the socket, i.e. is exiting. */
            if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
                if (WIFSIGNALED(st)) fprintf(stderr, "cunik-shim: the network helper (passt) was killed by signal %d: ending the VM\n", WTERMSIG(st));
                else fprintf(stderr, "cunik-shim: the network helper (passt) exited with status %d: ending the VM\n", WEXITSTATUS(st));
                kill(child, SIGKILL);
            }
            continue;
        }
        if (pid != child) continue;
        status = st;
        break;
    }
    /* The VM is gone: its helper goes too, before anyone is told the VM ended. */
    if (helper > 0) {
        kill(helper, SIGKILL);
        while (waitpid(helper, NULL, 0) < 0 && errno == EINTR) {
        }
    }
    char text[64], line[64];
    if (WIFSIGNALED(status)) {
        snprintf(text, sizeof text, "signal %d\n", WTERMSIG(status));
        snprintf(line, sizeof line, "exit %d -1 %d\n", (int)getpid(), WTERMSIG(status));
        write_exit_file(argv[1], text, notify_fd, line);
        if (map_exit && WTERMSIG(status) <= 64) return exit_codes[256 + WTERMSIG(status)];
        return 128 + WTERMSIG(status);
    }
    snprintf(text, sizeof text, "exit %d\n", WEXITSTATUS(status));
    snprintf(line, sizeof line, "exit %d %d 0\n", (int)getpid(), WEXITSTATUS(status));
    write_exit_file(argv[1], text, notify_fd, line);
    return map_exit ? exit_codes[WEXITSTATUS(status)] : WEXITSTATUS(status);
}
