/*
 * cunik-init: PID 1 of a Cunik linux-family image (built by scripts/build-init.sh, packed into
 * every initramfs as /init by src/build/linux/builder.ts).
 *
 * 1. mounts /proc, /sys, /dev (devtmpfs), /tmp (tmpfs);
 * 2. loads the kernel modules listed in /.cunik/modules (one path a line, dependencies first)
 *    with finit_module(2), and those in /.cunik/modules.volumes when the command line names a volume;
 * 2b. with cunik.root=SERIAL (an image whose root file system is a read-only root disk:
 *    src/build/linux/rootdisk.ts), mounts the virtio-blk disk with that serial (erofs, read-only),
 *    stacks over it with overlayfs the initramfs's /.cunik/root (what Cunik lays over the image:
 *    /.cunik/entry..., /etc files, the Cunikfile's files) and a tmpfs for writes (none with
 *    cunik.ro: the root stays read-only), moves /dev, /proc, /sys and /tmp into it and switches
 *    root to it (as switch_root does: MS_MOVE onto /, chroot). Any failure is one line
 *    ("the root disk could not be mounted (...)") and exit 125: the app never runs on a partial root;
 * 3. mounts volumes named on the kernel command line:
 *      cunik.9p=TAG:/PATH             virtio-9p share (trans=virtio, 9p2000.L)
 *      cunik.blk=/dev/vdX:/PATH[:FS]  a block device (FS defaults to ext4): the disk whose serial
 *                                     is vol<X - 'a'> if one has it, else /dev/vdX itself
 * 4. configures the network from the kernel command line, in the kernel's own nfsroot syntax
 *    (Documentation/admin-guide/nfs/nfsroot.rst), which Debian's kernel does not handle itself
 *    (no CONFIG_IP_PNP):  ip=CLIENT:SERVER:GATEWAY:NETMASK:HOSTNAME:DEVICE:AUTOCONF:DNS0:DNS1
 *    (static addresses only; NETMASK may also be a prefix length), and writes /etc/resolv.conf
 *    from its DNS0/DNS1 (step 4b'); one ip= word per NIC, where DEVICE may be the NIC's MAC address with
 *    dashes (02-43-0a-d6-07-0a: several NICs are named by the kernel in an order of its own);
 *    and IPv6, which ip= cannot carry: cunik.ip6=DEV,ADDR/PREFIX[,GATEWAY] (address, default route);
 * 4b. cunik.hostname=NAME (run --hostname; by default the instance's short id, as Docker's): the
 *    host name, /etc/hostname, and a 127.0.1.1 line in /etc/hosts so the name resolves in the guest;
 *    cunik.host=NAME,ADDRESS (run --add-host): one more /etc/hosts line each;
 * 4b'. /etc/resolv.conf: the ip= words' resolvers, or cunik.dns=A,B,C (run --dns), with
 *    cunik.search=D,E (--dns-search) and cunik.dnsopt=O,P (--dns-option) lines;
 * 4c. cunik.entrypoint=PROGRAM (run --entrypoint) runs instead of /.cunik/entry's words;
 *    cunik.workdir=DIR (run --workdir: made if missing) and cunik.user=USER[:GROUP] (run --user,
 *    resolved against the image's /etc/passwd and /etc/group as Docker does) override the image's;
 * 5. runs the app: argv = the NUL-separated words of /.cunik/entry, then init's own arguments
 *    (the kernel passes everything after "--" on its command line to init); environment = the
 *    NUL-separated KEY=VALUE words of /.cunik/env, overridden by init's environment (the kernel
 *    passes unknown KEY=VALUE parameters to init that way), without the ip= and cunik.* words;
 *    working directory /.cunik/workdir if present, else /; as the user /.cunik/user names if
 *    present ("UID GID G1,G2,...": supplementary groups, then gid, then uid, as runc sets them);
 * 6. passes an ACPI power-button press (QMP system_powerdown: `cunik stop`) to the app as SIGTERM
 *    (a second press: SIGKILL), read from the "Power Button" input device (modules button, evdev);
 * 7. reaps every child until the app exits, ends what it left running and unmounts the volumes
 *    (so an ext4 volume's journal is clean for its next mount, even read-only), then reports its exit status (128 + signal number
 *    when killed) through QEMU's isa-debug-exit device (outl to port 0xf4: QEMU exits with
 *    (status << 1) | 1) and, if that device is absent, powers off.
 * "cunik.debug" on the command line makes each step say what it did.
 *
 * A template boot (cunik.template: src/vmm/qemu/template.ts) does steps 1 and 2b with the words
 * every instance of the image shares, loads /.cunik/modules.template (virtio_console), then says
 * "ready" on the virtio-serial port org.cunik.config and waits there for an instance's words. The
 * VM is saved at that point and each clone resumes there: its host connects and sends
 * "CUNIK1\0time=SEC.NSEC\0seed=HEX\0WORD\0...\0\0" (NUL-separated, unquoted): the time of day
 * (a clone's clock is the template's), 64 bytes of host randomness credited to the kernel's pool
 * and a forced reseed of its generator (a clone's would otherwise repeat the template's, and every
 * sibling's), then what the kernel command line would have carried for this instance: ip= and
 * cunik.* words, cunik.mac=MAC (the NIC's address: a clone's is the template's), KEY=VALUE
 * environment words, and after "--" the app's arguments. The init answers "ok" and goes on at 3.
 *
 * An app template (cunik.template=PORTS, "80/tcp,53/udp": Cunikfile `snapshot: app`) goes further
 * first: steps 1 to 5 with the image's own command (on the line as in a whole boot), then waits
 * until the app listens on every one of PORTS (/proc/net/tcp, tcp6, udp, udp6; the app ending
 * first ends the boot, and no template is made), and only then says "ready". A clone's words are
 * the time, the seed and step 4's (ip=, cunik.mac=, cunik.hostname=...), applied around the app,
 * which runs on from where the template left it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <linux/input.h>
#include <linux/random.h>
#include <poll.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/klog.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>
#include <time.h>
#include <unistd.h>

#define DEBUG_EXIT_PORT 0xf4
/* The app was not run: the root file system is incomplete (families/linux.ts EXIT_INCOMPLETE_ROOT). */
#define EXIT_INCOMPLETE_ROOT 125
#define MAX_WORDS 4096

static int debug;

static void say(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (n > (int)sizeof buf - 2) n = sizeof buf - 2;
  buf[n++] = '\n';
  (void)!write(2, "cunik-init: ", 12);
  (void)!write(2, buf, n);
}
#define dbg(...) do { if (debug) say(__VA_ARGS__); } while (0)

