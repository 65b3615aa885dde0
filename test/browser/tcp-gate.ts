// A TCP pass-through in front of the gateway for the restart and reconnect tests. The pages talk to
// the gateway through it; closing it refuses new connections (the pages stay "reconnecting" however
// fast their backoff is), so a test can make sure messages are sent while the pages are truly away.
// Existing connections end when the gateway's end does, or when the test drops them.

import { connect, createServer, type Server, type Socket } from 'node:net';

export class TcpGate {
  private isOpen = true;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<TcpGate> {
    const holder: { gate?: TcpGate } = {};
    const server = createServer((downstream) => holder.gate?.accept(downstream, targetPort));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    holder.gate = new TcpGate(server, typeof address === 'object' && address ? address.port : 0);
    return holder.gate;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  open(): void {
    this.isOpen = true;
  }

  /** Refuses new connections from now on; the ones already through stay. */
  close(): void {
    this.isOpen = false;
  }

  /** Cuts every connection through the gate, as a dropped network would (the gateway keeps running). */
  dropAll(): void {
    for (const s of this.sockets) s.destroy();
  }

  private accept(downstream: Socket, targetPort: number): void {
    if (!this.isOpen) {
      downstream.destroy();
      return;
    }
    const upstream = connect({ port: targetPort, host: '127.0.0.1' });
    for (const s of [downstream, upstream]) {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
      s.setNoDelay(true);
    }
    upstream.on('error', () => downstream.destroy());
    downstream.on('error', () => upstream.destroy());
    upstream.once('close', () => downstream.destroy());
    downstream.once('close', () => upstream.destroy());
    downstream.pipe(upstream);
    upstream.pipe(downstream);
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
