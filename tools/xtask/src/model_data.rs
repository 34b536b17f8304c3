//! The memory-cost model's run as data: the prices a modeled cycle is made of
//! ([`Prices`]: the cache model's [`CostParams`] and the per-event [`EventPrices`] of
//! what the cache model does not see), and `model.json` ([`ModelRun`]), which
//! `cargo xtask bench --model` writes next to `results.json` and from which the report,
//! its plot and the README's modeled table are generated.
//!
//! `model.json` carries the raw attribution of every record (icount cycles and the
//! cache model's charges per phase, summed over the operations), so any parameter set
//! can be priced again from it without running QEMU. A model run belongs to a benchmark
//! run only if its icount figures are exactly the run's ([`ModelRun::check_matches`]):
//! then both measured the same bench program on the same kernel.

use crate::bench::{self, Record};
use crate::bench_model::Row;
use crate::Result;
use cachemodel::{CostParams, CostUnits};
use serde_json::{json, Value};

/// Per-event prices of what the cache model does not see, charged from the kernel's own
/// counters in each record (`faults`, `tlbis` per operation): the hardware's part of a
/// page fault and of a TLB invalidation, beyond the instructions icount already counts
/// (the handler, the page-table update, the `TLBI` and `DSB` instructions themselves).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventPrices {
    /// Cycles added per page fault.
    pub fault: u64,
    /// Cycles added per TLB invalidation (`TLBI` + `DSB ISH`).
    pub tlbi: u64,
}

impl EventPrices {
    /// The defaults of [`EventPrices::SOURCES`].
    pub const DEFAULT: EventPrices = EventPrices {
        fault: 100,
        tlbi: 150,
    };

    /// Field name, default, what it charges, source (as [`CostParams::SOURCES`]).
    pub const SOURCES: [(&'static str, &'static str, &'static str, &'static str); 2] = [
        (
            "`fault`",
            "100",
            "every page fault the kernel counts in the record (`faults`), beyond its \
             instructions",
            "**estimate** (no published per-fault figure for the A72 found): two pipeline \
             refills (exception entry and `ERET`, about 15 cycles each, the depth of the \
             A72's pipeline) plus the hardware table walk that retries the access (4 \
             descriptor reads at the `l2_hit` latency: 64); the cache model does not see \
             table walks",
        ),
        (
            "`tlbi`",
            "150",
            "every TLB invalidation the kernel counts (`tlbis`; a zap's included)",
            "**estimate**: the `DSB ISH` after a broadcast `TLBI` waits for every CPU of \
             the inner-shareable domain to acknowledge (about 100 cycles assumed), plus the \
             table walk (64) the next access to the page pays",
        ),
    ];

    /// Set the price named `key` (`fault` or `tlbi`); false if there is none.
    pub fn set(&mut self, key: &str, value: u64) -> bool {
        match key {
            "fault" => self.fault = value,
            "tlbi" => self.tlbi = value,
            _ => return false,
        }
        true
    }
}

/// Everything a modeled cycle is priced with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prices {
    /// The cache model's parameters (its charges are priced with these).
    pub cache: CostParams,
    /// Faults and TLB invalidations.
    pub events: EventPrices,
}

impl Prices {
    /// The defaults.
    pub const DEFAULT: Prices = Prices {
        cache: CostParams::DEFAULT,
        events: EventPrices::DEFAULT,
    };

    /// Set `key` (a [`CostParams::KEYS`] key, `fault` or `tlbi`); false if unknown.
    pub fn set(&mut self, key: &str, value: u64) -> bool {
        self.cache.set(key, value) || self.events.set(key, value)
    }

    /// `key=value` pairs of every price.
    pub fn describe(&self) -> String {
        format!(
            "{} fault={} tlbi={}",
            self.cache.describe(),
            self.events.fault,
            self.events.tlbi
        )
    }

    /// Parse what [`Prices::describe`] wrote.
    pub fn parse(text: &str) -> Result<Prices> {
        let mut p = Prices::DEFAULT;
        for kv in text.split_whitespace() {
            let ok = kv
                .split_once('=')
                .and_then(|(k, v)| Some((k, v.parse::<u64>().ok()?)))
                .is_some_and(|(k, v)| p.set(k, v));
            if !ok {
                return Err(format!("model prices: bad {kv:?}"));
            }
        }
        Ok(p)
    }

