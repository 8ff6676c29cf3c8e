//! Hostile values from OpenAlgo's `logs.db` (every column is attacker-influenced or written by
//! other programs): timestamps, addresses, JSON lists, booleans and numbers in every SQLite type.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rusqlite::types::ValueRef;
use warden::store::value;

fuzz_target!(|data: &[u8]| {
    for v in [ValueRef::Text(data), ValueRef::Blob(data)] {
        let _ = value::text(v);
        let _ = value::int(v);
        let _ = value::real(v);
        let _ = value::boolean(v);
        let _ = value::time(v);
        let _ = value::string_list(v);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Some(t) = warden::time::parse_db_time(s) {
            let _ = warden::engine::later(t, warden::engine::WINDOW);
            let _ = warden::time::format_db_time(t);
        }
        if let Ok(ip) = warden::ip::canonicalize(s) {
            assert_eq!(warden::ip::canonicalize(&ip.to_string()).ok(), Some(ip), "canonical form is a fixed point");
            let _ = warden::ip::Protection::default().check(ip);
        }
        let shown = warden::ip::display_raw(s);
        assert!(!shown.contains('\n'));
        let _ = warden::ip::parse_net(s);
    }
    let _ = warden::ip::canonicalize_bytes(data);
});
