// The whole schema of a `moe-workbench.profile` v1 file, checked value by value on read: types, ranges,
// and every array's length against its layer's expert count and the sample's token count, so a bad file
// is refused with the JSON path of the first bad value instead of failing later (or planning silently
// from garbage). Statistics may be `null`: JSON has no NaN, so the writer's NaN/±Infinity (from a model
// with NaN weights) are stored as null, read back as NaN, and refused only when a plan would use them.
import type { ExpertProfile, LayerProfile, ProfileSample } from '../../protocol/expertOps';
import {
  ShapeError,
  childPath,
  expectArray,
  expectArrayOf,
  expectBoolean,
  expectInteger,
  expectNumber,
  expectRecord,
  expectString,
  optionalField,
} from '../../protocol/jsonShape';

/** Expert ids are stored as Uint16 in the sample. */
const MAX_EXPERTS = 65535;
const HEX64 = /^[0-9a-f]{64}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The profile in `v`, or a ShapeError naming the first bad value. Null statistics become NaN. */
export function parseProfile(v: unknown): ExpertProfile {
  const p = expectRecord(v, '');
  if (p['format'] !== 'moe-workbench.profile') throw new ShapeError('format', '"moe-workbench.profile" (this is not a MoE Workbench profile)', p['format']);
  if (p['version'] !== 1) throw new ShapeError('version', '1 (the profile version this release reads)', p['version']);
  const m = expectRecord(p['model'], 'model');
  const model = {
    sha256: hex64(m['sha256'], 'model.sha256'),
    name: expectString(m['name'], 'model.name'),
    dir: expectString(m['dir'], 'model.dir'),
    modelType: expectString(m['modelType'], 'model.modelType'),
  };
  const d = expectRecord(p['data'], 'data');
  const documents = expectArrayOf(d['documents'], 'data.documents', (x, at) => {
    const r = expectRecord(x, at);
    const source = expectString(r['source'], childPath(at, 'source'));
    const line = optionalField(r, 'line', at, (y, yat) => expectInteger(y, yat, 1));
    return line === undefined ? { source } : { source, line };
  });
  const data = {
    files: expectArrayOf(d['files'], 'data.files', expectString),
    documents,
    sha256: hex64(d['sha256'], 'data.sha256'),
    chunkTokens: expectInteger(d['chunkTokens'], 'data.chunkTokens', 1),
    chunks: expectInteger(d['chunks'], 'data.chunks'),
    tokens: expectInteger(d['tokens'], 'data.tokens'),
    truncated: expectBoolean(d['truncated'], 'data.truncated'),
  };
  const layerValues = expectArray(p['layers'], 'layers');
  if (layerValues.length === 0) throw new ShapeError('layers', 'at least one MoE layer', layerValues);
  const layers = layerValues.map((x, i) => parseLayer(x, `layers[${i}]`));
  layers.forEach((l, i) => {
    if (i > 0 && l.layer <= layers[i - 1]!.layer) throw new ShapeError(`layers[${i}].layer`, `a layer index above ${layers[i - 1]!.layer} (layers are in increasing order, each once)`, l.layer);
  });
  return {
    format: 'moe-workbench.profile',
    version: 1,
    createdAt: expectString(p['createdAt'], 'createdAt'),
    model,
    data,
    runMs: expectNumber(p['runMs'], 'runMs', 0),
    layers,
    sample: parseSample(p['sample'], layers, documents.length),
  };
}

function parseLayer(v: unknown, at: string): LayerProfile {
  const l = expectRecord(v, at);
  const layer = expectInteger(l['layer'], `${at}.layer`);
  const E = expectInteger(l['numExperts'], `${at}.numExperts`, 1, MAX_EXPERTS);
  const topK = expectInteger(l['topK'], `${at}.topK`, 1, E);
  const tokens = expectInteger(l['tokens'], `${at}.tokens`);
  const stats = (key: string, n = E): number[] => expectArrayOf(l[key], `${at}.${key}`, statistic, n, 'numbers or null');
  return {
    layer,
    numExperts: E,
    topK,
    tokens,
    count: expectArrayOf(l['count'], `${at}.count`, (x, xat) => expectInteger(x, xat, 0, tokens), E, 'token counts'),
    gateSum: stats('gateSum'),
    probSum: stats('probSum'),
    eanSum: stats('eanSum'),
    reapSum: stats('reapSum'),
    maxNorm: stats('maxNorm'),
    logitSum: stats('logitSum'),
    logitGram: stats('logitGram', E * E),
  };
}

/** A statistic: a finite number, or null for a NaN/±Infinity the profiler computed (read as NaN). */
function statistic(v: unknown, at: string): number {
  if (v === null) return NaN;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ShapeError(at, 'a finite number (or null for a statistic that was not a number)', v);
  return v;
}

function parseSample(v: unknown, layers: readonly LayerProfile[], documentCount: number): ProfileSample {
  const s = expectRecord(v, 'sample');
  const tokens = expectArrayOf(s['tokens'], 'sample.tokens', expectString);
  const n = tokens.length;
  const doc = expectArrayOf(s['doc'], 'sample.doc', (x, at) => expectInteger(x, at, 0, Math.max(0, documentCount - 1)), n, 'document indices (one per sampled token)');
  if (n > 0 && documentCount === 0) throw new ShapeError('data.documents', 'the documents the sample comes from', []);
  const offset = expectArrayOf(s['offset'], 'sample.offset', (x, at) => expectInteger(x, at), n, 'offsets (one per sampled token)');
  const experts = expectArrayOf(s['experts'], 'sample.experts', base64, layers.length, 'base64 strings (one per MoE layer)');
  const weights = expectArrayOf(s['weights'], 'sample.weights', base64, layers.length, 'base64 strings (one per MoE layer)');
  layers.forEach((l, i) => {
    const ids = Buffer.from(experts[i]!, 'base64');
    if (ids.length !== n * l.topK * 2) throw new ShapeError(`sample.experts[${i}]`, `${n * l.topK} Uint16 expert ids (${n} tokens × top-${l.topK})`, ids.length, `${ids.length} bytes`);
    for (let j = 0; j < n * l.topK; j++) {
      const e = ids.readUInt16LE(j * 2);
      if (e >= l.numExperts) throw new ShapeError(`sample.experts[${i}]`, `expert ids below ${l.numExperts} (layer ${l.layer}'s expert count)`, e, `id ${e} for sampled token ${Math.floor(j / l.topK)}`);
    }
    const w = Buffer.from(weights[i]!, 'base64');
    if (w.length !== n * l.topK * 4) throw new ShapeError(`sample.weights[${i}]`, `${n * l.topK} Float32 weights (${n} tokens × top-${l.topK})`, w.length, `${w.length} bytes`);
  });
  return { tokens, doc, offset, experts, weights };
}

function hex64(v: unknown, at: string): string {
  const s = expectString(v, at);
  if (!HEX64.test(s)) throw new ShapeError(at, 'a sha256 (64 hexadecimal digits)', s);
  return s;
}

function base64(v: unknown, at: string): string {
  const s = expectString(v, at);
  if (s.length % 4 !== 0 || !BASE64.test(s)) throw new ShapeError(at, 'base64 data', s);
  return s;
}
