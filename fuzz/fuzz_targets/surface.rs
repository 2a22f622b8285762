//! The command-line surface on a temporary tree made from the bytes: several files merged,
//! --html, --write (read back), the directory walk and --each (src/app/surface.rs says what
//! must hold). Run with `-rss_limit_mb=256`: the memory budget is part of the contract.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let scratch = std::env::temp_dir().join(format!("portreuse-fuzz-surface-{}", std::process::id()));
    portreuse::app::surface::exercise(data, &scratch);
});
