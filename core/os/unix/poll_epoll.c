/* core/os/unix/poll_epoll.c - os_poll.h on epoll (level-triggered) and an eventfd. */
#include "os/os_poll.h"

#include <rampart/plugin.h>

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* epoll_event.data carries the token; the eventfd's registration uses a token
 * no caller can produce (the loop's tokens never have all bits set). */
#define WAKE_TOKEN UINT64_MAX

/* Stack buffer for one epoll_wait; callers asking for more get several
 * rounds' worth over several waits, which level-triggering makes lossless. */
#define WAIT_BATCH 64

struct rp__os_poller {
    int epfd;
    int wakefd;
};

static int errno_to_rp(int e)
{
    switch (e) {
    case EEXIST:
        return RP_ERR_EXISTS;
    case ENOENT:
    case EBADF:
        return RP_ERR_NOTFOUND;
    case ENOMEM:
    case ENOSPC: /* max_user_watches */
        return RP_ERR_NOMEM;
    case EPERM: /* regular files and directories cannot be polled */
    case EINVAL:
        return RP_ERR_INVAL;
    default:
        return RP_ERR_IO;
    }
}

static uint32_t to_epoll(uint32_t events)
{
    uint32_t ev = 0;
    if (events & RP__OS_POLL_IN)
        ev |= EPOLLIN | EPOLLRDHUP; /* RDHUP: a socket peer's shutdown shows as HUP */
    if (events & RP__OS_POLL_OUT)
        ev |= EPOLLOUT;
    return ev; /* EPOLLERR and EPOLLHUP are always reported by the kernel */
}

static uint32_t from_epoll(uint32_t ev)
{
    uint32_t r = 0;
    if (ev & (EPOLLIN | EPOLLPRI))
        r |= RP__OS_POLL_IN;
    if (ev & EPOLLOUT)
        r |= RP__OS_POLL_OUT;
    if (ev & EPOLLERR)
        r |= RP__OS_POLL_ERR;
    if (ev & (EPOLLHUP | EPOLLRDHUP))
        r |= RP__OS_POLL_HUP;
    return r;
}

int rp__os_poller_create(rp__os_poller **out)
{
    rp__os_poller *p = malloc(sizeof *p);
    if (!p)
        return RP_ERR_NOMEM;
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    p->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (p->epfd < 0 || p->wakefd < 0) {
        int e = errno;
        rp__os_poller_destroy(p);
        return errno_to_rp(e);
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_TOKEN};
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->wakefd, &ev) != 0) {
        int e = errno;
        rp__os_poller_destroy(p);
        return errno_to_rp(e);
    }
    *out = p;
    return 0;
}

void rp__os_poller_destroy(rp__os_poller *p)
{
    if (!p)
        return;
    if (p->epfd >= 0)
        close(p->epfd);
    if (p->wakefd >= 0)
        close(p->wakefd);
    free(p);
}

int rp__os_poller_add(rp__os_poller *p, int fd, uint32_t events, uint64_t token)
{
    if (fd < 0 || token == WAKE_TOKEN)
        return RP_ERR_INVAL;
    struct epoll_event ev = {.events = to_epoll(events), .data.u64 = token};
    return epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : errno_to_rp(errno);
}

int rp__os_poller_modify(rp__os_poller *p, int fd, uint32_t events, uint64_t token)
{
    if (fd < 0 || token == WAKE_TOKEN)
        return RP_ERR_INVAL;
    struct epoll_event ev = {.events = to_epoll(events), .data.u64 = token};
    return epoll_ctl(p->epfd, EPOLL_CTL_MOD, fd, &ev) == 0 ? 0 : errno_to_rp(errno);
}

int rp__os_poller_remove(rp__os_poller *p, int fd)
{
    if (fd < 0)
        return RP_ERR_INVAL;
    /* A non-NULL event keeps kernels before 2.6.9 happy; harmless after. */
    struct epoll_event ev = {0};
    return epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, &ev) == 0 ? 0 : errno_to_rp(errno);
}

int rp__os_poller_wait(rp__os_poller *p, int timeout_ms, rp__os_poll_event *out, int max, int *n)
{
    struct epoll_event evs[WAIT_BATCH];
    *n = 0;
    if (max <= 0)
        return RP_ERR_INVAL;
    int got = epoll_wait(p->epfd, evs, max < WAIT_BATCH ? max : WAIT_BATCH, timeout_ms);
    if (got < 0)
        return errno == EINTR ? 0 : RP_ERR_IO;
    int k = 0;
    for (int i = 0; i < got; i++) {
        if (evs[i].data.u64 == WAKE_TOKEN) {
            /* Reset the counter so the next wait sleeps again. EAGAIN just
             * means another read already did it. */
            uint64_t v;
            ssize_t r = read(p->wakefd, &v, sizeof v);
            (void)r;
            continue;
        }
        out[k].token = evs[i].data.u64;
        out[k].revents = from_epoll(evs[i].events);
        k++;
    }
    *n = k;
    return 0;
}

int rp__os_poller_wake(rp__os_poller *p)
{
    uint64_t one = 1;
    for (;;) {
        ssize_t r = write(p->wakefd, &one, sizeof one);
        if (r == (ssize_t)sizeof one)
            return 0;
        if (r < 0 && errno == EINTR)
            continue;
        /* EAGAIN: the counter is saturated, so a wake is already pending. */
        return (r < 0 && errno == EAGAIN) ? 0 : RP_ERR_IO;
    }
}