/* Read a whole file; returns its length (the buffer is NUL-terminated) or -1. */
static long slurp(const char *path, char **out) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (len + 1 >= cap) buf = realloc(buf, cap *= 2);
    ssize_t n = read(fd, buf + len, cap - len - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  close(fd);
  buf[len] = 0;
  *out = buf;
  return (long)len;
}

/* Split NUL-separated words (a trailing NUL is optional). */
static int words(char *buf, long len, char **out, int max) {
  int n = 0;
  for (long i = 0; i < len && n < max;) {
    out[n++] = buf + i;
    i += (long)strlen(buf + i) + 1;
  }
  return n;
}

static void mount_fs(const char *src, const char *dir, const char *type, unsigned long flags, const char *data) {
  mkdir(dir, 0755);
  if (mount(src, dir, type, flags, data) != 0 && errno != EBUSY) say("mount %s on %s: %s", type, dir, strerror(errno));
  else dbg("mounted %s on %s", type, dir);
}

/* Load the modules a list names, one path per line (the builder resolved their order). */
static void load_modules(const char *listfile) {
  char *list;
  if (slurp(listfile, &list) < 0) return;
  for (char *line = strtok(list, "\n"); line; line = strtok(NULL, "\n")) {
    int fd = open(line, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { say("module %s: %s", line, strerror(errno)); continue; }
    int flags = strstr(line, ".ko.") ? 4 /* MODULE_INIT_COMPRESSED_FILE */ : 0;
    if (syscall(SYS_finit_module, fd, "", flags) != 0 && errno != EEXIST) say("module %s: %s", line, strerror(errno));
    else dbg("loaded %s", line);
    close(fd);
  }
  free(list);
}

/* The n-th ':'-separated field of s (copied into out), "" when absent. */
static void field(const char *s, int n, char *out, size_t size) {
  for (int i = 0; i < n && s; i++) { s = strchr(s, ':'); if (s) s++; }
  size_t len = 0;
  if (s) { const char *e = strchr(s, ':'); len = e ? (size_t)(e - s) : strlen(s); }
  if (len >= size) len = size - 1;
  if (s) memcpy(out, s, len);
  out[len] = 0;
}

static int set_addr(int sock, const char *dev, unsigned long req, const char *addr) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, dev, IFNAMSIZ - 1);
  struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
  sin->sin_family = AF_INET;
  if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1) { say("ip=: bad address %s", addr); return -1; }
  if (ioctl(sock, req, &ifr) != 0) { say("ip=: %s %s: %s", dev, addr, strerror(errno)); return -1; }
  return 0;
}

static int link_up(int sock, const char *dev) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, dev, IFNAMSIZ - 1);
  if (ioctl(sock, SIOCGIFFLAGS, &ifr) != 0) return -1;
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  return ioctl(sock, SIOCSIFFLAGS, &ifr);
}

/* The entry of the sysfs folder DIR whose file ATTR holds WANT (one line): its name, at most
 * SIZE - 1 bytes; looks `tries` times, 10 ms apart (the device's driver may still be probing). */
static int sysfs_entry(const char *dir, const char *attr, const char *want, char *name, size_t size, int tries) {
  for (int t = 0; t < tries; t++) {
    if (t > 0) usleep(10000);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
      size_t len = strlen(e->d_name);
      if (e->d_name[0] == '.' || len >= size) continue;
      char path[300], got[64] = "";
      snprintf(path, sizeof path, "%s/%s/%s", dir, e->d_name, attr);
      int fd = open(path, O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      ssize_t n = read(fd, got, sizeof got - 1);
      close(fd);
      if (n > 0 && got[n - 1] == '\n') got[--n] = 0;
      if (n >= 0 && strcmp(got, want) == 0) { memcpy(name, e->d_name, len + 1); closedir(d); return 0; }
    }
    if (d) closedir(d);
  }
  return -1;
}

/* DEVICE given as a MAC with dashes (02-43-0a-d6-07-0a): the name of the interface that has it,
 * from /sys/class/net/NAME/address; waits up to 2 s for the NIC's driver to register it. */
static int dev_by_mac(const char *mac, char *dev) {
  char want[18];
  snprintf(want, sizeof want, "%s", mac);
  for (char *c = want; *c; c++) *c = *c == '-' ? ':' : (char)tolower((unsigned char)*c);
  return sysfs_entry("/sys/class/net", "address", want, dev, IFNAMSIZ, 200);
}

/* Writes VALUE to /proc/sys/net/FAMILY/conf/DEV/KNOB; best effort (a kernel without the knob keeps
 * its default). */
static void net_conf(const char *family, const char *dev, const char *knob, const char *value) {
  char path[128];
  snprintf(path, sizeof path, "/proc/sys/net/%s/conf/%s/%s", family, dev, knob);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  (void)!write(fd, value, strlen(value));
  close(fd);
}

/* The kernel's struct in6_ifreq (include/uapi/linux/ipv6.h), which glibc's headers do not declare. */
struct cunik_in6_ifreq {
  struct in6_addr addr;
  uint32_t prefixlen;
  int ifindex;
};

/* cunik.ip6=DEV,ADDR/PREFIX[,GATEWAY]: DEV a name or a MAC with dashes (as in ip=). Duplicate address
 * detection is turned off first (the address is the network's to give: no one else has it), so the
 * address is usable at once instead of after a second of DAD. */
static void setup_network6(const char *spec) {
  char buf[256], dev[24];
  snprintf(buf, sizeof buf, "%s", spec);
  char *d = strtok(buf, ","), *cidr = strtok(NULL, ","), *gw = strtok(NULL, ",");
  if (!d || !cidr || strlen(d) >= sizeof dev) { say("cunik.ip6=%s: expected DEV,ADDR/PREFIX[,GATEWAY]", spec); return; }
  strcpy(dev, d);
  if (strlen(dev) == 17 && dev[2] == '-') {
    char mac[18];
    strcpy(mac, dev);
    if (dev_by_mac(mac, dev) != 0) { say("cunik.ip6=: no network interface has the MAC address %s", mac); return; }
  }
  for (int i = 0; i < 200 && if_nametoindex(dev) == 0; i++) usleep(10000);
  char *slash = strchr(cidr, '/');
  int prefix = slash ? atoi(slash + 1) : 64;
  if (slash) *slash = 0;
  struct cunik_in6_ifreq req;
  memset(&req, 0, sizeof req);
  if (inet_pton(AF_INET6, cidr, &req.addr) != 1) { say("cunik.ip6=: bad address %s", cidr); return; }
  req.prefixlen = (uint32_t)prefix;
  req.ifindex = (int)if_nametoindex(dev);
  if (req.ifindex == 0) { say("cunik.ip6=: no device %s", dev); return; }
  net_conf("ipv6", dev, "accept_dad", "0\n");
  int sock = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) { say("cunik.ip6=: socket: %s (no IPv6 in this kernel?)", strerror(errno)); return; }
  if (link_up(sock, dev) != 0) say("cunik.ip6=: %s up: %s", dev, strerror(errno));
  if (ioctl(sock, SIOCSIFADDR, &req) != 0) say("cunik.ip6=: %s %s/%d: %s", dev, cidr, prefix, strerror(errno));
  else dbg("%s: %s/%d", dev, cidr, prefix);
  if (gw) {
    struct in6_rtmsg rt;
    memset(&rt, 0, sizeof rt);
    if (inet_pton(AF_INET6, gw, &rt.rtmsg_gateway) != 1) { say("cunik.ip6=: bad gateway %s", gw); close(sock); return; }
    rt.rtmsg_flags = RTF_UP | RTF_GATEWAY;
    rt.rtmsg_metric = 1;
    rt.rtmsg_ifindex = req.ifindex;
    if (ioctl(sock, SIOCADDRT, &rt) != 0) say("cunik.ip6=: default route via %s: %s", gw, strerror(errno));
  }
  close(sock);
}

