// Messages from the extension host. The host is trusted, but a malformed message must not break the panel:
// the shapes the panel relies on are checked, anything else is dropped.
import type { HostToTraining, TrainingPhase } from '../../src/protocol/trainingPanelProtocol';

const PHASES: readonly TrainingPhase[] = ['planning', 'setup', 'running', 'done', 'failed', 'cancelled'];

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number';

function isPoint(p: unknown): boolean {
  return isRecord(p) && isNum(p['step']) && Number.isFinite(p['step']) && isNum(p['loss']) && isNum(p['tokensPerSecond']) && isNum(p['lr']) && (p['evalLoss'] === undefined || isNum(p['evalLoss']));
}

function isPlan(p: unknown): boolean {
  if (!isRecord(p) || !Array.isArray(p['layers']) || !isRecord(p['data']) || !isRecord(p['settings'])) return false;
  const d = p['data'];
  return (
    isNum(p['otherParameters']) &&
    isNum(p['totalParameters']) &&
    Array.isArray(d['files']) &&
    Array.isArray(d['preview']) &&
    p['layers'].every((l: unknown) => isRecord(l) && isNum(l['layer']) && isNum(l['numExperts']) && Array.isArray(l['selected']) && isNum(l['expertParameters']) && (l['scores'] === undefined || Array.isArray(l['scores'])))
  );
}

function isRun(r: unknown): boolean {
  return isRecord(r) && isNum(r['totalSteps']) && isNum(r['startedAt']) && Array.isArray(r['points']) && r['points'].every(isPoint);
}

function isOutcome(o: unknown): boolean {
  return isRecord(o) && isNum(o['steps']) && isNum(o['totalSteps']) && Array.isArray(o['routingDrift']);
}

/** The message, or undefined when it is not one this panel understands. */
export function parseHostMessage(data: unknown): HostToTraining | undefined {
  if (!isRecord(data)) return undefined;
  switch (data['type']) {
    case 'state': {
      const s = data['state'];
      if (!isRecord(s) || !PHASES.includes(s['phase'] as TrainingPhase)) return undefined;
      if (s['plan'] !== undefined && !isPlan(s['plan'])) return undefined;
      if (s['run'] !== undefined && !isRun(s['run'])) return undefined;
      if (s['outcome'] !== undefined && !isOutcome(s['outcome'])) return undefined;
      if (s['error'] !== undefined && typeof s['error'] !== 'string') return undefined;
      return data as HostToTraining;
    }
    case 'step':
      return isPoint(data['point']) && (data['etaMs'] === undefined || isNum(data['etaMs'])) ? (data as HostToTraining) : undefined;
    case 'stage':
      return typeof data['stage'] === 'string' ? (data as HostToTraining) : undefined;
    default:
      return undefined;
  }
}
