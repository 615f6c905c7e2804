// The one vocabulary of operations. The in-process adapter interface, the wire protocol, the
// reference model and the trace printer all speak these types; OP_FIELDS below is the single
// table that the codec (wire.ts) and the printer (format.ts) are driven by.
//
// Handles (`d1`, `dev0`, `mm2`, `b3`, `p7`) are chosen by the suite, never by the
// implementation, so a whole sequence can be written before any reply comes back.

import type { Errno } from './errno.ts';
import type { DomainType, Topology } from './topology.ts';

export type Handle = string;

/** Permission bits, with Linux's IOMMU_* values so drivers can pass them straight through. */
export const PROT = { READ: 1, WRITE: 2, CACHE: 4, NOEXEC: 8, MMIO: 16, PRIV: 32 } as const;
export const PROT_ALL = 63;
/** The prot field is 32 bits on the wire; bits above PROT_ALL are flags the vocabulary does not define. */
export const PROT_WIRE_MAX = 0xffffffff;

export type Access = 'r' | 'w';

export interface DomainAllocOp { op: 'domain_alloc'; domain: Handle; type: DomainType; dev: Handle; pgsizes?: bigint; parent?: Handle; mm?: Handle }
export interface DomainFreeOp { op: 'domain_free'; domain: Handle }
/**
 * `reserved` is the request's reserved field where a profile has one (virtio); absent means 0.
 * `inval` (capability `invalidation_choice`): which of the configuration-cache invalidations the
 * architecture allows after the device's translation changes the driver sends, 0 the narrowest.
 */
export interface AttachOp { op: 'attach'; dev: Handle; domain: Handle; reserved?: number; inval?: number }
export interface DetachOp { op: 'detach'; dev: Handle; domain: Handle; reserved?: number; inval?: number }
export interface AttachPasidOp { op: 'attach_pasid'; dev: Handle; domain: Handle; pasid: number }
export interface DetachPasidOp { op: 'detach_pasid'; dev: Handle; pasid: number }
/** `prot` may carry bits beyond PROT_ALL: unknown flags, judged by the unknown_flags policy. */
export interface MapOp { op: 'map'; domain: Handle; iova: bigint; paddr: bigint; size: bigint; prot: number; reserved?: number }
/**
 * `inval` (capability `invalidation_choice`): which of the invalidations the architecture allows
 * after this unmap the driver sends, 0 the narrowest; the adapter documents its list.
 */
export interface UnmapOp { op: 'unmap'; domain: Handle; iova: bigint; size: bigint; reserved?: number; inval?: number }
export interface IovaToPhysOp { op: 'iova_to_phys'; domain: Handle; iova: bigint }
/** A device access. `pasid` is a number the suite chose; `pasidOf` names the handle (PASID
 * allocation or mm) whose implementation-chosen PASID to use. */
export interface DmaOp { op: 'dma'; dev: Handle; iova: bigint; access: Access; pasid?: number; pasidOf?: Handle }
export interface FlushOp { op: 'flush'; domain: Handle }
export interface PasidAllocOp { op: 'pasid_alloc'; pasid: Handle; min: number; max: number; data?: string }
export interface PasidGetOp { op: 'pasid_get'; pasid: Handle }
export interface PasidPutOp { op: 'pasid_put'; pasid: Handle }
export interface PasidFindOp { op: 'pasid_find'; pasid: Handle }
export interface SvaBindOp { op: 'sva_bind'; bond: Handle; dev: Handle; mm: Handle }
export interface SvaUnbindOp { op: 'sva_unbind'; bond: Handle }
export interface MmMapOp { op: 'mm_map'; mm: Handle; va: bigint; pa: bigint; size: bigint; prot: number }
export interface MmUnmapOp { op: 'mm_unmap'; mm: Handle; va: bigint; size: bigint }
export interface MmExitOp { op: 'mm_exit'; mm: Handle }
/** Capability `leaves`: the page-table leaves covering a range, run-length encoded. */
export interface LeavesOp { op: 'leaves'; domain: Handle; iova: bigint; size: bigint }
/** Capability `pt_pages`: page-table memory a domain holds, in pages. */
export interface PtPagesOp { op: 'pt_pages'; domain: Handle }
/** Capability `fail_nth`: the n-th internal allocation from now fails with ENOMEM; 0 disarms. */
export interface FailNthOp { op: 'fail_nth'; n: number }