static int setup_lo(void) {
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) { say("socket: %s", strerror(errno)); return -1; }
  link_up(sock, "lo");
  close(sock);
  return 0;
}

/* The guest's resolv.conf: the ip= words' resolvers (or run --dns's), --dns-search, --dns-option. */
static char nameservers[3][64];
static int nameserver_count;

static void add_nameserver(const char *address) {
  if (nameserver_count < 3) snprintf(nameservers[nameserver_count++], sizeof nameservers[0], "%s", address);
}

/* Each argument a comma-separated list (or NULL); written once the network is up. A container
 * image's resolv.conf may be a symlink into /run/systemd (absent here): it is replaced. */
static void write_resolv_conf(const char *servers, const char *search, const char *options) {
  if (servers) {
    nameserver_count = 0;
    char list[256], *save;
    snprintf(list, sizeof list, "%s", servers);
    for (char *a = strtok_r(list, ",", &save); a; a = strtok_r(NULL, ",", &save)) add_nameserver(a);
  }
  if (nameserver_count == 0 && !search && !options) return;
  char buf[1024];
  int n = 0;
  for (int i = 0; i < nameserver_count; i++) n += snprintf(buf + n, sizeof buf - n, "nameserver %s\n", nameservers[i]);
  if (search && n < (int)sizeof buf) n += snprintf(buf + n, sizeof buf - n, "search %s\n", search);
  if (options && n < (int)sizeof buf) n += snprintf(buf + n, sizeof buf - n, "options %s\n", options);
  if (n >= (int)sizeof buf) n = sizeof buf - 1;
  /* The lists' commas are resolv.conf's blanks. */
  for (char *c = buf; *c; c++) if (*c == ',') *c = ' ';
  mkdir("/etc", 0755);
  unlink("/etc/resolv.conf");
  int fd = open("/etc/resolv.conf", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) { dbg("/etc/resolv.conf: %s", strerror(errno)); return; }
  (void)!write(fd, buf, n);
  close(fd);
}

static void setup_network(const char *ip) {
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) { say("socket: %s", strerror(errno)); return; }
  if (!ip) { close(sock); return; }
  char client[64], gw[64], mask[64], host[65], dev[24], autoconf[16], dns0[64], dns1[64];
  field(ip, 0, client, sizeof client);
  field(ip, 2, gw, sizeof gw);
  field(ip, 3, mask, sizeof mask);
  field(ip, 4, host, sizeof host);
  field(ip, 5, dev, sizeof dev);
  field(ip, 6, autoconf, sizeof autoconf);
  field(ip, 7, dns0, sizeof dns0);
  field(ip, 8, dns1, sizeof dns1);
  if (!dev[0]) strcpy(dev, "eth0");
  if (strlen(dev) == 17 && dev[2] == '-') {
    char mac[18];
    strcpy(mac, dev);
    if (dev_by_mac(mac, dev) != 0) { say("ip=: no network interface has the MAC address %s", mac); close(sock); return; }
  }
  if (host[0]) sethostname(host, strlen(host));
  if (!client[0] || (autoconf[0] && strcmp(autoconf, "off") && strcmp(autoconf, "none"))) {
    say("ip=%s: only static addresses are supported (ip=ADDR::GW:MASK::DEV:off)", ip);
    close(sock);
    return;
  }
  /* The NIC's driver may still be probing: wait for the device up to 2 s. */
  for (int i = 0; i < 200 && if_nametoindex(dev) == 0; i++) usleep(10000);
  if (!mask[0]) strcpy(mask, "255.255.255.0");
  if (!strchr(mask, '.')) {
    int prefix = atoi(mask);
    uint32_t m = prefix <= 0 ? 0 : prefix >= 32 ? 0xffffffffu : ~((1u << (32 - prefix)) - 1);
    struct in_addr a = { htonl(m) };
    inet_ntop(AF_INET, &a, mask, sizeof mask);
  }
  /* A gratuitous ARP when the link comes up: the guest's first frame then tells a user-mode network
   * (passt) its MAC at once. A guest that never sent a frame left passt addressing connections to
   * 00:00:00:00:00:00, so a published port hung instead of answering or being refused. */
  net_conf("ipv4", dev, "arp_notify", "1\n");
  if (set_addr(sock, dev, SIOCSIFADDR, client) == 0 && set_addr(sock, dev, SIOCSIFNETMASK, mask) == 0) {
    if (link_up(sock, dev) != 0) say("ip=: %s up: %s", dev, strerror(errno));
    dbg("%s: %s/%s", dev, client, mask);
  }
  if (gw[0]) {
    struct rtentry rt;
    memset(&rt, 0, sizeof rt);
    struct sockaddr_in *g = (struct sockaddr_in *)&rt.rt_gateway, *d = (struct sockaddr_in *)&rt.rt_dst, *m = (struct sockaddr_in *)&rt.rt_genmask;
    g->sin_family = d->sin_family = m->sin_family = AF_INET;
    inet_pton(AF_INET, gw, &g->sin_addr);
    rt.rt_flags = RTF_UP | RTF_GATEWAY;
    rt.rt_dev = dev;
    if (ioctl(sock, SIOCADDRT, &rt) != 0) say("ip=: default route via %s: %s", gw, strerror(errno));
  }
  if (dns0[0]) add_nameserver(dns0);
  if (dns1[0]) add_nameserver(dns1);
  close(sock);
}

