// Attach rules: default domains, groups as the unit of isolation, one caller domain at a time,
// compatibility, scarce address spaces, detach and PASID attach (seeds 000, 001, 002).

import type { Rule } from './types.ts';

export const ATTACH_RULES: readonly Rule[] = [
  {
    id: 'ATT-DEFAULT',
    family: 'attach',
    level: 'MUST',
    title: 'Groups start in their default domain',
    statement:
      'Before the caller attaches anything, every group is in its default domain. ' +
      'A dma default translates nothing the suite has mapped, so device accesses without a PASID fault; an identity default passes every IOVA through unchanged.',
    sources: [
      'seed:001_a04be2a55e3bff25.txt',
      'linux:drivers/iommu/iommu.c iommu_group_alloc_default_domain()',
      'linux:drivers/iommu/iommu.c iommu_get_default_domain_type()',
      'spec:OASIS virtio, IOMMU device, Device operations (unattached endpoints: bypass, or no access)',
    ],
    policies: [],
    capabilities: [],
  },
  {
    id: 'ATT-GROUP',
    family: 'attach',
    level: 'MUST',
    title: 'Attach and detach switch the whole group',
    statement:
      'attach and detach name one device but act on its group: after either succeeds every device of the group has the same current domain, ' +
      'and after a failure none of them has moved.',
    sources: [
      'linux:drivers/iommu/iommu.c __iommu_group_set_domain_internal() (switches each device, reverts all on failure)',
      'linux:drivers/iommu/iommu.c iommu_attach_group()',
      'spec:OASIS virtio, IOMMU device, Device operations / ATTACH request (endpoints that cannot be isolated belong in the same domain)',
    ],
    policies: [],
    capabilities: [],
  },
  {
    id: 'ATT-ONE',
    family: 'attach',
    level: 'POLICY',
    title: 'A group holds one caller domain',
    statement:
      "A group has exactly one current domain. While it is one the caller attached, attaching any domain to any of its devices, the current one included, " +
      'fails with EBUSY and changes nothing under attach_busy=EBUSY (the caller must detach first). ' +
      'Under attach_busy=move the attach succeeds as a detach from the old domain (with its DOM-LIFETIME consequences) followed by an attach to the new one.',
    sources: [
      'linux:drivers/iommu/iommu.c __iommu_attach_group() (group->domain neither default nor blocking: -EBUSY)',
      'linux:include/linux/iommu.h struct iommu_domain_ops attach_dev kdoc (EBUSY: attached and cannot be changed)',
      'spec:OASIS virtio, IOMMU device, ATTACH request (an endpoint attached elsewhere is implicitly detached first)',
    ],
    policies: ['attach_busy'],
    capabilities: [],
  },
  {
    id: 'ATT-COMPAT',
    family: 'attach',
    level: 'MUST',
    title: 'Attaching an incompatible domain fails EINVAL',
    statement:
      "`attach` (and likewise `attach_pasid`) fails with EINVAL, leaving the group where it was, when the device's IOMMU cannot use the domain: " +
      "it was allocated on an IOMMU with another page-table format, its page-size bitmap is not a subset of this IOMMU's, " +
      'its type is one this IOMMU does not support, or it already holds a mapping at or above 2^IAS of this IOMMU. ' +
      'Otherwise an `attach` behind an IOMMU with a narrower IAS or OAS may succeed, narrowing the domain\'s widths to that IOMMU\'s, or fail with EINVAL.',
    sources: [
      'seed:000_80203a2a4a1d457c.txt',
      'linux:drivers/iommu/iommu.c domain_iommu_ops_compatible() (-EINVAL)',
      'linux:drivers/iommu/iommu.c iommu_attach_device() kdoc ("EINVAL can be treated as a soft failure, indicating that certain configuration of the domain is incompatible with the device")',
      'linux:drivers/iommu/intel/iommu.c prepare_domain_attach_device() (mappings above the new address width)',
    ],
    policies: [],
    capabilities: [],
  },
  {
    id: 'ATT-SPACE',
    family: 'attach',
    level: 'MUST',
    title: "Attaches beyond the IOMMU's contexts fail ENOSPC",
    statement:
      'An IOMMU with N contexts holds at most N address spaces at once: one for each of its groups whose default domain is dma, ' +
      'plus one for each distinct paging, dma, dma_fq or nested domain the caller has attached to any of its groups (PASID attachments do not count). ' +
      'An attach that would need one more fails with ENOSPC and changes nothing; attaching a domain that already holds an address space needs none.',
    sources: [
      'seed:001_a04be2a55e3bff25.txt',
      'linux:include/linux/iommu.h struct iommu_domain_ops attach_dev kdoc (ENOSPC: non-ENOMEM resource allocation failure)',
    ],
    policies: [],
    capabilities: [],
  },
  {
    id: 'ATT-DETACH',
    family: 'attach',
    level: 'MUST',
    title: 'Detach returns the group to its default',
    statement:
      "Detaching a group's current caller-attached domain puts the group back in its default domain, and the detached domain keeps its mappings (but see DOM-LIFETIME). " +
      'Detaching a domain that is not the group\'s current one changes nothing; it may succeed or fail with EINVAL or ENOENT.',
    sources: [
      'linux:drivers/iommu/iommu.c iommu_detach_device() (WARN_ON(domain != group->domain): no-op; else __iommu_group_set_core_domain())',
      'spec:OASIS virtio, IOMMU device, Device operations / DETACH request (not attached: MAY S_INVAL)',
    ],
    policies: ['domain_lifetime'],
    capabilities: [],
  },
  {
    id: 'ATT-PASID',
    family: 'attach',
    level: 'MUST',
    title: 'PASID attach checks range and occupancy',
    statement:
      "`attach_pasid` fails with EINVAL for PASID 0 or a PASID at or above the maxPasids of any PASID-capable device in the group (a device without PASID support answers EINVAL or EOPNOTSUPP), " +
      "and with EBUSY when that PASID already has a domain in the device's group; a failure changes nothing. " +
      '`detach_pasid` removes the attachment, after which accesses with that PASID fault; at a PASID with nothing attached it changes nothing (ok, EINVAL or ENOENT).',
    sources: [
      'linux:drivers/iommu/iommu.c iommu_attach_device_pasid() (IOMMU_NO_PASID or pasid >= max_pasids: -EINVAL; occupied: -EBUSY from xa_insert)',
      'linux:drivers/iommu/iommu.c iommu_detach_device_pasid()',
      'linux:include/linux/iommu.h IOMMU_NO_PASID',
      'seed:002_b3cb825c86431b4e.txt',
    ],
    policies: [],
    capabilities: [],
  },
];
