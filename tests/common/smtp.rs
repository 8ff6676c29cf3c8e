//! An SMTP receiver on loopback standing in for a mail server: plain SMTP (as a relay on the same
//! machine would be), AUTH PLAIN, and one message per session recorded whole.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};

/// One session as the server saw it.
#[derive(Debug, Clone, Default)]
pub struct Session {
    /// Every command line the client sent, in order (AUTH's credentials included).
    pub commands: Vec<String>,
    /// The message after DATA, dot-unstuffed.
    pub data: String,
}

/// The receiver; `auth_reply` and `mail_reply` script its answers.
#[derive(Clone)]
pub struct SmtpReceiver {
    /// Where it listens.
    pub addr: SocketAddr,
    sessions: Arc<Mutex<Vec<Session>>>,
    /// The answer to AUTH (default `235 ok`).
    pub auth_reply: Arc<Mutex<String>>,
    /// The answer to MAIL FROM (default `250 ok`).
    pub mail_reply: Arc<Mutex<String>>,
}

impl SmtpReceiver {
    /// Starts one on a free port.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let r = Self {
            addr: listener.local_addr().unwrap(),
            sessions: Arc::default(),
            auth_reply: Arc::new(Mutex::new("235 2.7.0 Authentication successful".into())),
            mail_reply: Arc::new(Mutex::new("250 2.1.0 Ok".into())),
        };
        let me = r.clone();
        std::thread::spawn(move || {
            for s in listener.incoming().flatten() {
                let me = me.clone();
                std::thread::spawn(move || {
                    let _ = me.serve(s);
                });
            }
        });
        r
    }

    /// The sessions so far.
    pub fn sessions(&self) -> Vec<Session> {
        self.sessions.lock().unwrap().clone()
    }

    fn serve(&self, stream: std::net::TcpStream) -> std::io::Result<()> {
        let mut out = stream.try_clone()?;
        let mut r = BufReader::new(stream);
        let idx = {
            let mut s = self.sessions.lock().unwrap();
            s.push(Session::default());
            s.len() - 1
        };
        let note = |line: &str| self.sessions.lock().unwrap()[idx].commands.push(line.to_string());
        out.write_all(b"220 test.local ESMTP\r\n")?;
        loop {
            let mut line = String::new();
            if r.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let line = line.trim_end().to_string();
            note(&line);
            let upper = line.to_ascii_uppercase();
            let reply = if upper.starts_with("EHLO") {
                "250-test.local\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME".to_string()
            } else if upper.starts_with("AUTH") {
                self.auth_reply.lock().unwrap().clone()
            } else if upper.starts_with("MAIL FROM") {
                self.mail_reply.lock().unwrap().clone()
            } else if upper.starts_with("RCPT TO") {
                "250 2.1.5 Ok".into()
            } else if upper == "DATA" {
                out.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
                let mut data = String::new();
                loop {
                    let mut l = String::new();
                    r.read_line(&mut l)?;
                    if l == ".\r\n" || l.is_empty() {
                        break;
                    }
                    data.push_str(l.strip_prefix('.').unwrap_or(&l));
                }
                self.sessions.lock().unwrap()[idx].data = data;
                "250 2.0.0 Ok: queued".into()
            } else if upper == "QUIT" {
                out.write_all(b"221 2.0.0 Bye\r\n")?;
                return Ok(());
            } else {
                "250 Ok".into()
            };
            out.write_all(format!("{reply}\r\n").as_bytes())?;
        }
    }
}