    /// The sensitivity sets: these prices (`model`), then DRAM latency, write-back cost
    /// and the fault and TLBI prices at half and double.
    pub fn sensitivity(&self) -> Vec<(String, Prices)> {
        let (c, e) = (self.cache, self.events);
        let with = |cache: CostParams, events: EventPrices| Prices { cache, events };
        vec![
            ("model".into(), *self),
            (
                format!("dram {}", c.dram / 2),
                with(
                    CostParams {
                        dram: c.dram / 2,
                        ..c
                    },
                    e,
                ),
            ),
            (
                format!("dram {}", c.dram * 2),
                with(
                    CostParams {
                        dram: c.dram * 2,
                        ..c
                    },
                    e,
                ),
            ),
            (
                format!("wb {}", c.wb / 2),
                with(CostParams { wb: c.wb / 2, ..c }, e),
            ),
            (
                format!("wb {}", c.wb * 2),
                with(CostParams { wb: c.wb * 2, ..c }, e),
            ),
            (
                "fault, tlbi x0.5".into(),
                with(
                    c,
                    EventPrices {
                        fault: e.fault / 2,
                        tlbi: e.tlbi / 2,
                    },
                ),
            ),
            (
                "fault, tlbi x2".into(),
                with(
                    c,
                    EventPrices {
                        fault: e.fault * 2,
                        tlbi: e.tlbi * 2,
                    },
                ),
            ),
        ]
    }
}

/// A run of `cargo xtask bench --model`: every attributed record and the prices.
#[derive(Clone, Debug)]
pub struct ModelRun {
    /// The attributed records.
    pub rows: Vec<Row>,
    /// The run's prices (the cache parameters it ran with; the event prices given).
    pub prices: Prices,
    /// The QEMU command line.
    pub command: String,
    /// `git describe` of the tree measured, if known.
    pub git: Option<String>,
    /// Linux under the same model, if it was run (`--linux`).
    pub linux: Option<LinuxRows>,
}

fn units_json(u: &CostUnits) -> Value {
    json!({"l1_hit": u.l1_hit, "l2_hit": u.l2_hit, "dram": u.dram, "wb": u.wb, "maint": u.maint})
}

fn units_from(v: &Value) -> Result<CostUnits> {
    let f = |k: &str| {
        v.get(k)
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("model.json: units without {k:?}"))
    };
    Ok(CostUnits {
        l1_hit: f("l1_hit")?,
        l2_hit: f("l2_hit")?,
        dram: f("dram")?,
        wb: f("wb")?,
        maint: f("maint")?,
    })
}

fn triple<T>(v: Option<&Value>, f: impl Fn(&Value) -> Result<T>) -> Result<[T; 3]> {
    let a = v
        .and_then(Value::as_array)
        .filter(|a| a.len() == 3)
        .ok_or("model.json: a per-phase field is not three values")?;
    Ok([f(&a[0])?, f(&a[1])?, f(&a[2])?])
}

/// Linux's harness run under the same model (`bench --model --linux`).
#[derive(Clone, Debug)]
pub struct LinuxRows {
    /// The kernel package.
    pub package: String,
    /// The records attributed.
    pub rows: Vec<Row>,
    /// The keys of the records that could not be.
    pub missed: Vec<String>,
    /// How many of its records' icount figures differ from the published Linux run's
    /// (`None`: not compared).
    pub differs_from_published: Option<usize>,
}

fn rows_json(rows: &[Row], sets: &[(String, Prices)]) -> Vec<Value> {
    rows.iter()
        .map(|r| {
            let modeled: serde_json::Map<String, Value> = sets
                .iter()
                .map(|(n, p)| (n.clone(), json!(r.modeled(p))))
                .collect();
            json!({
                "suite": r.suite, "case": r.case, "variant": r.variant, "size": r.size,
                "reps": r.reps,
                "faults_per_op": r.faults, "tlbis_per_op": r.tlbis,
                "cycles_total": r.cycles,
                "units_total": r.units.iter().map(units_json).collect::<Vec<_>>(),
                "icount_per_op": r.icount(), "modeled_per_op": modeled,
            })
        })
        .collect()
}

