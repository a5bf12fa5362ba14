# qemu route of tests/rxe/run (sourced; uses its variables: here, cache,
# state, nonce, timeout_s, mem, filter, report). Debian's stock kernel with
# its rdma_rxe module, under qemu TCG: slow, but the distro's own rxe.
#
# Needs (Debian packages): qemu-system-x86 busybox-static kmod cpio.

# Echoes the directory holding vmlinuz + initrd.img, building it on first use.
qemu_kernel() {
    local pkg d tmp kver m
    pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' |
          cut -d' ' -f1 | sort -V | tail -n 1)
    [ -n "$pkg" ] || { echo "rxe/run: no linux-image-6.1.0-*-amd64 in apt's lists (apt-get update?)" >&2; return 1; }
    d="$cache/qemu-$pkg"
    if [ -f "$d/initrd.img" ]; then echo "$d"; return; fi
    for t in qemu-system-x86_64 busybox cpio depmod; do
        command -v "$t" >/dev/null || {
            echo "rxe/run: --qemu needs $t (apt-get install qemu-system-x86 busybox-static cpio kmod)" >&2
            return 1
        }
    done
    tmp=$(mktemp -d "$cache/qemu-build.XXXXXX") || return 1
    (
        set -e
        cd "$tmp"
        apt-get download "$pkg" >&2
        dpkg-deb -x ./*.deb root
        kver=${pkg#linux-image-}
        depmod -b root "$kver"
        mkdir -p initrd/bin initrd/lib/modules
        cp "$(command -v busybox)" initrd/bin/busybox
        # crc32_generic is mandatory: without it rxe fails to init crc32
        # and `rdma link add` returns ENOENT.
        for m in virtio_pci virtio_net 9pnet_virtio 9p crc32_generic \
            crc32c_generic libcrc32c rdma_rxe ib_uverbs rdma_ucm dummy; do
            modprobe -d root -S "$kver" --show-depends "$m"
        done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' >order
        : >initrd/lib/modules/order
        while read -r m; do
            cp "$m" initrd/lib/modules/
            echo "/lib/modules/$(basename "$m")" >>initrd/lib/modules/order
        done <order
        cp "$here/qemu-init" initrd/init
        chmod +x initrd/init
        (cd initrd && find . | cpio -o -H newc --quiet | gzip -1) >initrd.img
        cp root/boot/vmlinuz-"$kver" vmlinuz
        mkdir -p "$d.tmp"
        mv vmlinuz initrd.img "$d.tmp/"
    ) || { rm -rf "$tmp" "$d.tmp"; echo "rxe/run: building the qemu image failed" >&2; return 1; }
    mv "$d.tmp" "$d"
    rm -rf "$tmp"
    echo "$d"
}

# Sets rc.
run_qemu() {
    local k i=0 fsargs=() d
    k=$(qemu_kernel) || { rc=125; return; }
    # Writable folders become 9p shares rw0, rw1, ... in the order of
    # $state/rw; qemu-init mounts them over the read-only root.
    while IFS= read -r d; do
        fsargs+=(-fsdev "local,path=$d,security_model=passthrough,id=rw$i"
                 -device "virtio-9p-pci,fsdev=rw$i,mount_tag=rw$i")
        i=$((i + 1))
    done <"$state/rw"
    (
        cd "$state" || exit 125
        setsid qemu-system-x86_64 \
            -accel tcg,thread=multi -cpu max -m "$mem" -smp 2 \
            -nodefaults -display none -no-reboot \
            -serial stdio \
            -kernel "$k/vmlinuz" -initrd "$k/initrd.img" \
            -append "console=ttyS0 quiet panic=-1 rdmx_state=$state rdmx_node=0 rdmx_nodes=1 rdmx_vm=qemu rdmx_netdev=dummy0" \
            -fsdev local,path=/,readonly=on,security_model=passthrough,multidevs=remap,id=root \
            -device virtio-9p-pci,fsdev=root,mount_tag=root \
            "${fsargs[@]}" </dev/null 2>>"$state/vm0.log" &
        vm_wait $! 0
    ) | filter "" "$state/rc0" "$state/boot0.log"
    report 0
    rc=$node_rc
}
