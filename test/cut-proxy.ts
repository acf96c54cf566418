/**
 * A TCP relay on 127.0.0.1 whose network can be cut: `cut()` resets every relayed connection and resets the new ones
 * at once (a dropped link, as a client sees it) until `restore()`; `retarget()` sends new connections to another
 * upstream (a client landing on another server node after a reconnection).
 */
import net from 'node:net';

/** A running relay. */
export interface CutProxy {
  /** The port it listens on. */
  port: number;
  /** Connections relayed so far (accepted while not cut). */
  readonly relayed: number;
  /** Resets every relayed connection, and every new one until {@link CutProxy.restore}. */
  cut(): void;
  /** Relays again. */
  restore(): void;
  /** New connections go to `port` from now on. */
  retarget(port: number): void;
  /** Stops listening and resets what is left. */
  close(): Promise<void>;
}

/** Starts a relay to 127.0.0.1:`upstream`. */
export async function startCutProxy(upstream: number): Promise<CutProxy> {
  const sockets = new Set<net.Socket>();
  let target = upstream;
  let down = false;
  let relayed = 0;
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  };
  const server = net.createServer((client) => {
    track(client);
    if (down) {
      client.resetAndDestroy();
      return;
    }
    relayed++;
    const server = net.connect(target, '127.0.0.1');
    track(server);
    client.pipe(server);
    server.pipe(client);
    // Either side going away takes the other with it, as a dropped link does.
    client.once('close', () => server.destroy());
    server.once('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const resetAll = () => {
    for (const socket of sockets) socket.resetAndDestroy();
  };
  return {
    port: (server.address() as net.AddressInfo).port,
    get relayed() {
      return relayed;
    },
    cut() {
      down = true;
      resetAll();
    },
    restore() {
      down = false;
    },
    retarget(port) {
      target = port;
    },
    close() {
      resetAll();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
