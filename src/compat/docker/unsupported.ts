// What an endpoint the compat layer does not serve answers: Docker's error JSON naming what is
// missing, and why where a unikernel explains it.
const REASONS: [RegExp, string][] = [
  [/^\/containers\/[^/]+\/exec$|^\/exec\//, 'exec: a unikernel runs one program and has no processes to start another in'],
  [/^\/containers\/[^/]+\/(archive|export)$/, 'copying files out of an instance: the guest file system is the image (read it there)'],
  [/^\/containers\/[^/]+\/changes$/, 'docker diff: a VM writes inside its own disks, which the host does not list'],
  [/^\/(build|session|grpc)/, 'docker build: build images with cunik build and a Cunikfile'],
  [/^\/commit$/, 'commit: an instance does not change its image'],
  [/^\/(swarm|services|nodes|tasks|secrets|configs)/, 'swarm mode'],
  [/^\/plugins/, 'plugins'],
  [/^\/distribution\//, 'registry manifest queries'],
  [/^\/images\/search$/, 'image search (use cunik search)'],
  [/^\/networks\/[^/]+\/(connect|disconnect)$/, 'connecting a running instance to a network: a VM joins its network at start (cunik run --network)'],
];

export function unsupportedReason(method: string, url: string): string {
  const path = url.split('?')[0]!.replace(/^\/v\d+\.\d+(?=\/)/, '');
  const hit = REASONS.find(([re]) => re.test(path));
  return `not supported by Cunik's Docker API: ${method} ${path}${hit ? ` (${hit[1]})` : ''}`;
}
