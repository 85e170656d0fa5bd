/*
 * plugins/detector_sigma/cond.c - the condition parser of cond.h: a
 * tokenizer and a recursive descent parser, one function per grammar rule.
 */
#include "cond.h"

#include <rampart/plugin.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum ds_tok { DS_TOK_END, DS_TOK_LPAREN, DS_TOK_RPAREN, DS_TOK_WORD, DS_TOK_BAD };

struct ds_cp {
    const char *text;
    size_t len;
    size_t pos; /* where the next token starts (after blanks) */
    const char *const *names;
    size_t n_names;
    struct ds_arena *arena;
    struct ds_cond_error *err;
    unsigned depth;
    unsigned nodes;
    int failed; /* RP_ERR_* once an error is recorded */
    /* The current token. */
    enum ds_tok tok;
    size_t tok_pos;
    size_t tok_len;
};

static int ds_is_word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '*' || c == '-' || c == '.';
}

__attribute__((format(printf, 3, 4))) static int ds_fail(struct ds_cp *p, size_t pos,
                                                         const char *fmt, ...)
{
    if (p->failed)
        return p->failed;
    p->failed = RP_ERR_PARSE;
    p->err->pos = pos;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
    va_end(ap);
    return p->failed;
}

static void ds_next(struct ds_cp *p)
{
    size_t i = p->tok_pos + p->tok_len;
    while (i < p->len &&
           (p->text[i] == ' ' || p->text[i] == '\t' || p->text[i] == '\n' || p->text[i] == '\r'))
        i++;
    p->tok_pos = i;
    p->tok_len = 0;
    if (i >= p->len) {
        p->tok = DS_TOK_END;
        return;
    }
    char c = p->text[i];
    if (c == '(' || c == ')') {
        p->tok = c == '(' ? DS_TOK_LPAREN : DS_TOK_RPAREN;
        p->tok_len = 1;
        return;
    }
    if (ds_is_word_char(c)) {
        size_t j = i;
        while (j < p->len && ds_is_word_char(p->text[j]))
            j++;
        p->tok = DS_TOK_WORD;
        p->tok_len = j - i;
        return;
    }
    p->tok = DS_TOK_BAD;
    p->tok_len = 1;
}

static int ds_tok_is(const struct ds_cp *p, const char *word)
{
    size_t n = strlen(word);
    return p->tok == DS_TOK_WORD && p->tok_len == n && memcmp(p->text + p->tok_pos, word, n) == 0;
}

/* What the current token is, for messages: "'foo'" or "the end". */
static void ds_tok_desc(const struct ds_cp *p, char *buf, size_t size)
{
    if (p->tok == DS_TOK_END) {
        snprintf(buf, size, "the end of the condition");
        return;
    }
    int n = p->tok_len > 40 ? 40 : (int)p->tok_len;
    snprintf(buf, size, "'%.*s%s'", n, p->text + p->tok_pos, p->tok_len > 40 ? "..." : "");
}

static int ds_unexpected(struct ds_cp *p, const char *expected)
{
    char what[64];
    if (p->tok == DS_TOK_BAD && p->text[p->tok_pos] == '|')
        return ds_fail(p, p->tok_pos,
                       "'|' starts an aggregation (Sigma 1.x count() and the like), which this "
                       "engine does not run; expected %s (write a correlation rule instead)",
                       expected);
    ds_tok_desc(p, what, sizeof(what));
    return ds_fail(p, p->tok_pos, "found %s, expected %s", what, expected);
}

static struct ds_cond_node *ds_node(struct ds_cp *p, enum ds_cond_op op, size_t pos)
{
    if (p->nodes >= DS_COND_MAX_NODES) {
        ds_fail(p, pos, "the condition makes more than %u nodes", DS_COND_MAX_NODES);
        return NULL;
    }
    struct ds_cond_node *n = ds_arena_alloc(p->arena, sizeof(*n));
    if (!n) {
        if (!p->failed)
            p->failed = RP_ERR_NOMEM;
        return NULL;
    }
    p->nodes++;
    n->op = op;
    n->pos = (uint32_t)pos;
    return n;
}

/* '*' matches any run of characters, every other character itself. */
static int ds_glob(const char *pat, size_t plen, const char *s)
{
    size_t pi = 0, si = 0, star = (size_t)-1, mark = 0;
    size_t slen = strlen(s);
    while (si < slen) {
        if (pi < plen && pat[pi] == '*') {
            star = pi++;
            mark = si;
        } else if (pi < plen && pat[pi] == s[si]) {
            pi++;
            si++;
        } else if (star != (size_t)-1) {
            pi = star + 1;
            si = ++mark;
        } else {
            return 0;
        }
    }
    while (pi < plen && pat[pi] == '*')
        pi++;
    return pi == plen;
}