export type Op =
  | DomainAllocOp | DomainFreeOp | AttachOp | DetachOp | AttachPasidOp | DetachPasidOp
  | MapOp | UnmapOp | IovaToPhysOp | DmaOp | FlushOp
  | PasidAllocOp | PasidGetOp | PasidPutOp | PasidFindOp
  | SvaBindOp | SvaUnbindOp | MmMapOp | MmUnmapOp | MmExitOp
  | LeavesOp | PtPagesOp | FailNthOp;

export type OpKind = Op['op'];
export type OpOf<K extends OpKind> = Extract<Op, { op: K }>;

/** A run of `count` leaves of `pgsize` bytes starting at `iova`. */
export interface LeafRun { iova: bigint; pgsize: bigint; count: bigint }

/** What a successful reply carries, per operation. */
export interface OkValues {
  domain_alloc: { pgsizes?: bigint };
  domain_free: Record<string, never>;
  attach: Record<string, never>;
  detach: Record<string, never>;
  attach_pasid: Record<string, never>;
  detach_pasid: Record<string, never>;
  map: Record<string, never>;
  /** Absent only when the adapter does not declare `unmap_size`. */
  unmap: { unmapped?: bigint };
  iova_to_phys: { phys: bigint };
  dma: { phys?: bigint };
  flush: Record<string, never>;
  pasid_alloc: { pasid: number };
  pasid_get: Record<string, never>;
  pasid_put: { freed: boolean };
  pasid_find: { data: string | null };
  sva_bind: { pasid: number };
  sva_unbind: Record<string, never>;
  mm_map: Record<string, never>;
  mm_unmap: Record<string, never>;
  mm_exit: Record<string, never>;
  leaves: { leaves: LeafRun[] };
  pt_pages: { pages: number };
  fail_nth: Record<string, never>;
}

export interface Failure { err: Errno; msg?: string }
export type Outcome<K extends OpKind = OpKind> = { ok: OkValues[K] } | Failure;

export function isFailure(o: Outcome): o is Failure {
  return 'err' in o;
}

/** A field of a success reply, when the op is not known statically. */
export function okField<T>(o: Outcome, name: string): T | undefined {
  return isFailure(o) ? undefined : ((o.ok as Record<string, unknown>)[name] as T | undefined);
}

/** Field kinds, for the codec and the printer. A trailing `?` marks an optional field. */
export type FieldKind = 'handle' | 'u64' | 'int' | 'prot' | 'domtype' | 'access' | 'str' | 'bool' | 'leaves';

type Fields = readonly (readonly [name: string, kind: FieldKind, optional?: 'optional'])[];

export interface OpSchema {
  /** Request fields in print order; handles first, printed positionally. */
  fields: Fields;
  /** Success reply fields. */
  ok: Fields;
  /** Does the op change state? Mutating ops are followed by observation probes. */
  mutates: boolean;
  /** Capability that must be declared for the op to be sent at all. */
  capability?: CapabilityName;
  /** Optional ok fields that become required when the adapter declares a capability. */
  okRequiredWith?: Readonly<Record<string, CapabilityName>>;
}

/**
 * What an adapter can do beyond the bare minimum. `iova_to_phys` and `unmap_size` are part of
 * the Linux API but not of every device interface (a virtio-iommu device has no translation
 * query and its UNMAP answers only a status), so each profile says whether it expects them.
 */
export const CAPABILITIES = ['leaves', 'pt_pages', 'fail_nth', 'pasid', 'sva', 'lazy_flush', 'dma_phys', 'iova_to_phys', 'unmap_size', 'invalidation_choice'] as const;
export type CapabilityName = (typeof CAPABILITIES)[number];
export type Capabilities = Partial<Record<CapabilityName, boolean>>;

const O = 'optional' as const;