/* One line of /etc/hosts, appended (the file made with the localhost lines if the image has none);
 * a read-only root keeps its /etc as it is. */
static void hosts_line(const char *address, const char *name) {
  mkdir("/etc", 0755);
  int exists = access("/etc/hosts", F_OK) == 0;
  int fd = open("/etc/hosts", O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) { dbg("/etc/hosts: %s", strerror(errno)); return; }
  /* An image's file whose last line has no newline would swallow the new line into it. */
  char last = '\n';
  if (exists && lseek(fd, -1, SEEK_END) >= 0 && read(fd, &last, 1) != 1) last = '\n';
  char line[256]; /* the localhost lines, an address and a name of at most 64 characters */
  int n = snprintf(line, sizeof line, "%s%s%s\t%s\n", last == '\n' ? "" : "\n", exists ? "" : "127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n", address, name);
  if (n > 0 && n < (int)sizeof line) (void)!write(fd, line, n);
  close(fd);
}

/* cunik.hostname=NAME: the daemon checked NAME (RFC 1123, at most 64 characters). */
static void set_hostname(const char *name) {
  if (sethostname(name, strlen(name)) != 0) { say("cunik.hostname=%s: %s", name, strerror(errno)); return; }
  mkdir("/etc", 0755);
  unlink("/etc/hostname");
  int fd = open("/etc/hostname", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd >= 0) {
    (void)!write(fd, name, strlen(name));
    (void)!write(fd, "\n", 1);
    close(fd);
  }
  hosts_line("127.0.1.1", name);
  dbg("hostname %s", name);
}

/* cunik.host=NAME,ADDRESS (run --add-host). */
static void add_host(const char *spec) {
  char name[72];
  const char *comma = strchr(spec, ',');
  if (!comma || comma == spec || (size_t)(comma - spec) >= sizeof name) { say("cunik.host=%s: expected NAME,ADDRESS", spec); return; }
  memcpy(name, spec, comma - spec);
  name[comma - spec] = 0;
  hosts_line(comma + 1, name);
}

static void mkdirs(const char *path) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++) if (*p == '/') { *p = 0; mkdir(buf, 0755); *p = '/'; }
  mkdir(buf, 0755);
}

/* Volumes mounted at boot, unmounted before power-off (step 7). */
static char *volume_dirs[64];
static int volume_count;

static void report_and_exit(int code);

/* /dev/vdX whose /sys/block/vdX/serial is `serial`; looks `tries` times, 10 ms apart. */
static int disk_by_serial(const char *serial, char *dev, size_t size, int tries) {
  char name[64];
  if (sysfs_entry("/sys/block", "serial", serial, name, sizeof name, tries) != 0) return -1;
  snprintf(dev, size, "/dev/%s", name);
  return 0;
}

static void mount_volume(const char *kind, const char *spec) {
  char src[256], dir[1024], fs[32];
  field(spec, 0, src, sizeof src);
  field(spec, 1, dir, sizeof dir);
  field(spec, 2, fs, sizeof fs);
  if (!src[0] || dir[0] != '/') { say("cunik.%s=%s: expected SOURCE:/PATH", kind, spec); return; }
  /* /dev/vdX names the volume by its place: the family gives the i-th block volume the name vd('a'+i)
   * and the serial vol<i> (families/common.ts blockDisks). The kernel names disks in the order it
   * probes them, so the disk is found by the serial, the name kept for a disk without one. */
  if (strcmp(kind, "blk") == 0 && strncmp(src, "/dev/vd", 7) == 0 && src[7] >= 'a' && src[7] <= 'z' && !src[8]) {
    char serial[16], dev[sizeof src];
    snprintf(serial, sizeof serial, "vol%d", src[7] - 'a');
    if (disk_by_serial(serial, dev, sizeof dev, 1) == 0 && strcmp(dev, src) != 0) {
      dbg("%s: the disk with serial %s is %s", src, serial, dev);
      snprintf(src, sizeof src, "%s", dev);
    }
  }
  mkdirs(dir);
  int rc = strcmp(kind, "9p") == 0
    ? mount(src, dir, "9p", 0, "trans=virtio,version=9p2000.L,msize=262144,cache=loose")
    : mount(src, dir, fs[0] ? fs : "ext4", 0, NULL);
  /* A read-only disk (cunik run -v NAME:/PATH:ro) mounts read-only, as mount(8) retries it. */
  if (rc != 0 && strcmp(kind, "blk") == 0 && (errno == EACCES || errno == EROFS)) rc = mount(src, dir, fs[0] ? fs : "ext4", MS_RDONLY, NULL);
  /* An app whose volume is not there would write to the root instead and lose it: not run. */
  if (rc != 0) {
    say("the volume %s could not be mounted on %s (%s); the app was not run", src, dir, strerror(errno));
    report_and_exit(EXIT_INCOMPLETE_ROOT);
  } else {
    dbg("mounted %s on %s", src, dir);
    if (volume_count < 64) volume_dirs[volume_count++] = strdup(dir);
  }
}

/* Become the user /.cunik/user names ("UID GID G1,G2,..."); 0 when there is none. */
/* run --user: cunik.user=USER[:GROUP] from the command line (main sets it), else the image's. */
static const char *run_user;

static int all_digits(const char *s) {
  if (!*s) return 0;
  for (; *s; s++) if (!isdigit((unsigned char)*s)) return 0;
  return 1;
}

/* Field N (0-based) of a ':'-separated line of /etc/passwd or /etc/group, copied into out. */
static void colon_field(const char *line, int n, char *out, size_t size) {
  for (int i = 0; i < n && line; i++) line = strchr(line, ':') ? strchr(line, ':') + 1 : NULL;
  size_t len = line ? strcspn(line, ":\n") : 0;
  if (len >= size) len = size - 1;
  memcpy(out, line ? line : "", len);
  out[len] = 0;
}

/* The line of FILE whose name (field 0) or id (field 2) is KEY, copied into out; 0 if found. */
static int etc_entry(const char *file, const char *key, char *out, size_t size) {
  char *text;
  if (slurp(file, &text) <= 0) return -1;
  int found = -1;
  char *save;
  for (char *line = strtok_r(text, "\n", &save); line && found; line = strtok_r(NULL, "\n", &save)) {
    char name[256], id[32];
    colon_field(line, 0, name, sizeof name);
    colon_field(line, 2, id, sizeof id);
    if (strcmp(name, key) == 0 || (all_digits(key) && strcmp(id, key) == 0)) {
      snprintf(out, size, "%s", line);
      found = 0;
    }
  }
  free(text);
  return found;
}

