// The marker bytes a guest-driver kit puts where a read should go (impl/targets/qemu/common/read-markers.ts).

import { expect, test } from 'vitest';
import { ReadMarkers } from '../impl/targets/qemu/common/read-markers.ts';

test('read markers change every time and are never 0 (a blocked read) or the write byte', () => {
  const m = new ReadMarkers(0xa5);
  const drawn = Array.from({ length: 600 }, () => m.next());
  expect(drawn.filter((b) => b === 0 || b === 0xa5 || b > 0xff)).toEqual([]);
  expect(drawn.every((b, i) => i === 0 || b !== drawn[i - 1])).toBe(true);
  expect(new Set(drawn).size).toBe(250);
});
