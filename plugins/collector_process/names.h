/*
 * names.h - user and group names by id, from /etc/passwd and /etc/group.
 *
 * Only the local files are read, never NSS: a lookup through LDAP or sssd
 * could block the agent's loop thread on the network. Ids that only a
 * directory service knows therefore get no name (the id is still reported).
 *
 * Cap: at most cap ids are cached (names and "no such id" alike); when the
 * cache is full it is emptied and refilled on demand. cp_names_check empties
 * it when the file changed (the housekeeping timer calls it).
 */
#ifndef RP_COLLECTOR_PROCESS_NAMES_H
#define RP_COLLECTOR_PROCESS_NAMES_H

#include <stdint.h>

typedef struct cp_names cp_names;

cp_names *cp_names_new(const char *path, uint32_t cap);
void cp_names_free(cp_names *n);
/* The name of id (borrowed until the next call), or NULL when unknown. */
const char *cp_names_get(cp_names *n, uint32_t id);
/* Empties the cache if the file changed since it was last read. */
void cp_names_check(cp_names *n);

#endif
