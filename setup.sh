#!/usr/bin/env bash
# Set up Cunik on a fresh Debian/Ubuntu machine (as root), then run the hello unikernel.
# Installs what is missing (QEMU, gcc, skopeo, npm packages), builds, puts `cunik` and `cunikd`
# on PATH, imports the bundled hello image and runs it under the daemon. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"
say() { printf '==> %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then echo "setup.sh: run as root (it installs Debian packages)" >&2; exit 1; fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "setup.sh: Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# Debian packages: everything a shipped feature or a test needs (no test may skip for a missing
# package: scripts/test.js fails the run on a skip). QEMU (+ its firmware), a C toolchain for the
# test kernels, skopeo for OCI interop tests.
missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
command -v gcc >/dev/null || missing+=(gcc)
command -v ld >/dev/null || missing+=(binutils)
command -v skopeo >/dev/null || missing+=(skopeo)
command -v make >/dev/null || missing+=(make)
command -v flock >/dev/null || missing+=(util-linux)                     # cunikd's root lock (flock(1))
compgen -G '/boot/vmlinuz-*' >/dev/null || missing+=(linux-image-amd64) # cunik build: the linux family's default kernel and modules
dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)       # cunik build tests and examples: a static /bin/busybox
[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || missing+=(libc6-dev)           # cunik-init is linked statically
command -v xz >/dev/null || missing+=(xz-utils)                           # extracting Debian's xz-compressed vmlinux
command -v cpio >/dev/null || missing+=(cpio)                             # tests read initramfs archives back
command -v zstd >/dev/null || missing+=(zstd)                             # cunik build: kernels with a zstd-compressed payload; zstd layers and archives
command -v bzip2 >/dev/null || missing+=(bzip2)                           # cunik load of a bzip2-compressed archive, as docker load takes
command -v qemu-img >/dev/null || missing+=(qemu-utils)                   # disk-booted images (nanos, osv): per-instance qcow2 overlays; qcow2 test disks
[ -x /sbin/mkfs.ext4 ] || [ -x /usr/sbin/mkfs.ext4 ] || missing+=(e2fsprogs)  # block volumes: mkfs.ext4
command -v mkfs.erofs >/dev/null || missing+=(erofs-utils)               # cunik build: the read-only root disk of big from: images (docs/cunikfile.md)
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)                # npm run bench -- rootdisk: a Debian root file system made at bench time
command -v redis-server >/dev/null || missing+=(redis-server)             # examples/redis: the app of the redis example
command -v redis-cli >/dev/null || missing+=(redis-tools)                 # examples/redis: its tests and README ping it
command -v passt >/dev/null || missing+=(passt)                           # user-mode networking without the host's loopback (docs/networking.md)
command -v nft >/dev/null || missing+=(nftables)                           # bridge networks: Cunik's own nftables table (docs/networking.md)
command -v iptables-nft >/dev/null || missing+=(iptables)                 # bridge networks where nft is missing: the iptables-nft firewall driver; its conformance test
command -v ip >/dev/null || missing+=(iproute2)                           # bridge networks: bridges and taps; tests: network namespaces
command -v useradd >/dev/null || missing+=(passwd)                        # the cunik-vm user VMs run as
[ -x /usr/bin/memcached ] || missing+=(memcached)                         # examples/memcached: the app (it switches to a user at start)
[ -x /usr/sbin/lighttpd ] || missing+=(lighttpd)                          # examples/lighttpd: the app (it switches to www-data at start)
[ -f /etc/services ] || missing+=(netbase)                                # cunik build: /etc/services and /etc/protocols for linux images
command -v systemd-analyze >/dev/null || missing+=(systemd)              # contrib/cunikd.service is checked by systemd-analyze verify
command -v docker-registry >/dev/null || missing+=(docker-registry)     # CunikHub's tests and bench: Docker Distribution as the reference registry
command -v chromium >/dev/null || missing+=(chromium)                   # CunikHub's web UI test: headless Chromium driven by playwright-core
command -v dig >/dev/null || missing+=(bind9-dnsutils)                  # the bridge networks' DNS responder is tested with dig (docs/networking.md, "Names (DNS)")
command -v containerd >/dev/null || missing+=(containerd)                 # cunik-runc's tests: Debian's containerd and ctr (docs/kubernetes.md)
[ -x /usr/sbin/runc ] || missing+=(runc)                                  # cunik-runc hands bundles that are not unikernels to the real runc
command -v nsenter >/dev/null || missing+=(util-linux)                    # cunik-runc: the VM joins the container's network namespace
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The examples' services are installed for their binaries, not to run on this host (lighttpd
  # would take port 80): stop the ones this run installed, where systemd started them.
  if [ -d /run/systemd/system ]; then
    for unit in memcached lighttpd docker-registry containerd; do
      [[ " ${missing[*]} " == *" $unit "* ]] && systemctl disable --now "$unit" >/dev/null 2>&1 || true
    done
  fi
fi

# The unprivileged user every VM runs as (docs/qemu.md, "Confinement"); the daemon makes it too if missing.
if ! id -u cunik-vm >/dev/null 2>&1; then
  say "adding the cunik-vm system user"
  useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --comment 'Cunik VMs' cunik-vm
fi

say "installing npm packages"
npm ci --no-audit --no-fund --loglevel=error
say "building"
npm run --silent build

# The socket's group (Docker's `docker` group): cunikd gives /run/cunik/cunik.sock to root:cunik 0660.
# Membership is root-equivalent (docs/security.md): add only users you would give root.
if ! getent group cunik >/dev/null; then
  say "creating the cunik group (members may use the daemon's socket: root-equivalent)"
  groupadd --force --system cunik
fi

ln -sf "$PWD/bin/cunik" /usr/local/bin/cunik
ln -sf "$PWD/bin/cunikd.js" /usr/local/bin/cunikd
ln -sf "$PWD/bin/cunik-runc" /usr/local/bin/cunik-runc   # containerd's BinaryName (docs/kubernetes.md)

# A daemon left by an earlier install would serve old code: stop it (its instances keep running).
# The pid file is the root's lock (src/daemon/lock.ts): a running daemon holds an flock on it.
pidfile=/var/lib/cunik/cunikd.pid
if [ -f "$pidfile" ]; then
  pid=$(cat "$pidfile")
  if ! flock --nonblock "$pidfile" true; then
    say "restarting the daemon (pid $pid)"
    kill -TERM "$pid"
    flock --wait 10 "$pidfile" true || echo "setup.sh: the old daemon (pid $pid) did not stop within 10 s" >&2
  elif [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -qa 'bin/cunikd' "/proc/$pid/cmdline"; then
    # A daemon from before the lock (it held no flock on its pid file).
    say "restarting the daemon (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
fi

if ! cunik image inspect hello >/dev/null 2>&1; then
  say "importing the hello unikernel"
  cunik import --family generic build/kernels/hello.elf hello
fi
say "cunik run --rm hello"
cunik run --rm hello
cunik info | grep -A1 '^Accelerator' || true