export const OP_FIELDS: { readonly [K in OpKind]: OpSchema } = {
  domain_alloc: {
    fields: [['domain', 'handle'], ['type', 'domtype'], ['dev', 'handle'], ['pgsizes', 'u64', O], ['parent', 'handle', O], ['mm', 'handle', O]],
    ok: [['pgsizes', 'u64', O]],
    mutates: true,
  },
  domain_free: { fields: [['domain', 'handle']], ok: [], mutates: true },
  attach: { fields: [['dev', 'handle'], ['domain', 'handle'], ['reserved', 'int', O], ['inval', 'int', O]], ok: [], mutates: true },
  detach: { fields: [['dev', 'handle'], ['domain', 'handle'], ['reserved', 'int', O], ['inval', 'int', O]], ok: [], mutates: true },
  attach_pasid: { fields: [['dev', 'handle'], ['domain', 'handle'], ['pasid', 'int']], ok: [], mutates: true },
  detach_pasid: { fields: [['dev', 'handle'], ['pasid', 'int']], ok: [], mutates: true },
  map: {
    fields: [['domain', 'handle'], ['iova', 'u64'], ['paddr', 'u64'], ['size', 'u64'], ['prot', 'prot'], ['reserved', 'int', O]],
    ok: [],
    mutates: true,
  },
  unmap: {
    fields: [['domain', 'handle'], ['iova', 'u64'], ['size', 'u64'], ['reserved', 'int', O], ['inval', 'int', O]],
    ok: [['unmapped', 'u64', O]],
    mutates: true,
    okRequiredWith: { unmapped: 'unmap_size' },
  },
  iova_to_phys: { fields: [['domain', 'handle'], ['iova', 'u64']], ok: [['phys', 'u64']], mutates: false, capability: 'iova_to_phys' },
  dma: {
    fields: [['dev', 'handle'], ['iova', 'u64'], ['access', 'access'], ['pasid', 'int', O], ['pasidOf', 'handle', O]],
    ok: [['phys', 'u64', O]],
    mutates: false,
  },
  flush: { fields: [['domain', 'handle']], ok: [], mutates: true, capability: 'lazy_flush' },
  pasid_alloc: {
    fields: [['pasid', 'handle'], ['min', 'int'], ['max', 'int'], ['data', 'str', O]],
    ok: [['pasid', 'int']],
    mutates: true,
    capability: 'pasid',
  },
  pasid_get: { fields: [['pasid', 'handle']], ok: [], mutates: true, capability: 'pasid' },
  pasid_put: { fields: [['pasid', 'handle']], ok: [['freed', 'bool']], mutates: true, capability: 'pasid' },
  pasid_find: { fields: [['pasid', 'handle']], ok: [['data', 'str']], mutates: false, capability: 'pasid' },
  sva_bind: { fields: [['bond', 'handle'], ['dev', 'handle'], ['mm', 'handle']], ok: [['pasid', 'int']], mutates: true, capability: 'sva' },
  sva_unbind: { fields: [['bond', 'handle']], ok: [], mutates: true, capability: 'sva' },
  mm_map: {
    fields: [['mm', 'handle'], ['va', 'u64'], ['pa', 'u64'], ['size', 'u64'], ['prot', 'prot']],
    ok: [],
    mutates: true,
    capability: 'sva',
  },
  mm_unmap: { fields: [['mm', 'handle'], ['va', 'u64'], ['size', 'u64']], ok: [], mutates: true, capability: 'sva' },
  mm_exit: { fields: [['mm', 'handle']], ok: [], mutates: true, capability: 'sva' },
  leaves: { fields: [['domain', 'handle'], ['iova', 'u64'], ['size', 'u64']], ok: [['leaves', 'leaves']], mutates: false, capability: 'leaves' },
  pt_pages: { fields: [['domain', 'handle']], ok: [['pages', 'int']], mutates: false, capability: 'pt_pages' },
  fail_nth: { fields: [['n', 'int']], ok: [], mutates: true, capability: 'fail_nth' },
};

export const OP_KINDS = Object.keys(OP_FIELDS) as OpKind[];

/** What an adapter says about itself in `hello`. */
export interface AdapterInfo {
  name: string;
  version: string;
  /** Profile name (`linux`, `virtio-iommu`); its policy defaults apply to undeclared keys. */
  profile: string;
  /** Declared policy values (see policies.ts); keys not given take the profile's default. */
  policies?: Partial<Record<string, string>>;
  capabilities?: Capabilities;
  /** `any`, or the exact topologies the implementation can be reset to. */
  topologies?: 'any' | Topology[];
  /**
   * A guest-driver kit in front of a device model: the ops it answers from its own software
   * (the device has no such function), so their replies are the kit's, not the model's. A rule
   * that only those replies exercised is NOT_SUPPORTED for the model, never a PASS.
   */
  kit?: KitInfo;
}

export interface KitInfo {
  name: string;
  ops: OpKind[];
}
