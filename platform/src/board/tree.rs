//! Walking a (validated) device tree with the context needed to decode nodes:
//! the parent's cell sizes, whether addresses are CPU physical addresses, and the
//! inherited `interrupt-parent`.

use fdt::node::FdtNode;
use fdt::Fdt;

use super::BoardError;

/// A node plus the context inherited from its ancestors.
#[derive(Clone, Copy)]
pub(crate) struct NodeRef<'b, 'a> {
    /// The node itself.
    pub node: FdtNode<'b, 'a>,
    /// Parent's `#address-cells` (how this node's `reg` addresses are encoded).
    pub address_cells: u32,
    /// Parent's `#size-cells`.
    pub size_cells: u32,
    /// True if every ancestor maps addresses 1:1 (root, or empty `ranges`).
    pub identity: bool,
    /// `interrupt-parent` phandle inherited from the nearest ancestor that has one.
    inherited_irq_parent: Option<u32>,
    /// Depth below the root (root = 0).
    pub depth: usize,
    /// Name of the parent node (`""` for the root).
    pub parent_name: &'a str,
}

/// Reads a one-cell property value.
pub(crate) fn cell(value: &[u8]) -> Option<u32> {
    let b: [u8; 4] = value.get(..4)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}

impl<'b, 'a> NodeRef<'b, 'a> {
    /// The root node. `fdt` must come from a blob accepted by `validate::check`.
    pub fn root(fdt: &'b Fdt<'a>) -> Result<Self, BoardError> {
        let node = fdt.find_node("/").ok_or(BoardError::MissingNode("/"))?;
        Ok(Self {
            node,
            address_cells: 2,
            size_cells: 1,
            identity: true,
            inherited_irq_parent: None,
            depth: 0,
            parent_name: "",
        })
    }

    /// Raw value of property `name`.
    pub fn prop(&self, name: &str) -> Option<&'a [u8]> {
        self.node.property(name).map(|p| p.value)
    }

    /// String value of property `name` (trailing NULs removed).
    pub fn prop_str(&self, name: &str) -> Option<&'a str> {
        self.node.property(name).and_then(|p| p.as_str())
    }

    /// Whether `compatible` lists any of `with`.
    pub fn is_compatible(&self, with: &[&str]) -> bool {
        self.node
            .compatible()
            .is_some_and(|c| c.all().any(|s| with.contains(&s)))
    }

    /// Node name without the `@unit-address` part.
    pub fn base_name(&self) -> &'a str {
        let name: &'a str = self.node.name;
        name.split('@').next().unwrap_or(name)
    }

    /// `status` is absent, `"okay"` or `"ok"`.
    pub fn enabled(&self) -> bool {
        matches!(self.prop_str("status"), None | Some("okay") | Some("ok"))
    }

    /// The phandle of this node's interrupt parent, own or inherited.
    pub fn irq_parent(&self) -> Option<u32> {
        self.prop("interrupt-parent")
            .and_then(cell)
            .or(self.inherited_irq_parent)
    }

    /// Context for a child of this node.
    fn child(&self, node: FdtNode<'b, 'a>) -> Self {
        let ranges_identity = self.prop("ranges").is_some_and(|r| r.is_empty());
        Self {
            node,
            address_cells: self.prop("#address-cells").and_then(cell).unwrap_or(2),
            size_cells: self.prop("#size-cells").and_then(cell).unwrap_or(1),
            identity: self.identity && (self.depth == 0 || ranges_identity),
            inherited_irq_parent: self.irq_parent(),
            depth: self.depth + 1,
            parent_name: self.node.name,
        }
    }

    /// Enabled children of this node.
    pub fn children(self) -> impl Iterator<Item = Self> + 'b
    where
        'a: 'b,
    {
        self.node
            .children()
            .map(move |c| self.child(c))
            .filter(|c| c.enabled())
    }

    /// Visits this node's enabled descendants depth-first, in blob order.
    pub fn walk<E>(self, f: &mut impl FnMut(&Self) -> Result<(), E>) -> Result<(), E>
    where
        'a: 'b,
    {
        for child in self.children() {
            f(&child)?;
            child.walk(f)?;
        }
        Ok(())
    }

    /// The direct child whose name is `name`, or whose base name is `name` when
    /// `name` has no unit address.
    pub fn find_child(self, name: &str) -> Option<Self>
    where
        'a: 'b,
    {
        let with_addr = name.contains('@');
        self.children().find(|c| {
            if with_addr {
                c.node.name == name
            } else {
                c.base_name() == name
            }
        })
    }

    /// Resolves an absolute path such as `/pl011@9000000` starting at the root.
    pub fn resolve_path(self, path: &str) -> Option<Self>
    where
        'a: 'b,
    {
        let rest = path.strip_prefix('/')?;
        let mut node = self;
        for part in rest.split('/').filter(|p| !p.is_empty()) {
            node = node.find_child(part)?;
        }
        Some(node)
    }
}
