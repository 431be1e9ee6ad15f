#!/usr/bin/env bash
# Builds the tiny test kernels (test/fixtures/kernels) into build/kernels/:
#   hello.elf      multiboot v1 header + PVH ELF note (QEMU boots it via multiboot)
#   hello-pvh.elf  same source, PVH note only (tests the PVH entry)
#   probe.elf      accelerator probe (SSE/AVX/XSAVE), multiboot + PVH
#   solo5.elf      a Solo5 virtio unikernel's behaviour, manifest declaring no device (solo5.ld)
#   solo5-net-blk.elf  the same declaring a net device "service" and a block device "storage"
#   unikraft.elf   hello with a .uk_libinfo section as Unikraft 0.16.3's helloworld (no netdev, no libparam),
#                  ending through isa-debug-exit at Unikraft's port 0x501
#   halt.elf       ends as Rumprun does: exit lines, "halted", then halts without powering off
# Needs only gcc and binutils (no multilib: no libc, no 32-bit headers are used).
# Rebuilds a kernel only when a source, this script or the linker script is newer.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
src=test/fixtures/kernels
out=build/kernels

CC=${CC:-gcc}
LD=${LD:-ld}
for tool in "$CC" "$LD"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "build-kernels: '$tool' not found; install gcc and binutils (apt-get install gcc binutils)" >&2
    exit 1
  fi
done

CFLAGS=(-m32 -march=i686 -std=gnu11 -Os -Wall -Wextra -Werror
  -ffreestanding -nostdlib -fno-pic -fno-pie -fno-stack-protector
  -fno-asynchronous-unwind-tables -fno-unwind-tables -fno-builtin
  -mgeneral-regs-only -fcf-protection=none)
LDFLAGS=(-m elf_i386 -nostdlib -static --build-id=none -z max-page-size=0x1000 -z noexecstack)

mkdir -p "$out"
tmp=$(mktemp -d "$out/.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# [LDS=SCRIPT] build NAME MAIN_C [CPPFLAGS...]   (linker script default kernel.ld)
build() {
  local name=$1 main=$2 lds=$src/${LDS:-kernel.ld}
  shift 2
  local target=$out/$name.elf
  local deps=("$src/start.S" "$src/lib.c" "$src/lib.h" "$src/hello.c" "$src/$main" "$lds" "${BASH_SOURCE[0]}")
  if [[ -f $target ]]; then
    local stale=0 d
    for d in "${deps[@]}"; do [[ $d -nt $target ]] && stale=1; done
    if [[ $stale == 0 ]]; then return 0; fi
  fi
  "$CC" "${CFLAGS[@]}" "$@" -c "$src/start.S" -o "$tmp/start.o"
  "$CC" "${CFLAGS[@]}" "$@" -c "$src/lib.c" -o "$tmp/lib.o"
  "$CC" "${CFLAGS[@]}" "$@" -c "$src/$main" -o "$tmp/main.o"
  "$LD" "${LDFLAGS[@]}" -T "$lds" -o "$tmp/$name.elf" "$tmp/start.o" "$tmp/lib.o" "$tmp/main.o"
  mv -f "$tmp/$name.elf" "$target"
  echo "build-kernels: $target"
}

build hello hello.c -DWITH_MULTIBOOT
build hello-pvh hello.c
build probe probe.c -DWITH_MULTIBOOT
LDS=solo5.ld build solo5 solo5.c -DWITH_MULTIBOOT
LDS=solo5.ld build solo5-net-blk solo5.c -DWITH_MULTIBOOT -DMFT_NET_BLK
build halt halt.c -DWITH_MULTIBOOT
build unikraft unikraft.c -DWITH_MULTIBOOT -DDEBUG_EXIT_PORT=0x501
