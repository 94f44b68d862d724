// Messages from the extension host. The host is trusted, but a malformed message must not crash the app.
import type { HostToExplorer } from '../../src/protocol/explorerProtocol';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

function isProfile(p: unknown): boolean {
  return (
    isRecord(p) &&
    typeof p['statistic'] === 'string' &&
    Array.isArray(p['statistics']) &&
    Array.isArray(p['layers']) &&
    p['layers'].every((l: unknown) => isRecord(l) && typeof l['layer'] === 'number' && Array.isArray(l['values']))
  );
}

/** The message, or undefined when it is not one this webview understands. */
export function parseHostMessage(data: unknown): HostToExplorer | undefined {
  if (!isRecord(data)) return undefined;
  const type = data['type'];
  if (type === 'state') {
    const state = data['state'];
    if (!isRecord(state) || typeof state['colourMode'] !== 'string') return undefined;
    const doc = state['document'];
    if (doc !== undefined && doc !== null && !(isRecord(doc) && Array.isArray(doc['tokens']) && Array.isArray(doc['routing']) && Array.isArray(doc['known']) && Array.isArray(doc['balance']))) return undefined;
    const profile = state['profile'];
    if (profile !== undefined && profile !== null && !isProfile(profile)) return undefined;
    return data as HostToExplorer;
  }
  return undefined;
}
