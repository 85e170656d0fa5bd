/*
 * tests/abi/host_runtime.h - what the agent does around the plugin host
 * (core/agent.c): it makes the bus and the loop and hands them to the host,
 * starts the workers, the loop and the bus before the plugins, and stops
 * them after. Include after <cmocka.h>: failures are test failures.
 */
#ifndef RP_TEST_HOST_RUNTIME_H
#define RP_TEST_HOST_RUNTIME_H

#include "agent.h"
#include "runtime/bus.h"
#include "runtime/host.h"
#include "runtime/loop.h"
#include "runtime/workers.h"

#include <string.h>

#include "../unit/testutil.h"

struct host_runtime {
    rp__bus *bus;
    rp__loop *loop;
    rp__workers *workers;
    rp__host *host;
};

/* The host over a new bus and loop, from cfg as the agent makes it
 * (load_only: the host alone, as rampartd --check-config makes it). */
static inline void host_runtime_create(struct host_runtime *rt, const rp__config *cfg,
                                       int load_only)
{
    memset(rt, 0, sizeof *rt);
    rp__host_opts ho;
    rp__agent_host_opts(cfg, &ho);
    ho.load_only = load_only;
    if (!load_only) {
        rp__bus_opts bo;
        rp__bus_opts_init(&bo);
        bo.max_bytes = cfg->bus_max_bytes;
        assert_int_equal(rp__bus_create(&bo, &rt->bus), 0);
        assert_int_equal(rp__loop_create(NULL, &rt->loop), 0);
        ho.bus = rt->bus;
        ho.loop = rt->loop;
    }
    assert_int_equal(rp__host_create(&ho, &rt->host), 0);
}

static inline int host_runtime_start(struct host_runtime *rt)
{
    rp__workers_opts wo = {.hooks = rp__host_hooks()};
    assert_int_equal(rp__workers_create(&wo, rt->loop, &rt->workers), 0);
    assert_int_equal(rp__loop_start(rt->loop), 0);
    assert_int_equal(rp__bus_start(rt->bus), 0);
    return rp__host_start(rt->host, rt->workers);
}

static inline void host_runtime_stop(struct host_runtime *rt)
{
    rp__host_stop(rt->host);
    rp__workers_destroy(rt->workers);
    rt->workers = NULL;
    rp__bus_stop(rt->bus);
    rp__loop_stop(rt->loop);
}

static inline void host_runtime_destroy(struct host_runtime *rt)
{
    host_runtime_stop(rt);
    rp__host_destroy(rt->host);
    rp__bus_destroy(rt->bus);
    rp__loop_destroy(rt->loop);
    memset(rt, 0, sizeof *rt);
}

/* A new folder under /tmp for one test's agent data (agent_id, the plugins'
 * private folders, ...), named after tag: 0, or -1 as cmocka's setup wants. */
static inline int host_runtime_tmpdir(char *dir, size_t len, const char *tag)
{
    snprintf(dir, len, "/tmp/rp-%s-XXXXXX", tag);
    return mkdtemp(dir) ? 0 : -1;
}

/* Removes that folder and everything the test and the host left in it. */
static inline int host_runtime_tmpdir_remove(const char *dir)
{
    tu_rm_rf(dir);
    return 0;
}
#endif
