/*
 * stubs/kunit/test.h - the slice of KUnit that Linux 7.x's io-pgtable-arm-selftests.c uses, for
 * a userspace run (selftest/main.c): a failure is counted on the test and printed; the suite
 * registers itself where main() finds it.
 */
#ifndef KSTUB_KUNIT_TEST_H
#define KSTUB_KUNIT_TEST_H

#include "../../kernel-stubs.h"

struct kunit { const char *name; int failures; };
struct kunit_case { void (*run_case)(struct kunit *test); const char *name; };
struct kunit_suite { const char *name; struct kunit_case *test_cases; };

#define KUNIT_CASE(fn) { .run_case = fn, .name = #fn }
#define KUNIT_FAIL(test, fmt, ...) \
	((test)->failures++, fprintf(stderr, "    # %s: FAIL: " fmt, (test)->name, ##__VA_ARGS__))
#define kunit_err(test, fmt, ...) fprintf(stderr, "    # %s: error: " fmt, (test)->name, ##__VA_ARGS__)
#define kunit_info(test, fmt, ...) fprintf(stderr, "    # %s: " fmt, (test)->name, ##__VA_ARGS__)
#define IS_ERR_OR_NULL(p) (!(p) || (unsigned long)(void *)(p) >= (unsigned long)-4095)
#define KUNIT_EXPECT_NOT_ERR_OR_NULL(test, p) \
	do { if (IS_ERR_OR_NULL(p)) KUNIT_FAIL(test, "%s is an error or NULL\n", #p); } while (0)
/* The one suite of the file, for main(). */
#define kunit_test_suite(s) struct kunit_suite *kstub_kunit_suite = &(s)
#define MODULE_DESCRIPTION(s)
#define MODULE_LICENSE(s)

#endif /* KSTUB_KUNIT_TEST_H */
