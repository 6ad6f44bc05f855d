/**
 * A TCP proxy for tests that need a network fault between a sync and a server: while blackholed it
 * forwards nothing in either direction and closes nothing (a half-open path: a partition, a NAT
 * that forgot the flow), and new connections are accepted but not connected onwards. drop() resets
 * every open connection instead (a server restarted, a load balancer failing over).
 */
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';

export interface Proxy {
  readonly port: number;
  /** Stops forwarding, on open and new connections alike, without closing any. */
  blackhole(): void;
  /** Forwards again: whatever waited flows on. */
  restore(): void;
  /** Resets every open connection, both ends; new ones are forwarded as before. Returns how many it reset. */
  drop(): number;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<Proxy> {
  let holes = false;
  const pairs = new Set<[Socket, Socket | undefined]>();
  const waiting: (() => void)[] = [];

  const server: Server = createServer((client) => {
    const pair: [Socket, Socket | undefined] = [client, undefined];
    pairs.add(pair);
    client.pause();
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      pair[1]?.destroy();
    };
    client.on('error', drop);
    client.on('close', drop);
    const open = () => {
      if (client.destroyed) return;
      const upstream = netConnect(targetPort, targetHost);
      pair[1] = upstream;
      upstream.on('error', drop);
      upstream.on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    };
    if (holes) waiting.push(open);
    else open();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('proxy has no port');

  return {
    port: address.port,
    blackhole() {
      holes = true;
      // pipe() resumes a source when its destination drains: unpipe, so nothing flows until restore().
      for (const [a, b] of pairs) {
        if (!b) continue;
        a.unpipe(b);
        b.unpipe(a);
        a.pause();
        b.pause();
      }
    },
    restore() {
      holes = false;
      for (const [a, b] of pairs) {
        if (!b) continue;
        a.pipe(b);
        b.pipe(a);
        a.resume();
        b.resume();
      }
      for (const open of waiting.splice(0)) open();
    },
    drop() {
      const n = pairs.size;
      for (const [a, b] of [...pairs]) {
        a.resetAndDestroy();
        b?.resetAndDestroy();
      }
      return n;
    },
    async close() {
      for (const [a, b] of pairs) {
        a.destroy();
        b?.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
