// The user VMs run as: found in passwd, made when missing, never root; nobody (with a warning)
// when it cannot be had; a daemon that is not root runs its VMs as itself.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { passwdEntry, resolveVmUser, runasArg } from '../../src/vmm/vm-user.js';

const dir = mkdtempSync(join(tmpdir(), 'cunik-vmuser-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const passwd = join(dir, 'passwd');
const base = 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n';

test('passwdEntry reads uid and gid of a name, and nothing of a near miss or a short line', () => {
  const text = `${base}cunik-vm:x:999:995:Cunik VMs:/nonexistent:/usr/sbin/nologin\ncunik-vm2:x:5:5::/:/bin/sh\nbroken:x:7\n`;
  assert.deepEqual(passwdEntry(text, 'cunik-vm'), { uid: 999, gid: 995 });
  assert.equal(passwdEntry(text, 'cunik'), undefined);
  assert.equal(passwdEntry(text, 'broken'), undefined);
});

test('an existing user is used as it is; a missing one is made (and looked up again)', async () => {
  writeFileSync(passwd, `${base}cunik-vm:x:999:995::/nonexistent:/usr/sbin/nologin\n`);
  let made = 0;
  const create = async (): Promise<void> => void made++;
  assert.deepEqual(await resolveVmUser('cunik-vm', { passwdFile: passwd, euid: 0, create }), { name: 'cunik-vm', uid: 999, gid: 995, switches: true });
  assert.equal(made, 0);

  writeFileSync(passwd, base);
  const adds = async (name: string): Promise<void> => {
    made++;
    writeFileSync(passwd, `${readFileSync(passwd, 'utf8')}${name}:x:998:994::/nonexistent:/usr/sbin/nologin\n`);
  };
  assert.deepEqual(await resolveVmUser('vmuser', { passwdFile: passwd, euid: 0, create: adds }), { name: 'vmuser', uid: 998, gid: 994, switches: true });
  assert.equal(made, 1);
});

test('a user that cannot be made, or that is uid 0: VMs run as nobody, with a warning that says why', async () => {
  writeFileSync(passwd, base);
  const fails = async (): Promise<void> => {
    throw Object.assign(new Error('Command failed'), { stderr: 'useradd: cannot lock /etc/passwd; try again later.\n' });
  };
  const u = await resolveVmUser('cunik-vm', { passwdFile: passwd, euid: 0, create: fails });
  assert.deepEqual({ ...u, warning: undefined }, { name: 'nobody', uid: 65534, gid: 65534, switches: true, warning: undefined });
  assert.equal(u.warning, 'VMs run as nobody: the VM user cunik-vm could not be had (useradd: cannot lock /etc/passwd; try again later.)');

  writeFileSync(passwd, `${base}toor:x:0:0::/:/bin/sh\n`);
  const root = await resolveVmUser('toor', { passwdFile: passwd, euid: 0, create: fails });
  assert.equal(root.uid, 65534);
  assert.match(root.warning!, /toor could not be had \(it has uid 0\)/);
});

test('a daemon that is not root: its VMs run as itself, no switch, nothing made', async () => {
  const u = await resolveVmUser('cunik-vm', { passwdFile: passwd, euid: 1000, create: async () => assert.fail('no useradd') });
  assert.equal(u.switches, false);
  assert.equal(u.uid, 1000);
  assert.equal(runasArg({ uid: 999, gid: 995 }), '999:995');
});
