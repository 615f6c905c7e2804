// The two messages of the stdio protocol that are not operations: `hello`, where the adapter
// says what it is, and `reset`, which carries the topology. Topology keys on the wire are the
// same camelCase names as in topology.ts; page-size bitmaps are hex like every 64-bit value.

import { CAPABILITIES, type AdapterInfo, type Capabilities, type KitInfo, OP_KINDS, type OpKind } from './ops.ts';
import { DOMAIN_TYPES, type DefaultDomainType, type DomainType, type Topology } from './topology.ts';
import { hex, parseHex } from './u64.ts';
import { WireError } from './wire.ts';

/** Bumped on any incompatible change to a message; `hello` carries it both ways. */
export const PROTOCOL_VERSION = 1;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export function encodeTopology(t: Topology): Json {
  return {
    iommus: t.iommus.map((m) => ({
      name: m.name, format: m.format, pgsizes: hex(m.pgsizes), ias: m.ias, oas: m.oas, contexts: m.contexts, pasidBits: m.pasidBits, domainTypes: [...m.domainTypes],
    })),
    groups: t.groups.map((g) => ({ name: g.name, iommu: g.iommu, defaultDomain: g.defaultDomain })),
    devices: t.devices.map((d) => ({ name: d.name, group: d.group, maxPasids: d.maxPasids })),
  };
}

const obj = (v: unknown, where: string): Record<string, unknown> => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new WireError(`${where}: expected an object`);
  return v as Record<string, unknown>;
};
const arr = (v: unknown, where: string): unknown[] => {
  if (!Array.isArray(v)) throw new WireError(`${where}: expected an array`);
  return v;
};
const str = (v: unknown, where: string): string => {
  if (typeof v !== 'string' || v.length === 0) throw new WireError(`${where}: expected a non-empty string`);
  return v;
};
const int = (v: unknown, where: string): number => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new WireError(`${where}: expected a non-negative integer`);
  return v;
};
const oneOf = <T extends string>(v: unknown, values: readonly T[], where: string): T => {
  if (typeof v !== 'string' || !values.includes(v as T)) throw new WireError(`${where}: expected one of ${values.join('|')}`);
  return v as T;
};

export function decodeTopology(v: unknown, where = 'topology'): Topology {
  const t = obj(v, where);
  return {
    iommus: arr(t.iommus, `${where}.iommus`).map((x, i) => {
      const w = `${where}.iommus[${i}]`;
      const m = obj(x, w);
      let pgsizes: bigint;
      try {
        pgsizes = parseHex(m.pgsizes, `${w}.pgsizes`);
      } catch (e) {
        throw new WireError((e as Error).message);
      }
      return {
        name: str(m.name, `${w}.name`), format: str(m.format, `${w}.format`), pgsizes, ias: int(m.ias, `${w}.ias`), oas: int(m.oas, `${w}.oas`),
        contexts: int(m.contexts, `${w}.contexts`), pasidBits: int(m.pasidBits, `${w}.pasidBits`),
        domainTypes: arr(m.domainTypes, `${w}.domainTypes`).map((d, j) => oneOf<DomainType>(d, DOMAIN_TYPES, `${w}.domainTypes[${j}]`)),
      };
    }),
    groups: arr(t.groups, `${where}.groups`).map((x, i) => {
      const g = obj(x, `${where}.groups[${i}]`);
      return { name: str(g.name, `${where}.groups[${i}].name`), iommu: str(g.iommu, `${where}.groups[${i}].iommu`), defaultDomain: oneOf<DefaultDomainType>(g.defaultDomain, ['dma', 'identity', 'blocked'], `${where}.groups[${i}].defaultDomain`) };
    }),
    devices: arr(t.devices, `${where}.devices`).map((x, i) => {
      const d = obj(x, `${where}.devices[${i}]`);
      return { name: str(d.name, `${where}.devices[${i}].name`), group: str(d.group, `${where}.devices[${i}].group`), maxPasids: int(d.maxPasids, `${where}.devices[${i}].maxPasids`) };
    }),
  };
}

/** Validates the `ok` body of a hello reply; the adapter's protocol version must match ours. */
export function decodeHello(v: unknown): AdapterInfo {
  const o = obj(v, 'hello');
  if (o.protocol !== PROTOCOL_VERSION) {
    throw new WireError(`hello: the adapter speaks protocol ${JSON.stringify(o.protocol ?? null)}, this suite speaks ${PROTOCOL_VERSION}`);
  }
  const policies: Record<string, string> = {};
  for (const [k, p] of Object.entries(o.policies === undefined ? {} : obj(o.policies, 'hello.policies'))) policies[k] = str(p, `hello.policies.${k}`);
  const capabilities: Capabilities = {};
  for (const [k, c] of Object.entries(o.capabilities === undefined ? {} : obj(o.capabilities, 'hello.capabilities'))) {
    if (!(CAPABILITIES as readonly string[]).includes(k)) throw new WireError(`hello.capabilities: unknown capability '${k}' (known: ${CAPABILITIES.join(', ')})`);
    if (typeof c !== 'boolean') throw new WireError(`hello.capabilities.${k}: expected true or false`);
    capabilities[k as keyof Capabilities] = c;
  }
  const t = o.topologies ?? 'any';
  const kit = o.kit === undefined ? undefined : decodeKit(o.kit);
  return {
    name: str(o.name, 'hello.name'),
    version: str(o.version, 'hello.version'),
    profile: str(o.profile, 'hello.profile'),
    policies,
    capabilities,
    topologies: t === 'any' ? 'any' : arr(t, 'hello.topologies').map((x, i) => decodeTopology(x, `hello.topologies[${i}]`)),
    ...(kit ? { kit } : {}),
  };
}

function decodeKit(v: unknown): KitInfo {
  const k = obj(v, 'hello.kit');
  return { name: str(k.name, 'hello.kit.name'), ops: arr(k.ops, 'hello.kit.ops').map((x, i) => oneOf<OpKind>(x, OP_KINDS, `hello.kit.ops[${i}]`)) };
}
