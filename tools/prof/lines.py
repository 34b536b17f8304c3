import re, subprocess, sys, collections
elf=sys.argv[1]; log=sys.argv[2]; w=int(sys.argv[3])
rx=re.compile(r'\[[0-9a-f]+/([0-9a-f]+)/')
pcs=[]
with open(log) as f:
    for line in f:
        m=rx.search(line)
        if m: pcs.append(int(m.group(1),16))
segs=[];cur=[]
for pc in pcs:
    if pc>=0xffff000000000000: cur.append(pc)
    elif cur: segs.append(cur);cur=[]
s=segs[w]
uniq=sorted(set(s))
inp='\n'.join(hex(p) for p in uniq)
out=subprocess.run(['llvm-symbolizer','--obj',elf,'--inlining=false','--functions=none','--relative-address'] if False else ['llvm-symbolizer','--obj='+elf,'--inlines'],input=inp,capture_output=True,text=True).stdout
blocks=out.strip().split('\n\n')
loc={}
for pc,b in zip(uniq,blocks):
    lines=b.strip().split('\n')
    # innermost file:line is first; use the outermost kernel frame? take innermost
    loc[pc]=lines[0].replace('/work/main/','') if lines else '?'
c=collections.Counter(loc[p] for p in s)
for k,n in c.most_common(45): print(f'{n:5d} {k}')
