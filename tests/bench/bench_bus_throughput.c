/*
 * tests/bench/bench_bus_throughput.c - one producer thread -> one bus
 * subscriber, events by reference; baseline: a bare single-producer /
 * single-consumer ring of pointers between two threads, same item count,
 * measured in the same run. Also publish-to-callback latency with the
 * consumer awake (paced at LAT_RATE) and, for reference, when the
 * dispatcher has gone to sleep between events (wake-up latency).
 *
 * Usage: bench_bus_throughput [out.json]. Prints one JSON object.
 * RP_BENCH_EVENTS sets the events per run (default 4,000,000).
 *
 * Methodology (also in the JSON "note"):
 * - Events are allocated once (rp__event_alloc(topic, PAYLOAD): the
 *   256-byte class of payload) into a pool and republished, so the figure is
 *   the bus, not malloc. publish takes a reference, so the producer retains
 *   before each publish; the dispatcher releases after the callback.
 * - The bus stamps publish_ns only on an event's first publish (events are
 *   immutable once shared). The producer clears the PUBLISHED flag before
 *   republishing so that every publish pays for its clock read, as a real
 *   one does. That write is safe because of the window below.
 * - Window: the producer never has more than WINDOW events in flight
 *   (published, callback not yet returned), with WINDOW <= the queue
 *   capacity and == the pool size. So the queue cannot overflow (drops must
 *   be 0: a run that drops is not measuring delivery) and an event is only
 *   reused after its previous delivery finished.
 */
#include "bench_common.h"

#include "runtime/bus.h"
#include "runtime/event.h"
#include "runtime/topic.h"

#define RUNS           5
#define EVENTS         (4u * 1000 * 1000) /* per run */
#define QUEUE          4096u
#define WINDOW         2048u
#define POOL           WINDOW
#define PAYLOAD        200u
#define RING_CAP       QUEUE
#define LAT_RATE       100000u /* events/s in the awake-latency phase */
#define LAT_EVENTS     200000u /* 2 s */
#define WAKE_RATE      200u    /* events/s: gaps of 5 ms, far past the spin time */
#define WAKE_EVENTS    400u    /* 2 s */
#define TRICKLE_RATE   1000u   /* events/s: a trickle, each one past the previous spin */
#define TRICKLE_EVENTS 2000u   /* 2 s */
#define IDLE_MS        1000    /* a started bus with nothing published */

_Static_assert(WINDOW <= QUEUE, "the window must fit the queue or the bus drops");

struct consumer {
    _Alignas(64) atomic_uint_least64_t done;
    int64_t *lat; /* latency per event (ns), or NULL */
    uint64_t lat_cap;
};

/* One subscription is drained by one dispatcher at a time, so a plain
 * load + store (no locked add) is enough; release publishes "this
 * callback is over" to the producer's window check. */
static int on_event(void *arg, const struct rp_event *ev)
{
    struct consumer *c = arg;
    uint64_t d = atomic_load_explicit(&c->done, memory_order_relaxed);
    if (c->lat && d < c->lat_cap)
        c->lat[d] = bench_now_ns() - rp__event_head_of(ev)->publish_ns;
    atomic_store_explicit(&c->done, d + 1, memory_order_release);
    return 0;
}

static struct rp_event *pool[POOL];

static void publish_one(rp__bus *bus, struct rp_event *ev)
{
    rp__event_retain(ev);
    rp__event_head_of(ev)->flags &= ~RP__EVENT_PUBLISHED;
    if (rp__bus_publish(bus, ev) != 0) {
        fprintf(stderr, "bench: publish failed\n");
        exit(1);
    }
}

static rp__bus *make_bus(struct consumer *c, uint64_t *sub_id)
{
    rp__bus_opts o;
    rp__bus_opts_init(&o);
    o.queue_capacity = QUEUE;
    rp__bus *bus = NULL;
    if (rp__bus_create(&o, &bus) != 0 ||
        rp__bus_subscribe(bus, "bench.event", on_event, c, 1, 0, 0, sub_id) != 0 ||
        rp__bus_start(bus) != 0) {
        fprintf(stderr, "bench: bus set-up failed\n");
        exit(1);
    }
    return bus;
}

