//! Arbitrary observed source (foreign objects, other links' objects, stale mirrors) against the
//! desired state of an arbitrary target: ownership holds and translate → plan → apply converges.
#![no_main]

use libfuzzer_sys::fuzz_target;
use svcmirror_fuzz::PlanInput;

fuzz_target!(|input: PlanInput| {
    let _ = svcmirror_fuzz::check_plan(&input);
});
