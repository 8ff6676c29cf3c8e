//! Any bytes as an access-log line, in every text format Warden reads, through the whole
//! pipeline (parse, classify, engine).
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden::engine::Engine;
use warden::source::access::classify::Classify;
use warden::source::access::pipeline::{LineParser, LineReader};

const FORMATS: [&str; 5] = [
    "combined",
    "common",
    "apache-combined",
    r#"$remote_addr [$time_iso8601] $host "$request" $status $request_time "$http_x_forwarded_for""#,
    "$msec $remote_addr $request_method $request_uri $status",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, line)) = data.split_first() else { return };
    let format = FORMATS[usize::from(pick) % FORMATS.len()];
    let cfg = warden::config::Config::default();
    let mut engine = Engine::new(cfg.own_thresholds(), cfg.protection().expect("defaults"), cfg.near_fraction);
    let mut reader = LineReader::new(LineParser::new(format).expect("format"), Classify::default());
    let mut out = Vec::new();
    // Twice, so the time and address caches are hit as well as missed.
    reader.feed(line, &mut engine, None, &mut out);
    reader.feed(line, &mut engine, None, &mut out);
    for sample in &reader.stats.unparsed_samples {
        assert!(!sample.contains('\n'), "samples are one line");
    }
});
