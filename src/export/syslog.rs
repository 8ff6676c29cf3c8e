//! Syslog (RFC 5424) to a UDP or TCP receiver, from a thread of its own.
//!
//! `<PRI>1 TIMESTAMP HOSTNAME warden PROCID MSGID [warden@32473 ...] BOM MSG`: facility
//! `auth` (4), a severity by kind (a ban is a notice, an attack or a failing source a warning),
//! the notice's kind as MSGID, its main fields as structured data, and its line as the message.
//! Over TCP each message is framed by octet counting (RFC 6587), and a lost connection is made
//! again at the next message. The monitor only hands messages over; while the receiver is
//! unreachable, up to [`QUEUE_MAX`] wait and the oldest are dropped first.

use std::collections::VecDeque;
use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::monitor::Notice;
use crate::source::openalgo::Health;
use crate::time::Timestamp;

/// Messages kept while the receiver is unreachable.
pub const QUEUE_MAX: usize = 10_000;

/// The private enterprise number RFC 5612 reserves for documentation, naming Warden's
/// structured-data element.
const SD_ID: &str = "warden@32473";

/// Facility `auth` (security and authorization messages).
const FACILITY: u8 = 4;

/// Where syslog goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One datagram per message.
    Udp(String),
    /// A stream, messages framed by octet counting.
    Tcp(String),
}

impl Target {
    /// `udp://HOST:PORT` or `tcp://HOST:PORT`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad =
            || format!("export.syslog must be udp://HOST:PORT or tcp://HOST:PORT, not '{}'", crate::ip::display_raw(s));
        let (proto, rest) = s.split_once("://").ok_or_else(bad)?;
        let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
        if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) || rest.contains(['/', ' ']) {
            return Err(bad());
        }
        match proto {
            "udp" => Ok(Target::Udp(rest.to_string())),
            "tcp" => Ok(Target::Tcp(rest.to_string())),
            _ => Err(bad()),
        }
    }
}

fn severity(n: &Notice) -> u8 {
    match n {
        Notice::Banned { rule: crate::event::Rule::FailedLogin, .. } => 4,
        Notice::SignIn(s) if s.new_address => 4,
        Notice::Source { health, .. } if *health != Health::Ok => 4,
        Notice::Sink { error: Some(_), .. } | Notice::Delivery { working: false, .. } | Notice::BanPending { .. } => 4,
        Notice::Banned { .. } | Notice::RangeDenied { .. } | Notice::Checklist(_) => 5,
        _ => 6,
    }
}

/// A structured-data parameter value escaped (RFC 5424 §6.3.3: `"`, `\` and `]`).
fn sd(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        if !c.is_control() {
            out.push(c);
        }
    }
    out
}

/// One message, as it goes on the wire (without TCP framing).
pub fn format(n: &Notice, now: Timestamp, hostname: &str, pid: u32) -> String {
    let v = serde_json::to_value(n).unwrap_or_default();
    let kind = v.get("kind").and_then(|k| k.as_str()).unwrap_or("other");
    let mut params = Vec::new();
    for key in ["ip", "rule", "range", "username", "name", "channel", "count", "threshold"] {
        let value = v.get(key).or_else(|| v.get("signin").and_then(|s| s.get(key)));
        match value {
            Some(serde_json::Value::String(s)) => params.push(format!("{key}=\"{}\"", sd(s))),
            Some(serde_json::Value::Number(x)) => params.push(format!("{key}=\"{x}\"")),
            _ => {}
        }
    }
    let data = if params.is_empty() { "-".to_string() } else { format!("[{SD_ID} {}]", params.join(" ")) };
    let msgid: String = kind.to_ascii_uppercase().chars().filter(|c| c.is_ascii_graphic()).take(32).collect();
    let host: String = hostname.chars().filter(|c| c.is_ascii_graphic()).take(255).collect();
    let host = if host.is_empty() { "-".to_string() } else { host };
    format!(
        "<{}>1 {} {host} warden {pid} {msgid} {data} \u{feff}{n}",
        FACILITY * 8 + severity(n),
        crate::time::rfc3339(now)
    )
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()).unwrap_or_default()
}

/// Sends messages from its own thread.
#[derive(Debug)]
pub struct Sender {
    tx: mpsc::Sender<String>,
    /// Set by the thread: `Some(error)` while failing, `None` while working.
    state: Arc<Mutex<(Option<String>, bool)>>,
    reported: Mutex<Option<String>>,
    target: String,
}