/* USER[:GROUP] as Docker resolves it against the image's /etc/passwd and /etc/group: a name must
 * exist; a number need not (its group is then 0, root's); the supplementary groups are those that
 * list the user by name. */
static int resolve_run_user(const char *spec, unsigned long *uid, unsigned long *gid, gid_t *groups, int *n) {
  char user[128], group[128] = "", line[1024], name[256] = "", field[32];
  const char *colon = strchr(spec, ':');
  snprintf(user, sizeof user, "%.*s", colon ? (int)(colon - spec) : (int)strlen(spec), spec);
  if (colon) snprintf(group, sizeof group, "%s", colon + 1);
  *gid = 0;
  if (etc_entry("/etc/passwd", user, line, sizeof line) == 0) {
    colon_field(line, 0, name, sizeof name);
    colon_field(line, 2, field, sizeof field);
    *uid = strtoul(field, NULL, 10);
    colon_field(line, 3, field, sizeof field);
    *gid = strtoul(field, NULL, 10);
  } else if (all_digits(user)) {
    *uid = strtoul(user, NULL, 10);
  } else {
    say("unable to find user %s: no matching entries in /etc/passwd", user);
    return -1;
  }
  if (group[0]) {
    if (etc_entry("/etc/group", group, line, sizeof line) == 0) {
      colon_field(line, 2, field, sizeof field);
      *gid = strtoul(field, NULL, 10);
    } else if (all_digits(group)) {
      *gid = strtoul(group, NULL, 10);
    } else {
      say("unable to find group %s: no matching entries in /etc/group", group);
      return -1;
    }
  }
  *n = 0;
  groups[(*n)++] = (gid_t)*gid;
  char *text;
  if (name[0] && slurp("/etc/group", &text) > 0) {
    char *lines;
    for (char *l = strtok_r(text, "\n", &lines); l && *n < 64; l = strtok_r(NULL, "\n", &lines)) {
      char members[1024], *each;
      colon_field(l, 3, members, sizeof members);
      for (char *m = strtok_r(members, ",", &each); m; m = strtok_r(NULL, ",", &each)) {
        if (strcmp(m, name) != 0) continue;
        colon_field(l, 2, field, sizeof field);
        groups[(*n)++] = (gid_t)strtoul(field, NULL, 10);
        break;
      }
    }
    free(text);
  }
  return 0;
}

static int switch_user(void) {
  unsigned long uid, gid;
  gid_t groups[64];
  int n = 0;
  if (run_user) {
    if (resolve_run_user(run_user, &uid, &gid, groups, &n) != 0) return -1;
  } else {
    char *spec;
    if (slurp("/.cunik/user", &spec) <= 0) return 0;
    char *rest;
    uid = strtoul(spec, &rest, 10);
    gid = strtoul(rest, &rest, 10);
    for (char *g = strtok(rest, " ,\n"); g && n < 64; g = strtok(NULL, " ,\n")) groups[n++] = (gid_t)strtoul(g, NULL, 10);
  }
  if (setgroups(n, groups) != 0 || setgid((gid_t)gid) != 0 || setuid((uid_t)uid) != 0) {
    say("user %lu:%lu: %s", uid, gid, strerror(errno));
    return -1;
  }
  dbg("running as %lu:%lu", uid, gid);
  return 0;
}

/* The input device of the ACPI power button, or -1. */
static int power_button(void) {
  DIR *d = opendir("/dev/input");
  if (!d) return -1;
  int found = -1;
  for (struct dirent *e; found < 0 && (e = readdir(d));) {
    if (strncmp(e->d_name, "event", 5) != 0) continue;
    char path[300], name[128] = "";
    snprintf(path, sizeof path, "/dev/input/%s", e->d_name);
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) continue;
    if (ioctl(fd, EVIOCGNAME(sizeof name - 1), name) >= 0 && strstr(name, "Power Button")) found = fd;
    else close(fd);
  }
  closedir(d);
  return found;
}

/* Reap children until the app exits, passing power-button presses on; returns its status. */
static int supervise(pid_t app, const sigset_t *chld) {
  int sfd = signalfd(-1, chld, SFD_CLOEXEC | SFD_NONBLOCK);
  int button = power_button(), presses = 0, tries = 0;
  for (;;) {
    int status;
    pid_t p;
    while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
      if (p == app) return WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
    }
    if (p < 0 && errno == ECHILD) return 127;
    struct pollfd fds[2] = { { sfd, POLLIN, 0 }, { button, POLLIN, 0 } };
    int n = poll(fds, button >= 0 ? 2 : 1, button >= 0 || tries >= 20 ? -1 : 250);
    if (n == 0 && button < 0) { tries++; button = power_button(); continue; }
    if (n < 0) continue;
    if (fds[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si) {}
    }
    if (button >= 0 && (fds[1].revents & POLLIN)) {
      struct input_event ev;
      while (read(button, &ev, sizeof ev) == sizeof ev) {
        if (ev.type == EV_KEY && ev.code == KEY_POWER && ev.value == 1) {
          dbg("power button: %s", presses ? "SIGKILL" : "SIGTERM");
          kill(-app, presses++ ? SIGKILL : SIGTERM);
        }
      }
    }
  }
}

/* End what the app left running, then unmount the volumes (read-only if one stays busy). */
static void unmount_volumes(void) {
  if (volume_count == 0) return;
  kill(-1, SIGKILL);
  for (int i = volume_count - 1; i >= 0; i--) {
    int rc = -1;
    for (int tries = 0; tries < 100 && rc != 0; tries++) {
      while (waitpid(-1, NULL, WNOHANG) > 0) {}
      rc = umount(volume_dirs[i]);
      if (rc != 0 && errno != EBUSY) break;
      if (rc != 0) usleep(10000);
    }
    if (rc != 0 && mount(NULL, volume_dirs[i], NULL, MS_REMOUNT | MS_RDONLY, NULL) != 0) say("umount %s: %s", volume_dirs[i], strerror(errno));
  }
}

static void report_and_exit(int code) {
  unmount_volumes();
  sync();
  if (ioperm(DEBUG_EXIT_PORT, 4, 1) == 0) outl((unsigned)code, DEBUG_EXIT_PORT);
  /* Still here: no isa-debug-exit device. */
  reboot(RB_POWER_OFF);
  for (;;) pause();
}

/*
 * The kernel goes on after "Initramfs unpacking failed: ..." (init/initramfs.c) with whatever it
 * had unpacked (out of memory: "write error"), so an app run now would fail later on a missing file.
 * The kernel's log still holds the line (it is early, far inside the ring buffer): end at once.
 */
