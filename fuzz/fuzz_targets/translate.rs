//! Structurally arbitrary target Services and Endpoints into `translate`: valid names only,
//! ownership labels on everything, the same output whatever the input order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use svcmirror_fuzz::TranslateInput;

fuzz_target!(|input: TranslateInput| svcmirror_fuzz::check_translate(&input));
