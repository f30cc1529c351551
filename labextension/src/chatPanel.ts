/**
 * The sidebar chat, bound to the active notebook: its questions are turns of the same conversation as that
 * notebook's `%%codegen` cells (the server records them), answers stream in, Stop cancels, and each answer's code
 * can be inserted below the active cell, replace the selection, or be copied.
 */
import { Clipboard } from '@jupyterlab/apputils';
import { NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { activeSelection, insertBelow, replaceRange } from './edits';
import { IChatDone, ITurn, ModelService, requestId } from './service';
import { ICodegenSettings, modelChoice, requestOptions } from './settings';
import { takeSnapshot } from './snapshot';

export const CHAT_ID = 'jp-codegen-chat';

const NO_NOTEBOOK = 'Open a notebook: the chat answers with code for the active notebook.';
const HINT = 'Ask for code, e.g. “average price by region”. Enter sends, Shift+Enter starts a new line.';

export interface IChatOptions {
  service: ModelService;
  settings: () => ICodegenSettings;
  /** Whether a cell ran in its notebook's current kernel (so its execution count is from this session). */
  ranInKernel: (panel: NotebookPanel, cellId: string) => boolean;
  /** Explains the active cell of the active notebook (the Explain cell button). */
  explainActive: () => void;
  /** The kernel's variables summary for the notebook (null when its kernel cannot say now). */
  variables: (panel: NotebookPanel) => Promise<string | null>;
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

export class ChatPanel extends Widget {
  constructor(private readonly options: IChatOptions) {
    super();
    this.id = CHAT_ID;
    this.addClass('jp-CodegenChat');
    this.title.caption = 'jupyter-codegen chat';
    this._header = element('div', 'jp-CodegenChat-header', NO_NOTEBOOK);
    this._log = element('div', 'jp-CodegenChat-log');
    this._input = element('textarea', 'jp-CodegenChat-input');
    this._input.placeholder = HINT;
    this._input.rows = 3;
    this._send = element('button', 'jp-CodegenChat-send jp-mod-styled jp-mod-accept', 'Send');
    this._stop = element('button', 'jp-CodegenChat-stop jp-mod-styled jp-mod-warn', 'Stop');
    this._stop.hidden = true;
    const explain = element('button', 'jp-CodegenChat-explain jp-mod-styled', 'Explain cell');
    explain.title = 'Explain the active cell of the notebook in one sentence';
    explain.addEventListener('click', () => this.options.explainActive());
    const bar = element('div', 'jp-CodegenChat-bar');
    bar.append(explain, this._send, this._stop);
    const form = element('div', 'jp-CodegenChat-form');
    form.append(this._input, bar);
    this.node.append(this._header, this._log, form);

    this._input.addEventListener('keydown', event => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.send();
      }
    });
    this._send.addEventListener('click', () => this.send());
    this._stop.addEventListener('click', () => this.stop());
  }

  /** The notebook the chat is about (the active one); null shows the hint to open one. */
  get notebook(): NotebookPanel | null {
    return this._panel;
  }

  bind(panel: NotebookPanel | null): void {
    if (panel === this._panel) {
      return;
    }
    this._panel = panel;
    this._header.textContent = panel ? `Chat about ${panel.context.path}` : NO_NOTEBOOK;
    void this.reload();
  }

  /** Shows the bound notebook's conversation as saved (after a magic ran, or when switching notebooks). */
  async reload(): Promise<void> {
    const panel = this._panel;
    const generation = ++this._loads;
    if (this._running !== null) {
      return; // Never wipe an answer that is still arriving; the next switch reloads.
    }
    this._log.textContent = '';
    if (panel === null) {
      return;
    }
    try {
      const conversation = await this.options.service.conversation(panel.context.path);
      if (generation !== this._loads || panel !== this._panel || this._running !== null) {
        return;
      }
      for (const turn of conversation.turns) {
        this._showTurn(panel, turn);
      }
      if (conversation.warning) {
        this._note(conversation.warning, true);
      }
    } catch (error) {
      if (generation === this._loads) {
        this._note(error instanceof Error ? error.message : String(error), true);
      }
    }
    this._scroll();
  }

  send(): void {
    const text = this._input.value.trim();
    const panel = this._panel;
    if (!text || this._running !== null) {
      return;
    }
    if (panel === null) {
      this._note(NO_NOTEBOOK, true);
      return;
    }
    const settings = this.options.settings();
    const id = requestId('chat');
    const active = panel.content.activeCell?.model.id ?? null;
    const snapshot = takeSnapshot(panel.content, active, panel.context.path, cellId =>
      this.options.ranInKernel(panel, cellId)
    );
    this._log.append(element('div', 'jp-CodegenChat-message jp-mod-user', text));
    const reply = element('div', 'jp-CodegenChat-message jp-mod-model');
    const status = element('div', 'jp-CodegenChat-status', 'Waiting for the model…');
    const streaming = element('pre', 'jp-CodegenChat-code jp-mod-streaming');
    reply.append(status, streaming);
    this._log.append(reply);
    this._scroll();
    this._input.value = '';
    this._setRunning(id);

    const finish = (): void => {
      if (this._running === id) {
        this._setRunning(null);
      }
    };
    void this.options.variables(panel).then(variables => this.options.service.chat(
      {
        type: 'chat', id, path: panel.context.path, message: text, snapshot, variables,
        model: modelChoice(settings), options: requestOptions(settings)
      },
      {
        queued: ahead => {
          status.textContent = ahead > 0 ? `Queued behind ${ahead} request${ahead === 1 ? '' : 's'}…` : 'Writing…';
        },
        delta: chunk => {
          status.textContent = 'Writing…';
          streaming.textContent += chunk;
          this._scroll();
        },
        done: result => {
          finish();
          reply.textContent = '';
          this._showAnswer(reply, panel, result);
          this._scroll();
        },
        failed: message => {
          finish();
          streaming.remove();
          status.textContent = message;
          status.classList.add('jp-mod-error');
          if (!this._input.value) {
            this._input.value = text; // Nothing the user typed is lost: send it again when ready.
          }
        }
      }
    ));
  }

  /** A sentence about a cell (from Explain) in the log: shown, not recorded in the conversation. */
  addExplanation(label: string, sentence: string): void {
    this._log.append(element('div', 'jp-CodegenChat-message jp-mod-user', label));
    this._log.append(element('div', 'jp-CodegenChat-message jp-mod-model jp-CodegenChat-explanation', sentence));
    this._scroll();
  }

  stop(): void {
    if (this._running !== null) {
      this.options.service.cancel(this._running);
    }
  }

  dispose(): void {
    if (this._running !== null) {
      this.options.service.cancel(this._running);
    }
    super.dispose();
  }

  private _setRunning(id: string | null): void {
    this._running = id;
    this._send.hidden = id !== null;
    this._stop.hidden = id === null;
  }

  private _showTurn(panel: NotebookPanel, turn: ITurn): void {
    const label = turn.kind === 'chat' ? turn.request : `%%${turn.kind}\n${turn.request}`;
    this._log.append(element('div', 'jp-CodegenChat-message jp-mod-user', label));
    const reply = element('div', 'jp-CodegenChat-message jp-mod-model');
    this._codeBlock(reply, panel, turn.answer, requestId('turn'));
    this._log.append(reply);
  }

  private _showAnswer(reply: HTMLElement, panel: NotebookPanel, result: IChatDone): void {
    const cells = result.cells.filter(c => c.trim());
    if (cells.length === 0 && !result.cancelled) {
      reply.append(element('div', 'jp-CodegenChat-status', 'The model answered with no code; rephrase the request.'));
    }
    if (cells.length > 0) {
      this._codeBlock(reply, panel, cells.join('\n\n'), result.id, cells);
    }
    const notes = [...result.notes];
    if (result.cancelled) {
      notes.push('Stopped: this answer is not recorded in the conversation.');
    }
    for (const note of notes) {
      reply.append(element('div', 'jp-CodegenChat-status', note));
    }
  }

  private _codeBlock(reply: HTMLElement, panel: NotebookPanel, code: string, id: string, cells?: string[]): void {
    if (!code.trim()) {
      return;
    }
    reply.append(element('pre', 'jp-CodegenChat-code', code));
    const actions = element('div', 'jp-CodegenChat-actions');
    const insert = element('button', 'jp-CodegenChat-insert jp-mod-styled', 'Insert below');
    insert.title = 'Insert the code as new cells below the active cell (undo with Z)';
    insert.addEventListener('click', () => {
      if (panel.isDisposed || insertBelow(panel.content, cells ?? [code], id) === 0) {
        this._note('The notebook of this answer is closed; open it again to insert the code.', true);
      }
    });
    const replace = element('button', 'jp-CodegenChat-replace jp-mod-styled', 'Replace selection');
    replace.title = 'Replace the selected text of the active cell (all of it when nothing is selected)';
    replace.addEventListener('click', () => {
      const selection = panel.isDisposed ? null : activeSelection(panel.content);
      if (selection === null) {
        this._note('Select code in a code cell of the notebook first.', true);
        return;
      }
      const [start, end] = selection.start === selection.end ? [0, selection.source.length] : [selection.start, selection.end];
      replaceRange(panel.content, selection.cellId, start, end, code, selection.source);
    });
    const copy = element('button', 'jp-CodegenChat-copy jp-mod-styled', 'Copy');
    copy.addEventListener('click', () => Clipboard.copyToSystem(code));
    actions.append(insert, replace, copy);
    reply.append(actions);
  }

  private _note(text: string, error = false): void {
    this._log.append(element('div', `jp-CodegenChat-status${error ? ' jp-mod-error' : ''}`, text));
    this._scroll();
  }

  private _scroll(): void {
    this._log.scrollTop = this._log.scrollHeight;
  }

  private _panel: NotebookPanel | null = null;
  private _running: string | null = null;
  private _loads = 0;
  private readonly _header: HTMLDivElement;
  private readonly _log: HTMLDivElement;
  private readonly _input: HTMLTextAreaElement;
  private readonly _send: HTMLButtonElement;
  private readonly _stop: HTMLButtonElement;
}
