// SPDX-License-Identifier: GPL-2.0-only
/*
 * Replay fuzz_api_seq inputs without libFuzzer: each file named on the
 * command line (or each file in a directory named there, in name order)
 * runs through the same decoder (api_seq.c) in a child process, one TAP
 * result per input.  The regression suite runs fuzz/regressions/ and the
 * seed corpus with it; KVMMU_FUZZ_INJECT=name switches mutants on, as for
 * the fuzzer.
 *
 * Usage: replay_api_seq [-v] FILE|DIR...
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api_seq.h"

#define REPLAY_MAX_INPUT (1 << 20)
#define MAX_FILES 4096

static int nr_tests, nr_failed;

static int read_file(const char *path, uint8_t **data, size_t *size)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return -errno;
	*data = malloc(REPLAY_MAX_INPUT);
	if (!*data) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(*data, 1, REPLAY_MAX_INPUT, f);
	fclose(f);
	*size = n;
	return 0;
}

static void replay(const char *path)
{
	uint8_t *data = NULL;
	size_t size = 0;
	int status, r;
	pid_t pid;

	r = read_file(path, &data, &size);
	nr_tests++;
	if (r) {
		printf("not ok %d - %s: %s\n", nr_tests, path, strerror(-r));
		nr_failed++;
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		api_seq_run(data, size);
		_exit(0);
	}
	free(data);
	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		printf("not ok %d - %s: no child\n", nr_tests, path);
		nr_failed++;
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		printf("ok %d - %s\n", nr_tests, path);
	} else {
		printf("not ok %d - %s: %s %d\n", nr_tests, path,
		       WIFSIGNALED(status) ? "signal" : "exit status",
		       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		nr_failed++;
	}
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void replay_dir(const char *dir, DIR *d)
{
	static char *names[MAX_FILES];
	struct dirent *e;
	int n = 0, i;

	while ((e = readdir(d)) && n < MAX_FILES) {
		char path[4096];

		/* Dot files (a README kept as .README, say) are not inputs. */
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		names[n] = strdup(path);
		if (names[n])
			n++;
	}
	qsort(names, n, sizeof(names[0]), cmp_names);
	for (i = 0; i < n; i++) {
		replay(names[i]);
		free(names[i]);
	}
}

int main(int argc, char **argv)
{
	const char *inject = getenv("KVMMU_FUZZ_INJECT");
	int i;

	if (inject && api_seq_set_inject(inject)) {
		fprintf(stderr, "replay_api_seq: KVMMU_FUZZ_INJECT: unknown mutant in '%s'\n",
			inject);
		return 2;
	}
	for (i = 1; i < argc; i++) {
		DIR *d;

		if (!strcmp(argv[i], "-v")) {
			api_seq_set_verbose(1);
			continue;
		}
		d = opendir(argv[i]);
		if (d) {
			replay_dir(argv[i], d);
			closedir(d);
		} else {
			replay(argv[i]);
		}
	}
	printf("1..%d\n", nr_tests);
	return nr_failed ? 1 : 0;
}
