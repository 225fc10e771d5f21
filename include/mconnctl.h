/* The commands mconnctl runs on its own side of the control socket. Each takes the
 * socket path and its words (argv[0] is the command's name) and returns the exit
 * status. */
#ifndef MCONN_MCONNCTL_H
#define MCONN_MCONNCTL_H

/* mconnctl check TARGET [-w SPEC] [-c SPEC]: a monitoring-plugins check. */
int check_main(const char *path, int argc, char **argv);

/* mconnctl top [-d SECONDS] [-b] [-n N]: the live view. */
int top_main(const char *path, int argc, char **argv);

#endif
