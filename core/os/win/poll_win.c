/*
 * core/os/win/poll_win.c - os_poll.h on WSAPoll. *** SKETCH: NOT BUILT ON
 * LINUX, NOT YET TESTED ON WINDOWS. ***
 *
 * Compile-ready for mingw-w64 so the Windows port starts from the right
 * shape, but limited on purpose:
 *   - WSAPoll only polls sockets; the "fd" is a SOCKET passed as int (socket
 *     handles fit in 32 bits in practice on Windows). Windows collectors
 *     (ETW, ReadDirectoryChangesW, named pipes) need handles, so the real
 *     backend will be an I/O completion port with the same interface.
 *   - WSAPoll has no wake-up primitive: a loopback UDP socket the poller
 *     sends itself a byte on stands in for Linux's eventfd.
 *   - Registrations changed while a thread waits take effect on its next
 *     wait: add/modify/remove wake the waiter so it re-reads the set.
 * WSAStartup must have been called by the process before create.
 */
#include "os/os_poll.h"

#include <rampart/plugin.h>

#include <winsock2.h>
#include <ws2tcpip.h>

#include <stdlib.h>
#include <string.h>

struct reg {
    SOCKET s;
    uint32_t events;
    uint64_t token;
};

struct rp__os_poller {
    CRITICAL_SECTION lock;
    struct reg *regs; /* guarded by lock */
    size_t nregs, cap;
    WSAPOLLFD *snap; /* the waiter's copy: wake socket + regs; waiter only */
    uint64_t *snap_tokens;
    size_t snap_cap;
    SOCKET wake_rx, wake_tx;
};

static SHORT to_wsa(uint32_t events)
{
    SHORT ev = 0;
    if (events & RP__OS_POLL_IN)
        ev |= POLLRDNORM;
    if (events & RP__OS_POLL_OUT)
        ev |= POLLWRNORM;
    return ev; /* POLLERR, POLLHUP and POLLNVAL are always reported */
}

static uint32_t from_wsa(SHORT rev)
{
    uint32_t r = 0;
    if (rev & (POLLRDNORM | POLLRDBAND))
        r |= RP__OS_POLL_IN;
    if (rev & POLLWRNORM)
        r |= RP__OS_POLL_OUT;
    if (rev & (POLLERR | POLLNVAL))
        r |= RP__OS_POLL_ERR;
    if (rev & POLLHUP)
        r |= RP__OS_POLL_HUP;
    return r;
}

