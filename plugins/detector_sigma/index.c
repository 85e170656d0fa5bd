/*
 * plugins/detector_sigma/index.c - the rule index (engine.h). Not built
 * yet: every rule of the bucket is evaluated, which gives the same results.
 */
#include "engine_int.h"

int ds_index_build(struct ds_engine *eng, struct ds_index **out)
{
    (void)eng;
    *out = NULL;
    return 0;
}

void ds_index_destroy(struct ds_index *ix)
{
    (void)ix;
}

size_t ds_index_memory(const struct ds_index *ix)
{
    (void)ix;
    return 0;
}

int ds_index_eval(struct ds_engine *eng, struct ds_index *ix, int b,
                  int (*fn)(struct ds_engine *eng, uint32_t rule, void *ctx), void *ctx)
{
    (void)ix;
    for (uint32_t i = 0; i < eng->n_bucket[b]; i++) {
        int rc = fn(eng, eng->bucket[b][i], ctx);
        if (rc)
            return rc;
    }
    return 0;
}
