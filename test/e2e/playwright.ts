// Loads playwright-core from the e2e prefix (scripts/e2e/install.sh), not from the project's node_modules:
// the e2e tools stay out of `npm ci`. Its types are not there when the project typechecks on a clean clone,
// so the few parts the harness uses are declared here structurally (they match playwright-core 1.65).
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { e2ePrefix } from './paths';

/**
 * The DOM as the page functions below see it. The project typechecks without the DOM lib (it is Node
 * code), so the little that runs in the browser is typed here. Page functions must stay free of named
 * inner functions: tsx compiles them with esbuild's keepNames, and its `__name` helper does not exist
 * in the page.
 */
export interface DomRect { top: number; left: number; width: number; height: number }
export interface DomElement {
  readonly innerText: string;
  readonly textContent: string | null;
  readonly className: string;
  readonly isConnected: boolean;
  getAttribute(name: string): string | null;
  getBoundingClientRect(): DomRect;
  querySelector(selector: string): DomElement | null;
  querySelectorAll(selector: string): ArrayLike<DomElement>;
  closest(selector: string): DomElement | null;
  contains(other: DomElement | null): boolean;
}
export interface DomDocument {
  readonly activeElement: DomElement | null;
  querySelector(selector: string): DomElement | null;
  querySelectorAll(selector: string): ArrayLike<DomElement>;
}
/** The page's globals: write `(globalThis as unknown as PageGlobals).document` inside a page function. */
export interface PageGlobals {
  document: DomDocument;
  performance: { getEntriesByName(name: string): ArrayLike<unknown> };
}

export interface Locator {
  click(options?: { timeout?: number; position?: { x: number; y: number }; button?: 'left' | 'right' | 'middle' }): Promise<void>;
  fill(value: string, options?: { timeout?: number }): Promise<void>;
  filter(options: { hasText?: string | RegExp }): Locator;
  hover(options?: { timeout?: number; position?: { x: number; y: number } }): Promise<void>;
  waitFor(options?: { state?: 'attached' | 'detached' | 'visible' | 'hidden'; timeout?: number }): Promise<void>;
  innerText(options?: { timeout?: number }): Promise<string>;
  allInnerTexts(): Promise<string[]>;
  getAttribute(name: string, options?: { timeout?: number }): Promise<string | null>;
  count(): Promise<number>;
  nth(index: number): Locator;
  first(): Locator;
  last(): Locator;
  locator(selector: string): Locator;
  isVisible(): Promise<boolean>;
  boundingBox(): Promise<{ x: number; y: number; width: number; height: number } | null>;
  evaluateAll<R, A = undefined>(fn: (elements: DomElement[], arg: A) => R, arg?: A): Promise<R>;
}

export interface Keyboard {
  press(key: string, options?: { delay?: number }): Promise<void>;
  type(text: string, options?: { delay?: number }): Promise<void>;
  insertText(text: string): Promise<void>;
}

export interface Mouse {
  move(x: number, y: number, options?: { steps?: number }): Promise<void>;
  wheel(deltaX: number, deltaY: number): Promise<void>;
}

/** The document inside an iframe (webviews nest two). */
export interface FrameLocator {
  locator(selector: string): Locator;
  frameLocator(selector: string): FrameLocator;
}

export interface Page {
  frameLocator(selector: string): FrameLocator;
  goto(url: string, options?: { timeout?: number; waitUntil?: 'load' | 'domcontentloaded' | 'networkidle' | 'commit' }): Promise<unknown>;
  locator(selector: string): Locator;
  evaluate<R, A = undefined>(fn: (arg: A) => R, arg?: A): Promise<R>;
  keyboard: Keyboard;
  mouse: Mouse;
  screenshot(options?: { path?: string; fullPage?: boolean }): Promise<Buffer>;
  waitForTimeout(ms: number): Promise<void>;
  on(event: 'console', listener: (message: { type(): string; text(): string }) => void): void;
  on(event: 'pageerror', listener: (error: Error) => void): void;
}

export interface BrowserContext {
  pages(): Page[];
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

interface LaunchPersistentContextOptions {
  executablePath?: string;
  headless?: boolean;
  args?: string[];
  viewport?: { width: number; height: number };
  timeout?: number;
}

interface PlaywrightCore {
  chromium: { launchPersistentContext(userDataDir: string, options?: LaunchPersistentContextOptions): Promise<BrowserContext> };
}

/** playwright-core from the e2e prefix, with an error that says how to get it. */
export function loadPlaywright(): PlaywrightCore {
  const from = path.join(e2ePrefix, 'playwright', 'package.json');
  try {
    return createRequire(from)('playwright-core') as PlaywrightCore;
  } catch (e) {
    throw new Error(`playwright-core not found under ${path.dirname(from)}: run scripts/e2e/install.sh (${(e as Error).message})`);
  }
}
