// cunik login: check credentials against a registry (its token flow or basic auth), then keep
// them (mode 0600) in Cunik's config for pull and push.
import type { Command } from 'commander';
import { createInterface } from 'node:readline';
import { storeCredentials } from '../../config/credentials.js';
import { RegistryClient } from '../../images/registry.js';
import { registryCertsDir } from '../../config/defaults.js';
import { action, clientFor } from '../util.js';
import { defaultRegistry } from './pull.js';

interface LoginFlags {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
  insecure?: boolean;
}

/** The daemon's default registry, for a verb given no registry (Docker's login takes its index server). */
export async function daemonDefault(cmd: Command, verb: string): Promise<string> {
  const client = await clientFor(cmd);
  try {
    const d = await defaultRegistry(client);
    if (d === undefined) throw new Error(`give a registry: cunik ${verb} HOST[:PORT] (the daemon has no default registry, cunikd --default-registry)`);
    return d;
  } finally {
    client.close();
  }
}

async function readStdin(): Promise<string> {
  let s = '';
  for await (const c of process.stdin) s += (c as Buffer).toString('utf8');
  return s.replace(/\r?\n$/, '');
}

function ask(question: string, hidden: boolean): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    if (hidden) {
      const write = (rl as unknown as { _writeToOutput: (s: string) => void });
      write._writeToOutput = (s: string) => {
        if (s.includes(question)) process.stderr.write(question);
      };
    }
    rl.question(question, (answer) => {
      rl.close();
      if (hidden) process.stderr.write('\n');
      resolve(answer);
    });
  });
}

export const loginAction = action(async (given: string | undefined, flags: LoginFlags, cmd: Command) => {
  const registry = given ?? (await daemonDefault(cmd, 'login'));
  if (!/^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9A-Fa-f:.]+\](:\d+)?$/.test(registry)) throw new Error(`invalid registry ${JSON.stringify(registry)}: give HOST[:PORT]`);
  if (flags.password !== undefined && flags.passwordStdin) throw new Error('--password and --password-stdin cannot be used together');
  let username = flags.username;
  let password = flags.password;
  if (flags.passwordStdin) {
    if (username === undefined) throw new Error('--password-stdin needs --username');
    password = await readStdin();
  }
  if (username === undefined || password === undefined) {
    if (!process.stdin.isTTY) throw new Error('no terminal to ask for credentials: use --username with --password-stdin');
    username ??= await ask('Username: ', false);
    password ??= await ask('Password: ', true);
  }
  if (username === '') throw new Error('the username cannot be empty');
  const client = new RegistryClient(registry, '', { certsDir: registryCertsDir(), credentials: { username, password }, ...(flags.insecure && { insecure: true }) });
  await client.ping();
  const path = storeCredentials(registry, { username, password });
  process.stdout.write(`Login Succeeded (credentials stored in ${path})\n`);
});

export function register(program: Command): void {
  program.command('login').description('Log in to a registry')
    .argument('[registry]', 'HOST[:PORT] (default: the daemon\'s default registry, cunikd --default-registry)')
    .option('-u, --username <name>', 'user name')
    .option('-p, --password <password>', 'password (prefer --password-stdin)')
    .option('--password-stdin', 'read the password from standard input')
    .option('--insecure', 'allow plain HTTP to this registry (loopback registries always may)')
    .action(loginAction);
}
