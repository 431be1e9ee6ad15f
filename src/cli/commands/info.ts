// cunik info: daemon-wide information, including the accelerator and why it was chosen.
import type { Command } from 'commander';
import { json } from '../format/table.js';
import { action, clientFor } from '../util.js';

export function register(program: Command): void {
  program
    .command('info')
    .description('Display system-wide information')
    .option('--format <format>', "output format: text, json (the native answer), or a Go template on Docker's fields: '{{.ServerVersion}} {{.Containers}}'", 'text')
    .action(
      action(async (flags: { format: string }, cmd: Command) => {
        const client = await clientFor(cmd);
        const i = await client.info();
        client.close();
        if (flags.format === 'json') return void process.stdout.write(json(i));
        if (flags.format !== 'text') {
          const [{ renderEach }, view] = await Promise.all([import('../format/output.js'), import('../../compat/docker/system-view.js')]);
          return void process.stdout.write(renderEach(flags.format, [view.infoView(i, view.hostFacts())]));
        }
        process.stdout.write(
          [
            `Server Version: ${i.version}`,
            `Root Dir: ${i.root}`,
            `Instances: ${i.instances.total}`,
            ` Running: ${i.instances.running}`,
            ` Paused: ${i.instances.paused}`,
            ` Stopped: ${i.instances.stopped}`,
            ` Set aside: ${i.quarantined}${i.quarantined > 0 ? ' (records that could not be used: see cunik system check)' : ''}`,
            `Images: ${i.images}`,
            `VMM Driver: ${i.driver}`,
            `QEMU: ${i.qemu}`,
            `Accelerator: ${i.accelerator}`,
            ` Reason: ${i.acceleratorReason}`,
            `VM Transparent Huge Pages: ${i.transparentHugepages ? 'on' : 'off'}`,
            `VM Memory Merging (KSM): ${i.kernelSamepageMerging ? 'on' : 'off'}`,
            `TCG Translation Cache: ${i.tcgTbSizeMiB === 0 ? "QEMU's default" : `${i.tcgTbSizeMiB} MiB per VM`}`,
            ...(i.defaultNetwork !== undefined ? [`Default Network: ${i.defaultNetwork === 'bridge' ? 'bridge (cunik0)' : i.defaultNetwork}`] : []),
            `VM Confinement:`,
            ` Sandbox: ${i.confinement.sandbox ? 'on (seccomp)' : 'off'}`,
            ` User: ${i.confinement.user} (uid ${i.confinement.uid}, gid ${i.confinement.gid})`,
            ` User Network: ${i.confinement.userNetwork}`,
            ...i.confinement.warnings.map((w) => ` WARNING: ${w}`),
            ...(i.bridgeNetworking?.firewall !== undefined ? [`Firewall: ${i.bridgeNetworking.firewall === 'nftables' ? 'nftables (table inet cunik)' : 'iptables-nft (chains CUNIK-*)'}`] : []),
            ...(i.bridgeNetworking !== undefined ? [`IPv4 Forwarding: ${i.bridgeNetworking.ipForwarding ? 'on' : 'off'}${i.bridgeNetworking.ipForwardingByCunik ? ' (turned on by cunikd for bridge networks)' : ''}`] : []),
            `Families: ${i.families.join(', ')}`,
            `Default Registry: ${i.registry.default ?? 'none (names without a registry are local images)'}`,
            `Insecure Registries: ${['loopback (localhost, 127.0.0.0/8, [::1])', ...i.registry.insecure].join(', ')}`,
            `Registry Certificates: ${i.registry.certs}`,
          ].join('\n') + '\n',
        );
      }),
    );
}
