//! The sanitizer's options, from the plugin's `key=value` arguments
//! (`-plugin libsanitizer_plugin.so,ram=...,kernel=...`).

use std::path::PathBuf;

/// Every option (see [`Options::HELP`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The guest RAM's backing file (`ram=`), mapped read-only.
    pub ram_file: Option<PathBuf>,
    /// First physical address of RAM (`ram_base=`, default QEMU virt's 0x40000000).
    pub ram_base: u64,
    /// Bytes of RAM (`ram_size=`, default the file's size).
    pub ram_size: Option<u64>,
    /// The kernel ELF for symbols (`kernel=`).
    pub kernel: Option<PathBuf>,
    /// A directory of user program ELFs for symbols (`user=`).
    pub user_dir: Option<PathBuf>,
    /// Where to write the JSON report (`report=`).
    pub report: Option<PathBuf>,
    /// Frame-image mode: write the image each GPU flush would show from the modelled
    /// RAM into this directory (`images=`).
    pub images: Option<PathBuf>,
    /// With `images`: one file per flush (`images_all=on`), not only the last.
    pub images_all: bool,
    /// Model the devices as coherent (`coherent=on`).
    pub coherent_devices: bool,
    /// virtio-mmio windows: base, stride, count (`virtio_mmio=0xa000000:0x200:32`).
    pub virtio_mmio: (u64, u64, u64),
    /// Violations kept in full (`keep=`).
    pub keep: usize,
    /// Print a one-line note for each violation as it is found (`verbose=on`).
    pub verbose: bool,
    /// Run the memory-cost model beside the sanitizer (`cost=on`) with these parameters
    /// (`l1=`, `l2=`, `dram=`, `wb=`, `maint=`, `wc=`: [`cachemodel::CostParams`]).
    pub cost: Option<cachemodel::CostParams>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ram_file: None,
            ram_base: 0x4000_0000,
            ram_size: None,
            kernel: None,
            user_dir: None,
            report: None,
            images: None,
            images_all: false,
            coherent_devices: false,
            virtio_mmio: (0x0a00_0000, 0x200, 32),
            keep: 64,
            verbose: false,
            cost: None,
        }
    }
}

fn number(key: &str, v: &str) -> Result<u64, String> {
    let v = v.trim();
    let (digits, scale) = match v.as_bytes().last() {
        Some(b'K' | b'k') => (&v[..v.len() - 1], 1 << 10),
        Some(b'M' | b'm') => (&v[..v.len() - 1], 1 << 20),
        Some(b'G' | b'g') => (&v[..v.len() - 1], 1 << 30),
        _ => (v, 1),
    };
    let n = match digits.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => digits.parse(),
    };
    n.ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| format!("{key}={v}: not a number"))
}

fn flag(key: &str, v: &str) -> Result<bool, String> {
    match v {
        "on" | "true" | "yes" | "1" => Ok(true),
        "off" | "false" | "no" | "0" => Ok(false),
        _ => Err(format!("{key}={v}: expected on or off")),
    }
}

impl Options {
    /// The arguments, for error messages.
    pub const HELP: &'static str = "ram=FILE (the memory-backend-file of guest RAM, \
        share=on), ram_base=ADDR (0x40000000), ram_size=SIZE, kernel=ELF, user=DIR, \
        report=FILE.json, images=DIR, images_all=on, coherent=on, \
        virtio_mmio=BASE:STRIDE:COUNT (0xa000000:0x200:32), keep=N, verbose=on, \
        cost=on (the memory-cost model) with l1=, l2=, dram=, wb=, maint=, wc= (its parameters)";

    /// Parse `key=value` arguments.
    pub fn parse<'a>(args: impl IntoIterator<Item = &'a str>) -> Result<Options, String> {
        let mut o = Options::default();
        let (mut cost, mut params, mut tuned) = (false, cachemodel::CostParams::DEFAULT, false);
        for arg in args {
            let (k, v) = arg
                .split_once('=')
                .ok_or_else(|| format!("argument {arg:?} is not key=value; {}", Self::HELP))?;
            match k {
                "ram" => o.ram_file = Some(v.into()),
                "ram_base" => o.ram_base = number(k, v)?,
                "ram_size" => o.ram_size = Some(number(k, v)?),
                "kernel" => o.kernel = Some(v.into()),
                "user" => o.user_dir = Some(v.into()),
                "report" => o.report = Some(v.into()),
                "images" => o.images = Some(v.into()),
                "images_all" => o.images_all = flag(k, v)?,
                "coherent" => o.coherent_devices = flag(k, v)?,
                "keep" => o.keep = number(k, v)? as usize,
                "verbose" => o.verbose = flag(k, v)?,
                "cost" => cost = flag(k, v)?,
                _ if cachemodel::CostParams::KEYS.contains(&k) => {
                    params.set(k, number(k, v)?);
                    tuned = true;
                }
                "virtio_mmio" => {
                    let parts: Vec<&str> = v.split(':').collect();
                    let [b, s, c] = parts[..] else {
                        return Err(format!("{k}={v}: expected BASE:STRIDE:COUNT"));
                    };
                    o.virtio_mmio = (number(k, b)?, number(k, s)?, number(k, c)?);
                }
                _ => return Err(format!("unknown argument {k:?}; {}", Self::HELP)),
            }
        }
        if tuned && !cost {
            return Err("cost model parameters need cost=on".into());
        }
        o.cost = cost.then_some(params);
        if o.ram_base % cachemodel::LINE != 0 {
            return Err("ram_base must be line-aligned".into());
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let o = Options::parse([
            "ram=/dev/shm/x",
            "ram_size=1G",
            "ram_base=0x40000000",
            "images_all=on",
            "virtio_mmio=0xa000000:0x200:32",
            "keep=10",
        ])
        .unwrap();
        assert_eq!(o.ram_size, Some(1 << 30));
        assert_eq!(o.ram_file, Some("/dev/shm/x".into()));
        assert!(o.images_all);
        assert_eq!(o.keep, 10);
        assert!(Options::parse(["bogus=1"]).is_err());
        assert!(Options::parse(["ram"]).is_err());
        assert!(Options::parse(["ram_size=lots"]).is_err());
        assert!(Options::parse(["coherent=maybe"]).is_err());
        assert!(Options::parse(["virtio_mmio=1:2"]).is_err());
        assert_eq!(Options::parse([]).unwrap(), Options::default());
        assert_eq!(Options::parse([]).unwrap().cost, None);
        let c = Options::parse(["dram=100", "cost=on", "wb=80"])
            .unwrap()
            .cost;
        let c = c.unwrap();
        assert_eq!((c.dram, c.wb, c.l2_hit), (100, 80, 16));
        assert!(Options::parse(["dram=100"]).is_err());
        assert!(Options::parse(["cost=on", "dram=x"]).is_err());
    }
}
