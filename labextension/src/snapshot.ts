/** The notebook as it is on screen, as the kernel's `Snapshot` message (text outputs only, to keep it small). */
import { ICodeCellModel } from '@jupyterlab/cells';
import { Notebook } from '@jupyterlab/notebook';

import { ISnapshot, ISnapshotCell, ISnapshotOutput, PROTOCOL_VERSION } from './protocol';

type Json = { [key: string]: unknown };

function text(value: unknown): string | null {
  if (typeof value === 'string') {
    return value;
  }
  if (Array.isArray(value) && value.every(v => typeof v === 'string')) {
    return value.join('');
  }
  return null;
}

function snapshotOutput(output: Json): ISnapshotOutput | null {
  const kind = output.output_type;
  if (kind === 'stream') {
    return { output_type: kind, name: text(output.name), text: text(output.text) };
  }
  if (kind === 'execute_result' || kind === 'display_data') {
    const plain = text((output.data as Json | undefined)?.['text/plain']);
    return { output_type: kind, data: plain === null ? {} : { 'text/plain': plain } };
  }
  if (kind === 'error') {
    return { output_type: kind, ename: text(output.ename), evalue: text(output.evalue) };
  }
  return null;
}

/**
 * `ranInKernel(cellId)` says whether the cell ran in the current kernel; a cell that did not is sent with no
 * execution count, so the kernel knows its outputs (if any) are from an earlier session.
 */
export function takeSnapshot(
  notebook: Notebook,
  cellId: string | null,
  notebookPath: string | null,
  ranInKernel: (cellId: string) => boolean
): ISnapshot {
  const cells: ISnapshotCell[] = [];
  let cellIndex: number | null = null;
  notebook.widgets.forEach((widget, index) => {
    const model = widget.model;
    const id = model.id;
    if (id === cellId) {
      cellIndex = index;
    }
    const cell: ISnapshotCell = {
      id,
      cell_type: model.type === 'code' || model.type === 'markdown' ? model.type : 'raw',
      source: model.sharedModel.getSource(),
      execution_count: null,
      outputs: []
    };
    if (model.type === 'code') {
      const code = model as ICodeCellModel;
      cell.execution_count = ranInKernel(id) ? code.executionCount : null;
      for (let i = 0; i < code.outputs.length; i++) {
        const output = snapshotOutput(code.outputs.get(i).toJSON() as Json);
        if (output !== null) {
          cell.outputs.push(output);
        }
      }
    }
    cells.push(cell);
  });
  return {
    type: 'snapshot',
    protocol: PROTOCOL_VERSION,
    notebook_path: notebookPath,
    cell_id: cellId,
    cell_index: cellIndex,
    cells
  };
}
