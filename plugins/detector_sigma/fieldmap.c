/*
 * plugins/detector_sigma/fieldmap.c - the field table of fieldmap.h: the
 * built-in entries (static strings) followed by the ones config added
 * (copies), searched linearly. The table is read only while rules compile,
 * never per event, and holds at most DS_FIELDMAP_MAX entries.
 */
#define _GNU_SOURCE
#include "fieldmap.h"

#include "rule.h"

#include <rampart/plugin.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A log source of -1 is "*": every log source. */
#define DS_FM_ANY (-1)

struct ds_fm_entry {
    int ls;
    const char *sigma;
    const char *ecs;
    const struct ds_valuemap *values;
    bool owned; /* sigma and ecs are the table's copies */
};

struct ds_fieldmap {
    struct ds_fm_entry *e;
    size_t n;
};

/* Sigma's Initiated is "true" when this host opened the connection; ECS
 * writes that as network.direction "egress". */
static const struct ds_valuemap ds_initiated_values[] = {
    {"true", "egress"},
    {"false", "ingress"},
    {NULL, NULL},
};

/* The fields of SigmaHQ's Linux rules for the collected log sources, and
 * the Windows-only ones they share with generic rules. A field mapped to ""
 * exists in Sigma's taxonomy but nothing on Linux fills it (PE metadata,
 * Windows logon sessions and integrity levels), so a rule on it is reported
 * rather than loaded as silently dead. Sigma's Hashes holds "SHA256=...,
 * MD5=..." lists, a format no field of the agent has. */
static const struct ds_fm_entry ds_builtin[] = {
    {DS_FM_ANY, "Image", "process.executable", NULL, false},
    {DS_FM_ANY, "CommandLine", "process.command_line", NULL, false},
    {DS_FM_ANY, "ParentImage", "process.parent.executable", NULL, false},
    {DS_FM_ANY, "ParentCommandLine", "process.parent.command_line", NULL, false},
    {DS_FM_ANY, "User", "user.name", NULL, false},
    {DS_FM_ANY, "CurrentDirectory", "process.working_directory", NULL, false},
    {DS_FM_ANY, "ProcessId", "process.pid", NULL, false},
    {DS_FM_ANY, "ParentProcessId", "process.parent.pid", NULL, false},
    {DS_FM_ANY, "TargetFilename", "file.path", NULL, false},
    {DS_FM_ANY, "SourceFilename", "collector_file.original.path", NULL, false},
    {DS_FM_ANY, "DestinationIp", "destination.ip", NULL, false},
    {DS_FM_ANY, "DestinationPort", "destination.port", NULL, false},
    {DS_FM_ANY, "DestinationHostname", "destination.domain", NULL, false},
    {DS_FM_ANY, "SourceIp", "source.ip", NULL, false},
    {DS_FM_ANY, "SourcePort", "source.port", NULL, false},
    {DS_FM_ANY, "Protocol", "network.transport", NULL, false},
    {DS_FM_ANY, "Initiated", "network.direction", ds_initiated_values, false},
    {DS_FM_ANY, "LogonId", "", NULL, false},
    {DS_FM_ANY, "OriginalFileName", "", NULL, false},
    {DS_FM_ANY, "Product", "", NULL, false},
    {DS_FM_ANY, "Company", "", NULL, false},
    {DS_FM_ANY, "Description", "", NULL, false},
    {DS_FM_ANY, "FileVersion", "", NULL, false},
    {DS_FM_ANY, "IntegrityLevel", "", NULL, false},
    {DS_FM_ANY, "Hashes", "", NULL, false},
    {DS_FM_ANY, "ParentUser", "", NULL, false},
};

#define DS_BUILTIN_N (sizeof(ds_builtin) / sizeof(ds_builtin[0]))

int ds_fieldmap_create(struct ds_fieldmap **out)
{
    *out = NULL;
    struct ds_fieldmap *m = calloc(1, sizeof(*m));
    if (!m)
        return RP_ERR_NOMEM;
    /* Room for the cap at once: the table is small (1024 entries) and
     * growing it would only add failure paths. */
    m->e = calloc(DS_FIELDMAP_MAX, sizeof(*m->e));
    if (!m->e) {
        free(m);
        return RP_ERR_NOMEM;
    }
    memcpy(m->e, ds_builtin, sizeof(ds_builtin));
    m->n = DS_BUILTIN_N;
    *out = m;
    return 0;
}

static void ds_fm_free_entry(struct ds_fm_entry *e)
{
    if (e->owned) {
        free((char *)e->sigma);
        free((char *)e->ecs);
    }
}

