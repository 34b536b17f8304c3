#!/bin/bash
# Instruction profile of a program on the bench kernel: run.sh PROGRAM [segments...]
# (build first: the bench kernel and initrd, e.g. with `cargo xtask bench`). By symbol
# (prof.py); with TREE=1 by source function, inlined ones included (tree.py); with
# KEEP=1 only the trace, target/prof-exec.log (about 1.5 GB: delete it after).
cd "$(dirname "$0")/../.."
rm -f target/prof-exec.log
timeout 300 qemu-system-aarch64 -M virt,gic-version=3 -cpu cortex-a72 -m 1G -smp 1 -display none -serial stdio -monitor none -device virtio-gpu-device,xres=1920,yres=1080 -global virtio-mmio.force-legacy=false -semihosting-config enable=on,target=native -no-reboot -icount shift=0,sleep=off -accel tcg,one-insn-per-tb=on -d exec,nochain -D target/prof-exec.log -kernel target/xtask/kernel-bench.img -append "exit=semihosting init=${1:-prof_sync} dma=noncoherent devirq=poll ticks=0" -initrd target/xtask/initrd.tar >/dev/null 2>&1
[ -n "$KEEP" ] && exit 0
if [ -n "$TREE" ]; then
    # By source function, inlining included (tree.py), one segment after another.
    for seg in "${@:2}"; do
        python3 tools/prof/tree.py target/xtask/kernel-bench.elf target/prof-exec.log "$seg"
    done
else
    python3 tools/prof/prof.py target/xtask/kernel-bench.elf target/prof-exec.log ${@:2}
fi
