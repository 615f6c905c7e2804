// virtio-iommu rules: obligations of the OASIS virtio IOMMU device that the Linux API has no
// counterpart for. The rest of the device's behaviour is the shared rules under the
// virtio-iommu profile's policy values.

import type { Rule } from './types.ts';

const SPEC = 'spec:OASIS virtio, IOMMU device (device ID 23)';

export const VIRTIO_RULES: readonly Rule[] = [
  {
    id: 'VIO-RESERVED',
    family: 'virtio',
    level: 'POLICY',
    title: 'ATTACH with reserved bits set is rejected; other requests may ignore them',
    statement:
      'Under reserved_fields=EINVAL an attach whose reserved field is non-zero fails with EINVAL (S_INVAL) and changes nothing; ' +
      'an unmap with reserved bits either fails with EINVAL and changes nothing or is carried out as if they were clear (the device MAY do either); ' +
      'a detach is carried out as if they were clear (the device ignores reserved bytes), and so is a map, whose request has no reserved field. ' +
      'Under reserved_fields=absent the interface has no reserved fields and none are sent.',
    sources: [
      `${SPEC}, ATTACH request (reserved != 0: S_INVAL)`,
      `${SPEC}, UNMAP request (reserved != 0: MAY S_INVAL, in which case it MAY still perform the UNMAP)`,
      `${SPEC}, device requirements (reserved fields of the request head and of DETACH are ignored)`,
      'doc:../shared/reference/linux-iommu-semantics.md §9 VIO-ATT-1, VIO-UNMAP-6',
    ],
    policies: ['reserved_fields'],
    capabilities: [],
  },
];
