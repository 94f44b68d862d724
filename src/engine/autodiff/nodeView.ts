// A forward node as the autodiff reads it: op type, input/output names and decoded attributes.
import type { NodeProto } from '../onnx/onnxProto';
import { AttributeType } from '../onnx/onnxProto';

export type AttrValue = number | number[] | string;

export interface NodeView {
  readonly opType: string;
  readonly domain: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: ReadonlyMap<string, AttrValue>;
}

export function viewNode(n: NodeProto): NodeView {
  const attrs = new Map<string, AttrValue>();
  for (const a of n.attribute ?? []) {
    if (a.type === AttributeType.INT) attrs.set(a.name, Number(a.i ?? 0));
    else if (a.type === AttributeType.FLOAT) attrs.set(a.name, a.f ?? 0);
    else if (a.type === AttributeType.INTS) attrs.set(a.name, (a.ints ?? []).map(Number));
    else if (a.type === AttributeType.STRING) attrs.set(a.name, new TextDecoder().decode(a.s ?? new Uint8Array()));
  }
  return { opType: n.opType, domain: n.domain ?? '', inputs: n.input ?? [], outputs: n.output ?? [], attrs };
}

export function intAttr(n: NodeView, name: string, dflt: number): number {
  const v = n.attrs.get(name);
  return typeof v === 'number' ? v : dflt;
}

export function intsAttr(n: NodeView, name: string): number[] | undefined {
  const v = n.attrs.get(name);
  return Array.isArray(v) ? v : undefined;
}

export function strAttr(n: NodeView, name: string, dflt: string): string {
  const v = n.attrs.get(name);
  return typeof v === 'string' ? v : dflt;
}
