/**
 * jupyter-codegen in JupyterLab: one comm per notebook kernel (kernelLink.ts), the notebook sent to the kernel
 * before each magic run (snapshot.ts), the generated cells inserted once the magic cell has run (insertion.ts), the
 * sidebar chat (chatPanel.ts), the fill-selection command (fill.ts) and ghost-text completion (ghostText.ts) on the
 * server's shared model (service.ts),
 * and the settings that the magics and the chat share (settings.ts).
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { Cell } from '@jupyterlab/cells';
import { ICompletionProviderManager } from '@jupyterlab/completer';
import { INotebookTracker, Notebook, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { bugIcon } from '@jupyterlab/ui-components';

import { explainCell, fixCell, hasError } from './cellActions';
import { ChatPanel } from './chatPanel';
import { fillSelection } from './fill';
import { GhostTextProvider } from './ghostText';
import { codegenIcon } from './icon';
import { CellInserter } from './insertion';
import { KernelLink } from './kernelLink';
import { watchGeneratedCells } from './marking';
import { IHello, INSERT_CELLS, isMagicSource, PROTOCOL_VERSION, REPLACE_SOURCE } from './protocol';
import { ModelService } from './service';
import { DEFAULT_SETTINGS, ICodegenSettings, PLUGIN_ID, settingsMessage, watchSettings } from './settings';
import { takeSnapshot } from './snapshot';

const EXTENSION_VERSION = '0.1.0';

export const COMMAND_FILL = 'codegen:fill-selection';
export const COMMAND_CHAT = 'codegen:open-chat';
export const COMMAND_FIX = 'codegen:fix-cell';
export const COMMAND_EXPLAIN = 'codegen:explain-cell';

interface ICellSignal {
  notebook: Notebook;
  cell: Cell;
}

function activate(
  app: JupyterFrontEnd,
  tracker: INotebookTracker,
  registry: ISettingRegistry | null,
  restorer: ILayoutRestorer | null,
  palette: ICommandPalette | null,
  completions: ICompletionProviderManager | null
): void {
  const links = new Map<NotebookPanel, KernelLink>();
  const inserter = new CellInserter();
  const service = new ModelService();
  let settings: ICodegenSettings = DEFAULT_SETTINGS;
  const hello = (): IHello => ({
    type: 'hello',
    protocol: PROTOCOL_VERSION,
    frontend: `${app.name} ${app.version}, jupyter-codegen ${EXTENSION_VERSION}`,
    capabilities: [INSERT_CELLS, REPLACE_SOURCE],
    settings: settingsMessage(settings)
  });
  const ranInKernel = (panel: NotebookPanel, cellId: string): boolean => links.get(panel)?.ranInKernel.has(cellId) ?? false;
  // The kernel's variables summary, asked for when a question goes out, and kept as of the last run cell for ghost
  // text (variables change only when cells run, and typing must never wait for a busy kernel).
  const variables = (panel: NotebookPanel): Promise<string | null> =>
    links.get(panel)?.requestVariables() ?? Promise.resolve(null);
  const lastVariables = new Map<NotebookPanel, string | null>();

  tracker.widgetAdded.connect((_, panel) => {
    const link = new KernelLink(panel.sessionContext, hello);
    links.set(panel, link);
    watchGeneratedCells(panel.content);
    panel.disposed.connect(() => {
      link.dispose();
      links.delete(panel);
      lastVariables.delete(panel);
    });
  });

  const linkOf = (notebook: Notebook): [NotebookPanel, KernelLink] | null => {
    const panel = tracker.find(p => p.content === notebook);
    const link = panel ? links.get(panel) : undefined;
    return panel && link ? [panel, link] : null;
  };

  // Synchronous, so the snapshot is on the shell channel before the cell's execute request.
  NotebookActions.executionScheduled.connect((_, { notebook, cell }: ICellSignal) => {
    const found = linkOf(notebook);
    if (found === null || cell.model.type !== 'code') {
      return;
    }
    const [panel, link] = found;
    const cellId = cell.model.id;
    if (isMagicSource(cell.model.sharedModel.getSource())) {
      const snapshot = takeSnapshot(notebook, cellId, panel.context.path, id => link.ranInKernel.has(id));
      link.sendSnapshot(snapshot);
    }
    link.ranInKernel.add(cellId);
  });

  const chat = new ChatPanel({
    service, settings: () => settings, ranInKernel, variables,
    explainActive: () => void app.commands.execute(COMMAND_EXPLAIN)
  });
  chat.title.icon = codegenIcon;
  app.shell.add(chat, 'right', { rank: 600 });
  restorer?.add(chat, chat.id);
  tracker.currentChanged.connect((_, panel) => chat.bind(panel));
  chat.bind(tracker.currentWidget);

  // Fix is offered on cells with an error output: re-evaluated when the active cell or its outputs change.
  tracker.activeCellChanged.connect(() => app.commands.notifyCommandChanged(COMMAND_FIX));
  NotebookActions.executed.connect((_, { notebook, cell }: ICellSignal) => {
    app.commands.notifyCommandChanged(COMMAND_FIX);
    if (cell.model.type !== 'code' || cell.isDisposed) {
      return;
    }
    inserter.handleExecuted(notebook, cell.model.id);
    const found = linkOf(notebook);
    if (found !== null) {
      const [panel, link] = found;
      if (cell.model.sharedModel.getSource().includes('jupyter_codegen')) {
        link.retry(); // `%load_ext jupyter_codegen` just ran: the comm's target exists now
      }
      void link.requestVariables().then(summary => {
        if (summary !== null) {
          lastVariables.set(panel, summary);
        }
      });
    }
    if (chat.notebook?.content === notebook && isMagicSource(cell.model.sharedModel.getSource())) {
      void chat.reload(); // The magic added a turn to the conversation the chat shows.
    }
  });

  app.commands.addCommand(COMMAND_FILL, {
    label: 'Fill Selection with Code',
    caption: 'Replace the selection of the active cell (or fill at the cursor) with code from both sides',
    isEnabled: () => tracker.currentWidget?.content.activeCell?.model.type === 'code',
    execute: () => {
      const panel = tracker.currentWidget;
      if (panel !== null) {
        return fillSelection(panel, service, settings, id => ranInKernel(panel, id), variables(panel));
      }
    }
  });
  app.commands.addCommand(COMMAND_FIX, {
    label: 'Fix Cell Error',
    caption: 'Replace the failing cell with a fix the model proposes, checked in a copy of the kernel (undo with Ctrl+Z)',
    icon: bugIcon,
    isVisible: () => hasError(tracker.currentWidget?.content.activeCell),
    execute: () => {
      const panel = tracker.currentWidget;
      const cell = panel?.content.activeCell;
      if (panel && cell && hasError(cell)) {
        return fixCell(panel, cell);
      }
    }
  });
  app.commands.addCommand(COMMAND_EXPLAIN, {
    label: 'Explain Cell',
    caption: 'Explain the active cell in one sentence (in the code chat)',
    icon: codegenIcon,
    isEnabled: () => tracker.currentWidget?.content.activeCell?.model.type === 'code',
    execute: async () => {
      const panel = tracker.currentWidget;
      const cell = panel?.content.activeCell;
      if (!panel || !cell || cell.model.type !== 'code') {
        return;
      }
      const index = panel.content.widgets.indexOf(cell);
      app.shell.activateById(chat.id);
      const sentence = await explainCell(panel, cell);
      if (sentence !== null) {
        chat.addExplanation(`Explain cell ${index + 1}`, sentence);
      }
    }
  });
  app.commands.addCommand(COMMAND_CHAT, {
    label: 'Open the Code Chat',
    execute: () => app.shell.activateById(chat.id)
  });
  completions?.registerInlineProvider(
    new GhostTextProvider(service, () => settings, ranInKernel, panel => lastVariables.get(panel) ?? null)
  );
  palette?.addItem({ command: COMMAND_FILL, category: 'jupyter-codegen' });
  palette?.addItem({ command: COMMAND_CHAT, category: 'jupyter-codegen' });
  palette?.addItem({ command: COMMAND_FIX, category: 'jupyter-codegen' });
  palette?.addItem({ command: COMMAND_EXPLAIN, category: 'jupyter-codegen' });

  void watchSettings(registry, next => {
    settings = next;
    inserter.enabled = next.insert;
    const message = settingsMessage(next);
    for (const link of links.values()) {
      link.sendSettings(message);
    }
  });
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Inserts the cells that %%codegen and %%infill generate, gives the kernel the notebook on screen, and adds the code chat and the fill-selection command.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ISettingRegistry, ILayoutRestorer, ICommandPalette, ICompletionProviderManager],
  activate
};

export default plugin;
