// cunik port: the published ports of a running instance, as `docker port` prints them.
import type { Command } from 'commander';
import { parseGuestPort, portLines } from '../format/ports.js';
import { action, clientFor } from '../util.js';

export function register(program: Command): void {
  program
    .command('port')
    .description('List the published ports of an instance, or the host address of one guest port')
    .argument('<instance>', 'instance name or id')
    .argument('[guestPort]', 'GUESTPORT[/tcp|/udp]: print only where it is published')
    .action(
      action(async (ref: string, guest: string | undefined, _flags: unknown, cmd: Command) => {
        const wanted = guest === undefined ? undefined : parseGuestPort(guest);
        const client = await clientFor(cmd);
        const info = await client.inspectInstance(ref);
        client.close();
        // Like docker, ports are shown while the instance runs (host ports may change at each start).
        const live = info.state === 'running' || info.state === 'paused' ? (info.network?.ports ?? []) : [];
        if (wanted === undefined) {
          process.stdout.write(portLines(live));
          return;
        }
        const found = live.filter((p) => p.guestPort === wanted.guestPort && p.proto === wanted.proto);
        if (found.length === 0) throw new Error(`no public port '${wanted.guestPort}/${wanted.proto}' published for ${info.name}`);
        process.stdout.write(found.map((p) => `${p.hostIp}:${p.hostPort}\n`).join(''));
      }),
    );
}
