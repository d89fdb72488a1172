/* Role 1, `podd-init [--] CMD`: a plain init, like tini. */
#include "podd-init.h"

int plain_main(char **cmd)
{
	close_inherited_fds();

	/* Not PID 1 (say, under a service manager): orphans of the command would
	 * go to the real init and we could not reap them. A subreaper gets them. */
	if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		die(EXIT_SETUP, "prctl PR_SET_CHILD_SUBREAPER: %s", strerror(errno));

	int sigfd = block_all_signals();
	int chan[2];
	make_channel(chan);

	struct command c = { .argv = cmd, .chan = chan[1], .out_fd = -1, .err_fd = -1, .keep_stdin = true, .grouping = OWN_GROUP };
	pid_t pid = spawn_command(&c);
	if (pid < 0)
		die(EXIT_SETUP, "fork: %s", strerror(errno));
	close(chan[1]);

	/* Wait until the command has been exec'd or has failed to be; signals
	 * arriving meanwhile stay queued for the loop below. */
	char msg[MSG_MAX];
	pid_t ignored;
	ssize_t n;
	while ((n = channel_recv(chan[0], msg, sizeof msg, &ignored)) > 0)
		if (msg[0] == 'E')
			say("%s", msg + 1);
	close(chan[0]);

	return exit_code_of(supervise(sigfd, pid));
}
