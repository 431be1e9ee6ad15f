// The /etc a Debian program expects to find, for linux-family images (an app alone has none):
//   /etc/passwd, /etc/group   Debian's static users and groups (base-passwd's passwd.master and
//                             group.master: root, daemon, ..., www-data, nobody/nogroup), then those
//                             the Cunikfile names (users:, groups:). A user without a uid gets the
//                             next free one from 100 to 999 and a group of its own name, as
//                             `adduser --system --group` does.
//   /etc/hosts                localhost (IPv4 and IPv6), as Debian's netbase writes it;
//   /etc/nsswitch.conf        files (and dns for hosts): both built into glibc since 2.34, so no
//                             libnss_*.so is needed;
//   /etc/services, /etc/protocols  the build host's (Debian's netbase), for getservbyname and
//                             getprotobyname.
// /etc/resolv.conf is written at boot by cunik-init from the instance's network (ip= on the kernel
// command line: init.c). A container image (`from`) keeps the files it has; users and groups the
// Cunikfile names are appended to its passwd and group when missing there.

import { existsSync } from 'node:fs';
import { invalid } from '../../errors.js';

export interface UserSpec {
  name: string;
  uid?: number;
  gid?: number;
  home?: string;
  shell?: string;
  /** Supplementary groups (by name). */
  groups?: string[];
}

export interface GroupSpec {
  name: string;
  gid?: number;
}

/** Debian 12's base-passwd (passwd.master): name, uid, gid, gecos, home, shell. */
const DEBIAN_USERS: [string, number, number, string, string, string][] = [
  ['root', 0, 0, 'root', '/root', '/bin/sh'],
  ['daemon', 1, 1, 'daemon', '/usr/sbin', '/usr/sbin/nologin'],
  ['bin', 2, 2, 'bin', '/bin', '/usr/sbin/nologin'],
  ['sys', 3, 3, 'sys', '/dev', '/usr/sbin/nologin'],
  ['sync', 4, 65534, 'sync', '/bin', '/bin/sync'],
  ['games', 5, 60, 'games', '/usr/games', '/usr/sbin/nologin'],
  ['man', 6, 12, 'man', '/var/cache/man', '/usr/sbin/nologin'],
  ['lp', 7, 7, 'lp', '/var/spool/lpd', '/usr/sbin/nologin'],
  ['mail', 8, 8, 'mail', '/var/mail', '/usr/sbin/nologin'],
  ['news', 9, 9, 'news', '/var/spool/news', '/usr/sbin/nologin'],
  ['uucp', 10, 10, 'uucp', '/var/spool/uucp', '/usr/sbin/nologin'],
  ['proxy', 13, 13, 'proxy', '/bin', '/usr/sbin/nologin'],
  ['www-data', 33, 33, 'www-data', '/var/www', '/usr/sbin/nologin'],
  ['backup', 34, 34, 'backup', '/var/backups', '/usr/sbin/nologin'],
  ['list', 38, 38, 'Mailing List Manager', '/var/list', '/usr/sbin/nologin'],
  ['irc', 39, 39, 'ircd', '/run/ircd', '/usr/sbin/nologin'],
  ['_apt', 42, 65534, '', '/nonexistent', '/usr/sbin/nologin'],
  ['nobody', 65534, 65534, 'nobody', '/nonexistent', '/usr/sbin/nologin'],
];

/** Debian 12's base-passwd (group.master): name, gid. */
const DEBIAN_GROUPS: [string, number][] = [
  ['root', 0], ['daemon', 1], ['bin', 2], ['sys', 3], ['adm', 4], ['tty', 5], ['disk', 6], ['lp', 7],
  ['mail', 8], ['news', 9], ['uucp', 10], ['man', 12], ['proxy', 13], ['kmem', 15], ['dialout', 20],
  ['fax', 21], ['voice', 22], ['cdrom', 24], ['floppy', 25], ['tape', 26], ['sudo', 27], ['audio', 29],
  ['dip', 30], ['www-data', 33], ['backup', 34], ['operator', 37], ['list', 38], ['irc', 39], ['src', 40],
  ['shadow', 42], ['utmp', 43], ['video', 44], ['sasl', 45], ['plugdev', 46], ['staff', 50], ['games', 60],
  ['users', 100], ['nogroup', 65534],
];

