// Query in, decision out: answer from the network's table, forward to the host's resolvers, or
// drop. Pure (no sockets, no clock), so every case is a table test (test/unit/network-dns.test.ts).
// docs/networking.md, "Names (DNS)".
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, Packet, Question } from 'dns-packet';
import { isDnsName, normalizeName, type Zone } from './zone.js';

/**
 * The TTL of every answer the responder gives itself. 0: a resolver in the guest must not keep an
 * answer, so an instance that is removed stops resolving at the next lookup and a new one resolves
 * at once (Docker says 600, but its answers come from a resolver in each container's own namespace
 * that nothing sits in front of; a guest may run a caching resolver). Every lookup costs one round
 * trip over the bridge to the host, well under a millisecond.
 */
export const TTL = 0;
/** The largest UDP answer the responder sends to a client that says it takes more (EDNS): 1232 bytes, the 2020 DNS flag day's value, below any path MTU. */
export const MAX_UDP_PAYLOAD = 1232;
/** Without EDNS a UDP answer is at most 512 bytes (RFC 1035); a longer one is sent truncated (TC) and the client asks again over TCP. */
export const PLAIN_UDP_PAYLOAD = 512;

export type Transport = 'udp' | 'tcp';

export type Decision =
  | { kind: 'drop'; reason: string }
  | { kind: 'reply'; packet: Buffer }
  /** Not the network's name: the query goes to the host's resolvers as it came; `servfail` is the answer if none answers. `limit`: the largest answer the client takes. */
  | { kind: 'forward'; id: number; question: Question; limit: number; servfail: Buffer };

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4 } as const;
const QR = 0x8000;
const OPCODE_MASK = 0x7800;
const AA = dnsPacket.AUTHORITATIVE_ANSWER;
const TC = dnsPacket.TRUNCATED_RESPONSE;
const RD = dnsPacket.RECURSION_DESIRED;
const RA = dnsPacket.RECURSION_AVAILABLE;

export function decide(msg: Buffer, zone: Zone, transport: Transport): Decision {
  if (msg.length < 12) return { kind: 'drop', reason: 'shorter than a DNS header' };
  const flags = msg.readUInt16BE(2);
  // Answers are never answered (two responders could otherwise bounce one packet forever).
  if (flags & QR) return { kind: 'drop', reason: 'not a query' };
  let query: DecodedPacket;
  try {
    query = dnsPacket.decode(msg);
  } catch {
    return { kind: 'drop', reason: 'malformed' };
  }
  const id = msg.readUInt16BE(0);
  if ((flags & OPCODE_MASK) !== 0) return { kind: 'reply', packet: headerOnly(id, (flags & OPCODE_MASK) | RA, RCODE.NOTIMP) };
  const questions = query.questions ?? [];
  const q = questions[0];
  if (questions.length !== 1 || q === undefined) return { kind: 'reply', packet: headerOnly(id, RA, RCODE.FORMERR) };

  const opt = (query.additionals ?? []).find((a) => a.type === 'OPT');
  const limit = transport === 'tcp' ? 65535 : opt && 'udpPayloadSize' in opt ? Math.min(Math.max(opt.udpPayloadSize ?? 0, PLAIN_UDP_PAYLOAD), MAX_UDP_PAYLOAD) : PLAIN_UDP_PAYLOAD;
  const reply = (rcode: number, answers: Answer[], aa: boolean): Decision => ({
    kind: 'reply',
    packet: encodeLimited({ id, type: 'response', flags: (aa ? AA : 0) | (flags & RD) | RA | rcode, questions: [q], answers, additionals: opt ? [ourOpt()] : [] }, limit),
  });
  const forward = (): Decision => ({ kind: 'forward', id, question: q, limit, servfail: encodeLimited({ id, type: 'response', flags: (flags & RD) | RA | RCODE.SERVFAIL, questions: [q], answers: [], additionals: opt ? [ourOpt()] : [] }, limit) });

  // Other classes (CHAOS's version.bind...) are not the network's: the host's resolvers decide.
  if (q.class !== 'IN' && q.class !== 'ANY') return forward();
  const found = zone.lookup(q.name);
  if (found === undefined) {
    const n = normalizeName(q.name);
    // A single label no instance holds is answered here, not sent to the host's resolvers: it
    // cannot be a name on the internet, an instance's name is not told to outside resolvers, and
    // this NXDOMAIN (without an SOA) is not cached, so the instance resolves once it is started.
    if (n !== '' && !n.includes('.') && isDnsName(n)) return reply(RCODE.NXDOMAIN, [], true);
    return forward();
  }
  if (found.kind === 'nxdomain') return reply(RCODE.NXDOMAIN, [], true);
  const name = q.name;
  const qtype: string = q.type; // 'ANY' (255) is not in the typings' RecordType
  const answers: Answer[] = [];
  if (found.kind === 'ptr') {
    if (qtype === 'PTR' || qtype === 'ANY') answers.push({ name, type: 'PTR', class: 'IN', ttl: TTL, data: found.target });
  } else {
    // The name is the network's whatever the type: AAAA of an instance without IPv6, MX, TXT...
    // get "no data" (NOERROR, no answers), never a trip to the host's resolvers.
    if (qtype === 'A' || qtype === 'ANY') for (const a of found.addresses.v4) answers.push({ name, type: 'A', class: 'IN', ttl: TTL, data: a });
    if (qtype === 'AAAA' || qtype === 'ANY') for (const a of found.addresses.v6) answers.push({ name, type: 'AAAA', class: 'IN', ttl: TTL, data: a });
  }
  return reply(RCODE.NOERROR, answers, true);
}