static void refuse_partial_root(void) {
  static char log[1 << 18];
  int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, log, sizeof log - 1);
  if (n <= 0) return;
  log[n] = 0;
  char *hit = strstr(log, "Initramfs unpacking failed");
  if (!hit) return;
  hit[strcspn(hit, "\n")] = 0;
  say("the root file system is incomplete (%s): the app was not run; give the guest more memory (-m)", hit);
  report_and_exit(EXIT_INCOMPLETE_ROOT);
}

/* The root disk: its layers in the initramfs, and the disk's serial (families/linux.ts ROOT_DISK_SERIAL). */
#define ROOT_LAYER "/.cunik/root"

static void fail_root(const char *what, int err) {
  say("the root disk could not be mounted (%s: %s)%s; the app was not run", what, strerror(err), err == ENOMEM ? ": the guest ran out of memory (give it more with -m)" : "");
  report_and_exit(EXIT_INCOMPLETE_ROOT);
}

/*
 * With cunik.ro nothing can make a volume's mount point once the root is up: those the disk lacks
 * are made in ROOT_LAYER (the initramfs, still writable), which the overlay shows over the disk.
 */
static void volume_mount_points(char **words, int n) {
  for (int i = 0; i < n; i++) {
    const char *spec = strncmp(words[i], "cunik.9p=", 9) == 0 ? words[i] + 9 : strncmp(words[i], "cunik.blk=", 10) == 0 ? words[i] + 10 : NULL;
    char dir[1024], path[1100];
    struct stat st;
    if (!spec) continue;
    field(spec, 1, dir, sizeof dir);
    if (dir[0] != '/' || strstr(dir, "..")) continue;
    snprintf(path, sizeof path, "/.cunik/lower%s", dir);
    if (lstat(path, &st) == 0 || errno != ENOENT) continue;
    snprintf(path, sizeof path, ROOT_LAYER "%s", dir);
    mkdirs(path);
  }
}

static void switch_to_root_disk(const char *serial, int ro, char **words, int n) {
  char dev[300], opts[256];
  if (disk_by_serial(serial, dev, sizeof dev, 200) != 0) fail_root(serial, ENODEV);
  mkdir("/.cunik/lower", 0755);
  mkdir("/.cunik/new", 0755);
  if (mount(dev, "/.cunik/lower", "erofs", MS_RDONLY, NULL) != 0) fail_root(dev, errno);
  if (ro) volume_mount_points(words, n);
  if (ro) snprintf(opts, sizeof opts, "lowerdir=" ROOT_LAYER ":/.cunik/lower");
  else {
    mkdir("/.cunik/rw", 0755);
    if (mount("tmpfs", "/.cunik/rw", "tmpfs", 0, "mode=0755") != 0) fail_root("tmpfs", errno);
    if (mkdir("/.cunik/rw/upper", 0755) != 0 || mkdir("/.cunik/rw/work", 0755) != 0) fail_root("tmpfs", errno);
    snprintf(opts, sizeof opts, "lowerdir=" ROOT_LAYER ":/.cunik/lower,upperdir=/.cunik/rw/upper,workdir=/.cunik/rw/work");
  }
  if (mount("overlay", "/.cunik/new", "overlay", ro ? MS_RDONLY : 0, opts) != 0) fail_root("overlay", errno);
  static const char *const moved[] = { "/dev", "/proc", "/sys", "/tmp" };
  for (size_t i = 0; i < sizeof moved / sizeof moved[0]; i++) {
    char to[64];
    snprintf(to, sizeof to, "/.cunik/new%s", moved[i]);
    if (mount(moved[i], to, NULL, MS_MOVE, NULL) != 0) fail_root(to, errno);
  }
  if (chdir("/.cunik/new") != 0 || mount(".", "/", NULL, MS_MOVE, NULL) != 0 || chroot(".") != 0 || chdir("/") != 0) fail_root("switch root", errno);
  dbg("root: %s (erofs) under %s", dev, ro ? "no writable layer" : "a tmpfs overlay");
}

/* ---- a clone of a template (see the top) ---- */
#define CONFIG_PORT "org.cunik.config"

/* Blocks until the host side of the port is connected (the port reports POLLHUP until then; the
 * connection raises SIGIO, which is blocked and waited for, so one arriving meanwhile is not lost). */
static void wait_host(int fd, sigset_t *io) {
  for (;;) {
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, 0) >= 0 && !(p.revents & POLLHUP)) return;
    int sig;
    sigwait(io, &sig);
  }
}

static int hexval(char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; }

static void reseed(const char *hex) {
  struct { int entropy_count; int buf_size; unsigned char buf[64]; } pool;
  size_t n = strlen(hex) / 2;
  if (n > sizeof pool.buf) n = sizeof pool.buf;
  for (size_t i = 0; i < n; i++) {
    int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) { say("template: a bad seed"); report_and_exit(EXIT_INCOMPLETE_ROOT); }
    pool.buf[i] = (unsigned char)(hi << 4 | lo);
  }
  pool.entropy_count = (int)n * 8;
  pool.buf_size = (int)n;
  int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
  /* The app must never run with the template's (a sibling's) random state. */
  if (fd < 0 || n < 32 || ioctl(fd, RNDADDENTROPY, &pool) != 0 || ioctl(fd, RNDRESEEDCRNG) != 0) {
    say("template: the random generator could not be reseeded (%s); the app was not run", strerror(errno));
    report_and_exit(EXIT_INCOMPLETE_ROOT);
  }
  close(fd);
  memset(&pool, 0, sizeof pool);
}

/*
 * Waits for this instance's words (see the top); appends its ip=/cunik.* words to cwords and
 * returns its argv (argv[0] "init", then the app's arguments) and environment through av and ev.
 */
