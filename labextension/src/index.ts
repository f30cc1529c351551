/**
 * jupyter-codegen in JupyterLab: one comm per notebook kernel (kernelLink.ts), the notebook sent to the kernel
 * before each magic run (snapshot.ts), and the generated cells inserted once the magic cell has run (insertion.ts).
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Cell } from '@jupyterlab/cells';
import { INotebookTracker, Notebook, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { CellInserter } from './insertion';
import { KernelLink } from './kernelLink';
import { watchGeneratedCells } from './marking';
import { IHello, INSERT_CELLS, isMagicSource, PROTOCOL_VERSION, REPLACE_SOURCE } from './protocol';
import { PLUGIN_ID, watchSettings } from './settings';
import { takeSnapshot } from './snapshot';

const EXTENSION_VERSION = '0.1.0';

interface ICellSignal {
  notebook: Notebook;
  cell: Cell;
}

function activate(app: JupyterFrontEnd, tracker: INotebookTracker, registry: ISettingRegistry | null): void {
  const links = new Map<NotebookPanel, KernelLink>();
  const inserter = new CellInserter();
  const hello = (): IHello => ({
    type: 'hello',
    protocol: PROTOCOL_VERSION,
    frontend: `${app.name} ${app.version}, jupyter-codegen ${EXTENSION_VERSION}`,
    capabilities: [INSERT_CELLS, REPLACE_SOURCE]
  });

  tracker.widgetAdded.connect((_, panel) => {
    const link = new KernelLink(panel.sessionContext, hello);
    links.set(panel, link);
    watchGeneratedCells(panel.content);
    panel.disposed.connect(() => {
      link.dispose();
      links.delete(panel);
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

  NotebookActions.executed.connect((_, { notebook, cell }: ICellSignal) => {
    if (cell.model.type === 'code' && !cell.isDisposed) {
      inserter.handleExecuted(notebook, cell.model.id);
    }
  });

  void watchSettings(registry, settings => {
    inserter.enabled = settings.insert;
  });
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Inserts the cells that %%codegen and %%infill generate, and gives the kernel the notebook on screen.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ISettingRegistry],
  activate
};

export default plugin;
