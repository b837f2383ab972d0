/* delivery/sieve/sieve_interp.h - the interpreter's run state shared by the
 * command walk (sieve_interp.c), the tests (sieve_tests.c) and vacation
 * (sieve_vacation.c): variables, the internal flag set, the budget, the
 * action list being built. Private to delivery/sieve/. */
#ifndef DIRMAIL_SIEVE_INTERP_H
#define DIRMAIL_SIEVE_INTERP_H

#include <stdbool.h>

#include "delivery/sieve/sieve_ast.h"
#include "delivery/sieve/sieve_match.h"
#include "delivery/sieve/sieve_message.h"

struct sieve_var {
    char *name; /* lower case: variable names are case-insensitive (RFC 5229 3) */
    char *value;
    bool global; /* declared by "global" (RFC 6609 3.3): the value is in run->globals */
};

struct sieve_run {
    const struct sieve_script *script;
    const struct sieve_message *msg;
    const struct sieve_env *env;
    struct sieve_result *result;
    struct sieve_budget budget;
    struct sieve_captures caps;
    struct sieve_var *vars;
    size_t nvars, vcap;
    struct sieve_var *globals; /* variables shared by every script of the run */
    size_t nglobals, gcap;
    /* include (RFC 6609): the scripts being run, outermost first, and
     * those included so far (for :once); names prefixed "g:" or "p:" */
    char **chain;
    size_t depth, chain_cap;
    char **included;
    size_t nincluded, inc_cap;
    bool returned;
    char *flags; /* imap4flags' internal variable: flags separated by one space */
    bool implicit_keep, stopped, failed, tempfail;
    size_t redirects;
    bool rejected, vacation_done, stored;
};

/* sieve_run_fail - end the run with a runtime error at node. */
void sieve_run_fail(struct sieve_run *run, const struct sieve_node *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* sieve_run_expand - s with ${...} expanded when variables is required
 * (RFC 5229 3), else a copy; NULL when the run failed (limit, memory). */
char *sieve_run_expand(struct sieve_run *run, const struct sieve_node *node, const char *s);

/* sieve_run_variable - the value of a variable ("" when never set). */
const char *sieve_run_variable(const struct sieve_run *run, const char *name);

/* sieve_run_block - run commands (the interpreter's walk, for include). */
int sieve_run_block(struct sieve_run *run, struct sieve_node *const *cmds, size_t n);

/* sieve_run_set_variable - set name (value's ownership moves); 0 or -1. */
int sieve_run_set_variable(struct sieve_run *run, const struct sieve_node *node, const char *name,
                           char *value);

/* sieve_include_execute - include, return's end and global (RFC 6609). */
int sieve_include_execute(struct sieve_run *run, const struct sieve_node *node);
int sieve_global_execute(struct sieve_run *run, const struct sieve_node *node);
void sieve_include_clear(struct sieve_run *run);

/* Deepest chain of includes. */
#define SIEVE_INCLUDE_DEPTH_MAX 8

/* sieve_test_eval - 1 true, 0 false, -1 the run failed. */
int sieve_test_eval(struct sieve_run *run, const struct sieve_node *test);

/* sieve_flags_normal - a flag list's strings split at blanks, duplicates
 * (case-insensitive) dropped, joined by one space; malloc'd or NULL. */
char *sieve_flags_normal(char *const *strs, size_t n);

/* sieve_vacation_execute - decide by RFC 3834 and RFC 5230 4.x whether to
 * answer, and if so append the VACATION action; 0, or -1 (run failed). */
int sieve_vacation_execute(struct sieve_run *run, const struct sieve_node *node);

/* sieve_run_add_action - append act (ownership moves); 0 or -1 (failed). */
int sieve_run_add_action(struct sieve_run *run, const struct sieve_node *node,
                         struct sieve_action *act);

#endif