/* A UDP socket bound to 127.0.0.1 and one connected to it. */
static int make_wake_pair(SOCKET *rx, SOCKET *tx)
{
    struct sockaddr_in addr;
    int len = sizeof addr;
    u_long nonblock = 1;
    *rx = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    *tx = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    if (*rx == INVALID_SOCKET || *tx == INVALID_SOCKET)
        return RP_ERR_IO;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (bind(*rx, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        getsockname(*rx, (struct sockaddr *)&addr, &len) != 0 ||
        connect(*tx, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        ioctlsocket(*rx, FIONBIO, &nonblock) != 0 || ioctlsocket(*tx, FIONBIO, &nonblock) != 0)
        return RP_ERR_IO;
    return 0;
}

int rp__os_poller_create(rp__os_poller **out)
{
    rp__os_poller *p = calloc(1, sizeof *p);
    if (!p)
        return RP_ERR_NOMEM;
    InitializeCriticalSection(&p->lock);
    p->wake_rx = p->wake_tx = INVALID_SOCKET;
    int rc = make_wake_pair(&p->wake_rx, &p->wake_tx);
    if (rc) {
        rp__os_poller_destroy(p);
        return rc;
    }
    *out = p;
    return 0;
}

void rp__os_poller_destroy(rp__os_poller *p)
{
    if (!p)
        return;
    if (p->wake_rx != INVALID_SOCKET)
        closesocket(p->wake_rx);
    if (p->wake_tx != INVALID_SOCKET)
        closesocket(p->wake_tx);
    DeleteCriticalSection(&p->lock);
    free(p->regs);
    free(p->snap);
    free(p->snap_tokens);
    free(p);
}

static struct reg *find(rp__os_poller *p, SOCKET s)
{
    for (size_t i = 0; i < p->nregs; i++)
        if (p->regs[i].s == s)
            return &p->regs[i];
    return NULL;
}

int rp__os_poller_add(rp__os_poller *p, int fd, uint32_t events, uint64_t token)
{
    SOCKET s = (SOCKET)(uintptr_t)fd;
    int rc = 0;
    EnterCriticalSection(&p->lock);
    if (find(p, s)) {
        rc = RP_ERR_EXISTS;
    } else {
        if (p->nregs == p->cap) {
            size_t ncap = p->cap ? p->cap * 2 : 16;
            struct reg *r = realloc(p->regs, ncap * sizeof *r);
            if (!r)
                rc = RP_ERR_NOMEM;
            else {
                p->regs = r;
                p->cap = ncap;
            }
        }
        if (!rc)
            p->regs[p->nregs++] = (struct reg){s, events, token};
    }
    LeaveCriticalSection(&p->lock);
    if (!rc)
        rp__os_poller_wake(p);
    return rc;
}

int rp__os_poller_modify(rp__os_poller *p, int fd, uint32_t events, uint64_t token)
{
    EnterCriticalSection(&p->lock);
    struct reg *r = find(p, (SOCKET)(uintptr_t)fd);
    if (r) {
        r->events = events;
        r->token = token;
    }
    LeaveCriticalSection(&p->lock);
    if (!r)
        return RP_ERR_NOTFOUND;
    rp__os_poller_wake(p);
    return 0;
}

int rp__os_poller_remove(rp__os_poller *p, int fd)
{
    EnterCriticalSection(&p->lock);
    struct reg *r = find(p, (SOCKET)(uintptr_t)fd);
    if (r)
        *r = p->regs[--p->nregs];
    LeaveCriticalSection(&p->lock);
    if (!r)
        return RP_ERR_NOTFOUND;
    rp__os_poller_wake(p);
    return 0;
}

int rp__os_poller_wait(rp__os_poller *p, int timeout_ms, rp__os_poll_event *out, int max, int *n)
{
    *n = 0;
    if (max <= 0)
        return RP_ERR_INVAL;
    /* Snapshot the set: WSAPoll must not see it change under it. */
    EnterCriticalSection(&p->lock);
    size_t need = p->nregs + 1;
    if (need > p->snap_cap) {
        WSAPOLLFD *s = realloc(p->snap, need * sizeof *s);
        if (s)
            p->snap = s;
        uint64_t *t = s ? realloc(p->snap_tokens, need * sizeof *t) : NULL;
        if (t)
            p->snap_tokens = t;
        if (!s || !t) {
            LeaveCriticalSection(&p->lock);
            return RP_ERR_NOMEM;
        }
        p->snap_cap = need;
    }
    p->snap[0] = (WSAPOLLFD){.fd = p->wake_rx, .events = POLLRDNORM};
    for (size_t i = 0; i < p->nregs; i++) {
        p->snap[i + 1] = (WSAPOLLFD){.fd = p->regs[i].s, .events = to_wsa(p->regs[i].events)};
        p->snap_tokens[i + 1] = p->regs[i].token;
    }
    LeaveCriticalSection(&p->lock);

    int got = WSAPoll(p->snap, (ULONG)need, timeout_ms < 0 ? -1 : timeout_ms);
    if (got == SOCKET_ERROR)
        return RP_ERR_IO;
    if (p->snap[0].revents) {
        char buf[64];
        while (recv(p->wake_rx, buf, sizeof buf, 0) > 0) {
        }
    }
    int k = 0;
    for (size_t i = 1; i < need && k < max; i++) {
        if (!p->snap[i].revents)
            continue;
        out[k].token = p->snap_tokens[i];
        out[k].revents = from_wsa(p->snap[i].revents);
        k++;
    }
    *n = k;
    return 0;
}

int rp__os_poller_wake(rp__os_poller *p)
{
    char b = 1;
    /* WSAEWOULDBLOCK: the socket buffer is full of wakes already. */
    if (send(p->wake_tx, &b, 1, 0) == 1 || WSAGetLastError() == WSAEWOULDBLOCK)
        return 0;
    return RP_ERR_IO;
}
