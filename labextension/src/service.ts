/**
 * The browser's client of the server's shared model service (jupyter_codegen/handlers.py, messages in wire.py):
 * REST for a notebook's conversation, one WebSocket for streamed chat answers and fills, with request ids so a
 * reply to a request the user stopped or replaced is recognised and dropped.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { UUID } from '@lumino/coreutils';

import { ISnapshot } from './protocol';

export const API_PATH = 'codegen/api';

export interface IModelChoice {
  model?: string;
}

/** Only the fields given override the server's CodeGen settings. */
export interface IOptions {
  temperature?: number;
  max_new_tokens?: number;
}

export interface IChatRequest {
  type: 'chat';
  id: string;
  path: string;
  message: string;
  snapshot: ISnapshot | null;
  /** The kernel's variables summary, as the magics send it. */
  variables: string | null;
  model: IModelChoice;
  options: IOptions | null;
}

export interface IFillRequest {
  type: 'fill';
  id: string;
  path: string;
  before: string;
  after: string;
  snapshot: ISnapshot | null;
  variables: string | null;
  model: IModelChoice;
  options: IOptions | null;
  record: boolean;
}

export interface IChatDone {
  type: 'chat_done';
  id: string;
  answer: string;
  cells: string[];
  notes: string[];
  cancelled: boolean;
  model: string;
  turn: number | null;
}

export interface IFillDone {
  type: 'fill_done';
  id: string;
  fill: string;
  code: string;
  notes: string[];
  cancelled: boolean;
  model: string;
  turn: number | null;
}

interface IQueued {
  type: 'queued';
  id: string;
  ahead: number;
}

interface IDelta {
  type: 'delta';
  id: string;
  index: number;
  text: string;
}

interface IFailed {
  type: 'error';
  id: string | null;
  message: string;
}

type ServerEvent = IQueued | IDelta | IChatDone | IFillDone | IFailed;

export interface ITurn {
  request: string;
  answer: string;
  kind: string;
  created: string;
  model: string;
  cell_id: string;
}

export interface IConversation {
  path: string;
  key: string;
  turns: ITurn[];
  warning: string | null;
}

/** What a caller hears about one streamed request; exactly one of `done` and `failed` is called. */
export interface IHandlers<D> {
  queued?(ahead: number): void;
  delta?(text: string): void;
  done(result: D): void;
  failed(message: string): void;
}

export const LOST_CONNECTION =
  'The connection to the Jupyter server was lost before the answer came; check that the server runs, then send it again.';

/** A new request id. */
export function requestId(kind: string): string {
  return `${kind}-${UUID.uuid4()}`;
}

async function errorSentence(response: Response): Promise<string> {
  try {
    const body = await response.json();
    if (body && typeof body.message === 'string' && body.message) {
      return body.message;
    }
  } catch {
    // Not JSON: the status says enough.
  }
  if (response.status === 404) {
    return 'The Jupyter server has no jupyter-codegen service; install jupyter-codegen where the server runs and restart it.';
  }
  return `The Jupyter server answered ${response.status} ${response.statusText}; see its log, and try again.`;
}

export class ModelService {
  constructor(private readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()) {}

  /** The notebook's conversation (the turns of its magics and of the chat). */
  async conversation(path: string): Promise<IConversation> {
    const url = URLExt.join(this.settings.baseUrl, API_PATH, 'conversation') + URLExt.objectToQueryString({ path });
    const response = await ServerConnection.makeRequest(url, { method: 'GET' }, this.settings);
    if (!response.ok) {
      throw new Error(await errorSentence(response));
    }
    return (await response.json()) as IConversation;
  }

  chat(request: IChatRequest, handlers: IHandlers<IChatDone>): void {
    this._send(request, handlers as IHandlers<IChatDone | IFillDone>);
  }

  fill(request: IFillRequest, handlers: IHandlers<IFillDone>): void {
    this._send(request, handlers as IHandlers<IChatDone | IFillDone>);
  }

  /** Stops request `id`: the server frees its slot, and its final event says it was cancelled. */
  cancel(id: string): void {
    if (this._pending.has(id) && this._socket !== null && this._socket.readyState === WebSocket.OPEN) {
      this._socket.send(JSON.stringify({ type: 'cancel', id }));
    }
  }

  /** Forgets request `id`: whatever still arrives for it is dropped. */
  forget(id: string): void {
    this._pending.delete(id);
  }

  dispose(): void {
    const socket = this._socket;
    this._socket = null;
    socket?.close();
    this._failAll(LOST_CONNECTION);
  }

  private _send(request: IChatRequest | IFillRequest, handlers: IHandlers<IChatDone | IFillDone>): void {
    this._pending.set(request.id, handlers);
    const message = JSON.stringify(request);
    const socket = this._open();
    if (socket.readyState === WebSocket.OPEN) {
      socket.send(message);
    } else {
      this._outbox.push(message);
    }
  }

  private _open(): WebSocket {
    if (this._socket !== null && this._socket.readyState <= WebSocket.OPEN) {
      return this._socket;
    }
    let url = URLExt.join(this.settings.wsUrl, API_PATH, 'stream');
    if (this.settings.appendToken && this.settings.token !== '') {
      url += URLExt.objectToQueryString({ token: this.settings.token });
    }
    const socket = new this.settings.WebSocket(url);
    socket.onopen = () => {
      for (const message of this._outbox.splice(0)) {
        socket.send(message);
      }
    };
    socket.onmessage = event => this._onEvent(event.data);
    socket.onclose = () => {
      if (this._socket === socket) {
        this._socket = null;
        this._outbox = [];
        this._failAll(LOST_CONNECTION);
      }
    };
    this._socket = socket;
    return socket;
  }

  private _onEvent(data: unknown): void {
    let event: ServerEvent;
    try {
      event = JSON.parse(String(data)) as ServerEvent;
    } catch {
      return;
    }
    if (event.id === null) {
      console.warn(`jupyter-codegen: ${(event as IFailed).message}`);
      return;
    }
    const handlers = this._pending.get(event.id);
    if (handlers === undefined) {
      return; // A request this client forgot: a stale reply.
    }
    switch (event.type) {
      case 'queued':
        handlers.queued?.(event.ahead);
        break;
      case 'delta':
        if (event.index === 0) {
          handlers.delta?.(event.text);
        }
        break;
      case 'chat_done':
      case 'fill_done':
        this._pending.delete(event.id);
        handlers.done(event);
        break;
      case 'error':
        this._pending.delete(event.id);
        handlers.failed(event.message);
        break;
    }
  }

  private _failAll(message: string): void {
    const pending = [...this._pending.values()];
    this._pending.clear();
    for (const handlers of pending) {
      handlers.failed(message);
    }
  }

  private _socket: WebSocket | null = null;
  private _outbox: string[] = [];
  private readonly _pending = new Map<string, IHandlers<IChatDone | IFillDone>>();
}
