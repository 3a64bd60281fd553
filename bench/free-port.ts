import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Free loopback ports for the servers the bench, the chaos rigs and the tests start themselves
 * (NATS nodes, Mosquitto, VictoriaMetrics, a cloud on fixed ports). Written here, not taken from
 * a package: what matters is the range it picks from (below), which the usual get-port helpers
 * do not avoid (they bind port 0, inside it).
 */

/** Ports this process handed out: never given twice. */
const given = new Set<number>();

/**
 * Below the kernel's ephemeral range (ip_local_port_range, 32768 by default): the ports it gives
 * outgoing connections. A port picked there with bind(0) could be taken by some connection's
 * local end in the seconds before the process it is for listens on it: a CI run's embedded cloud
 * failed to start with EADDRINUSE on 127.0.0.1:40997 while the other rigs were connecting.
 */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 2048 ? low : 32768;
  } catch {
    return 32768;
  }
}
const PORT_LOW = 10_000;

function tryListen(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(undefined));
    s.listen(port, '127.0.0.1', () => {
      const a = s.address();
      const p = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(p));
    });
  });
}

/**
 * A port nobody listens on right now, outside the ephemeral range, not handed out before by this
 * process; bind(0) (inside the range) only when 200 tries found none.
 */
export async function freePort(): Promise<number> {
  const high = Math.max(PORT_LOW + 1000, ephemeralLow());
  for (let i = 0; i < 200; i++) {
    const candidate = PORT_LOW + Math.floor(Math.random() * (high - PORT_LOW));
    if (given.has(candidate)) continue;
    const port = await tryListen(candidate);
    if (port !== undefined) {
      given.add(port);
      return port;
    }
  }
  for (;;) {
    const port = await tryListen(0);
    if (port !== undefined && !given.has(port)) {
      given.add(port);
      return port;
    }
  }
}
