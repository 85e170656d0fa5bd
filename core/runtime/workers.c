/*
 * core/runtime/workers.c - the worker pool: a FIFO of preallocated job records, a
 * few threads sleeping on a condition variable, and completions handed to the
 * loop thread through one intrusive loop task per pool.
 *
 * A job record moves free -> queue -> (running, on a worker's stack) -> done
 * list -> free. The done list is drained by the task: it is posted when the
 * list goes from empty to non-empty, and the drain takes the whole list, so
 * "list non-empty" always implies "task queued or a drain about to take it".
 */
#include "runtime/workers.h"
#include "os/os_thread.h"

#include <rampart/plugin.h>

#include <stdio.h>
#include <stdlib.h>

struct job {
    struct job *next;
    rp__workers_work_fn work;
    rp__workers_done_fn done;
    void *arg;
    void *owner;
    int status;
    int held; /* taken by submit, until released (for cancel_owner's scan) */
};

struct rp__workers {
    rp__os_mutex *lock;
    rp__os_cond *work_cv; /* idle workers sleep here */
    rp__os_cond *done_cv; /* destroy waits here for the loop to run the dones */
    rp__loop *loop;       /* borrowed, may be NULL */
    rp__loop_hooks hooks;
    rp__loop_task drain;

    rp__os_thread **threads;
    uint32_t nthreads;
    uint32_t queue_cap;
    struct job *jobs; /* queue_cap records */

    /* Guarded by lock. */
    struct job *free_list;
    struct job *q_head, *q_tail; /* waiting for a thread, FIFO */
    struct job *d_head, *d_tail; /* done owed on the loop thread, FIFO */
    uint32_t delivering;         /* drains running done callbacks now */
    uint32_t owner_waiters;      /* threads in rp__workers_cancel_owner */
    int stopping;
    rp__workers_stats st;
};