void ds_fieldmap_destroy(struct ds_fieldmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        ds_fm_free_entry(&m->e[i]);
    free(m->e);
    free(m);
}

/* A Sigma name: letters, digits, '_', '-', '.'; an ECS name the same
 * (empty allowed: "no field"). */
static bool ds_fm_name_ok(const char *s, bool allow_empty)
{
    size_t n = strlen(s);
    if (n == 0)
        return allow_empty;
    if (n > DS_FIELDMAP_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

int ds_fieldmap_set(struct ds_fieldmap *m, const char *logsource, const char *sigma_name,
                    const char *ecs, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    int ls = DS_FM_ANY;
    if (!logsource || strcmp(logsource, "*") != 0) {
        ls = -2;
        for (int i = DS_LS_NONE + 1; logsource && i < DS_LS_COUNT; i++)
            if (strcmp(logsource, ds_logsource_name(i)) == 0)
                ls = i;
        if (ls == -2) {
            if (err)
                snprintf(err, errlen,
                         "field_map: log source '%.64s', expected \"*\" or a category collected "
                         "on Linux (process_creation, file_event, file_change, file_delete, "
                         "file_rename, network_connection)",
                         logsource ? logsource : "(null)");
            return RP_ERR_INVAL;
        }
    }
    if (!sigma_name || !ds_fm_name_ok(sigma_name, false)) {
        if (err)
            snprintf(err, errlen,
                     "field_map.%s: Sigma field name '%.64s', expected 1 to %u letters, digits, "
                     "'_', '-' or '.'",
                     logsource ? logsource : "*", sigma_name ? sigma_name : "(null)",
                     DS_FIELDMAP_NAME_MAX);
        return RP_ERR_INVAL;
    }
    if (!ecs || !ds_fm_name_ok(ecs, true)) {
        if (err)
            snprintf(err, errlen,
                     "field_map.%s.%s: ECS field name '%.64s', expected \"\" or up to %u "
                     "letters, digits, '_', '-' or '.'",
                     logsource ? logsource : "*", sigma_name, ecs ? ecs : "(null)",
                     DS_FIELDMAP_NAME_MAX);
        return RP_ERR_INVAL;
    }
    struct ds_fm_entry *slot = NULL;
    for (size_t i = 0; i < m->n; i++)
        if (m->e[i].ls == ls && strcasecmp(m->e[i].sigma, sigma_name) == 0)
            slot = &m->e[i];
    if (!slot) {
        if (m->n >= DS_FIELDMAP_MAX) {
            if (err)
                snprintf(err, errlen, "field_map: more than %u entries", DS_FIELDMAP_MAX);
            return RP_ERR_RANGE;
        }
        slot = &m->e[m->n];
    }
    char *s = strdup(sigma_name), *e = strdup(ecs);
    if (!s || !e) {
        free(s);
        free(e);
        return RP_ERR_NOMEM;
    }
    bool added = slot == &m->e[m->n];
    if (!added)
        ds_fm_free_entry(slot);
    /* A replaced entry keeps no value map: config gives names only, and the
     * built-in map's values belong to the built-in name. */
    *slot = (struct ds_fm_entry){.ls = ls, .sigma = s, .ecs = e, .values = NULL, .owned = true};
    if (added)
        m->n++;
    return 0;
}

static const struct ds_fm_entry *ds_fm_find(const struct ds_fieldmap *m, int ls, const char *sigma,
                                            size_t len)
{
    for (size_t i = 0; i < m->n; i++) {
        const struct ds_fm_entry *e = &m->e[i];
        if (e->ls == ls && strlen(e->sigma) == len && strncasecmp(e->sigma, sigma, len) == 0)
            return e;
    }
    return NULL;
}

const char *ds_fieldmap_get(const struct ds_fieldmap *m, int ls, const char *sigma, size_t len,
                            const struct ds_valuemap **values)
{
    if (values)
        *values = NULL;
    const struct ds_fm_entry *e = NULL;
    if (ls > DS_LS_NONE && ls < DS_LS_COUNT)
        e = ds_fm_find(m, ls, sigma, len);
    if (!e)
        e = ds_fm_find(m, DS_FM_ANY, sigma, len);
    if (e) {
        if (values)
            *values = e->values;
        return e->ecs;
    }
    /* An ECS name as written: the caller's own bytes (len of them, not
     * necessarily NUL-terminated). */
    if (memchr(sigma, '.', len))
        return sigma;
    return NULL;
}
