/* dp-test-utils.h: what every libdp test program shares
 *
 * One initialisation (dp_test_init()), one way to start a node and its
 * router, one wait for a process to be gone, paths into the build tree, and
 * an expected-log hook in the manner of libpeas' testing_util_push_log_hook():
 * every warning or critical a test provokes on purpose is declared with
 * dp_test_expect_log() and checked; any other one fails the test.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libdp/libdp.h>

G_BEGIN_DECLS

/* g_test_init(), warnings and criticals fatal, and the log writer that
 * checks them against what the running test expects. */
void          dp_test_init               (int    *argc,
                                          char ***argv);

/* g_test_add_func() whose test ends with dp_test_assert_expected_logs() */
void          dp_test_add_func           (const char *testpath,
                                          GTestFunc   test_func);

/* The value of @name, set by the fixture that runs the test program
 * (@fixture, e.g. "tests/sshd-fixture.sh"); fails saying so when unset */
const char   *dp_test_fixture_env        (const char *name,
                                          const char *fixture);

/* $DP_BUILD_DIR/@relative (e.g. "loader/dp-launch") */
char         *dp_test_build_path         (const char *relative);

/* Runs $DP_BUILD_DIR/@tool with @args (NULL-terminated), @input on its
 * standard input, in @cwd (NULL: ours); returns its exit status (it must
 * exit), standard output and standard error. */
int           dp_test_run_tool           (const char         *tool,
                                          const char * const *args,
                                          const char         *cwd,
                                          const char         *input,
                                          char              **out,
                                          char              **err);

/* A router with the tests' secret. */
DpNode       *dp_test_new_router         (void);
/* A dp-node process on localhost, any free port, ready and alive. */
DpRemoteNode *dp_test_spawn_node         (DpNode     *router);
/* @plugin:@symbol launched on @node (no name, no flags), ready. */
DpRemoteConnection *dp_test_launch_ready (DpRemoteNode *node,
                                          const char   *plugin,
                                          const char   *symbol);

/* A field of /proc/PID/status in KiB ("VmRSS", "VmSize"); @pid 0: this
 * process */
gint64        dp_test_proc_status_kib    (gint64      pid,
                                          const char *field);
/* Reads dp-launch's standard error (@err) up to its "node HOST:PORT ready
 * (pid N)" line and returns N, the node's pid */
gint64        dp_test_read_node_pid      (GDataInputStream *err);
/* SIGKILLs the master @sp (dp-launch, a sample) and asserts that its node
 * @node_pid goes too (its standard input, or its ssh session, closes) */
void          dp_test_kill_master        (GSubprocess *sp,
                                          gint64       node_pid);
/* @rc's place echoes @value (a string) back */
void          dp_test_assert_echoes      (DpRemoteConnection *rc,
                                          const char         *value);
/* Waits (poll on a pidfd, no sleeping) until @pid (not necessarily a child
 * of ours) is gone; TRUE when it is, FALSE after @timeout_ms. */
gboolean      dp_test_wait_process_gone  (gint64      pid,
                                          int         timeout_ms);

/* Expects one message of @log_level (G_LOG_LEVEL_WARNING or
 * G_LOG_LEVEL_CRITICAL) in @log_domain (NULL: any) whose text matches
 * @pattern (g_pattern_match_simple()). Each expectation is consumed by one
 * message, from any thread; a warning or critical that no expectation
 * matches fails the test. */
void          dp_test_expect_log         (const char     *log_domain,
                                          GLogLevelFlags  log_level,
                                          const char     *pattern);
/* Like dp_test_expect_log(), for a message that may come any number of
 * times or not at all (a node's warning that races with its being stopped). */
void          dp_test_allow_log          (const char     *log_domain,
                                          GLogLevelFlags  log_level,
                                          const char     *pattern);
/* Iterates the thread-default main context until every expected message
 * has arrived (they may come from another thread, or from a node's stderr
 * read on this context), then asserts that they all did and that nothing
 * unexpected was logged; forgets the expectations. Only a hang guard bounds
 * the wait. */
void          dp_test_assert_expected_logs (void);

/* Called for every record, from the thread that logs it, before it is
 * checked or written. */
typedef void (*DpTestLogWatch) (GLogLevelFlags   log_level,
                                const GLogField *fields,
                                gsize            n_fields,
                                gpointer         user_data);
guint         dp_test_add_log_watch      (DpTestLogWatch watch,
                                          gpointer       user_data);
/* Once it returns, @id's watch is not running and will not run again. */
void          dp_test_remove_log_watch   (guint          id);

/* Counts the spawns under way, from the routers' spawn-start and
 * spawn-done records (DpNode:max-concurrent-spawns), from now until
 * dp_test_spawn_watch_free(), which asserts that none is left under way
 * and gives the most seen at once, in all and on any one host. */
typedef struct _DpTestSpawnWatch DpTestSpawnWatch;
DpTestSpawnWatch  *dp_test_spawn_watch_new  (void);
void               dp_test_spawn_watch_free (DpTestSpawnWatch *watch,
                                             guint            *max_running,
                                             guint            *max_per_host);

/* Raw peers, for tests of what a node does with a misbehaving one: a plain
 * TCP connection to 127.0.0.1:@port with a 10 s socket timeout, writing
 * bytes, the client's half of the handshake with @secret (right or wrong),
 * and reading until the node drops the connection (EOF). */
GSocketConnection *dp_test_raw_connect   (guint16             port);
void               dp_test_raw_write     (GSocketConnection  *c,
                                          const void         *data,
                                          gsize               len);
void               dp_test_raw_handshake (GSocketConnection  *c,
                                          GBytes             *secret);
void               dp_test_expect_dropped (GSocketConnection *c);

G_END_DECLS
