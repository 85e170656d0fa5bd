/*
 * tests/bench/bench_bus_fanout.c - one producer thread -> 4 bus subscribers
 * (distinct owners, so their callbacks may run in parallel on the default
 * 2 dispatchers). Reports events/s delivered per subscriber, total
 * deliveries/s and drops; baseline: the same fan-out over bare SPSC rings of
 * pointers (the producer writes each pointer into 4 rings, 2 consumer
 * threads drain 2 rings each), same pool and item count, same run.
 *
 * Usage: bench_bus_fanout [out.json]. Prints one JSON object.
 * Same methodology as bench_bus_throughput.c (pool, retain before publish,
 * PUBLISHED cleared before republish, in-flight window <= queue capacity so
 * drops must be 0); the window is held against the slowest subscriber.
 */
#include "bench_common.h"

#include "runtime/bus.h"
#include "runtime/event.h"
#include "runtime/topic.h"

#define RUNS     5
#define EVENTS   (2u * 1000 * 1000) /* per run, each delivered SUBS times */
#define SUBS     4
#define QUEUE    4096u
#define WINDOW   2048u
#define POOL     WINDOW
#define PAYLOAD  200u
#define RING_CAP QUEUE

_Static_assert(WINDOW <= QUEUE, "the window must fit the queue or the bus drops");

struct consumer {
    _Alignas(64) atomic_uint_least64_t done;
};

static int on_event(void *arg, const struct rp_event *ev)
{
    (void)ev;
    struct consumer *c = arg;
    uint64_t d = atomic_load_explicit(&c->done, memory_order_relaxed);
    atomic_store_explicit(&c->done, d + 1, memory_order_release);
    return 0;
}

static struct rp_event *pool[POOL];

static uint64_t slowest(struct consumer *c)
{
    uint64_t m = UINT64_MAX;
    for (int k = 0; k < SUBS; k++) {
        uint64_t d = atomic_load_explicit(&c[k].done, memory_order_acquire);
        if (d < m)
            m = d;
    }
    return m;
}

/* Events/s published (each delivered SUBS times); per-subscriber rates of
 * delivery in rates[]. */
static double run_bus(uint64_t n, double *rates, uint64_t *drops)
{
    struct consumer c[SUBS];
    uint64_t ids[SUBS];
    rp__bus_opts o;
    rp__bus_opts_init(&o);
    o.queue_capacity = QUEUE;
    rp__bus *bus = NULL;
    if (rp__bus_create(&o, &bus) != 0)
        exit(1);
    for (int k = 0; k < SUBS; k++) {
        atomic_init(&c[k].done, 0);
        if (rp__bus_subscribe(bus, "bench.fanout", on_event, &c[k], (uint32_t)(k + 1), 0, 0,
                              &ids[k]) != 0)
            exit(1);
    }
    if (rp__bus_start(bus) != 0)
        exit(1);
    uint64_t seen = 0;
    unsigned spins = 0;
    int64_t t0 = bench_now_ns();
    int64_t done_at[SUBS] = {0};
    for (uint64_t i = 0; i < n; i++) {
        while (i - seen >= WINDOW) {
            seen = slowest(c);
            if (i - seen >= WINDOW)
                bench_wait(&spins);
        }
        struct rp_event *ev = pool[i % POOL];
        rp__event_retain(ev);
        rp__event_head_of(ev)->flags &= ~RP__EVENT_PUBLISHED;
        if (rp__bus_publish(bus, ev) != 0)
            exit(1);
    }
    for (int left = SUBS; left;) {
        left = 0;
        for (int k = 0; k < SUBS; k++) {
            if (done_at[k])
                continue;
            if (atomic_load_explicit(&c[k].done, memory_order_acquire) >= n)
                done_at[k] = bench_now_ns();
            else
                left++;
        }
        if (left)
            bench_wait(&spins);
    }
    int64_t t1 = t0;
    for (int k = 0; k < SUBS; k++) {
        rates[k] = (double)n * 1e9 / (double)(done_at[k] - t0);
        if (done_at[k] > t1)
            t1 = done_at[k];
        rp__bus_sub_stats st;
        rp__bus_stats_sub(bus, ids[k], &st);
        *drops += st.dropped;
    }
    rp__bus_destroy(bus);
    return (double)n * 1e9 / (double)(t1 - t0);
}

/* ---- baseline: the same fan-out over bare SPSC rings of pointers ---- */

struct spsc {
    _Alignas(64) atomic_size_t tail;
    size_t head_cache;
    _Alignas(64) atomic_size_t head;
    size_t tail_cache;
    _Alignas(64) void *slots[RING_CAP];
};

static struct spsc rings[SUBS];

struct baseline_consumer {
    int first; /* rings first and first + 1 */
    uint64_t n;
    uintptr_t sum;
};

static void *baseline_consume(void *arg)
{
    struct baseline_consumer *bc = arg;
    uint64_t got[2] = {0, 0};
    unsigned spins = 0;
    while (got[0] < bc->n || got[1] < bc->n) {
        int progress = 0;
        for (int r = 0; r < 2; r++) {
            struct spsc *q = &rings[bc->first + r];
            size_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
            /* Up to 64 at a time, like a dispatcher batch. */
            for (int b = 0; b < 64 && got[r] < bc->n; b++) {
                if (head == q->tail_cache) {
                    q->tail_cache = atomic_load_explicit(&q->tail, memory_order_acquire);
                    if (head == q->tail_cache)
                        break;
                }
                bc->sum += (uintptr_t)q->slots[head & (RING_CAP - 1)];
                atomic_store_explicit(&q->head, ++head, memory_order_release);
                got[r]++;
                progress = 1;
            }
        }
        if (!progress)
            bench_wait(&spins);
    }
    return NULL;
}