fn s(x: &Value, k: &str) -> Result<String> {
    x.get(k)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("model.json: no string {k:?}"))
}

fn n(x: &Value, k: &str) -> Result<u64> {
    x.get(k)
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("model.json: no integer {k:?}"))
}

fn rows_from(v: Option<&Value>) -> Result<Vec<Row>> {
    v.and_then(Value::as_array)
        .ok_or("model.json: no \"rows\"")?
        .iter()
        .map(|r| {
            Ok(Row {
                suite: s(r, "suite")?,
                case: s(r, "case")?,
                variant: s(r, "variant")?,
                size: n(r, "size")?,
                reps: n(r, "reps")?,
                faults: n(r, "faults_per_op")?,
                tlbis: n(r, "tlbis_per_op")?,
                cycles: triple(r.get("cycles_total"), |x| {
                    x.as_u64().ok_or_else(|| "model.json: bad cycles".into())
                })?,
                units: triple(r.get("units_total"), units_from)?,
            })
        })
        .collect()
}

impl ModelRun {
    /// `model.json`: the raw attribution, and for readers the figures per operation
    /// under every sensitivity set.
    pub fn json(&self) -> Value {
        let sets = self.prices.sensitivity();
        json!({
            "what": "cargo xtask bench --model: icount cycles and the memory-cost model's \
                     charges of every record attributed, per phase, summed over its \
                     operations (modeled cycles = icount + charges priced + faults and \
                     TLBIs priced; a model, not a measurement)",
            "command": self.command,
            "git": self.git,
            "prices": self.prices.describe(),
            "sensitivity": sets.iter().map(|(n, p)| json!({"name": n, "prices": p.describe()}))
                .collect::<Vec<_>>(),
            "rows": rows_json(&self.rows, &sets),
            "linux": self.linux.as_ref().map(|l| json!({
                "package": l.package, "missed": l.missed, "rows": rows_json(&l.rows, &sets),
                "differs_from_published": l.differs_from_published,
            })),
        })
    }

