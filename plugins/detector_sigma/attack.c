/*
 * plugins/detector_sigma/attack.c - ATT&CK ids from Sigma tags (attack.h).
 */
#include "attack.h"

#include <string.h>

/* The Enterprise tactics in the matrix's order (ATT&CK v15). */
static const struct ds_tactic tactics[DS_TACTIC_COUNT] = {
    {"reconnaissance", "TA0043", "Reconnaissance"},
    {"resource-development", "TA0042", "Resource Development"},
    {"initial-access", "TA0001", "Initial Access"},
    {"execution", "TA0002", "Execution"},
    {"persistence", "TA0003", "Persistence"},
    {"privilege-escalation", "TA0004", "Privilege Escalation"},
    {"defense-evasion", "TA0005", "Defense Evasion"},
    {"credential-access", "TA0006", "Credential Access"},
    {"discovery", "TA0007", "Discovery"},
    {"lateral-movement", "TA0008", "Lateral Movement"},
    {"collection", "TA0009", "Collection"},
    {"command-and-control", "TA0011", "Command and Control"},
    {"exfiltration", "TA0010", "Exfiltration"},
    {"impact", "TA0040", "Impact"},
};

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* The part after "attack." (any case), or NULL. */
static const char *after_prefix(const char *tag)
{
    static const char prefix[] = "attack.";
    if (!tag)
        return NULL;
    for (size_t i = 0; i < sizeof prefix - 1; i++)
        if (lower(tag[i]) != prefix[i])
            return NULL;
    return tag + sizeof prefix - 1;
}

const struct ds_tactic *ds_attack_tactic(const char *tag)
{
    const char *s = after_prefix(tag);
    if (!s)
        return NULL;
    for (size_t i = 0; i < DS_TACTIC_COUNT; i++) {
        const char *t = tactics[i].tag;
        size_t j = 0;
        /* An underscore stands for the hyphen (Sigma 1.x spelling). */
        while (t[j] && s[j] && (lower(s[j]) == t[j] || (s[j] == '_' && t[j] == '-')))
            j++;
        if (!t[j] && !s[j])
            return &tactics[i];
    }
    return NULL;
}

const struct ds_tactic *ds_attack_tactic_at(size_t i)
{
    return i < DS_TACTIC_COUNT ? &tactics[i] : NULL;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int ds_attack_technique(const char *tag, char *buf, size_t buflen)
{
    const char *s = after_prefix(tag);
    /* T, four digits, and optionally a dot and three digits. */
    if (!s || lower(s[0]) != 't' || buflen < 10)
        return 0;
    for (int i = 1; i <= 4; i++)
        if (!is_digit(s[i]))
            return 0;
    size_t n = 5;
    if (s[5] == '.') {
        for (int i = 6; i <= 8; i++)
            if (!is_digit(s[i]))
                return 0;
        n = 9;
    }
    if (s[n] != '\0')
        return 0;
    buf[0] = 'T';
    memcpy(buf + 1, s + 1, n - 1);
    buf[n] = '\0';
    return 1;
}
