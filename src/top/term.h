/* SPDX-License-Identifier: MIT */
/* The terminal of `top` (plain ANSI and termios): the alternate screen,
 * keys without echo, the size after SIGWINCH, and the terminal restored on
 * every way out (top_term__close, exit(), a fatal signal). */
#ifndef AP_TOP_TERM_H
#define AP_TOP_TERM_H

#include <stdbool.h>
#include "util.h"

#define TOP_KEY_NONE (-1)   /* nothing to read */
#define TOP_KEY_OTHER (-2)  /* an arrow or function key */

struct top_term {
	int fd;         /* where frames go (stdout) */
	int winch_fd;   /* readable after a SIGWINCH: call top_term__size() */
	int rows, cols;
};

/* stdin and stdout must be a terminal (-ENOTTY); 0 or -errno */
int top_term__open(struct top_term *t);
void top_term__close(struct top_term *t);
/* leave the alternate screen and restore the saved modes; idempotent and
 * async-signal-safe */
void top_term__restore(void);
/* read the size (after SIGWINCH); true when it changed */
bool top_term__size(struct top_term *t);
/* replace the screen with text ('\n'-separated lines, already cut) */
void top_term__draw(struct top_term *t, const char *text);
/* the next key typed, TOP_KEY_NONE when there is none */
int top_term__key(struct top_term *t);

#endif
