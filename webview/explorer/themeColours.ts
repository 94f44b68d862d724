// The live theme for colours computed in script (cellColours.ts): VS Code writes its colours as CSS
// variables on <html> and the theme kind as a class on <body>, and rewrites both when the theme changes.
import { heatTheme, type HeatTheme } from './cellColours';

function currentHeatTheme(): HeatTheme | undefined {
  const css = getComputedStyle(document.documentElement);
  const classes = document.body.classList;
  const dark = (classes.contains('vscode-dark') || classes.contains('vscode-high-contrast')) && !classes.contains('vscode-high-contrast-light');
  return heatTheme((name) => css.getPropertyValue(name), dark);
}

/** Calls `listener` with the current theme now and after every theme change; returns the unsubscribe function. */
export function watchHeatTheme(listener: (theme: HeatTheme | undefined) => void): () => void {
  listener(currentHeatTheme());
  const observer = new MutationObserver(() => listener(currentHeatTheme()));
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });
  observer.observe(document.body, { attributes: true, attributeFilter: ['class'] });
  return () => observer.disconnect();
}
