// CSP nonces for every HTML this project renders (webviews and the saved report).
import { randomBytes } from 'node:crypto';

/** 128 bits of randomness, base64 (valid in a CSP nonce-source). A fresh one for every render. */
export function makeNonce(): string {
  return randomBytes(16).toString('base64');
}
