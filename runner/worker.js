// Worker-thread entry. Module hooks registered on the main thread do not reach workers in
// Node 20, so each worker registers tsx itself before loading the TypeScript task.
import { register } from 'tsx/esm/api';

register();
const { default: runUnit, teardown } = await import('./worker-task.ts');
export default runUnit;
export { teardown };
