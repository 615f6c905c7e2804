// Failures are errno names, exactly as Linux spells them, plus FAULT for a device access the
// IOMMU blocked. The virtio-iommu statuses map onto the same names (see profiles.ts).

export const ERRNOS = [
  'EINVAL', // bad argument, unsupported op on this domain type, incompatible domain
  'ENOENT', // unknown or freed handle / ID
  'EEXIST', // overmap (io-pgtable-arm)
  'EADDRINUSE', // overmap (iommupt)
  'EBUSY', // attached elsewhere, freeing an attached domain, occupied PASID
  'ENOSPC', // out of contexts, out of PASIDs
  'ENOMEM', // allocation failure (fault injection)
  'ERANGE', // address beyond IAS/OAS (io-pgtable-arm, iommupt), virtio S_RANGE
  'EFAULT', // address beyond the domain width (VT-d)
  'EOVERFLOW', // arithmetic overflow, SVA PASID beyond the device limit
  'EOPNOTSUPP', // domain type / feature not supported
  'ENODEV', // no such device, op absent from a domain's ops
  'ENOSYS', // the adapter does not implement this operation at all
  'EIO', // virtio S_IOERR / S_DEVERR
  'FAULT', // a device access translated to nothing
] as const;

export type Errno = (typeof ERRNOS)[number];

const ERRNO_SET: ReadonlySet<string> = new Set(ERRNOS);

export function isErrno(s: unknown): s is Errno {
  return typeof s === 'string' && ERRNO_SET.has(s);
}
