// SPDX-License-Identifier: GPL-2.0-only
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bug.h"
#include "test.h"

static unsigned long warn_base, warn_expected;

enum test_scale test_scale(void)
{
	const char *s = getenv("KVMMU_SCALE");

	if (s && !strcmp(s, "reduced"))
		return SCALE_REDUCED;
	if (s && !strcmp(s, "full"))
		return SCALE_FULL;
	return SCALE_CI;
}

int kvmmu_test_setup(void **state)
{
	(void)state;
	warn_base = kvmmu_warn_count();
	warn_expected = 0;
	return 0;
}

int kvmmu_test_teardown(void **state)
{
	unsigned long got = kvmmu_warn_count() - warn_base;

	(void)state;
	if (got != warn_expected) {
		print_error("%lu warning(s) fired, %lu expected\n", got,
			    warn_expected);
		return -1;
	}
	return 0;
}

void expect_warns(unsigned long n)
{
	warn_expected += n;
}

/*
 * Run one test with cmocka's TAP output captured in a temporary file, and
 * return its result line ("ok 1 - name", "not ok 1 ...", or one with a
 * "# SKIP" directive) with the diagnostics that preceded it.
 */
static int run_one(const char *name, const struct CMUnitTest *test,
		   char *out, size_t len)
{
	FILE *tmp = tmpfile();
	int saved, failed;
	size_t got;

	if (!tmp)
		abort();
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	dup2(fileno(tmp), STDOUT_FILENO);
	cmocka_set_message_output(CM_OUTPUT_TAP);
	failed = _cmocka_run_group_tests(name, test, 1, NULL, NULL);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	rewind(tmp);
	got = fread(out, 1, len - 1, tmp);
	out[got] = '\0';
	fclose(tmp);
	return failed;
}

/*
 * cmocka's TAP says "not ok N # SKIP" for a skipped test, which TAP
 * consumers (meson among them) read as a failure; and each group restarts
 * its numbering.  So each test runs alone and the harness prints the TAP:
 * "ok N - name # SKIP" for a skip, as the TAP specification writes it.
 */
int _kvmmu_run_tests(const char *name, const struct CMUnitTest *tests, size_t n)
{
	static char out[1 << 16];
	size_t i;
	int failed = 0;

	printf("1..%zu\n", n);
	for (i = 0; i < n; i++) {
		int f = run_one(name, &tests[i], out, sizeof(out));
		char *line, *save = NULL;
		bool skipped = false, ok = false;

		for (line = strtok_r(out, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			if (!strncmp(line, "ok ", 3)) {
				ok = true;
			} else if (!strncmp(line, "not ok ", 7)) {
				skipped = strstr(line, "# SKIP") != NULL;
			} else if (line[0] != '1' && strncmp(line, "# ok - ", 7) &&
				   strncmp(line, "# not ok - ", 11)) {
				/* Diagnostics: keep them, as TAP comments. */
				printf("%s%s\n", line[0] == '#' ? "" : "# ", line);
			}
		}
		if (skipped)
			printf("ok %zu - %s # SKIP\n", i + 1, tests[i].name);
		else if (ok && !f)
			printf("ok %zu - %s\n", i + 1, tests[i].name);
		else
			printf("not ok %zu - %s\n", i + 1, tests[i].name);
		failed += !skipped && (!ok || f);
		fflush(stdout);
	}
	return failed;
}

void run_in_child(void (*fn)(void *arg), void *arg, struct child_result *res)
{
	int fds[2], wstatus;
	size_t len = 0;
	ssize_t r;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	if (pipe(fds))
		abort();
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], STDOUT_FILENO);
		dup2(fds[1], STDERR_FILENO);
		fn(arg);
		_exit(0);
	}
	close(fds[1]);
	for (;;) {
		char scratch[512];
		size_t room = sizeof(res->output) - 1 - len;

		/* Keep draining once full, so the child never blocks on the pipe. */
		r = room ? read(fds[0], res->output + len, room) :
			   read(fds[0], scratch, sizeof(scratch));
		if (r <= 0)
			break;
		if (room)
			len += (size_t)r;
	}
	res->output[len] = '\0';
	close(fds[0]);
	waitpid(pid, &wstatus, 0);
	res->exited = WIFEXITED(wstatus);
	res->status = res->exited ? WEXITSTATUS(wstatus) : 0;
	res->signal = WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0;
}
