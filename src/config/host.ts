// The daemon address forms, for the CLI's -H/CUNIK_HOST and cunikd's --host alike: one parser, so
// `cunikd --host unix:///x.sock` listens where `cunik -H unix:///x.sock` connects (it used to
// create a file named "unix:" in the working directory).

/** The socket path an address names: unix:///path, or a path (absolute, or starting with "."). */
export function socketPathOf(host: string): string {
  const bad = (why: string): never => {
    throw new Error(`invalid host ${JSON.stringify(host)}: ${why}`);
  };
  if (host.startsWith('unix://')) {
    const path = host.slice('unix://'.length);
    if (path === '') bad('no socket path after unix:// (use unix:///path/to/socket)');
    return path;
  }
  if (host.startsWith('tcp://')) bad('tcp:// hosts need TLS, which is not supported yet; use a unix socket (unix:///path/to/socket)');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(host)) bad(`unknown scheme ${host.slice(0, host.indexOf('://') + 3)} (use unix:///path/to/socket)`);
  if (host.startsWith('/') || host.startsWith('.')) return host;
  return bad('expected unix:///path/to/socket or an absolute path');
}
