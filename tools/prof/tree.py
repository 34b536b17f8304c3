#!/usr/bin/env python3
"""Where a traced kernel stretch's instructions go, by source function, inlining
included: tree.py ELF LOG SEGMENT [MIN]

LOG is a `-d exec,nochain` trace of a run under `-accel tcg,one-insn-per-tb=on`
(`tools/prof/run.sh` with KEEP=1 writes target/prof-exec.log); SEGMENT numbers the
stretches of kernel execution between two user instructions, as prof.py prints them.
Every executed instruction is attributed to its chain of (inlined) functions, outermost
first, from the ELF's DWARF (llvm-symbolizer --inlines); the tree prints each function
with the instructions executed in it and in what was inlined into it, children under
their caller, those below MIN (default 3) folded into their parent's "(own)" line.

The attribution is the compiler's: an instruction scheduled between two inlined calls
is counted where the line table puts it, so a leaf may gain or lose a few.
"""
import collections
import re
import subprocess
import sys

KERNEL_VA = 0xFFFF000000000000
PC = re.compile(r"\[[0-9a-f]+/([0-9a-f]+)/")
ESCAPES = [("$LT$", "<"), ("$GT$", ">"), ("$u7b$", "{"), ("$u7d$", "}"), ("$C$", ","),
           ("$u20$", " "), ("$BP$", "*"), ("$RF$", "&"), ("$u27$", "'"), ("..", "::")]


def segments(log):
    segs, cur = [], []
    with open(log) as f:
        for line in f:
            m = PC.search(line)
            if not m:
                continue
            pc = int(m.group(1), 16)
            if pc >= KERNEL_VA:
                cur.append(pc)
            elif cur:
                segs.append(cur)
                cur = []
    return segs


def name(frame):
    parts = frame.split("::")
    if re.fullmatch(r"h[0-9a-f]{16}", parts[-1]):
        parts = parts[:-1]
    s = "::".join(parts[-2:])
    for a, b in ESCAPES:
        s = s.replace(a, b)
    return s.lstrip("_")


def chains(elf, pcs):
    uniq = sorted(set(pcs))
    out = subprocess.run(["llvm-symbolizer", "--obj=" + elf, "--inlines"],
                         input="\n".join(hex(p) for p in uniq),
                         capture_output=True, text=True, check=True).stdout
    result = {}
    for pc, block in zip(uniq, out.strip().split("\n\n")):
        lines = block.strip().split("\n")
        result[pc] = tuple(reversed([name(lines[i]) for i in range(0, len(lines), 2)]))
    return result


def main():
    elf, log, which = sys.argv[1], sys.argv[2], int(sys.argv[3])
    low = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    seg = segments(log)[which]
    chain = chains(elf, seg)
    total = collections.Counter()
    for pc in seg:
        c = chain[pc]
        for i in range(1, len(c) + 1):
            total[c[:i]] += 1
    print(f"segment {which}: {len(seg)} instructions")

    def show(prefix, depth):
        kids = sorted((k for k in total if len(k) == len(prefix) + 1 and k[:len(prefix)] == prefix),
                      key=lambda k: -total[k])
        shown = 0
        for k in kids:
            if total[k] >= low:
                print(f"{total[k]:6d}  {'  ' * depth}{k[-1]}")
                show(k, depth + 1)
                shown += total[k]
        own = total[prefix] - shown
        if prefix and own and shown:
            print(f"{own:6d}  {'  ' * depth}(own, and callees under {low})")

    show((), 0)


if __name__ == "__main__":
    main()
