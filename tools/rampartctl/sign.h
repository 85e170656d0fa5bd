/* tools/rampartctl/sign.h - `rampartctl sign` and `rampartctl verify`
 * (sign.c). argv[0] is the command's name; the functions return the exit
 * status sign.c's usage text lists. */
#ifndef RP_RAMPARTCTL_SIGN_H
#define RP_RAMPARTCTL_SIGN_H

int rp__ctl_sign(int argc, char **argv);
/* Without --key, the keys are the configuration's agent.trusted_keys. */
int rp__ctl_verify(int argc, char **argv, const char *config_file, const char *site);

#endif
