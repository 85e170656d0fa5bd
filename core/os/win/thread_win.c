/*
 * core/os/win/thread_win.c - os_thread.h on Win32 threads, SRW locks and
 * condition variables. *** NOT BUILT ON LINUX, NOT YET TESTED ON WINDOWS. ***
 * Compile-ready for mingw-w64 (Windows 8 or later for SetThreadDescription
 * via GetProcAddress; older systems just leave threads unnamed).
 */
#include "os/os_thread.h"

#include <rampart/plugin.h>

#include <windows.h>

#include <process.h>
#include <stdlib.h>

struct rp__os_thread {
    HANDLE h;
    void (*fn)(void *arg);
    void *arg;
    wchar_t name[16];
};

struct rp__os_mutex {
    SRWLOCK l;
};

struct rp__os_cond {
    CONDITION_VARIABLE c;
};

typedef HRESULT(WINAPI *set_desc_fn)(HANDLE, PCWSTR);

static unsigned __stdcall thread_main(void *p)
{
    rp__os_thread *t = p;
    /* SetThreadDescription exists from Windows 10 1607: looked up, not linked. */
    HMODULE k32 = GetModuleHandleW(L"kernel32.dll");
    set_desc_fn set_desc =
        k32 ? (set_desc_fn)(void (*)(void))GetProcAddress(k32, "SetThreadDescription") : NULL;
    if (set_desc && t->name[0])
        set_desc(GetCurrentThread(), t->name);
    t->fn(t->arg);
    return 0;
}

int rp__os_thread_start(rp__os_thread **out, const char *name, void (*fn)(void *arg), void *arg)
{
    if (!out || !fn)
        return RP_ERR_INVAL;
    rp__os_thread *t = calloc(1, sizeof *t);
    if (!t)
        return RP_ERR_NOMEM;
    t->fn = fn;
    t->arg = arg;
    for (size_t i = 0; name && name[i] && i + 1 < sizeof t->name / sizeof t->name[0]; i++)
        t->name[i] = (wchar_t)(unsigned char)name[i];
    /* _beginthreadex, not CreateThread: the C runtime's per-thread state. */
    uintptr_t h = _beginthreadex(NULL, 0, thread_main, t, 0, NULL);
    if (!h) {
        free(t);
        return RP_ERR_NOMEM;
    }
    t->h = (HANDLE)h;
    *out = t;
    return 0;
}

void rp__os_thread_join(rp__os_thread *t)
{
    if (!t)
        return;
    WaitForSingleObject(t->h, INFINITE);
    CloseHandle(t->h);
    free(t);
}

uint32_t rp__os_thread_tid(void)
{
    return (uint32_t)GetCurrentThreadId();
}

int rp__os_thread_cpu_clock(int64_t *clock)
{
    /* A thread's times are read through a handle with the right to query
     * them; not needed by the Windows build yet. */
    (void)clock;
    return RP_ERR_UNSUPPORTED;
}

int64_t rp__os_cpu_clock_ns(int64_t clock)
{
    (void)clock;
    return -1;
}

int64_t rp__os_thread_cpu_ns(void)
{
    FILETIME created, exited, kernel, user;
    if (!GetThreadTimes(GetCurrentThread(), &created, &exited, &kernel, &user))
        return 0;
    ULARGE_INTEGER k = {.u = {kernel.dwLowDateTime, kernel.dwHighDateTime}};
    ULARGE_INTEGER u = {.u = {user.dwLowDateTime, user.dwHighDateTime}};
    return (int64_t)(k.QuadPart + u.QuadPart) * 100; /* 100 ns units */
}

int rp__os_thread_set_slice(uint32_t slice_us)
{
    /* Windows has no per-thread quantum to ask for. */
    (void)slice_us;
    return RP_ERR_UNSUPPORTED;
}

int rp__os_thread_set_realtime(int on)
{
    /* Not used on Windows yet: THREAD_PRIORITY_TIME_CRITICAL would be the
     * counterpart, left until a Windows collector needs it. */
    (void)on;
    return RP_ERR_UNSUPPORTED;
}

int rp__os_mutex_create(rp__os_mutex **out)
{
    rp__os_mutex *m = malloc(sizeof *m);
    if (!m)
        return RP_ERR_NOMEM;
    InitializeSRWLock(&m->l);
    *out = m;
    return 0;
}

void rp__os_mutex_destroy(rp__os_mutex *m)
{
    free(m); /* SRW locks need no cleanup */
}

void rp__os_mutex_lock(rp__os_mutex *m)
{
    AcquireSRWLockExclusive(&m->l);
}

void rp__os_mutex_unlock(rp__os_mutex *m)
{
    ReleaseSRWLockExclusive(&m->l);
}

int rp__os_cond_create(rp__os_cond **out)
{
    rp__os_cond *c = malloc(sizeof *c);
    if (!c)
        return RP_ERR_NOMEM;
    InitializeConditionVariable(&c->c);
    *out = c;
    return 0;
}

void rp__os_cond_destroy(rp__os_cond *c)
{
    free(c);
}

void rp__os_cond_wait(rp__os_cond *c, rp__os_mutex *m)
{
    SleepConditionVariableSRW(&c->c, &m->l, INFINITE, 0);
}

void rp__os_cond_timedwait(rp__os_cond *c, rp__os_mutex *m, int64_t timeout_ms)
{
    if (timeout_ms < 0)
        timeout_ms = 0;
    /* INFINITE is 0xFFFFFFFF: stay one below it. */
    DWORD ms = timeout_ms >= (int64_t)0xFFFFFFFE ? 0xFFFFFFFEu : (DWORD)timeout_ms;
    SleepConditionVariableSRW(&c->c, &m->l, ms, 0);
}

void rp__os_cond_signal(rp__os_cond *c)
{
    WakeConditionVariable(&c->c);
}

void rp__os_cond_broadcast(rp__os_cond *c)
{
    WakeAllConditionVariable(&c->c);
}

/* ---- once, static mutexes, fork ------------------------------------------- */

void rp__os_thread_yield(void)
{
    SwitchToThread();
}

_Static_assert(sizeof(SRWLOCK) <= RP__OS_STATIC_MUTEX_BYTES, "SRWLOCK does not fit");

static void static_mutex_init(void *storage)
{
    InitializeSRWLock((SRWLOCK *)storage);
}

void rp__os_static_mutex_lock(rp__os_static_mutex *m)
{
    rp__os_once(&m->once, static_mutex_init, m->storage);
    AcquireSRWLockExclusive((SRWLOCK *)(void *)m->storage);
}

void rp__os_static_mutex_unlock(rp__os_static_mutex *m)
{
    ReleaseSRWLockExclusive((SRWLOCK *)(void *)m->storage);
}

/* No fork on Windows: a child never inherits a running process's state. */
int rp__os_atfork_child(void (*fn)(void))
{
    (void)fn;
    return 0;
}
