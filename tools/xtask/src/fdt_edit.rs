//! A minimal flattened-device-tree reader and writer for the boot tests: load QEMU's own
//! DTB, change, add or remove properties anywhere (any length), write a clean blob
//! (header, reservations, structure, strings; no NOPs, no free space).
//!
//! Hand-written: the tests need to *break* trees in ways a well-behaved builder
//! refuses (a root `#size-cells` that contradicts every `reg`, a GIC under the wrong
//! name), and the project's FDT crates only read (`fdt`) or build from scratch
//! (`vm-fdt`, a dev-dependency of `platform` only).

use crate::Result;

const MAGIC: u32 = 0xd00d_feed;
const BEGIN_NODE: u32 = 1;
const END_NODE: u32 = 2;
const PROP: u32 = 3;
const NOP: u32 = 4;
const END: u32 = 9;

/// One node: its name, properties in order, children in order.
#[derive(Clone, Debug, Default)]
pub struct Node {
    /// Name with unit address (`""` for the root).
    pub name: String,
    /// (name, value) in blob order.
    pub props: Vec<(String, Vec<u8>)>,
    /// Child nodes in blob order.
    pub children: Vec<Node>,
}

/// A whole tree plus the header fields and reservations worth keeping.
#[derive(Clone, Debug)]
pub struct Tree {
    /// The root node.
    pub root: Node,
    /// Memory reservation block entries.
    pub reserve: Vec<(u64, u64)>,
    boot_cpuid: u32,
}

fn be32(b: &[u8], at: usize) -> Result<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| format!("DTB truncated at {at:#x}"))
}

fn be64(b: &[u8], at: usize) -> Result<u64> {
    Ok((u64::from(be32(b, at)?) << 32) | u64::from(be32(b, at + 4)?))
}

fn cstr(b: &[u8], at: usize) -> Result<String> {
    let rest = b.get(at..).ok_or("string offset out of range")?;
    let n = rest
        .iter()
        .position(|&c| c == 0)
        .ok_or("unterminated string")?;
    Ok(String::from_utf8_lossy(&rest[..n]).into_owned())
}