/* Events/s for n events through the bus; adds the subscription's drops. */
static double run_bus(uint64_t n, uint64_t *drops)
{
    struct consumer c = {0};
    uint64_t id;
    rp__bus *bus = make_bus(&c, &id);
    uint64_t seen = 0;
    unsigned spins = 0;
    int64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < n; i++) {
        while (i - seen >= WINDOW) {
            seen = atomic_load_explicit(&c.done, memory_order_acquire);
            if (i - seen >= WINDOW)
                bench_wait(&spins);
        }
        publish_one(bus, pool[i % POOL]);
    }
    while (atomic_load_explicit(&c.done, memory_order_acquire) < n)
        bench_wait(&spins);
    int64_t t1 = bench_now_ns();
    rp__bus_sub_stats st;
    rp__bus_stats_sub(bus, id, &st);
    *drops += st.dropped;
    rp__bus_destroy(bus);
    return (double)n * 1e9 / (double)(t1 - t0);
}

/* ---- baseline: a bare SPSC ring of pointers (Lamport, with each side
 * caching the other's index, as any serious SPSC queue does) ---- */

struct spsc {
    _Alignas(64) atomic_size_t tail; /* producer */
    size_t head_cache;
    _Alignas(64) atomic_size_t head; /* consumer */
    size_t tail_cache;
    _Alignas(64) void *slots[RING_CAP];
};

struct baseline_consumer {
    struct spsc *q;
    uint64_t n;
    int refcounted;
    uintptr_t sum; /* touches each item so the loop is not optimized out */
};

static void *baseline_consume(void *arg)
{
    struct baseline_consumer *bc = arg;
    struct spsc *q = bc->q;
    size_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
    unsigned spins = 0;
    for (uint64_t got = 0; got < bc->n;) {
        if (head == q->tail_cache) {
            q->tail_cache = atomic_load_explicit(&q->tail, memory_order_acquire);
            if (head == q->tail_cache) {
                bench_wait(&spins);
                continue;
            }
        }
        struct rp_event *ev = q->slots[head & (RING_CAP - 1)];
        bc->sum += (uintptr_t)ev;
        atomic_store_explicit(&q->head, ++head, memory_order_release);
        if (bc->refcounted)
            rp__event_release(ev);
        got++;
    }
    return NULL;
}

/* refcounted: the producer also does the per-event work the bus contract
 * puts around the queue (retain, clock stamp into the event header) and
 * the consumer releases: the floor for any by-reference bus here. */
static double run_baseline(uint64_t n, int refcounted)
{
    static struct spsc q;
    memset(&q, 0, sizeof q);
    struct baseline_consumer bc = {&q, n, refcounted, 0};
    pthread_t th;
    int64_t t0 = bench_now_ns();
    if (pthread_create(&th, NULL, baseline_consume, &bc) != 0)
        exit(1);
    size_t tail = 0;
    unsigned spins = 0;
    for (uint64_t i = 0; i < n; i++) {
        while (tail - q.head_cache >= RING_CAP) {
            q.head_cache = atomic_load_explicit(&q.head, memory_order_acquire);
            if (tail - q.head_cache >= RING_CAP)
                bench_wait(&spins);
        }
        struct rp_event *ev = pool[i % POOL];
        if (refcounted) {
            rp__event_retain(ev);
            rp__event_head_of(ev)->publish_ns = bench_now_ns();
        }
        q.slots[tail & (RING_CAP - 1)] = ev;
        atomic_store_explicit(&q.tail, ++tail, memory_order_release);
    }
    pthread_join(th, NULL);
    int64_t t1 = bench_now_ns();
    if (bc.sum == 0)
        fprintf(stderr, "bench: baseline consumer saw nothing\n");
    return (double)n * 1e9 / (double)(t1 - t0);
}

/* Run time (ns, schedstat) of every thread of this process but the main
 * one: the bus's dispatchers while a bus runs (the baseline's threads are
 * joined before). */
static uint64_t dispatchers_run_ns(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return 0;
    uint64_t sum = 0;
    struct dirent *e;
    char path[96], buf[128];
    while ((e = readdir(d)) != NULL) {
        long tid = strtol(e->d_name, NULL, 10);
        if (tid <= 0 || tid == (long)getpid())
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%ld/schedstat", tid);
        if (bench_read_file(path, buf, sizeof buf) > 0)
            sum += strtoull(buf, NULL, 10);
    }
    closedir(d);
    return sum;
}

/* Paced publishing; latency quantiles in microseconds, the share of events
 * that waited longer than the dispatchers' spin (over_spin: those paid a
 * wake-up), and the dispatchers' CPU over the run as % of one core. */
