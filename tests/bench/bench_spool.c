/*
 * tests/bench/bench_spool.c - the spool's throughput, against plain write()
 * and read() of the same bytes in the same run.
 *
 *   append: batches of 1000 events as ~60 KB of incompressible bytes (what a
 *           gzipped batch looks like), fsync policy "interval" (1 s), 256 MiB
 *           per round, ended by a forced sync; baseline: write() of the same
 *           chunks to one file and one fdatasync.
 *   replay: a spool of 1 GiB (256 MiB if the disk is short; the JSON says
 *           which) drained with next + ack as fast as possible, open included;
 *           warm (just written, in the page cache) and cold (synced, then the
 *           files' pages dropped with posix_fadvise); baseline: read() of a
 *           file of the same bytes, warm and cold the same way.
 *   also:   appends per second under fsync "always", for the record.
 *
 * Ingest, for the "replay at least 10x ingest" goal: measured in the same
 * run, not assumed. It is the append rate above (fsync "interval", which is
 * the agent's default "batch"): the fastest the spool takes batches in, so an
 * upper bound of what any ingest can put into it, and replay_*_vs_ingest is
 * replay events/s over append events/s of the same batches. (The agent's
 * whole pipeline filling its spool is measured by bench_spool_replay.)
 *
 *   bench_spool OUT.json      (RP_BENCH_DIR picks the folder; default /var/tmp;
 *                              RP_BENCH_APPEND_MB (256) and RP_BENCH_REPLAY_MB
 *                              (1024) make smaller runs to try things out)
 */
#define _GNU_SOURCE
#include "bench_common.h"

#include "lib/log.h"
#include "output/ndjson.h"
#include "output/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/statvfs.h>

#define PAYLOAD               61440
#define EVENTS                1000
#define APPEND_BYTES          ((uint64_t)256 << 20)
#define APPEND_ROUNDS         5
#define REPLAY_ROUNDS         3
#define ALWAYS_BATCHES        300
#define GOAL_REPLAY_VS_INGEST 10.0

static char root[PATH_MAX];
static uint8_t payload[PAYLOAD];

static rp__spool *open_spool(const char *dir, enum rp__spool_fsync policy)
{
    rp__spool_opts o;
    rp__spool_opts_init(&o, dir);
    o.max_bytes = (uint64_t)4 << 30;
    o.fsync = policy;
    rp__spool *sp;
    int rc = rp__spool_open(&o, &sp);
    if (rc != 0) {
        fprintf(stderr, "bench_spool: open %s: %s\n", dir, rp_strerror(rc));
        exit(1);
    }
    return sp;
}

/* Appends n batches; a different first byte each so no two are alike. */
static void fill(rp__spool *sp, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        payload[0] = (uint8_t)i;
        int rc = rp__spool_append(sp, payload, PAYLOAD, EVENTS, RP__SPOOL_FLAG_GZIP, NULL);
        if (rc != 0) {
            fprintf(stderr, "bench_spool: append: %s\n", rp_strerror(rc));
            exit(1);
        }
    }
}

/* Seconds to append n batches under "interval", sync included. */
static double time_append(const char *dir, uint64_t n)
{
    bench_rm_tree(dir);
    rp__spool *sp = open_spool(dir, RP__SPOOL_FSYNC_INTERVAL);
    int64_t t0 = bench_now_ns();
    fill(sp, n);
    rp__spool_sync(sp, 1);
    double s = (double)(bench_now_ns() - t0) / 1e9;
    rp__spool_close(sp);
    return s;
}

static double time_raw_write(const char *path, uint64_t n)
{
    unlink(path);
    int64_t t0 = bench_now_ns();
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        bench_die(path);
    for (uint64_t i = 0; i < n; i++) {
        payload[0] = (uint8_t)i;
        size_t off = 0;
        while (off < PAYLOAD) {
            ssize_t w = write(fd, payload + off, PAYLOAD - off);
            if (w < 0)
                bench_die("write");
            off += (size_t)w;
        }
    }
    fdatasync(fd);
    close(fd);
    return (double)(bench_now_ns() - t0) / 1e9;
}

/* Seconds to open the spool and drain it; *batches gets the count. */
static double time_replay(const char *dir, uint64_t *batches, double *open_ms)
{
    rp__buf buf;
    rp__buf_init(&buf, RP__SPOOL_PAYLOAD_MAX);
    int64_t t0 = bench_now_ns();
    rp__spool *sp = open_spool(dir, RP__SPOOL_FSYNC_INTERVAL);
    *open_ms = (double)(bench_now_ns() - t0) / 1e6;
    rp__spool_batch b;
    uint64_t last = 0, n = 0, sum = 0;
    int rc;
    while ((rc = rp__spool_next(sp, last, &buf, &b)) == 0) {
        sum += ((const uint8_t *)b.payload)[b.len - 1]; /* the bytes are used */
        last = b.id;
        rp__spool_ack(sp, b.id);
        n++;
    }
    rp__spool_close(sp);
    double s = (double)(bench_now_ns() - t0) / 1e9;
    if (rc != RP_ERR_NOTFOUND)
        fprintf(stderr, "bench_spool: next: %s\n", rp_strerror(rc));
    rp__buf_free(&buf);
    *batches = n + (sum == UINT64_MAX); /* keeps sum alive */
    return s;
}

