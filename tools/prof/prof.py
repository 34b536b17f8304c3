import re, bisect, subprocess, sys, collections
elf = sys.argv[1]; log = sys.argv[2]
syms=[]
for line in subprocess.run(['nm','-C','-n',elf],capture_output=True,text=True).stdout.splitlines():
    p=line.split(' ',2)
    if len(p)==3 and p[1] in 'tTwW':
        syms.append((int(p[0],16),p[2]))
addrs=[a for a,_ in syms]
def sym(pc):
    i=bisect.bisect_right(addrs,pc)-1
    return syms[i][1] if i>=0 else '?'
pcs=[]
rx=re.compile(r'\[[0-9a-f]+/([0-9a-f]+)/')
with open(log) as f:
    for line in f:
        m=rx.search(line)
        if m: pcs.append(int(m.group(1),16))
# segments of kernel execution between user PCs
segs=[]; cur=[]
for pc in pcs:
    if pc >= 0xffff000000000000:
        cur.append(pc)
    else:
        if cur: segs.append(cur); cur=[]
# only those after the program started: find segments and print lengths
lens=[len(s) for s in segs]
print('segments', len(segs), 'last 30 lengths:', lens[-30:])
which = [int(x) for x in sys.argv[3:]]
for w in which:
    s=segs[w]
    c=collections.Counter(sym(pc) for pc in s)
    print(f'--- segment {w}: {len(s)} instructions')
    for name,n in c.most_common(40):
        print(f'{n:6d}  {name[:150]}')
if which:
    s=segs[which[0]]
    # callers of memcpy: pc before entering memcpy
    prev=None; calls=collections.Counter(); lens=[]; n=0
    for pc in s:
        sy=sym(pc)
        if sy=='memcpy' and prev is not None and sym(prev)!='memcpy':
            calls[(hex(prev), sym(prev)[:80])]+=1
        prev=pc
    print('memcpy callers', calls.most_common(10))