static void append(struct job **head, struct job **tail, struct job *j)
{
    j->next = NULL;
    if (*tail)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

static void release(rp__workers *w, struct job *j)
{
    j->held = 0;
    j->next = w->free_list;
    w->free_list = j;
    w->st.held--;
}

static void call_work(rp__workers *w, struct job *j)
{
    int64_t cpu0 = rp__loop_hooks_enter(&w->hooks, j->owner, RP__LOOP_CALL_JOB);
    j->work(j->arg);
    rp__loop_hooks_leave(&w->hooks, j->owner, cpu0);
}

static void call_done(rp__workers *w, struct job *j)
{
    int64_t cpu0 = rp__loop_hooks_enter(&w->hooks, j->owner, RP__LOOP_CALL_DONE);
    j->done(j->arg, j->status);
    rp__loop_hooks_leave(&w->hooks, j->owner, cpu0);
}

/*
 * The loop task (and destroy's synchronous path): runs every done owed so
 * far, in completion order. status is the loop's (RP_ERR_STOPPED when it
 * stopped first), not the jobs': each done gets its own job's status.
 */
static void drain(void *arg, int status)
{
    (void)status;
    rp__workers *w = arg;
    rp__os_mutex_lock(w->lock);
    struct job *list = w->d_head;
    w->d_head = w->d_tail = NULL;
    w->delivering++;
    rp__os_mutex_unlock(w->lock);

    for (struct job *j = list; j; j = j->next)
        call_done(w, j);

    rp__os_mutex_lock(w->lock);
    while (list) {
        struct job *next = list->next;
        release(w, list);
        list = next;
    }
    w->delivering--;
    if (w->stopping || w->owner_waiters)
        rp__os_cond_broadcast(w->done_cv);
    /* Once unlocked, destroy may free w: nothing touches it after this. */
    rp__os_mutex_unlock(w->lock);
}

/* Lock held (released around a done run here). Routes a finished job to its
 * done callback. */
static void finish(rp__workers *w, struct job *j)
{
    if (!j->done) {
        release(w, j);
        return;
    }
    if (w->loop) {
        int was_empty = w->d_head == NULL;
        append(&w->d_head, &w->d_tail, j);
        if (was_empty)
            rp__loop_post_task(w->loop, &w->drain); /* cannot fail: storage is ours */
        return;
    }
    rp__os_mutex_unlock(w->lock);
    call_done(w, j);
    rp__os_mutex_lock(w->lock);
    release(w, j);
}

static void worker_main(void *arg)
{
    rp__workers *w = arg;
    rp__os_mutex_lock(w->lock);
    for (;;) {
        while (!w->q_head && !w->stopping)
            rp__os_cond_wait(w->work_cv, w->lock);
        if (!w->q_head)
            break; /* stopping, and destroy already took what was queued */
        struct job *j = w->q_head;
        w->q_head = j->next;
        if (!w->q_head)
            w->q_tail = NULL;
        w->st.queued--;
        rp__os_mutex_unlock(w->lock);

        call_work(w, j);

        rp__os_mutex_lock(w->lock);
        w->st.completed++;
        j->status = 0;
        finish(w, j);
        if (w->owner_waiters)
            rp__os_cond_broadcast(w->done_cv); /* a running job they wait for ended */
    }
    rp__os_mutex_unlock(w->lock);
}

int rp__workers_create(const rp__workers_opts *opts, rp__loop *loop, rp__workers **out)
{
    if (!out)
        return RP_ERR_INVAL;
    uint32_t threads = opts && opts->threads ? opts->threads : RP__WORKERS_DEFAULT_THREADS;
    uint32_t cap = opts && opts->queue_cap ? opts->queue_cap : RP__WORKERS_DEFAULT_QUEUE_CAP;
    if (threads > RP__WORKERS_MAX_THREADS || cap > RP__WORKERS_MAX_QUEUE_CAP)
        return RP_ERR_RANGE;

    rp__workers *w = calloc(1, sizeof *w);
    if (!w)
        return RP_ERR_NOMEM;
    w->loop = loop;
    w->queue_cap = cap;
    if (opts && opts->hooks)
        w->hooks = *opts->hooks;
    w->drain.fn = drain;
    w->drain.arg = w;

    int rc = rp__os_mutex_create(&w->lock);
    if (!rc)
        rc = rp__os_cond_create(&w->work_cv);
    if (!rc)
        rc = rp__os_cond_create(&w->done_cv);
    if (!rc && (!(w->jobs = calloc(cap, sizeof *w->jobs)) ||
                !(w->threads = calloc(threads, sizeof *w->threads))))
        rc = RP_ERR_NOMEM;
    if (rc) {
        rp__workers_destroy(w);
        return rc;
    }
    for (uint32_t i = cap; i-- > 0;) {
        w->jobs[i].next = w->free_list;
        w->free_list = &w->jobs[i];
    }
    for (uint32_t i = 0; i < threads; i++) {
        char name[24]; /* "rp-worker-63" at most; room so the compiler sees no cut */
        snprintf(name, sizeof name, "rp-worker-%u", (unsigned)i);
        rc = rp__os_thread_start(&w->threads[i], name, worker_main, w);
        if (rc) {
            rp__workers_destroy(w);
            return rc;
        }
        w->nthreads++;
    }
    *out = w;
    return 0;
}

void rp__workers_destroy(rp__workers *w)
{
    if (!w)
        return;
    if (w->lock) {
        /* Cancel what has not started; wake every worker to exit. */
        rp__os_mutex_lock(w->lock);
        w->stopping = 1;
        while (w->q_head) {
            struct job *j = w->q_head;
            w->q_head = j->next;
            w->st.queued--;
            w->st.cancelled++;
            j->status = RP_ERR_STOPPED;
            if (j->done)
                append(&w->d_head, &w->d_tail, j); /* delivered below, not posted */
            else
                release(w, j);
        }
        w->q_tail = NULL;
        if (w->work_cv)
            rp__os_cond_broadcast(w->work_cv);
        rp__os_mutex_unlock(w->lock);
    }
    for (uint32_t i = 0; i < w->nthreads; i++)
        rp__os_thread_join(w->threads[i]);

    if (w->lock) {
        if (w->loop && rp__loop_is_running(w->loop) && !rp__loop_in_loop_thread(w->loop)) {
            /* Deliver on the loop thread, as promised, and wait for it. If
             * the loop stops meanwhile, rp__loop_stop runs the drain. */
            rp__os_mutex_lock(w->lock);
            if (w->d_head)
                rp__loop_post_task(w->loop, &w->drain);
            while (w->d_head || w->delivering)
                rp__os_cond_wait(w->done_cv, w->lock);
            rp__os_mutex_unlock(w->lock);
        }
        /* Make sure the loop holds no queued or running reference to us. */
        if (w->loop)
            rp__loop_task_cancel(w->loop, &w->drain);
        /* Whatever is still owed runs here: on the loop thread, with the loop
         * stopped, or without a loop. */
        drain(w, 0);
    }
    free(w->threads);
    free(w->jobs);
    rp__os_cond_destroy(w->done_cv);
    rp__os_cond_destroy(w->work_cv);
    rp__os_mutex_destroy(w->lock);
    free(w);
}

int rp__workers_submit(rp__workers *w, void *owner, rp__workers_work_fn work,
                       rp__workers_done_fn done, void *arg)
{
    if (!w || !work)
        return RP_ERR_INVAL;
    rp__os_mutex_lock(w->lock);
    if (w->stopping) {
        rp__os_mutex_unlock(w->lock);
        return RP_ERR_STOPPED;
    }
    struct job *j = w->free_list;
    if (!j) {
        w->st.rejected++;
        rp__os_mutex_unlock(w->lock);
        return RP_ERR_FULL;
    }
    w->free_list = j->next;
    *j = (struct job){.work = work, .done = done, .arg = arg, .owner = owner, .held = 1};
    append(&w->q_head, &w->q_tail, j);
    w->st.submitted++;
    if (++w->st.queued > w->st.queued_high)
        w->st.queued_high = w->st.queued;
    if (++w->st.held > w->st.held_high)
        w->st.held_high = w->st.held;
    rp__os_cond_signal(w->work_cv);
    rp__os_mutex_unlock(w->lock);
    return 0;
}

/* Lock held. True while any job of owner is queued, running or owes a done. */
static int owner_held(const rp__workers *w, const void *owner)
{
    for (uint32_t i = 0; i < w->queue_cap; i++)
        if (w->jobs[i].held && w->jobs[i].owner == owner)
            return 1;
    return 0;
}

int rp__workers_cancel_owner(rp__workers *w, void *owner)
{
    if (!w)
        return RP_ERR_INVAL;
    rp__os_mutex_lock(w->lock);
    /* Unstarted jobs of owner leave the queue as cancelled completions. */
    struct job **pp = &w->q_head, *prev = NULL;
    while (*pp) {
        struct job *j = *pp;
        if (j->owner != owner) {
            prev = j;
            pp = &j->next;
            continue;
        }
        *pp = j->next;
        if (w->q_tail == j)
            w->q_tail = prev;
        w->st.queued--;
        w->st.cancelled++;
        j->status = RP_ERR_STOPPED;
        if (j->done)
            finish(w, j); /* lock stays held: with a loop it only queues */
        else
            release(w, j);
    }
    /* Where dones can only run here, run them here; else wait for the loop
     * thread (or the thread stopping it) to run them. */
    int here = !w->loop || rp__loop_in_loop_thread(w->loop) || !rp__loop_is_running(w->loop);
    w->owner_waiters++;
    while (owner_held(w, owner)) {
        if (here && w->d_head) {
            rp__os_mutex_unlock(w->lock);
            drain(w, 0);
            rp__os_mutex_lock(w->lock);
            continue;
        }
        rp__os_cond_wait(w->done_cv, w->lock);
    }
    w->owner_waiters--;
    rp__os_mutex_unlock(w->lock);
    return 0;
}

void rp__workers_get_stats(rp__workers *w, rp__workers_stats *out)
{
    rp__os_mutex_lock(w->lock);
    *out = w->st;
    rp__os_mutex_unlock(w->lock);
}