static void receive_instance(char **cwords, int *cn, char ***av, char ***ev) {
  char name[64], dev[80];
  if (sysfs_entry("/sys/class/virtio-ports", "name", CONFIG_PORT, name, sizeof name, 500) != 0) { say("template: no %s port", CONFIG_PORT); report_and_exit(EXIT_INCOMPLETE_ROOT); }
  snprintf(dev, sizeof dev, "/dev/%s", name);
  int fd = open(dev, O_RDWR | O_CLOEXEC);
  if (fd < 0) { say("template: %s: %s", dev, strerror(errno)); report_and_exit(EXIT_INCOMPLETE_ROOT); }
  sigset_t io;
  sigemptyset(&io);
  sigaddset(&io, SIGIO);
  sigprocmask(SIG_BLOCK, &io, NULL);
  fcntl(fd, F_SETOWN, getpid());
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC);
  wait_host(fd, &io);
  if (write(fd, "ready\n", 6) != 6) say("template: %s: %s", dev, strerror(errno));
  static char msg[65536];
  size_t len = 0;
  for (;;) {
    ssize_t n = read(fd, msg + len, sizeof msg - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      /* The host went away (the template was saved, or a clone's host is not there yet): from the start. */
      len = 0;
      wait_host(fd, &io);
      continue;
    }
    len += (size_t)n;
    if (len >= 2 && msg[len - 1] == 0 && msg[len - 2] == 0) break;
    if (len >= sizeof msg - 1) { say("template: the instance's words are too long"); report_and_exit(EXIT_INCOMPLETE_ROOT); }
  }
  static char *w[MAX_WORDS];
  int n = words(msg, (long)len - 1, w, MAX_WORDS);
  if (n < 3 || strcmp(w[0], "CUNIK1") != 0 || strncmp(w[1], "time=", 5) != 0 || strncmp(w[2], "seed=", 5) != 0) { say("template: not an instance's words"); report_and_exit(EXIT_INCOMPLETE_ROOT); }
  struct timespec ts = { 0, 0 };
  char *dot;
  ts.tv_sec = strtoll(w[1] + 5, &dot, 10);
  if (*dot == '.') ts.tv_nsec = strtol(dot + 1, NULL, 10);
  if (clock_settime(CLOCK_REALTIME, &ts) != 0) say("template: clock_settime: %s", strerror(errno));
  reseed(w[2] + 5);
  static char *args[MAX_WORDS + 2], *env[MAX_WORDS + 3];
  int ac = 0, ec = 0, after = 0;
  args[ac++] = "init";
  env[ec++] = "HOME=/";
  env[ec++] = "TERM=linux";
  for (int i = 3; i < n; i++) {
    if (after) { if (ac < MAX_WORDS) args[ac++] = w[i]; }
    else if (strcmp(w[i], "--") == 0) after = 1;
    else if (strncmp(w[i], "ip=", 3) == 0 || strncmp(w[i], "cunik.", 6) == 0) { if (*cn < MAX_WORDS) cwords[(*cn)++] = w[i]; }
    else if (strchr(w[i], '=') && ec < MAX_WORDS) env[ec++] = w[i];
  }
  args[ac] = NULL;
  env[ec] = NULL;
  *av = args;
  *ev = env;
  if (write(fd, "ok\n", 3) != 3) dbg("template: %s: %s", dev, strerror(errno));
  close(fd);
  sigprocmask(SIG_UNBLOCK, &io, NULL);
  dbg("template: this instance's %d words", n - 3);
}

/* cunik.mac=MAC (a clone): the NIC takes the instance's own address before it is brought up. */
static void set_mac(const char *mac) {
  struct ifreq ifr;
  unsigned int b[6];
  if (sscanf(mac, "%2x:%2x:%2x:%2x:%2x:%2x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6) { say("cunik.mac=%s: not a MAC address", mac); return; }
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, "eth0", IFNAMSIZ - 1);
  ifr.ifr_hwaddr.sa_family = 1; /* ARPHRD_ETHER */
  for (int i = 0; i < 6; i++) ifr.ifr_hwaddr.sa_data[i] = (char)b[i];
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0 || ioctl(sock, SIOCSIFHWADDR, &ifr) != 0) say("cunik.mac=%s: %s", mac, strerror(errno));
  if (sock >= 0) close(sock);
}

/* Step 4: the instance's MAC, host name, /etc/hosts lines, addresses and resolvers. */
static void instance_network(char **cwords, int cn) {
  for (int i = 0; i < cn; i++) if (strncmp(cwords[i], "cunik.mac=", 10) == 0) set_mac(cwords[i] + 10);
  for (int i = 0; i < cn; i++) if (strncmp(cwords[i], "cunik.hostname=", 15) == 0) set_hostname(cwords[i] + 15);
  for (int i = 0; i < cn; i++) if (strncmp(cwords[i], "cunik.host=", 11) == 0) add_host(cwords[i] + 11);
  /* One ip= word a NIC (several networks: each names its device by MAC). */
  for (int i = 0; i < cn; i++) if (strncmp(cwords[i], "ip=", 3) == 0) setup_network(cwords[i] + 3);
  for (int i = 0; i < cn; i++) if (strncmp(cwords[i], "cunik.ip6=", 10) == 0) setup_network6(cwords[i] + 10);
  const char *dns = NULL, *search = NULL, *dnsopt = NULL;
  for (int i = 0; i < cn; i++) {
    if (strncmp(cwords[i], "cunik.dns=", 10) == 0) dns = cwords[i] + 10;
    else if (strncmp(cwords[i], "cunik.search=", 13) == 0) search = cwords[i] + 13;
    else if (strncmp(cwords[i], "cunik.dnsopt=", 13) == 0) dnsopt = cwords[i] + 13;
  }
  write_resolv_conf(dns, search, dnsopt);
}

/* The app of an app template listens on every one of PORTS ("80/tcp,53/udp")? (/proc/net/{tcp,udp}{,6}) */
static int listening(const char *ports) {
  char list[256];
  snprintf(list, sizeof list, "%s", ports);
  for (char *save = NULL, *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
    unsigned port = (unsigned)strtoul(p, NULL, 10);
    int udp = strstr(p, "/udp") != NULL, found = 0;
    for (int v6 = 0; v6 < 2 && !found; v6++) {
      char path[32], line[512];
      snprintf(path, sizeof path, "/proc/net/%s%s", udp ? "udp" : "tcp", v6 ? "6" : "");
      FILE *f = fopen(path, "re");
      if (!f) continue;
      while (!found && fgets(line, sizeof line, f)) {
        unsigned lport, st;
        char *colon = strchr(line, ':');
        /* "  N: LOCALADDR:PORT REMADDR:PORT ST ...": the local port, then the state (0A LISTEN, 07 a bound udp socket). */
        if (!colon || !(colon = strchr(colon + 1, ':')) || sscanf(colon + 1, "%x %*s %x", &lport, &st) != 2) continue;
        if (lport == port && st == (udp ? 0x07u : 0x0Au)) found = 1;
      }
      fclose(f);
    }
    if (!found) return 0;
  }
  return 1;
}

/* An app template: waits until the app listens on PORTS (it ending first ends the boot), then for a clone's words. */
static void wait_app_listening(const char *ports, pid_t app) {
  for (int tries = 0;; tries++) {
    int status;
    pid_t p;
    while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
      if (p != app) continue;
      say("template: the app ended before it listened on %s", ports);
      report_and_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    }
    if (listening(ports)) break;
    struct timespec d = { 0, (tries < 100 ? 10 : 50) * 1000000L };
    nanosleep(&d, NULL);
  }
  dbg("template: the app listens on %s", ports);
}