static struct ds_cond_node *ds_parse_or(struct ds_cp *p);

/* QUANT "of" (PATTERN | "them"); the current token is "of". */
static struct ds_cond_node *ds_parse_quant(struct ds_cp *p, int all, size_t pos)
{
    ds_next(p); /* past "of" */
    if (p->tok != DS_TOK_WORD) {
        ds_unexpected(p, "a selection name pattern or 'them' after 'of'");
        return NULL;
    }
    const char *pat = p->text + p->tok_pos;
    size_t plen = p->tok_len;
    int them = ds_tok_is(p, "them");
    size_t pat_pos = p->tok_pos;
    struct ds_cond_node *n = ds_node(p, all ? DS_COND_ALL_OF : DS_COND_ONE_OF, pos);
    if (!n)
        return NULL;
    uint32_t count = 0;
    for (size_t i = 0; i < p->n_names; i++)
        if (them ? p->names[i][0] != '_' : ds_glob(pat, plen, p->names[i]))
            count++;
    if (count == 0) {
        int shown = plen > 60 ? 60 : (int)plen;
        ds_fail(p, pat_pos,
                them ? "'them' names no selection (every name begins with '_')"
                     : "'%.*s' matches no selection of the detection",
                shown, pat);
        return NULL;
    }
    n->sels = ds_arena_alloc(p->arena, count * sizeof(*n->sels));
    if (!n->sels) {
        p->failed = RP_ERR_NOMEM;
        return NULL;
    }
    for (size_t i = 0; i < p->n_names; i++)
        if (them ? p->names[i][0] != '_' : ds_glob(pat, plen, p->names[i]))
            n->sels[n->n++] = (uint32_t)i;
    ds_next(p);
    return n;
}

static struct ds_cond_node *ds_parse_primary(struct ds_cp *p)
{
    size_t pos = p->tok_pos;
    if (p->tok == DS_TOK_LPAREN) {
        if (++p->depth > DS_COND_MAX_DEPTH) {
            ds_fail(p, pos, "the condition nests deeper than %u levels", DS_COND_MAX_DEPTH);
            return NULL;
        }
        ds_next(p);
        struct ds_cond_node *inner = ds_parse_or(p);
        if (!inner)
            return NULL;
        if (p->tok != DS_TOK_RPAREN) {
            ds_unexpected(p, "')' to close the '(' at this position");
            if (p->err->msg[0] && p->failed == RP_ERR_PARSE) {
                char tail[64];
                snprintf(tail, sizeof(tail), " (opened at character %zu)", pos + 1);
                size_t used = strlen(p->err->msg);
                snprintf(p->err->msg + used, sizeof(p->err->msg) - used, "%s", tail);
            }
            return NULL;
        }
        p->depth--;
        ds_next(p);
        return inner;
    }
    if (p->tok != DS_TOK_WORD) {
        ds_unexpected(p, "a selection name, 'not', '(', '1 of', 'any of' or 'all of'");
        return NULL;
    }
    if (ds_tok_is(p, "1") || ds_tok_is(p, "any") || ds_tok_is(p, "all")) {
        int all = ds_tok_is(p, "all");
        size_t save_pos = p->tok_pos, save_len = p->tok_len;
        ds_next(p);
        if (ds_tok_is(p, "of"))
            return ds_parse_quant(p, all, pos);
        /* Not a quantifier: the word was a selection name; step back. */
        p->tok = DS_TOK_WORD;
        p->tok_pos = save_pos;
        p->tok_len = save_len;
    }
    static const char *const reserved[] = {"and", "or", "not", "of", "them"};
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (ds_tok_is(p, reserved[i])) {
            ds_unexpected(p, "a selection name, 'not', '(', '1 of', 'any of' or 'all of'");
            return NULL;
        }
    const char *name = p->text + p->tok_pos;
    size_t nlen = p->tok_len;
    int shown = nlen > 60 ? 60 : (int)nlen;
    if (memchr(name, '*', nlen)) {
        ds_fail(p, pos, "'%.*s' has a wildcard: patterns only after '1 of', 'any of' or 'all of'",
                shown, name);
        return NULL;
    }
    for (size_t i = 0; i < p->n_names; i++)
        if (strlen(p->names[i]) == nlen && memcmp(p->names[i], name, nlen) == 0) {
            struct ds_cond_node *n = ds_node(p, DS_COND_SEL, pos);
            if (!n)
                return NULL;
            n->sel = (uint32_t)i;
            ds_next(p);
            return n;
        }
    ds_fail(p, pos, "'%.*s' is not a selection of the detection", shown, name);
    return NULL;
}

