/*
 * selftest/main.c - the kernel's own io-pgtable-arm selftests as a userspace program: the
 * baseline a mutant of io-pgtable-arm.c is measured against beside the suite. Exit 0 when every
 * configuration passes, 1 when one fails; the kernel's verdict lines go to stderr.
 *   6.1, 6.12: arm_lpae_do_selftests() in io-pgtable-arm.c under
 *              CONFIG_IOMMU_IO_PGTABLE_LPAE_SELFTEST (an initcall), included here.
 *   7.x:       the KUnit suite of io-pgtable-arm-selftests.c (compiled on its own), run under
 *              the shim of stubs/kunit/.
 */
#if KSTUB_LINUX < 700
#define CONFIG_IOMMU_IO_PGTABLE_LPAE_SELFTEST 1
#include "drivers/iommu/io-pgtable-arm.c"

int main(void)
{
	int ret = arm_lpae_do_selftests();

	printf("io-pgtable-arm selftest: %s\n", ret ? "FAIL" : "PASS");
	return ret ? 1 : 0;
}
#else
#include <kunit/test.h>

extern struct kunit_suite *kstub_kunit_suite;

int main(void)
{
	int failed = 0;

	for (struct kunit_case *c = kstub_kunit_suite->test_cases; c->run_case; c++) {
		struct kunit test = { .name = c->name };

		c->run_case(&test);
		printf("%s %s: %s\n", kstub_kunit_suite->name, c->name, test.failures ? "FAIL" : "PASS");
		failed += test.failures != 0;
	}
	printf("io-pgtable-arm selftest: %s\n", failed ? "FAIL" : "PASS");
	return failed ? 1 : 0;
}
#endif
