//! Issue 14 item 6: the `surface` fuzz target's harness (several files merged, --html,
//! --write read back, the directory walk, --each) on seeds made from the fixtures, and on
//! every input it ever crashed on (`tests/fuzz-regressions/surface-*`).

mod common;

use std::fs;

use portreuse::app::surface::exercise;

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata");

/// The harness's input: control byte, two cut points (u32 LE), then the files' bytes.
fn seed(control: u8, files: &[&[u8]]) -> Vec<u8> {
    let cut = |upto: usize| {
        let n: usize = files[..upto.min(files.len())].iter().map(|f| f.len()).sum();
        (n as u32).to_le_bytes()
    };
    let mut data = vec![control];
    data.extend_from_slice(&cut(1));
    data.extend_from_slice(&cut(2));
    data.extend_from_slice(&files.concat());
    data
}

#[test]
fn the_surface_holds_on_the_fixtures_merged_and_cut() {
    let read = |name: &str| fs::read(format!("{TESTDATA}/{name}")).unwrap();
    let (broken, fixed) = (read("isa2000-broken.pcap"), read("isa2000-fixed.pcap"));
    let netmon = read("isa2000-broken-netmon2.cap");
    let scratch = common::tmp("surface-seeds");
    // The whole fixtures, cut where they meet: the merged run writes both outputs.
    exercise(&seed(0, &[&broken, &fixed, &netmon]), &scratch);
    let written = scratch.join("out/hits.pcapng");
    assert!(fs::metadata(&written).unwrap().len() > 1000);
    assert!(scratch.join("out/report.html").exists());
    for control in [0u8, 1, 2, 3, 4 | 8, 0x80] {
        exercise(&seed(control, &[&broken, &fixed, &netmon]), &scratch);
        exercise(
            &seed(control, &[&broken[..broken.len() / 3], &fixed[7..]]),
            &scratch,
        );
    }
    exercise(&[], &scratch);
    exercise(&[0xff; 3], &scratch);
}

#[test]
fn every_surface_crasher_stays_fixed() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fuzz-regressions");
    let scratch = common::tmp("surface-regressions");
    let mut inputs: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("surface-"))
        })
        .collect();
    inputs.sort();
    for input in inputs {
        exercise(&fs::read(&input).unwrap(), &scratch);
    }
}
