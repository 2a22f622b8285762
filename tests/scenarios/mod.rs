//! An independent scenario generator (issue 10, item 10a): per seed, a capture on the
//! servers' segment of clients behind source-NAT/firewall allocators connecting to servers
//! with their own TIME_WAIT and response style, and the truth from the simulator's state.
//!
//! Written from the definitions and the field reports alone; it shares no code with
//! the detection (src/diagnose, src/detect, src/track, src/synth.rs).
//!
//! `PORTREUSE_SCENARIOS_DIR=dir` writes each scenario's pcap and truth JSON there.
#![allow(dead_code)]

pub mod alloc;
pub mod check;
pub mod conn;
pub mod model;
pub mod oracle;
pub mod pcap;
pub mod rng;
pub mod sim;
pub mod truth;

use std::path::{Path, PathBuf};

pub use model::Params;
pub use truth::Truth;

pub struct Scenario {
    pub params: Params,
    /// The packets in the capture, in file order.
    pub packets: Vec<pcap::Packet>,
    pub truth: Truth,
}

pub fn generate(seed: u64) -> Scenario {
    let params = Params::draw(seed);
    let (packets, truth) = {
        let sim = sim::Sim::run(&params);
        let (start, end) = (params.capture_start_ns, params.capture_end_ns);
        let mut visible: Vec<usize> = (0..sim.packets.len())
            .filter(|&i| (start..end).contains(&sim.packets[i].t))
            .collect();
        visible.sort_by_key(|&i| (sim.packets[i].t, i));
        let mut frame_of = vec![0u32; sim.packets.len()];
        for (n, &i) in visible.iter().enumerate() {
            frame_of[i] = n as u32 + 1;
        }
        let packets = visible.iter().map(|&i| sim.packets[i].clone()).collect();
        (packets, truth::build(&sim, &frame_of))
    };
    Scenario {
        params,
        packets,
        truth,
    }
}

impl Scenario {
    pub fn pcap(&self) -> Vec<u8> {
        let p = &self.params;
        pcap::write(&self.packets, p.epoch_s, p.nanosecond, p.pad_to_60)
    }

    /// Writes `scenario-SEED.pcap` into `dir` (and its truth JSON beside it when asked).
    pub fn write_to(&self, dir: &Path, with_truth: bool) -> PathBuf {
        std::fs::create_dir_all(dir).expect("scenario directory");
        let path = dir.join(format!("scenario-{}.pcap", self.params.seed));
        std::fs::write(&path, self.pcap()).expect("write pcap");
        if with_truth {
            let json = serde_json::to_string_pretty(&self.truth).expect("truth serialises");
            std::fs::write(path.with_extension("truth.json"), json).expect("write truth");
        }
        path
    }
}

/// The directory named by PORTREUSE_SCENARIOS_DIR, if set.
pub fn export_dir() -> Option<PathBuf> {
    std::env::var_os("PORTREUSE_SCENARIOS_DIR").map(PathBuf::from)
}
