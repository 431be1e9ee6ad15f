// cunik network <verb>: bridge networks (docker network ...): create, ls, inspect, rm, prune,
// connect, disconnect.
import { Option, type Command } from 'commander';
import type { CreateNetworkRequest } from '../../api/networks.js';
import { addFilterTerm, type Filters } from '../../util/filters.js';
import { confirm } from '../confirm.js';
import { json, table } from '../format/table.js';
import { parseLabel } from '../parse.js';
import { action, clientFor, forEachTarget, inspectEach } from '../util.js';

interface CreateFlags {
  driver: 'bridge';
  subnet: string[];
  gateway: string[];
  ipRange?: string;
  internal?: boolean;
  ipv6?: boolean;
  label: Record<string, string>;
}

const many = (v: string, prev: string[] = []): string[] => [...prev, v];

/** --subnet and --gateway are repeatable, as Docker's: an IPv6 one (with ':') is the network's IPv6 side. */
export function networkCreateRequest(name: string, flags: CreateFlags): CreateNetworkRequest {
  const pick = (values: string[], v6: boolean, what: string): string | undefined => {
    const found = values.filter((v) => v.includes(':') === v6);
    if (found.length > 1) throw new Error(`give at most one IPv${v6 ? 6 : 4} ${what}`);
    return found[0];
  };
  const subnet = pick(flags.subnet, false, 'subnet');
  const gateway = pick(flags.gateway, false, 'gateway');
  const subnet6 = pick(flags.subnet, true, 'subnet');
  const gateway6 = pick(flags.gateway, true, 'gateway');
  return {
    name,
    ...(subnet !== undefined && { subnet }),
    ...(gateway !== undefined && { gateway }),
    ...(flags.ipRange !== undefined && { ipRange: flags.ipRange }),
    ...(flags.internal === true && { internal: true }),
    ...(flags.ipv6 === true && { ipv6: true }),
    ...(subnet6 !== undefined && { subnet6 }),
    ...(gateway6 !== undefined && { gateway6 }),
    ...(Object.keys(flags.label).length > 0 && { labels: flags.label }),
  };
}

