//! Driver event sequences (target Service/Endpoints upserts and deletes, resyncs, watch
//! restarts) on fakes: an incremental reconcile equals a whole-link one, and every write keeps the
//! ownership and sticky-name invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;
use svcmirror_fuzz::ReconcileInput;

fuzz_target!(|input: ReconcileInput| {
    let _ = svcmirror_fuzz::check_reconcile(&input);
});