static struct ds_cond_node *ds_parse_not(struct ds_cp *p)
{
    if (!ds_tok_is(p, "not"))
        return ds_parse_primary(p);
    size_t pos = p->tok_pos;
    if (++p->depth > DS_COND_MAX_DEPTH) {
        ds_fail(p, pos, "the condition nests deeper than %u levels", DS_COND_MAX_DEPTH);
        return NULL;
    }
    ds_next(p);
    struct ds_cond_node *kid = ds_parse_not(p);
    if (!kid)
        return NULL;
    p->depth--;
    struct ds_cond_node *n = ds_node(p, DS_COND_NOT, pos);
    if (!n)
        return NULL;
    n->kids = ds_arena_alloc(p->arena, sizeof(*n->kids));
    if (!n->kids) {
        p->failed = RP_ERR_NOMEM;
        return NULL;
    }
    n->kids[0] = kid;
    n->n = 1;
    return n;
}

/* One level of a left-associative n-ary operator: and over not, or over and. */
static struct ds_cond_node *ds_parse_nary(struct ds_cp *p, int is_or)
{
    size_t pos = p->tok_pos;
    const char *word = is_or ? "or" : "and";
    struct ds_cond_node *first = is_or ? ds_parse_nary(p, 0) : ds_parse_not(p);
    if (!first || !ds_tok_is(p, word))
        return first;
    /* Operands are gathered in a list first: the count is not known yet. */
    struct item {
        struct ds_cond_node *node;
        struct item *next;
    };
    struct item head = {first, NULL}, *tail = &head;
    uint32_t count = 1;
    while (ds_tok_is(p, word)) {
        ds_next(p);
        struct ds_cond_node *kid = is_or ? ds_parse_nary(p, 0) : ds_parse_not(p);
        if (!kid)
            return NULL;
        struct item *it = ds_arena_alloc(p->arena, sizeof(*it));
        if (!it) {
            p->failed = RP_ERR_NOMEM;
            return NULL;
        }
        it->node = kid;
        tail->next = it;
        tail = it;
        count++;
    }
    struct ds_cond_node *n = ds_node(p, is_or ? DS_COND_OR : DS_COND_AND, pos);
    if (!n)
        return NULL;
    n->kids = ds_arena_alloc(p->arena, count * sizeof(*n->kids));
    if (!n->kids) {
        p->failed = RP_ERR_NOMEM;
        return NULL;
    }
    for (struct item *it = &head; it; it = it->next)
        n->kids[n->n++] = it->node;
    return n;
}

static struct ds_cond_node *ds_parse_or(struct ds_cp *p)
{
    return ds_parse_nary(p, 1);
}

int ds_cond_parse(const char *text, size_t len, const char *const *names, size_t n_names,
                  struct ds_arena *arena, struct ds_cond_node **out, struct ds_cond_error *err)
{
    struct ds_cp p = {
        .text = text, .len = len, .names = names, .n_names = n_names, .arena = arena, .err = err};
    *out = NULL;
    err->pos = 0;
    err->msg[0] = '\0';
    if (len > DS_COND_MAX_LEN)
        return ds_fail(&p, DS_COND_MAX_LEN, "the condition is longer than %u bytes",
                       DS_COND_MAX_LEN);
    if (memchr(text, '\0', len))
        return ds_fail(&p, (size_t)((const char *)memchr(text, '\0', len) - text),
                       "found a NUL byte, expected text");
    ds_next(&p);
    if (p.tok == DS_TOK_END)
        return ds_fail(&p, 0, "the condition is empty, expected an expression over selections");
    struct ds_cond_node *root = ds_parse_or(&p);
    if (!root)
        return p.failed ? p.failed : RP_ERR_PARSE;
    if (p.tok != DS_TOK_END) {
        if (p.tok == DS_TOK_RPAREN)
            return ds_fail(&p, p.tok_pos, "found ')' that closes no '('");
        return ds_unexpected(&p, "'and', 'or' or the end of the condition");
    }
    *out = root;
    return 0;
}
