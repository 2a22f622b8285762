//! The long reuse memory (issue 9): with `--time-wait 60s` a 4-tuple idle for 130 s has left
//! the flow table, yet its reuse is still reported as after the window, with its gap, from a
//! compact record kept for 30 minutes; past that horizon it is forgotten.

mod common;

use std::fs::File;
use std::io::BufWriter;

use etherparse::PacketBuilder;
use portreuse::synth::PcapWriter;
use portreuse::time::{NANOS_PER_SEC, Ts};

const CLIENT: ([u8; 4], u16) = ([10, 0, 0, 1], 40001);
const SERVER: ([u8; 4], u16) = ([10, 0, 0, 2], 80);

/// Writes one whole connection (server closes first) starting at `t_s`, ISN `isn`.
fn connection(w: &mut PcapWriter<BufWriter<File>>, t_s: f64, isn: u32) {
    let segs: [(bool, &str, u32, u32); 6] = [
        (true, "S", isn, 0),
        (false, "SA", 7000, isn + 1),
        (true, "A", isn + 1, 7001),
        (false, "FA", 7001, isn + 1),
        (true, "FA", isn + 1, 7002),
        (false, "A", 7002, isn + 2),
    ];
    for (i, (from_client, flags, seq, ack)) in segs.into_iter().enumerate() {
        let (src, dst) = if from_client {
            (CLIENT, SERVER)
        } else {
            (SERVER, CLIENT)
        };
        let mut b = PacketBuilder::ethernet2([2; 6], [4; 6])
            .ipv4(src.0, dst.0, 64)
            .tcp(src.1, dst.1, seq, 64240);
        for f in flags.chars() {
            b = match f {
                'S' => b.syn(),
                'F' => b.fin(),
                'A' => b.ack(ack),
                _ => b,
            };
        }
        let mut buf = Vec::new();
        b.write(&mut buf, &[]).unwrap();
        let ts = Ts((t_s * NANOS_PER_SEC as f64) as i64 + i as i64 * 1_000_000);
        w.write(ts, &buf).unwrap();
    }
}

fn capture(name: &str, second_at_s: f64) -> String {
    let path = common::tmp(name);
    let mut w = PcapWriter::new(BufWriter::new(File::create(&path).unwrap()), 65535).unwrap();
    connection(&mut w, 1_000_000.0, 100);
    connection(&mut w, 1_000_000.0 + second_at_s, 90_000);
    drop(w);
    path.to_string_lossy().into_owned()
}

#[test]
fn a_reuse_130_s_later_is_after_the_60_s_window_with_its_gap() {
    let path = capture("reuse-130s.pcap", 130.005);
    let doc = common::json(&["--time-wait", "60s", &path]);
    let reuse = &doc["attempts"][1]["reuse"];
    assert_eq!(reuse["in_window"], false, "{reuse}");
    assert_eq!(reuse["time_wait_holder"], "server");
    assert_eq!(reuse["previous_end_frame"], 6);
    let gap = reuse["gap_s"].as_f64().unwrap();
    assert!((gap - 130.0).abs() < 1e-6, "{gap}");
    assert_eq!(doc["summary"]["reused_after_window"], 1);
}

#[test]
fn the_long_memory_holds_for_30_minutes_then_forgets() {
    let path = capture("reuse-25min.pcap", 25.0 * 60.0);
    let doc = common::json(&["--time-wait", "60s", &path]);
    assert_eq!(doc["summary"]["reused_after_window"], 1);
    let path = capture("reuse-31min.pcap", 31.0 * 60.0);
    let doc = common::json(&["--time-wait", "60s", &path]);
    assert_eq!(doc["attempts"][1]["reuse"], serde_json::Value::Null);
}