static double time_raw_read(const char *path)
{
    static uint8_t buf[PAYLOAD];
    int64_t t0 = bench_now_ns();
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        bench_die(path);
    uint64_t sum = 0;
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0)
            bench_die("read");
        if (r == 0)
            break;
        sum += buf[r - 1];
    }
    close(fd);
    double s = (double)(bench_now_ns() - t0) / 1e9;
    return s + (sum == UINT64_MAX);
}

int main(int argc, char **argv)
{
    rp__log_set_level(RP__LOG_ERROR);
    uint64_t append_mb, replay_mb;
    if (bench_env_u64("RP_BENCH_APPEND_MB", APPEND_BYTES >> 20, 1, 65536, &append_mb) != 0 ||
        bench_env_u64("RP_BENCH_REPLAY_MB", 1024, 1, 65536, &replay_mb) != 0) {
        fprintf(stderr, "bench_spool: RP_BENCH_APPEND_MB and RP_BENCH_REPLAY_MB: 1..65536\n");
        return 1;
    }
    const char *base = getenv("RP_BENCH_DIR");
    snprintf(root, sizeof root, "%s/rampart-bench-spool-XXXXXX",
             base && base[0] ? base : "/var/tmp");
    if (!mkdtemp(root))
        bench_die(root);
    char sdir[PATH_MAX + 16], raw[PATH_MAX + 16];
    snprintf(sdir, sizeof sdir, "%s/spool", root);
    snprintf(raw, sizeof raw, "%s/raw.bin", root);
    uint64_t s = 12345;
    for (size_t i = 0; i < PAYLOAD; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        payload[i] = (uint8_t)s;
    }

    /* Room for the replay spool, the raw file and slack. */
    struct statvfs vfs;
    uint64_t replay_bytes = replay_mb << 20;
    int short_disk = 0;
    if (replay_bytes > ((uint64_t)256 << 20) && statvfs(root, &vfs) == 0 &&
        (uint64_t)vfs.f_bavail * vfs.f_frsize < 3 * replay_bytes + ((uint64_t)512 << 20)) {
        replay_bytes = (uint64_t)256 << 20;
        short_disk = 1;
    }
    double load_before = bench_load1();
    double capacity = bench_cpu_capacity(200);

    /* Append, alternating with the baseline so both see the same noise. */
    uint64_t n_app = (append_mb << 20) / PAYLOAD;
    double app_mb[APPEND_ROUNDS], app_bs[APPEND_ROUNDS], raw_mb[APPEND_ROUNDS];
    for (int r = 0; r < APPEND_ROUNDS; r++) {
        double t = time_append(sdir, n_app);
        app_mb[r] = (double)n_app * PAYLOAD / 1e6 / t;
        app_bs[r] = (double)n_app / t;
        double tr = time_raw_write(raw, n_app);
        raw_mb[r] = (double)n_app * PAYLOAD / 1e6 / tr;
    }
    double app_mb_med = bench_median(app_mb, APPEND_ROUNDS);
    double app_bs_med = bench_median(app_bs, APPEND_ROUNDS);
    double raw_w_med = bench_median(raw_mb, APPEND_ROUNDS);

    /* fsync "always": one sync per batch. */
    bench_rm_tree(sdir);
    rp__spool *sp = open_spool(sdir, RP__SPOOL_FSYNC_ALWAYS);
    int64_t t0 = bench_now_ns();
    fill(sp, ALWAYS_BATCHES);
    double always_bs = ALWAYS_BATCHES / ((double)(bench_now_ns() - t0) / 1e9);
    rp__spool_close(sp);

    /* Replay: warm and cold, with the raw read of the same bytes. */
    uint64_t n_rep = replay_bytes / PAYLOAD + 1;
    time_raw_write(raw, n_rep);
    double w_mb[REPLAY_ROUNDS], w_bs[REPLAY_ROUNDS], c_mb[REPLAY_ROUNDS], c_bs[REPLAY_ROUNDS];
    double wr_mb[REPLAY_ROUNDS], cr_mb[REPLAY_ROUNDS], open_w[REPLAY_ROUNDS], open_c[REPLAY_ROUNDS];
    uint64_t got = 0;
    for (int r = 0; r < REPLAY_ROUNDS; r++) {
        for (int cold = 0; cold < 2; cold++) {
            bench_rm_tree(sdir);
            sp = open_spool(sdir, RP__SPOOL_FSYNC_NEVER);
            fill(sp, n_rep);
            rp__spool_close(sp);
            if (cold) {
                if (bench_make_cold(sdir) != 0)
                    bench_die(sdir);
                if (bench_make_cold(raw) != 0)
                    bench_die(raw);
            } else {
                time_raw_read(raw); /* warm the raw file's pages */
            }
            double open_ms;
            double t = time_replay(sdir, &got, &open_ms);
            if (got != n_rep) {
                fprintf(stderr, "bench_spool: replayed %llu of %llu batches\n",
                        (unsigned long long)got, (unsigned long long)n_rep);
                return 1;
            }
            double tr = time_raw_read(raw);
            double mb = (double)n_rep * PAYLOAD / 1e6;
            (cold ? c_mb : w_mb)[r] = mb / t;
            (cold ? c_bs : w_bs)[r] = (double)n_rep / t;
            (cold ? cr_mb : wr_mb)[r] = mb / tr;
            (cold ? open_c : open_w)[r] = open_ms;
        }
    }
    bench_rm_tree(sdir);
    unlink(raw);
    rmdir(root);

    double wm = bench_median(w_mb, REPLAY_ROUNDS), wb = bench_median(w_bs, REPLAY_ROUNDS);
    double cm = bench_median(c_mb, REPLAY_ROUNDS), cb = bench_median(c_bs, REPLAY_ROUNDS);
    double wrm = bench_median(wr_mb, REPLAY_ROUNDS), crm = bench_median(cr_mb, REPLAY_ROUNDS);

    bench_json j;
    bench_json_begin(&j);
    bench_json_str(&j, "bench", "spool");
    bench_json_int(&j, "cpus", bench_cpus());
    bench_json_num(&j, "cpu_capacity", capacity);
    bench_json_num(&j, "load1_before", load_before);
    bench_json_num(&j, "load1_after", bench_load1());
    bench_json_int(&j, "payload_bytes", PAYLOAD);
    bench_json_int(&j, "events_per_batch", EVENTS);
    bench_json_str(&j, "append_fsync", "interval 1000 ms, forced sync at the end");
    bench_json_int(&j, "append_bytes_per_round", (long long)(n_app * PAYLOAD));
    bench_json_num(&j, "append_mb_s", app_mb_med);
    bench_json_num(&j, "append_batches_s", app_bs_med);
    bench_json_num(&j, "append_events_s", app_bs_med * EVENTS);
    bench_json_num(&j, "append_raw_write_mb_s", raw_w_med);
    bench_json_num(&j, "append_ratio_to_raw", app_mb_med / raw_w_med);
    bench_json_array(&j, "append_mb_s_rounds", app_mb, APPEND_ROUNDS);
    bench_json_num(&j, "append_always_batches_s", always_bs);
    bench_json_int(&j, "replay_spool_bytes", (long long)(n_rep * (PAYLOAD + RP__SPOOL_HEADER_LEN)));
    bench_json_str(&j, "replay_size_note",
                   short_disk ? "disk short: 256 MiB instead of what was asked"
                              : "as asked (RP_BENCH_REPLAY_MB, default 1 GiB)");
    bench_json_num(&j, "replay_warm_mb_s", wm);
    bench_json_num(&j, "replay_warm_batches_s", wb);
    bench_json_num(&j, "replay_warm_events_s", wb * EVENTS);
    bench_json_num(&j, "replay_warm_raw_read_mb_s", wrm);
    bench_json_num(&j, "replay_warm_ratio_to_raw", wm / wrm);
    bench_json_num(&j, "replay_cold_mb_s", cm);
    bench_json_num(&j, "replay_cold_batches_s", cb);
    bench_json_num(&j, "replay_cold_events_s", cb * EVENTS);
    bench_json_num(&j, "replay_cold_raw_read_mb_s", crm);
    bench_json_num(&j, "replay_cold_ratio_to_raw", cm / crm);
    bench_json_num(&j, "replay_open_ms_warm", bench_median(open_w, REPLAY_ROUNDS));
    bench_json_num(&j, "replay_open_ms_cold", bench_median(open_c, REPLAY_ROUNDS));
    bench_json_array(&j, "replay_cold_mb_s_rounds", c_mb, REPLAY_ROUNDS);
    /* The baseline is measured here, in this run: the append rate of the
     * same batches under the agent's default fsync policy. */
    double ingest = app_bs_med * EVENTS;
    bench_json_num(&j, "ingest_events_s", ingest);
    bench_json_str(&j, "ingest_desc",
                   "measured in this run: append_events_s (the same batches appended under "
                   "fsync interval, the agent's default \"batch\"), the most the spool takes in");
    bench_json_num(&j, "replay_warm_vs_ingest", wb * EVENTS / ingest);
    bench_json_num(&j, "replay_cold_vs_ingest", cb * EVENTS / ingest);
    bench_json_num(&j, "goal_replay_vs_ingest", GOAL_REPLAY_VS_INGEST);
    bench_json_key(&j, "goal_replay_vs_ingest_met");
    bench_json_raw(&j, "%s", cb * EVENTS / ingest >= GOAL_REPLAY_VS_INGEST ? "true" : "false");
    return bench_json_finish(&j, argc > 1 ? argv[1] : NULL);
}
