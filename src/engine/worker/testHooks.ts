// Faults a test can ask the engine process to commit, to prove that the host survives them. Read from
// MOE_WORKBENCH_TEST_FAULT, which only tests set; without it the service is returned untouched.
import { existsSync, rmSync } from 'node:fs';
import type { EngineMethod } from '../../protocol/engineProtocol';
import type { EngineService } from '../engineService';

/**
 * `abort:<method>`: a native abort (SIGABRT, as onnxruntime's own `terminate called…` does) once that
 * method reports progress, i.e. mid-run. `abort:<method>@<file>`: the same, only while <file> exists
 * (it is removed first), so the restarted engine runs normally.
 */
export const TEST_FAULT_ENV = 'MOE_WORKBENCH_TEST_FAULT';

export function withTestFaults(service: EngineService, spec: string | undefined = process.env[TEST_FAULT_ENV]): EngineService {
  const m = /^abort:(\w+)(?:@(.+))?$/.exec(spec ?? '');
  if (!m) return service;
  const target = m[1] as EngineMethod;
  const once = m[2];
  const armed = (): boolean => {
    if (once === undefined) return true;
    if (!existsSync(once)) return false;
    rmSync(once);
    return true;
  };
  return {
    handle: (method, params, ctx) =>
      service.handle(method, params, method !== target ? ctx : {
        ...ctx,
        progress: (p) => {
          ctx.progress(p);
          if (armed()) process.abort();
        },
      }),
    dispose: () => service.dispose(),
  };
}
