/**
 * Changes to a notebook that come from the chat or the fill command, each one undo step of the notebook's ordinary
 * undo: cells inserted below the active cell, and a cell's text replaced between two offsets.
 */
import { Notebook } from '@jupyterlab/notebook';

import { sourceHash } from './hash';
import { CELL_METADATA_KEY, IGeneratedCellMetadata } from './protocol';

type ISharedNotebook = NonNullable<Notebook['model']>['sharedModel'];

/** Closes the notebook's current undo step, so that the change that follows is one step of its own. */
export function endUndoStep(shared: ISharedNotebook): void {
  (shared as ISharedNotebook & { undoManager?: { stopCapturing(): void } }).undoManager?.stopCapturing();
}

/**
 * Inserts `sources` as code cells below the active cell (at the end when none is active), marked as written by
 * jupyter-codegen for `generationId`; the first of them becomes the active cell. Returns how many were inserted.
 */
export function insertBelow(notebook: Notebook, sources: string[], generationId: string): number {
  const shared = notebook.model?.sharedModel;
  const cells = sources.filter(s => s.trim() !== '');
  if (!shared || cells.length === 0) {
    return 0;
  }
  const active = notebook.activeCell;
  const sourceCellId = active?.model.id ?? '';
  const index = active ? shared.cells.findIndex(c => c.getId() === sourceCellId) + 1 : shared.cells.length;
  const mark = (source: string): IGeneratedCellMetadata => ({
    generation_id: generationId,
    source_cell_id: sourceCellId,
    kind: 'chat',
    inserted_hash: sourceHash(source)
  });
  endUndoStep(shared);
  shared.transact(() => {
    shared.insertCells(
      index,
      cells.map(source => ({ cell_type: 'code' as const, source, metadata: { [CELL_METADATA_KEY]: mark(source) } }))
    );
  });
  endUndoStep(shared);
  notebook.activeCellIndex = index;
  return cells.length;
}

/** The active cell's selection as offsets into its source; an empty selection is the cursor. Null: no code cell. */
export function activeSelection(notebook: Notebook): { cellId: string; start: number; end: number; source: string } | null {
  const cell = notebook.activeCell;
  const editor = cell?.editor;
  if (!cell || !editor || cell.model.type !== 'code') {
    return null;
  }
  const range = editor.getSelection();
  const a = editor.getOffsetAt(range.start);
  const b = editor.getOffsetAt(range.end);
  return { cellId: cell.model.id, start: Math.min(a, b), end: Math.max(a, b), source: cell.model.sharedModel.getSource() };
}

/**
 * Replaces the text between `start` and `end` of cell `cellId` with `text`, if the cell still holds `expected`
 * (else the user edited it meanwhile, and nothing is changed: returns false). One undo step.
 */
export function replaceRange(
  notebook: Notebook,
  cellId: string,
  start: number,
  end: number,
  text: string,
  expected: string
): boolean {
  const shared = notebook.model?.sharedModel;
  const cell = shared?.cells.find(c => c.getId() === cellId);
  if (!shared || !cell || cell.getSource() !== expected) {
    return false;
  }
  endUndoStep(shared);
  cell.updateSource(start, end, text);
  endUndoStep(shared);
  const widget = notebook.widgets.find(w => w.model.id === cellId);
  const editor = widget?.editor;
  if (editor) {
    editor.setCursorPosition(editor.getPositionAt(start + text.length) ?? editor.getCursorPosition());
  }
  return true;
}
