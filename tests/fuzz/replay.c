/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* Runs a fuzz target once on each input named, or on each file of each
 * directory named (a corpus), without libFuzzer: how every build (gcc,
 * the sanitizers') replays the committed corpus as a regression test.
 * Exits 0, or stops at the first input that fails as the target does
 * (abort, a sanitizer report). */
#include "fuzz.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); return 1; }
  uint8_t *buf = NULL;
  size_t n = 0, cap = 0;
  for (;;) {
    if (n == cap && !(buf = realloc(buf, cap = cap ? 2 * cap : 65536))) abort();
    size_t k = fread(buf + n, 1, cap - n, f);
    if (!k) break;
    n += k;
  }
  fclose(f);
  fprintf(stderr, "replay %s (%zu bytes)\n", path, n);
  LLVMFuzzerTestOneInput(buf, n);
  free(buf);
  return 0;
}

static int cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
  int runs = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st)) { perror(argv[i]); return 1; }
    if (!S_ISDIR(st.st_mode)) {
      if (run_file(argv[i])) return 1;
      runs++;
      continue;
    }
    DIR *d = opendir(argv[i]);
    if (!d) { perror(argv[i]); return 1; }
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
      if (e->d_name[0] == '.') continue;
      if (!(names = realloc(names, (n + 1) * sizeof *names))) abort();
      size_t len = strlen(argv[i]) + strlen(e->d_name) + 2;
      if (!(names[n] = malloc(len))) abort();
      snprintf(names[n++], len, "%s/%s", argv[i], e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp);
    for (size_t k = 0; k < n; k++) {
      if (run_file(names[k])) return 1;
      runs++;
      free(names[k]);
    }
    free(names);
  }
  if (!runs) { fprintf(stderr, "replay: no input\n"); return 1; }
  fprintf(stderr, "replay: %d inputs, all passed\n", runs);
  return 0;
}
