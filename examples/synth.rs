//! Writes a synthetic capture of the field report's scenario and prints its ground truth.
//!
//! cargo run --release --example synth -- broken|fixed OUT.pcap [--minutes N] [--pop3-every S]
//!     [--web-every S] [--snaplen N]
//! cargo run --release --example synth -- sister|sister-both-legs|one-direction OUT.pcap

use std::fs::File;
use std::io::BufWriter;

use portreuse::synth::{Case, PcapWriter, Scenario, generate, one_direction, sister};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: synth broken|fixed|sister|sister-both-legs|one-direction OUT.pcap [--minutes N] [--pop3-every S] [--web-every S] [--snaplen N]";
    let path = args.get(1).expect(usage);
    let create = || PcapWriter::new(BufWriter::new(File::create(path)?), 65535);
    let case = match args.first().map(String::as_str) {
        Some("broken") => Case::Broken,
        Some("fixed") => Case::Fixed,
        Some("one-direction") => {
            let truth = one_direction(&Scenario::fixture(Case::Broken), &mut create()?)?;
            println!("{truth:?}");
            return Ok(());
        }
        Some(kind @ ("sister" | "sister-both-legs")) => {
            let frames = sister(kind == "sister-both-legs", &mut create()?)?;
            println!("{frames} frames");
            return Ok(());
        }
        _ => panic!("{usage}"),
    };
    let mut scn = Scenario::fixture(case);
    let mut snaplen = 65535;
    let mut rest = args[2..].iter();
    while let (Some(flag), Some(value)) = (rest.next(), rest.next()) {
        match flag.as_str() {
            "--minutes" => scn.duration_s = value.parse::<u64>().expect("minutes") * 60,
            "--pop3-every" => scn.pop3_every_s = value.parse().expect("seconds"),
            "--web-every" => scn.web_every_s = value.parse().expect("seconds"),
            "--snaplen" => snaplen = value.parse().expect("bytes"),
            _ => panic!("{usage}"),
        }
    }
    let mut w = PcapWriter::new(BufWriter::new(File::create(path)?), snaplen)?;
    let truth = generate(&scn, &mut w)?;
    println!("{truth:?}");
    Ok(())
}