impl Tree {
    /// Parse a DTB.
    pub fn parse(b: &[u8]) -> Result<Tree> {
        if be32(b, 0)? != MAGIC {
            return Err("not a DTB (bad magic)".into());
        }
        let (off_struct, off_strings, off_rsv) = (
            be32(b, 8)? as usize,
            be32(b, 12)? as usize,
            be32(b, 16)? as usize,
        );
        let mut reserve = Vec::new();
        let mut at = off_rsv;
        loop {
            let (a, s) = (be64(b, at)?, be64(b, at + 8)?);
            if a == 0 && s == 0 {
                break;
            }
            reserve.push((a, s));
            at += 16;
        }
        let mut pos = off_struct;
        let mut stack: Vec<Node> = Vec::new();
        let mut root = None;
        loop {
            let tok = be32(b, pos)?;
            pos += 4;
            match tok {
                BEGIN_NODE => {
                    let name = cstr(b, pos)?;
                    pos += (name.len() + 1).next_multiple_of(4);
                    stack.push(Node {
                        name,
                        ..Node::default()
                    });
                }
                PROP => {
                    let len = be32(b, pos)? as usize;
                    let name = cstr(b, off_strings + be32(b, pos + 4)? as usize)?;
                    let value = b
                        .get(pos + 8..pos + 8 + len)
                        .ok_or("property runs past the blob")?
                        .to_vec();
                    pos += 8 + len.next_multiple_of(4);
                    stack
                        .last_mut()
                        .ok_or("property outside a node")?
                        .props
                        .push((name, value));
                }
                END_NODE => {
                    let node = stack.pop().ok_or("unbalanced END_NODE")?;
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(node),
                        None => root = Some(node),
                    }
                }
                NOP => {}
                END => break,
                t => return Err(format!("unknown token {t:#x}")),
            }
        }
        Ok(Tree {
            root: root.ok_or("no root node")?,
            reserve,
            boot_cpuid: be32(b, 28)?,
        })
    }

    /// The node at `path` (`/`, `/chosen`, `/intc@8000000`, ...), by full name.
    pub fn node_mut(&mut self, path: &str) -> Result<&mut Node> {
        let mut node = &mut self.root;
        for part in path.split('/').filter(|p| !p.is_empty()) {
            node = node
                .children
                .iter_mut()
                .find(|c| c.name == part || c.name.split('@').next() == Some(part))
                .ok_or_else(|| format!("no node {path} in the DTB"))?;
        }
        Ok(node)
    }

    /// Set (replace or add) property `name` of the node at `path`.
    pub fn set(&mut self, path: &str, name: &str, value: &[u8]) -> Result<()> {
        let node = self.node_mut(path)?;
        match node.props.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => *v = value.to_vec(),
            None => node.props.push((name.to_string(), value.to_vec())),
        }
        Ok(())
    }

    /// The first node (depth first) whose `compatible` list contains `compat`, by path.
    pub fn find_compatible(&self, compat: &str) -> Option<String> {
        fn walk(n: &Node, path: &str, compat: &str) -> Option<String> {
            let here = if n.name.is_empty() {
                "/".to_string()
            } else {
                format!("{}/{}", path.trim_end_matches('/'), n.name)
            };
            let matches = n.props.iter().any(|(k, v)| {
                k == "compatible" && v.split(|&c| c == 0).any(|s| s == compat.as_bytes())
            });
            if matches {
                return Some(here);
            }
            n.children.iter().find_map(|c| walk(c, &here, compat))
        }
        walk(&self.root, "/", compat)
    }

    /// Serialize to a clean blob (version 17).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut strings: Vec<u8> = Vec::new();
        let mut offsets = std::collections::HashMap::new();
        let mut structure = Vec::new();
        fn put(v: &mut Vec<u8>, x: u32) {
            v.extend_from_slice(&x.to_be_bytes());
        }
        fn emit(
            n: &Node,
            s: &mut Vec<u8>,
            strings: &mut Vec<u8>,
            offsets: &mut std::collections::HashMap<String, u32>,
        ) {
            put(s, BEGIN_NODE);
            s.extend_from_slice(n.name.as_bytes());
            s.push(0);
            while !s.len().is_multiple_of(4) {
                s.push(0);
            }
            for (name, value) in &n.props {
                let off = *offsets.entry(name.clone()).or_insert_with(|| {
                    let o = strings.len() as u32;
                    strings.extend_from_slice(name.as_bytes());
                    strings.push(0);
                    o
                });
                put(s, PROP);
                put(s, value.len() as u32);
                put(s, off);
                s.extend_from_slice(value);
                while !s.len().is_multiple_of(4) {
                    s.push(0);
                }
            }
            for c in &n.children {
                emit(c, s, strings, offsets);
            }
            put(s, END_NODE);
        }
        emit(&self.root, &mut structure, &mut strings, &mut offsets);
        put(&mut structure, END);
        let off_rsv = 40usize;
        let rsv_len = 16 * (self.reserve.len() + 1);
        let off_struct = off_rsv + rsv_len;
        let off_strings = off_struct + structure.len();
        let total = off_strings + strings.len();
        let mut out = Vec::with_capacity(total);
        for v in [
            MAGIC,
            total as u32,
            off_struct as u32,
            off_strings as u32,
            off_rsv as u32,
            17,
            16,
            self.boot_cpuid,
            strings.len() as u32,
            structure.len() as u32,
        ] {
            put(&mut out, v);
        }
        for &(a, s) in &self.reserve {
            out.extend_from_slice(&a.to_be_bytes());
            out.extend_from_slice(&s.to_be_bytes());
        }
        out.extend_from_slice(&[0; 16]);
        out.extend_from_slice(&structure);
        out.extend_from_slice(&strings);
        out
    }
}

/// Big-endian cells as a property value.
pub fn cells(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|c| c.to_be_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_edit() {
        let mut t = Tree {
            root: Node {
                name: String::new(),
                props: vec![("#size-cells".into(), cells(&[2]))],
                children: vec![Node {
                    name: "chosen".into(),
                    props: vec![("bootargs".into(), b"a=1\0".to_vec())],
                    children: vec![],
                }],
            },
            reserve: vec![(0x1000, 0x2000)],
            boot_cpuid: 0,
        };
        let b = t.to_bytes();
        let back = Tree::parse(&b).unwrap();
        assert_eq!(back.to_bytes(), b);
        t.set("/", "#size-cells", &cells(&[1])).unwrap();
        t.set("/chosen", "x", &[1, 2, 3]).unwrap();
        let back = Tree::parse(&t.to_bytes()).unwrap();
        assert_eq!(back.root.props[0].1, cells(&[1]));
        assert_eq!(back.root.children[0].props[1], ("x".into(), vec![1, 2, 3]));
        assert_eq!(back.reserve, vec![(0x1000, 0x2000)]);
        assert!(t.set("/nope", "x", &[]).is_err());
        assert_eq!(back.find_compatible("none"), None);
    }
}