impl Sender {
    /// Starts the thread.
    pub fn start(target: Target) -> Self {
        let (tx, rx) = mpsc::channel::<String>();
        let state: Arc<Mutex<(Option<String>, bool)>> = Arc::default();
        let shown = match &target {
            Target::Udp(a) => format!("udp://{a}"),
            Target::Tcp(a) => format!("tcp://{a}"),
        };
        let mine = state.clone();
        let _ = std::thread::Builder::new().name("warden-syslog".into()).spawn(move || run(&target, &rx, &mine));
        Self { tx, state, reported: Mutex::new(None), target: shown }
    }

    /// Hands one notice over (never blocks).
    pub fn send(&self, n: &Notice, now: Timestamp) {
        if matches!(n, Notice::Traffic { .. }) {
            return;
        }
        let _ = self.tx.send(format(n, now, &hostname_cached(), std::process::id()));
    }

    /// A notice when sending started failing or works again.
    pub fn health(&self) -> Option<Notice> {
        let now = self.state.lock().ok()?.0.clone();
        let mut reported = self.reported.lock().ok()?;
        if *reported == now {
            return None;
        }
        *reported = now.clone();
        Some(Notice::Source {
            name: "syslog".into(),
            path: self.target.clone(),
            health: match now {
                Some(e) => Health::Failing(e),
                None => Health::Ok,
            },
        })
    }
}

fn hostname_cached() -> String {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(hostname).clone()
}

fn run(target: &Target, rx: &mpsc::Receiver<String>, state: &Arc<Mutex<(Option<String>, bool)>>) {
    let mut queue: VecDeque<String> = VecDeque::new();
    let mut tcp: Option<TcpStream> = None;
    let udp = UdpSocket::bind(("0.0.0.0", 0)).or_else(|_| UdpSocket::bind(("::", 0))).ok();
    let set = |e: Option<String>| {
        if let Ok(mut s) = state.lock() {
            s.0 = e;
        }
    };
    loop {
        let wait = if queue.is_empty() { Duration::from_secs(3600) } else { Duration::from_secs(2) };
        match rx.recv_timeout(wait) {
            Ok(m) => queue.push_back(m),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
        while let Ok(m) = rx.try_recv() {
            queue.push_back(m);
        }
        while queue.len() > QUEUE_MAX {
            queue.pop_front();
        }
        while let Some(m) = queue.front() {
            let sent = match target {
                Target::Udp(addr) => match &udp {
                    Some(s) => s.send_to(m.as_bytes(), addr.as_str()).map(|_| ()),
                    None => Err(std::io::Error::other("no UDP socket")),
                },
                Target::Tcp(addr) => {
                    if tcp.is_none() {
                        tcp = connect(addr).ok();
                    }
                    match tcp.as_mut() {
                        Some(s) => s.write_all(format!("{} {m}", m.len()).as_bytes()),
                        None => Err(std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "cannot connect")),
                    }
                }
            };
            match sent {
                Ok(()) => {
                    queue.pop_front();
                    set(None);
                }
                Err(e) => {
                    tcp = None;
                    set(Some(format!("cannot send to the syslog receiver: {e}; {} message(s) wait", queue.len())));
                    break;
                }
            }
        }
    }
}

fn connect(addr: &str) -> std::io::Result<TcpStream> {
    use std::net::ToSocketAddrs;
    let mut last = std::io::Error::other("no address");
    for a in addr.to_socket_addrs()? {
        match TcpStream::connect_timeout(&a, Duration::from_secs(5)) {
            Ok(s) => {
                s.set_write_timeout(Some(Duration::from_secs(5)))?;
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_udp_or_tcp_with_a_port() {
        assert_eq!(Target::parse("udp://127.0.0.1:514"), Ok(Target::Udp("127.0.0.1:514".into())));
        assert_eq!(Target::parse("tcp://logs.example:6514"), Ok(Target::Tcp("logs.example:6514".into())));
        for bad in ["127.0.0.1:514", "http://x:1", "udp://x", "udp://x:0", "udp://:514", "tcp://x:99999"] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn structured_data_escapes_quotes_backslashes_and_brackets() {
        assert_eq!(sd(r#"a"b\c]d"#), r#"a\"b\\c\]d"#);
        assert_eq!(sd("x\ny"), "xy");
    }
}
