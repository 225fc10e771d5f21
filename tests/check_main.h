/* The main() every Check suite of mconn shares: run one suite (CK_FORK as set in the
 * environment, forking by default) and exit non-zero when any test failed. */
#ifndef MCONN_CHECK_MAIN_H
#define MCONN_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

#define CHECK_MAIN(suite_fn)                                          \
	int main(void)                                                \
	{                                                             \
		SRunner *sr = srunner_create(suite_fn());             \
		int failed;                                           \
                                                                      \
		srunner_run_all(sr, CK_NORMAL);                       \
		failed = srunner_ntests_failed(sr);                   \
		srunner_free(sr);                                     \
		return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;     \
	}

#endif
