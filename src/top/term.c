// SPDX-License-Identifier: MIT
/* The terminal of `top`: plain ANSI sequences and termios, no curses (one
 * screen redrawn a second needs no diffing, and no library to ship). The
 * alternate screen, no echo, keys read one at a time, the size on SIGWINCH;
 * the terminal is restored on every way out, including a fatal signal. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>
#include "top/term.h"

/* what restore needs, reachable from a signal handler */
static struct termios saved_tio;
static volatile sig_atomic_t term_active;
static int winch_pipe[2] = { -1, -1 };

#define ENTER_SCREEN "\033[?1049h\033[?25l\033[H\033[2J"
#define LEAVE_SCREEN "\033[?25h\033[?1049l"

static void write_all(int fd, const char *s, size_t n)
{
	ssize_t w;

	while (n) {
		w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= w;
	}
}

/* async-signal-safe: tcsetattr and write only */
void top_term__restore(void)
{
	if (!term_active)
		return;
	term_active = 0;
	write_all(STDOUT_FILENO, LEAVE_SCREEN, sizeof(LEAVE_SCREEN) - 1);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
}

static void on_fatal(int sig)
{
	top_term__restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void on_winch(int sig)
{
	int saved = errno;

	if (winch_pipe[1] >= 0 && write(winch_pipe[1], "w", 1) < 0) {
		/* full: a resize is pending already */
	}
	errno = saved;
}

int top_term__open(struct top_term *t)
{
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
	struct sigaction sa = { 0 };
	struct termios raw;
	size_t i;
	int err;

	memset(t, 0, sizeof(*t));
	t->fd = STDOUT_FILENO;
	t->winch_fd = -1;
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
		return -ENOTTY;
	if (tcgetattr(STDIN_FILENO, &saved_tio))
		return -errno;
	if (pipe2(winch_pipe, O_CLOEXEC | O_NONBLOCK))
		return -errno;
	t->winch_fd = winch_pipe[0];
	sa.sa_handler = on_winch;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGWINCH, &sa, NULL);
	sa.sa_handler = on_fatal;
	sa.sa_flags = SA_RESETHAND;
	for (i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		sigaction(fatal[i], &sa, NULL);
	atexit(top_term__restore);

	raw = saved_tio;
	/* keys one at a time, no echo; ISIG stays, so Ctrl-C is a SIGINT,
	 * which the loop turns into a clean exit */
	raw.c_lflag &= ~(ICANON | ECHO | IEXTEN);
	raw.c_iflag &= ~(IXON | ICRNL);
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw)) {
		err = -errno;
		return err;
	}
	term_active = 1;
	write_all(STDOUT_FILENO, ENTER_SCREEN, sizeof(ENTER_SCREEN) - 1);
	top_term__size(t);
	return 0;
}

void top_term__close(struct top_term *t)
{
	top_term__restore();
	signal(SIGWINCH, SIG_DFL);
	if (winch_pipe[0] >= 0)
		close(winch_pipe[0]);
	if (winch_pipe[1] >= 0)
		close(winch_pipe[1]);
	winch_pipe[0] = winch_pipe[1] = -1;
	t->winch_fd = -1;
}

bool top_term__size(struct top_term *t)
{
	struct winsize ws;
	char buf[64];
	int rows = t->rows, cols = t->cols;

	while (t->winch_fd >= 0 && read(t->winch_fd, buf, sizeof(buf)) > 0)
		;
	if (!ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_row && ws.ws_col) {
		t->rows = ws.ws_row;
		t->cols = ws.ws_col;
	} else {
		t->rows = 24;
		t->cols = 80;
	}
	return rows != t->rows || cols != t->cols;
}

void top_term__draw(struct top_term *t, const char *text)
{
	struct strbuf sb = { 0 };
	const char *s = text, *nl;

	/* home, each line then clear to its end, clear below: no flicker of a
	 * full clear, nothing left of a longer previous frame */
	sb_puts(&sb, "\033[H");
	while ((nl = strchr(s, '\n'))) {
		sb_append(&sb, s, nl - s);
		s = nl + 1;
		sb_puts(&sb, *s ? "\033[K\r\n" : "\033[K");
	}
	sb_puts(&sb, "\033[J");
	write_all(t->fd, sb.buf, sb.len);
	sb_free(&sb);
}

static int read_byte(void)
{
	unsigned char c;

	return read(STDIN_FILENO, &c, 1) == 1 ? c : -1;
}

int top_term__key(struct top_term *t)
{
	int c = read_byte(), n;

	if (c != 0x1b)
		return c < 0 ? TOP_KEY_NONE : c;
	/* Esc alone, or an arrow or function key (ESC [ ... final), not ours */
	n = read_byte();
	if (n != '[' && n != 'O')
		return 0x1b;
	do
		n = read_byte();
	while (n >= 0 && !(n >= 0x40 && n <= 0x7e));
	return TOP_KEY_OTHER;
}