    /// Read `model.json`.
    pub fn from_json(text: &str) -> Result<ModelRun> {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("model.json: {e}"))?;
        let linux = match v.get("linux").filter(|l| !l.is_null()) {
            None => None,
            Some(l) => Some(LinuxRows {
                package: s(l, "package")?,
                missed: l
                    .get("missed")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default(),
                rows: rows_from(l.get("rows"))?,
                differs_from_published: l
                    .get("differs_from_published")
                    .and_then(Value::as_u64)
                    .map(|n| n as usize),
            }),
        };
        Ok(ModelRun {
            rows: rows_from(v.get("rows"))?,
            prices: Prices::parse(&s(&v, "prices")?)?,
            command: s(&v, "command")?,
            git: v.get("git").and_then(Value::as_str).map(str::to_string),
            linux,
        })
    }

    /// Whether this model run measured the same program as `records`: every row's
    /// icount figures per operation (each phase, or `cycles` for records without
    /// phases) are exactly those of the record with its key, and every frame and
    /// readback record has a row.
    pub fn check_matches(&self, records: &[Record]) -> Result<()> {
        for row in &self.rows {
            let r = records.iter().find(|r| row.is(r)).ok_or_else(|| {
                format!(
                    "{} / {} / {} / {}: in the model run, not in the benchmark run",
                    row.suite, row.case, row.variant, row.size
                )
            })?;
            let phases = bench::phases(&r.suite);
            let fields: &[&str] = if phases.is_empty() {
                &["cycles"]
            } else {
                phases
            };
            for (i, name) in fields.iter().enumerate() {
                let want = r.num(name).unwrap_or(-1.0);
                if row.icount()[i] as f64 != want {
                    return Err(format!(
                        "{}: {name} is {want} in the benchmark run, {} in the model run",
                        r.key(),
                        row.icount()[i]
                    ));
                }
            }
        }
        for r in records
            .iter()
            .filter(|r| !bench::phases(&r.suite).is_empty())
        {
            if !self.rows.iter().any(|w| w.is(r)) {
                return Err(format!("{}: not in the model run", r.key()));
            }
        }
        Ok(())
    }

    /// `dir/model.json` if it is there and belongs to `records`' run; otherwise why not
    /// (`Ok(None)`: there is none).
    pub fn load_matching(dir: &std::path::Path, records: &[Record]) -> Result<Option<ModelRun>> {
        let path = dir.join("model.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(None);
        };
        let run = ModelRun::from_json(&text)?;
        run.check_matches(records).map_err(|e| {
            format!(
                "{} does not belong to these figures (another build, or --quick): {e}",
                path.display()
            )
        })?;
        Ok(Some(run))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn row(variant: &str, cycles: u64, dram: u64) -> Row {
        Row {
            suite: "readback".into(),
            case: "1MiB".into(),
            variant: variant.into(),
            size: 1 << 20,
            reps: 2,
            faults: 1,
            tlbis: 0,
            cycles: [cycles, 2 * cycles, 0],
            units: [
                CostUnits {
                    dram,
                    wb: 3,
                    ..CostUnits::default()
                },
                CostUnits::default(),
                CostUnits {
                    maint: 5,
                    ..CostUnits::default()
                },
            ],
        }
    }

    #[test]
    fn prices_round_trip_and_refuse_unknown_keys() {
        let mut p = Prices::DEFAULT;
        assert!(p.set("dram", 123) && p.set("tlbi", 7) && !p.set("nope", 1));
        assert_eq!(Prices::parse(&p.describe()).unwrap(), p);
        assert!(Prices::parse("dram=x").is_err());
        assert!(Prices::parse("bogus=1").is_err());
        let s = p.sensitivity();
        assert_eq!(s[0].1, p);
        assert_eq!(s[1].1.cache.dram, 61);
        assert_eq!(s[6].1.events.tlbi, 14);
    }

    #[test]
    fn model_json_round_trips_and_matches_only_its_run() {
        let run = ModelRun {
            rows: vec![row("a", 100, 10), row("b", 50, 1000)],
            prices: Prices::DEFAULT,
            command: "qemu".into(),
            git: Some("g".into()),
            linux: Some(LinuxRows {
                package: "linux".into(),
                rows: vec![row("l", 7, 3)],
                missed: vec!["x".into()],
                differs_from_published: Some(0),
            }),
        };
        let back = ModelRun::from_json(&run.json().to_string()).unwrap();
        assert_eq!(back.rows.len(), 2);
        assert_eq!(back.rows[1].units, run.rows[1].units);
        assert_eq!(back.rows[1].cycles, run.rows[1].cycles);
        assert_eq!(back.prices, run.prices);
        let l = back.linux.as_ref().unwrap();
        assert_eq!(
            (l.rows[0].cycles, l.missed.clone()),
            (
                run.linux.as_ref().unwrap().rows[0].cycles,
                vec!["x".to_string()]
            )
        );
        let p = Prices::DEFAULT;
        assert_eq!(back.rows[0].modeled(&p), run.rows[0].modeled(&p));
        let rec = |variant: &str, device: u64| {
            bench::parse_record(&format!(
                "{{\"suite\":\"readback\",\"case\":\"1MiB\",\"variant\":\"{variant}\",\"size\":1048576,\
                 \"reps\":2,\"cycles\":0,\"total_cycles\":0,\"device_cycles\":{device},\
                 \"sync_cycles\":{},\"read_cycles\":0,\"lines_cleaned\":0,\
                 \"lines_invalidated\":0,\"lines_clean_invalidated\":0,\"syscalls\":0,\
                 \"faults\":1,\"zaps\":0,\"tlbis\":0,\"setway_ops\":0}}",
                device * 2
            ))
            .unwrap()
        };
        let records = vec![rec("a", 50), rec("b", 25)];
        back.check_matches(&records).unwrap();
        // One cycle off in one phase: another build.
        let other = vec![rec("a", 50), rec("b", 26)];
        assert!(back
            .check_matches(&other)
            .unwrap_err()
            .contains("device_cycles"));
        // A readback record the model run lacks.
        let more = vec![rec("a", 50), rec("b", 25), rec("c", 1)];
        assert!(back
            .check_matches(&more)
            .unwrap_err()
            .contains("not in the model run"));
    }
}
