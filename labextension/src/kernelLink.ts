/**
 * The frontend's end of the `jupyter_codegen` comm for one notebook: opened with a `Hello` when the kernel is ready
 * (and again before a magic run while no kernel has welcomed it: the target exists only after `%load_ext`), and the
 * channel on which a `Snapshot` goes out just before each magic cell's execute request.
 */
import { ISessionContext } from '@jupyterlab/apputils';
import { Kernel, KernelMessage } from '@jupyterlab/services';

import { COMM_TARGET, IHello, ISettingsMessage, ISnapshot, KernelMessage as CodegenMessage, PROTOCOL_VERSION } from './protocol';

export class KernelLink {
  constructor(
    private readonly session: ISessionContext,
    private readonly hello: () => IHello
  ) {
    session.kernelChanged.connect(this._onKernelChanged, this);
    session.statusChanged.connect(this._onStatusChanged, this);
    this._openWhenReady();
  }

  /** The cells that ran in the current kernel (their execution counts are from this session). */
  readonly ranInKernel = new Set<string>();

  /** Whether the current kernel answered the last `Hello` with a `Welcome`. */
  get welcomed(): boolean {
    return this._welcomed;
  }

  /**
   * Sends `snapshot` now, synchronously, so that it is queued on the shell channel before the execute request that
   * follows; opens the comm first when no kernel welcomed it yet. Returns false when there is no kernel to send to.
   */
  sendSnapshot(snapshot: ISnapshot): boolean {
    const comm = this._ensureComm();
    if (comm === null) {
      return false;
    }
    try {
      comm.send(snapshot as unknown as KernelMessage.ICommMsgMsg['content']['data']);
      return true;
    } catch (error) {
      console.warn('jupyter-codegen could not send the notebook to the kernel; the magic will use kernel history.', error);
      return false;
    }
  }

  /**
   * Sends the shared settings to the kernel when the comm is open (a comm opened later carries them in its Hello).
   */
  sendSettings(settings: ISettingsMessage): void {
    const comm = this._comm;
    if (comm === null || comm.isDisposed || this._commKernel !== this._kernel()) {
      return;
    }
    try {
      comm.send(settings as unknown as KernelMessage.ICommMsgMsg['content']['data']);
    } catch (error) {
      console.warn('jupyter-codegen could not send its settings to the kernel.', error);
    }
  }

  /**
   * The kernel's variables summary (what the magics send with a request), or null when the kernel does not answer
   * within `timeoutMs` (it may be running a cell: comm messages wait behind it) or has no comm open.
   */
  requestVariables(timeoutMs = 1500): Promise<string | null> {
    const comm = this._comm;
    if (comm === null || comm.isDisposed || !this._welcomed) {
      return Promise.resolve(null);
    }
    const id = `variables-${++this._requests}`;
    return new Promise<string | null>(resolve => {
      const timer = setTimeout(() => {
        this._waiting.delete(id);
        resolve(null);
      }, timeoutMs);
      this._waiting.set(id, summary => {
        clearTimeout(timer);
        resolve(summary);
      });
      try {
        comm.send({ type: 'variables_request', id } as unknown as KernelMessage.ICommMsgMsg['content']['data']);
      } catch {
        clearTimeout(timer);
        this._waiting.delete(id);
        resolve(null);
      }
    });
  }

  /** Opens the comm again if no kernel welcomed it yet (after `%load_ext jupyter_codegen` ran, say). */
  retry(): void {
    if (!this._welcomed) {
      this._ensureComm();
    }
  }

  dispose(): void {
    this.session.kernelChanged.disconnect(this._onKernelChanged, this);
    this.session.statusChanged.disconnect(this._onStatusChanged, this);
    this._closeComm();
  }

  private _kernel(): Kernel.IKernelConnection | null {
    return this.session.session?.kernel ?? null;
  }

  private _ensureComm(): Kernel.IComm | null {
    const kernel = this._kernel();
    if (kernel === null) {
      return null;
    }
    if (this._comm !== null && !this._comm.isDisposed && this._commKernel === kernel) {
      return this._comm;
    }
    this._closeComm();
    let comm: Kernel.IComm;
    try {
      comm = kernel.createComm(COMM_TARGET);
    } catch (error) {
      console.warn('jupyter-codegen could not open its comm with the kernel.', error);
      return null;
    }
    comm.onMsg = (msg: KernelMessage.ICommMsgMsg) => this._onMessage(comm, msg.content.data as unknown as CodegenMessage);
    comm.onClose = () => {
      // The kernel has no `jupyter_codegen` target yet (no `%load_ext jupyter_codegen`): try again at the next run.
      if (this._comm === comm) {
        this._comm = null;
        this._welcomed = false;
      }
    };
    comm.open(this.hello() as unknown as KernelMessage.ICommOpenMsg['content']['data']);
    this._comm = comm;
    this._commKernel = kernel;
    this._welcomed = false;
    return comm;
  }

  private _onMessage(comm: Kernel.IComm, message: CodegenMessage): void {
    if (comm !== this._comm || message === null || typeof message !== 'object') {
      return;
    }
    if (message.type === 'welcome') {
      this._welcomed = true;
      if (message.protocol > PROTOCOL_VERSION) {
        console.info(`jupyter-codegen: the kernel speaks protocol ${message.protocol}; this extension uses ${PROTOCOL_VERSION}.`);
      }
    } else if (message.type === 'variables') {
      const waiting = this._waiting.get(message.id);
      this._waiting.delete(message.id);
      waiting?.(message.summary);
    } else if (message.type === 'error') {
      console.warn(`jupyter-codegen: ${message.message}`);
    }
  }

  private _closeComm(): void {
    const comm = this._comm;
    this._comm = null;
    this._commKernel = null;
    this._welcomed = false;
    if (comm !== null && !comm.isDisposed) {
      try {
        comm.close();
      } catch {
        // The kernel is gone: nothing to close.
      }
    }
  }

  private _onKernelChanged(): void {
    this._closeComm();
    this.ranInKernel.clear();
    this._openWhenReady();
  }

  private _onStatusChanged(_: ISessionContext, status: Kernel.Status): void {
    if (status === 'restarting' || status === 'autorestarting') {
      // A restarted kernel keeps its connection but loses its comms and its execution counts.
      this._comm = null;
      this._commKernel = null;
      this._welcomed = false;
      this.ranInKernel.clear();
      this._pendingOpen = true;
    } else if (status === 'idle' && this._pendingOpen) {
      this._pendingOpen = false;
      this._ensureComm();
    }
  }

  private _openWhenReady(): void {
    this._pendingOpen = true;
    void this.session.ready.then(() => {
      if (this._pendingOpen && this._kernel() !== null) {
        this._pendingOpen = false;
        this._ensureComm();
      }
    });
  }

  private _requests = 0;
  private readonly _waiting = new Map<string, (summary: string) => void>();
  private _comm: Kernel.IComm | null = null;
  private _commKernel: Kernel.IKernelConnection | null = null;
  private _welcomed = false;
  private _pendingOpen = false;
}
