// Every benchmark's goals, in one table: `npm run bench -- NAME --check` exits non-zero when a
// figure misses its goal, and each bench's header prints its lines. A ratio is always Cunik's
// figure over its peer's (bare QEMU with the daemon's own argv, `node -e 0`, ...), whichever way
// is better for that figure.
export interface Goal {
  bench: string;
  figure: string;
  /** Which way is better. */
  better: 'lower' | 'higher';
  goal: number;
  what: string;
  /** Where the goal comes from. */
  source: string;
}

export const GOALS: readonly Goal[] = [
  { bench: 'coldstart', figure: 'ratio', better: 'lower', goal: 1.5, what: 'Cunik / bare QEMU: ms from the start request (bare: the spawn) to the first console line', source: 'set with this table (no earlier goal)' },
  { bench: 'cli', figure: 'ratio', better: 'lower', goal: 1.25, what: '`cunik version` / `node -e 0` (as bin/cunik starts node)', source: 'set with this table (no earlier goal)' },
  { bench: 'cli', figure: 'run_ratio', better: 'lower', goal: 1.5, what: '`cunik run --rm hello` / (`node -e 0` + the bare QEMU run to its exit)', source: 'set with this table (no earlier goal)' },
  { bench: 'lifecycle', figure: 'ratio', better: 'higher', goal: 0.8, what: 'Cunik / bare QEMU: create+start+stop+rm cycles per second, 4 in parallel', source: 'docs/instances.md' },
  { bench: 'density', figure: 'host_vs_bare', better: 'lower', goal: 1.05, what: 'Cunik / bare QEMU: host memory per idle instance', source: 'docs/instances.md' },
  { bench: 'density', figure: 'start_vs_bare', better: 'lower', goal: 1.2, what: 'Cunik / bare QEMU: seconds to start all, two at a time', source: 'docs/instances.md' },
  { bench: 'density', figure: 'daemon_rss_kib_per_instance', better: 'lower', goal: 100, what: "the daemon's RSS growth per running instance, KiB", source: 'docs/instances.md' },
  { bench: 'density', figure: 'restore_s', better: 'lower', goal: 5, what: 'seconds for a restarted daemon to re-adopt them all', source: 'docs/instances.md' },
  { bench: 'density', figure: 'ps_ms', better: 'lower', goal: 100, what: '`cunik ps` with all of them running, ms', source: 'docs/instances.md' },
  { bench: 'boot-linux', figure: 'ratio', better: 'lower', goal: 1.1, what: 'Cunik / bare QEMU: ms to the httpd example\'s ready line', source: 'bench/boot-linux.ts' },
  { bench: 'boot-linux', figure: 'bzimage_ratio', better: 'lower', goal: 0.4, what: 'Cunik (uncompressed vmlinux) / bare QEMU booting the bzImage: ms to the ready line', source: 'bench/boot-linux.ts (bzImage at least 2.5 times slower)' },
  { bench: 'rootdisk', figure: 'first_response_s', better: 'lower', goal: 2.5, what: 'seconds from `cunik run -d -p` to the first HTTP 200 of a Debian minbase + lighttpd image on its root disk (TCG)', source: 'issue 16 (was 7.7 in an initramfs)' },
  { bench: 'rootdisk', figure: 'host_mib_per_instance', better: 'lower', goal: 64, what: 'host PSS per instance, MiB, 10 instances of it at once', source: 'issue 16 (was 586)' },
  { bench: 'rootdisk', figure: 'first_response_app_s', better: 'lower', goal: 2.5, what: 'the same, the image built with `snapshot: app` (clones of a template saved once lighttpd listens)', source: 'issue 16, with the app snapshot' },
  { bench: 'rootdisk', figure: 'host_mib_per_instance_app', better: 'lower', goal: 64, what: 'the same, 10 instances of the `snapshot: app` build at once', source: 'issue 16, with the app snapshot' },
  { bench: 'rootdisk', figure: 'memory_min_mib', better: 'lower', goal: 160, what: "the image's org.cunik.memory.min, MiB", source: 'issue 16' },
  { bench: 'rootdisk', figure: 'build_cold_s', better: 'lower', goal: 10, what: 'seconds of `cunik build --no-cache` of it', source: 'issue 16' },
  { bench: 'rootdisk', figure: 'build_warm_s', better: 'lower', goal: 0.5, what: 'seconds to rebuild it unchanged', source: 'issue 16' },
  { bench: 'build-cache', figure: 'warm_s', better: 'lower', goal: 0.5, what: 'seconds to rebuild the unchanged redis example', source: 'bench/build-cache.ts' },
  { bench: 'build-cache', figure: 'one_file_ratio', better: 'lower', goal: 1 / 3, what: 'rebuild after one file changed / the cold build', source: 'bench/build-cache.ts' },
  { bench: 'registry', figure: 'push_ratio', better: 'higher', goal: 1.2, what: 'CunikHub / docker-registry: MB/s pushing a 256 MiB image (4 random 64 MiB layers) with the same client', source: 'issue 12' },
  { bench: 'registry', figure: 'pull_ratio', better: 'higher', goal: 1.2, what: 'CunikHub / docker-registry: MB/s pulling it back (verified, fsynced)', source: 'issue 12' },
  { bench: 'registry', figure: 'pull_vs_limit', better: 'higher', goal: 0.6, what: "CunikHub pull MB/s / reading, hashing and writing the same bytes beside the hub's root (no network)", source: 'issue 12' },
  { bench: 'registry', figure: 'noop_pull_ms', better: 'lower', goal: 50, what: '`cunik pull` of an image already present minus `cunik version`, ms', source: 'issue 12' },
  { bench: 'registry', figure: 'hub_peak_rss_mib', better: 'lower', goal: 100, what: "the hub's peak RSS (VmHWM) over the run, MiB", source: 'issue 12' },
  { bench: 'registry', figure: 'manifest_ttfb_ms', better: 'lower', goal: 2, what: 'time to first byte of a manifest GET on loopback, median of 200, ms', source: 'issue 12' },
  { bench: 'registry-ui', figure: 'list_ms', better: 'lower', goal: 50, what: "the web UI's repository list with 1,000 repositories in the hub, full response on loopback, median of 20, ms", source: 'issue 12' },
  { bench: 'registry-ui', figure: 'image_ms', better: 'lower', goal: 50, what: "the web UI's image page with 1,000 repositories in the hub, full response on loopback, median of 20, ms", source: 'issue 12' },
  { bench: 'containerd', figure: 'ratio', better: 'lower', goal: 2, what: '`ctr run --rm hello` through cunik-runc / `cunik run --rm hello` through cunikd, ms to exit', source: 'issue 14' },
  { bench: 'containerd', figure: 'memory_ratio', better: 'lower', goal: 1.1, what: "an idle task's cunik-shim + QEMU / a cunikd instance's, PSS", source: 'issue 14' },
  { bench: 'docker-compat', figure: 'ratio', better: 'lower', goal: 1.3, what: '`docker run --rm hello` through cunikd --docker-host / `cunik run --rm hello`, ms (the docker CLI is Go and starts faster than node: may be below 1)', source: 'issue 15' },
  { bench: 'docker-compat', figure: 'ps_ratio', better: 'lower', goal: 1.3, what: '`docker ps -a` / `cunik ps -a` with 100 instances, ms', source: 'issue 15' },
  { bench: 'net-churn', figure: 'leaks', better: 'lower', goal: 0, what: 'how many of taps, addresses, port files, nft rules, listeners, passt processes differ after the cycles from before', source: 'issue 13' },
  { bench: 'net-throughput', figure: 'dnat_ratio', better: 'higher', goal: 0.9, what: 'busybox httpd guest: req/s through a published port from another host (DNAT) / to the bridge address directly', source: 'issue 13' },
  { bench: 'net-throughput', figure: 'loopback_ratio', better: 'higher', goal: 0.7, what: 'busybox httpd guest: req/s through 127.0.0.1 (hairpin DNAT, in place of a proxy) / to the bridge address directly', source: 'issue 13 (goal of the proxy)' },
  // The bridge-against-user goal is about the network path: with busybox httpd (a fork per
  // connection, under TCG) the guest is the limit on every path (`bridge_vs_user` ~1, still
  // reported), so the goal applies to lighttpd (event-driven), a new connection per request as before.
  { bench: 'net-throughput', figure: 'bridge_vs_user_lighttpd', better: 'higher', goal: 2, what: 'lighttpd guest: req/s to the bridge address / to the same guest in user mode (passt, 127.0.0.1), a new connection per request', source: 'issue 13' },
  { bench: 'net-start', figure: 'ratio', better: 'lower', goal: 1.05, what: '`run -d` to the first answered request on 127.0.0.1: bridge network / user mode', source: 'issue 13' },
];

export const goalsOf = (bench: string): Goal[] => GOALS.filter((g) => g.bench === bench);