static void run_latency(uint32_t rate, uint32_t n, double *p50, double *p99, uint64_t *drops,
                        double *over_spin, double *disp_cpu_pct)
{
    struct consumer c = {0};
    c.lat = calloc(n, sizeof *c.lat);
    c.lat_cap = n;
    double *v = calloc(n, sizeof *v);
    if (!c.lat || !v)
        exit(1);
    uint64_t id;
    rp__bus *bus = make_bus(&c, &id);
    rp__bus_opts defaults;
    rp__bus_opts_init(&defaults);
    int64_t gap = 1000000000 / rate;
    uint64_t run0 = dispatchers_run_ns();
    int64_t t0 = bench_now_ns();
    for (uint32_t i = 0; i < n; i++) {
        int64_t due = t0 + (int64_t)i * gap;
        while (bench_now_ns() < due) {
            if (due - bench_now_ns() > 200000) {
                struct timespec ts = {0, 100000};
                nanosleep(&ts, NULL); /* long gaps: let the dispatcher go to sleep */
            } else {
                bench_cpu_relax();
            }
        }
        publish_one(bus, pool[i % POOL]);
    }
    unsigned spins = 0;
    while (atomic_load_explicit(&c.done, memory_order_acquire) < n)
        bench_wait(&spins);
    int64_t t1 = bench_now_ns();
    *disp_cpu_pct = (double)(dispatchers_run_ns() - run0) / (double)(t1 - t0) * 100.0;
    rp__bus_sub_stats st;
    rp__bus_stats_sub(bus, id, &st);
    *drops += st.dropped;
    rp__bus_destroy(bus);
    uint32_t over = 0;
    for (uint32_t i = 0; i < n; i++) {
        v[i] = (double)c.lat[i] / 1000.0;
        over += c.lat[i] > (int64_t)defaults.spin_ns;
    }
    *over_spin = (double)over / n;
    *p50 = bench_quantile(v, n, 0.50);
    *p99 = bench_quantile(v, n, 0.99);
    free(v);
    free(c.lat);
}

