// The pieces of the WebAssembly binary format the project's hand-assembled SIMD kernels share (widenWasm.ts,
// adamwWasm.ts): LEB128 numbers, sections, names, memory immediates, the module header, and the few members
// of the WebAssembly JS API they use (the project's libs declare no WebAssembly values).

/** Unsigned LEB128. */
export function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** A section: its id, its body's length, its body. */
export const section = (id: number, body: number[]): number[] => [id, ...leb(body.length), ...body];
/** A name (ASCII). */
export const str = (s: string): number[] => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
/** A memory immediate: alignment hint 1 byte (any address), then the offset. */
export const mem = (offset: number): number[] => [0x00, ...leb(offset)];
/** "\0asm", version 1. */
export const WASM_HEADER: readonly number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
/** The SIMD opcode prefix. */
export const SIMD = 0xfd;

/** A compiled module (structured-cloneable: a worker instantiates the same one). */
export type WasmModule = { readonly __wasmModule?: never };

interface WasmApi {
  readonly Module: new (bytes: Uint8Array) => WasmModule;
  readonly Instance: new (module: WasmModule) => { readonly exports: Record<string, unknown> };
}
const wasmApi = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/** `bytes` compiled, or undefined where WebAssembly (or an instruction it uses, e.g. SIMD) is unavailable. */
export function compileWasm(bytes: Uint8Array): WasmModule | undefined {
  try {
    return wasmApi ? new wasmApi.Module(bytes) : undefined;
  } catch {
    return undefined;
  }
}

/** The exports of a fresh instance of `module`, or undefined when it cannot be instantiated. */
export function instantiateWasm(module: WasmModule | undefined): Record<string, unknown> | undefined {
  try {
    return module && wasmApi ? new wasmApi.Instance(module).exports : undefined;
  } catch {
    return undefined;
  }
}
