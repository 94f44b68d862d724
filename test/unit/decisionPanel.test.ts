// DecisionPanel.writeChoice, the write / cancel loop of the prune-merge, upcycle and add-experts previews:
// Write asks the question, a dismissed question re-enables the buttons for a new choice, Cancel or a closed
// tab ends it with nothing chosen, and the tab loads no local resources.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { type FakeWebviewPanel, webviewPanels, withFakeVscode } from '../support/fakeVscode';

const { DecisionPanel } = withFakeVscode(() => require('../../src/webviews/planPreview/decisionPanel') as typeof import('../../src/webviews/planPreview/decisionPanel'));

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

function open(): { panel: InstanceType<typeof DecisionPanel>; fake: FakeWebviewPanel } {
  const panel = new DecisionPanel('test.preview', 'Preview', (csp) => `<html data-csp="${csp}"></html>`);
  return { panel, fake: webviewPanels.at(-1)! };
}

describe('DecisionPanel.writeChoice', () => {
  it('asks after Write; a dismissed question re-enables the buttons and waits for the next Write', async () => {
    const { panel, fake } = open();
    assert.deepEqual(fake.options, { enableScripts: true, localResourceRoots: [], enableFindWidget: true });
    assert.equal(fake.webview.html, '<html data-csp="vscode-webview://fake"></html>');
    const answers = [undefined, 'out-folder'];
    let asked = 0;
    const chosen = panel.writeChoice(async () => answers[asked++]);
    await tick();
    assert.equal(asked, 0, 'nothing is asked before Write');
    fake.receive({ type: 'reveal', source: 0, token: 1 });
    fake.receive({ type: 'bogus' });
    await tick();
    assert.equal(asked, 0, 'other messages are no decision');
    fake.receive({ type: 'write' });
    await tick();
    assert.equal(asked, 1);
    assert.deepEqual(fake.webview.posted, [{ type: 'enable' }], 'the dismissed question re-enables the buttons');
    assert.equal(fake.revealed, 1);
    fake.receive({ type: 'write' });
    assert.equal(await chosen, 'out-folder');
    assert.equal(asked, 2);
    panel.dispose();
    assert.equal(fake.disposed, true);
  });

  it('Cancel, or closing the tab while it waits, chooses nothing and asks nothing', async () => {
    const a = open();
    let asked = 0;
    const cancelled = a.panel.writeChoice(async () => (asked++, 'x'));
    a.fake.receive({ type: 'cancel' });
    assert.equal(await cancelled, undefined);
    a.panel.dispose();
    const b = open();
    const closed = b.panel.writeChoice(async () => (asked++, 'x'));
    b.fake.dispose();
    assert.equal(await closed, undefined);
    assert.equal(asked, 0);
    assert.equal(await b.panel.writeChoice(async () => 'late'), undefined, 'a closed tab stays cancelled');
  });
});