int main(int argc, char **argv)
{
    const char *out = argc > 1 ? argv[1] : NULL;
    double load1 = bench_load1();
    double capacity = bench_cpu_capacity(300);
    double c2c = bench_c2c_ns();
    uint32_t topic;
    if (rp__topic_intern("bench.event", 11, &topic) != 0)
        return 1;
    for (uint32_t i = 0; i < POOL; i++)
        if (!(pool[i] = rp__event_alloc(topic, PAYLOAD)))
            return 1;

    uint64_t drops = 0;
    /* RP_BENCH_EVENTS: a smaller run to try things out. */
    uint64_t events;
    if (bench_env_u64("RP_BENCH_EVENTS", EVENTS, 8 * POOL, 1000000000ull, &events) != 0) {
        fprintf(stderr, "bench_bus_throughput: RP_BENCH_EVENTS: %u..1000000000\n", 8 * POOL);
        return 1;
    }
    run_bus(events / 8, &drops); /* warm-up: page faults, caches, frequency */
    run_baseline(events / 8, 0);
    drops = 0;

    double bus_rate[RUNS], base_rate[RUNS], rc_rate[RUNS], sorted[RUNS];
    for (int r = 0; r < RUNS; r++) {
        /* Interleaved so that a noisy neighbour hits all alike. */
        bus_rate[r] = run_bus(events, &drops);
        base_rate[r] = run_baseline(events, 0);
        rc_rate[r] = run_baseline(events, 1);
    }
    memcpy(sorted, bus_rate, sizeof sorted);
    double bus_med = bench_median(sorted, RUNS);
    memcpy(sorted, base_rate, sizeof sorted);
    double base_med = bench_median(sorted, RUNS);
    memcpy(sorted, rc_rate, sizeof sorted);
    double rc_med = bench_median(sorted, RUNS);

    double p50, p99, wp50, wp99, tp50, tp99, over, wover, tover, lat_cpu, wcpu, tcpu;
    run_latency(LAT_RATE, LAT_EVENTS, &p50, &p99, &drops, &over, &lat_cpu);
    run_latency(WAKE_RATE, WAKE_EVENTS, &wp50, &wp99, &drops, &wover, &wcpu);
    run_latency(TRICKLE_RATE, TRICKLE_EVENTS, &tp50, &tp99, &drops, &tover, &tcpu);

    /* Idle: a started bus, nothing published; the dispatchers' run time. */
    struct consumer ic = {0};
    uint64_t iid;
    rp__bus *ibus = make_bus(&ic, &iid);
    bench_sleep_ms(100); /* past any spin after start */
    uint64_t irun0 = dispatchers_run_ns();
    int64_t it0 = bench_now_ns();
    bench_sleep_ms(IDLE_MS);
    double idle_ms_per_s =
        (double)(dispatchers_run_ns() - irun0) / 1e6 / ((double)(bench_now_ns() - it0) / 1e9);
    rp__bus_destroy(ibus);

    for (uint32_t i = 0; i < POOL; i++)
        rp__event_release(pool[i]);

    rp__bus_opts defaults;
    rp__bus_opts_init(&defaults);
    bench_json j;
    bench_json_begin(&j);
    bench_json_str(&j, "name", "bus_throughput");
    bench_json_str(&j, "unit", "events/s");
    bench_json_num(&j, "events_per_s", bus_med);
    bench_json_num(&j, "baseline", base_med);
    bench_json_num(&j, "ratio", bus_med / base_med);
    bench_json_str(&j, "baseline_desc",
                   "bare SPSC ring of pointers (Lamport, cached indices), producer thread -> "
                   "consumer thread, same pool and item count, same run");
    bench_json_num(&j, "baseline_refcounted", rc_med);
    bench_json_num(&j, "ratio_refcounted", bus_med / rc_med);
    bench_json_str(&j, "baseline_refcounted_desc",
                   "the same bare ring, plus the per-event work the bus contract puts around "
                   "any queue: producer retains and stamps publish_ns (monotonic clock), "
                   "consumer releases");
    bench_json_array(&j, "events_per_s_runs", bus_rate, RUNS);
    bench_json_array(&j, "baseline_runs", base_rate, RUNS);
    bench_json_array(&j, "baseline_refcounted_runs", rc_rate, RUNS);
    bench_json_int(&j, "runs", RUNS);
    bench_json_int(&j, "events_per_run", (long long)events);
    bench_json_int(&j, "drops", (long long)drops);
    bench_json_num(&j, "latency_p50_us", p50);
    bench_json_num(&j, "latency_p99_us", p99);
    bench_json_int(&j, "latency_rate_per_s", LAT_RATE);
    bench_json_int(&j, "latency_events", LAT_EVENTS);
    bench_json_num(&j, "wake_latency_p50_us", wp50);
    bench_json_num(&j, "wake_latency_p99_us", wp99);
    bench_json_int(&j, "wake_latency_rate_per_s", WAKE_RATE);
    bench_json_num(&j, "latency_share_over_spin", over);
    bench_json_num(&j, "latency_dispatcher_cpu_pct", lat_cpu);
    bench_json_int(&j, "trickle_rate_per_s", TRICKLE_RATE);
    bench_json_num(&j, "trickle_dispatcher_cpu_pct", tcpu);
    bench_json_num(&j, "trickle_latency_p50_us", tp50);
    bench_json_num(&j, "wake_dispatcher_cpu_pct", wcpu);
    bench_json_num(&j, "idle_dispatcher_cpu_ms_per_s", idle_ms_per_s);
    bench_json_num(&j, "ns_per_event", 1e9 / bus_med);
    bench_json_num(&j, "goal_events_per_s", 10e6);
    bench_json_num(&j, "goal_ratio", 0.5);
    bench_json_int(&j, "queue_capacity", QUEUE);
    bench_json_int(&j, "window", WINDOW);
    bench_json_int(&j, "pool", POOL);
    bench_json_int(&j, "payload_bytes", PAYLOAD);
    bench_json_int(&j, "dispatchers", defaults.dispatchers);
    bench_json_int(&j, "spin_ns", defaults.spin_ns);
    bench_json_int(&j, "cpus", bench_cpus());
    bench_json_num(&j, "load1", load1);
    bench_json_num(&j, "cpu_capacity", capacity);
    bench_json_num(&j, "c2c_one_way_ns", c2c);
    bench_json_str(
        &j, "note",
        "medians of runs; events from a pre-allocated pool of 'pool' events "
        "(rp__event_alloc(topic, 200)), retained before each publish and released by the "
        "dispatcher after the callback; the PUBLISHED flag is cleared before each republish "
        "so every publish stamps publish_ns; the producer keeps at most 'window' (<= queue "
        "capacity) events in flight, so the queue never overflows and drops must be 0; "
        "latency = monotonic clock in the callback minus head.publish_ns, paced at "
        "latency_rate_per_s with the dispatcher awake; wake_latency: paced so slowly that "
        "the dispatcher sleeps between events (condition-variable wake-up); cpu_capacity: "
        "CPUs two spinning threads actually got at the start (2.0 = quiet machine); "
        "c2c_one_way_ns: time for a cache line to move between the two threads' CPUs, "
        "which bounds any by-reference bus (see docs/bus.md); latency_share_over_spin: share of "
        "the awake-latency events that waited longer than spin_ns (they paid a wake-up); "
        "*_dispatcher_cpu_pct: run time (schedstat) of the dispatcher threads over that paced "
        "run, % of one core (trickle: trickle_rate_per_s, each event past the previous spin); "
        "idle_dispatcher_cpu_ms_per_s: the same on a started bus with nothing published");
    return bench_json_finish(&j, out);
}