const FIRST_SYSTEM_ID = 100;
const LAST_SYSTEM_ID = 999;

interface PwLine { name: string; uid: number; gid: number; line: string }
interface GrLine { name: string; gid: number; members: string[]; line: string }

function parsePasswd(text: string): PwLine[] {
  return text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#')).map((line) => {
    const f = line.split(':');
    return { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), line };
  });
}

function parseGroup(text: string): GrLine[] {
  return text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#')).map((line) => {
    const f = line.split(':');
    return { name: f[0]!, gid: Number(f[2]), members: (f[3] ?? '').split(',').filter((m) => m !== ''), line };
  });
}

/** The lowest id from 100 to 999 that `taken` lacks. */
function nextId(taken: Set<number>, what: string): number {
  for (let id = FIRST_SYSTEM_ID; id <= LAST_SYSTEM_ID; id++) if (!taken.has(id)) return id;
  throw invalid(`${what}: no free id left from ${FIRST_SYSTEM_ID} to ${LAST_SYSTEM_ID}; give one`, 'users');
}

/**
 * /etc/passwd and /etc/group: `existing` (a container image's) or Debian's static ones, with the
 * Cunikfile's groups and users added (each user's primary group made when named after it).
 */
export function passwdAndGroup(users: UserSpec[], groups: GroupSpec[], existing: { passwd?: string; group?: string } = {}): { passwd: string; group: string } {
  const pw = existing.passwd !== undefined ? parsePasswd(existing.passwd)
    : DEBIAN_USERS.map(([name, uid, gid, gecos, home, shell]) => ({ name, uid, gid, line: `${name}:x:${uid}:${gid}:${gecos}:${home}:${shell}` }));
  const gr = existing.group !== undefined ? parseGroup(existing.group)
    : DEBIAN_GROUPS.map(([name, gid]) => ({ name, gid, members: [], line: `${name}:x:${gid}:` }));
  const debianUser = new Map(DEBIAN_USERS.map((u) => [u[0], u]));
  const debianGroup = new Map(DEBIAN_GROUPS);
  const uids = new Set(pw.map((u) => u.uid));
  const gids = new Set(gr.map((g) => g.gid));
  const groupNamed = (name: string): GrLine | undefined => gr.find((g) => g.name === name);
  const addGroup = (name: string, gid: number | undefined): GrLine => {
    const have = groupNamed(name);
    if (have) {
      if (gid !== undefined && have.gid !== gid) throw invalid(`groups: ${name} already has gid ${have.gid}, not ${gid}`, 'groups');
      return have;
    }
    if (gid !== undefined && gids.has(gid)) throw invalid(`groups: ${name}: gid ${gid} is already ${gr.find((g) => g.gid === gid)!.name}'s`, 'groups');
    const id = gid ?? (debianGroup.has(name) && !gids.has(debianGroup.get(name)!) ? debianGroup.get(name)! : nextId(gids, `groups: ${name}`));
    gids.add(id);
    const g = { name, gid: id, members: [], line: '' };
    gr.push(g);
    return g;
  };
  for (const g of groups) addGroup(g.name, g.gid);
  const touched = new Set<GrLine>();
  for (const u of users) {
    const have = pw.find((p) => p.name === u.name);
    if (have) {
      if (u.uid !== undefined && have.uid !== u.uid) throw invalid(`users: ${u.name} already has uid ${have.uid}, not ${u.uid}`, 'users');
    } else {
      if (u.uid !== undefined && uids.has(u.uid)) throw invalid(`users: ${u.name}: uid ${u.uid} is already ${pw.find((p) => p.uid === u.uid)!.name}'s`, 'users');
      const deb = debianUser.get(u.name);
      const uid = u.uid ?? (deb && !uids.has(deb[1]) ? deb[1] : nextId(uids, `users: ${u.name}`));
      uids.add(uid);
      let gid = u.gid;
      if (gid === undefined) {
        // Debian's own users keep their Debian primary group (sync: nogroup); others get one of
        // their name, with the uid as gid when that is free.
        const name = deb ? DEBIAN_GROUPS.find((g) => g[1] === deb[2])?.[0] ?? u.name : u.name;
        gid = (groupNamed(name) ?? addGroup(name, deb || gids.has(uid) ? undefined : uid)).gid;
      }
      const home = u.home ?? deb?.[4] ?? '/nonexistent';
      const shell = u.shell ?? deb?.[5] ?? '/usr/sbin/nologin';
      pw.push({ name: u.name, uid, gid, line: `${u.name}:x:${uid}:${gid}::${home}:${shell}` });
    }
    for (const name of u.groups ?? []) {
      const g = groupNamed(name);
      if (!g) throw invalid(`users: ${u.name}: no group named ${name} (add it under groups:)`, 'users');
      if (!g.members.includes(u.name)) {
        g.members.push(u.name);
        touched.add(g);
      }
    }
  }
  const grLine = (g: GrLine): string => (g.line !== '' && !touched.has(g) ? g.line : `${g.name}:x:${g.gid}:${g.members.join(',')}`);
  return { passwd: pw.map((u) => `${u.line}\n`).join(''), group: gr.map((g) => `${grLine(g)}\n`).join('') };
}

