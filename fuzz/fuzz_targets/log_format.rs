//! Any text as an nginx `log_format`, then a few lines parsed with whatever compiled.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden::source::access::format::LogFormat;
use warden::source::access::parse::Parser;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (spec, line) = text.split_once('\n').unwrap_or((text, ""));
    if let Ok(format) = LogFormat::nginx(spec) {
        let mut parser = Parser::new(format);
        let _ = parser.parse(line.as_bytes());
        let _ = parser.parse(br#"203.0.113.5 - - [13/Jan/2025:10:21:55 +0530] "GET / HTTP/1.1" 200 1 "-" "-""#);
    }
});
