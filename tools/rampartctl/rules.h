/*
 * tools/rampartctl/rules.h - `rampartctl rules check` and `rampartctl rules
 * test`: Sigma rule tooling that runs the detector's own engine
 * (plugins/detector_sigma, linked as the static library rp_sigma) without a
 * running agent, so that what it says is what the agent would do.
 * docs/control.md ("rampartctl rules") describes the commands, their
 * output and exit codes.
 */
#ifndef RP_TOOLS_RAMPARTCTL_RULES_H
#define RP_TOOLS_RAMPARTCTL_RULES_H

/* Exit codes of `rules`, as linters and grep have them: 0 all is well, 1
 * something the user should look at was found, 2 the command could not do
 * its work (bad command line, an unreadable events file or configuration). */
#define RP__CTL_RULES_OK     0
#define RP__CTL_RULES_FAILED 1
#define RP__CTL_RULES_USAGE  2

/* argv[0] is "rules", argv[1] the subcommand. config_file and site are the
 * global --config / --site (config_given: --config was on the command line,
 * so a configuration that does not load is an error rather than a note). */
int rp__ctl_rules(int argc, char **argv, const char *config_file, int config_given,
                  const char *site);

#endif
