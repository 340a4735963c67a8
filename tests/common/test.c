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

int _kvmmu_run_tests(const char *name, const struct CMUnitTest *tests, size_t n)
{
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return _cmocka_run_group_tests(name, tests, n, NULL, NULL);
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
