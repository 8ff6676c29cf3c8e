//! Running the programs Warden drives (`nginx`, `nft`) with a time limit, so that a wedged one
//! cannot stall the monitor.

use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `cmd`, feeding it `stdin` if given, and collects its output, killing it after `limit`.
pub fn output_within(cmd: &mut Command, stdin: Option<&[u8]>, limit: Duration) -> std::io::Result<Output> {
    let input = if stdin.is_some() { Stdio::piped() } else { Stdio::null() };
    let mut child = cmd.stdin(input).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    // Fed on a thread of its own, as the pipes are read on theirs: a child that answers before it
    // has read everything cannot wait on us while we wait on it.
    let feeder = match (stdin, child.stdin.take()) {
        (Some(bytes), Some(mut pipe)) => {
            let bytes = bytes.to_vec();
            Some(std::thread::spawn(move || pipe.write_all(&bytes)))
        }
        _ => None,
    };
    // Read both pipes on threads of their own: a child that fills one would otherwise wait for
    // ever on a reader that waits for it to end.
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = reader(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err = reader(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let start = Instant::now();
    // Looked at often at first (a batch for nft takes a few milliseconds), then every 5 ms.
    let mut pause = Duration::from_micros(100);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() >= limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("it did not finish within {} s", limit.as_secs()),
            ));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    };
    if let Some(Ok(Err(e))) = feeder.map(|f| f.join()) {
        // The child ended without reading all it was given: say so rather than judge half a script.
        if e.kind() != std::io::ErrorKind::BrokenPipe || status.success() {
            return Err(e);
        }
    }
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    Ok(Output { status, stdout, stderr })
}

/// Runs the command `argv` (program and arguments) with `stdin`, within `limit`. `Ok` holds its
/// standard output when it succeeded; `Err` says what failed in one line (its first line of
/// error output), naming the command.
pub fn run(argv: &[String], stdin: Option<&[u8]>, limit: Duration) -> Result<String, String> {
    let Some((program, args)) = argv.split_first() else {
        return Err("no command is configured".into());
    };
    let shown = argv.join(" ");
    let out = output_within(Command::new(program).args(args), stdin, limit).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("`{program}` was not found: is it installed and on the PATH?"),
        _ => format!("`{shown}` could not run: {e}"),
    })?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let first = err.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("no error output");
    Err(format!("`{shown}` failed ({}): {}", out.status, crate::check::one_line(first, 300)))
}
