//! Arbitrary bytes into the snapshot reader (YAML and JSON): Ok or Err, never a panic or a hang;
//! what it reads, written back as a List and read again, is the same objects.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| svcmirror_fuzz::check_parse_snapshot(data));
