/**
 * Fix and Explain on a notebook cell: thin frontends over the kernel's own `%codegen --fix --cell ID` and
 * `%%codegen --explain`, run as requests of their own (not cells of the notebook), so the kernel that saw the error
 * (its traceback, its variables) proposes the fix, exactly as the magic would. The fix replaces the cell's source in
 * place, one undo step; the explanation goes to the chat sidebar.
 */
import { Notification } from '@jupyterlab/apputils';
import { Cell, ICodeCellModel } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';
import { KernelMessage } from '@jupyterlab/services';

import { replaceRange } from './edits';
import { CELLS_MIME, ICellsBundle, readBundle } from './protocol';

interface IHiddenRun {
  bundle: ICellsBundle | null;
  /** What the run printed (stdout), e.g. the candidates' report. */
  printed: string;
  /** text/plain of what it displayed. */
  shown: string[];
  /** What it said on stderr, or its error: one sentence from the magics. */
  problem: string;
}

/** Whether the cell's outputs hold an error (what the Fix action is for). */
export function hasError(cell: Cell | null | undefined): boolean {
  if (!cell || cell.model.type !== 'code') {
    return false;
  }
  const outputs = (cell.model as ICodeCellModel).outputs;
  for (let i = 0; i < outputs.length; i++) {
    if (outputs.get(i).type === 'error') {
      return true;
    }
  }
  return false;
}

async function runHidden(panel: NotebookPanel, code: string): Promise<IHiddenRun | null> {
  const kernel = panel.sessionContext.session?.kernel;
  if (!kernel) {
    Notification.warning('Start the notebook’s kernel first: the kernel that ran the cell does this.', { autoClose: 5000 });
    return null;
  }
  await kernel.requestExecute({ code: '%load_ext jupyter_codegen', silent: true, store_history: false }).done;
  const run: IHiddenRun = { bundle: null, printed: '', shown: [], problem: '' };
  const future = kernel.requestExecute({ code, silent: false, store_history: false, stop_on_error: false });
  future.onIOPub = (msg: KernelMessage.IIOPubMessage) => {
    const content = msg.content as { [key: string]: unknown };
    if (KernelMessage.isStreamMsg(msg)) {
      if (msg.content.name === 'stdout') {
        run.printed += msg.content.text;
      } else {
        run.problem += msg.content.text;
      }
    } else if (KernelMessage.isErrorMsg(msg)) {
      run.problem += `${msg.content.ename}: ${msg.content.evalue}`;
    } else if ('data' in content && content.data && typeof content.data === 'object') {
      const data = content.data as { [mime: string]: unknown };
      const bundle = readBundle(data[CELLS_MIME]);
      if (bundle !== null) {
        run.bundle = bundle;
      } else if (typeof data['text/plain'] === 'string') {
        run.shown.push(data['text/plain']);
      }
    }
  };
  await future.done;
  return run;
}

/** Replaces the failing cell `cell` of `panel` with the fix the kernel proposes; says how the candidates fared. */
export async function fixCell(panel: NotebookPanel, cell: Cell): Promise<boolean> {
  const cellId = cell.model.id;
  const source = cell.model.sharedModel.getSource();
  cell.addClass('jp-mod-codegenFilling');
  let run: IHiddenRun | null;
  try {
    run = await runHidden(panel, `%%codegen --fix --check --cell ${cellId}\n${source}`);
  } finally {
    cell.removeClass('jp-mod-codegenFilling');
  }
  if (run === null) {
    return false;
  }
  const fix = run.bundle?.cells[0]?.source ?? '';
  if (!fix.trim()) {
    Notification.warning(run.problem.trim() || 'The model proposed no fix; rephrase the cell or fix it by hand.', { autoClose: 8000 });
    return false;
  }
  if (!replaceRange(panel.content, cellId, 0, source.length, fix, source)) {
    Notification.warning('The cell changed while the fix was written; run it again, then Fix.', { autoClose: 6000 });
    return false;
  }
  const summary = run.printed.trim().split('\n').filter(line => line.startsWith('Proposed fix'));
  Notification.info(`${summary[0] ?? 'Fixed.'} Undo with Ctrl+Z in the cell; run it to check.`, { autoClose: 8000 });
  return true;
}

/** One sentence about the cell's code, from the kernel's `%%codegen --explain`; null when there is none. */
export async function explainCell(panel: NotebookPanel, cell: Cell): Promise<string | null> {
  const source = cell.model.sharedModel.getSource();
  if (!source.trim()) {
    Notification.warning('The cell is empty: write or select a cell with code to explain.', { autoClose: 5000 });
    return null;
  }
  const run = await runHidden(panel, `%%codegen --explain\n${source}`);
  if (run === null) {
    return null;
  }
  const shown = run.shown.find(text => text.startsWith('Explanation: '));
  if (!shown) {
    Notification.warning(run.problem.trim() || run.printed.trim() || 'The model wrote no explanation for this code.', {
      autoClose: 8000
    });
    return null;
  }
  return shown.slice('Explanation: '.length);
}
