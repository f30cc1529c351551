/**
 * Fill the selection of a code cell (or insert at the cursor) from the code on both sides and the notebook around
 * it, through the server's model service; the result replaces the selection as one undoable edit.
 */
import { Notification } from '@jupyterlab/apputils';
import { NotebookPanel } from '@jupyterlab/notebook';

import { activeSelection, replaceRange } from './edits';
import { ModelService, requestId } from './service';
import { ICodegenSettings, modelChoice, requestOptions } from './settings';
import { takeSnapshot } from './snapshot';

export const FILLING_CLASS = 'jp-mod-codegenFilling';

/**
 * Starts filling the active cell's selection of `panel`; resolves once the fill is in place (true) or was not
 * applied (false, with a notification that says why).
 */
export function fillSelection(
  panel: NotebookPanel,
  service: ModelService,
  settings: ICodegenSettings,
  ranInKernel: (cellId: string) => boolean,
  variables: Promise<string | null>
): Promise<boolean> {
  const notebook = panel.content;
  const selection = activeSelection(notebook);
  if (selection === null) {
    Notification.warning('Select code in a code cell (or put the cursor where code is missing), then fill again.', {
      autoClose: 5000
    });
    return Promise.resolve(false);
  }
  const { cellId, start, end, source } = selection;
  const id = requestId('fill');
  const cell = notebook.activeCell;
  cell?.addClass(FILLING_CLASS);
  const progress = Notification.emit('Filling the selection…', 'in-progress', {
    autoClose: false,
    actions: [{ label: 'Stop', callback: () => service.cancel(id) }]
  });
  const snapshot = takeSnapshot(notebook, cellId, panel.context.path, ranInKernel);
  return variables.then(summary => new Promise<boolean>(resolve => {
    const finish = (message: string | null, type: 'success' | 'warning' | 'error', applied: boolean): void => {
      cell?.removeClass(FILLING_CLASS);
      if (message === null) {
        Notification.dismiss(progress);
      } else {
        Notification.update({ id: progress, message, type, autoClose: 6000, actions: [] });
      }
      resolve(applied);
    };
    service.fill(
      {
        type: 'fill', id, path: panel.context.path, before: source.slice(0, start), after: source.slice(end),
        snapshot, variables: summary, model: modelChoice(settings), options: requestOptions(settings), record: true
      },
      {
        done: result => {
          if (result.cancelled) {
            finish('Stopped: the cell is unchanged.', 'warning', false);
          } else if (!result.fill.trim()) {
            finish('The model found nothing to fill here; select a larger region or write a comment that says what goes there.', 'warning', false);
          } else if (panel.isDisposed || !replaceRange(notebook, cellId, start, end, result.fill, source)) {
            finish('The cell changed while the model was filling it; select the region and fill again.', 'warning', false);
          } else {
            finish(null, 'success', true);
          }
        },
        failed: message => finish(message, 'error', false)
      }
    );
  }));
}
