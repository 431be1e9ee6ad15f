// cunik-hub (also `cunik hub`): serve a registry over a store, or collect its garbage.
import { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ensureDir } from '../util/ensure-dir.js';
import { fsReason } from '../util/fs-reason.js';
import { buildConfig, DEFAULT_ADDR, type HubConfig, type HubFlags } from './config.js';
import { collectGarbage } from './gc.js';
import { Registry } from './registry.js';
import { buildHubServer, type Authorizer } from './server.js';
import { FsDriver } from './storage/fs.js';
import { Uploads } from './uploads.js';

export const defaultHubRoot = (): string =>
  process.getuid?.() === 0 ? '/var/lib/cunik-hub' : join(process.env['XDG_DATA_HOME'] ?? join(homedir(), '.local', 'share'), 'cunik-hub');

async function loadConfig(file: string | undefined, flags: HubFlags): Promise<HubConfig> {
  let text: string | undefined;
  if (file !== undefined) {
    text = await readFile(file, 'utf8').catch((err: unknown) => {
      throw new Error(`cannot read the config file ${file}: ${fsReason(err)}`);
    });
  }
  try {
    return buildConfig(text, flags, defaultHubRoot());
  } catch (err) {
    throw new Error(file === undefined ? (err as Error).message : `${file}: ${(err as Error).message}`);
  }
}

export interface OpenHub {
  config: HubConfig;
  store: FsDriver;
  registry: Registry;
  uploads: Uploads;
}

export async function openHub(config: HubConfig): Promise<OpenHub> {
  await ensureDir(config.root, 0o755, 'the hub root');
  const store = new FsDriver(config.root);
  const registry = new Registry(store, { deletes: config.deletes });
  return { config, store, registry, uploads: new Uploads(store, registry, config.maxBlobBytes) };
}

async function serve(config: HubConfig, example = false): Promise<void> {
  // The examples are pushed through the CLI, which has no credentials for this hub and speaks
  // plain HTTP to a loopback one.
  if (example && (config.auth || config.tls)) throw new Error('--example starts an open plain-HTTP hub: it cannot be combined with auth or TLS (run it without --config auth/tls)');
  const hub = await openHub(config);
  let auth: Authorizer | undefined;
  // One count of failed passwords for the API and the web UI's sign-in form.
  const limiter = config.auth && new (await import('./auth/limiter.js')).LoginLimiter();
  if (config.auth) {
    const { createAuth } = await import('./auth/index.js');
    auth = await createAuth(config.auth, config.root, config.tls !== undefined, limiter);
  }
  const https = config.tls && {
    cert: await readFile(config.tls.cert), key: await readFile(config.tls.key),
    // Mutual TLS: a client without a certificate signed by this CA fails the handshake.
    ...(config.tls.clientCA !== undefined && { ca: await readFile(config.tls.clientCA), requestCert: true, rejectUnauthorized: true }),
  };
  const { createUi } = await import('./ui/index.js');
  const ui = await createUi(hub, config, limiter);
  const app = await buildHubServer({ registry: hub.registry, uploads: hub.uploads, ui: ui.routes, search: ui.search, ...(auth && { auth }), ...(https && { https }) });
  await app.listen({ host: config.addr.host, port: config.addr.port });
  const a = app.server.address();
  const where = typeof a === 'object' && a ? `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` : String(a);
  process.stdout.write(`cunik-hub: listening on ${https ? 'https' : 'http'}://${where} (root ${config.root})\n`);
  // Abandoned uploads go after the timeout even when no GC runs.
  const sweep = setInterval(() => void hub.uploads.expire(config.uploadTimeoutMs).catch(() => undefined), Math.min(60_000, config.uploadTimeoutMs)).unref();
  let examples: { cancel(): void } | undefined;
  if (example && typeof a === 'object' && a) {
    const { pushExamples, pushHost } = await import('./example.js');
    examples = pushExamples(pushHost(a.address, a.port), (line) => void process.stdout.write(`cunik-hub: ${line}\n`));
  }
  const stop = (): void => {
    clearInterval(sweep);
    examples?.cancel();
    void app.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

export function program(): Command {
  const p = new Command('cunik-hub').description('CunikHub: an OCI registry for unikernel images').exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 125));
  p.command('serve')
    .description('Serve a registry (OCI Distribution Spec v1.1)')
    .option('--addr <host:port>', `address to listen on (default ${DEFAULT_ADDR})`)
    .option('--root <dir>', `the store (default ${defaultHubRoot()})`)
    .option('--config <file>', 'the YAML config file (docs/hub.md)')
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM)')
    .option('--tls-key <file>', "the certificate's private key (PEM)")
    .option('--tls-client-ca <file>', 'require client certificates signed by this CA (PEM), as a certs.d client.cert gives')
    .option('--example', "also build the project's examples (examples/) through the local cunikd and push them here")
    .action(async (o: HubFlags & { config?: string; example?: boolean }) => {
      const { example, ...flags } = o;
      await serve(await loadConfig(o.config, flags), example === true);
    });
  p.command('gc')
    .description('Remove untagged manifests and blobs nothing refers to (safe while the hub serves)')
    .option('--root <dir>', `the store (default ${defaultHubRoot()})`)
    .option('--config <file>', 'the YAML config file (for the grace period and the root)')
    .option('--dry-run', 'only say what would be removed')
    .action(async (o: { root?: string; config?: string; dryRun?: boolean }) => {
      const config = await loadConfig(o.config, { ...(o.root !== undefined && { root: o.root }) });
      const hub = await openHub(config);
      const r = await collectGarbage(hub.store, hub.registry, hub.uploads, { graceMs: config.gcGraceMs, uploadTimeoutMs: config.uploadTimeoutMs, dryRun: o.dryRun === true });
      const verb = r.dryRun ? 'would remove' : 'removed';
      for (const m of r.manifests) process.stdout.write(`${verb} manifest ${m}\n`);
      for (const b of r.blobs) process.stdout.write(`${verb} blob ${b}\n`);
      process.stdout.write(`${verb} ${r.manifests.length} manifests, ${r.links} blob links, ${r.blobs.length} blobs (${r.bytes} bytes), ${r.uploads} abandoned uploads\n`);
    });
  return p;
}

export async function main(argv: string[]): Promise<void> {
  await program().parseAsync(argv);
}
