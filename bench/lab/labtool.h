// What the lab's C tools (xdpgen.c, xskfwd.c) share: their "--name value" arguments,
// CPU lists, and pinning the calling thread. Header-only; each tool is one file.
#pragma once
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/** The tool's name, for its messages (set first thing in main). */
static const char *tool = "lab tool";

/** The value after `name`, else `dflt`; a required one (dflt NULL) that is missing ends the tool. */
static const char *arg(int argc, char **argv, const char *name, const char *dflt) {
  for (int i = 1; i + 1 < argc; i++)
    if (strcmp(argv[i], name) == 0) return argv[i + 1];
  if (dflt == NULL) {
    fprintf(stderr, "%s: %s is required\n", tool, name);
    exit(2);
  }
  return dflt;
}

/** "0,1,3" into out[] (at most max); returns how many. An empty list gives none. */
static int cpu_list(const char *list, int *out, int max) {
  int n = 0;
  for (const char *c = list; *c && n < max;) {
    out[n++] = atoi(c);
    const char *comma = strchr(c, ',');
    c = comma ? comma + 1 : c + strlen(c);
  }
  return n;
}

/** Pins the calling thread to `cpu` (nothing for a negative one); 0 or an errno. */
static int pin_self(int cpu) {
  if (cpu < 0) return 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof set, &set) == 0 ? 0 : errno;
}