export function register(program: Command): void {
  const network = program.command('network').description('Manage bridge networks');
  network
    .command('create')
    .description('Create a bridge network')
    .addOption(new Option('-d, --driver <driver>', 'network driver').choices(['bridge']).default('bridge'))
    .option('--subnet <subnet>', 'IPv4 subnet, e.g. 10.214.0.0/24 (default: a free /24 of 10.213.0.0/16); again with an IPv6 one (fd12:3456:789a::/64) for --ipv6', many, [] as string[])
    .option('--gateway <address>', "the bridge's address in the subnet (default: the first); repeatable for the IPv6 one", many, [] as string[])
    .option('--ipv6', 'IPv6 too: guests also get an address in the IPv6 subnet (default: a random unique local /64)')
    .option('--ip-range <subnet>', 'hand out guest addresses from this part of the subnet')
    .option('--internal', 'no egress: guests reach each other and the gateway only')
    .option('--label <KEY=VALUE>', 'set a label (repeatable)', parseLabel, {} as Record<string, string>)
    .argument('<name>', 'network name')
    .action(
      action(async (name: string, flags: CreateFlags, cmd: Command) => {
        const client = await clientFor(cmd);
        const n = await client.createNetwork(networkCreateRequest(name, flags));
        client.close();
        process.stdout.write(`${n.id}\n`);
      }),
    );
  network
    .command('ls')
    .alias('list')
    .description('List networks')
    .option('-q, --quiet', 'only show network ids')
    .option('-f, --filter <KEY=VALUE>', 'name=, id=, label=KEY[=VALUE], driver=, type=custom|builtin, dangling=true|false (repeatable)', addFilterTerm, {} as Filters)
    .option('--no-trunc', 'do not truncate ids')
    .option('--format <format>', "output format: table, json (the native records), or a Go template: '{{.Name}} {{.Driver}}', 'table {{.ID}}\\t{{.Name}}'", 'table')
    .action(
      action(async (flags: { quiet?: boolean; filter: Filters; format: string; trunc: boolean }, cmd: Command) => {
        const template = flags.format !== 'table' && flags.format !== 'json' ? await import('../format/output.js') : undefined;
        const client = await clientFor(cmd);
        const list = await client.listNetworks(flags.filter);
        client.close();
        if (flags.quiet) process.stdout.write(list.map((n) => `${flags.trunc ? n.id.slice(0, 12) : n.id}\n`).join(''));
        else if (flags.format === 'json') process.stdout.write(json(list));
        else if (template) {
          const { networkRow, NETWORK_HEADERS } = await import('../format/views.js');
          process.stdout.write(template.renderList(flags.format, list.map((n) => networkRow(n, flags.trunc)), NETWORK_HEADERS));
        }
        else process.stdout.write(table(['NETWORK ID', 'NAME', 'DRIVER', 'SUBNET', 'GATEWAY', 'INTERNAL'], list.map((n) => [n.id.slice(0, 12), n.name, n.driver, n.subnet, n.gateway, n.internal ? 'true' : 'false'])));
      }),
    );
  network
    .command('inspect')
    .description('Display detailed information on networks')
    .option('-f, --format <template>', "a Go template run on each network: '{{.Name}} {{range .IPAM.Config}}{{.Subnet}}{{end}}'")
    .argument('<names...>')
    .action(
      action(async (names: string[], flags: { format?: string }, cmd: Command) => {
        const view = flags.format !== undefined ? (await import('../../compat/docker/view.js')).networkView : undefined;
        const client = await clientFor(cmd);
        await inspectEach(names, (n) => client.inspectNetwork(n), view && { template: flags.format!, view });
        client.close();
      }),
    );
  network
    .command('rm')
    .alias('remove')
    .description('Remove one or more networks (refused while an instance uses them)')
    .argument('<names...>')
    .action(
      action(async (names: string[], _flags: object, cmd: Command) => {
        const client = await clientFor(cmd);
        await forEachTarget(names, (n) => client.removeNetwork(n));
        client.close();
      }),
    );
  network
    .command('connect')
    .description('Connect a created or stopped instance to a network (a NIC of its own from its next start)')
    .option('--ip <address>', 'a fixed IPv4 address on the network')
    .option('--ip6 <address>', 'a fixed IPv6 address on the network (one made with --ipv6)')
    .option('--mac-address <mac>', "the NIC's MAC address (default: derived from its address)")
    .option('--alias <name>', "one more name of the instance in the network's DNS (repeatable)", (v: string, prev: string[] = []) => [...prev, v])
    .argument('<network>')
    .argument('<instance>')
    .action(
      action(async (net: string, instance: string, flags: { ip?: string; ip6?: string; macAddress?: string; alias?: string[] }, cmd: Command) => {
        const client = await clientFor(cmd);
        try {
          await client.connectNetwork(net, instance, { ...(flags.ip !== undefined && { ip: flags.ip }), ...(flags.ip6 !== undefined && { ip6: flags.ip6 }), ...(flags.macAddress !== undefined && { macAddress: flags.macAddress }), ...(flags.alias !== undefined && { aliases: flags.alias }) });
        } finally {
          client.close();
        }
      }),
    );
  network
    .command('disconnect')
    .description('Disconnect a created or stopped instance from a network (from its next start)')
    .argument('<network>')
    .argument('<instance>')
    .action(
      action(async (net: string, instance: string, _flags: object, cmd: Command) => {
        const client = await clientFor(cmd);
        try {
          await client.disconnectNetwork(net, instance);
        } finally {
          client.close();
        }
      }),
    );
  network
    .command('prune')
    .description('Remove all user-defined networks no instance uses')
    .option('-f, --force', 'do not prompt for confirmation')
    .option('--filter <KEY=VALUE>', 'until=TIME|DURATION, label=KEY[=VALUE], label!=KEY[=VALUE] (repeatable)', addFilterTerm, {} as Filters)
    .action(
      action(async (flags: { force?: boolean; filter: Filters }, cmd: Command) => {
        if (!flags.force && !(await confirm(WARN_NETWORKS))) return;
        const client = await clientFor(cmd);
        try {
          const r = await client.pruneNetworks(flags.filter);
          if (r.deleted.length > 0) process.stdout.write(`Deleted Networks:\n${r.deleted.map((n) => `${n}\n`).join('')}\n`);
        } finally {
          client.close();
        }
      }),
    );
}

/** Docker's wording. */
export const WARN_NETWORKS = 'WARNING! This will remove all custom networks not used by at least one instance.';
