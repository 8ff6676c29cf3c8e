//! Any bytes as a Caddy JSON access-log line.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = warden::source::access::caddy::parse_with(data, |r| (r.ip.len(), r.path().len(), r.status));
});
