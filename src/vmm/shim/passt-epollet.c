/*
 * passt-epollet: loaded into passt (LD_PRELOAD, set by cunik-shim --net-preload) to make
 * edge-triggered the one epoll registration that passt releases before 2024-09-06 left
 * level-triggered.
 *
 * passt watches a host connection it has accepted for a published port, and has not yet
 * connected to the guest, for EPOLLRDHUP alone, level-triggered (tcp.c tcp_conn_epoll_events).
 * If the host's client closes before the guest answers (a client polling a port while the guest
 * boots, or a guest that drops the SYN), the socket reports EPOLLRDHUP at every epoll_wait, which
 * passt ignores in that state: passt spins at 100% of a CPU until its 10 s handshake timeout,
 * taking the CPU from the VM it serves. Upstream made that registration edge-triggered (commit
 * "tcp: Use EPOLLET for any state of not established connections", bug 94); Debian 12 ships
 * 0.0~git20230309. Later passt never registers EPOLLRDHUP alone, so this changes nothing there.
 * When the connection is established passt registers it again (EPOLL_CTL_MOD), which reports
 * a pending hang-up anew: nothing is lost.
 *
 * The real call is the system call itself: nothing to resolve, nothing passt's seccomp filter
 * does not already allow.
 */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event) {
    if ((op == EPOLL_CTL_ADD || op == EPOLL_CTL_MOD) && event != NULL && event->events == EPOLLRDHUP) {
        struct epoll_event edge = *event;
        edge.events |= EPOLLET;
        return (int)syscall(SYS_epoll_ctl, epfd, op, fd, &edge);
    }
    return (int)syscall(SYS_epoll_ctl, epfd, op, fd, event);
}
