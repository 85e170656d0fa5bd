/* core/exitcodes.h - process exit statuses, following sysexits(3) so that
 * init systems and scripts can tell a bad config from a crash. */
#ifndef RP_CORE_EXITCODES_H
#define RP_CORE_EXITCODES_H

#define RP_EX_OK          0
#define RP_EX_USAGE       64 /* bad command line */
#define RP_EX_UNAVAILABLE 69 /* a needed service or resource is not there */
#define RP_EX_SOFTWARE    70 /* internal error */
#define RP_EX_OSERR       71 /* the OS refused something it should not */
#define RP_EX_CANTCREAT   73 /* cannot create an output file or folder */
#define RP_EX_TEMPFAIL    75 /* try again later (an answer did not come in time) */
#define RP_EX_NOPERM      77 /* permission denied */
#define RP_EX_CONFIG      78 /* invalid configuration */

#endif