export const HOSTS = '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n';

export const NSSWITCH = [
  'passwd:         files', 'group:          files', 'shadow:         files', 'gshadow:        files',
  'hosts:          files dns', 'networks:       files', 'protocols:      files', 'services:       files',
  'ethers:         files', 'rpc:            files', 'netgroup:       files', '',
].join('\n');

/** NSS services glibc (2.34 and later) has built in: they need no libnss_*.so. */
export const BUILTIN_NSS = new Set(['files', 'dns']);

/** The services an nsswitch.conf names (after each "database:"), without [STATUS=action] items. */
export function nssServices(conf: string): string[] {
  const out = new Set<string>();
  for (const raw of conf.split('\n')) {
    const line = raw.replace(/#.*/, '');
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    for (const w of line.slice(colon + 1).replace(/\[[^\]]*\]/g, ' ').split(/\s+/)) if (/^[A-Za-z0-9_-]+$/.test(w)) out.add(w);
  }
  return [...out];
}

/** The build host's netbase files that go into every image (absent on the host: left out). */
export function netbaseFiles(hostEtc = '/etc'): { guest: string; host: string }[] {
  return ['services', 'protocols'].map((n) => ({ guest: `/etc/${n}`, host: `${hostEtc}/${n}` })).filter((f) => existsSync(f.host));
}

export interface RunAs {
  uid: number;
  gid: number;
  /** Supplementary gids (the groups that list the user as a member). */
  groups: number[];
}

/**
 * Who `user` (Docker's USER: NAME, UID, NAME:GROUP, UID:GID) is in this passwd and group, as runc
 * resolves it: a name must be in passwd; a uid that is not gets gid 0; the supplementary groups are
 * those that list the user's name as a member.
 */
export function resolveUser(user: string, passwd: string, group: string): RunAs {
  const [u, g] = user.split(':') as [string, string | undefined];
  const pw = parsePasswd(passwd);
  const gr = parseGroup(group);
  const numeric = (s: string): boolean => /^[0-9]+$/.test(s);
  const entry = pw.find((p) => (numeric(u) ? p.uid === Number(u) : p.name === u));
  if (!entry && !numeric(u)) throw invalid(`user: no user named ${u} in the image's /etc/passwd (add it under users:)`, 'user');
  let gid = entry?.gid ?? 0;
  if (g !== undefined) {
    const named = gr.find((x) => (numeric(g) ? x.gid === Number(g) : x.name === g));
    if (!named && !numeric(g)) throw invalid(`user: no group named ${g} in the image's /etc/group (add it under groups:)`, 'user');
    gid = named?.gid ?? Number(g);
  }
  const groups = entry ? gr.filter((x) => x.members.includes(entry.name) && x.gid !== gid).map((x) => x.gid) : [];
  return { uid: entry?.uid ?? Number(u), gid, groups };
}
