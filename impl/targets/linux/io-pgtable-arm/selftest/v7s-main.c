/*
 * selftest/v7s-main.c - the kernel's own io-pgtable-arm-v7s selftest as a userspace program:
 * arm_v7s_do_selftests() of io-pgtable-arm-v7s.c (CONFIG_IOMMU_IO_PGTABLE_ARMV7S_SELFTEST, an
 * initcall; static, so the file is included here), the same in 6.1, 6.12 and 7.2 but for the
 * partial-unmap checks 7.2 dropped with the split. Exit 0 when it passes, 1 when it fails.
 */
#define CONFIG_IOMMU_IO_PGTABLE_ARMV7S_SELFTEST 1
#include "drivers/iommu/io-pgtable-arm-v7s.c"

int main(void)
{
	int ret = arm_v7s_do_selftests();

	printf("io-pgtable-arm-v7s selftest: %s\n", ret ? "FAIL" : "PASS");
	return ret ? 1 : 0;
}
