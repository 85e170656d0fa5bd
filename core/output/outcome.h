/*
 * core/output/outcome.h - what an upload attempt means for a batch, or, in
 * a per-line answer, for one of its lines: one vocabulary for the retry
 * policy (core/output/retry.h, which judges the HTTP status) and the output
 * formats (core/output/output_format.h, which read what a backend's answer
 * body says beyond the status), so the uploader acts on either without
 * translating. docs/uploader.md has the rules.
 */
#ifndef RP_CORE_OUTCOME_H
#define RP_CORE_OUTCOME_H

enum rp__outcome {
    RP__OUTCOME_STATUS = 0,  /* undecided: the answer's body adds nothing to its
                                status; apply rp__retry_decide (formats only) */
    RP__OUTCOME_DELIVERED,   /* the backend has it: delete it from the spool */
    RP__OUTCOME_RETRY,       /* keep it; send it again after rp__retry_wait_ms */
    RP__OUTCOME_SPLIT,       /* 413: send each half as its own batch (retry policy only) */
    RP__OUTCOME_DEAD_LETTER, /* never resend: to the dead-letter folder, alert */
    RP__OUTCOME_PARTIAL,     /* per line: see rp__format_result.line_verdicts
                                (formats only) */
};

/* "status", "delivered", "retry", "split", "dead-letter", "partial"
 * (static strings; "unknown" out of range). */
const char *rp__outcome_name(enum rp__outcome o);

#endif