int main(int argc, char **argv, char **envp) {
  if (getpid() != 1) { say("must run as PID 1"); return 1; }
  mount_fs("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  mount_fs("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  mount_fs("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
  mount_fs("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  refuse_partial_root();
  mkdir("/dev/pts", 0755);
  mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "gid=5,mode=620,ptmxmode=666");
  mkdir("/dev/shm", 01777);
  mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");

  char *cmdline = NULL;
  long clen = slurp("/proc/cmdline", &cmdline);
  char *cwords[MAX_WORDS];
  int cn = 0;
  if (clen > 0) {
    for (char *w = strtok(cmdline, " \t\n"); w && cn < MAX_WORDS; w = strtok(NULL, " \t\n")) {
      if (strcmp(w, "--") == 0) break;
      cwords[cn++] = w;
      if (strcmp(w, "cunik.debug") == 0) debug = 1;
    }
  }
  load_modules("/.cunik/modules");
  const char *root_serial = NULL;
  int root_ro = 0, template = 0;
  const char *listen_ports = NULL;
  for (int i = 0; i < cn; i++) {
    if (strncmp(cwords[i], "cunik.root=", 11) == 0) root_serial = cwords[i] + 11;
    else if (strcmp(cwords[i], "cunik.ro") == 0) root_ro = 1;
    else if (strcmp(cwords[i], "cunik.template") == 0) template = 1;
    else if (strncmp(cwords[i], "cunik.template=", 15) == 0) { template = 2; listen_ports = cwords[i] + 15; }
  }
  if (template) load_modules("/.cunik/modules.template");
  /* Volume drivers (9p, virtio_blk, ext4) only for a boot that mounts volumes; before a switch to
   * a root disk, which leaves the initramfs's /.cunik/kmod behind. */
  for (int i = 0; i < cn; i++) {
    if (strncmp(cwords[i], "cunik.9p=", 9) == 0 || strncmp(cwords[i], "cunik.blk=", 10) == 0) {
      load_modules("/.cunik/modules.volumes");
      break;
    }
  }
  if (root_serial) switch_to_root_disk(root_serial, root_ro, cwords, cn);
  if (template == 1) {
    receive_instance(cwords, &cn, &argv, &envp);
    for (argc = 0; argv[argc]; argc++) {}
    for (int i = 0; i < cn; i++) if (strcmp(cwords[i], "cunik.debug") == 0) debug = 1;
  }
  for (int i = 0; i < cn; i++) {
    if (strncmp(cwords[i], "cunik.9p=", 9) == 0) mount_volume("9p", cwords[i] + 9);
    else if (strncmp(cwords[i], "cunik.blk=", 10) == 0) mount_volume("blk", cwords[i] + 10);
  }
  setup_lo();
  /* An app template's app starts before any instance's addresses and names: a clone's come after. */
  if (template != 2) instance_network(cwords, cn);

  char *entry, *envfile, *workdir;
  static char *av[MAX_WORDS + 1], *ev[MAX_WORDS + 1];
  int ac = 0;
  /* run --entrypoint: cunik.entrypoint=PROGRAM instead of the image's entry (its args follow). */
  for (int i = 0; i < cn; i++) if (strncmp(cwords[i], "cunik.entrypoint=", 17) == 0) av[(ac = 1) - 1] = cwords[i] + 17;
  if (ac == 0) {
    long elen = slurp("/.cunik/entry", &entry);
    if (elen <= 0) { say("/.cunik/entry is missing: nothing to run"); report_and_exit(127); }
    ac = words(entry, elen, av, MAX_WORDS / 2);
  }
  for (int i = 1; i < argc && ac < MAX_WORDS; i++) av[ac++] = argv[i];
  av[ac] = NULL;

  int ec = 0;
  long envlen = slurp("/.cunik/env", &envfile);
  if (envlen > 0) ec = words(envfile, envlen, ev, MAX_WORDS / 2);
  for (char **e = envp; *e && ec < MAX_WORDS; e++) {
    // The kernel's own words it did not take (initcall_blacklist= without CONFIG_KALLSYMS) are not the app's.
    if (strncmp(*e, "ip=", 3) == 0 || strncmp(*e, "cunik.", 6) == 0 || strncmp(*e, "initcall_blacklist=", 19) == 0) continue;
    size_t klen = strcspn(*e, "=");
    int j;
    for (j = 0; j < ec; j++) if (strncmp(ev[j], *e, klen) == 0 && ev[j][klen] == '=') break;
    ev[j == ec ? ec++ : j] = *e;
  }
  int has_path = 0;
  for (int j = 0; j < ec; j++) if (strncmp(ev[j], "PATH=", 5) == 0) has_path = 1;
  if (!has_path && ec < MAX_WORDS) ev[ec++] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  ev[ec] = NULL;
  const char *dir = slurp("/.cunik/workdir", &workdir) > 0 ? strtok(workdir, "\n") : "/";
  /* run --workdir (made if missing, as Docker's) and run --user override the image's. */
  for (int i = 0; i < cn; i++) {
    if (strncmp(cwords[i], "cunik.workdir=", 14) == 0) {
      dir = cwords[i] + 14;
      mkdirs(dir);
    } else if (strncmp(cwords[i], "cunik.user=", 11) == 0) run_user = cwords[i] + 11;
  }

  dbg("exec %s (%d args)", av[0], ac - 1);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  pid_t app = fork();
  if (app < 0) { say("fork: %s", strerror(errno)); report_and_exit(127); }
  if (app == 0) {
    sigprocmask(SIG_UNBLOCK, &chld, NULL);
    setsid();
    ioctl(0, TIOCSCTTY, 0);
    if (switch_user() != 0) _exit(126);
    if (chdir(dir) != 0) say("chdir %s: %s", dir, strerror(errno));
    /* A program named without a path is looked up in the app's own PATH, as a shell would. */
    if (strchr(av[0], '/')) execve(av[0], av, ev);
    else {
      environ = ev;
      execvp(av[0], av);
    }
    say("exec %s: %s", av[0], strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
  }
  if (template == 2) {
    wait_app_listening(listen_ports, app);
    char **no_args, **no_env;
    receive_instance(cwords, &cn, &no_args, &no_env);
    for (int i = 0; i < cn; i++) if (strcmp(cwords[i], "cunik.debug") == 0) debug = 1;
    instance_network(cwords, cn);
  }
  int code = supervise(app, &chld);
  dbg("%s exited with %d", av[0], code);
  kill(-1, SIGKILL);
  report_and_exit(code);
  return 0;
}
