// Command ids, view ids and configuration keys, declared once. test/unit/manifest.test.ts checks them
// against package.json.

export const Commands = {
  openModel: 'moeWorkbench.openModel',
  closeModel: 'moeWorkbench.closeModel',
  inspectModel: 'moeWorkbench.inspectModel',
  showModelMenu: 'moeWorkbench.showModelMenu',
  annotateEditor: 'moeWorkbench.annotateEditor',
  annotateSelection: 'moeWorkbench.annotateSelection',
  toggleAnnotations: 'moeWorkbench.toggleAnnotations',
  selectLayer: 'moeWorkbench.selectLayer',
  colourBy: 'moeWorkbench.colourBy',
  selectExpert: 'moeWorkbench.selectExpert',
  showTokenInExplorer: 'moeWorkbench.showTokenInExplorer',
  profileExperts: 'moeWorkbench.profileExperts',
  openProfile: 'moeWorkbench.openProfile',
  selectProfileStatistic: 'moeWorkbench.selectProfileStatistic',
  pruneExperts: 'moeWorkbench.pruneExperts',
  mergeExperts: 'moeWorkbench.mergeExperts',
  openReport: 'moeWorkbench.openReport',
  fineTuneExperts: 'moeWorkbench.fineTuneExperts',
  duplicateExpert: 'moeWorkbench.duplicateExpert',
  upcycleToMoe: 'moeWorkbench.upcycleToMoe',
  addExperts: 'moeWorkbench.addExperts',
  continueTrainingNewExperts: 'moeWorkbench.continueTrainingNewExperts',
} as const;
export type CommandId = (typeof Commands)[keyof typeof Commands];

export const Views = {
  container: 'moeWorkbench',
  explorer: 'moeWorkbench.explorer',
  modelTree: 'moeWorkbench.modelTree',
} as const;

/** Webview panel types (editor tabs). */
export const Panels = {
  planPreview: 'moeWorkbench.planPreview',
  report: 'moeWorkbench.report',
  training: 'moeWorkbench.training',
  upcyclePreview: 'moeWorkbench.upcyclePreview',
  addExpertsPreview: 'moeWorkbench.addExpertsPreview',
} as const;

/** Context keys the extension sets (package.json `when` clauses). */
export const Contexts = {
  /** A dense model (no MoE layers) is loaded: "Upcycle to MoE…" is offered. */
  denseModelOpen: 'moeWorkbench.denseModelOpen',
  /** The loaded model's moe_workbench.json records added experts: "Continue Training New Experts…" is enabled. */
  modelHasNewExperts: 'moeWorkbench.modelHasNewExperts',
} as const;

export const Settings = {
  section: 'moeWorkbench',
  modelPath: 'modelPath',
  debounceMs: 'annotation.debounceMs',
  tokensPerPass: 'annotation.tokensPerPass',
  memoryBudget: 'memoryBudget',
} as const;

/** The Get Started walkthrough (package.json contributes.walkthroughs); VS Code knows it as `moe-workbench.moe-workbench#getStarted`. */
export const Walkthroughs = {
  getStarted: 'getStarted',
} as const;

export const PROMPT_LANGUAGE = 'moe-prompt';
/** Expert colours contributed in package.json: moeWorkbench.expert0 .. expert{PALETTE_SIZE-1}. */
export const PALETTE_SIZE = 16;
export const ENTROPY_BINS = 5;
