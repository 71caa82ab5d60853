//! Several links and local members: every link's mirrors, then the federated Services
//! (`federate` → `plan_federated`), converge without touching each other's objects.
#![no_main]

use libfuzzer_sys::fuzz_target;
use svcmirror_fuzz::FederateInput;

fuzz_target!(|input: FederateInput| {
    svcmirror_fuzz::check_federate(&input);
});
