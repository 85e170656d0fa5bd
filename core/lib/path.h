/* core/lib/path.h - path helpers shared by the config and the loader. */
#ifndef RP_CORE_PATH_H
#define RP_CORE_PATH_H

/*
 * Joins base (absolute, without symlinks) and path and folds "." and ".."
 * lexically, which is exact because base has no symlinks. An absolute path is
 * returned unchanged. Result from malloc (caller frees); NULL when out of
 * memory.
 */
char *rp__path_resolve(const char *base, const char *path);

/* The folder part of path as the user wrote it, with the trailing '/':
 * "config/rampart.json" gives "config/", "rampart.json" gives "". From malloc. */
char *rp__path_dir_prefix(const char *path);

/* The folder of path for opening it: "config/rampart.json" gives "config",
 * "rampart.json" gives ".". From malloc. */
char *rp__path_dirname(const char *path);

#endif