static double run_baseline(uint64_t n)
{
    memset(rings, 0, sizeof rings);
    struct baseline_consumer bc[2] = {{0, n, 0}, {2, n, 0}};
    pthread_t th[2];
    int64_t t0 = bench_now_ns();
    for (int i = 0; i < 2; i++)
        if (pthread_create(&th[i], NULL, baseline_consume, &bc[i]) != 0)
            exit(1);
    size_t tail = 0;
    unsigned spins = 0;
    for (uint64_t i = 0; i < n; i++) {
        for (int k = 0; k < SUBS; k++) {
            struct spsc *q = &rings[k];
            while (tail - q->head_cache >= RING_CAP) {
                q->head_cache = atomic_load_explicit(&q->head, memory_order_acquire);
                if (tail - q->head_cache >= RING_CAP)
                    bench_wait(&spins);
            }
            q->slots[tail & (RING_CAP - 1)] = pool[i % POOL];
        }
        tail++;
        for (int k = 0; k < SUBS; k++)
            atomic_store_explicit(&rings[k].tail, tail, memory_order_release);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    return (double)n * 1e9 / (double)(bench_now_ns() - t0);
}

int main(int argc, char **argv)
{
    const char *out = argc > 1 ? argv[1] : NULL;
    double load1 = bench_load1();
    double capacity = bench_cpu_capacity(300);
    double c2c = bench_c2c_ns();
    uint32_t topic;
    if (rp__topic_intern("bench.fanout", 12, &topic) != 0)
        return 1;
    for (uint32_t i = 0; i < POOL; i++)
        if (!(pool[i] = rp__event_alloc(topic, PAYLOAD)))
            return 1;

    uint64_t drops = 0;
    double per_sub[SUBS];
    run_bus(EVENTS / 8, per_sub, &drops); /* warm-up */
    run_baseline(EVENTS / 8);
    drops = 0;

    double published[RUNS], per_sub_med[RUNS], base[RUNS], total[RUNS], base_total[RUNS];
    for (int r = 0; r < RUNS; r++) {
        published[r] = run_bus(EVENTS, per_sub, &drops);
        per_sub_med[r] = bench_median(per_sub, SUBS);
        total[r] = published[r] * SUBS;
        base[r] = run_baseline(EVENTS);
        base_total[r] = base[r] * SUBS;
    }
    double runs_per_sub[RUNS], runs_total[RUNS], runs_base_total[RUNS];
    memcpy(runs_per_sub, per_sub_med, sizeof per_sub_med);
    memcpy(runs_total, total, sizeof total);
    memcpy(runs_base_total, base_total, sizeof base_total);
    double per_sub_rate = bench_median(per_sub_med, RUNS);
    double total_rate = bench_median(total, RUNS);
    double base_rate = bench_median(base_total, RUNS);

    for (uint32_t i = 0; i < POOL; i++)
        rp__event_release(pool[i]);

    rp__bus_opts defaults;
    rp__bus_opts_init(&defaults);
    bench_json j;
    bench_json_begin(&j);
    bench_json_str(&j, "name", "bus_fanout");
    bench_json_str(&j, "unit", "deliveries/s");
    bench_json_int(&j, "subscribers", SUBS);
    bench_json_num(&j, "events_per_s_per_subscriber", per_sub_rate);
    bench_json_num(&j, "deliveries_per_s", total_rate);
    bench_json_num(&j, "baseline", base_rate);
    bench_json_num(&j, "ratio", total_rate / base_rate);
    bench_json_str(&j, "baseline_desc",
                   "the same 1->4 fan-out over 4 bare SPSC rings of pointers, 2 consumer "
                   "threads (2 rings each, 64 per turn), deliveries/s, same run");
    bench_json_array(&j, "per_subscriber_runs", runs_per_sub, RUNS);
    bench_json_array(&j, "deliveries_per_s_runs", runs_total, RUNS);
    bench_json_array(&j, "baseline_runs", runs_base_total, RUNS);
    bench_json_int(&j, "runs", RUNS);
    bench_json_int(&j, "events_per_run", EVENTS);
    bench_json_int(&j, "drops", (long long)drops);
    bench_json_int(&j, "queue_capacity", QUEUE);
    bench_json_int(&j, "window", WINDOW);
    bench_json_int(&j, "payload_bytes", PAYLOAD);
    bench_json_int(&j, "dispatchers", defaults.dispatchers);
    bench_json_int(&j, "cpus", bench_cpus());
    bench_json_num(&j, "load1", load1);
    bench_json_num(&j, "cpu_capacity", capacity);
    bench_json_num(&j, "c2c_one_way_ns", c2c);
    bench_json_str(&j, "note",
                   "medians of runs; per-subscriber rate = events / time until that "
                   "subscriber's last callback, median over the 4 subscribers; pool of "
                   "'window' events retained before each publish, PUBLISHED cleared before "
                   "republish, at most 'window' events in flight against the slowest "
                   "subscriber, so drops must be 0; cpu_capacity and c2c_one_way_ns as in "
                   "bus_throughput.json");
    return bench_json_finish(&j, out);
}
