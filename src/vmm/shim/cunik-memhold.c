/*
 * cunik-memhold: holds the guest RAM of one VM template (src/vmm/qemu/template.ts) in a memfd that
 * no one can write any more, so that clones map it copy-on-write and share its pages.
 *
 *   cunik-memhold DIR SOCKET SIZE -- QEMU-ARGV...
 *
 * 1. makes a memfd of SIZE bytes at fd 3 (QEMU opens it as mem-path=/proc/self/fd/3, share=on),
 *    listens on SOCKET (somewhere the VM user can reach: QEMU connects after -runas) and runs
 *    QEMU-ARGV (the template boot), confined as under cunik-shim --confine (no_new_privs, a
 *    bounding set of what QEMU needs before -runas); the daemon has it migrate to SOCKET once its
 *    init is ready. Only that QEMU's connection is taken (SO_PEERCRED: every VM runs as the same
 *    user, so another VM's QEMU could connect too); its stream becomes DIR/state (written whole,
 *    fsynced, renamed into place). Then it waits for QEMU to end;
 * 2. if QEMU exited 0 (the template's state was saved), seals the memfd against any write, growth
 *    or shrinking (F_SEAL_WRITE: a clone's QEMU opens it read-write, as QEMU 7.2 always does, but
 *    write(2) and shared writable mappings fail; its private mapping copies a page on its first
 *    write), then re-executes itself as `cunik-memhold --hold DIR` (so that nothing matching QEMU's
 *    command line stays in the process list), which writes DIR/holder.pid and waits;
 * 3. holding, it ends on SIGTERM or SIGINT, or when DIR or DIR/holder.pid goes (inotify): a
 *    removed template (or a test's removed daemon root) leaves no process behind. Clones that run keep their pages.
 * Exit: 0 on a normal end, 1 on a failure (said on stderr), QEMU's status when QEMU failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MEM_FD 3

static int fail(const char *what) {
  fprintf(stderr, "cunik-memhold: %s: %s\n", what, strerror(errno));
  return 1;
}

static int hold(const char *dir) {
  struct stat st;
  if (fstat(MEM_FD, &st) != 0) return fail("no template memory at fd 3");
  int seals = fcntl(MEM_FD, F_GET_SEALS);
  if (seals < 0 || !(seals & F_SEAL_WRITE)) {
    fprintf(stderr, "cunik-memhold: the memory at fd 3 is not sealed against writes\n");
    return 1;
  }
  for (int fd = MEM_FD + 1; fd < 1024; fd++) close(fd);
  /* stderr is DIR/qemu.log: an open file there would keep DIR's inode alive after its removal,
   * and its IN_DELETE_SELF would never come. */
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0) return fail("/dev/null");
  close(null);
  /* No capability at all: a clone's QEMU (which keeps only a few, docs/qemu.md "Confinement") may
   * open /proc/PID/fd/3 only of a process whose capabilities are a subset of its own. */
  struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
  struct __user_cap_data_struct none[2];
  memset(none, 0, sizeof none);
  if (syscall(SYS_capset, &hdr, none) != 0) return fail("dropping capabilities");
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGIO);
  sigprocmask(SIG_BLOCK, &set, NULL);
  signal(SIGHUP, SIG_IGN);
  int in = inotify_init1(IN_CLOEXEC);
  /* Its own holder.pid removed or moved away is the end too: the folder's IN_DELETE_SELF comes only
   * once nothing holds a file in it open any more. */
  if (in < 0 || inotify_add_watch(in, dir, IN_DELETE_SELF | IN_MOVE_SELF | IN_DELETE | IN_MOVED_FROM) < 0) return fail(dir);
  /* SIGIO on the inotify fd: one wait for a signal and for the directory's removal alike. */
  fcntl(in, F_SETOWN, getpid());
  fcntl(in, F_SETFL, fcntl(in, F_GETFL) | O_ASYNC | O_NONBLOCK);
  char path[PATH_MAX], tmp[PATH_MAX];
  snprintf(path, sizeof path, "%s/holder.pid", dir);
  snprintf(tmp, sizeof tmp, "%s/.holder.pid.tmp", dir);
  FILE *f = fopen(tmp, "w");
  if (!f || fprintf(f, "%d\n", getpid()) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0 || rename(tmp, path) != 0) return fail(path);
  for (;;) {
    char buf[4096] __attribute__((aligned(8)));
    while (read(in, buf, sizeof buf) > 0) {
      /* drain: what is left is what counts */
    }
    if (access(path, F_OK) != 0) return 0; /* holder.pid (or DIR) removed or moved away */
    int sig;
    sigwait(&set, &sig);
    if (sig != SIGIO) return 0;
  }
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--hold") == 0) return hold(argv[2]);
  if (argc < 6 || strcmp(argv[4], "--") != 0) {
    fprintf(stderr, "usage: cunik-memhold DIR SOCKET SIZE -- QEMU-ARGV...\n");
    return 1;
  }
  char *end;
  unsigned long long size = strtoull(argv[3], &end, 10);
  if (*end != 0 || size == 0) {
    fprintf(stderr, "cunik-memhold: not a size: %s\n", argv[3]);
    return 1;
  }
  int fd = memfd_create("cunik-template", MFD_ALLOW_SEALING);
  if (fd < 0) return fail("memfd_create");
  if (fd != MEM_FD) {
    if (dup2(fd, MEM_FD) < 0) return fail("dup2");
    close(fd);
  }
  if (ftruncate(MEM_FD, (off_t)size) != 0) return fail("ftruncate");
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  if ((size_t)snprintf(addr.sun_path, sizeof addr.sun_path, "%s", argv[2]) >= sizeof addr.sun_path) {
    fprintf(stderr, "cunik-memhold: %s: the path is too long for a socket\n", argv[2]);
    return 1;
  }
  unlink(addr.sun_path);
  int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, 4) != 0) return fail(addr.sun_path);
  /* QEMU connects after it has switched to the VM user (-runas). */
  if (chmod(addr.sun_path, 0666) != 0) return fail(addr.sun_path);
  pid_t qemu = fork();
  if (qemu < 0) return fail("fork");
  if (qemu == 0) {
    /* As cunik-shim --confine: no_new_privs, and only the capabilities QEMU needs before -runas. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(fail("no_new_privs"));
    for (int cap = 0; geteuid() == 0 && cap <= 63; cap++) {
      if (cap == CAP_SETUID || cap == CAP_SETGID || cap == CAP_DAC_OVERRIDE || cap == CAP_DAC_READ_SEARCH) continue;
      if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
        if (errno == EINVAL) break; /* past the kernel's last capability */
        _exit(fail("dropping a capability"));
      }
    }
    execvp(argv[5], argv + 5);
    fprintf(stderr, "cunik-memhold: cannot run %s: %s\n", argv[5], strerror(errno));
    _exit(127);
  }
  char state[PATH_MAX], tmp[PATH_MAX];
  snprintf(state, sizeof state, "%s/state", argv[1]);
  snprintf(tmp, sizeof tmp, "%s/.state.tmp", argv[1]);
  for (;;) {
    int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR) continue;
      return fail("accept");
    }
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.pid != qemu) {
      close(c);
      continue;
    }
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) return fail(tmp);
    char buf[65536];
    ssize_t n;
    while ((n = read(c, buf, sizeof buf)) != 0) {
      if (n < 0) {
        if (errno == EINTR) continue;
        return fail("reading the template's state");
      }
      for (ssize_t off = 0; off < n;) {
        ssize_t w = write(out, buf + off, (size_t)(n - off));
        if (w < 0) return fail(tmp);
        off += w;
      }
    }
    if (fsync(out) != 0 || close(out) != 0 || rename(tmp, state) != 0) return fail(state);
    close(c);
    break;
  }
  close(lfd);
  unlink(addr.sun_path);
  int status;
  while (waitpid(qemu, &status, 0) < 0) {
    if (errno != EINTR) return fail("waitpid");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "cunik-memhold: the template's QEMU ended with %s %d\n", WIFEXITED(status) ? "status" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    return WIFEXITED(status) && WEXITSTATUS(status) != 0 ? WEXITSTATUS(status) : 1;
  }
  if (fcntl(MEM_FD, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0) return fail("sealing the template's memory");
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return fail("/proc/self/exe");
  self[n] = 0;
  char *hold_argv[] = { self, "--hold", argv[1], NULL };
  execv(self, hold_argv);
  return fail("re-executing to hold");
}
