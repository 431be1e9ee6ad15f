// Image references, parsed like Docker's distribution/reference grammar:
//   reference  := name [ ":" tag ] [ "@" digest ]
//   name       := [ domain "/" ] path-component { "/" path-component }
//   domain     := host [ ":" port ]   (first component, when it has a "." or ":" or is "localhost")
//   path-comp  := [a-z0-9]+ ( ( [._] | "__" | "-"+ ) [a-z0-9]+ )*
//   tag        := [A-Za-z0-9_][A-Za-z0-9._-]{0,127}
//   digest     := "sha256:" 64 lowercase hex
// Unlike Docker, no registry is written into a name ("docker.io/library/" is not added): names
// stay as written. A name without one is a local image, or, for pull and push, one of the
// daemon's default registry when it has one (cunikd --default-registry, docs/distribution.md).

import { invalid } from '../errors.js';

export const DEFAULT_TAG = 'latest';
const MAX_NAME_LENGTH = 255;

export const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_LABEL = '(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])';
const DOMAIN = new RegExp(`^(?:${DOMAIN_LABEL}(?:\\.${DOMAIN_LABEL})*|\\[[0-9A-Fa-f:.]+\\])(?::[0-9]+)?$`);
export const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

export interface Reference {
  /** Registry host[:port], when the name has one. */
  domain?: string;
  /** The repository name including the domain, e.g. "localhost:5000/team/hello". */
  name: string;
  /** Present unless the reference is name@digest without a tag. */
  tag?: string;
  digest?: string;
}

export interface TaggedReference {
  name: string;
  tag: string;
  /** "name:tag", the form the store keys references by. */
  ref: string;
}

const bad = (s: string, why: string, field: string): never => {
  throw invalid(`invalid reference format: ${why}: ${JSON.stringify(s)}`, field);
};

/** Parse any reference. The tag defaults to "latest" unless a digest is given. */
export function parseReference(s: string, field = 'ref'): Reference {
  if (typeof s !== 'string' || s.length === 0) return bad(String(s), 'empty reference', field);
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) bad(s, 'digest must be sha256:<64 lowercase hex>', field);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) bad(s, 'tag must match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}', field);
  }
  if (rest.length === 0) bad(s, 'empty repository name', field);
  if (rest.length > MAX_NAME_LENGTH) bad(s, `repository name longer than ${MAX_NAME_LENGTH} characters`, field);

  const parts = rest.split('/');
  let domain: string | undefined;
  const first = parts[0]!;
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    if (!DOMAIN.test(first)) bad(s, `invalid registry host ${JSON.stringify(first)}`, field);
    domain = first;
    parts.shift();
  }
  for (const p of parts) {
    if (p.length === 0) bad(s, 'empty path component', field);
    if (!PATH_COMPONENT.test(p)) {
      if (PATH_COMPONENT.test(p.toLowerCase())) bad(s, 'repository name must be lowercase', field);
      bad(s, `invalid path component ${JSON.stringify(p)} (allowed: lowercase letters, digits, separators . _ __ -)`, field);
    }
  }
  const out: Reference = { name: rest };
  if (domain !== undefined) out.domain = domain;
  if (tag !== undefined) out.tag = tag;
  else if (digest === undefined) out.tag = DEFAULT_TAG;
  if (digest !== undefined) out.digest = digest;
  return out;
}

/** Parse a reference that names an image: name[:tag], no digest. Returns the "name:tag" key. */
export function parseTaggedReference(s: string, field = 'ref'): TaggedReference {
  const r = parseReference(s, field);
  if (r.digest !== undefined) bad(s, 'a digest cannot be used to name an image', field);
  // Docker's rule: a 64-hex name would read as an image id.
  if (/^[a-f0-9]{64}$/.test(r.name)) bad(s, 'a repository name cannot be a 64-character hexadecimal string', field);
  const tag = r.tag ?? DEFAULT_TAG;
  return { name: r.name, tag, ref: `${r.name}:${tag}` };
}

/** "name" → "name:latest"; "name:tag" unchanged; throws on malformed input. */
export function normalizeReference(s: string, field = 'ref'): string {
  const r = parseReference(s, field);
  let out = r.name;
  if (r.tag !== undefined) out += `:${r.tag}`;
  if (r.digest !== undefined) out += `@${r.digest}`;
  return out;
}

export function isTag(s: string): boolean {
  return TAG.test(s);
}

/** Whether `s` is a registry host as a reference's first component may name one: HOST[:PORT]. */
export function isRegistryHost(s: string): boolean {
  return s.length <= MAX_NAME_LENGTH && DOMAIN.test(s);
}

export function isDigest(s: string): boolean {
  return DIGEST.test(s);
}
