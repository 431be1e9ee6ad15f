/*
 * passt-fixes: loaded into passt (LD_PRELOAD, set by cunik-shim --net-preload) for two faults of
 * the passt Debian 12 ships (0.0~git20230309), both with a published port whose connection comes
 * before the guest can answer it (docs/networking.md, "Published ports"). It only makes system
 * calls passt itself makes, so passt's own seccomp filter allows them (epoll_wait as epoll_pwait).
 *
 * 1. The spin. passt watches a host connection it has accepted, and not yet connected to the
 *    guest, for EPOLLRDHUP alone, level-triggered (tcp.c tcp_conn_epoll_events). If the client
 *    closes before the guest answers (a client polling a port while the guest boots), the socket
 *    reports EPOLLRDHUP at every epoll_wait, which passt ignores in that state: it spun at 100% of
 *    a CPU until its 10 s handshake timeout. Upstream made that registration edge-triggered (commit
 *    "tcp: Use EPOLLET for any state of not established connections"): epoll_ctl here does the
 *    same. Later passt never registers EPOLLRDHUP alone, so this changes nothing there. When the
 *    connection is established passt registers it again (EPOLL_CTL_MOD), which reports a pending
 *    hang-up anew: nothing is lost.
 *
 * 2. The hang. passt sends the guest one SYN per connection and never again: a connection made
 *    before the guest's network was up waited for passt's 10 s timeout, then was reset. So passt
 *    listens on its ports at once (they are the VM's from its start: no other process can take
 *    one), but its epoll registration of them waits until AFTER_FRAME_MS after the guest's first
 *    frame (the first read of the VM's socket that returns data; a Linux guest's is the
 *    gratuitous ARP cunik-init makes it send as its interface comes up, just before it adds the
 *    default route, without which the guest's answer to a SYN from off its subnet is lost: a
 *    SYN-ACK the guest sends again, but a reset, while nothing listens yet, only once).
 *    Until then the host's kernel queues the connections (the listen backlog) and passt does not
 *    take them; then it does, and sends its SYNs to a guest that can answer them: served, or
 *    reset at once while nothing listens in the guest yet. If no frame comes in LISTEN_ANYWAY_S
 *    (a guest that never sends one, which passt cannot reach either), passt takes them anyway.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* cunik-shim gives passt its end of the VM's socket pair as fd 3 (passt --fd 3). */
#define TAP_FD 3
#define LISTEN_ANYWAY_S 60
#define AFTER_FRAME_MS 100
#define MAX_HELD 256

/* Listening sockets, and their epoll registration held back until the guest's first frame. */
static struct held {
    int fd, epfd;
    struct epoll_event event;
} held[MAX_HELD];
static int n_held, guest_seen;
static time_t started;
/* When the guest's first frame came (CLOCK_MONOTONIC, ms); 0: none yet. */
static long long first_frame_ms;

static long long now_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

__attribute__((constructor)) static void note_start(void) {
    started = (time_t)(now_ms() / 1000);
}

static void release(void) {
    guest_seen = 1;
    for (int i = 0; i < n_held; i++)
        if (held[i].epfd >= 0) syscall(SYS_epoll_ctl, held[i].epfd, EPOLL_CTL_ADD, held[i].fd, &held[i].event);
    n_held = 0;
}

static struct held *held_fd(int fd) {
    for (int i = 0; i < n_held; i++)
        if (held[i].fd == fd) return &held[i];
    return NULL;
}

static ssize_t seen(int fd, ssize_t n) {
    if (guest_seen || fd != TAP_FD || n <= 0) return n;
    long long now = now_ms();
    if (first_frame_ms == 0) first_frame_ms = now;
    /* Mostly the wait below releases them; a later frame does too, should passt ever wait otherwise. */
    else if (now >= first_frame_ms + AFTER_FRAME_MS) release();
    return n;
}

int listen(int fd, int backlog) {
    int r = (int)syscall(SYS_listen, fd, backlog);
    if (r == 0 && !guest_seen && n_held < MAX_HELD && held_fd(fd) == NULL) held[n_held++] = (struct held){ .fd = fd, .epfd = -1 };
    return r;
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event) {
    struct held *h = guest_seen ? NULL : held_fd(fd);
    if (h != NULL && op == EPOLL_CTL_ADD && event != NULL) {
        h->epfd = epfd;
        h->event = *event;
        return 0;
    }
    if (h != NULL && op == EPOLL_CTL_DEL) {
        h->epfd = -1;
        return 0;
    }
    if ((op == EPOLL_CTL_ADD || op == EPOLL_CTL_MOD) && event != NULL && event->events == EPOLLRDHUP) {
        struct epoll_event edge = *event;
        edge.events |= EPOLLET;
        return (int)syscall(SYS_epoll_ctl, epfd, op, fd, &edge);
    }
    return (int)syscall(SYS_epoll_ctl, epfd, op, fd, event);
}

/* Before each wait: release when due; while a release is pending, wait no longer than until then. */
static int until_release(int timeout) {
    if (guest_seen) return timeout;
    long long now = now_ms();
    long long due = first_frame_ms != 0 ? first_frame_ms + AFTER_FRAME_MS : (long long)(started + LISTEN_ANYWAY_S) * 1000;
    if (now >= due) {
        release();
        return timeout;
    }
    return timeout < 0 || timeout > due - now ? (int)(due - now) : timeout;
}

int epoll_wait(int epfd, struct epoll_event *events, int max, int timeout) {
    return (int)syscall(SYS_epoll_pwait, epfd, events, max, until_release(timeout), NULL, _NSIG / 8);
}

int epoll_pwait(int epfd, struct epoll_event *events, int max, int timeout, const sigset_t *mask) {
    return (int)syscall(SYS_epoll_pwait, epfd, events, max, until_release(timeout), mask, _NSIG / 8);
}

ssize_t recv(int fd, void *buf, size_t len, int flags) {
    return seen(fd, syscall(SYS_recvfrom, fd, buf, len, flags, NULL, NULL));
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from, socklen_t *fromlen) {
    return seen(fd, syscall(SYS_recvfrom, fd, buf, len, flags, from, fromlen));
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags) {
    return seen(fd, syscall(SYS_recvmsg, fd, msg, flags));
}

ssize_t read(int fd, void *buf, size_t len) {
    return seen(fd, syscall(SYS_read, fd, buf, len));
}
