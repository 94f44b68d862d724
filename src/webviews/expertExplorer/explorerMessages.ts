// Validation of messages from the Expert Explorer webview. The webview runs untrusted-by-default code
// paths (it renders document text), so anything malformed is dropped rather than acted on.
import { isExpertStatistic } from '../../features/explorer/profileSection';
import type { ExplorerToHost } from '../../protocol/explorerProtocol';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** The message, or undefined when it is unknown or malformed. */
export function parseExplorerMessage(data: unknown): ExplorerToHost | undefined {
  if (!isRecord(data)) return undefined;
  switch (data['type']) {
    case 'ready':
      return { type: 'ready' };
    case 'revealToken':
      return isIndex(data['index']) ? { type: 'revealToken', index: data['index'] } : undefined;
    case 'selectLayer':
      return isIndex(data['layer']) ? { type: 'selectLayer', layer: data['layer'] } : undefined;
    case 'selectExpert': {
      // postMessage serialises to JSON, so "no expert" arrives as a missing property (or null).
      const expert = data['expert'];
      if (!isIndex(data['layer']) || !(expert === undefined || expert === null || isIndex(expert))) return undefined;
      return { type: 'selectExpert', layer: data['layer'], expert: expert ?? undefined };
    }
    case 'selectStatistic':
      return isExpertStatistic(data['statistic']) ? { type: 'selectStatistic', statistic: data['statistic'] } : undefined;
    default:
      return undefined;
  }
}
