/**
 * The throwaway servers' ports (src/testing/servers.ts): freePort never hands the same port out twice
 * in one process, however many servers start at once, and a start whose server found its port taken
 * (by another process, between freePort and the bind) is retried on fresh ports, while any other
 * failure is not.
 */
import { describe, expect, it } from 'vitest';
import { freePort, onFreshPorts } from '../../src/testing/servers.js';

describe('throwaway server ports', () => {
  it('hands out distinct ports to concurrent callers', async () => {
    const ports = await Promise.all(Array.from({ length: 300 }, () => freePort()));
    expect(new Set(ports).size).toBe(ports.length);
  });

  // What each server says when its port is taken.
  const taken = [
    'etcd exited with code 1 before it was ready; its stderr ends:\n{"level":"fatal","msg":"listen tcp 127.0.0.1:41235: bind: address already in use"}',
    "mariadbd exited with code 1 before it was ready; its stderr ends:\n[ERROR] Can't start server: Bind on TCP/IP port. Got error: 98: Address already in use",
    'postgres exited with code 1 before it was ready; its stderr ends:\nLOG:  could not bind IPv4 address "127.0.0.1": Address already in use',
  ];
  for (const message of taken) {
    it(`starts again on a taken port: ${message.split(' ')[0]}`, async () => {
      let starts = 0;
      const server = await onFreshPorts(() => {
        starts++;
        return starts < 3 ? Promise.reject(new Error(message)) : Promise.resolve('up');
      });
      expect(server).toBe('up');
      expect(starts).toBe(3);
    });
  }

  it('gives up after three starts, and throws any other failure at once', async () => {
    let starts = 0;
    await expect(onFreshPorts(() => (starts++, Promise.reject(new Error(taken[0]))))).rejects.toThrow(/address already in use/);
    expect(starts).toBe(3);
    starts = 0;
    await expect(onFreshPorts(() => (starts++, Promise.reject(new Error('etcd exited with code 1 before it was ready; its stderr ends:\nmember has already been bootstrapped'))))).rejects.toThrow(/bootstrapped/);
    expect(starts).toBe(1);
  });
});