/** The OPT record of the responder's answers to a client that sent one (EDNS 0, no options). */
function ourOpt(): Answer {
  return { type: 'OPT', name: '.', udpPayloadSize: MAX_UDP_PAYLOAD, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] };
}

/** The packet, or, over `limit` bytes, the same without its answers and with TC set. */
function encodeLimited(p: Packet & { answers: Answer[] }, limit: number): Buffer {
  const full = dnsPacket.encode(p);
  if (full.length <= limit) return full;
  return dnsPacket.encode({ ...p, flags: (p.flags ?? 0) | TC, answers: [] });
}

function headerOnly(id: number, flags: number, rcode: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(id, 0);
  b.writeUInt16BE(QR | flags | rcode, 2);
  return b;
}

/**
 * An upstream's answer to a forwarded query, as the client gets it, or undefined if it is not the
 * answer to that query (another id, not a response, another question, malformed: dropped, the
 * wait goes on). The client's id is put back; over `limit` bytes (UDP) it is cut to its header and
 * question with TC set, and the client asks again over TCP.
 */
export function relayAnswer(raw: Buffer, sentId: number, question: Question, clientId: number, limit: number): Buffer | undefined {
  if (raw.length < 12 || raw.readUInt16BE(0) !== sentId || !(raw.readUInt16BE(2) & QR)) return undefined;
  let p: DecodedPacket;
  try {
    p = dnsPacket.decode(raw);
  } catch {
    return undefined;
  }
  const q = p.questions?.[0];
  if (p.questions?.length !== 1 || q === undefined || normalizeName(q.name) !== normalizeName(question.name) || q.type !== question.type || q.class !== question.class) return undefined;
  let out: Buffer;
  if (raw.length <= limit) {
    out = Buffer.from(raw);
  } else {
    const opt = (p.additionals ?? []).filter((a) => a.type === 'OPT');
    out = dnsPacket.encode({ id: 0, type: 'response', flags: (p.flags ?? 0) | TC, questions: [q], answers: [], authorities: [], additionals: opt });
  }
  out.writeUInt16BE(clientId, 0);
  return out;
}
