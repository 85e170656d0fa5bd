/*
 * core/output/format_ndjson.c - output.format "ndjson": the native lines as they are, any 2xx is
 * delivery.
 */
#include "output/format_backend.h"

const rp__format_ops rp__format_ndjson_ops = {
    .name = "ndjson",
    .content_type = "application/x-ndjson",
    .passthrough = 1,
    .parse = rp__fmt_text_response,
};
