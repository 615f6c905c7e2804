// The process an in-process adapter runs in: `node runner/stdio/host.js <spec> <options JSON>`.
// Module hooks must be registered before the TypeScript host is imported.
import { register } from 'tsx/esm/api';

register();
await import('./host-main.ts');
