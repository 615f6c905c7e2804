/* The names the wire uses for errnos and domain types, and topology lookups by name. */
#include <string.h>

#include "internal.h"

static const char *const errno_names[IOMMU_ERRNO_COUNT] = {
	[IOMMU_OK] = NULL,
	[IOMMU_EINVAL] = "EINVAL",
	[IOMMU_ENOENT] = "ENOENT",
	[IOMMU_EEXIST] = "EEXIST",
	[IOMMU_EADDRINUSE] = "EADDRINUSE",
	[IOMMU_EBUSY] = "EBUSY",
	[IOMMU_ENOSPC] = "ENOSPC",
	[IOMMU_ENOMEM] = "ENOMEM",
	[IOMMU_ERANGE] = "ERANGE",
	[IOMMU_EFAULT] = "EFAULT",
	[IOMMU_EOVERFLOW] = "EOVERFLOW",
	[IOMMU_EOPNOTSUPP] = "EOPNOTSUPP",
	[IOMMU_ENODEV] = "ENODEV",
	[IOMMU_ENOSYS] = "ENOSYS",
	[IOMMU_EIO] = "EIO",
	[IOMMU_FAULT] = "FAULT",
};

const char *iommu_errno_name(iommu_errno e)
{
	return (unsigned)e < IOMMU_ERRNO_COUNT ? errno_names[e] : NULL;
}

static const char *const type_names[IOMMU_DOMAIN_TYPE_COUNT] = {
	"blocked", "identity", "paging", "dma", "dma_fq", "sva", "nested",
};

const char *iommu_domain_type_name(iommu_domain_type t)
{
	return (unsigned)t < IOMMU_DOMAIN_TYPE_COUNT ? type_names[t] : NULL;
}

bool iommu_domain_type_is_paging(iommu_domain_type t)
{
	return t == IOMMU_DOMAIN_PAGING || t == IOMMU_DOMAIN_DMA || t == IOMMU_DOMAIN_DMA_FQ;
}

long iommu_topology_device(const struct iommu_topology *t, const char *name)
{
	for (size_t i = 0; i < t->n_devices; i++) {
		if (strcmp(t->devices[i].name, name) == 0)
			return (long)i;
	}
	return -1;
}

long iommu_topology_group(const struct iommu_topology *t, const char *name)
{
	for (size_t i = 0; i < t->n_groups; i++) {
		if (strcmp(t->groups[i].name, name) == 0)
			return (long)i;
	}
	return -1;
}

long iommu_topology_iommu(const struct iommu_topology *t, const char *name)
{
	for (size_t i = 0; i < t->n_iommus; i++) {
		if (strcmp(t->iommus[i].name, name) == 0)
			return (long)i;
	}
	return -1;
}
